"""The whole per-series work, Spark-free: check, tune, refit on all history, forecast."""
from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from forecasting import model, tuning
from forecasting.config import JobConfig

logger = logging.getLogger(__name__)

OK, SKIPPED, FAILED = "ok", "skipped", "failed"


@dataclass
class SeriesOutcome:
    """What one series produced; ``forecast`` and ``model`` are set only when ok."""

    status: str
    reason: str | None
    history_length: int
    cv_metrics: dict[str, float] = field(default_factory=dict)
    best_params: dict[str, Any] = field(default_factory=dict)
    evaluations: int = 0
    fit_seconds: float = 0.0
    forecast: pd.DataFrame | None = None
    model: Any = None


def prepare_history(history: pd.DataFrame) -> pd.DataFrame:
    """Sort by time and keep ``ds``/``y`` only."""
    return history[["ds", "y"]].sort_values("ds", kind="stable").reset_index(drop=True)


def check_history(history: pd.DataFrame, config: JobConfig) -> str | None:
    """The reason this series cannot be modelled, or None."""
    needed = tuning.min_history(config)
    if len(history) < needed:
        return f"too little history: {len(history)} rows, needs at least {needed}"
    duplicates = int(history["ds"].duplicated().sum())
    if duplicates:
        return f"{duplicates} duplicate timestamps"
    return None


def train_series(history: pd.DataFrame, config: JobConfig, seed: int = 0) -> SeriesOutcome:
    """Tune, fit and forecast one series given as columns ``ds`` and ``y``; ``seed``
    fixes the sampled forecast interval.

    Never raises: a problem becomes a ``skipped`` or ``failed`` outcome with a reason.
    """
    started = time.perf_counter()
    history = prepare_history(history)
    outcome = SeriesOutcome(status=OK, reason=None, history_length=len(history))
    problem = check_history(history, config)
    if problem:
        outcome.status, outcome.reason = SKIPPED, problem
        return outcome
    try:
        result = tuning.tune(history, config)
        fitted = model.fit(history, config, result.best_params, config.model.uncertainty_samples)
        outcome.forecast = model.predict(fitted, config.forecast.horizon, config.forecast.frequency, seed)
        outcome.model = fitted
        outcome.best_params = result.best_params
        outcome.cv_metrics = result.cv_metrics
        outcome.evaluations = result.evaluations
    except Exception as err:  # one series must never stop the others
        logger.warning("series failed: %s\n%s", err, traceback.format_exc())
        outcome.status, outcome.reason = FAILED, f"{type(err).__name__}: {err}"
    outcome.fit_seconds = time.perf_counter() - started
    return outcome
