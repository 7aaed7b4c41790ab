"""Serialized models for the models table: Prophet's JSON, or a baseline's history.

A baseline has no fitted state beyond its history, so that is what is stored;
either kind can then forecast again from any later date without refitting. A
model's floor (``forecast.floor``) and closed times (``cleaning.closed_times``) are
stored with it, so that scoring and serving keep its forecasts above the one and
leave the other out as training did.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from forecasting import baselines, model
from forecasting.closed_times import without_closed
from forecasting.periods import known_by, label_of, last_over

PROPHET = "prophet"
# The mean of tuned Prophet and seasonal naive: combinations of unlike models
# often beat both, as in the M4 competition.
ENSEMBLE = "ensemble"
# The key of a stored model's floor in its JSON; Prophet's loader skips keys it does not know
FLOOR_KEY = "forecast_floor"
CLOSED_KEY = "closed_times"  # the periods of the week it does not forecast (closed_times), where any
FORECAST_VALUES = model.FORECAST_COLUMNS[1:]  # the point forecast and its bounds


class BeforeHistoryEnd(ValueError):
    """A forecast asked to start in a period before the last one the model saw
    (a served request's ``as_of``): it would start after the history's end instead, not where asked."""

    def __init__(self, asked: pd.Timestamp, history_end: pd.Timestamp):
        super().__init__(f"{asked} falls before the model's last period {history_end}")
        self.asked, self.history_end = asked, history_end


def series_floor(history: pd.DataFrame, setting: float | str | None) -> float | None:
    """The value a series' forecasts are kept at or above (``forecast.floor``):
    ``auto`` is 0 where the history (``y``) has no value below 0, else none."""
    if setting == "auto":
        return 0.0 if len(history) and not (history["y"] < 0).any() else None
    return None if setting is None else float(setting)


def floored(forecast: pd.DataFrame, floor: float | None) -> pd.DataFrame:
    """``forecast`` with its point forecasts and bounds raised to ``floor``; a missing
    bound stays missing."""
    if floor is None:
        return forecast
    return forecast.assign(**{c: forecast[c].clip(lower=floor) for c in FORECAST_VALUES if c in forecast})


def dump(name: str, fitted, floor: float | None = None, closed: list[int] | None = None) -> str:
    """``fitted`` is a Prophet model, for a baseline the history it forecasts from,
    and for the ensemble both; ``floor`` the value its forecasts are kept at or above;
    ``closed`` the periods of the week it does not forecast (closed_times)."""
    kept = {**({} if floor is None else {FLOOR_KEY: floor}), **({CLOSED_KEY: closed} if closed else {})}
    if name == PROPHET:
        text = model.to_json(fitted)
        # Prophet's own JSON object, its keys and ours (not parsed and written again: it is long)
        return text if not kept else f"{text.rstrip()[:-1]}, {json.dumps(kept)[1:]}"
    if name == ENSEMBLE:
        prophet, history = fitted
        return json.dumps({"kind": name, "prophet": model.to_json(prophet), **_history_json(history), **kept})
    return json.dumps({"kind": name, **_history_json(history=fitted), **kept})


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
             interval_width: float, seed: int, as_of: bool = False) -> pd.DataFrame:
    """``horizon`` periods after ``last`` (default: the end of the stored history),
    the same way for every kind of model: ``last`` moved to the period it falls in,
    and never before the history's end (a model does not forecast what it saw). With
    ``as_of`` (a served request's), ``last`` is read as a run date is, the periods not
    over by then forecast (``periods.last_over``), and one in a period before the
    history's last raises BeforeHistoryEnd.
    Scoring gives the end of the series' history as cleaned on its run date. Kept at
    or above the model's floor, the ensemble's parts each (as training keeps them)."""
    return _forecast(name, json.loads(text), last, horizon, frequency, interval_width, seed, as_of)


def _forecast(name: str, stored: dict, last: pd.Timestamp | None, horizon: int, frequency: str,
              interval_width: float, seed: int, as_of: bool) -> pd.DataFrame:
    floor = stored.get(FLOOR_KEY)
    if name == PROPHET:
        fitted = model.from_dict(stored)
        start = _start(last, fitted.history["ds"].max(), frequency, as_of)
        return floored(model.predict(fitted, horizon, frequency, seed, last=start), floor)
    history = _stored_history(stored)
    last = _start(last, history["ds"].max(), frequency, as_of)
    if name == ENSEMBLE:
        prophet = model.predict(model.from_json(stored["prophet"]), horizon, frequency, seed, last=last)
        seasonal = baselines.forecast_until("seasonal_naive", history, last, horizon, frequency, interval_width)
        return mean_forecast(floored(prophet, floor), floored(seasonal, floor))
    return floored(baselines.forecast_until(name, history, last, horizon, frequency, interval_width), floor)


def forecast_stored(stored, series: str, last: pd.Timestamp | None, steps: int, run_horizon: int,
                    as_of: bool = False) -> pd.DataFrame:
    """The forecasts of the ``steps`` periods after ``last`` of the model a models table's row
    ``stored`` holds (``model``, ``model_json``, ``frequency``, ``interval_width``), for
    scoring and serving. Its interval is sampled over at least the run's horizon and
    seeded by the series' id (``series``) as training sampled it, so that a shorter
    horizon gets the forecasts table's values for the same steps. ``as_of`` as in ``forecast``.
    Without the periods of the week the model does not forecast (closed_times), as training left them
    out: fewer rows than ``steps`` then."""
    sampled = max(steps, run_horizon)
    parsed = json.loads(stored["model_json"])
    forecast_ = _forecast(stored["model"], parsed, last, sampled, stored["frequency"], stored["interval_width"],
                          model.series_seed(series), as_of).head(steps)
    return without_closed(forecast_, stored["frequency"], parsed.get(CLOSED_KEY, []))


def fitted_history(name: str, text: str) -> pd.DataFrame:
    """The rows (``ds``, ``y``) a stored model was fitted on: the series as cleaning left
    it on its run date (Prophet's without the missing values it skips, and to the 10
    decimals its JSON keeps). What a past forecast came from, whatever its input has
    become since."""
    if name == PROPHET:
        return model.from_json(text).history[["ds", "y"]].reset_index(drop=True)
    return _stored_history(json.loads(text))


def _stored_history(stored: dict) -> pd.DataFrame:
    return pd.DataFrame({"ds": pd.to_datetime(stored["ds"]), "y": stored["y"]})


def _start(last: pd.Timestamp | None, history_end: pd.Timestamp, frequency: str, as_of: bool) -> pd.Timestamp:
    if last is None:
        return history_end
    if not as_of:
        return max(label_of(pd.Timestamp(last), frequency, origin=history_end), history_end)
    # as a run date: a date is known until its end (so a date-only as_of on the history's last day is no
    # earlier than its hours), a time of day until that moment
    if label_of(known_by(last) - pd.Timedelta(1, "ns"), frequency, origin=history_end) < history_end:
        raise BeforeHistoryEnd(pd.Timestamp(last), history_end)
    return max(last_over(pd.Timestamp(last), frequency, origin=history_end), history_end)


def mean_forecast(*forecasts: pd.DataFrame) -> pd.DataFrame:
    """The average of forecasts over the same dates, bounds included."""
    columns = list(FORECAST_VALUES)
    mean = sum(f[columns].to_numpy() for f in forecasts) / len(forecasts)
    return pd.DataFrame(mean, columns=columns).assign(ds=forecasts[0]["ds"].to_numpy())[["ds", *columns]]
