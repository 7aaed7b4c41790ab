"""The training job, wired: read → check → track → train → write → summarise."""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from forecasting import io, spark_training, tracking, validation
from forecasting.config import JobConfig
from forecasting.progress import StageProgress
from forecasting.series import FAILED, OK, SKIPPED

logger = logging.getLogger(__name__)

TABLES = ("forecasts", "series_results")


@dataclass
class JobSummary:
    run_date: str
    job_run_id: str
    experiment_id: str
    tracking_uri: str
    tables: dict[str, str]
    counts: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def format(self) -> str:
        width = max(len(name) for name in (*self.tables, "series total"))
        lines = [f"Forecast run {self.run_date} finished in {self.wall_seconds:.0f}s", ""]
        for status in (OK, SKIPPED, FAILED):
            lines.append(f"  {status:<{width}}  {self.counts.get(status, 0):>7}")
        lines.append(f"  {'series total':<{width}}  {self.total:>7}")
        lines.append("")
        lines += [f"  {name:<{width}}  {path}" for name, path in self.tables.items()]
        lines += ["", f"  MLflow parent run {self.job_run_id} (experiment {self.experiment_id})"]
        if urlparse(self.tracking_uri).scheme == "file":
            lines.append(f"  open the UI with: mlflow ui --backend-store-uri {self.tracking_uri}")
        else:
            lines.append(f"  tracking server: {self.tracking_uri}")
        return "\n".join(lines)


def table_paths(config: JobConfig) -> dict[str, str]:
    root = config.output.path
    if urlparse(root).scheme in ("", "file"):
        root = str(Path(urlparse(root).path if root.startswith("file:") else root).resolve())
    return {name: f"{root.rstrip('/')}/{name}" for name in TABLES}


def run_job(spark: SparkSession, config: JobConfig, run_date: str) -> JobSummary:
    """Train, forecast and track every series of the configured input for ``run_date``."""
    started = time.monotonic()
    raw, data_version = io.read_input(spark, config)
    rows = validation.check_input(raw, config)
    series_df = validation.to_series_frame(raw, config)
    keys = list(config.input.key_columns)
    series_count = series_df.select(*keys).distinct().count()
    logger.info("input: %d rows in %d series", rows, series_count)

    context = tracking.start_parent_run(config, run_date, data_version)
    paths = table_paths(config)
    summary = JobSummary(
        run_date=run_date,
        job_run_id=context.parent_run_id,
        experiment_id=context.experiment_id,
        tracking_uri=context.tracking_uri,
        tables=paths,
    )
    try:
        results = spark_training.train_all(series_df, config, context, series_count)
        stage_path = _stage(spark, results, paths)
        staged = spark.read.parquet(stage_path)
        _write_tables(staged, config, paths, run_date, context.parent_run_id)
        summary.counts = _status_counts(staged)
        _delete(spark, stage_path)
        if summary.total != series_count:
            raise RuntimeError(f"{series_count} series in the input but {summary.total} results")
    except BaseException:
        tracking.finish_parent_run(context, summary.counts, time.monotonic() - started, failed=True)
        raise
    summary.wall_seconds = time.monotonic() - started
    tracking.finish_parent_run(context, summary.counts, summary.wall_seconds)
    return summary


def _stage(spark: SparkSession, results: DataFrame, paths: dict[str, str]) -> str:
    """Run the training once, into a staging folder both tables are then read from.

    Caching instead could be evicted and silently re-run the training, which
    would fit every model and log every child run a second time.
    """
    root = paths["forecasts"].rsplit("/", 1)[0]
    stage_path = f"{root}/_staging/{uuid.uuid4().hex}"
    spark.sparkContext.setJobDescription("train and forecast every series")
    with StageProgress(spark, "training"):
        results.write.mode("overwrite").parquet(stage_path)
    spark.sparkContext.setJobDescription(None)
    return stage_path


def _delete(spark: SparkSession, uri: str) -> None:
    """Delete recursively through Hadoop, so that it works on any cluster file system."""
    path = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(uri)
    path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(path, True)


def _write_tables(staged: DataFrame, config: JobConfig, paths: dict[str, str], run_date: str, job_run_id: str) -> None:
    keys = list(config.input.key_columns)
    tables = {
        "forecasts": spark_training.forecasts_table(staged, keys, run_date, job_run_id),
        "series_results": spark_training.series_results_table(staged, keys, run_date, job_run_id),
    }
    for name, df in tables.items():
        staged.sparkSession.sparkContext.setJobDescription(f"write {name}")
        io.write_table(df, paths[name], config.output.format, partition_by=["run_date"])
    staged.sparkSession.sparkContext.setJobDescription(None)


def _status_counts(staged: DataFrame) -> dict[str, int]:
    rows = staged.groupBy("status").agg(F.count(F.lit(1)).alias("n")).collect()
    return {row["status"]: row["n"] for row in rows}
