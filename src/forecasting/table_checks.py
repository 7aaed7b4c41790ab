"""The checks, before any training or scoring, of the tables already under output.path:
the job's format, its key columns and their types, its own columns, models of the
run's frequency; and the catalog names the config gives them. Each refusal is an
InputError (exit 3), said before anything is trained or written."""
from __future__ import annotations

import logging

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession

from forecasting import tables
from forecasting.config import JobConfig
from forecasting.tables import EVALUATION, FORECASTS, MODELS, SERIES_RESULTS

logger = logging.getLogger(__name__)

# Columns each table has held since it was partitioned as PARTITIONS says (the forecasts'
# source since scoring came): one without them under output.path is another table (Delta
# refused the writes after the training, exit 1 on every retry; parquet took them, its
# folder then mixing two tables). A column added later belongs here only with a migration.
CORE_COLUMNS = {
    FORECASTS: ("ds", "yhat", "run_date", "source"),
    SERIES_RESULTS: ("status", "run_date"),
    MODELS: ("model", "model_json", "run_date"),
    EVALUATION: ("run_date",),
}
# Spark's errors for a table's folder without a table's files yet (no parquet file, an empty _delta_log)
NO_TABLE_YET = ("UNABLE_TO_INFER_SCHEMA", "DELTA_TABLE_NOT_FOUND")

def check_existing(spark: SparkSession, config: JobConfig, names: tuple[str, ...], series: DataFrame) -> list[str]:
    """Before any training: tables ``names`` already under output.path must be in
    output.format and hold the key columns with the input's (``series``') types.
    Else Delta refuses the writes after every series is trained (and a retry
    fails alike), or Parquet takes them and leaves a table no reader can open.
    The warnings for the summary: Delta tables that keep Delta's default history."""
    from forecasting.input_files import PARTITION_INFERENCE, InputError

    fmt, paths = config.output.format, tables.table_paths(config)
    warnings = []
    for name in names:
        path = paths[name]
        if config.output.table_prefix is not None:
            qualified = tables.qualified_name(config.output.table_prefix, name)
            if spark.catalog.tableExists(qualified):
                refused = (tables.managed_elsewhere(spark, qualified, path, fmt)
                           or tables.keyed_otherwise(spark, qualified, config))
                if refused:
                    raise InputError(refused)
        if not tables.path_exists(spark, path):
            continue
        is_delta = tables.path_exists(spark, f"{path}/_delta_log")
        if is_delta != (fmt == "delta"):
            held = "a Delta table" if is_delta else "files that are no Delta table (Parquet?)"
            raise InputError(f"{path} holds {held}, but output.format is {fmt}: set output.format back "
                             "or give another output.path (the job would not read its own earlier rows)")
        try:
            # parquet's every file's columns: Spark takes one file's footer, perhaps an older run date's
            reader = spark.read.format(fmt)
            reader = reader.option("mergeSchema", "true") if fmt == "parquet" else reader
            stored = {field.name: field.dataType for field in reader.load(path).schema}
        except AnalysisException as err:
            if err.getCondition() not in NO_TABLE_YET:
                raise
            logger.debug("%s holds no table yet: %s", path, err)  # nothing to clash with
            continue
        keys = list(config.input.key_columns)
        stored_keys = tables.key_columns_of(stored)
        if sorted(stored_keys) != sorted(keys):
            # another data set's table: its rows and these would share it, each null in the
            # other's key columns, and scoring would read the other's models
            raise InputError(
                f"{path} holds series keyed by {', '.join(stored_keys) or 'no column'} (its columns besides the "
                f"job's own), but the config's key columns are {', '.join(keys)}: give this data set an "
                "output.path of its own"
            )
        for field in series.schema:
            if field.name in config.input.key_columns and field.name in stored and stored[field.name] != field.dataType:
                how = ("a CSV input's columns and folder keys (store=7/) are all text: write the input as parquet or "
                       "Delta with the earlier type (a key in folder names: --set spark.conf."
                       f"{PARTITION_INFERENCE}=true types it as Spark infers it)"
                       if config.input.format == "csv" else "cast it in the input as before")
                raise InputError(
                    f"key column {field.name!r} is {field.dataType.simpleString()} in the input but "
                    f"{stored[field.name].simpleString()} in {path}: {how}, or give another output.path"
                )
        lacking = [column for column in CORE_COLUMNS[name] if column not in stored]
        if lacking:
            raise InputError(f"{path} holds a table that is not this job's {name} table (it has no column "
                             f"{', '.join(lacking)}): give the job an output.path of its own, or move that table")
        if fmt == "delta" and (said := _default_history(path)):
            warnings.append(said)
    for said in warnings:
        logger.warning("%s", said)
    return warnings


def _default_history(path: str) -> str | None:
    """A warning where a Delta table keeps Delta's default history, neither retention set: an
    older version of the job created it (the job sets both only as it creates a table), and
    versions over 30 days old, which explain a replaced forecast, go."""
    try:
        from deltalake import DeltaTable

        configured = DeltaTable(path).metadata().configuration
    except Exception as err:  # a store deltalake is given no access to: left unsaid
        logger.debug("could not read the properties of %s: %s", path, err)
        return None
    if {"delta.logRetentionDuration", "delta.deletedFileRetentionDuration"} & set(configured):
        return None  # the job's, or its owner's own
    setting = (f"'delta.logRetentionDuration' = '{tables.RETENTION}', 'delta.deletedFileRetentionDuration' = "
               f"'{tables.RETENTION}'")
    return (f"{path} keeps Delta's default history, 30 days of versions and 7 of replaced rows' files (a table an "
            "older version of the job created): a forecast a rerun replaced cannot be read back after that. Keep it "
            f"as the job's own tables do: ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({setting})")


def check_frequency(spark: SparkSession, config: JobConfig) -> None:
    """Before any training: the models already under output.path must be of
    forecast.frequency. A table of daily and weekly forecasts has no column to tell
    them apart, and each run compares its forecasts with, and scores, the run date
    before's, whatever their frequency."""
    from forecasting.input_files import InputError
    from forecasting.periods import same_frequency

    path = tables.table_paths(config)[MODELS]
    if not tables.path_exists(spark, path):
        return
    try:
        stored = [row[0] for row in spark.read.format(config.output.format).load(path).select("frequency")
                  .distinct().collect()]
    except AnalysisException as err:
        if err.getCondition() not in NO_TABLE_YET:
            raise
        return
    other: list[str] = []  # each frequency once, however written (W and W-SUN, D and 24h)
    for frequency in sorted(stored):
        if not same_frequency(frequency, config.forecast.frequency) and not any(
                same_frequency(frequency, kept) for kept in other):
            other.append(frequency)
    if other:
        raise InputError(f"{path} holds models of frequency {', '.join(map(repr, other))}, but forecast.frequency is "
                         f"{config.forecast.frequency!r}: the tables would mix the two, each run comparing its "
                         "forecasts with and scoring those of the other. Give this frequency an output.path of its "
                         "own, or set forecast.frequency back")
