"""What a finished run says of its staged results, in its summary and log: the series by
status and by kind of reason, the series worth a look (the data notes' lines are
data_note_lines'), the changes since the run date before, the overview picture on the
parent run."""
from __future__ import annotations

import datetime as dt
import logging
import time
from functools import reduce

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from forecasting import (forecast_change, realized, redaction, run_overview, series_identity, signals,
                         server_check, staged_counts, tables, tracking, tuning, validation)
from forecasting.config import JobConfig
from forecasting.job_summary import (EXAMPLE_WIDTH, JobSummary, agreeing, example_ids, named_examples,
                                     series_that)
from forecasting.periods import business_days
from forecasting.run_overview import MEDIAN_CV_MASE
from forecasting.series import FAILED, OK, SKIPPED, SPANNED_NOTE, TOO_LITTLE_HISTORY
from forecasting.spark_session import job_description, settings_while
from forecasting.data_note_lines import say_data_notes

logger = logging.getLogger(__name__)

# Spark 4 folds letter case with ICU unless told otherwise; loading ICU's tables took a job 1-2 s
ICU_CASE_MAPPINGS = "spark.sql.icu.caseMappings.enabled"


def future_run_date_warning(run_date: str, today: dt.date) -> str | None:
    """What to say of a run date after tomorrow (a zone ahead of UTC is already on it):
    allowed, for data that reach ahead (plans, simulations), but seldom meant."""
    ahead = (dt.date.fromisoformat(run_date) - today).days
    if ahead <= 1:
        return None
    return (f"the run date {run_date} is {ahead} days after today ({today} UTC): from now on the lookups, the "
            "notebook and readers of the latest run date find its forecasts. A mistyped date? Its rows stay until "
            "removed (see docs/results.md, Removing a run date)")


def say_unfinished(context: tracking.RunContext, summary: JobSummary) -> None:
    """Name the other run dates of this job and output whose run a kill left RUNNING: the
    next date's run went on as if they had run, their rows missing or partial."""
    from forecasting import parent_run

    try:
        left = parent_run.unfinished_dates(context)
    except Exception as err:  # a line to say; the run's own tracking says whether the server is gone
        if signals.stopped_by(err):  # the JVM's error of a job being stopped
            raise
        logger.warning("could not look for runs left unfinished: %s", redaction.first_line(err))
        return
    if left:
        dates = ", ".join(f"{date} (MLflow run {run_id})" for date, run_id in left[:validation.EXAMPLES])
        more = f" and {len(left) - validation.EXAMPLES} more" if len(left) > validation.EXAMPLES else ""
        runs = f"run of run date {dates}" if len(left) == 1 else f"runs of run dates {dates}{more}"
        summary.warn(f"the {context.job} {runs} never finished (killed? Still RUNNING, with no heartbeat): "
                     f"{'its' if len(left) == 1 else 'their'} rows may be missing, or in part. A rerun of a date "
                     "replaces them")


def say_results(spark: SparkSession, staged: DataFrame, config: JobConfig, context: tracking.RunContext,
                summary: JobSummary, earlier: str | None, compared: str | None):
    """Count the staged results by status into ``summary``, and say what the run's user
    should look at: stale, sparse and outlying series, the changes since the earlier
    run date and how its forecasts did, the overview picture, untracked series."""
    with job_description(spark, "count the series by status"):
        counted = staged_counts.status_counts(staged, list(config.input.key_columns))
    summary.counts, summary.untracked = counted.statuses, counted.untracked
    if summary.untracked:  # a server gone during the training: what follows would wait out its retries
        server_check.try_once_if_gone(context.tracking_uri)
    keys = list(config.input.key_columns)
    fallbacks = counted.models - counted.statuses.get(OK, 0)
    total = sum(counted.statuses.values())
    # what a reader of the tables counts; also where every series has the fallback's, as nothing was modelled
    if context.job == tracking.TRAIN_JOB and (counted.models != total or not counted.statuses.get(OK, 0)):
        by_fallback = (f" and {fallbacks} skipped or failed forecast by the fallback (reliability.fallback)"
                       if fallbacks else "")
        summary.inform(f"forecasts and models were written for {counted.models} of the {total} series: the "
                       f"{counted.statuses.get(OK, 0)} ok{by_fallback}; series_results has a row for each")
    if counted.statuses.get(FAILED):  # the on-call's first question: which ones
        with job_description(spark, "name the series that failed"):
            named = named_examples(staged.where(F.col("status") == FAILED).orderBy(*keys), keys)
        summary.warn(f"{counted.statuses[FAILED]} series failed, e.g. {named}")
    if config.reliability.fail_series is not None and not counted.fail_series_named:  # a mistyped id tests nothing
        summary.warn(f"reliability.fail_series {config.reliability.fail_series!r} named no series of the input, so "
                     "none was made to fail: a series' id is its key values joined by '/' (north/bread), a '/' "
                     "within a value written '\\/'")
    _say_keys_alike_but_for_case(staged, keys, summary)
    if any(n for status, n in counted.statuses.items() if status != OK):
        with job_description(spark, "count the reasons series failed or were skipped"):
            summary.reason_kinds = staged_counts.reason_kinds(staged)
        summary.nothing_modelled = not counted.statuses.get(OK)  # whatever the reasons, said below the counts
        if summary.nothing_modelled and any(
                kind == TOO_LITTLE_HISTORY for kind, _ in summary.reason_kinds.get(SKIPPED, [])):
            with job_description(spark, "find the longest series too short to model"):
                # as check_history measured it: rows, or the periods spanned where closed times are no rows
                spanned = F.regexp_extract("reason", rf"over ([0-9]+) {SPANNED_NOTE}", 1)
                measured = F.when(spanned != "", spanned.cast("long")).otherwise(F.col("history_length"))
                reason = staged.where(F.col("reason").startswith(TOO_LITTLE_HISTORY)).orderBy(
                    measured.desc()).select("reason").first()[0]
            summary.warn(nothing_modelled(config, reason.split(": ", 1)[1].split(", needs at least")[0]))
        else:
            short = dict(summary.reason_kinds.get(SKIPPED, [])).get(TOO_LITTLE_HISTORY, 0)
            if short:  # new products, say: which ones, the many with what lets them be modelled
                with job_description(spark, "name the series too short to model"):
                    named = example_ids(staged.where(F.col("reason").startswith(TOO_LITTLE_HISTORY)).orderBy(*keys),
                                        keys)
                if 5 * short >= sum(counted.statuses.values()):
                    summary.warn(too_short_line(config, short, named))
                else:
                    summary.inform(f"{series_that(short, 'were')} skipped for too little history (e.g. {named}; "
                                   "their reason says how long they are)")
    if counted.stale:
        with job_description(spark, "name the series trained on old data"):
            _say_trained_stale(staged, list(config.input.key_columns), summary, counted.stale,
                               config.forecast.frequency)
    say_data_notes(counted, config, summary)
    if earlier is not None:
        forecast_change.say_turnover(spark, config, summary, earlier)
        if context.job == tracking.TRAIN_JOB:
            forecast_change.say_input_not_grown(config, context, summary, earlier)
            forecast_change.say_changed_since(context, summary, earlier)
    if compared is not None:
        forecast_change.say_changes(spark, config, context, summary, earlier, compared)
        realized.say(spark, config, context, summary, earlier, compared)
    counted.overview.notes_at = summary.notes_in
    log_overview(spark, staged, counted.overview, config, context, f"{summary.title} {summary.run_date}")
    say_far_off_cv(counted, summary)  # from the overview's worst series
    _log_run_metrics(spark, staged, counted, context, summary)
    if summary.untracked:
        logger.warning("%d of %d series %s no complete child run: tracking failed for them",
                       summary.untracked, summary.total, agreeing(summary.untracked, "have"))
    return counted


def say_far_off_cv(counted: staged_counts.StagedCounts, summary: JobSummary) -> None:
    """Name the modelled series whose cross-validation missed by far (a x100 unit slip in
    the history), the worst first as the overview found them: the picture was the only
    place they showed."""
    if not counted.far_off_cv:
        return
    worst = [f"{name}: {mase:.1f}" for name, mase, _ in counted.overview.worst if mase > realized.FAR_OFF_MASE]
    named = f", the worst first: {', '.join(worst[:validation.EXAMPLES])}" if worst else ""
    summary.warn(f"{series_that(counted.far_off_cv, 'have', 'modelled series')} a CV MASE over "
                 f"{realized.FAR_OFF_MASE:g}{named} (their cv_mase): their cross-validation forecasts missed by over "
                 "ten times a seasonal naive step. A break in the data, a unit slip, or a model to look at")


def _log_run_metrics(spark: SparkSession, staged: DataFrame, counted: staged_counts.StagedCounts,
                     context: tracking.RunContext, summary: JobSummary) -> None:
    """The parent run's metrics of its series: how many have no child run (a tracking server
    that failed mid-run loses child runs, not forecasts), and the median CV MASE, the run's
    accuracy in one number that ``python -m forecasting runs`` lists run by run."""
    from mlflow.entities import Metric

    metrics = {"untracked_series": summary.untracked}
    if counted.overview.modelled:
        with job_description(spark, "find the median CV MASE"):
            median = run_overview.median_cv_mase(staged)
        if median is not None:
            metrics[MEDIAN_CV_MASE] = median
    now = int(time.time() * 1000)
    try:
        tracking.client(context.tracking_uri).log_batch(
            context.parent_run_id, metrics=[Metric(name, float(value), now, 0) for name, value in metrics.items()])
    except Exception as err:  # the server gone: ending the run says so (exit 4), after the staged results go
        if signals.stopped_by(err):
            raise
        logger.warning("could not record %s on MLflow run %s: %s", " and ".join(metrics), context.parent_run_id,
                       redaction.first_line(err))


def nothing_modelled(config: JobConfig, longest: str) -> str:
    """Why no series was modelled when series were too short: the rows needed against
    the longest of those histories (``longest``, as its reason measured it: '20 rows'),
    and what the need comes from (a horizon in the wrong unit?)."""
    needed = tuning.min_history(config)
    horizon = tuning.cv_horizon(config)
    source = ("forecast.min_history" if config.forecast.min_history is not None else
              f"cross-validation's {config.cross_validation.folds} folds, {tuning.cv_step(config)} periods apart, "
              f"each scoring {horizon} periods after {tuning.MIN_TRAIN_HORIZONS * horizon} to train on")
    written = "the fallback forecasts were written" if config.reliability.fallback else "no forecasts were written"
    return (f"no series was modelled: after cleaning, the longest of the series too short has {longest}, "
            f"against the {needed} needed ({source}). Is forecast.horizon {config.forecast.horizon} counted in "
            f"periods of {config.forecast.frequency!r}? Or lower forecast.min_history / cross_validation.folds; "
            f"{written}")


def too_short_line(config: JobConfig, short: int, named: str) -> str:
    """What lets more series be modelled where a fifth or more were too short for the folds
    (new products, events on sale for a few weeks); ``named`` gives a few of them."""
    got = "got the fallback's forecast" if config.reliability.fallback else "got no forecast (reliability.fallback)"
    if config.forecast.min_history is not None:
        return (f"{short} series (e.g. {named}) had too little history for forecast.min_history "
                f"{config.forecast.min_history} and {got} (their reason says how long they are)")
    return (f"{short} series (e.g. {named}) had too little history for cross-validation "
            f"(which needs {tuning.min_history(config)} periods: "
            f"{config.cross_validation.folds} folds, {tuning.cv_step(config)} periods apart, each scoring "
            f"{tuning.cv_horizon(config)}) and {got}: a shorter cross_validation.horizon, fewer folds or a smaller "
            "step let shorter series be modelled")


def log_overview(spark: SparkSession, staged: DataFrame, overview: run_overview.Overview, config: JobConfig,
                 context: tracking.RunContext, title: str) -> None:
    """The run's overview picture on its parent run, the worst series found for it. A
    failure only warns: the run's tables are written, and a retry would train again."""
    try:
        with job_description(spark, "find the series with the highest CV MASE for the run's overview"):
            overview.worst = run_overview.worst_series(staged, list(config.input.key_columns))
        svg = run_overview.overview_svg(overview, title)
        tracking.client(context.tracking_uri).log_text(context.parent_run_id, svg, run_overview.ARTIFACT)
    except Exception as err:
        if signals.stopped_by(err):
            raise
        logger.warning("could not log the run's overview picture (%s): its tables are written",
                       redaction.first_line(err))


FIRST_OUTPUT_RUNS = 10  # the experiment's newest training runs looked through for where they wrote


def say_first_output(spark: SparkSession, config: JobConfig, context: tracking.RunContext,
                     summary: JobSummary) -> None:
    """Where this run is the first to write its output's tables while the experiment's newest
    training runs wrote elsewhere, say so: a mistyped output.path (bi/sale for bi/sales) made
    fresh tables without a word, and the readers of the old ones kept last week's forecasts."""
    from forecasting import explore
    from forecasting.replaced_runs import other_outputs

    if tables.path_exists(spark, tables.table_paths(config)[tables.FORECASTS]):
        return
    try:
        runs = explore.job_runs(context.tracking_uri, config.tracking.experiment, tracking.TRAIN_JOB,
                                finished_only=True, max_results=FIRST_OUTPUT_RUNS)
    except Exception as err:  # only a hint
        logger.debug("could not look up where the experiment's runs wrote: %s", err)
        return
    elsewhere = other_outputs(runs, context.output_path)
    if elsewhere:
        summary.inform(f"the first run to write tables to {context.output_path}, where the newest training runs of "
                       f"experiment '{config.tracking.experiment}' wrote to {', '.join(elsewhere[:3])}: a new output, "
                       "or a mistyped output.path?")


def _say_keys_alike_but_for_case(staged: DataFrame, keys: list[str], summary: JobSummary) -> None:
    """Warn of series whose keys differ from another's only in letter case (DC1 and dc1):
    likely one series' rows split in two, each modelled apart, one with holes."""
    text = {k for k in keys if isinstance(staged.schema[k].dataType, T.StringType)}
    if not text:
        return
    folded = [F.lower(k) if k in text else F.col(k) for k in keys]
    identified = staged.where(reduce(lambda a, b: a & b, [F.col(k).isNotNull() for k in keys]))  # null: skipped
    alike = identified.select(*keys, F.count(F.lit(1)).over(Window.partitionBy(*folded)).alias("_alike"),
                              *[column.alias(f"_folded_{i}") for i, column in enumerate(folded)]).where("_alike > 1")
    spark = staged.sparkSession
    # the JVM's case mappings, in its default locale (ICU's: the root locale)
    with job_description(spark, "find the series whose keys differ only in letter case"), \
            settings_while(spark, {ICU_CASE_MAPPINGS: "false"}):
        # through pandas, as named_examples: collect() would give a time key in the driver's time zone
        examples = alike.orderBy(*[f"_folded_{i}" for i in range(len(keys))], *keys).limit(
            2 * validation.EXAMPLES).toPandas()  # alike ones side by side: pairs, mostly
        count = alike.count() if len(examples) else 0  # a second job only where there are any
    if count:
        named = ", ".join(series_identity.shortened(series_identity.series_id({k: row[k] for k in keys}),
                                                    EXAMPLE_WIDTH) for row in examples.to_dict("records"))
        summary.warn(f"{series_that(count, 'have')} keys that differ from another series' only in letter case, "
                     f"e.g. {named}: each was kept apart, on its own rows. If they are one series, write their "
                     "keys one way in the input, or set input.key_case: lower (or upper)")


def _say_trained_stale(staged: DataFrame, keys: list[str], summary: JobSummary, count: int, frequency: str) -> None:
    """Name the series whose data stop more than a period before the run date, the
    fallback's too: their data_notes say so, but a note is easy to miss."""
    notes = staged.where(staged_counts.forecast_stale()).select(
        *keys, F.regexp_extract("data_notes", staged_counts.STALE_IN_NOTES, 1).alias("reason"))
    say_stale(notes, keys, summary, count, "forecast", frequency)


def say_stale(rows: DataFrame, keys: list[str], summary: JobSummary, count: int, done: str,
              frequency: str | None = None) -> None:
    """Log and summarise the ``count`` series ``done`` (forecast, scored) from data that stop
    more than a period before the run date, their forecasts starting in the past, with a
    few of ``rows`` (keys and ``reason``, cleaning's note) as examples, the furthest behind
    first: a feeder out for a day before those a few hours behind. Business days
    (``frequency`` B or C) count an exchange's holidays as periods, which the line says."""
    behind = F.regexp_extract("reason", r", ([0-9]+) periods before ", 1).cast("long")
    named = named_examples(rows.orderBy(behind.desc_nulls_last(), *keys), keys)
    holidays = ("; business days count an exchange's holidays as periods (Good Friday and Easter Monday: 2), so a "
                "series a holiday or two behind may be up to date, and cleaning.stale_after needs room for them"
                if frequency and business_days(frequency) else "")
    summary.warn(f"{count} series {done} from data that stop more than a period before the time the run forecasts "
                 "from (their forecasts start in the past; cleaning.stale_after skips series that ended: an event "
                 f"held, a unit closed{holidays}), e.g. {named}")
