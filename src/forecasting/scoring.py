"""Batch scoring: fresh forecasts from the stored models of a run, without retraining.

A scored forecast starts after the last observation on or before the scoring
run date (read from the input, counted as training counts it: aligned to the
frequency's grid, a period of finer rows still open on the run date left out, and
without rows the cleaning drops for a missing value), so
scoring as of a training run's own date reproduces that run's forecast, and a
later date rolls the forecast forward.
"""
from __future__ import annotations

import logging
import time
from functools import partial, reduce
from typing import Iterator

import pandas as pd
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from forecasting import io, model, model_store, parent_run, spark_training, tables, tracking, validation
from forecasting.config import JobConfig
from forecasting.pipeline import JobSummary, as_of_cut, finishing, stage
from forecasting.spark_session import job_description

logger = logging.getLogger(__name__)

# "scored_no_input": the series has no input rows up to the run date, so its
# forecast starts after the end of the model's own history.
SCORED_OK, NO_INPUT = "scored", "scored_no_input"


def _score_batches(batches: Iterator[pd.DataFrame], key_columns: list[str], horizon: int,
                   run_date: str | None = None, now: str | None = None) -> Iterator[pd.DataFrame]:
    """Each stored model's forecast after its series' last observation; with ``run_date``
    (and ``now``, the run's start on it), a last observation in a period still open
    then counts as training counts it."""
    for batch in batches:
        rows = []
        for record in batch.to_dict("records"):
            keys = {k: record[k] for k in key_columns}
            seed = model.series_seed(tracking.series_id(keys))
            latest = _latest_rows(record)  # the store aligns them
            last = None if latest is None else latest.last
            forecast = model_store.forecast(record["model"], record["model_json"], last, horizon, record["frequency"],
                                            record["interval_width"], seed, run_date, now, latest)
            rows.append(
                {
                    **keys,
                    "forecast": forecast.to_dict("records"),
                    "model": record["model"],
                    "child_run_id": record["child_run_id"],
                    "status": SCORED_OK if not pd.isna(record["last_ds"]) else NO_INPUT,
                }
            )
        yield pd.DataFrame(rows, columns=[*key_columns, "forecast", "model", "child_run_id", "status"])


def _latest_rows(record: dict) -> model_store.LatestRows | None:
    def time(column: str):
        value = record.get(column)
        return None if value is None or pd.isna(value) else pd.Timestamp(value)

    last = time("last_ds")
    return None if last is None else model_store.LatestRows(
        last, time("previous_ds"), time("valued_ds"), time("previous_valued_ds"))


def last_observations(series_df: DataFrame, config: JobConfig) -> DataFrame:
    """Each series' last time (``last_ds``) and the one before it (``previous_ds``,
    null for a single time), and the same of its rows with a value (``valued_ds``,
    ``previous_valued_ds``), without the rows training drops whatever their period:
    with ``cleaning.missing_values: drop`` those whose target is missing or infinite,
    with ``cleaning.negative_values: drop`` those below zero."""
    target = F.col(validation.TARGET)
    if config.cleaning.missing_values == "drop":
        series_df = series_df.where(target.isNotNull() & ~F.isnan(target) & (F.abs(target) != float("inf")))
    if config.cleaning.negative_values == "drop":
        # null, NaN and -inf rows: the policy above (cleaning takes -inf for a missing value, not a negative one)
        series_df = series_df.where(target.isNull() | ~(target < 0) | (target == float("-inf")))
    keys, time = config.input.key_columns, F.col(validation.TIME)
    valued = target.isNotNull() & ~F.isnan(target) & (F.abs(target) != float("inf"))
    series = Window.partitionBy(*keys)
    with_last = series_df.withColumn("last_ds", F.max(time).over(series)).withColumn(
        "valued_ds", F.max(F.when(valued, time)).over(series))
    return with_last.groupBy(*keys).agg(
        F.max("last_ds").alias("last_ds"), F.max(F.when(time < F.col("last_ds"), time)).alias("previous_ds"),
        F.max("valued_ds").alias("valued_ds"),
        F.max(F.when(valued & (time < F.col("valued_ds")), time)).alias("previous_valued_ds"),
    )


def choose_model_run_date(models: DataFrame, run_date: str, requested: str | None) -> str:
    """The requested model run date, or the latest one on or before ``run_date``
    (a model trained later than the scoring date has seen data from its future)."""
    dates = sorted(r[0].isoformat() for r in models.select("run_date").distinct().collect())
    if requested is not None:
        if requested not in dates:
            raise io.InputError(f"no models for run date {requested}; stored run dates: {dates}")
        return requested
    usable = [d for d in dates if d <= run_date]
    if not usable:
        raise io.InputError(f"no models trained on or before {run_date}; stored run dates: {dates}")
    return usable[-1]


def _match_counts(models: DataFrame, latest: DataFrame, keys: list[str]) -> tuple[int, int, int]:
    """How many models there are, how many input series have none (new since that
    training), and how many have a null key (never modelled), in one pass: a row
    without the marker is an input series no model matched."""
    matched = models.select(*keys, F.lit(True).alias("_has_model")).join(
        latest.select(*keys), keys, how="full"
    )
    null_key = reduce(lambda a, b: a | b, [F.col(k).isNull() for k in keys])
    unmatched = F.col("_has_model").isNull()
    row = matched.agg(
        F.count("_has_model").alias("models"),
        F.count(F.when(unmatched & ~null_key, True)).alias("unmodelled"),
        F.count(F.when(unmatched & null_key, True)).alias("null_key"),
    ).first()
    return row["models"], row["unmodelled"], row["null_key"]


def run_scoring(spark: SparkSession, config: JobConfig, run_date: str, model_run_date: str | None = None) -> JobSummary:
    """Score every stored model of ``model_run_date`` as of ``run_date``."""
    started = time.monotonic()
    keys = list(config.input.key_columns)
    with job_description(spark, "read the stored models"):
        try:
            stored = tables.read_table(spark, config, tables.MODELS)
        except AnalysisException as err:  # no table there; other errors (storage down) stay errors: exit 1, retry
            raise io.InputError(
                f"cannot read the models table at {tables.table_paths(config)[tables.MODELS]}: {err.getMessage()}"
            ) from err
        chosen = choose_model_run_date(stored, run_date, model_run_date)
    models = stored.where(F.col("run_date") == F.lit(chosen).cast("date"))

    with job_description(spark, "read and check the input"):
        raw, data_version = io.read_input(spark, config)
        validation.check_input(raw, config)
    latest = last_observations(as_of_cut(validation.to_series_frame(raw, config), run_date), config)
    with job_description(spark, "check the tables already written"):
        # another data set's models, or forecasts keyed otherwise: refused, not mixed
        tables.check_existing(spark, config, (tables.MODELS, tables.FORECASTS), latest)
    work = models.select(*keys, "model", "model_json", "frequency", "interval_width", "child_run_id").join(
        latest, keys, how="left"
    )
    with job_description(spark, "match the models to the input"):
        count, unmodelled, null_key = _match_counts(models, latest, keys)
    logger.info("scoring %d models of run date %s as of %s", count, chosen, run_date)

    context = parent_run.start_parent_run(
        config, run_date, data_version, job="score_forecast", extra_tags={"model_run_date": chosen}
    )
    summary = JobSummary(
        run_date=run_date, job_run_id=context.parent_run_id, experiment_id=context.experiment_id,
        tracking_uri=context.tracking_uri, tables={tables.FORECASTS: tables.table_paths(config)[tables.FORECASTS]},
        title="Scoring run", note=f"  from the models of run date {chosen}\n", statuses=(SCORED_OK, NO_INPUT),
    )
    if unmodelled:  # new since that training run: they need one before they can be scored
        logger.warning("%d series in the input have no model of run date %s and are not scored", unmodelled, chosen)
        summary.note += (f"  {unmodelled} series in the input have no model of that date: not scored (new since "
                         "that training, or skipped or failed then without a fallback: series_results says which)\n")
    if null_key:  # training skips them too: no identity to store a model under
        logger.warning("%d input series have a null key value and are not scored", null_key)
        summary.note += f"  {null_key} series in the input have a null key value: never modelled, not scored\n"
    with finishing(context, summary, started):
        schema = T.StructType(
            [work.schema[k] for k in keys]
            + [
                T.StructField("forecast", T.ArrayType(spark_training.FORECAST_POINT)),
                T.StructField("model", T.StringType()),
                T.StructField("child_run_id", T.StringType()),
                T.StructField("status", T.StringType()),
            ]
        )
        spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
        scored = work.repartition(max(1, min(count, spark_training.MAX_AUTO_PARTITIONS))).mapInPandas(
            partial(_score_batches, key_columns=keys, horizon=config.forecast.horizon, run_date=run_date,
                    now=context.known_until), schema
        )
        tables.delete_staging(spark, config, f"score-{run_date}")  # left by a killed run of this date
        stage_path = stage(scored, config, f"score-{run_date}", "score every stored model")
        with job_description(spark, "read the staged results"):
            staged = spark.read.parquet(stage_path)
        forecasts = spark_training.forecasts_table(
            staged, keys, run_date, context.parent_run_id, source=tables.SCORED, model_run_date=chosen
        )
        with job_description(spark, f"write {tables.FORECASTS}"):
            tables.write_slice(
                forecasts, tables.FORECASTS, summary.tables[tables.FORECASTS], config.output.format,
                {"run_date": run_date, "source": tables.SCORED}, keys,
            )
        with job_description(spark, "count the series by status"):
            summary.counts = {r["status"]: r["count"] for r in staged.groupBy("status").count().collect()}
        tables.delete_path(spark, stage_path)
        with job_description(spark, "register the tables in the catalog"):
            summary.catalog = tables.register(spark, config, tables.TRAINING_TABLES)
    return summary
