"""The Spark stage: one model per series with ``groupBy(...).applyInPandas``.

Each group's task runs the pure per-series function, logs the series' child run
and returns one result row holding the forecast as an array (and the model), so
a single pass over the data yields every output table.
"""
from __future__ import annotations

import json
import logging
import math
import os
import signal
import time
from functools import partial

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from forecasting import (
    balancing, child_runs, forecast_change, model, model_store, python_worker, realized, redaction, result_row,
    series_identity, tables, tracking,
)
from forecasting.config import JobConfig
from forecasting.metrics import METRIC_NAMES
from forecasting.periods import known_until
from forecasting.progress import SeriesCounters
from forecasting.series import FAILED, SKIPPED, SeriesOutcome, prepare_history, train_series
from forecasting.validation import LATEST_TIME, TARGET, TIME

logger = logging.getLogger(__name__)

# Auto partitioning: tasks of about SERIES_PER_TASK series, but at least
# TASKS_PER_CORE per core so that a core that finishes early takes more work,
# a whole number of tasks per core (balancing sizes them, the later ones
# smaller), and at most MAX_AUTO_PARTITIONS. Each task costs a fixed overhead
# (scheduling, Arrow streams, a staging file: 40-60 ms of a core on 2 cores).
# Measured, alternated: 400 M4 series (6 x 2) on 2 cores, a training stage of
# 15.8 s in 50 tasks against 15.0 s in 20; 1,000 synthetic series (1 x 1), a job
# of 42-43 s in 126 tasks against 39-41 s in 50. The tapering keeps the last
# tasks small, so that fewer, bigger tasks leave no longer a tail.
SERIES_PER_TASK = 20
TASKS_PER_CORE = 4
MAX_AUTO_PARTITIONS = 2000
# The session settings the training and scoring set for their own queries; a job
# puts them back as they were once its tables are written (settings_restored).
SHUFFLE_SETTINGS = ("spark.sql.shuffle.partitions", "spark.sql.adaptive.coalescePartitions.enabled")

FORECAST_POINT = T.StructType(
    [
        T.StructField("ds", T.TimestampType()),
        T.StructField("yhat", T.DoubleType()),
        T.StructField("yhat_lower", T.DoubleType()),
        T.StructField("yhat_upper", T.DoubleType()),
    ]
)
CV_COLUMNS = [f"cv_{name}" for name in METRIC_NAMES]
HISTORY_POINT = T.StructType([T.StructField("ds", T.TimestampType()), T.StructField("y", T.DoubleType())])
# Evaluation mode keeps this many forecast horizons of history for the report's plots.
RECENT_HORIZONS = 5
RESULT_FIELDS = [
    T.StructField("status", T.StringType(), False),
    T.StructField("reason", T.StringType()),
    T.StructField("history_length", T.IntegerType()),
    T.StructField("data_notes", T.StringType()),
    T.StructField("model", T.StringType()),
    *[T.StructField(name, T.DoubleType()) for name in CV_COLUMNS],
    T.StructField("candidate_scores", T.StringType()),
    T.StructField("best_params", T.StringType()),
    T.StructField("evaluations", T.IntegerType()),
    T.StructField("fit_seconds", T.DoubleType()),
    T.StructField("tracking_seconds", T.DoubleType()),
    T.StructField("child_run_id", T.StringType()),
    T.StructField("history_end", T.TimestampType()),
    T.StructField("forecast", T.ArrayType(FORECAST_POINT)),
    T.StructField("model_json", T.StringType()),
    T.StructField("holdout_scores", T.StringType()),
    T.StructField("recent", T.ArrayType(HISTORY_POINT)),
    T.StructField(realized.ARRIVED, T.ArrayType(realized.ARRIVED_POINT)),
]
# Columns of the staged results that only feed the other tables.
BULKY_COLUMNS = ("forecast", "model_json", "holdout_scores", "recent", realized.ARRIVED)
# How a result row leaves its task (result_row): the model's JSON apart, since escaping it once more would cost more.
RESULT_ROW = result_row.RowFormat(tuple(RESULT_FIELDS), apart=("model_json",))
# In a result row's reason: the series has no child run (the job's summary counts them).
TRACKING_FAILED = "tracking failed: "
# In its data notes: the series was trained again in a retry of its Spark task
RETRIED_NOTE = "trained in a retry of its Spark task, an earlier attempt having failed"
# input rows of a series without a time, left out (the input check counts them all)
TIMELESS_NOTE = "without a time in column"
# on the series reliability.fail_series names, even one skipped before its training could fail: the summary
# then knows the id matched, without a second copy of series_identity's rules in Spark
FAIL_SERIES_NOTE = "named by reliability.fail_series (fault injection)"


def training_input(series_df: DataFrame) -> DataFrame:
    """``series_df`` with times as the session's wall-clock times (timestamp_ntz):
    what PySpark gives pandas for a timestamp too, but without converting every
    group's times from UTC in Python (a third of the cost of handing a group over)."""
    return series_df.withColumn(TIME, F.col(TIME).cast(T.TimestampNTZType()))


def train_group(
    group: pd.DataFrame, config: JobConfig, key_columns: list[str], context: tracking.RunContext, holdout: int = 0,
    series_counters: SeriesCounters | None = None,
) -> pd.DataFrame:
    """applyInPandas body: train one series, log its child run, return its result row.
    ``holdout`` > 0 is evaluation mode: the last ``holdout`` periods are held out and scored."""
    python_worker.prepare()
    keys = {k: _plain_key(group[k].iloc[0]) for k in key_columns}
    name = series_identity.series_id(keys)
    history = group[[TIME, TARGET]]
    timeless = history[TIME].isna()  # rows without a time (pipeline.as_of_cut): left out, and said
    left_out = 0 if timeless.all() else int(timeless.sum())
    if left_out:
        history = history[~timeless.to_numpy()]
    attempt = _task_attempt()
    if attempt == 0 and config.reliability.kill_worker_on_series == name:
        _kill_this_worker(context, keys)
    null_keys = [k for k, v in keys.items() if v is None]
    # validation.series_without_history's row of a series whose rows all come later: its first time
    later = history[TIME].min() >= pd.Timestamp(context.run_date) + pd.Timedelta(days=1)
    config, no_holidays = model.with_series_holidays(config, keys)
    if null_keys:  # its rows up to the run date
        # Spark reads a CSV's empty field as null, quoted or not: the user sees a blank, not a null
        blank = " (a CSV's blank or \"\" value is read as null)" if config.input.format == "csv" else ""
        outcome = SeriesOutcome(SKIPPED, f"null key in {null_keys}: the series has no identity{blank}",
                                0 if later else int(history[TIME].notna().sum()))
    elif history[TIME].isna().all():  # validation.series_without_history's row: its input rows were left out
        outcome = SeriesOutcome(SKIPPED, f"no row has a time in column '{config.input.time_column}'", 0)
    elif later:
        first = history[TIME].min()
        when = (f"its first is at {first.isoformat(sep=' ')}" if first < pd.Timestamp(LATEST_TIME)
                else f"its rows are dated after {LATEST_TIME}, the latest time pandas can hold")
        outcome = SeriesOutcome(SKIPPED, f"no row up to the run date {context.run_date}: {when}", 0)
    elif no_holidays:
        outcome = SeriesOutcome(SKIPPED, no_holidays, int(history[TIME].notna().sum()))
    else:
        # the run date is the as-of cut the job applied: a period still open on it is not a whole one
        outcome = train_series(history, config, seed=model.series_seed(name), holdout=holdout,
                               run_date=context.run_date, input_end=context.input_end, now=context.known_until,
                               inject_failure=config.reliability.fail_series == name, name=f"series {name}")
    if left_out:
        rows = "row" if left_out == 1 else "rows"
        outcome.notes = [f"{left_out} {rows} {TIMELESS_NOTE} '{config.input.time_column}' left out", *outcome.notes]
    if attempt > 0:  # an earlier attempt of its task failed: counted in the summary, for whoever is on call
        outcome.notes = [*outcome.notes, RETRIED_NOTE]
    if config.reliability.fail_series == name:
        outcome.notes = [*outcome.notes, FAIL_SERIES_NOTE]
    run_id, reason = None, outcome.reason
    model_json = (model_store.dump(outcome.model_name, outcome.model, outcome.floor, outcome.closed)
                  if outcome.model is not None else None)
    tracking_started = time.perf_counter()
    paused = child_runs.tracking_paused(context.tracking_uri)
    if paused:  # the server gone: the run is not held up by every series' retries
        reason = "; ".join(filter(None, [reason, f"{TRACKING_FAILED}{paused}"]))
    else:
        try:
            run_id = child_runs.log_series_run(context, keys, outcome, history, retry=attempt > 0,
                                               model_json=model_json)
            child_runs.record_tracking(context.tracking_uri, logged=True)
        except Exception as err:  # the forecast stays valid without its run
            child_runs.record_tracking(context.tracking_uri, logged=False)
            # MLflow's errors quote the URL they called, a password in the tracking URI too, and
            # the reason goes into a table (the worker's log redacts its lines: python_worker)
            message = redaction.redact_url_password(str(err))
            logger.warning("tracking failed for %s: %s", name, message)
            reason = "; ".join(filter(None, [reason, f"{TRACKING_FAILED}{message}"]))
    tracking_seconds = time.perf_counter() - tracking_started
    if series_counters is not None:
        series_counters.add(failed=outcome.status == FAILED, rows=len(history))
    values = {
        "status": outcome.status,
        "reason": reason,
        "history_length": outcome.history_length,
        "data_notes": "; ".join(outcome.notes) or None,
        "model": outcome.model_name,
        **{f"cv_{name}": outcome.cv_metrics.get(name) for name in METRIC_NAMES},
        "candidate_scores": json.dumps(outcome.candidate_scores, sort_keys=True) if outcome.candidate_scores else None,
        "best_params": json.dumps(outcome.best_params, sort_keys=True) if outcome.best_params else None,
        "evaluations": outcome.evaluations,
        "fit_seconds": outcome.fit_seconds,
        "tracking_seconds": tracking_seconds,
        "child_run_id": run_id,
        # none for a series with no row up to the run date
        "history_end": outcome.history_end if outcome.history_end is not None else (
            None if later else history[TIME].max()),
        "forecast": outcome.forecast,
        "model_json": model_json,
        "holdout_scores": json.dumps(outcome.holdout, sort_keys=True) if outcome.holdout else None,
        "recent": _recent(history if outcome.cleaned is None else outcome.cleaned, config) if holdout else None,
        realized.ARRIVED: _arrived(history, outcome, context, config, name) if context.earlier_run_date and not holdout
        else None,
    }
    return RESULT_ROW.to_frame(keys, values)


def _arrived(history: pd.DataFrame, outcome: SeriesOutcome, context: tracking.RunContext, config: JobConfig,
             name: str) -> pd.DataFrame | None:
    """realized.arrived_since of a series cleaning accepted (a series it rejected has no
    forecast, and its rows as given are no periods to score); None where it cannot be
    worked out: a score of the earlier forecast is no reason to lose this one."""
    if outcome.forecast is None or outcome.cleaned is None or not len(outcome.cleaned):
        return None
    try:
        # the periods the earlier forecast covered: its own horizon, where longer than this run's
        horizon = max(config.forecast.horizon, context.earlier_horizon or 0)
        return realized.arrived_since(prepare_history(history), outcome.cleaned, context.earlier_run_date, horizon,
                                      config, known_until(context.run_date, context.known_until))
    except Exception as err:
        logger.warning("could not tell which periods of %s arrived since run date %s: %s", name,
                       context.earlier_run_date, err)
        return None


def _recent(series: pd.DataFrame, config: JobConfig) -> pd.DataFrame | None:
    """The series' last periods, for the evaluation report's plots: as modelled where it
    was cleaned (aggregated to the frequency, merged, filled), else its rows as given."""
    if series[TARGET].isna().all():  # validation.series_without_history's row: nothing to show
        return None
    tail = prepare_history(series).tail((RECENT_HORIZONS + 1) * config.forecast.horizon)
    return tail.rename(columns={TIME: "ds", TARGET: "y"})


def _plain_key(value):
    """pandas turns a null key into None, NaN or NaT depending on the column type."""
    return None if pd.isna(value) else value


def _task_attempt() -> int:
    from pyspark import TaskContext

    context = TaskContext.get()
    return context.attemptNumber() if context is not None else 0


def _kill_this_worker(context: tracking.RunContext, keys: dict) -> None:
    """Fault injection (reliability.kill_worker_on_series): die the way an
    out-of-memory kill does, after the series' child run has been started."""
    tracking.use_context_environment(context)
    # begun as logging begins it: a local store's run is left without its meta.yaml, a server's RUNNING
    child_runs.begin_run(tracking.client(context.tracking_uri), context, series_identity.series_id(keys),
                         {series_identity.SERIES_HASH_TAG: series_identity.series_hash(keys)}, [], [])
    logger.warning("fault injection: killing the Python worker of %s", series_identity.series_id(keys))
    os.kill(os.getpid(), signal.SIGKILL)


def available_cores(spark) -> int:
    """The task slots to plan the training's tasks for: Spark's default parallelism,
    the executors' cores when the job starts; with Spark's dynamic allocation (YARN,
    Kubernetes) the most it may add, since executors come as tasks wait,
    where ``maxExecutors`` and ``spark.executor.cores`` say how many: planned for the
    two cores of a first executor, 200 series went to 10 tasks on a 100-core cluster."""
    context = spark.sparkContext
    cores, conf = context.defaultParallelism, context.getConf()
    if conf.get("spark.dynamicAllocation.enabled", "false").strip().lower() != "true":
        return cores
    most, per_executor = conf.get("spark.dynamicAllocation.maxExecutors", None), conf.get("spark.executor.cores", None)
    if most is None or per_executor is None:
        logger.info("dynamic allocation without spark.dynamicAllocation.maxExecutors and spark.executor.cores: "
                    "tasks planned for the %d cores there are now (spark.shuffle_partitions sets their number)", cores)
        return cores
    return max(cores, int(most) * int(per_executor) // int(conf.get("spark.task.cpus", "1")))


def shuffle_partitions(config: JobConfig, series_count: int, cores: int) -> int:
    if config.spark.shuffle_partitions:
        return config.spark.shuffle_partitions
    wanted = max(TASKS_PER_CORE * cores, math.ceil(series_count / SERIES_PER_TASK))
    wanted = math.ceil(wanted / cores) * cores  # no core idle in the last round
    most = max(cores, MAX_AUTO_PARTITIONS - MAX_AUTO_PARTITIONS % cores)  # whole rounds too
    return max(1, min(series_count, wanted, most))


def train_all(
    series_df: DataFrame, config: JobConfig, context: tracking.RunContext, series_count: int, holdout: int = 0,
    series_counters: SeriesCounters | None = None,
) -> DataFrame:
    """Result rows, one per series. Lazy: the training runs when the result is written.
    ``series_counters`` count the series, and the failed ones, as their tasks end."""
    spark = series_df.sparkSession
    cores = available_cores(spark)
    partitions = shuffle_partitions(config, series_count, cores)
    keys = list(config.input.key_columns)
    work = partial(train_group, config=config, key_columns=keys, context=context, holdout=holdout,
                   series_counters=series_counters)
    schema = RESULT_ROW.wire_schema([series_df.schema[k] for k in keys])
    series_df = training_input(series_df)
    if series_count <= balancing.MAX_BALANCED_SERIES:
        per_task = balancing.slots_per_task(series_count, partitions, cores)
        dealt = (f"{per_task[0]} slot{'s' if per_task[0] > 1 else ''} each" if per_task[0] == per_task[-1] else
                 f"{per_task[0]} slots in the first down to {per_task[-1]} in the last")
        logger.info("training %d series in %d tasks, %s, about %.1f series a slot (the biggest dealt first)",
                    series_count, partitions, dealt, series_count / sum(per_task))
        tasks = balancing.balanced(series_df, keys, per_task)
        wired = tasks.groupBy(balancing.TASK_COLUMN, *keys).applyInPandas(work, schema=schema)
        return RESULT_ROW.expand(wired, keys)
    logger.info("training %d series in %d partitions", series_count, partitions)
    use_partitions(spark, partitions)
    wired = series_df.groupBy(*keys).applyInPandas(work, schema=schema)
    return RESULT_ROW.expand(wired, keys)


def use_partitions(spark: SparkSession, partitions: int) -> None:
    """Shuffle into ``partitions`` tasks: session settings (SHUFFLE_SETTINGS), which the
    caller restores once its results are written. Adaptive execution would merge the
    small shuffle partitions (a few KB of history each) into one task and leave every
    other core idle."""
    spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")


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
        *key_columns, F.explode("forecast").alias("point"), "model", "child_run_id"
    )
    return (
        points.select(*key_columns, "point.*", "model", "child_run_id")
        .transform(lambda df: with_run_columns(df, run_date, job_run_id))
        .withColumn("source", F.lit(source))
        .withColumn("model_run_date", F.lit(model_run_date or run_date).cast(T.DateType()))
        .select(*key_columns, *FORECAST_POINT.names, "model", "run_date", "source", "model_run_date",
                "job_run_id", "child_run_id")
    )


def series_results_table(results: DataFrame, key_columns: list[str], run_date: str, job_run_id: str) -> DataFrame:
    """One row per input series, whatever became of it; ``results`` with the column of
    forecast_change.with_change."""
    columns = [f.name for f in RESULT_FIELDS if f.name not in (*BULKY_COLUMNS, "child_run_id")]
    return (
        results.transform(lambda df: with_run_columns(df, run_date, job_run_id))
        .select(*key_columns, *columns, forecast_change.CHANGE, *realized.COLUMNS, "run_date", "job_run_id",
                "child_run_id")
    )


def models_table(results: DataFrame, config: JobConfig, run_date: str, job_run_id: str) -> DataFrame:
    """One row per series with a model, a skipped or failed series' fallback too: the
    serialized model (Prophet's or a baseline's) and what made it."""
    keys = list(config.input.key_columns)
    return (
        results.where(F.col("model_json").isNotNull())
        .transform(lambda df: with_run_columns(df, run_date, job_run_id))
        .withColumn("frequency", F.lit(config.forecast.frequency))
        .withColumn("interval_width", F.lit(config.forecast.interval_width))
        .select(*keys, "model", "model_json", "best_params", "history_length", "history_end", "frequency",
                "interval_width", "run_date", "job_run_id", "child_run_id")
    )
