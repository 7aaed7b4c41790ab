"""The whole per-series work, Spark-free: clean, hold out (evaluation), tune, select, refit
on all history, forecast."""
from __future__ import annotations

import gc
import logging
import time
import traceback
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from forecasting import metrics, model, tuning
from forecasting.baselines import BASELINES, CYCLES, naive_instead, season_length
from forecasting.cleaning import clean_history
from forecasting.cleaning_notes import ZERO_RUN_NOTE
from forecasting.periods import periods_between
from forecasting.run_date_cut import STOPPED_NOTE
from forecasting.config import JobConfig
from forecasting.closed_times import outside_closed
from forecasting.holdout import score_holdout, split_holdout
from forecasting.forecast_notes import (PROPHET_FAILED_NOTE, floor_notes, never_held_holiday_notes,
                                       recent_values, repeated_oddity_notes, undefined_metric_notes,
                                       unseen_holiday_notes, zero_forecast_notes)
from forecasting.model_store import ENSEMBLE, PROPHET, floored, mean_forecast, series_floor

logger = logging.getLogger(__name__)

INJECTED_FAILURE = "fault injection (reliability.fail_series)"
# the recent values that note compares with: the horizon's, or two seasons' up to this many
MAX_RECENT_PERIODS = 28

OK, SKIPPED, FAILED = "ok", "skipped", "failed"
STATUSES = (OK, SKIPPED, FAILED)  # in the order a run's counts list them, any other after
# How a skipped series' reason starts when the series is shorter than tuning.min_history
TOO_LITTLE_HISTORY = "too little history"
# after "N rows over M" in the reason of a series with closed times: its length is the periods spanned
SPANNED_NOTE = "periods, closed times counted"
# Evaluation mode scores a skipped or failed series' fallback forecast under this
# prefix and the fallback's name (fallback_naive), apart from the candidates.
FALLBACK_PREFIX = "fallback_"


@dataclass
class SeriesOutcome:
    """What one series produced. ``forecast`` is set when any model forecast it:
    the selected candidate (status ok) or the fallback; ``model_name`` says which."""

    status: str
    reason: str | None
    history_length: int
    notes: list[str] = field(default_factory=list)
    history_end: pd.Timestamp | None = None  # of the history modelled: after cleaning, before any holdout
    cleaned: pd.DataFrame | None = None  # the series after cleaning, held-out rows too: what its plot shows
    cv_metrics: dict[str, float] = field(default_factory=dict)
    candidate_scores: dict[str, dict[str, float]] = field(default_factory=dict)
    best_params: dict[str, Any] = field(default_factory=dict)
    evaluations: int = 0
    fit_seconds: float = 0.0
    model_name: str | None = None
    forecast: pd.DataFrame | None = None
    floor: float | None = None  # the forecasts are at or above it (forecast.floor)
    closed: list[int] = field(default_factory=list)  # periods of the week not forecast (cleaning.closed_times)
    # the fitted Prophet model, the history a baseline forecasts from, or both for the ensemble
    model: Any = None
    holdout: dict[str, dict[str, float]] = field(default_factory=dict)
    held_out: pd.DataFrame | None = None  # an evaluation's held-out values scored (ds, y): its plot draws them
    # the selected candidate's cross-validation forecasts: per fold its last training
    # time, the scored times and the point forecasts (the plot shows them)
    backtest: list[tuple[pd.Timestamp, pd.Series, np.ndarray]] = field(default_factory=list)


def prepare_history(history: pd.DataFrame) -> pd.DataFrame:
    """Sort by time and keep ``ds``/``y`` only, with nanosecond timestamps: Prophet
    reads the integer value of ``ds`` as nanoseconds when it builds seasonalities.
    Rows with the very same time are sorted by value: Spark hands a group's rows
    over in no fixed order, and cleaning's ``last`` must not depend on it. Times with
    a time zone become naive UTC, as the job hands them over (before sorting: the
    same instant may be written with two offsets)."""
    times = history["ds"]
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    try:
        with warnings.catch_warnings():  # pandas 2.2 still reads mixed offsets, warning it will not
            warnings.simplefilter("error", FutureWarning)
            times = times.astype("datetime64[ns]")
    except (TypeError, ValueError, FutureWarning):  # objects with an offset, which may vary (daylight saving)
        times = pd.to_datetime(times, utc=True, format="mixed").dt.tz_localize(None).astype("datetime64[ns]")
    frame = pd.DataFrame({"ds": times.reset_index(drop=True), "y": history["y"].reset_index(drop=True)})
    return frame.sort_values(["ds", "y"]).reset_index(drop=True)


def check_history(history: pd.DataFrame, config: JobConfig, closed: list[int] | None = None) -> str | None:
    """The reason this (cleaned) series cannot be modelled, or None. With ``closed``
    times of the week (closed_times) the periods it spans count, closed ones too, as
    the folds count them: a contact centre's eight weeks are 2,688 half-hours, not
    its 1,000-odd rows at open times."""
    needed = tuning.min_history(config)
    span = periods_between(history["ds"].iloc[0], history["ds"].iloc[-1], config.forecast.frequency) + 1 \
        if len(history) else 0
    spanned = span if closed else len(history)
    if spanned < needed:
        source = ("forecast.min_history" if config.forecast.min_history is not None else
                  f"what {config.cross_validation.folds} cross-validation folds need; forecast.min_history sets it")
        # periods of the frequency, as cleaning left them (daily rows summed into weeks are weeks); with
        # periods missing (gaps: keep) the rows, over the periods they span
        counted = (f"{len(history)} rows over {spanned} {SPANNED_NOTE}" if spanned != len(history) else
                   f"{len(history)} period{'s' if len(history) != 1 else ''}" if span == len(history) else
                   f"{len(history)} rows over {span} periods")
        return f"{TOO_LITTLE_HISTORY}: {counted}, needs at least {needed} ({source})"
    if history["y"].nunique() == 1:
        return f"constant series: every value is {history['y'].iloc[0]:g}"
    return None


_series_started = 0


def _freeze_heap_after_first_series() -> None:
    """Once a process has trained its first series, the modules and caches that
    took are loaded for good. Python's full garbage collections walk every object
    every time: on M4 hourly series 6 ms of each series' 140 ms. Frozen
    (gc.freeze), those objects are left out of them (1.4 ms). Every caller of
    train_series gets this, so the job and the benchmark's bare loops alike."""
    global _series_started
    _series_started += 1
    if _series_started == 2:
        gc.collect()  # nothing that is already garbage gets frozen
        gc.freeze()


def train_series(history: pd.DataFrame, config: JobConfig, seed: int = 0, holdout: int = 0,
                 run_date: str | pd.Timestamp | None = None, input_end: str | pd.Timestamp | None = None,
                 now: str | pd.Timestamp | None = None, inject_failure: bool = False,
                 name: str = "a series") -> SeriesOutcome:
    """Clean, select and tune, fit and forecast one series given as columns ``ds`` and ``y``.

    ``seed`` fixes the sampled forecast interval. With ``holdout`` > 0 the rows of
    the last ``holdout`` periods are kept out of everything and every candidate's
    forecast of them is scored (evaluation mode). ``run_date``, the day the data is known
    up to, lets cleaning leave out a period still open on it and note a history
    that stopped well before it; ``input_end``, the whole input's latest time, bounds
    zero gaps; ``now`` is the run's start during its run date (see ``clean_history``). Never raises: a problem becomes a
    ``skipped`` or ``failed`` outcome with a reason, forecast by the configured
    fallback where the data allows. ``inject_failure`` (reliability.fail_series, for
    tests) makes the selection raise, as a broken fit would. ``name``, the series' id,
    names it in the log when it fails.
    """
    started = time.perf_counter()
    _freeze_heap_after_first_series()
    try:
        prepared = prepare_history(history)
        cleaned = clean_history(prepared, config.forecast.frequency, config.cleaning, run_date, input_end, now)
        history, actual = cleaned.history, None
        if holdout and not cleaned.rejection:
            history, actual = split_holdout(prepared, cleaned, holdout, config)
    except Exception as err:  # as below: this series fails, the others go on
        logger.warning("%s failed in cleaning: %s\n%s", name, err, traceback.format_exc())
        return SeriesOutcome(FAILED, f"cleaning failed: {type(err).__name__}: {err}", len(history))
    outcome = SeriesOutcome(status=OK, reason=None, history_length=len(history), notes=cleaned.notes,
                            history_end=history["ds"].max() if len(history) else None, cleaned=cleaned.history,
                            closed=cleaned.closed, held_out=actual)
    if cleaned.rejection:
        outcome.status, outcome.reason = SKIPPED, cleaned.rejection
        return outcome
    try:
        problem = check_history(history, config, cleaned.closed)
        if problem and problem.startswith(TOO_LITTLE_HISTORY) and actual is not None and len(actual):
            # an evaluation's held-out periods took it: the series itself may be long enough to train
            problem += (f"; the {holdout} held-out periods (forecast.horizon) left {len(history)} of the series' "
                        f"{len(history) + len(actual)} to fit: evaluate with a shorter forecast.horizon")
        if not problem:
            if inject_failure:
                raise RuntimeError(INJECTED_FAILURE)
            # built on a copy: a failure halfway leaves no winner's forecast, model or scores beside the fallback's
            selected = replace(outcome, notes=list(outcome.notes))
            _select_and_forecast(selected, history, config, seed, actual)
    except Exception as err:  # one series must never stop the others
        logger.warning("%s failed: %s\n%s", name, err, traceback.format_exc())
        outcome.status, outcome.reason = FAILED, f"{type(err).__name__}: {err}"
        return _with_fallback(outcome, history, config, started, actual)
    if problem:
        outcome.status, outcome.reason = SKIPPED, problem
        return _with_fallback(outcome, history, config, started, actual)
    selected.fit_seconds = time.perf_counter() - started
    return selected


def _select_and_forecast(
    outcome: SeriesOutcome, history: pd.DataFrame, config: JobConfig, seed: int, actual: pd.DataFrame | None
) -> None:
    """Score every candidate on the same folds, refit the best on all history."""
    fc = config.forecast
    scores, predictions, tuned = {}, {}, None
    floor = outcome.floor = series_floor(history, fc.floor)
    folds = tuning.make_folds(history, config)  # every candidate is scored on the same folds
    candidates = list(config.selection.candidates)
    if {PROPHET, ENSEMBLE} & set(candidates):
        try:
            tuned = tuning.tune(history, config, folds, floor)
        except tuning.EveryEvaluationFailed as err:
            others = [name for name in candidates if name not in (PROPHET, ENSEMBLE)]
            if not others:
                raise
            # the baselines still score on the same folds: the series is forecast by the best of them, and said so
            outcome.notes.append(f"{PROPHET_FAILED_NOTE} ({len(err.errors)}, e.g. {err.errors[0]}): chosen among "
                                 f"{', '.join(others)}")
            outcome.evaluations, candidates = len(err.errors), others
    for name in candidates:
        if name == PROPHET:
            scores[name], predictions[name] = tuned.cv_metrics, tuned.fold_predictions
        elif name == ENSEMBLE:  # the tuned Prophet's fold forecasts are reused, not refit
            parts = [tuning.cached_forecaster(tuned.fold_predictions),
                     tuning.at_or_above(tuning.baseline_forecaster(config, "seasonal_naive"), floor)]
            ensemble = lambda train, dates: np.mean([part(train, dates) for part in parts], axis=0)  # noqa: E731
            scores[name], predictions[name] = tuning.cross_validate_predictions(history, config, ensemble, folds)
        else:
            baseline = tuning.at_or_above(tuning.baseline_forecaster(config, name), floor)
            scores[name], predictions[name] = tuning.cross_validate_predictions(history, config, baseline, folds)
    metric = config.selection.metric or config.tuning.metric
    ranked_by = metrics.ranking_metric(metric, scores.values())
    winner = min(scores, key=lambda name: _loss(scores[name], ranked_by))
    outcome.notes += undefined_metric_notes(metric, ranked_by, tuned, config.tuning.metric)
    needed = list(scores) if actual is not None else [winner]
    steps = _steps_to_score(history, actual, fc.horizon, fc.frequency)
    forecasts, raw = {}, {}  # raw: the point forecasts before the floor, for its note (the ensemble's: its parts')
    if {PROPHET, ENSEMBLE} & set(needed):
        init = tuned.warm_starts.get(len(history)) if tuned.warm_starts else None
        fitted = model.fit(history, config, tuned.best_params, config.model.uncertainty_samples, init=init)
        prophet = model.predict(fitted, steps, fc.frequency, seed)
        forecasts[PROPHET], raw[PROPHET] = (floored(prophet, floor), fitted), prophet["yhat"]
    for name in needed:
        if name == ENSEMBLE:
            seasonal = BASELINES["seasonal_naive"](history, steps, fc.frequency, fc.interval_width)
            forecasts[name] = (mean_forecast(forecasts[PROPHET][0], floored(seasonal, floor)),
                               (forecasts[PROPHET][1], history))
            raw[name] = (raw[PROPHET] + seasonal["yhat"]) / 2
        elif name != PROPHET:
            forecast = BASELINES[name](history, steps, fc.frequency, fc.interval_width)
            forecasts[name], raw[name] = (floored(forecast, floor), history), forecast["yhat"]
    outcome.forecast, outcome.model = forecasts[winner]
    outcome.model_name = winner
    unfloored = _without_closed_times(outcome, raw[winner], fc.frequency)
    outcome.notes += floor_notes(outcome.forecast["yhat"], unfloored, fc.floor, history["y"])
    recent = max(fc.horizon, min(2 * season_length(fc.frequency), MAX_RECENT_PERIODS))
    if not any(note.startswith(STOPPED_NOTE) for note in outcome.notes):  # a product delisted: 0 is its forecast
        ends_in_zeros = any(ZERO_RUN_NOTE in note for note in outcome.notes)  # where it had nearly none before
        outcome.notes += zero_forecast_notes(outcome.forecast["yhat"], recent_values(history["y"], recent), ranked_by,
                                              scores, winner, ends_in_zeros)
    outcome.notes += unseen_holiday_notes(model.series_holidays(config, history), history, outcome.forecast["ds"],
                                          [fold.test_ds for fold in folds], fc.frequency)
    outcome.notes += never_held_holiday_notes(config.model.country_holidays, history, outcome.forecast["ds"],
                                              fc.frequency)
    # the candidate keeps its name (its scores, the stored model and serving go by it); a note says what it did
    cycled = "seasonal_naive" if winner == ENSEMBLE else winner
    repeated = naive_instead(cycled, history, fc.frequency)
    if repeated:
        outcome.notes.append(repeated)
    else:  # the history has the cycles to repeat, an early fold's part may not have had them
        as_naive = sum(naive_instead(cycled, fold.train, fc.frequency) is not None for fold in folds)
        if as_naive:
            outcome.notes.append(f"{cycled} scored as naive in {as_naive} of {len(folds)} cross-validation folds "
                                 "(shorter than two cycles), forecast repeating its cycle")
        if cycled in CYCLES:  # an outage's 0 in the cycle repeated recurs in the forecast
            outcome.notes += repeated_oddity_notes(cycled, history, fc.frequency)
    outcome.candidate_scores = scores
    outcome.cv_metrics = scores[winner]
    outcome.backtest = [(fold.train["ds"].iloc[-1], fold.test_ds, predictions[winner][len(fold.train)])
                        for fold in folds if len(fold.train) in predictions[winner]]
    if tuned is not None:
        outcome.best_params, outcome.evaluations = tuned.best_params, tuned.evaluations
        if tuned.failed_evaluations:  # the search went on without them: said, not hidden
            outcome.notes.append(f"{len(tuned.failed_evaluations)} of {tuned.evaluations} tuning evaluations "
                                 f"failed, e.g. {tuned.failed_evaluations[0]}")
    if actual is not None:
        # tuned Prophet is scored even where it is only the ensemble's part, not a candidate
        outcome.holdout = {
            name: score_holdout(forecast, actual, history, fc.frequency) for name, (forecast, _) in forecasts.items()
        }


def _without_closed_times(outcome: SeriesOutcome, unfloored: pd.Series, frequency: str) -> pd.Series:
    """The outcome's forecast without the periods of the week it has closed (noted where
    that leaves none), and its points before the floor (``unfloored``) at the same times."""
    kept = outside_closed(outcome.forecast["ds"], frequency, outcome.closed)
    if kept.all():
        return unfloored
    if not kept.any():
        outcome.notes.append(f"all {len(kept)} forecast periods fall in closed times (cleaning.closed_times): "
                             "none forecast")
    outcome.forecast = outcome.forecast[kept].reset_index(drop=True)
    return pd.Series(unfloored.to_numpy()[kept])


def _steps_to_score(history: pd.DataFrame, actual: pd.DataFrame | None, horizon: int, frequency: str) -> int:
    """How many periods to forecast: ``horizon``, or in evaluation mode as many as
    reach the last held-out row. Those rows are the last ``horizon`` periods; where
    values are missing just before them, training ends earlier and the forecast
    must go further, as a cross-validation fold's does across the same gap."""
    if actual is None or not len(actual) or not len(history):
        return horizon
    return max(horizon, periods_between(history["ds"].max(), actual["ds"].max(), frequency))


def _loss(scores: dict[str, float], metric: str) -> float:
    value = scores[metric]
    return value if value == value else float("inf")  # NaN never wins


def _with_fallback(outcome: SeriesOutcome, history: pd.DataFrame, config: JobConfig, started: float,
                   actual: pd.DataFrame | None = None) -> SeriesOutcome:
    """The configured fallback's forecast, where the history allows one; in
    evaluation mode (``actual``) scored on the held-out rows like any candidate."""
    name = config.reliability.fallback
    fc = config.forecast
    instead = naive_instead(name, history, fc.frequency) if name else None
    if instead:
        name = "naive"  # no full cycles to repeat: the last value it is, and named so
    if name and len(history) > 0:
        try:  # on a copy, kept only once whole: a failure leaves no forecast behind
            steps = _steps_to_score(history, actual, fc.horizon, fc.frequency)
            forecast = BASELINES[name](history, steps, fc.frequency, fc.interval_width)
            floor = series_floor(history, fc.floor)
            fallback = replace(outcome, notes=list(outcome.notes), floor=floor, forecast=floored(forecast, floor),
                               model=history, model_name=name, reason=f"{outcome.reason}; fallback forecast: {name}")
            if instead:  # the configured one named, and why it is not the one used
                fallback.notes.append(f"reliability.fallback {instead}")
            unfloored = _without_closed_times(fallback, forecast["yhat"], fc.frequency)
            fallback.notes += floor_notes(fallback.forecast["yhat"], unfloored, fc.floor, history["y"])
            if actual is not None and len(actual):  # apart from the candidates' own scores
                fallback.holdout = {FALLBACK_PREFIX + name: score_holdout(fallback.forecast, actual, history,
                                                                          fc.frequency)}
        except Exception as err:  # the series keeps its status and reason, without a forecast
            logger.warning("fallback %s failed: %s\n%s", name, err, traceback.format_exc())
            outcome.reason = f"{outcome.reason}; fallback {name} failed: {type(err).__name__}: {err}"
        else:
            outcome = fallback
    outcome.fit_seconds = time.perf_counter() - started
    return outcome
