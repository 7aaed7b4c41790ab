"""Whole-input checks, and the projection to the job's internal columns.

Anything that makes the whole input unusable stops the job here, before any
training, with a message that names the column and shows offending values.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.errors import IllegalArgumentException
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from forecasting import input_hints, io, key_values, series_identity
from forecasting.config import JobConfig
from forecasting.input_parsing import TIME_WITH_ZONE, has_value, parsed_columns
from forecasting.input_parsing import stripped as _stripped
from forecasting.io import CSV_COLUMN_PRUNING, MALFORMED_ROW, InputError, spark_message, unreadable_complaint
from forecasting.spark_session import settings_while

logger = logging.getLogger(__name__)

TIME, TARGET = "ds", "y"
EXAMPLES = 3
# The earliest time a pandas timestamp holds (nanoseconds in 64 bits): the series
# reach pandas in the training tasks, which an earlier time would fail. (Times
# after the run date, up to pandas' 2262, never get there: the run date cuts them.)
EARLIEST_TIME = "1677-09-22"
LATEST_TIME = "2262-04-11"  # the latest: a timestamp key past it (a 9999-12-31 sentinel) would fail them too


@dataclass(frozen=True)
class InputCounts:
    rows: int
    series: int | None  # series with rows on or before the run date, when one was given
    rows_without_time: int = 0  # left out: no time, no place in a series
    latest: object = None  # the latest time on or before the run date, when one was given
    after_run_date: int = 0  # rows left out: not known on the run date
    after_run_date_last: str | None = None  # the latest time of those rows, as text
    key_warnings: tuple[str, ...] = ()  # keys that look like another's, said in the log and the summary
    row_warnings: tuple[str, ...] = ()  # rows left out (malformed, no time), said in the log and the summary
    zoned_times: bool = False  # every time given with its zone (or as an instant): no local clock's


def known_on(time: Column, run_date: str) -> Column:
    """Whether a row was known on ``run_date``: its time is before the end of that day."""
    return time < F.date_add(F.lit(run_date).cast("date"), 1)


@dataclass(frozen=True)
class _RowProblems:
    """What can be wrong with an input row, as Spark conditions: counted together in one
    pass, then queried again for a few examples of each problem found."""
    malformed: Column  # more or fewer CSV fields than the header
    keys: dict[str, Column]  # key values of a kind key_values counts (bytes not decoded, spaces around, null), by count
    bad_time: Column  # a time that does not parse
    bad_target: Column  # a target that is not a number
    time_out_of_range: Column  # a time before what pandas can hold
    keys_out_of_range: dict[str, Column]  # per timestamp key: a time pandas cannot hold
    text_keys: list[str]


def check_input(df: DataFrame, config: JobConfig, run_date: str | None = None) -> InputCounts:
    """Raise InputError if the input cannot be used; count its rows and, given a
    ``run_date``, the series known on that date, in one pass over the input."""
    source = config.input
    _check_columns(df, config)
    time, target = parsed_columns(df, config)
    problems = _row_problems(df, config, time, target)
    dropping = MALFORMED_ROW in df.columns and io.drops_malformed(source.options)
    counts = _count(df, config, problems, time, run_date, dropping)
    row_warnings = _dropped_rows_warning(df, config, problems, counts)
    if dropping:  # as to_series_frame leaves them out: the checks' examples come from the rows kept
        df = df.where(~problems.malformed)
    key_warnings = key_values.warnings(df, problems, counts, source.key_columns,
                                       EXAMPLES)  # logged before an input error, as ever
    _raise_on_row_problems(df, config, problems, counts)
    typed = df.schema[source.time_column].dataType
    if source.time_format is not None and isinstance(typed, (T.TimestampType, T.TimestampNTZType, T.DateType)):
        logger.warning("input.time_format %r is not used: column '%s' is already a %s (a parquet or Delta column, "
                       "or a CSV's inferred by input.options), read as it is", source.time_format,
                       source.time_column, typed.simpleString())
    if isinstance(typed, T.TimestampType):  # not timestamp_ntz: instants
        logger.info("the times in column '%s' are typed instants (a timestamp column, not text): read as UTC "
                    "times, as the forecasts' ds are", source.time_column)
    row_warnings += _timeless_rows_warning(df, config, counts) + _mixed_zones_warning(df, config, counts)
    zoned = counts["rows"] > counts["no_time"] and counts["zoned"] == counts["rows"] - counts["no_time"]
    if run_date is None:
        return InputCounts(counts["rows"], None, counts["no_time"], key_warnings=key_warnings,
                           row_warnings=row_warnings, zoned_times=zoned)
    if counts["after_run_date"]:  # not known on the run date: a backfill's later rows, or a mistyped year
        beyond = counts["beyond_pandas"]
        logger.log(logging.WARNING if beyond else logging.INFO,
                   "%d of %d input rows are after the run date %s, up to %s: left out, not known on that date%s",
                   counts["after_run_date"], counts["rows"], run_date, counts["last"],
                   f" ({beyond} after {LATEST_TIME}: a mistyped year, or a placeholder?)" if beyond else "")
    return InputCounts(counts["rows"], counts["series"], counts["no_time"], counts["latest"], counts["after_run_date"],
                       counts["last"] if counts["after_run_date"] else None, key_warnings, row_warnings, zoned)


def _check_columns(df: DataFrame, config: JobConfig) -> None:
    """Raise InputError unless the configured columns are there, with keys of plain values."""
    source = config.input
    required = [*source.key_columns, source.time_column, source.target_column]
    header = [c for c in df.columns if c != MALFORMED_ROW]
    if not header and source.format == "csv":  # 0 bytes, or a folder of such files: Spark found no columns
        raise InputError(f"input '{source.path}' is empty: no header and no rows")
    missing = [c for c in required if c not in df.columns]
    if missing:
        advice = input_hints.missing_columns_advice(missing, df.columns, header, source.options, source.format == "csv",
                                                    tuple(required))
        raise InputError(f"input '{source.path}' lacks configured column(s) {missing}; it has {header}.{advice}")
    nested = [f"'{k}' ({df.schema[k].dataType.simpleString()})" for k in source.key_columns
              if isinstance(df.schema[k].dataType, (T.ArrayType, T.MapType, T.StructType))]
    if nested:  # a key names a tag, a table column and a model: it needs one plain value per row
        raise InputError(
            f"key column(s) {', '.join(nested)} hold arrays, maps or structs; a key needs plain values "
            "(text, numbers, dates): select their parts as columns of their own, or join an array into text"
        )


def _row_problems(df: DataFrame, config: JobConfig, time: Column, target: Column) -> _RowProblems:
    source = config.input
    stamped_keys = [k for k in source.key_columns
                    if isinstance(df.schema[k].dataType, (T.TimestampType, T.TimestampNTZType))]
    text_keys = [k for k in source.key_columns if isinstance(df.schema[k].dataType, T.StringType)]
    return _RowProblems(
        malformed=F.col(MALFORMED_ROW).isNotNull() if MALFORMED_ROW in df.columns else F.lit(False),
        keys=key_values.conditions(df, source, text_keys, config.model.country_holidays_column),
        bad_time=has_value(df, source.time_column) & time.isNull(),
        bad_target=has_value(df, source.target_column) & target.isNull(),
        time_out_of_range=time < F.lit(EARLIEST_TIME).cast(T.TimestampType()),
        keys_out_of_range={
            k: (F.col(k) < F.lit(EARLIEST_TIME).cast(df.schema[k].dataType))
            | (F.col(k) > F.lit(LATEST_TIME).cast(df.schema[k].dataType))
            for k in stamped_keys
        },
        text_keys=text_keys,
    )


def _count(df: DataFrame, config: JobConfig, problems: _RowProblems, time: Column, run_date: str | None,
           dropping: bool = False) -> dict:
    """The one pass over the input: its rows, each problem's and, given a run date, what
    is known on it; ``dropping`` malformed rows, those of the rows kept, and the rows
    left out as ``dropped``. Raise InputError where Spark finds the files unreadable together."""
    source = config.input
    aggregates = [
        F.count(F.lit(1)).alias("rows"),
        F.count_if(problems.malformed).alias("malformed"),
        *[F.count_if(condition).alias(count) for count, condition in problems.keys.items()],
        F.count_if(problems.bad_time).alias("bad_time"),
        F.count_if(problems.bad_target).alias("bad_target"),
        F.count_if(problems.time_out_of_range).alias("time_out_of_range"),
        F.count_if(~has_value(df, source.time_column)).alias("no_time"),
        # text times with their zone (or a timestamp column's instants): the job's UTC is their clock too
        (F.count_if(_stripped(source.time_column).rlike(TIME_WITH_ZONE))
         if isinstance(df.schema[source.time_column].dataType, T.StringType) else
         F.count_if(has_value(df, source.time_column)) if isinstance(df.schema[source.time_column].dataType,
                                                                    T.TimestampType) else F.lit(0)).alias("zoned"),
        *[F.count_if(outside).alias(f"key_out_of_range_{i}")
          for i, outside in enumerate(problems.keys_out_of_range.values())],
    ]
    if run_date is not None:
        # a struct of null keys is itself not null: a series with a null key counts
        series = F.struct(*[F.col(k) for k in source.key_columns])
        aggregates.append(F.count_distinct(F.when(known_on(time, run_date), series)).alias("series"))
        # as the session's wall-clock time in UTC: collect() would turn a timestamp into the driver's local time
        aggregates.append(F.max(F.when(known_on(time, run_date), time)).cast(T.TimestampNTZType()).alias("latest"))
        aggregates.append(F.count_if(~known_on(time, run_date)).alias("after_run_date"))
        # as text: Python's datetime ends in 9999, Spark's times do not (a mistyped 20244)
        aggregates.append(F.max(time).cast(T.TimestampNTZType()).cast("string").alias("last"))
        aggregates.append(F.count_if(time > F.lit(LATEST_TIME).cast(T.TimestampType())).alias("beyond_pandas"))
    try:
        with settings_while(df.sparkSession, {CSV_COLUMN_PRUNING: "false"}):
            if dropping:
                return _counted_apart(df, problems.malformed, aggregates)
            return {**df.agg(*aggregates).first().asDict(), "dropped": 0}
    except Exception as err:  # the first pass over every file: where Spark finds them unreadable together
        # Spark's words for a pattern it cannot use (an unknown letter; one Spark 2 read otherwise)
        if source.time_format and (isinstance(err, IllegalArgumentException) or "DATETIME_PATTERN" in str(err)):
            pattern = source.time_format
            labels = (" (quarter labels, 2019Q3, 2019-Q3 or Q3 2019, are read without input.time_format)"
                      if "q" in pattern.lower() else
                      " (ISO week labels, 2024-W05, are read without input.time_format)"
                      if any(letter in pattern for letter in "wY") else "")
            raise InputError(f"input.time_format {pattern!r} is not a datetime pattern Spark can use: "
                             f"{spark_message(err)}{labels}") from None
        complaint = unreadable_complaint(str(err))
        if complaint is None:
            raise
        hint = input_hints.renamed_header_hint(complaint) or input_hints.mixed_types_hint(complaint)
        raise InputError(f"input '{source.path}' cannot be read as one table: {complaint}{hint}") from None


def _counted_apart(df: DataFrame, malformed: Column, aggregates: list[Column]) -> dict:
    """The ``aggregates`` of the rows that are not ``malformed``, and as ``dropped`` how
    many are: still one pass, grouped by whether a row is."""
    grouped = {row["is_malformed"]: row.asDict()
               for row in df.groupBy(malformed.alias("is_malformed")).agg(*aggregates).collect()}
    # every row malformed: the counts of no rows (Spark answers a filter that is never true without a read)
    kept = grouped.get(False) or df.where(F.lit(False)).agg(*aggregates).first().asDict()
    return {**kept, "dropped": grouped.get(True, {}).get("rows", 0)}


def _malformed_examples(df: DataFrame, config: JobConfig, problems: _RowProblems) -> list:
    """A few malformed rows' text, as the file has them."""
    with settings_while(df.sparkSession, {CSV_COLUMN_PRUNING: "false"}):
        return [row[0] for row in df.where(problems.malformed).select(MALFORMED_ROW, config.input.time_column)
                .limit(EXAMPLES).collect()]


def _malformed_said(df: DataFrame, config: JobConfig, examples: list, count: int, total: int, spans: bool) -> str:
    """How many rows have another field count than the header's (lines, where a quoted
    value ``spans`` them), with a few of them."""
    header = df.columns[:df.columns.index(MALFORMED_ROW)]  # the folders' key columns follow it
    return (f"{count} of {total} {'lines' if spans else 'rows'} of '{config.input.path}' have more or fewer fields "
            f"than the header's {len(header)} ({', '.join(header)}), e.g. {examples}")


def _dropped_rows_warning(df: DataFrame, config: JobConfig, problems: _RowProblems, counts: dict) -> tuple[str, ...]:
    """The malformed rows input.options.mode: DROPMALFORMED left out (none otherwise),
    logged: Spark's own mode drops them without a word."""
    if not counts["dropped"]:
        return ()
    examples = _malformed_examples(df, config, problems)
    spans = input_hints.spans_lines(examples, config.input.options)
    total = counts["rows"] + counts["dropped"]
    said = (f"{_malformed_said(df, config, examples, counts['dropped'], total, spans)}: left out "
            f"(input.options.mode: DROPMALFORMED){'; ' + input_hints.SPANS_LINES if spans else ''}")
    logger.warning("%s", said)
    return (said,)


def _timeless_rows_warning(df: DataFrame, config: JobConfig, counts: dict) -> tuple[str, ...]:
    """The rows left out for want of a time (an empty field), with a few of their series:
    logged, and a line of the summary, which a scheduler mails."""
    if not counts["no_time"]:
        return ()
    from forecasting.job_summary import example_ids  # here: job_summary imports this module

    source, keys = config.input, list(config.input.key_columns)
    # the first in key order, the same from run to run
    shown = example_ids(df.where(~has_value(df, source.time_column)).select(*keys).distinct().orderBy(*keys),
                        keys, more=True)
    said = (f"{counts['no_time']} of {counts['rows']} input rows have no time in column '{source.time_column}': "
            f"they are left out, their values unused (series {shown})")
    logger.warning("%s", said)
    return (said,)


def _mixed_zones_warning(df: DataFrame, config: JobConfig, counts: dict) -> tuple[str, ...]:
    """Text times some with a UTC offset or zone, some without, with a few series of each
    kind, or that mix both: those with one are read in UTC, the others as written, so
    that their clocks differ by the zone's offset (an export that began writing offsets,
    meters of two systems): logged, and a line of the summary."""
    timed = counts["rows"] - counts["no_time"]
    if not 0 < counts["zoned"] < timed:
        return ()
    from forecasting.job_summary import example_ids  # here: job_summary imports this module

    source, keys = config.input, list(config.input.key_columns)
    zoned = _stripped(source.time_column).rlike(TIME_WITH_ZONE)
    per_series = df.where(has_value(df, source.time_column)).groupBy(*keys).agg(
        F.count_if(zoned).alias("_zoned"), F.count_if(~zoned).alias("_local")).orderBy(*keys)
    both = per_series.where("_zoned > 0 AND _local > 0")
    which = (f"series {example_ids(both, keys, more=True)} give both kinds" if both.limit(1).count() else
             f"series {example_ids(per_series.where('_local = 0'), keys, more=True)} give theirs with one, series "
             f"{example_ids(per_series.where('_zoned = 0'), keys, more=True)} without")
    said = (f"{counts['zoned']} of {timed} input rows give their time in column '{source.time_column}' with a UTC "
            f"offset or zone, read as UTC, and the other {timed - counts['zoned']} without one, read as written: times "
            f"of two clocks, apart by the zone's offset where the others are local times ({which}). Give every time "
            "one way: each with its offset, or in UTC, or each as local time")
    logger.warning("%s", said)
    return (said,)


def _raise_on_row_problems(df: DataFrame, config: JobConfig, problems: _RowProblems, counts) -> None:
    """Raise InputError for the first problem ``counts`` found that makes the input unusable,
    with a few of its rows' values."""
    source = config.input
    if counts["rows"] == 0:
        raise InputError(f"input '{source.path}' is empty" + (
            ": every row was left out as malformed (input.options.mode: DROPMALFORMED)" if counts["dropped"] else ""))
    if counts["malformed"]:
        examples = _malformed_examples(df, config, problems)
        spans = input_hints.spans_lines(examples, source.options)
        advice = (input_hints.SPANS_LINES if spans else
                  "Spark would drop the extra fields or read the missing ones as empty. A comma in a value (a "
                  "thousands separator, 1,008) needs the value quoted; input.options.sep sets another separator; "
                  "input.options.mode: DROPMALFORMED leaves such rows out")
        said = _malformed_said(df, config, examples, counts["malformed"], counts["rows"], spans)
        raise InputError(f"{said}: {advice}")
    if counts["no_time"] == counts["rows"]:
        raise InputError(f"column '{source.time_column}' has no time in any of the {counts['rows']} rows")
    if counts["undecoded"]:
        examples = key_values.quoted_ids(df.where(problems.keys["undecoded"]), list(source.key_columns), EXAMPLES)
        given = {name.lower(): value for name, value in source.options.items()}
        encoding = given.get("encoding", given.get("charset", "UTF-8"))
        raise InputError(
            f"{counts['undecoded']} rows of '{source.path}' have key values with bytes that are not "
            f"{encoding} text (read as {key_values.UNDECODED}), e.g. {examples}: distinct keys "
            "would merge into one series. Set input.options.encoding to the file's encoding, e.g. ISO-8859-1; "
            "for windows-1252 (a Windows spreadsheet's CSV) also spark.conf spark.sql.legacy.javaCharsets: true"
        )
    for i, (key, outside) in enumerate(problems.keys_out_of_range.items()):
        if counts[f"key_out_of_range_{i}"]:
            raise InputError(
                f"key column '{key}' has {counts[f'key_out_of_range_{i}']} times outside {EARLIEST_TIME} to "
                f"{LATEST_TIME}, the times pandas can hold, e.g. {_examples(df, outside, key)}: a sentinel such "
                "as 9999-12-31 can be a date key (a date column) instead"
            )
    for column, bad, count in ((source.time_column, problems.bad_time, counts["bad_time"]),
                               (source.target_column, problems.bad_target, counts["bad_target"])):
        if count:
            examples = _examples(df, bad, column)
            few = column == source.time_column and 10 * count < counts["rows"] - counts["no_time"]
            expected = input_hints.expected_values(source, column, examples, few)
            raise InputError(f"column '{column}' has {count} of {counts['rows']} values that are not "
                             f"{expected}, e.g. {examples}{_only_in_some_series(df, bad, source.key_columns)}")
    if counts["time_out_of_range"]:
        raise InputError(
            f"column '{source.time_column}' has {counts['time_out_of_range']} times before {EARLIEST_TIME} "
            f"(the earliest pandas can hold), e.g. {_examples(df, problems.time_out_of_range, source.time_column)}: "
            "a mistyped year?"
        )


def _only_in_some_series(df: DataFrame, condition: Column, keys: list[str]) -> str:
    """Which series the rows that meet ``condition`` are in, where that is not every series:
    one site's export writing its times or numbers in another form, which no one setting
    reads alongside the others', or a few values to check. Three Spark jobs, on the way to
    an error only."""
    found = df.where(condition).select(*keys).distinct()
    count, total = found.count(), df.select(*keys).distinct().count()
    if count >= total:
        return ""
    # through pandas, as the tasks see the keys: collect() would give a time key in the driver's time zone
    named = sorted(series_identity.series_id(row) for row in found.limit(EXAMPLES + 1).toPandas().to_dict("records"))
    shown = ", ".join(named[:EXAMPLES]) + (", ..." if count > EXAMPLES else "")
    return (f"; all in {count} of the {total} series ({shown}): written in another form there (one input setting "
            "reads one form: convert those series' values), or values to check?")


def _examples(df: DataFrame, condition: Column, column: str) -> list:
    """A few of ``column``'s values in the rows that meet ``condition``, as the input has them."""
    return [row[0] for row in df.where(condition).select(column).limit(EXAMPLES).collect()]


def with_blank_countries(df: DataFrame, config: JobConfig) -> DataFrame:
    """``df`` with a null value of its text country column (model.country_holidays_column;
    an empty CSV field) as blank text, before the input is checked and counted: the series
    it marks has an identity and gets model.country_holidays, not skipped as a series with
    a null key, and its null and blank rows are one series."""
    country = config.model.country_holidays_column
    name = next((field.name for field in df.schema.fields if country is not None and field.name.lower() == country.lower()
                 and isinstance(field.dataType, T.StringType)), None)  # Spark's names ignore case
    return df if name is None else df.withColumn(name, F.coalesce(F.col(name), F.lit("")))


def to_series_frame(df: DataFrame, config: JobConfig) -> DataFrame:
    """Keys as they are, ``ds`` as timestamp, ``y`` as double; without the malformed
    rows input.options.mode: DROPMALFORMED leaves out (io.drops_malformed)."""
    time, target = parsed_columns(df, config)
    if MALFORMED_ROW in df.columns and io.drops_malformed(config.input.options):
        df = df.where(F.col(MALFORMED_ROW).isNull())
    return df.select(*[F.col(k) for k in config.input.key_columns], time.alias(TIME), target.alias(TARGET))


def series_without_history(series: DataFrame, key_columns: list[str], run_date: str | None = None) -> DataFrame:
    """One row per series none of whose rows was known on ``run_date`` (without one: none
    of whose rows has a time), ``y`` null and ``ds`` its first time, after the run date
    (LATEST_TIME for a later one, which pandas cannot hold), or null where no row has a
    time. The run date's cut leaves such a series' rows out, which would drop it unseen;
    added back, training skips it and says why in series_results."""
    known = F.count_if(known_on(F.col(TIME), run_date)) if run_date else F.count(TIME)
    # least() passes over a null: a series without a time keeps none
    first = F.when(F.min(TIME).isNotNull(), F.least(F.min(TIME), F.lit(LATEST_TIME).cast(T.TimestampType())))
    per_series = series.groupBy(*key_columns).agg(known.alias("known_rows"), first.alias(TIME))
    return per_series.where(F.col("known_rows") == 0).select(
        *key_columns, F.col(TIME).cast(T.TimestampType()).alias(TIME), F.lit(None).cast(T.DoubleType()).alias(TARGET)
    )
