"""A job's results computed once into a staging folder, which its tables are then
written from (tables.staging_root), and read back counted."""
from __future__ import annotations

import uuid
from typing import Callable

from pyspark.sql import DataFrame, SparkSession

from forecasting import tables
from forecasting.config import JobConfig
from forecasting.progress import SeriesCounters, StageProgress
from forecasting.spark_session import job_description


def stage(results: DataFrame, config: JobConfig, label: str, description: str,
          series: SeriesCounters | None = None, total: int = 0, rows: int = 0,
          when_ran_again: Callable[[str], None] | None = None) -> str:
    """Compute ``results`` once, into a staging folder the tables are then read from;
    progress counts ``series`` up to ``total`` (of ``rows`` input rows) when given.
    ``when_ran_again`` is called with the folder where a stage or task of it ran again.

    Caching instead could be evicted and silently re-run the work, which would
    fit every model and log every child run a second time.
    """
    spark = results.sparkSession
    stage_path = f"{tables.staging_root(config)}/{label}-{uuid.uuid4().hex}"
    progress = StageProgress(spark, description, series=series, total=total, rows=rows)
    with job_description(spark, description), progress:
        results.write.mode("overwrite").parquet(stage_path)
    if progress.ran_again and when_ran_again is not None:
        when_ran_again(stage_path)
    return stage_path


def read_staged(spark: SparkSession, stage_path: str, expected: int, what: str, exact: bool) -> DataFrame:
    """The staged results, counted against the ``expected`` rows (``what`` they are) before
    any table is written, which would publish a part of the date: fewer (``exact``: other)
    where another run of the date removed the folder's files."""
    with job_description(spark, "read the staged results"):
        staged = spark.read.parquet(stage_path)
        count = staged.count()  # from the files' footers
    if count < expected or (exact and count != expected):
        raise RuntimeError(f"{expected} {what} but {count} staged results: their folder {stage_path} lost files "
                           "(removed by another run of this date?); nothing was written")
    return staged
