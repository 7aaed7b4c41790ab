"""Serialized models for the models table: Prophet's JSON, or a baseline's history.

A baseline has no fitted state beyond its history, so that is what is stored;
either kind can then forecast again from any later date without refitting.
"""
from __future__ import annotations

import json

import pandas as pd

from forecasting import baselines, model

PROPHET, ENSEMBLE = "prophet", "ensemble"


def dump(name: str, fitted) -> str:
    """``fitted`` is a Prophet model, for a baseline the history it forecasts from,
    and for the ensemble both."""
    if name == PROPHET:
        return model.to_json(fitted)
    if name == ENSEMBLE:
        prophet, history = fitted
        return json.dumps({"kind": name, "prophet": model.to_json(prophet), **_history_json(history)})
    return json.dumps({"kind": name, **_history_json(history=fitted)})


def _history_json(history) -> dict:
    history = pd.DataFrame(history)
    return {"ds": history["ds"].dt.strftime("%Y-%m-%dT%H:%M:%S").tolist(), "y": history["y"].tolist()}


def forecast(name: str, text: str, last: pd.Timestamp | None, horizon: int, frequency: str,
             interval_width: float, seed: int) -> pd.DataFrame:
    """``horizon`` periods after ``last`` (default: the end of the stored history)."""
    if name == PROPHET:
        return model.predict(model.from_json(text), horizon, frequency, seed, last=last)
    stored = json.loads(text)
    history = pd.DataFrame({"ds": pd.to_datetime(stored["ds"]), "y": stored["y"]})
    last = history["ds"].max() if last is None else max(last, history["ds"].max())
    if name == ENSEMBLE:
        from forecasting.series import mean_forecast

        prophet = model.predict(model.from_json(stored["prophet"]), horizon, frequency, seed, last=last)
        seasonal = baselines.forecast_until("seasonal_naive", history, last, horizon, frequency, interval_width)
        return mean_forecast(prophet, seasonal)
    return baselines.forecast_until(name, history, last, horizon, frequency, interval_width)
