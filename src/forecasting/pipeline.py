"""The training and evaluation jobs, wired: read → check → track → train → write →
summarise (run_report); and the pieces the scoring job reuses (read_checked_input, stage)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from forecasting import (
    evaluation, forecast_change, holiday_periods, input_hints, io, parent_run, python_worker, run_report, signals,
    spark_training, table_checks, tables, tracking, validation,
)
from forecasting.config import JobConfig
from forecasting.job_summary import JobSummary, example_ids, finishing, named_examples, series_that
from forecasting.progress import SeriesCounters
from forecasting.redaction import first_line
from forecasting.config_frequency import calendar_step_warning
from forecasting.run_date_cut import past_horizon_warning
from forecasting.series import OK
from forecasting.spark_session import job_description, settings_restored
from forecasting.staging import read_staged, stage

logger = logging.getLogger(__name__)

REGISTRATION_ERROR_TAG = "registration_error"  # on the parent run whose model could not be registered


def as_of_cut(series_df: DataFrame, run_date: str, timeless: bool = False) -> DataFrame:
    """Only what was known on ``run_date``: rows up to the end of that day. A past
    run date (a backfill) thereby reproduces what the job would have made then. With
    ``timeless``, rows without a time too: training leaves them out, noting each series'."""
    time = F.col(validation.TIME)
    return series_df.where(validation.known_on(time, run_date) | (time.isNull() if timeless else F.lit(False)))


@dataclass
class CheckedInput:
    """The input as training and scoring read it for one run date."""

    data_version: dict  # for lineage: the files' hash or the Delta version
    counts: validation.InputCounts
    frame: DataFrame  # every row as the series frame (ds, y and the keys)
    series_df: DataFrame  # the rows known on the run date (as_of_cut)

    @property
    def input_end(self) -> str | None:
        """The input's latest time on or before the run date (ISO): cleaning's zero
        gaps reach no further than the data do."""
        return self.counts.latest.isoformat() if self.counts.latest is not None else None


def read_checked_input(spark: SparkSession, config: JobConfig, run_date: str) -> CheckedInput:
    """Read the input, check it as a whole (InputError) and cut it at the run date."""
    with job_description(spark, "read and check the input"):
        raw, data_version = io.read_input(spark, config, run_date)
        raw = validation.with_blank_countries(raw, config)
        counts = validation.check_input(raw, config, run_date)
    used = {*config.input.key_columns, config.input.time_column, config.input.target_column, io.MALFORMED_ROW}
    unused = [name for name in raw.columns if name not in used]
    if unused:  # a promotion flag or a price beside the target: not modelled, said so
        logger.info("input columns not used (only input.key_columns, time_column and target_column are): %s",
                    ", ".join(unused))
    frame = validation.to_series_frame(raw, config)
    return CheckedInput(data_version, counts, frame, as_of_cut(frame, run_date))


def say_input(summary: JobSummary, checked: CheckedInput, config: JobConfig) -> None:
    """The summary's lines on what of the input a run used: malformed rows left out and
    keys that look like others' (logged as the input was checked), rows after the run
    date, a Delta input read as it stood at a past run date's end, and the periods left
    out as unsettled."""
    counts = checked.counts
    summary.zoned_times = counts.zoned_times
    for line in (*counts.row_warnings, *counts.key_warnings):
        summary.note += f"  {line}\n"
    if counts.after_run_date:  # a backfill's later rows, as meant, or times mistyped into the future
        summary.inform(f"{counts.after_run_date} of {counts.rows} input rows are after the run date "
                       f"{summary.run_date}, up to {counts.after_run_date_last}: left out, not known on that date")
    said = io.version_note(checked.data_version)
    if said is not None:
        text, is_warning = said
        (summary.warn if is_warning else summary.inform)(text)
    unsettled = config.cleaning.unsettled_periods
    if unsettled:
        summary.inform(f"the run date's period and the {unsettled} before it were left out of every series' fit and "
                       "scores as still growing (cleaning.unsettled_periods), and forecast")


def run_job(spark: SparkSession, config: JobConfig, run_date: str, evaluate: bool = False) -> JobSummary:
    """Train, forecast and track every series of the configured input for ``run_date``.

    With ``evaluate``, the last ``forecast.horizon`` periods of each series are held
    out, every candidate's forecast of them is scored, and only the evaluation
    table and report are written: the production tables stay untouched.
    """
    started = time.monotonic()
    python_worker.start_workers_early(spark)
    checked = read_checked_input(spark, config, run_date)
    data_version, counts, frame, series_df = checked.data_version, checked.counts, checked.frame, checked.series_df
    if counts.rows_without_time:  # each series' data_notes say how many it had, not the run's summary alone
        series_df = as_of_cut(frame, run_date, timeless=True)
    series_count = counts.series
    # what training gets: the rows up to the run date (and one a series that has none, added below)
    training_rows = counts.rows - counts.rows_without_time - counts.after_run_date
    if series_count == 0:
        raise io.InputError(input_hints.no_rows_known(counts, run_date, validation.LATEST_TIME))
    # the whole input's rows: those without a time (warned about apart) and after the run date included
    logger.info("input: %d rows; %d series with rows up to the run date %s, the latest at %s", counts.rows,
                series_count, run_date, counts.latest)
    timeless_note = ""
    if counts.rows_without_time or counts.after_run_date:
        # a series of such rows alone gets its skipped row in series_results
        series_df, added, timeless_note = _add_series_without_history(series_df, frame, config, run_date)
        series_count += added
        training_rows += added
    if counts.rows_without_time:  # the count goes in the run's lineage, beside the data version
        data_version = {**data_version, "rows_without_time": counts.rows_without_time}
    written = (tables.EVALUATION,) if evaluate else tables.TRAINING_TABLES
    with job_description(spark, "check the tables already written"):
        short_history = table_checks.check_existing(spark, config, written, series_df)
        if not evaluate:
            table_checks.check_frequency(spark, config)

    job = tracking.EVALUATE_JOB if evaluate else tracking.TRAIN_JOB
    # the run date whose forecasts this run's are compared with, and scored on what arrived since; and the
    # one after, which compared its own with the forecasts this run replaces
    earlier, later = (None, None) if evaluate else forecast_change.find_neighbour_run_dates(spark, config, run_date)
    context = parent_run.start_parent_run(config, run_date, data_version, job=job, input_end=checked.input_end)
    context = dataclasses.replace(context, earlier_run_date=earlier,
                                  earlier_horizon=forecast_change.find_earlier_horizon(context, earlier))
    summary = JobSummary(
        run_date=run_date,
        job_run_id=context.parent_run_id,
        experiment_id=context.experiment_id,
        tracking_uri=context.tracking_uri,
        tables={name: tables.table_paths(config)[name] for name in written},
        max_failed_share=config.reliability.max_failed_share, output_format=config.output.format,
        title="Evaluation run" if evaluate else "Forecast run",
        note=timeless_note + "".join(f"  {said}\n" for said in short_history), later_run_date=later,
    )
    with finishing(context, summary, started):  # from here on, a failure ends the run FAILED (and its heartbeat)
        _say_before_training(spark, config, context, summary, checked, series_df, evaluate)
        if not evaluate and earlier is None and later is None:  # no other run date at this output: a new one?
            run_report.say_first_output(spark, config, context, summary)
        label = f"{'evaluate' if evaluate else 'train'}-{run_date}"
        tables.delete_staging(spark, config, label)  # left by a killed run of this date
        with tables.staging_removed_on_failure(spark, config, label):  # a failed run's: of no use
            holdout = config.forecast.horizon if evaluate else 0
            counters = SeriesCounters.create(spark)
            with settings_restored(spark, spark_training.SHUFFLE_SETTINGS):
                results = spark_training.train_all(series_df, config, context, series_count, holdout, counters)
                stage_path = stage(results, config, label, "train and forecast every series", counters, series_count,
                                   training_rows, partial(_end_duplicate_children, spark, context, summary))
            staged = read_staged(spark, stage_path, series_count, "series in the input", exact=True)
            compared = None  # the changes from the earlier forecasts, and how those did (staged)
            if evaluate:
                _write_evaluation(staged, config, summary, run_date, context)
            else:
                compared = forecast_change.stage_changes(staged, config, label, earlier) if earlier else None
                if earlier and compared is None:  # logged with why: in the summary too, not a quiet null column
                    summary.warn(f"the forecasts were not compared with those of run date {earlier} (the log says "
                                 f"why): series_results.{forecast_change.CHANGE} and the realized_ columns stay null")
                _write_tables(staged, config, summary, run_date, context.parent_run_id,
                              spark.read.parquet(compared) if compared else None)
            # not after a failure among the writes, which leaves some tables as the earlier run
            # wrote them: its retry (exit 1) tags the runs it replaces
            summary.wrote = True
            counted = run_report.say_results(spark, staged, config, context, summary, earlier, compared)
            tables.delete_path(spark, stage_path)
            if compared is not None:
                tables.delete_path(spark, compared)
        if summary.total != series_count:
            raise RuntimeError(f"{series_count} series in the input but {summary.total} results")
        with job_description(spark, "register the tables in the catalog"):
            summary.catalog = tables.register(spark, config, written)
        if config.tracking.registered_model and not evaluate:
            if counted.models:
                held = None if not summary.exits_5 else (
                    "no series was modelled" if summary.nothing_modelled else
                    "more series failed than reliability.max_failed_share")
                summary.note += register_model(spark, config, context, summary.tables[tables.MODELS], run_date, held)
            else:  # a version that could answer no request
                summary.note += (f"  model {config.tracking.registered_model} not registered: the run wrote no "
                                 "models (no series was modelled, and no fallback forecast any)\n")
    return summary


def register_model(spark: SparkSession, config: JobConfig, context: tracking.RunContext, models_path: str,
                   run_date: str, held: str | None = None) -> str:
    """Register the run's models for serving; the summary's line saying how it went.
    ``held``, why the run exits 5: its version is registered, and the served alias
    stays where it was (serving would otherwise answer with its fallbacks).

    Everything is written by now, so a failure is not the job's: it is logged,
    tagged on the parent run and shown in the summary, and the exit status stays
    the job's own (a retry would retrain every series to fail the same way).
    """
    name = config.tracking.registered_model
    try:
        from forecasting import registration  # MLflow's pyfunc module, imported only when it is used

        with job_description(spark, "read the models table's version for serving"):
            table = registration.models_table(spark, models_path, config.output.format,
                                              list(config.input.key_columns), context.parent_run_id)
        version = registration.register(context, name, table, run_date, config.forecast.horizon)
        try:  # a note for auditors: a failure is no reason to leave the alias, or to register again
            replaced, untagged = registration.mark_replaced(context, name, version, run_date, table.path), ""
        except Exception as err:
            logger.warning("could not tag the earlier versions of %s of run date %s %s: %s", name, run_date,
                           registration.REPLACED_BY_TAG, err)
            replaced, untagged = [], (f"  could not tag the earlier versions of this date "
                                      f"{registration.REPLACED_BY_TAG}: {str(err).splitlines()[0]}\n")
        aliased = (registration.point_alias(context, name, version, run_date, table.path) if held is None else
                   f"  alias @{registration.SERVED_ALIAS} not moved: {held} (exit 5); serve version {version} by "
                   "its number if meant\n")
    except Exception as err:
        if signals.stopped_by(err):  # the JVM's error of a job being stopped: no registration that failed
            raise
        if tracking.is_tracking_failure(err):  # a server gone: a line, not MLflow's chained tracebacks
            logger.error("registering model %s failed; the run's tables are written all the same: %s", name,
                         first_line(err))
            logger.debug("registration's error", exc_info=True)
        else:
            logger.exception("registering model %s failed; the run's tables are written all the same", name)
        reason = f"{type(err).__name__}: {err}"
        why = f"the parent run's tag {REGISTRATION_ERROR_TAG} and the log say why"
        try:
            tracking.client(context.tracking_uri).set_tag(
                context.parent_run_id, REGISTRATION_ERROR_TAG, reason[: tracking.MAX_TAG_VALUE]
            )
        except Exception as tag_err:  # the tracking store itself is what failed
            logger.error("could not tag the parent run %s with the registration error: %s", context.parent_run_id,
                         first_line(tag_err))
            why = "the log says why (the parent run could not be tagged)"
        return (f"  registering model {name} FAILED (the tables are written): {reason.splitlines()[0]}\n"
                f"  {why}; a rerun of this date registers again\n")
    again = (f" (replacing version{'s' if len(replaced) > 1 else ''} {', '.join(map(str, replaced))} of this date, "
             f"now tagged {registration.REPLACED_BY_TAG})" if replaced else "")
    return f"  registered model {name} version {version}{again}\n{untagged}{aliased}"


def _write_evaluation(staged: DataFrame, config: JobConfig, summary: JobSummary, run_date: str, context) -> None:
    keys = list(config.input.key_columns)
    table = evaluation.evaluation_table(staged, keys, run_date, context.parent_run_id)
    path = summary.tables[tables.EVALUATION]
    spark = staged.sparkSession
    with job_description(spark, f"write {tables.EVALUATION}"):
        tables.write_slice(table, tables.EVALUATION, path, config.output.format, {"run_date": run_date}, keys,
                           context.parent_run_id, staging_label=f"evaluate-{run_date}")
    summary.wrote = True  # a failure in the report below leaves the rows written
    with job_description(spark, "the evaluation's report"):
        written = tables.read_table(spark, config, tables.EVALUATION).where(
            F.col("run_date") == F.lit(run_date).cast("date")
        )
        by_candidate = evaluation.summary_by_candidate(written, config.selection.candidates)
        counts = evaluation.log_report(context, staged, written, by_candidate, keys, config.forecast.interval_width)
    shown = by_candidate.assign(wins=by_candidate["wins"].astype("string").fillna(""))  # none for the aggregates
    summary.note += "\n" + shown.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-") + "\n"
    summary.inform(f"{evaluation.WINS_NOTE}; {evaluation.POOLED_UNITS_NOTE}")
    verdict = evaluation.selection_verdict(by_candidate, config.selection.candidates,
                                           config.selection.metric or config.tuning.metric)
    if verdict:
        (summary.inform if verdict[0] else summary.warn)(verdict[1])
    undercovered = evaluation.coverage_warning(by_candidate, config.forecast.interval_width,
                                               config.selection.candidates)
    if undercovered:
        summary.warn(undercovered)
    missing = sum(n for (_, scored), n in counts.items() if not scored)
    if missing:  # none of their rows is in the table: said, not left for a reader to count
        with job_description(spark, "name the series without held-out scores"):
            named = named_examples(staged.where(F.col("holdout_scores").isNull()).orderBy(*keys), keys)
        summary.warn(f"{missing} series had no forecast to score, so no {tables.EVALUATION} row, e.g. {named}")



def _say_before_training(spark: SparkSession, config: JobConfig, context: tracking.RunContext, summary: JobSummary,
                         checked: CheckedInput, series_df: DataFrame, evaluate: bool) -> None:
    """The summary's lines known before training: a run date ahead, dates a kill left
    unfinished, the country column's codes, a drifting step, a horizon in the past, the input."""
    run_date, counts = summary.run_date, checked.counts
    ahead = run_report.future_run_date_warning(run_date, dt.datetime.now(dt.timezone.utc).date())
    if ahead and not evaluate:
        summary.warn(ahead)
    run_report.say_unfinished(context, summary)
    column = config.model.country_holidays_column
    if column:  # a few distinct codes, the series of each counted on the executors
        with job_description(spark, "check the country column's codes"):
            series_keys = series_df.select(*config.input.key_columns).distinct()
            counted = {row[0]: row[1] for row in series_keys.groupBy(column).count().collect()}
        for line in holiday_periods.country_column_lines(counted, column, config.model.country_holidays,
                                                         config.model.holiday_windows):
            # no holidays for a blank country where model.country_holidays: null asks for none: a fact, said
            (summary.inform if line.endswith(holiday_periods.BLANK_WITHOUT_HOLIDAYS) else summary.warn)(line)
    drifting = calendar_step_warning(config.forecast.frequency)  # 91D for quarters
    if drifting:
        summary.warn(drifting)
    in_the_past = None if evaluate else past_horizon_warning(counts.latest, config.forecast, run_date,
                                                              context.known_until)
    if in_the_past:
        summary.warn(in_the_past)
    say_input(summary, checked, config)
    if evaluate:  # it writes no series_results
        summary.notes_in = "the child runs' data_notes tags"
        summary.reasons_in = ("the status and reason tags of the child runs (filter: "
                              f"tags.{tracking.PARENT_TAG} = '{context.parent_run_id}' and tags.{tracking.STATUS_TAG} "
                              f"!= '{OK}')")


def _end_duplicate_children(spark: SparkSession, context: tracking.RunContext, summary: JobSummary,
                            stage_path: str) -> None:
    """Where a Spark stage or task of the training ran again: the series' second child runs ended, and said."""
    try:
        ended = parent_run.end_duplicate_children(context, spark.read.parquet(stage_path))
    except Exception as err:  # the forecasts stand; only their runs in MLflow are left as they are
        if signals.stopped_by(err):
            raise
        summary.warn(f"a Spark stage or task of the training ran again, and its series' child runs could not be "
                     f"checked for duplicates: {first_line(err)}")
        return
    logger.info("a Spark stage or task of the training ran again: %d second child runs of a series ended", ended)
    if ended:
        summary.warn(f"{ended} child runs of series trained again as a Spark stage or task ran again (an executor "
                     f"lost?) were ended FAILED, tagged {parent_run.DUPLICATE_OF_TAG} the series' run the tables name")


def _write_tables(staged: DataFrame, config: JobConfig, summary: JobSummary, run_date: str, job_run_id: str,
                  changes: DataFrame | None = None) -> None:
    """The three tables' slices of ``run_date``, each named in ``summary.written`` once
    committed; series_results with each forecast's change (``changes``, see forecast_change.stage_changes)."""
    keys = list(config.input.key_columns)
    paths = summary.tables
    changed = forecast_change.with_change(staged, changes, keys)
    outputs = {
        tables.FORECASTS: (
            spark_training.forecasts_table(staged, keys, run_date, job_run_id),
            {"run_date": run_date, "source": tables.TRAINED},
        ),
        tables.SERIES_RESULTS: (
            spark_training.series_results_table(changed, keys, run_date, job_run_id),
            {"run_date": run_date},
        ),
        tables.MODELS: (spark_training.models_table(staged, config, run_date, job_run_id), {"run_date": run_date}),
    }

    def write(name: str) -> None:
        df, slice_values = outputs[name]
        with job_description(staged.sparkSession, f"write {name}"):  # each thread's own
            tables.write_slice(df, name, paths[name], config.output.format, slice_values, keys, job_run_id,
                               staging_label=f"train-{run_date}")
        summary.written.append(name)

    # Side by side: each write is mostly the driver's planning and commit, one after
    # another they left a core idle (400 series: 2.6 s in a row).
    with ThreadPoolExecutor(len(outputs), thread_name_prefix="write") as pool:
        for done in [pool.submit(write, name) for name in outputs]:
            done.result()  # the first failure, after every write has ended


def _add_series_without_history(series_df: DataFrame, frame: DataFrame, config: JobConfig,
                                run_date: str) -> tuple[DataFrame, int, str]:
    """``series_df`` with a row for each series none of whose rows was known on the run
    date: none has a time, or all come after it (validation.series_without_history); how
    many there are, and the summary's lines."""
    keys, time = list(config.input.key_columns), F.col(validation.TIME)
    with job_description(frame.sparkSession, "find the series with no row up to the run date"):
        missing = validation.series_without_history(frame, keys, run_date)
        kinds = missing.agg(F.count_if(time.isNull()).alias("timeless"), F.count_if(time.isNotNull()).alias("later"))
        timeless, later = kinds.first()
        notes = []
        for count, rows, what in (
            (timeless, missing.where(time.isNull()), f"no row with a time in column '{config.input.time_column}'"),
            (later, missing.where(time.isNotNull()), f"rows only after the run date {run_date} (a run date before "
                                                      "they began?)"),
        ):
            if count:  # the first in key order, named as every other line names series
                notes.append(f"{series_that(count, 'have')} {what}: skipped, e.g. "
                             f"{example_ids(rows.orderBy(*keys), keys, more=True)}")
                logger.warning("%s", notes[-1])
    if not notes:
        return series_df, 0, ""
    return series_df.unionByName(missing), timeless + later, "".join(f"  {note}\n" for note in notes)
