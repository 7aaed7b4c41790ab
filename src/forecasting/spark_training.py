"""The Spark stage: one Prophet model per series with ``groupBy(...).applyInPandas``.

Each group's task runs the pure per-series function, logs the series' child run
and returns one result row holding the forecast as an array, so a single pass
over the data yields both output tables.
"""
from __future__ import annotations

import json
import logging
from functools import partial

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from forecasting import model, tables, tracking
from forecasting.config import JobConfig
from forecasting.metrics import METRIC_FUNCTIONS
from forecasting.series import prepare_history, train_series
from forecasting.validation import TARGET, TIME

logger = logging.getLogger(__name__)

# Auto partitioning gives each series its own task (best balance: a core that
# finishes early takes the next series) up to this many tasks.
MAX_AUTO_PARTITIONS = 2000

FORECAST_POINT = T.StructType(
    [
        T.StructField("ds", T.TimestampType()),
        T.StructField("yhat", T.DoubleType()),
        T.StructField("yhat_lower", T.DoubleType()),
        T.StructField("yhat_upper", T.DoubleType()),
    ]
)
CV_COLUMNS = [f"cv_{name}" for name in METRIC_FUNCTIONS]
RESULT_FIELDS = [
    T.StructField("status", T.StringType(), False),
    T.StructField("reason", T.StringType()),
    T.StructField("history_length", T.IntegerType()),
    *[T.StructField(name, T.DoubleType()) for name in CV_COLUMNS],
    T.StructField("best_params", T.StringType()),
    T.StructField("evaluations", T.IntegerType()),
    T.StructField("fit_seconds", T.DoubleType()),
    T.StructField("child_run_id", T.StringType()),
    T.StructField("history_end", T.TimestampType()),
    T.StructField("forecast", T.ArrayType(FORECAST_POINT)),
    T.StructField("model_json", T.StringType()),
]
# Columns of the staged results that only feed the forecasts and models tables.
BULKY_COLUMNS = ("forecast", "model_json")


def result_schema(series_df: DataFrame, key_columns: list[str]) -> T.StructType:
    return T.StructType([series_df.schema[k] for k in key_columns] + RESULT_FIELDS)


def train_group(
    group: pd.DataFrame, config: JobConfig, key_columns: list[str], context: tracking.RunContext
) -> pd.DataFrame:
    """applyInPandas body: train one series, log its child run, return its result row."""
    keys = {k: group[k].iloc[0] for k in key_columns}
    history = group[[TIME, TARGET]]
    outcome = train_series(history, config, seed=model.series_seed(tracking.series_id(keys)))
    run_id, reason = None, outcome.reason
    try:
        run_id = tracking.log_series_run(context, keys, outcome, prepare_history(history))
    except Exception as err:  # the forecast stays valid without its run
        logger.warning("tracking failed for %s: %s", tracking.series_id(keys), err)
        reason = "; ".join(filter(None, [reason, f"tracking failed: {err}"]))
    forecast = None
    if outcome.forecast is not None:
        forecast = outcome.forecast.to_dict("records")
    row = {
        **{k: [v] for k, v in keys.items()},
        "status": [outcome.status],
        "reason": [reason],
        "history_length": [outcome.history_length],
        **{f"cv_{name}": [outcome.cv_metrics.get(name)] for name in METRIC_FUNCTIONS},
        "best_params": [json.dumps(outcome.best_params, sort_keys=True) if outcome.best_params else None],
        "evaluations": [outcome.evaluations],
        "fit_seconds": [outcome.fit_seconds],
        "child_run_id": [run_id],
        "history_end": [history[TIME].max()],
        "forecast": [forecast],
        "model_json": [model.to_json(outcome.model) if outcome.model is not None else None],
    }
    return pd.DataFrame(row)


def shuffle_partitions(config: JobConfig, series_count: int) -> int:
    return config.spark.shuffle_partitions or max(1, min(series_count, MAX_AUTO_PARTITIONS))


def train_all(
    series_df: DataFrame, config: JobConfig, context: tracking.RunContext, series_count: int
) -> DataFrame:
    """Result rows, one per series. Lazy: nothing runs until the result is written."""
    spark = series_df.sparkSession
    partitions = shuffle_partitions(config, series_count)
    spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    # Adaptive execution would merge the small shuffle partitions (a few KB of
    # history each) into one task and leave every other core idle.
    spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
    keys = list(config.input.key_columns)
    logger.info("training %d series in %d partitions", series_count, partitions)
    work = partial(train_group, config=config, key_columns=keys, context=context)
    return series_df.groupBy(*keys).applyInPandas(work, schema=result_schema(series_df, keys))


def with_run_columns(df: DataFrame, run_date: str, job_run_id: str) -> DataFrame:
    return df.withColumn("run_date", F.lit(run_date).cast(T.DateType())).withColumn(
        "job_run_id", F.lit(job_run_id)
    )


def forecasts_table(
    results: DataFrame, key_columns: list[str], run_date: str, job_run_id: str,
    source: str = tables.TRAINED, model_run_date: str | None = None,
) -> DataFrame:
    """One row per series and forecast step; ``source`` tells trained from scored rows."""
    points = results.where(F.col("forecast").isNotNull()).select(
        *key_columns, F.explode("forecast").alias("point"), "child_run_id"
    )
    return (
        points.select(*key_columns, "point.*", "child_run_id")
        .transform(lambda df: with_run_columns(df, run_date, job_run_id))
        .withColumn("source", F.lit(source))
        .withColumn("model_run_date", F.lit(model_run_date or run_date).cast(T.DateType()))
        .select(*key_columns, *FORECAST_POINT.names, "run_date", "source", "model_run_date", "job_run_id", "child_run_id")
    )


def series_results_table(results: DataFrame, key_columns: list[str], run_date: str, job_run_id: str) -> DataFrame:
    """One row per input series, whatever became of it."""
    columns = [f.name for f in RESULT_FIELDS if f.name not in (*BULKY_COLUMNS, "child_run_id")]
    return (
        results.transform(lambda df: with_run_columns(df, run_date, job_run_id))
        .select(*key_columns, *columns, "run_date", "job_run_id", "child_run_id")
    )


def models_table(results: DataFrame, config: JobConfig, run_date: str, job_run_id: str) -> DataFrame:
    """One row per modelled series: the serialized Prophet model and what made it."""
    keys = list(config.input.key_columns)
    return (
        results.where(F.col("model_json").isNotNull())
        .transform(lambda df: with_run_columns(df, run_date, job_run_id))
        .withColumn("frequency", F.lit(config.forecast.frequency))
        .select(*keys, "model_json", "best_params", "history_length", "history_end", "frequency",
                "run_date", "job_run_id", "child_run_id")
    )
