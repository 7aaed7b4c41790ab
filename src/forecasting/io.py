"""Reading the input table (the output tables are written by forecasting.tables)."""
from __future__ import annotations

import logging
import re
from functools import reduce

import pandas as pd
from pyspark.errors import AnalysisException, IllegalArgumentException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from forecasting import lineage, tables
from forecasting.config import SAMPLE_INPUT, JobConfig, setting_text
from forecasting.config_schema import TIME_TRAVEL_OPTIONS
# InputError is raised by the reading here too, and caught as io.InputError by the jobs
from forecasting.input_files import (PARTITION_INFERENCE, InputError, check_parquet_files, no_files_hint,
                                     refuse_merged_folder_keys)
from forecasting.sample_data import make_sample_sales
from forecasting.spark_session import settings_while

logger = logging.getLogger(__name__)

# Spark ships a pandas frame's rows inside its tasks, in one slice per core: the
# embedded sample (26,280 rows) made tasks of over 1 MB on two cores, which Spark
# warns about. Slices of this many rows stay well below its 1,000 KiB.
ROWS_PER_LOCAL_SLICE = 5000
# A CSV row whose fields do not match its header, as the file has it (Spark's corrupt-record
# column): Spark otherwise drops a row's extra fields (1,008, a thousands separator unquoted)
# and fills missing ones with null, without a word. validation.check_input refuses such rows.
MALFORMED_ROW = "_malformed_row"
# Spark parses only the CSV columns a query uses, and then cannot tell a row's field count
# from its header's: MALFORMED_ROW stays empty, and DROPMALFORMED keeps the row
CSV_COLUMN_PRUNING = "spark.sql.csv.parser.columnPruning.enabled"
CSV_COLUMN_PRUNING_OPTION = "columnPruning"  # a read's own, over the session's setting (Spark 4)
# Spark's errors for files the job cannot read as one table (types that differ between
# files, a file of another format among them, CSV headers in another order or of another
# length): the input's to fix, not worth a retry.
UNREADABLE_INPUT = ("PARQUET_COLUMN_DATA_TYPE_MISMATCH", "CANNOT_MERGE_SCHEMAS", "CANNOT_MERGE_INCOMPATIBLE_DATA_TYPE",
                    "is not a Parquet file", "CSV header does not conform", "CANNOT_READ_FILE_FOOTER",
                    "Number of column in CSV header is not equal to number of fields in the schema")


def reader_options(options: dict) -> dict[str, str]:
    return {name: setting_text(value) for name, value in options.items()}


def read_input(spark: SparkSession, config: JobConfig, run_date: str | None = None) -> tuple[DataFrame, dict]:
    """The raw input DataFrame, its columns named as ``input.rename_columns`` says (its text
    keys trimmed with ``input.trim_keys`` and in ``input.key_case``), and a description of its version for lineage.
    A Delta input is read at one version (``lineage.delta_version``: for a past
    ``run_date``, as it stood then)."""
    df, version = _read(spark, config, run_date)
    renames = config.input.rename_columns
    columns = [name for name in df.columns if name != MALFORMED_ROW]
    missing = [name for name in renames if name not in columns]
    if missing:
        raise InputError(f"input.rename_columns names {', '.join(map(repr, missing))}, which the input lacks: it has "
                         f"{', '.join(map(repr, columns))}")
    kept = {name.lower(): name for name in columns if name not in renames}  # Spark's names ignore case
    clashes = [(old, new, kept[new.lower()]) for old, new in renames.items() if new.lower() in kept]
    if clashes:
        old, new, there = clashes[0]
        raise InputError(f"input.rename_columns renames {old!r} to {new!r}, but the input has a column {there!r} "
                         "already (Spark's column names ignore case): rename that one too, or choose another name")
    df = df.withColumnsRenamed(renames) if renames else df
    text = [key for key in config.input.key_columns
            if key in df.columns and isinstance(df.schema[key].dataType, T.StringType)]
    if config.input.trim_keys and text:  # before every check and series: 'S02  ' and 'S02' are one series
        df = df.withColumns({key: F.trim(F.col(key)) for key in text})
    if config.input.key_case and text:  # 'Apples' and 'apples' one series too
        fold = F.lower if config.input.key_case == "lower" else F.upper
        df = df.withColumns({key: fold(F.col(key)) for key in text})
    return df, version


def _read(spark: SparkSession, config: JobConfig, run_date: str | None) -> tuple[DataFrame, dict]:
    source = config.input
    if source.path == SAMPLE_INPUT:
        frame = make_sample_sales()
        logger.info("input: the embedded sample (%d rows)", len(frame))
        return from_pandas(spark, frame), lineage.sample_version(frame)
    try:
        if source.format == "table":
            df = spark.read.options(**reader_options(source.options)).table(source.path)
        else:
            reader = spark.read.format(source.format).options(**reader_options(source.options))
            if source.format == "csv":
                # everything as text: validation then reports unparseable values by column
                reader = reader.option("header", True).option("inferSchema", False)
                given = {name.lower() for name in source.options}
                if "escape" not in given:
                    # a quote inside a quoted value is doubled (RFC 4180, as pandas and spreadsheets
                    # write it), where Spark's own default is a backslash before it
                    reader = reader.option("escape", '"')
                if "enforceschema" not in given:
                    # every file's header checked against the first's: Spark would otherwise take a
                    # second file's columns by position, swapping two listed in another order
                    reader = reader.option("enforceSchema", False)
            chosen = PARTITION_INFERENCE in config.spark.conf or spark.sparkContext.getConf().contains(
                PARTITION_INFERENCE)  # by the config or spark-submit
            if source.format == "csv" and not chosen:
                # folder keys as text too (store=007 stays 007): inferred, 007 and 7 were one series 7;
                # Spark fixes a folder's partition columns when it is loaded
                with settings_while(spark, {PARTITION_INFERENCE: "false"}):
                    df = _read_csv(spark, reader, source.path, source.options)
            elif source.format == "csv":
                df = _read_csv(spark, reader, source.path, source.options)
            else:
                if source.format == "parquet":
                    _refuse_delta_folder(spark, source.path)
                    # as the files name them, before input.rename_columns
                    named = {new: old for old, new in source.rename_columns.items()}
                    required = [named.get(column, column) for column in
                                (*source.key_columns, source.time_column, source.target_column)]
                    check_parquet_files(source.path, source.options, required)
                df = reader.load(source.path)
                if source.format == "parquet" and not chosen:  # the folders' own names, before renaming too
                    refuse_merged_folder_keys(df, source.path, [named.get(key, key) for key in source.key_columns])
        delta = source.format in ("delta", "table") and _is_delta(spark, source.format, source.path)
        if delta:
            # The check, the counts and the training are separate Spark actions, each of
            # which would re-read the latest snapshot: a table written to mid-run would be
            # trained on other data than was checked and recorded. One version for all.
            version = lineage.delta_version(spark, config, run_date)
            df = _read_delta_at(spark, config, version["delta_version"])
            if version.get("as_of_found") and version["delta_version"] != version["latest_version"] \
                    and _files_missing(spark, df):  # VACUUM removed the files of the run date's version
                version = {**version, "delta_version": version["latest_version"], "as_of_found": False,
                           "vacuumed": version["delta_version"]}
                df = _read_delta_at(spark, config, version["delta_version"])
    except (AnalysisException, IllegalArgumentException) as err:  # the files, or the reader's options
        message, hint = spark_message(err), ""
        if "TIMESTAMP(NANOS" in message:
            hint = " (Spark reads microsecond timestamps: write the file with pandas' coerce_timestamps='us')"
        elif "UNABLE_TO_INFER_SCHEMA" in message:  # no data file, or files only in plain subfolders
            hint = no_files_hint(source.path, source.format)
        elif "COLUMN_ALREADY_EXISTS" in message:  # Sales and sales: one name to Spark
            hint = (" (Spark takes column names whatever their case: rename one in the files, or set spark.conf "
                    "spark.sql.caseSensitive: true)")
        raise InputError(f"cannot read input {source.format} '{source.path}': {message}{hint}") from err
    except Exception as err:  # a file of another format, found as Spark reads its schema
        complaint = unreadable_complaint(str(err))
        if complaint is None:
            raise
        hint = (f" (is input.format {source.format!r} the files' format? Text files need input.format: csv; "
                "input.options.ignoreCorruptFiles: true skips a damaged file)"
                if "FOOTER" in complaint or "not a Parquet file" in complaint else "")
        raise InputError(f"cannot read input {source.format} '{source.path}': {complaint}{hint}") from None
    if delta:
        logger.info("input: %s %s at Delta version %s%s", source.format, source.path, version["delta_version"],
                    f", as it stood at the run date's end (the latest is {version['latest_version']})"
                    if version.get("as_of_found") else "")
        return df, version
    if source.format == "table":
        version = {"source": source.path, "format": "table"}
    else:
        version = lineage.files_version(spark, config, df.inputFiles())
    logger.info("input: %s %s", source.format, source.path)
    return df, version


def _read_csv(spark: SparkSession, reader, path: str, options: dict) -> DataFrame:
    """The CSV input with its header's columns and MALFORMED_ROW, which holds the text
    of a row whose field count differs from the header's. Without it where the user
    chose how Spark treats such rows (``mode``, a corrupt-record column), but for
    DROPMALFORMED (``drops_malformed``): read whole, the check counts the rows it leaves
    out. The files are listed twice: once for the header's columns, once with them as
    the schema."""
    df = reader.load(path)
    given = {name.lower() for name in options}
    dropping = drops_malformed(options)
    if (given & {"mode", "columnnameofcorruptrecord"} and not dropping) or MALFORMED_ROW in df.columns:
        return df
    schema = T.StructType([*df.schema.fields, T.StructField(MALFORMED_ROW, T.StringType())])
    reader = reader.schema(schema).option("columnNameOfCorruptRecord", MALFORMED_ROW)
    if dropping:
        # Spark's own DROPMALFORMED counts nothing, and keeps a malformed row where a query reads only some
        # columns: read whole, counted by the check, left out by validation.to_series_frame. An option of
        # this read, not the session's setting, which a notebook's later CSV reads would have kept
        reader = reader.option("mode", "PERMISSIVE").option(CSV_COLUMN_PRUNING_OPTION, "false")
    return reader.load(path)


def drops_malformed(options: dict) -> bool:
    """Whether input.options asks Spark to drop the CSV rows whose field count differs
    from the header's (mode: DROPMALFORMED), without a corrupt-record column of its own:
    the job leaves them out itself, so that it can say how many."""
    given = {name.lower(): setting_text(value) for name, value in options.items()}
    return given.get("mode", "").upper() == "DROPMALFORMED" and "columnnameofcorruptrecord" not in given


def unreadable_complaint(message: str) -> str | None:
    """Spark's complaint in ``message`` when it is one of UNREADABLE_INPUT's: its line
    and the few after it, up to the Java stack trace."""
    lines = message.splitlines()
    start = next((i for i, line in enumerate(lines) if any(marker in line for marker in UNREADABLE_INPUT)), None)
    if start is None:
        return None
    kept = []
    for line in lines[start:start + 4]:
        if line.strip().startswith("at ") or not line.strip():
            break
        kept.append(line.strip())
    # without the Java exceptions' classes, ": org.apache.spark.SparkException: " or "Caused by: ..."
    return re.sub(r"^[:\s]*(Caused by: )?([\w.$]+(Exception|Error): )+", "", " ".join(kept))[:600]


def spark_message(err: Exception) -> str:
    """A Spark error's message. getMessage looks its error class up in Spark's own
    list and itself fails on Delta's (DELTA_TIMESTAMP_GREATER_THAN_COMMIT)."""
    try:
        return err.getMessage() or str(err)
    except Exception:
        return str(err)


def _read_delta_at(spark: SparkSession, config: JobConfig, version: int | None) -> DataFrame:
    """The Delta input at ``version``, with the user's other reader options."""
    source = config.input
    if version is None:
        raise InputError(f"input '{source.path}' has no Delta version at or before "
                         f"input.options timestampAsOf {lineage.time_travel(config)['timestampasof']}")
    # the version replaces any timestampAsOf: Delta refuses both at once
    options = {k: v for k, v in source.options.items() if k.lower() not in TIME_TRAVEL_OPTIONS}
    reader = spark.read.options(**reader_options(options)).option("versionAsOf", version)
    return reader.table(source.path) if source.format == "table" else reader.format("delta").load(source.path)


def version_note(version: dict) -> tuple[str, bool] | None:
    """What a run's summary says of a Delta input read for a past run date
    (``lineage.delta_version``), and whether it is a warning: the version it stood at
    then, where later versions exist; the latest, where the table has none that old."""
    if "as_of" not in version:
        return None
    latest = (f"version {version['latest_version']}, was read, so this backfill's history includes corrections "
              "made since (its rows after the run date are left out as ever)")
    if "vacuumed" in version:
        return (f"the input's Delta version {version['vacuumed']}, as it stood at the run date's end, cannot be "
                f"read: VACUUM removed its files. Its latest, {latest}", True)
    if not version["as_of_found"]:
        return (f"the input's Delta table has no version committed before the run date's end ({version['as_of']} "
                f"UTC): its latest, {latest}", True)
    if version["delta_version"] == version["latest_version"]:
        return None
    return (f"the input was read as it stood at the run date's end: Delta version {version['delta_version']}, of "
            f"{version['latest_version']} now (input.delta_as_of: latest reads the latest, with corrections made "
            "since)", False)


def _files_missing(spark: SparkSession, df: DataFrame) -> bool:
    """Whether a file of a Delta version's snapshot (``df``) is gone: its log lists them
    as ever, and reading it would fail at the first action, far into the run."""
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
    for name in df.inputFiles():
        path = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(name)
        if not path.getFileSystem(hadoop_conf).exists(path):
            return True
    return False


def from_pandas(spark: SparkSession, frame: pd.DataFrame) -> DataFrame:
    """``frame`` as a DataFrame of slices of at most ROWS_PER_LOCAL_SLICE rows."""
    step = ROWS_PER_LOCAL_SLICE
    first = spark.createDataFrame(frame.iloc[:step])
    # the first slice's column types for every slice: each slice's own could differ (a column null in one)
    rest = [spark.createDataFrame(frame.iloc[i:i + step], schema=first.schema) for i in range(step, len(frame), step)]
    return reduce(DataFrame.union, rest, first)


def _refuse_delta_folder(spark: SparkSession, path: str) -> None:
    """InputError where a parquet input's folder is a Delta table's: its folder keeps the
    files of older versions, rows a later version replaced or deleted, which a plain
    parquet read takes too (a corrected day counted twice)."""
    try:
        delta = tables.path_exists(spark, f"{path.rstrip('/')}/_delta_log")
    except Exception as err:  # a glob, a path Hadoop cannot make: the read says what is wrong
        logger.debug("could not look for a Delta log in %s: %s", path, err)
        return
    if delta:
        raise InputError(f"input '{path}' is a Delta table (it has a _delta_log folder), given as input.format "
                         "parquet: its folder also holds the files of older versions, whose rows a plain parquet "
                         "read would count again. Set input.format: delta")


def _is_delta(spark: SparkSession, fmt: str, path: str) -> bool:
    if fmt == "delta":
        return True
    # a table name, as config_checks.TABLE_NAME made sure: nothing else in the SQL text
    return tables.catalog_entry(spark, path)[1] == "delta"
