"""Building the SparkSession; only entry points call this, never an import."""
from __future__ import annotations

import os

from pyspark.sql import SparkSession

from forecasting.config import JobConfig

# Settings the job relies on; config.spark.conf may override any of them.
JOB_DEFAULTS = {
    # Prophet and the output tables work in naive timestamps: without a fixed
    # zone, hourly data would shift across daylight-saving changes.
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Python workers are reused across tasks, so Prophet is imported once per worker.
    "spark.python.worker.reuse": "true",
}


def build_session(app_name: str, config: JobConfig) -> SparkSession:
    builder = SparkSession.builder.appName(app_name)
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        # started with plain `python`, not spark-submit: run locally on all cores
        builder = builder.master("local[*]")
    for key, value in {**JOB_DEFAULTS, **config.spark.conf}.items():
        builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    # Spark's INFO log drowns the job's own; its warnings and errors still show.
    spark.sparkContext.setLogLevel("WARN")
    return spark
