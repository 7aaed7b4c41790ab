"""How far a training run's forecasts moved from those of the run date before it.

A weekly run forecasts mostly the same days as the week before; a series whose
forecast jumped since then (new data, a broken input, another model) is the one
to look at first. ``series_results.forecast_change`` holds each series' change and
the run's summary names the series that moved most.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from forecasting import tables
from forecasting.config import JobConfig

CHANGE = "forecast_change"
PREVIOUS = "_previous"  # the earlier forecast's yhat, beside this run's (config_schema reserves the names used here)
# A change the summary names: the forecast moved by more than half of the earlier one
LARGE_CHANGE = 0.5


def previous_forecasts(spark: SparkSession, config: JobConfig, run_date: str) -> tuple[str, DataFrame] | None:
    """The latest run date before ``run_date`` with trained forecasts at the output,
    and those forecasts (key columns, ``ds``, ``_previous``: their ``yhat``); None on a
    first run. Read before this run writes: a parquet table lists its files here."""
    path = tables.table_paths(config)[tables.FORECASTS]
    if not tables.path_exists(spark, path):
        return None
    earlier = tables.read_table(spark, config, tables.FORECASTS).where(
        (F.col("source") == tables.TRAINED) & (F.col("run_date") < F.lit(run_date).cast("date")))
    latest = earlier.agg(F.max("run_date")).first()[0]
    if latest is None:
        return None
    keys = list(config.input.key_columns)
    rows = earlier.where(F.col("run_date") == F.lit(latest)).select(*keys, "ds", F.col("yhat").alias(PREVIOUS))
    return str(latest), rows


def with_change(staged: DataFrame, previous: DataFrame | None, keys: list[str]) -> DataFrame:
    """``staged`` (the run's result rows, each with its ``forecast`` points) with the
    ``forecast_change`` column: over the times both forecasts cover, the sum of the
    absolute differences of ``yhat`` over that of the earlier ``yhat``. Null where no
    earlier forecast covers a time of this one, or it is all zero."""
    if previous is None:
        return staged.withColumn(CHANGE, F.lit(None).cast("double"))
    points = staged.select(*keys, F.explode("forecast").alias("point")).select(*keys, "point.ds", "point.yhat")
    moved = points.join(previous, [*keys, "ds"]).groupBy(*keys).agg(
        F.sum(F.abs(F.col("yhat") - F.col(PREVIOUS))).alias("_moved"), F.sum(F.abs(PREVIOUS)).alias("_level"))
    change = moved.select(*keys, F.when(F.col("_level") > 0, F.col("_moved") / F.col("_level")).alias(CHANGE))
    return staged.join(change, keys, "left")


def largest(results: DataFrame, keys: list[str]) -> tuple[int, DataFrame]:
    """How many of a run's ``results`` (series_results rows) moved more than
    ``LARGE_CHANGE``, and those rows, the largest first, with the change as their ``reason``."""
    large = results.where(F.col(CHANGE) > LARGE_CHANGE)
    count = large.count()
    named = large.orderBy(F.col(CHANGE).desc()).select(
        *keys, F.format_string("%.0f%%", F.col(CHANGE) * 100).alias("reason"))
    return count, named
