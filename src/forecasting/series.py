"""The whole per-series work, Spark-free: check, tune, refit on all history, forecast."""
from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from forecasting import model, tuning
from forecasting.baselines import BASELINES, season_length
from forecasting.cleaning import clean_history
from forecasting.config import JobConfig

logger = logging.getLogger(__name__)

OK, SKIPPED, FAILED = "ok", "skipped", "failed"


@dataclass
class SeriesOutcome:
    """What one series produced. ``forecast`` is set when any model forecast it:
    Prophet (status ok) or the fallback (``model_name`` says which)."""

    status: str
    reason: str | None
    history_length: int
    notes: list[str] = field(default_factory=list)
    cv_metrics: dict[str, float] = field(default_factory=dict)
    best_params: dict[str, Any] = field(default_factory=dict)
    evaluations: int = 0
    fit_seconds: float = 0.0
    model_name: str | None = None
    forecast: pd.DataFrame | None = None
    model: Any = None


def prepare_history(history: pd.DataFrame) -> pd.DataFrame:
    """Sort by time and keep ``ds``/``y`` only."""
    return history[["ds", "y"]].sort_values("ds", kind="stable").reset_index(drop=True)


def check_history(history: pd.DataFrame, config: JobConfig) -> str | None:
    """The reason this (cleaned) series cannot be modelled, or None."""
    needed = tuning.min_history(config)
    if len(history) < needed:
        return f"too little history: {len(history)} rows, needs at least {needed}"
    if history["y"].nunique() == 1:
        return f"constant series: every value is {history['y'].iloc[0]:g}"
    return None


def train_series(history: pd.DataFrame, config: JobConfig, seed: int = 0) -> SeriesOutcome:
    """Clean, tune, fit and forecast one series given as columns ``ds`` and ``y``;
    ``seed`` fixes the sampled forecast interval.

    Never raises: a problem becomes a ``skipped`` or ``failed`` outcome with a
    reason, forecast by the configured fallback where the data allows.
    """
    started = time.perf_counter()
    cleaned = clean_history(prepare_history(history), config.forecast.frequency, config.cleaning)
    history = cleaned.history
    outcome = SeriesOutcome(status=OK, reason=None, history_length=len(history), notes=cleaned.notes)
    if cleaned.rejection:
        outcome.status, outcome.reason = SKIPPED, cleaned.rejection
        return outcome
    problem = check_history(history, config)
    if problem:
        outcome.status, outcome.reason = SKIPPED, problem
        return _with_fallback(outcome, history, config, started)
    try:
        result = tuning.tune(history, config)
        fitted = model.fit(history, config, result.best_params, config.model.uncertainty_samples)
        outcome.forecast = model.predict(fitted, config.forecast.horizon, config.forecast.frequency, seed)
        outcome.model, outcome.model_name = fitted, "prophet"
        outcome.best_params = result.best_params
        outcome.cv_metrics = result.cv_metrics
        outcome.evaluations = result.evaluations
    except Exception as err:  # one series must never stop the others
        logger.warning("series failed: %s\n%s", err, traceback.format_exc())
        outcome.status, outcome.reason = FAILED, f"{type(err).__name__}: {err}"
        return _with_fallback(outcome, history, config, started)
    outcome.fit_seconds = time.perf_counter() - started
    return outcome


def _with_fallback(outcome: SeriesOutcome, history: pd.DataFrame, config: JobConfig, started: float) -> SeriesOutcome:
    name = config.reliability.fallback
    fc = config.forecast
    if name == "seasonal_naive" and len(history) < 2 * season_length(fc.frequency):
        name = "naive"  # not two full seasons to repeat: the last value it is
    if name and len(history) > 0:
        outcome.forecast = BASELINES[name](history, fc.horizon, fc.frequency, fc.interval_width)
        outcome.model_name = name
        outcome.reason = f"{outcome.reason}; fallback forecast: {name}"
    outcome.fit_seconds = time.perf_counter() - started
    return outcome
