"""What a finished run says of its staged results, in its summary and log: the series by
status and by kind of reason, the series worth a look (data that stopped early, rows
several periods apart or several a period, values far outside the rest), the changes
since the run date before, the overview picture on the parent run."""
from __future__ import annotations

import datetime as dt
import logging
import time
from functools import reduce

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from forecasting import (forecast_change, realized, redaction, run_overview, series_identity, staged_counts,
                         tracking, tuning, validation)
from forecasting.cleaning import PAST_INPUT_NOTE
from forecasting.cleaning_notes import (BREAK_NOTE, CLOCK_CHANGE_NOTE, FLAT_END_NOTE, NEGATIVE_KEPT_NOTE,
                                        NO_WEEKDAY_NOTE, OTHER_VALUES_NOTE, OUTLIER_NOTE, REPEATED_NOTE,
                                        SEVERAL_SERIES_NOTE)
from forecasting.config import JobConfig
from forecasting.periods import sub_daily
from forecasting.job_summary import (EXAMPLE_WIDTH, JobSummary, agreeing, example_ids, named_examples,
                                     series_that)
from forecasting.run_date_cut import AHEAD_NOTE
from forecasting.run_overview import MEDIAN_CV_MASE
from forecasting.forecast_notes import UNSEEN_HOLIDAY_NOTE, ZERO_FORECAST_NOTE
from forecasting.series import FAILED, OK, SKIPPED, SPANNED_NOTE, TOO_LITTLE_HISTORY
from forecasting.spikes import SPIKE_NOTE
from forecasting.spark_session import job_description

logger = logging.getLogger(__name__)


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
    keys = list(config.input.key_columns)
    fallbacks = counted.models - counted.statuses.get(OK, 0)
    total = sum(counted.statuses.values())
    if context.job == tracking.TRAIN_JOB and counted.models != total:  # what a reader of the tables counts
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
                    summary.inform(f"{series_that(short, 'was')} skipped for too little history (e.g. {named}; "
                                   "their reason says how long they are)")
    if counted.stale:
        with job_description(spark, "name the series trained on old data"):
            _say_trained_stale(staged, list(config.input.key_columns), summary, counted.stale)
    say_data_notes(counted, config, summary)
    if earlier is not None:
        forecast_change.say_turnover(spark, config, summary, earlier)
        if context.job == tracking.TRAIN_JOB:
            forecast_change.say_input_not_grown(config, context, summary, earlier)
    if compared is not None:
        forecast_change.say_changes(spark, config, context, summary, earlier, compared)
        realized.say(spark, config, context, summary, earlier, compared)
    log_overview(spark, staged, counted.overview, config, context, f"{summary.title} {summary.run_date}")
    say_far_off_cv(counted, summary)  # from the overview's worst series
    _log_run_metrics(spark, staged, counted, context, summary)
    if summary.untracked:
        logger.warning("%d of %d series %s no child run: tracking failed for them",
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
            f"({tuning.min_history(config)} periods: "
            f"{config.cross_validation.folds} folds, {tuning.cv_step(config)} periods apart, each scoring "
            f"{tuning.cv_horizon(config)}) and {got}: a shorter cross_validation.horizon, fewer folds or a smaller "
            "step let shorter series be modelled")


def say_data_notes(counted: staged_counts.StagedCounts, config: JobConfig, summary: JobSummary) -> None:
    """Said once for the run, what cleaning noted on many series: rows several periods
    apart or several a period, rows repeated exactly, several series under one key, times
    given twice with other values, rows moved to other dates, a last period still open,
    days of the week without rows, values far outside the rest, last values far outside
    the recent range."""
    if counted.sparse:  # a frequency finer than the data's leaves most periods empty: said once for the run
        summary.warn(f"{_counted(counted, 'sparse', 'have')} rows regularly several periods apart (their data_notes "
                     f"say how far): is forecast.frequency {config.forecast.frequency!r} the data's?")
    if counted.missing_values:  # empty cells of the target: nothing left out unsaid
        summary.inform(f"{_counted(counted, 'missing_values', 'had')} target values null, NaN or infinite, "
                       f"{MISSING_ACTIONS[config.cleaning.missing_values]} by cleaning.missing_values "
                       f"({config.cleaning.missing_values}; their data_notes say how many)")
    if counted.gappy:  # an ERP writes no row for a week without sales: a history of lumps, or too short to model
        summary.warn(f"{_counted(counted, 'gappy', 'have')} no row in a fifth of their periods or more, left out "
                     "(cleaning.gaps: keep; their data_notes say how many): where no row means nothing happened "
                     "(no sales), cleaning.gaps: zero counts those periods as 0, and a series' history spans them")
    if counted.merged:  # data finer than the frequency: merged as meant, or the frequency left at its default
        merged = (f"{_counted(counted, 'merged', 'had')} several rows a period merged into "
                  f"{config.forecast.frequency!r} periods by cleaning.duplicates ({config.cleaning.duplicates}; their "
                  "data_notes say how many)")
        if 2 * counted.merged_not_ok > counted.merged:  # most too short after merging: periods too long?
            summary.warn(f"{merged}, {counted.merged_not_ok} of them then skipped or failed (their reason says why): "
                         f"is forecast.frequency {config.forecast.frequency!r} the data's?")
        else:  # a few new products too short, say: no question of the frequency
            lost = (f", {counted.merged_not_ok} of them then skipped or failed (their reason says why)"
                    if counted.merged_not_ok else "")
            # 15-minute kW readings summed into hours were four times the load
            levels = (": added up, as amounts are (sales, kWh), where levels (kW, °C, prices) take "
                      "cleaning.duplicates: mean" if config.cleaning.duplicates == "sum" else "")
            summary.inform(merged + lost + levels)
    if counted.clock_changes:  # local times: two hours' load added into one, every autumn
        summary.warn(f"{_counted(counted, 'clock_changes', 'have')} {CLOCK_CHANGE_NOTE} (their data_notes name it), "
                     f"merged by cleaning.duplicates ({config.cleaning.duplicates}): local times? Times with their UTC "
                     "offset, or in UTC, keep both hours apart")
    if counted.repeated:  # a file read twice, exports that overlap: values doubled without a word
        summary.warn(f"{_counted(counted, 'repeated', 'have')} {REPEATED_NOTE} (the same time and value) that "
                     "cleaning.duplicates sum added up (their data_notes say how many): an input read twice, or "
                     "exports that overlap? cleaning.duplicates: last keeps one of each")
    if counted.other_duplicates:  # a correction row beside the value it corrects: summed, both counted
        added = (": added up, as amounts are (several sales, or a sale and a return, at one time); for levels "
                 "(balances, prices), "
                 "cleaning.duplicates: mean, or last (the largest, not the latest row); a value given again corrected "
                 "belongs out of the input"
                 if config.cleaning.duplicates == "sum" else "")
        summary.warn(f"{_counted(counted, 'other_duplicates', 'have')} {OTHER_VALUES_NOTE}, merged "
                     f"by cleaning.duplicates ({config.cleaning.duplicates}; their data_notes say how many){added}")
    if counted.shifted:  # Monday-dated weeks read as W: every forecast dated otherwise than the input
        summary.warn(f"{_counted(counted, 'shifted', 'had')} every timestamp moved to another date on the "
                     f"{config.forecast.frequency!r} grid (their data_notes show the first): their forecasts are "
                     "dated as that grid dates periods, not as the input. Is forecast.frequency the data's?"
                     f"{_dating_hint(config.forecast.frequency)}")
    local = ("; times in a zone ahead of UTC look so too (the job reads times as UTC): give them with their "
             "offset, or in UTC") if sub_daily(config.forecast.frequency) and not summary.zoned_times else ""
    if counted.ahead:  # local times ahead of UTC, every morning; or rows of plans
        summary.warn(f"{_counted(counted, 'ahead', 'have')} rows {AHEAD_NOTE} on its run date, left out as not "
                     f"known yet (their data_notes say how many){local}")
    if counted.open_kept:  # a partial last period modelled as a whole one: only the input knows
        summary.warn(f"{_counted(counted, 'open_kept', 'end')} in a period still open on the run date "
                     f"{summary.run_date}, modelled as a whole period (their data_notes name it): if those rows hold "
                     "only a part of it, or values known only later (a backfill from files), cleaning.open_period: "
                     f"drop leaves them out and forecasts the period{local}")
    if counted.past_input:  # an export cut short, or a backfill's input that stops before its run date
        summary.warn(f"{_counted(counted, 'past_input', 'end')} in a period that {PAST_INPUT_NOTE} (their data_notes "
                     "name it), a part of it: left out and forecast, so their forecasts start there, before the run "
                     f"date {summary.run_date}. An export cut short? Their data_notes name the input's last day")
    if counted.several_series:  # a key column left out: two tickers' prices added up, or stores summed as meant
        several = (f"{_counted(counted, 'several_series', 'have')} the same number of {SEVERAL_SERIES_NOTE}, merged by "
                   f"cleaning.duplicates ({config.cleaning.duplicates}; their data_notes say how many): as meant, or "
                   "several series under one key (a column that tells them apart belongs in input.key_columns)?")
        summary.inform(several)
    if counted.no_weekday:  # business days read as daily: weekend forecasts from a cycle fitted without them
        summary.warn(f"{_counted(counted, 'no_weekday', 'have')} no row on some days of the week in their "
                     f"{NO_WEEKDAY_NOTE} (their data_notes name them), yet {config.forecast.frequency!r} forecasts "
                     "every day: business days (forecast.frequency: B forecasts weekdays only), or days closed "
                     "(cleaning.gaps: zero)?")
    if counted.closed_times:  # opening hours: nights and Sundays are no missing data, nor periods to forecast
        summary.inform(_closed_times_line(counted, config))
    if counted.outlying:  # a unit slip or a placeholder in the input: a look at it, before the forecasts
        summary.warn(f"{_counted(counted, 'outlying', 'have', 'modelled series')} values {OUTLIER_NOTE} (their "
                     "data_notes name the farthest): data errors, or a new level? They were modelled as they are")
    if counted.spiky:  # a viral day, a glitch: Prophet fits it into its trend and seasonality, and repeats it
        if config.cleaning.spikes == "leave_out":
            summary.inform(f"{_counted(counted, 'spiky', 'had', 'modelled series')} values {SPIKE_NOTE} them left "
                           "out of their fits (cleaning.spikes: leave_out; their data_notes name the highest)")
        else:
            summary.warn(f"{_counted(counted, 'spiky', 'have', 'modelled series')} values {SPIKE_NOTE} them (their "
                         "data_notes name the highest), kept: a model may repeat them, Prophet in its trend and "
                         "seasonality. Where they will not recur (a viral day, a glitch, a bulk order), "
                         "cleaning.spikes: leave_out leaves them out of the fits")
    if counted.running_totals:  # a meter's register read as kWh per interval: forecasts of the total, not the load
        summary.warn(f"{_counted(counted, 'running_totals', 'have')} values that never fall (their data_notes say "
                     "over how many): running totals (a meter's register, sales to date) where amounts per period "
                     "were meant, or levels growing steadily? A running total's differences are the amounts; they "
                     "were modelled as they are")
    if counted.negative_kept:  # returns among sales, or a meter's fault: either widens the interval, lifts the floor
        floor = config.forecast.floor
        kept = ("forecast.floor auto sets no floor at 0 for them (forecast.floor: 0 would); " if floor == "auto" else
                f"forecast.floor {floor:g} keeps their forecasts at or above it; " if floor is not None else "")
        summary.warn(f"{_counted(counted, 'negative_kept', 'have')} a few {NEGATIVE_KEPT_NOTE} "
                     "(cleaning.negative_values: allow; their data_notes say how many): returns or corrections, or "
                     f"faults? {kept}cleaning.negative_values: drop leaves such values out")
    if counted.zero_runs:  # an outage going on, a feed that stopped: the forecasts start from zero
        summary.warn(f"{_counted(counted, 'zero_runs', 'end')} in a run of zeros where their history has nearly "
                     "none (their data_notes say since when): outages, or feeds that stopped sending? They were "
                     "modelled as they are")
    if counted.flat_ends:  # a transmitter stuck at its last reading: a flat forecast that CV scores perfect
        summary.warn(f"{_counted(counted, 'flat_ends', 'end', 'modelled series')} in one value repeated far longer "
                     f"than any value before (their data_notes say since when): {FLAT_END_NOTE}? Their forecasts "
                     "follow it, and cross-validation scores a flat forecast of a flat stretch well. They were "
                     "modelled as they are")
    if counted.mostly_floored:  # a temperature sensor's winter forecast cut at 0 °C, with nothing said
        floor = config.forecast.floor
        why = ("forecast.floor auto: 0 where a series' history has no value below it; forecast.floor: null keeps "
               "the models' own, a signed level's" if floor == "auto" else
               f"forecast.floor {floor:g}" if isinstance(floor, (int, float)) else "forecast.floor")
        summary.warn(f"{_counted(counted, 'mostly_floored', 'had', 'modelled series')} half or more of their forecast "
                     f"points raised to the floor (their data_notes say how many; {why}): a level falling towards "
                     "it, or a model's trend run past it?")
    if counted.stopped:  # delisted products under gaps: zero, forecast from their zeros (a seasonal model: last year's)
        summary.warn(f"{_counted(counted, 'stopped', 'have')} had no rows for over twice their longest run of zeros "
                     "before, filled with zeros up to the run date by cleaning.gaps: zero (their data_notes say "
                     "since when): discontinued? Their forecasts follow from those zeros, a seasonal model's from last "
                     "year's values. cleaning.stale_after skips series whose rows stop that long before the run date")
    if counted.retried:  # a Python worker that died (out of memory?): the retry hid it from the counts
        summary.warn(f"{_counted(counted, 'retried', 'were')} trained again in a retry of their Spark task, an earlier "
                     "attempt having failed (a Python worker that died: out of memory? Spark's log above says why): "
                     "their results are the retry's")
    if counted.zero_forecasts:  # low counts ranked by sMAPE: a forecast of nothing where something comes
        by_smape = (config.selection.metric or config.tuning.metric) == "smape"
        summary.warn(f"{_counted(counted, 'zero_forecasts', 'are', 'modelled series')} {ZERO_FORECAST_NOTE}, though "
                     "their recent values are not (their data_notes say how much they were)"
                     + (": ranked by sMAPE, which favours a forecast of zeros in series with zeros; tuning.metric: "
                        "mase ranks by the scale of each series' changes" if by_smape else
                        ": series mostly of zeros, whose likeliest value is 0? For their rate instead (to "
                        "replenish), recent_mean among selection.candidates, ranked by selection.metric: rmse"))
    if counted.unseen_holidays:  # a trial's folds ran November to February: CV MASE 0.6, 2.7 over the Eid ahead
        summary.warn(f"{_counted(counted, 'unseen_holidays', 'are', 'modelled series')} forecast over holidays on "
                     f"which their history's values stood out and {UNSEEN_HOLIDAY_NOTE} (their data_notes name them): "
                     "their cross-validation scores do not speak for those periods, nor did the tuning or the choice "
                     "of model see them. Folds that span a year (cross_validation.folds and step) would hold them")
    if counted.repeated_oddities:  # an outage's 0 repeated by seasonal naive: exact zeros a week on
        summary.warn(f"{_counted(counted, 'repeated_oddities', 'are', 'modelled series')} forecast repeating a last "
                     f"cycle that holds a value far from that time's in the cycles before (their data_notes name it): "
                     "an outage's 0 or a one-off spike, forecast as if it recurred? A value that did not happen is "
                     "best given as missing (cleaning.missing_values fills or leaves it out)")
    if counted.breaks:  # a stock split on the last day: the forecasts start from neither level
        summary.warn(f"{_counted(counted, 'breaks', 'end')} in values {BREAK_NOTE} of their history (their "
                     "data_notes name them): a break in the data (a stock split, a new unit), a last period loaded "
                     "only in part (one value below the range: its note says how to leave it out), or values to "
                     "check? They were modelled as they are")


# what each cleaning.missing_values did with a missing value ("reject" skips the series, said by its reason)
# (one sharing its period with a value is left out under any policy: the value stands for the period)
MISSING_ACTIONS = {"drop": "left out", "interpolate": "filled or left out", "zero": "filled with 0 or left out",
                   "reject": "refused"}


def _counted(counted: staged_counts.StagedCounts, name: str, verb: str, kind: str = "series") -> str:
    """A summary line's start for the series meeting condition ``name``, a few of them named:
    "2 series (e.g. north/bread, south/tea) have"."""
    count, named = getattr(counted, name), counted.examples.get(name)
    return series_that(count, verb, f"{kind} (e.g. {', '.join(named)})" if named else kind)


def _dating_hint(frequency: str) -> str:
    """How the frequencies of the grid's kind date their periods otherwise, as a hint."""
    kind = frequency.lstrip("0123456789").upper()[:1]
    if kind == "W":
        return " (weeks dated by their first day: 7D)"
    if kind in ("M", "Q", "Y"):
        return " (periods dated by their last day: ME, QE, YE; by their first: MS, QS, YS)"
    return ""


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
        logger.warning("could not log the run's overview picture (%s): its tables are written",
                       redaction.first_line(err))


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
    with job_description(staged.sparkSession, "find the series whose keys differ only in letter case"):
        # through pandas, as named_examples: collect() would give a time key in the driver's time zone
        examples = alike.orderBy(*[f"_folded_{i}" for i in range(len(keys))], *keys).limit(
            2 * validation.EXAMPLES).toPandas()  # alike ones side by side: pairs, mostly
        count = alike.count() if len(examples) else 0  # a second job only where there are any
    if count:
        named = ", ".join(series_identity.shortened(series_identity.series_id({k: row[k] for k in keys}),
                                                    EXAMPLE_WIDTH) for row in examples.to_dict("records"))
        summary.warn(f"{series_that(count, 'have')} keys that differ from another series' only in letter case, "
                     f"e.g. {named}: each was kept apart, on its own rows. If they are one series, write their "
                     "keys one way in the input")


def _say_trained_stale(staged: DataFrame, keys: list[str], summary: JobSummary, count: int) -> None:
    """Name the series whose data stop more than a period before the run date, the
    fallback's too: their data_notes say so, but a note is easy to miss."""
    notes = staged.where(staged_counts.forecast_stale()).select(
        *keys, F.regexp_extract("data_notes", staged_counts.STALE_IN_NOTES, 1).alias("reason"))
    say_stale(notes, keys, summary, count, "forecast")


def _closed_times_line(counted: staged_counts.StagedCounts, config: JobConfig) -> str:
    """What the job did with the times of the week series never have a row at."""
    line = (f"{_counted(counted, 'closed_times', 'have')} times of the week without a row in their history, "
            "e.g. nights or Sundays (their data_notes name them): ")
    if config.cleaning.closed_times == "forecast":
        return line + "forecast all the same (cleaning.closed_times: forecast); leave_out leaves closed times out"
    cycle = ("" if "weekly_naive" in config.selection.candidates else
             "; weekly_naive among selection.candidates repeats the last week, where days differ in their hours")
    return line + f"closed times, not counted missing nor stale and not forecast (cleaning.closed_times){cycle}"


def say_stale(rows: DataFrame, keys: list[str], summary: JobSummary, count: int, done: str) -> None:
    """Log and summarise the ``count`` series ``done`` (forecast, scored) from data that stop
    more than a period before the run date, their forecasts starting in the past, with a
    few of ``rows`` (keys and ``reason``, cleaning's note) as examples, the furthest behind
    first: a feeder out for a day before those a few hours behind."""
    behind = F.regexp_extract("reason", r", ([0-9]+) periods before ", 1).cast("long")
    named = named_examples(rows.orderBy(behind.desc_nulls_last(), *keys), keys)
    summary.warn(f"{count} series {done} from data that stop more than a period before the time the run forecasts "
                 "from (their forecasts start in the past; cleaning.stale_after skips series that ended: an event "
                 f"held, a unit closed), e.g. {named}")
