"""Batch scoring: fresh forecasts from the stored models of a run, without retraining.

A scored forecast starts after the end of the series' history as training would
clean it on the scoring run date (``cleaning.clean_history`` on its input rows up
to that date: aligned to the model's frequency, a period of finer rows still open
left out, values dropped or filled, zero gaps up to the input's end), so scoring as
of a training run's own date reproduces that run's forecast, and a later date rolls
the forecast forward.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import time
import traceback
from functools import partial
from typing import Iterator

import pandas as pd
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from forecasting import (io, lineage, model, model_store, parent_run, python_worker, scoring_models,
                         series_identity, spark_training, table_checks, tables, tracking, validation)
from forecasting.cleaning import clean_history
from forecasting.closed_times import outside_closed
from forecasting.grid_alignment import PAST_INPUT_NOTE
from forecasting.periods import time_text
from forecasting.config import JobConfig
from forecasting.job_summary import JobSummary, example_ids, finishing, named_examples, series_that
from forecasting.pipeline import read_checked_input, say_input
from forecasting.staging import read_staged, stage
from forecasting.run_date_cut import past_horizon_warning
from forecasting.run_report import future_run_date_warning, say_stale, say_unfinished
from forecasting.run_date_cut import STALE_NOTE
from forecasting.series import FAILED, prepare_history
from forecasting.spark_session import job_description, settings_restored

logger = logging.getLogger(__name__)

# "scored_no_input": the series has no input rows up to the run date that cleaning
# keeps, so its forecast starts after the end of the model's own history.
# "rejected": a cleaning reject policy refuses its input, as training would: not scored.
# FAILED (training's own status, which reliability.max_failed_share counts): cleaning its
# input raised, as it fails a series in training, or its input ends more than
# model.MAX_LEAD_PERIODS after its model's history: not scored.
SCORED_OK, NO_INPUT, REJECTED = "scored", "scored_no_input", "rejected"


def _int_or_zero(text: str | None) -> int:
    return int(text) if text and text.isdigit() else 0


def _score_batches(batches: Iterator[pd.DataFrame], key_columns: list[str], horizon: int,
                   sampled: int = 0) -> Iterator[pd.DataFrame]:
    """Each stored model's forecast after its series' history as cleaned on the
    scoring run date (``last_ds``), unless cleaning refused or failed it (``status``
    and ``reason``, see ``history_ends``). Its interval is sampled over ``sampled``
    steps where that is longer, the training's horizon, as serving does: Prophet draws
    its samples for every step at once, so a shorter horizon would draw other bounds
    than the training's forecast for the same steps."""
    python_worker.prepare()
    for batch in batches:
        rows = []
        for record in batch.to_dict("records"):
            keys = {k: record[k] for k in key_columns}
            row = {**keys, "forecast": None, "model": record["model"], "child_run_id": record["child_run_id"],
                   "status": record.get("status"), "reason": record.get("reason")}
            if pd.isna(row["status"]):
                last = None if pd.isna(record["last_ds"]) else pd.Timestamp(record["last_ds"])
                try:
                    forecast = model_store.forecast_stored(record, series_identity.series_id(keys), last, horizon,
                                                           sampled)
                except model.TooFarAhead as err:  # a model too old for its input: this series fails, not the job
                    row.update(status=FAILED, reason=f"the input's history end is {err}: train the series again")
                except Exception as err:  # a stored model that cannot forecast (its JSON damaged): this one alone
                    row.update(status=FAILED, reason=f"forecasting from its stored model failed: "
                                                     f"{type(err).__name__}: {err}")
                else:
                    row.update(forecast=forecast.to_dict("records"),
                               status=SCORED_OK if last is not None else NO_INPUT,
                               reason=_with_model_ahead(row["reason"], last, record.get("history_end")))
            rows.append(row)
        yield pd.DataFrame(rows, columns=[*key_columns, "forecast", "model", "child_run_id", "status", "reason"])


def history_end(group: pd.DataFrame, config: JobConfig, run_date: str, input_end: str | None,
                now: str | None) -> tuple[pd.Timestamp | None, str | None, str | None]:
    """The end of one series' history (``ds``, ``y`` and its model's ``frequency``) as
    training's cleaning leaves it on ``run_date`` (None where nothing is left); and,
    where the series is not to be scored, its status and why: ``rejected`` by a
    cleaning reject policy, or ``failed`` where cleaning raised (as in training). A
    series scored from data that stop well before the run date has no status but
    cleaning's note as its reason: its forecast starts in the past; so has one whose last
    period the input stopped inside (left out: its forecast starts there)."""
    frequency = group["frequency"].iloc[0]
    # on the model's grid: steps of several days (7D) counted from an input's first day would move with it
    origin = group["history_end"].iloc[0] if "history_end" in group and pd.notna(group["history_end"].iloc[0]) else None
    try:
        cleaned = clean_history(prepare_history(group), frequency, config.cleaning, run_date, input_end, now,
                                origin=origin)
    except Exception as err:  # this series is not scored, the others go on
        logger.warning("cleaning failed for scoring: %s\n%s", err, traceback.format_exc())
        return None, FAILED, f"cleaning failed: {type(err).__name__}: {err}"
    if cleaned.refused_by:  # a policy's refusal, not a want of values
        return None, REJECTED, cleaned.rejection
    if cleaned.rejection or cleaned.history.empty:
        return None, None, None
    # stale first: its summary line finds it at the start; then a last period the input stopped inside
    said = sorted((note for note in cleaned.notes if note.startswith(STALE_NOTE) or PAST_INPUT_NOTE in note),
                  key=lambda note: not note.startswith(STALE_NOTE))
    stored = group["closed"].iloc[0] if "closed" in group else None
    closed = json.loads(stored) if isinstance(stored, str) else []
    said += _rows_in_closed_times(cleaned.history["ds"], origin, frequency, closed)
    return cleaned.history["ds"].max(), None, "; ".join(said) or None


def _rows_in_closed_times(times: pd.Series, since: pd.Timestamp | None, frequency: str, closed: list[int]) -> list[str]:
    """A note where rows after the model's history (``since``) fall in times of the week it has as
    closed (``closed``, training's cleaning.closed_times): opening hours moved, by a clock change
    in UTC or a new timetable, and the model forecasts none of those times."""
    new = times[times > since] if since is not None else times.iloc[:0]
    inside = int((~outside_closed(new, frequency, closed)).sum()) if closed and len(new) else 0
    if not inside:
        return []
    return [f"{inside} rows since its model's history at {CLOSED_ROWS_NOTE}: opening hours moved (a clock change "
            "read in UTC, a new timetable)? Those times get no forecast until the series is trained again"]


def history_ends(series_df: DataFrame, models: DataFrame, config: JobConfig, run_date: str,
                 input_end: str | None, now: str | None, partitions: int = 1) -> DataFrame:
    """``last_ds``, ``status`` and ``reason`` of each input series that has a model:
    ``history_end`` at the model's frequency and on its grid, on the executors (every row
    of the input, as training), in ``partitions`` tasks."""
    keys = list(config.input.key_columns)
    grid = [F.col("history_end").cast("timestamp_ntz").alias("history_end")] if "history_end" in models.columns else []
    # the periods of the week the model does not forecast (model_store.CLOSED_KEY), as JSON text
    grid += ([F.get_json_object("model_json", f"$.{model_store.CLOSED_KEY}").alias("closed")]
             if "model_json" in models.columns else [])
    rows = spark_training.training_input(series_df).join(models.select(*keys, "frequency", *grid), keys)
    schema = T.StructType([series_df.schema[k] for k in keys] + [T.StructField("last_ds", T.TimestampNTZType()),
                                                                 T.StructField("status", T.StringType()),
                                                                 T.StructField("reason", T.StringType())])

    def end(group: pd.DataFrame) -> pd.DataFrame:
        python_worker.prepare()
        last, status, reason = history_end(group, config, run_date, input_end, now)
        return pd.DataFrame([{**{k: group[k].iloc[0] for k in keys}, "last_ds": last, "status": status,
                              "reason": reason}], columns=schema.names)

    # grouped within the partitions by key: no second shuffle, and not spark.sql.shuffle.partitions' 200 tasks
    return rows.repartition(partitions, *keys).groupBy(*keys).applyInPandas(end, schema)


# In a scored series' reason: its input ends before the history its model was trained on (a rerun of
# the models' date on a later version of the input, rows removed since): forecast after the model's
MODEL_AHEAD_NOTE = "the input ends before its model's own history"


def _with_model_ahead(reason: str | None, last: pd.Timestamp | None, model_end) -> str | None:
    """``reason`` with MODEL_AHEAD_NOTE where the input's last period ``last`` is before the
    model's (``model_end``, the models table's history_end): the forecast starts after the model's."""
    if last is None or model_end is None or pd.isna(model_end) or pd.Timestamp(model_end) <= last:
        return reason
    note = (f"{MODEL_AHEAD_NOTE}: its last period {time_text(last)}, the model's "
            f"{time_text(pd.Timestamp(model_end))}, which the forecast follows")
    return note if not reason else f"{reason}; {note}"


# In a scored series' reason: new rows at times its model does not forecast
CLOSED_ROWS_NOTE = "times of the week the model has as closed"


# why a series of each status was not scored, in the log and the summary
NOT_SCORED = {
    REJECTED: "their input is refused by a cleaning reject policy, as training would refuse it",
    FAILED: "cleaning their input failed, as it would fail them in training, their model is too old to "
            "forecast from their input's end, or forecasting from it failed (their reason says which)",
}


def _say_scored_stale(staged: DataFrame, keys: list[str], summary: JobSummary, frequency: str) -> None:
    """Which scored series' data stop more than a period before the run date (as
    training names them), with a few examples."""
    stale = staged.where((F.col("status") == SCORED_OK) & F.col("reason").startswith(STALE_NOTE)).withColumn(
        "reason", F.split("reason", "; ").getItem(0))  # its own note, not the last period's after it
    count = stale.count()
    if count:
        say_stale(stale, keys, summary, count, "scored", frequency)


def _scored_noting(staged: DataFrame, note: str) -> tuple[DataFrame, int]:
    """The scored series whose reason holds ``note``, and how many."""
    rows = staged.where((F.col("status") == SCORED_OK) & F.col("reason").contains(note))
    return rows, rows.count()


def _say_rows_in_closed_times(staged: DataFrame, keys: list[str], summary: JobSummary) -> None:
    """Which scored series have new rows at times their models have as closed, not forecast."""
    moved, count = _scored_noting(staged, CLOSED_ROWS_NOTE)
    if count:
        summary.warn(f"{series_that(count, 'have')} rows since their models' history at {CLOSED_ROWS_NOTE} "
                     "(their reason says how many): opening hours moved, by a clock change read in UTC or a new "
                     f"timetable? Those times get no forecast until they are trained again, e.g. "
                     f"{example_ids(moved, keys)}")


def _say_model_ahead(staged: DataFrame, keys: list[str], summary: JobSummary) -> None:
    """Which scored series' input ends before their model's history: forecast after the model's."""
    ahead, count = _scored_noting(staged, MODEL_AHEAD_NOTE)
    if count:
        summary.warn(f"{count} scored series' input ends before the history their model was trained on (their "
                     "reason names both ends): trained on a later version of the input, or rows removed since? "
                     f"Their forecasts start after the model's history, not the input's, e.g. "
                     f"{example_ids(ahead, keys)}")


def _say_scored_past_input(staged: DataFrame, keys: list[str], summary: JobSummary) -> None:
    """Which scored series end in a period their input stopped inside, forecast from its start
    (as training says it)."""
    cut_short, count = _scored_noting(staged, PAST_INPUT_NOTE)
    if count:
        first = next(part for part in cut_short.first()["reason"].split("; ") if PAST_INPUT_NOTE in part)
        summary.warn(f"{series_that(count, 'end')} in a period that {PAST_INPUT_NOTE}, a part of it: left out and "
                     f"forecast, so their forecasts start there, before the run date {summary.run_date} (an export "
                     f"cut short?), e.g. {example_ids(cut_short, keys)}; the first: {first}")


def _say_not_scored(staged: DataFrame, keys: list[str], summary: JobSummary, status: str) -> None:
    """Which series were not scored with ``status`` (their new input breaks a reject
    policy, or cleaning it raised), with a few examples."""
    named = named_examples(staged.where(F.col("status") == status), keys)
    count = summary.counts[status]
    summary.warn(f"{count} series not scored: {NOT_SCORED[status]}, e.g. {named}")


def _say_no_input(staged: DataFrame, keys: list[str], summary: JobSummary) -> None:
    """Which series were scored without input rows up to the run date, from their model's
    own history: forecasts that start where that history ended, perhaps long before."""
    named = example_ids(staged.where(F.col("status") == NO_INPUT), keys, more=True)
    count = summary.counts[NO_INPUT]
    summary.warn(f"{count} series {'has' if count == 1 else 'have'} a model but no input rows up to the run date that "
                 "cleaning keeps (renamed, discontinued, or left out of this input?), forecast after the end of their "
                 f"model's own history, which may lie before the run date, e.g. {named}")


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def run_scoring(spark: SparkSession, config: JobConfig, run_date: str, model_run_date: str | None = None) -> JobSummary:
    """Score every stored model of ``model_run_date`` as of ``run_date``."""
    started = time.monotonic()
    keys = list(config.input.key_columns)
    with job_description(spark, "read the stored models"):
        try:
            # one version for the choice, the counts and the forecasts: a training rerun of the
            # models' date may commit meanwhile (training and scoring take different locks)
            models_path = tables.table_paths(config)[tables.MODELS]
            if not tables.path_exists(spark, models_path):  # Spark's words ("is not a Delta table") say less
                raise io.InputError(f"no models table at {models_path}: no training run has written to this "
                                    "output.path yet. Train first, or give the training's --config (its output.path "
                                    "and output.format)")
            version = lineage.latest_version(spark, models_path, config.output.format)
            stored = tables.read_table(spark, config, tables.MODELS, version)
        except AnalysisException as err:  # no table there; other errors (storage down) stay errors: exit 1, retry
            raise io.InputError(
                f"cannot read the models table at {tables.table_paths(config)[tables.MODELS]}: {io.spark_message(err)}"
            ) from err
        chosen = scoring_models.choose_model_run_date(stored, run_date, model_run_date)
    models = stored.where(F.col("run_date") == F.lit(chosen).cast("date"))

    checked = read_checked_input(spark, config, run_date)
    data_version, counts, frame, series_df = checked.data_version, checked.counts, checked.frame, checked.series_df
    with job_description(spark, "check the tables already written"):
        # another data set's models, or forecasts keyed otherwise: refused, not mixed
        short_history = table_checks.check_existing(spark, config, (tables.MODELS, tables.FORECASTS), series_df)
    input_series = series_df.select(*keys)
    if counts.rows_without_time:  # a series none of whose rows has a time is an input series too, as in training
        input_series = input_series.unionByName(validation.series_without_history(frame, keys).select(*keys))
    with job_description(spark, "match the models to the input"):
        count, unmodelled, null_key, trained_by, new = scoring_models.match_counts(models, input_series.distinct(),
                                                                                   keys)
    logger.info("scoring %d models of run date %s as of %s%s", count, chosen, run_date,
                "" if version is None else f" (models table version {version})")

    context = parent_run.start_parent_run(
        config, run_date, data_version, job=tracking.SCORE_JOB, input_end=checked.input_end,
        extra_tags={tracking.MODEL_RUN_DATE_TAG: chosen,
                    **({tracking.MODELS_JOB_RUN_TAG: trained_by} if trained_by else {})},
    )
    summary = JobSummary(
        run_date=run_date, job_run_id=context.parent_run_id, experiment_id=context.experiment_id,
        tracking_uri=context.tracking_uri, tables={tables.FORECASTS: tables.table_paths(config)[tables.FORECASTS]},
        title="Scoring run",
        note=f"  from the models of run date {chosen}\n" + "".join(f"  {said}\n" for said in short_history),
        statuses=(SCORED_OK, NO_INPUT, REJECTED, FAILED), max_failed_share=config.reliability.max_failed_share,
        output_format=config.output.format,
        reasons_in="the examples above, and the executors' log for the failures' tracebacks",
    )
    # from here on, a failure ends the run FAILED (and its heartbeat)
    with finishing(context, summary, started), settings_restored(spark, spark_training.SHUFFLE_SETTINGS):
        say_input(summary, checked, config)
        say_unfinished(context, summary)
        ahead = future_run_date_warning(run_date, _today())  # scored rows are read as the latest too
        if ahead:
            summary.warn(ahead)
        in_the_past = past_horizon_warning(counts.latest, config.forecast, run_date, context.known_until)
        if in_the_past:
            summary.warn(in_the_past)
        trained_with = scoring_models.say_what_differs(config, context, summary, chosen, unmodelled, null_key,
                                                       trained_by, new)
        # the input's latest time bounds zero gaps, as in training; known_until cuts a run on its own date
        input_end = checked.input_end
        partitions = spark_training.shuffle_partitions(config, max(count, 1), spark_training.available_cores(spark))
        spark_training.use_partitions(spark, partitions)  # the join and counts too, not 200 tasks
        ends = history_ends(series_df, models, config, run_date, input_end, context.known_until, partitions)
        model_end = (F.col("history_end") if "history_end" in models.columns else F.lit(None)).cast("timestamp_ntz")
        work = models.select(*keys, "model", "model_json", "frequency", "interval_width", "child_run_id",
                             model_end.alias("history_end")).join(
            ends, keys, how="left"
        )
        schema = T.StructType(
            [work.schema[k] for k in keys]
            + [
                T.StructField("forecast", T.ArrayType(spark_training.FORECAST_POINT)),
                T.StructField("model", T.StringType()),
                T.StructField("child_run_id", T.StringType()),
                T.StructField("status", T.StringType()),
                T.StructField("reason", T.StringType()),
            ]
        )
        # a task costs 40-60 ms of a core: in as many tasks as training's, not one a series
        scored = work.repartition(partitions).mapInPandas(
            partial(_score_batches, key_columns=keys, horizon=config.forecast.horizon,
                    sampled=max(config.forecast.horizon, _int_or_zero(trained_with.get("forecast.horizon")))), schema
        )
        tables.delete_staging(spark, config, f"score-{run_date}")  # left by a killed run of this date
        with tables.staging_removed_on_failure(spark, config, f"score-{run_date}"):  # a failed run's: of no use
            stage_path = stage(scored, config, f"score-{run_date}", "score every stored model")
            staged = read_staged(spark, stage_path, count, "models to score", exact=False)
            forecasts = spark_training.forecasts_table(
                staged, keys, run_date, context.parent_run_id, source=tables.SCORED, model_run_date=chosen
            )
            with job_description(spark, f"write {tables.FORECASTS}"):
                tables.write_slice(
                    forecasts, tables.FORECASTS, summary.tables[tables.FORECASTS], config.output.format,
                    {"run_date": run_date, "source": tables.SCORED}, keys, context.parent_run_id,
                    staging_label=f"score-{run_date}",
                )
            summary.wrote = True
            with job_description(spark, "check the models read are still the date's"):
                scoring_models.say_if_models_replaced(spark, config, context, summary, version, chosen, trained_by)
            with job_description(spark, "count the series by status"):
                summary.counts = {r["status"]: r["count"] for r in staged.groupBy("status").count().collect()}
            with job_description(spark, "name the series not scored, or scored from old data"):
                for status in NOT_SCORED:
                    if summary.counts.get(status):
                        _say_not_scored(staged, keys, summary, status)
                if summary.counts.get(NO_INPUT):
                    _say_no_input(staged, keys, summary)
                if summary.counts.get(SCORED_OK):
                    _say_scored_stale(staged, keys, summary, config.forecast.frequency)
                    _say_scored_past_input(staged, keys, summary)
                    _say_model_ahead(staged, keys, summary)
                    _say_rows_in_closed_times(staged, keys, summary)
            tables.delete_path(spark, stage_path)
        with job_description(spark, "register the tables in the catalog"):  # all three: a table_prefix
            # set after the training ran is met here first, and the models and results are read by name too
            summary.catalog = tables.register(spark, config, tables.TRAINING_TABLES)
    return summary
