"""Serialized models for the models table: Prophet's JSON, or a baseline's history.

A baseline has no fitted state beyond its history, so that is what is stored;
either kind can then forecast again from any later date without refitting.
"""
from __future__ import annotations

import json

import pandas as pd

from forecasting import baselines, model

PROPHET = "prophet"


def dump(name: str, fitted) -> str:
    """``fitted`` is a Prophet model, or for a baseline the history it forecasts from."""
    if name == PROPHET:
        return model.to_json(fitted)
    history = pd.DataFrame(fitted)
    return json.dumps(
        {"kind": name, "ds": history["ds"].dt.strftime("%Y-%m-%dT%H:%M:%S").tolist(), "y": history["y"].tolist()}
    )


def forecast(name: str, text: str, last: pd.Timestamp | None, horizon: int, frequency: str,
             interval_width: float, seed: int) -> pd.DataFrame:
    """``horizon`` periods after ``last`` (default: the end of the stored history)."""
    if name == PROPHET:
        return model.predict(model.from_json(text), horizon, frequency, seed, last=last)
    stored = json.loads(text)
    history = pd.DataFrame({"ds": pd.to_datetime(stored["ds"]), "y": stored["y"]})
    last = history["ds"].max() if last is None else max(last, history["ds"].max())
    return baselines.forecast_until(name, history, last, horizon, frequency, interval_width)
