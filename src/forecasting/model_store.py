"""Serialized models for the models table: Prophet's JSON, or a baseline's history.

A baseline has no fitted state beyond its history, so that is what is stored;
either kind can then forecast again from any later date without refitting.
"""
from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from forecasting import baselines, model

PROPHET, ENSEMBLE = "prophet", "ensemble"


class LatestRows(NamedTuple):
    """A series' latest input times, as scoring reads them (``scoring.last_observations``):
    the last two of its rows (``last``, ``previous``), and the last two of those with
    a value (``valued``, ``previous_valued``): cleaning drops a row without a value
    whose period has one (``missing_values`` ``interpolate`` or ``zero``)."""
    last: pd.Timestamp
    previous: pd.Timestamp | None = None
    valued: pd.Timestamp | None = None
    previous_valued: pd.Timestamp | None = None

    def kept(self, frequency: str, origin: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp | None]:
        """The last two of the times cleaning keeps: the rows without a value after the
        last with one are dropped where they share its period."""
        from forecasting.cleaning import label_of

        if self.valued is not None and label_of(self.last, frequency, origin) == label_of(self.valued, frequency,
                                                                                          origin):
            return self.valued, self.previous_valued
        return self.last, self.previous


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
    ds = history["ds"]
    if getattr(ds.dtype, "tz", None) is not None:  # its wall-clock times, as strftime wrote them
        ds = ds.dt.tz_localize(None)
    ds = ds.to_numpy("datetime64[ns]")
    if (ds.view("int64") % 1_000_000_000).any():  # data at steps below a second
        text = ds.astype(str)
    else:  # the common case, without nine zeros in every time of the JSON (2024-01-31T23:00:00)
        text = np.datetime_as_string(ds.astype("datetime64[s]"))
    return {"ds": text.tolist(), "y": history["y"].tolist()}


def forecast(name: str, text: str, last: pd.Timestamp | None, horizon: int, frequency: str,
             interval_width: float, seed: int, run_date: str | None = None, now: str | None = None,
             latest: LatestRows | None = None) -> pd.DataFrame:
    """``horizon`` periods after ``last`` (default: the end of the stored history),
    the same way for every kind of model: ``last`` moved to the period it falls in,
    and never before the history's end (a model does not forecast what it saw).
    ``last`` is an observation's time when ``run_date`` is given (scoring): a finer
    row in a period still open on that date (at ``now``, the run's start, on it)
    counts as training's cleaning counts it, so the forecast starts at that period.
    ``latest``, the series' latest rows (``last`` among them), tells which rows
    cleaning kept, and whether finer rows were gathered into that period where
    the last falls on its date (weeks named by their Sunday, months by their last
    day: the period's last day is on the grid, its other days are not)."""
    if name == PROPHET:
        fitted = model.from_json(text)
        start = _start(last, fitted.history["ds"].max(), frequency, run_date, now, latest)
        return model.predict(fitted, horizon, frequency, seed, last=start)
    stored = json.loads(text)
    history = pd.DataFrame({"ds": pd.to_datetime(stored["ds"]), "y": stored["y"]})
    last = _start(last, history["ds"].max(), frequency, run_date, now, latest)
    if name == ENSEMBLE:
        from forecasting.series import mean_forecast

        prophet = model.predict(model.from_json(stored["prophet"]), horizon, frequency, seed, last=last)
        seasonal = baselines.forecast_until("seasonal_naive", history, last, horizon, frequency, interval_width)
        return mean_forecast(prophet, seasonal)
    return baselines.forecast_until(name, history, last, horizon, frequency, interval_width)


def _start(last: pd.Timestamp | None, history_end: pd.Timestamp, frequency: str,
           run_date: str | None = None, now: str | None = None, latest: LatestRows | None = None) -> pd.Timestamp:
    if last is None:
        return history_end
    from forecasting.cleaning import known_until, label_of, open_on

    last, previous = (pd.Timestamp(last), None) if latest is None else latest.kept(frequency, history_end)
    label = label_of(last, frequency, origin=history_end)
    # training leaves an open period out where any of its rows was moved onto its date
    gathered = label != last or (previous is not None and label_of(previous, frequency, origin=history_end) == label)
    if run_date is not None and gathered and open_on(label, frequency, known_until(run_date, now)):
        label = label - to_offset(frequency)  # the period before: training left the open one out
    return max(label, history_end)
