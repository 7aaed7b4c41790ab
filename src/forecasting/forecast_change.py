"""How far a training run's forecasts moved from those of the run date before it.

A weekly run forecasts mostly the same days as the week before; a series whose
forecast jumped since then (new data, a broken input, another model) is the one
to look at first. ``series_results.forecast_change`` holds each series' change and
the run's summary names the series that moved most, and which series are new or gone
since then (``say_turnover``).
"""
from __future__ import annotations

import logging
import re
import uuid

import pandas as pd

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from forecasting import realized, redaction, replaced_runs, signals, tables, tracking
from forecasting.config import JobConfig
from forecasting.periods import frequency_offset, known_by, label_of, period_end, same_frequency
from forecasting.job_summary import JobSummary, agreeing, example_ids, input_end_text, named_examples, series_that
from forecasting.spark_session import job_description

logger = logging.getLogger(__name__)

CHANGE = "forecast_change"
# Days without newer rows, since the input's last period ended, that say_input_not_grown takes for a
# feed that stopped: more than a long weekend without rows (business days, a holiday)
QUIET_DAYS = pd.Timedelta(days=4)
PREVIOUS = realized.PREVIOUS  # the earlier forecast's yhat, beside this run's (config_schema reserves the names)
# A change the summary names: one forecast more than two thirds above the other
LARGE_CHANGE = 0.5
CHANGES_SHOWN = 5  # the settings changed since the run date before that the summary names
# A file of a run date's trained forecasts, in the folders both Delta and parquet write partitions to
_TRAINED_FILE = re.compile(r"/run_date=(\d{4}-\d{2}-\d{2})/source=" + tables.TRAINED + "/")


def find_neighbour_run_dates(spark: SparkSession, config: JobConfig, run_date: str) -> tuple[str | None, str | None]:
    """neighbour_run_dates, or none with a warning where the forecasts table cannot be
    listed: a comparison is no reason to write no forecasts."""
    try:
        with job_description(spark, "find the run dates before and after"):
            return neighbour_run_dates(spark, config, run_date)
    except Exception as err:
        if signals.stopped_by(err):  # the JVM's error of a job being stopped: no step to go on without
            raise
        logger.warning("could not find the run date before %s in the forecasts table (%s): series_results.%s and "
                       "the realized_ columns stay null", run_date, redaction.first_line(err), CHANGE)
        return None, None


def neighbour_run_dates(spark: SparkSession, config: JobConfig, run_date: str) -> tuple[str | None, str | None]:
    """The latest run date before ``run_date`` with trained forecasts at the output, and
    the earliest after it (whose comparisons a rerun of ``run_date`` leaves stale), each
    or None. Read from the table's file list (Delta's log, parquet's folders): a query of
    the dates would open every file of every date."""
    path = tables.table_paths(config)[tables.FORECASTS]
    if not tables.path_exists(spark, path):
        return None, None
    files = tables.read_table(spark, config, tables.FORECASTS).inputFiles()
    dates = {match.group(1) for match in map(_TRAINED_FILE.search, files) if match}
    return (max((date for date in dates if date < run_date), default=None),
            min((date for date in dates if date > run_date), default=None))


def forecasts_of(spark: SparkSession, config: JobConfig, run_date: str) -> DataFrame:
    """The trained forecasts of ``run_date``: key columns, ``ds``, their ``yhat`` as
    ``_previous`` and their interval as ``_previous_lower`` and ``_previous_upper``."""
    keys = list(config.input.key_columns)
    rows = tables.read_table(spark, config, tables.FORECASTS).where(
        (F.col("run_date") == F.lit(run_date).cast("date")) & (F.col("source") == tables.TRAINED))
    return rows.select(*keys, "ds", F.col("yhat").alias(PREVIOUS), F.col("yhat_lower").alias(realized.LOWER),
                       F.col("yhat_upper").alias(realized.UPPER))


def changes(staged: DataFrame, previous: DataFrame, keys: list[str]) -> DataFrame:
    """Per series of ``staged`` (the run's result rows, each with its ``forecast``
    points) whose forecast shares a time with ``previous``: over those times, the summed
    absolute difference of the two forecasts over their mean summed absolute level. 0
    is no change, 2 the most (from or to all zero), 0.5 one forecast two thirds above
    the other; as sMAPE, no tiny earlier forecast makes it unbounded."""
    points = staged.select(*keys, F.explode("forecast").alias("point")).select(*keys, "point.ds", "point.yhat")
    both = points.join(previous, [*keys, "ds"]).where(~F.isnan("yhat") & ~F.isnan(PREVIOUS))
    moved = both.groupBy(*keys).agg(F.sum(F.abs(F.col("yhat") - F.col(PREVIOUS))).alias("_moved"),
                                    (F.sum(F.abs("yhat")) + F.sum(F.abs(PREVIOUS))).alias("_level"))
    change = F.when(F.col("_level") > 0, 2 * F.col("_moved") / F.col("_level")).otherwise(F.lit(0.0))
    return moved.select(*keys, change.alias(CHANGE))


def changes_and_scores(staged: DataFrame, previous: DataFrame, keys: list[str]) -> DataFrame:
    """Per series: ``changes`` where its forecast shares a time with ``previous``, and
    ``realized.scores`` where periods that forecast covered have arrived; either alone
    too (a weekly run a week's horizon ahead shares no time with the one before)."""
    return changes(staged, previous, keys).join(realized.scores(staged, previous, keys), keys, "full")


def with_change(staged: DataFrame, changed: DataFrame | None, keys: list[str]) -> DataFrame:
    """``staged`` with the ``forecast_change`` and realized columns of ``changed``
    (stage_changes's rows), null where a series has none, and everywhere without an
    earlier run date."""
    if changed is None:  # the columns a first run adds, typed as an older table gains them
        added = tables.GAINED_COLUMNS[tables.SERIES_RESULTS]
        return staged.withColumns({name: F.lit(None).cast(kind) for name, kind in added.items()})
    return staged.join(changed, keys, "left")


def percent(change: float) -> str:
    """A change as the summary and the lookup show it: small ones with a decimal (0.4%, not 0%)."""
    return f"{change:.1%}" if change < 0.1 else f"{change:.0%}"


def tally(changed: DataFrame, keys: list[str]) -> tuple[int, float | None, int, DataFrame]:
    """Of ``changes``'s rows: how many series were compared, their median change, how
    many changed more than ``LARGE_CHANGE``, and those, the largest first, with the
    change as their ``reason``."""
    compared, median, large = changed.agg(F.count(CHANGE), F.median(CHANGE),
                                          F.count_if(F.col(CHANGE) > LARGE_CHANGE)).first()
    named = changed.where(F.col(CHANGE) > LARGE_CHANGE).orderBy(F.col(CHANGE).desc()).select(
        *keys, F.format_string("%.0f%%", F.col(CHANGE) * 100).alias("reason"))
    return compared, median, large, named


def stage_changes(staged: DataFrame, config: JobConfig, label: str, earlier: str) -> str | None:
    """A staging folder holding, per series, how far its forecast moved from those of
    run date ``earlier`` (``changes``) and how those did on the periods that arrived since
    (``realized.scores``), computed before the tables are written. Where the earlier
    forecasts cannot be read, None, with a warning: a comparison is no reason to write
    no forecasts."""
    spark = staged.sparkSession
    try:
        with job_description(spark, "compare the forecasts with those of the run date before"):
            keys = list(config.input.key_columns)
            previous = forecasts_of(spark, config, earlier)
            compared = changes_and_scores(staged, previous, keys)
            path = f"{tables.staging_root(config)}/{label}-change-{uuid.uuid4().hex}"
            compared.write.parquet(path)
        return path
    except Exception as err:
        if signals.stopped_by(err):  # the JVM's error of a job being stopped: not a comparison that failed
            raise
        logger.warning("could not compare the forecasts with those of run date %s (%s): series_results.%s and the "
                       "realized_ columns stay null", earlier, redaction.first_line(err), CHANGE)
        return None


def find_earlier_horizon(context: tracking.RunContext, earlier: str | None) -> int | None:
    """replaced_runs.horizon_of run date ``earlier``, or None with a warning where MLflow cannot
    tell: its forecasts are then scored on this run's horizon of them."""
    if earlier is None:
        return None
    try:
        return replaced_runs.horizon_of(context, earlier)
    except Exception as err:
        if signals.stopped_by(err):
            raise
        logger.warning("could not read the horizon of run date %s (%s): its forecasts are scored on as many periods "
                       "as this run forecasts", earlier, redaction.first_line(err))
        return None


def other_frequencies(spark: SparkSession, config: JobConfig, run_date: str) -> list[str]:
    """The frequencies (quoted) the models of ``run_date`` were trained at other than this
    run's: another spelling of the same grid ('W' and 'W-SUN') is the same."""
    rows = tables.read_table(spark, config, tables.MODELS).where(
        F.col("run_date") == F.lit(run_date).cast("date")).select("frequency").distinct().collect()
    return sorted(repr(row[0]) for row in rows if row[0] and not same_frequency(row[0], config.forecast.frequency))


def say_input_not_grown(config: JobConfig, context: tracking.RunContext, summary: JobSummary, earlier: str) -> None:
    """Warn where the input reaches no further than it did for run date ``earlier``,
    and QUIET_DAYS or a period (the longer) have passed since its last period ended: a
    feed that stopped upstream looks like any other run, every series forecast again
    from the same rows (input_end, a tag of each run)."""
    if not context.input_end:
        return
    try:
        then = replaced_runs.input_end_of(context, earlier)
    except Exception as err:  # a line to say, no reason to fail a run whose tables are written
        if signals.stopped_by(err):
            raise
        summary.warn(f"could not read how far the input reached for run date {earlier}: {redaction.first_line(err)}")
        return
    if then is None or not replaced_runs.same_time(then, context.input_end):
        return
    # how long since the input's last period ended: days closed (a weekend, a holiday) are no feed that
    # stopped, and monthly data run weekly have no new period due before the month is over (the period
    # after the last one's length: February's 28 days after January's row)
    frequency, end = config.forecast.frequency, pd.Timestamp(context.input_end)
    last = label_of(end, frequency_offset(frequency), origin=end.normalize())
    ended = period_end(last, frequency)
    silent = known_by(pd.Timestamp(summary.run_date)) - ended
    if silent < max(QUIET_DAYS, period_end(last + frequency_offset(frequency), frequency) - ended):
        return
    summary.warn(f"the input reaches {input_end_text(context.input_end)}, no further than for run date {earlier}: no "
                 f"newer rows in the {silent.days} days since its last period ended, and this run forecast from the "
                 "same data. An upstream feed that stopped, or one that lags?")


def say_changed_since(context: tracking.RunContext, summary: JobSummary, earlier: str) -> None:
    """Say, and tag the run with, the settings and code in which this training run differs
    from the run of run date ``earlier``: its forecasts may have moved with them as well as
    with the new data, which only a rerun of one date had said."""
    try:
        settings, code = replaced_runs.changed_since(context, earlier)
        tracker = tracking.client(context.tracking_uri)
        for tag, changes in ((tracking.SETTINGS_SINCE_TAG, settings), (tracking.CODE_SINCE_TAG, code)):
            if changes:
                tracker.set_tag(context.parent_run_id, tag, "; ".join(changes)[:tracking.MAX_TAG_CHARACTERS])
    except Exception as err:  # a line to say, no reason to fail a run whose tables are written
        if signals.stopped_by(err):
            raise
        summary.warn(f"could not compare this run's settings and code with run date {earlier}'s: "
                     f"{redaction.first_line(err)}")
        return
    for what, changes, tag in (("config", settings, tracking.SETTINGS_SINCE_TAG),
                               ("code", code, tracking.CODE_SINCE_TAG)):
        shown = changes[:CHANGES_SHOWN]
        more = f" (and {len(changes) - len(shown)} more: the run's tag {tag})" if len(changes) > len(shown) else ""
        if shown:
            summary.inform(f"its {what} differed from run date {earlier}'s run: {'; '.join(shown)}{more}")


def say_turnover(spark: SparkSession, config: JobConfig, summary: JobSummary, earlier: str) -> None:
    """Say how many series this run forecast that run date ``earlier`` did not (new to
    the input, or back), and how many of that date's it did not (gone from the input, or
    skipped or failed without a fallback), whose older forecasts the latest-forecast queries keep."""
    keys = list(config.input.key_columns)
    try:
        with job_description(spark, "count the series new or gone since the run date before"):
            dates = F.col("run_date").cast("string")
            rows = tables.read_table(spark, config, tables.FORECASTS).where(
                (F.col("source") == tables.TRAINED) & dates.isin(earlier, summary.run_date))
            # underscored, so that a key column named now or then cannot clash with them
            per_series = rows.groupBy(*keys).agg(F.max(dates == summary.run_date).alias("_forecast_now"),
                                                 F.max(dates == earlier).alias("_forecast_then"))
            new, gone = per_series.agg(F.count_if(~F.col("_forecast_then")),
                                       F.count_if(~F.col("_forecast_now"))).first()
            named = named_examples(per_series.where(~F.col("_forecast_now")).orderBy(*keys).withColumn(
                "reason", F.lit(f"forecast on {earlier}")), keys) if gone else ""
            fresh = example_ids(per_series.where(~F.col("_forecast_then")).orderBy(*keys), keys) if new else ""
    except Exception as err:  # a count to say, no reason to fail a run whose tables are written
        if signals.stopped_by(err):
            raise
        summary.warn(f"could not count the series new or gone since run date {earlier}: {redaction.first_line(err)}")
        return
    if new:
        summary.inform(f"{series_that(new, 'have')} forecasts of this run date and none of run date {earlier} "
                       f"(e.g. {fresh}): new in the input, or back")
    if gone:
        summary.warn(f"{gone} series forecast on run date {earlier} {agreeing(gone, 'have')} no forecast of this run "
                     "date (gone from the input, or skipped or failed without a fallback), e.g. " + named + ": the "
                     "latest-forecast queries still answer with their latest forecasts before this run date (of "
                     f"{earlier}, or a scoring run's since)")


def say_changes(spark: SparkSession, config: JobConfig, context: tracking.RunContext, summary: JobSummary,
                earlier: str, path: str) -> None:
    """Say how far the run's forecasts moved from those of run date ``earlier`` (the
    median change, also a metric of the parent run), naming the series that moved most.
    A failure only warns: the run's tables are written."""
    keys = list(config.input.key_columns)
    try:
        with job_description(spark, "say how far the forecasts moved"):
            compared, median, large, rows = tally(spark.read.parquet(path), keys)
            if not compared:
                other = other_frequencies(spark, config, earlier)
                if other:  # its forecasts fall on another grid: not one time in common
                    summary.warn(f"run date {earlier} was trained at forecast.frequency {' and '.join(other)}, this "
                                 f"run at {config.forecast.frequency!r}: their forecasts fall on other times, so "
                                 f"series_results.{CHANGE} and the realized_ columns stay null")
                else:
                    logger.info("no forecast of run date %s covers a time this run forecasts: nothing to compare",
                                earlier)
                return
            tracker = tracking.client(context.tracking_uri)
            tracker.log_metric(context.parent_run_id, "median_forecast_change", median)
            # which date series_results' change and realized_ columns speak of, for a reader after a rerun of it
            tracker.set_tag(context.parent_run_id, tracking.COMPARED_RUN_DATE_TAG, earlier)
            named = named_examples(rows, keys) if large else None
    except Exception as err:  # the summary says so: a bug here had left only a line of the log
        if signals.stopped_by(err):
            raise
        summary.warn(f"could not say how far the forecasts moved from those of run date {earlier} "
                     f"({redaction.first_line(err)}): series_results.{CHANGE} holds it")
        return
    said = (f"compared with the forecasts of run date {earlier} over the times both cover, the median series' "
            f"forecast moved {percent(median)} ({compared} series; series_results.{CHANGE})")
    if large:
        summary.warn(f"{said}; {large} moved more than {LARGE_CHANGE:.0%}, the most first: {named}")
    else:
        summary.inform(said)
