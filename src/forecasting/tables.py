"""The output tables: where they live, how one run's slice is replaced, catalog names.

Every row belongs to a slice named by its partition values (the run date, and
for forecasts whether they were trained or scored). A run rewrites exactly its
own slice, so a repeated or backfilled run date never duplicates rows and never
touches other dates.
"""
from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import urlparse

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from forecasting import signals, tracking
from forecasting.config import JobConfig
from forecasting.config_schema import RESERVED_KEY_NAMES
from forecasting.config_stores import resolved_output

logger = logging.getLogger(__name__)

FORECASTS, SERIES_RESULTS, MODELS, EVALUATION = "forecasts", "series_results", "models", "evaluation"
PARTITIONS = {
    FORECASTS: ["run_date", "source"],
    SERIES_RESULTS: ["run_date"],
    MODELS: ["run_date"],
    EVALUATION: ["run_date"],
}
TRAINING_TABLES = (FORECASTS, SERIES_RESULTS, MODELS)
# The columns a new Delta table keeps each file's minimum and maximum of, with which
# readers skip files: the series' keys and these. Delta's default, the first 32
# columns, also covered the model JSON, the forecast's numbers and the scores,
# which no reader filters on (and whose values every file spans): a quarter of
# the write tasks' time in a 400-series run whose fits cost nothing. A table an
# earlier run created keeps its own setting.
SKIPPING_COLUMNS = {
    FORECASTS: ["ds"],
    SERIES_RESULTS: ["status", "model"],
    MODELS: ["model"],
    EVALUATION: ["candidate"],
}
TRAINED, SCORED = "trained", "scored"
# The tables a version of the job added columns to, and those columns (since 2026-12-03; realized_ 12-04)
GAINED_COLUMNS = {SERIES_RESULTS: {"forecast_change": "double", "realized_points": "int", "realized_mase": "double",
                                   "realized_coverage": "double"}}
# How long a new Delta table keeps its log, and the files a rerun replaced (which VACUUM
# would otherwise delete after Delta's 7 days), so its old versions stay readable: a
# registered model reads the models table's version its run wrote, and a replaced
# forecast is explained from an old version. Delta's 30 days of log made both fail.
RETENTION = "interval 3650 days"


def output_root(config: JobConfig) -> str:
    """``output.path`` as runs tag it (``config_stores.resolved_output``)."""
    return resolved_output(config.output.path)


def on_default_file_system(spark: SparkSession, config: JobConfig) -> JobConfig:
    """``config`` with an ``output.path`` without a scheme qualified against Hadoop's
    default file system where that is not the local disk (HDFS on YARN, DBFS), as Spark
    reads an input path without one. output_root would make it a folder of the driver's
    local disk, on YARN in cluster mode a new container's each run, which Hadoop then
    looks for on the default file system."""
    root = config.output.path
    if urlparse(root).scheme:
        return config
    path, fs = on_file_system(spark, root)
    if fs.getUri().getScheme() == "file":
        return config
    qualified = fs.makeQualified(path).toString()
    logger.info("output.path %s is on the default file system: %s", root, qualified)
    return replace(config, output=replace(config.output, path=qualified))


def staging_root(config: JobConfig) -> str:
    return f"{output_root(config)}/_staging"


def delete_staging(spark: SparkSession, config: JobConfig, label: str, said: bool = True) -> None:
    """Remove staging folders named ``label-*`` (left behind by a killed run; ``said``)."""
    pattern, fs = on_file_system(spark, f"{staging_root(config)}/{label}-*")
    for status in fs.globStatus(pattern) or []:
        if said:
            logger.warning("removing staging folder of an unfinished run: %s", status.getPath())
        fs.delete(status.getPath(), True)


@contextmanager
def staging_removed_on_failure(spark: SparkSession, config: JobConfig, label: str):
    """The block's staging folders (``label-*``) removed where it fails: a failed run's
    staged results serve no later run. Not where it was stopped by a signal, whose JVM
    is going too: the date's next run removes those, as a killed run's."""
    try:
        yield
    except Exception as err:
        if not signals.stopped_by(err):
            try:
                delete_staging(spark, config, label, said=False)
            except Exception as left:  # the run's own error is the one to say
                logger.debug("could not remove the staging folders %s-* of the failed run: %s", label, left)
        raise


def table_paths(config: JobConfig) -> dict[str, str]:
    return {name: f"{output_root(config)}/{name}" for name in PARTITIONS}


def replaced_rows_note(fmt: str) -> str:
    """Where the rows of a run that a rerun of its date replaced are, in ``output.format`` ``fmt``."""
    if fmt == "delta":
        return "their rows stay readable by time travel: docs/results.md, Explaining a past forecast"
    return "a parquet table keeps no earlier rows"


def write_slice(
    df: DataFrame, name: str, path: str, fmt: str, slice_values: dict[str, str], key_columns: list[str],
    job_run_id: str, staging_label: str = "write",
) -> None:
    """Replace the rows of one slice (partition values) of a table with ``df``, which
    job run ``job_run_id`` (its MLflow parent run) computed. A Delta commit records
    it (``userMetadata``): after a rerun, ``history()`` still says which version holds
    a run's rows (``table_reads.version_written_by``). Parquet rows are staged under
    ``staging_label`` (the run's, train-<date>): the date's next run removes what a
    killed write left there, as it removes the rest of that run's staging."""
    partitions = PARTITIONS[name]
    if sorted(slice_values) != sorted(partitions):
        raise ValueError(f"{name} slices are named by {partitions}, got {sorted(slice_values)}")
    if fmt == "delta":
        # replaceWhere is one atomic commit, and Delta refuses rows outside the slice
        predicate = " AND ".join(f"{column} = '{value}'" for column, value in slice_values.items())
        (
            df.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
            # a newer version of the job may add columns; older rows read them as null
            .option("mergeSchema", "true")
            .option("delta.dataSkippingStatsColumns", skipping_columns(name, with_statistics(df, key_columns)))
            .option("delta.logRetentionDuration", RETENTION)
            .option("delta.deletedFileRetentionDuration", RETENTION)
            .option("userMetadata", json.dumps({tracking.COMMIT_RUN_KEY: job_run_id}))
            .partitionBy(*partitions).save(path)
        )
    else:
        # Parquet has no transaction: the new rows are written beside the table first (Spark's
        # half-written files in the table's own _temporary folder failed readers that glob
        # **/*.parquet, DuckDB's), then the slice's folder is replaced by theirs: the date is
        # missing only between a delete and a rename. An empty result still clears the slice.
        spark = df.sparkSession
        folder = "/".join(f"{column}={slice_values[column]}" for column in partitions)
        staged = f"{path.rstrip('/').rsplit('/', 1)[0]}/_staging/{staging_label}-{name}-{job_run_id}"
        df.write.format("parquet").mode("overwrite").partitionBy(*partitions).save(staged)
        delete_path(spark, f"{path}/{folder}")
        _move(spark, f"{staged}/{folder}", f"{path}/{folder}")
        delete_path(spark, staged)
    logger.info("wrote %s slice %s of %s", fmt, slice_values, path)


def _move(spark: SparkSession, source: str, target: str) -> None:
    """Rename ``source`` (a folder) to ``target``, its parent made first; nothing where there
    is no ``source`` (an empty result's slice)."""
    source_path, file_system = on_file_system(spark, source)
    if not file_system.exists(source_path):
        return
    target_path, _ = on_file_system(spark, target)
    file_system.mkdirs(target_path.getParent())
    if not file_system.rename(source_path, target_path):
        raise OSError(f"could not move the written rows from {source} to {target}")


def key_columns_of(columns) -> list[str]:
    """A table's key columns: those of ``columns`` that the job does not name itself."""
    return [column for column in columns if column.lower() not in RESERVED_KEY_NAMES]


def path_exists(spark: SparkSession, uri: str) -> bool:
    path, file_system = on_file_system(spark, uri)
    return bool(file_system.exists(path))


def with_statistics(df: DataFrame, key_columns: list[str]) -> list[str]:
    """The key columns Delta keeps file statistics of: numbers, text, dates and times
    (it refuses the setting for a boolean key, after the training)."""
    kept = (T.NumericType, T.StringType, T.DateType, T.TimestampType, T.TimestampNTZType)
    return [column for column in key_columns if isinstance(df.schema[column].dataType, kept)]


def skipping_columns(name: str, key_columns: list[str]) -> str:
    """Delta's list of statistics columns for table ``name``, each name quoted (a key
    may hold a dash, a colon or a slash) as Spark quotes one: a backtick in it doubled."""
    return ",".join("`{}`".format(column.replace("`", "``")) for column in [*key_columns, *SKIPPING_COLUMNS[name]])


def read_table(spark: SparkSession, config: JobConfig, name: str, version: int | None = None) -> DataFrame:
    """A table by name; ``version`` reads an earlier Delta version (time travel). The
    schema of a parquet table that gained columns is merged from all its files: the
    files of run dates an older version wrote lack them (Delta merges it itself)."""
    reader = spark.read.format(config.output.format)
    if version is not None:
        reader = reader.option("versionAsOf", version)
    if config.output.format == "parquet" and name in GAINED_COLUMNS:
        reader = reader.option("mergeSchema", "true")
    return reader.load(table_paths(config)[name])


def register(spark: SparkSession, config: JobConfig, names: tuple[str, ...]) -> dict[str, str]:
    """Register tables ``names`` in the catalog under ``output.table_prefix``; return their names."""
    prefix = config.output.table_prefix
    if prefix is None:
        return {}
    if "." in prefix:
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{prefix.split('.')[0]}`")
    registered = {}
    paths = table_paths(config)
    for name in names:
        path = paths[name]
        qualified = qualified_name(prefix, name)
        spark.sql(f"CREATE TABLE IF NOT EXISTS {qualified} USING {config.output.format} LOCATION {_sql_text(path)}")
        _repoint_if_moved(spark, qualified, path, config.output.format)
        if config.output.format == "parquet":
            _add_gained_columns(spark, qualified, name)
            spark.sql(f"ALTER TABLE {qualified} RECOVER PARTITIONS")
        else:
            spark.sql(f"REFRESH TABLE {qualified}")
        registered[name] = f"{prefix}{name}"
    logger.info("catalog tables: %s", ", ".join(registered.values()))
    return registered


def _add_gained_columns(spark: SparkSession, qualified: str, name: str) -> None:
    """Add to a parquet catalog table the columns a newer version of the job gave table
    ``name``: the catalog keeps the schema the table was registered with."""
    present = {field.name.lower() for field in spark.table(qualified).schema}
    missing = [f"`{column}` {kind}" for column, kind in GAINED_COLUMNS.get(name, {}).items() if column not in present]
    if missing:
        spark.sql(f"ALTER TABLE {qualified} ADD COLUMNS ({', '.join(missing)})")
        logger.info("added %s to catalog table %s", ", ".join(missing), qualified)


def _sql_text(value: str) -> str:
    """``value`` as a Spark SQL string literal: a path may hold quotes and backslashes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def qualified_name(prefix: str, name: str) -> str:
    return ".".join(f"`{part}`" for part in f"{prefix}{name}".split("."))


def catalog_entry(spark: SparkSession, qualified: str) -> tuple[str, str, bool]:
    """Where catalog table ``qualified`` (a name as Spark SQL reads it) points, its
    format, and whether it is external."""
    details = {row["col_name"]: row["data_type"] for row in spark.sql(f"DESCRIBE TABLE EXTENDED {qualified}").collect()}
    return details.get("Location", ""), details.get("Provider", "").lower(), details.get("Type", "").upper() == "EXTERNAL"


def _points_at(spark: SparkSession, entry: tuple[str, str, bool], path: str, fmt: str) -> bool:
    location, provider, _ = entry
    return bool(location) and _qualified_uri(spark, location) == _qualified_uri(spark, path) and provider == fmt


def managed_elsewhere(spark: SparkSession, qualified: str, path: str, fmt: str,
                       entry: tuple[str, str, bool] | None = None) -> str | None:
    """Why catalog table ``qualified`` cannot name the job's table at ``path``: the
    catalog manages it (its files would go with it), and it is not that table."""
    entry = entry or catalog_entry(spark, qualified)
    location, provider, external = entry
    if external or _points_at(spark, entry, path, fmt):
        return None
    return (f"catalog table {qualified} is a {provider} table the catalog manages at {location}, not the job's "
            f"{fmt} table at {path}: drop or rename it, or set another output.table_prefix")


def keyed_otherwise(spark: SparkSession, qualified: str, config: JobConfig) -> str | None:
    """Why catalog table ``qualified`` names another data set's table: its series are
    keyed by other columns. Registering it over this job's table (an output.path that
    moved) would silently hand its readers another data set."""
    try:
        columns = spark.table(qualified).columns
    except AnalysisException:  # its files are gone: nothing a reader would still get
        return None
    stored_keys = key_columns_of(columns)
    keys = list(config.input.key_columns)
    if sorted(stored_keys) == sorted(keys):
        return None
    location = catalog_entry(spark, qualified)[0]
    return (f"catalog table {qualified} names a table at {location} keyed by {', '.join(stored_keys) or 'no column'}, "
            f"but the config's key columns are {', '.join(keys)}: another data set's, whose readers would be handed "
            f"this one's rows. Give this data set an output.table_prefix of its own (or DROP TABLE {qualified} if "
            "nothing reads it any more)")


def _repoint_if_moved(spark: SparkSession, qualified: str, path: str, fmt: str) -> None:
    """A name registered by an earlier run with another ``output.path`` or format
    would go on serving the old files: it is registered again, over ``path``. A
    table the catalog manages itself is refused (check_existing does so before training)."""
    entry = catalog_entry(spark, qualified)
    refused = managed_elsewhere(spark, qualified, path, fmt, entry)
    if refused:
        raise RuntimeError(refused)
    if _points_at(spark, entry, path, fmt):
        return
    location, provider, _ = entry
    logger.warning("catalog table %s pointed at %s (%s); registered again over %s (%s)",
                   qualified, location, provider, path, fmt)
    spark.sql(f"DROP TABLE {qualified}")  # an external table: its files stay where they are
    spark.sql(f"CREATE TABLE {qualified} USING {fmt} LOCATION {_sql_text(path)}")


def _qualified_uri(spark: SparkSession, uri: str) -> tuple[str, str, str]:
    """``uri`` as its file system names it: file:/a, file:///a and /a are one place."""
    path, file_system = on_file_system(spark, uri)
    qualified = urlparse(str(file_system.makeQualified(path).toUri()))
    return qualified.scheme, qualified.netloc, qualified.path.rstrip("/")


def delete_path(spark: SparkSession, uri: str) -> None:
    """Delete recursively through Hadoop, so that it works on any cluster file system."""
    path, file_system = on_file_system(spark, uri)
    file_system.delete(path, True)


def on_file_system(spark: SparkSession, uri: str):
    """Hadoop's path for ``uri`` and its file system (local, HDFS, S3, ...)."""
    path = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(uri)
    return path, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def latest_forecasts(forecasts: DataFrame, key_columns: list[str], as_of: str | None = None) -> DataFrame:
    """Each series' newest forecast, or the newest made on or before ``as_of``.

    Scored forecasts count as well as trained ones; at equal run dates the
    trained one wins ('trained' sorts after 'scored'): its model saw all data
    up to that date, a scored one's model only data up to its own run date.
    """
    if as_of is not None:
        forecasts = forecasts.where(F.col("run_date") <= F.lit(as_of).cast("date"))
    # ranked within each series, not joined back: a join on the keys drops a null key's series (null = null is
    # not true), a window's partition holds it; every row of the newest forecast shares rank 1
    newest = Window.partitionBy(*key_columns).orderBy(F.col("run_date").desc(), F.col("source").desc())
    return forecasts.withColumn("_rank", F.dense_rank().over(newest)).where("_rank = 1").drop("_rank")
