"""Prophet's point forecasts for cross-validation folds, without building Prophet models.

Tuning fits Prophet evaluations x folds times per series and keeps only each fit's
point forecast of the fold's horizon. A Prophet fit spends most of its time in
pandas (its history frame, seasonality features, changepoint grid, component
tables) and its prediction as much again, around a posterior mode found in a few
milliseconds (forecasting.prophet_map). For the models this job tunes (linear or
flat growth, the built-in seasonalities, a country's holidays) this module does
the same steps on NumPy arrays: Prophet's scaling, automatic seasonalities,
Fourier and holiday features, changepoint grid, starting point, the same
in-process posterior mode and Prophet's point forecast formula, so the numbers
are Prophet's own. Any other model is fitted by Prophet (``supports``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecasting import holiday_periods, prophet_map
from forecasting.config import JobConfig
from forecasting.config_schema import MODEL_SETTINGS, effective_model_settings
from forecasting.periods import yearly_harmonics

# Prophet's defaults (prophet.forecaster.Prophet.__init__) for the tunable settings.
DEFAULTS = {
    "changepoint_prior_scale": 0.05,
    "seasonality_prior_scale": 10.0,
    "holidays_prior_scale": 10.0,
    "changepoint_range": 0.8,
    "seasonality_mode": "additive",
    "n_changepoints": 25,
}
# The built-in seasonalities in Prophet's order: name, period in days, default
# Fourier order, and when "auto" leaves them out: a history shorter than the
# span, or no two dates closer than the spacing.
SEASONALITIES = (
    ("yearly", 365.25, 10, pd.Timedelta(days=730), None),
    ("weekly", 7, 3, pd.Timedelta(weeks=2), pd.Timedelta(weeks=1)),
    ("daily", 1, 4, pd.Timedelta(days=2), pd.Timedelta(days=1)),
)
YEARLY_ORDER, YEARLY_SPAN = SEASONALITIES[0][2], SEASONALITIES[0][3]
NANOSECONDS_PER_SECOND = 10**9
SECONDS_PER_DAY = 3600 * 24.0


def supports(config: JobConfig, params: dict[str, Any]) -> bool:
    """Whether ``point_forecast`` computes this model; else Prophet must fit it."""
    settings = config.model
    return (
        settings.optimizer == "in_process"
        and effective_model_settings(settings, params)["growth"] in ("linear", "flat")
        and set(params) <= set(DEFAULTS) | set(MODEL_SETTINGS)
        and params.get("seasonality_mode", "additive") in ("additive", "multiplicative")
        and 0 <= params.get("changepoint_range", 0.8) <= 1
        and int(params.get("n_changepoints", 25)) >= 0
    )


@dataclass
class FoldArrays:
    """What every point forecast of one fold needs from its data, whatever the
    parameters: made once per fold and reused by each tuning evaluation."""
    ds: np.ndarray  # the observed rows' dates and values, sorted as Prophet sorts them
    y: np.ndarray
    future: np.ndarray  # the dates to forecast, sorted
    y_scale: float
    start: np.datetime64
    t_scale: np.timedelta64
    t: np.ndarray
    t_future: np.ndarray
    span: pd.Timedelta  # for the automatic seasonalities
    finest: pd.Timedelta | None
    features: dict = field(default_factory=dict)  # Fourier features by seasonalities: (history's, future's)
    holiday_features: dict = field(default_factory=dict)  # by country, frequency, windows: (history's, future's)

    def fourier(self, periods: list[tuple[float, int]]) -> tuple[np.ndarray, np.ndarray]:
        key = tuple(periods)
        if key not in self.features:
            # column-major, as Prophet's DataFrame hands them to the fit: the same sums in the same order
            self.features[key] = (np.asfortranarray(fourier_features(self.ds, periods)), fourier_features(self.future, periods))
        return self.features[key]

    def holidays(self, country: str, frequency: str, windows: dict[str, list[int]]) -> tuple[np.ndarray, np.ndarray]:
        key = (country, frequency, holiday_periods.window_spans(windows))
        if key not in self.holiday_features:
            self.holiday_features[key] = holiday_features(self.ds, self.future, country, frequency, windows)
        return self.holiday_features[key]


def fold_arrays(train: pd.DataFrame, dates: pd.Series) -> FoldArrays:
    """The arrays of a fold trained on ``train`` and scored at ``dates``."""
    observed = train["y"].notna().to_numpy()  # Prophet fits the rows that have a y
    ds = train["ds"].to_numpy("datetime64[ns]")[observed]
    y = train["y"].to_numpy(dtype=float)[observed]
    if len(y) < 2:
        raise ValueError("Dataframe has less than 2 non-NaN rows.")
    order = np.argsort(ds, kind="mergesort")  # Prophet sorts its history, and its predictions
    ds, y = ds[order], y[order]
    future = np.sort(dates.to_numpy("datetime64[ns]"), kind="mergesort")
    y_scale = float(np.abs(y).max()) or 1.0  # Prophet's default scaling, absmax (floor 0)
    start, t_scale = ds[0], ds[-1] - ds[0]
    span, finest = _span_and_finest(ds)
    return FoldArrays(
        ds, y, future, y_scale, start, t_scale, t=(ds - start) / t_scale, t_future=(future - start) / t_scale,
        span=span, finest=finest,
    )


def _span_and_finest(ds: np.ndarray) -> tuple[pd.Timedelta, pd.Timedelta | None]:
    """The sorted dates' span and their finest spacing between distinct dates, from which
    Prophet's auto turns the built-in seasonalities on."""
    spacing = np.diff(ds)
    spacing = spacing[spacing != np.timedelta64(0, "ns")]
    return pd.Timedelta(ds[-1] - ds[0]), pd.Timedelta(spacing.min()) if len(spacing) else None


def point_forecast(train: pd.DataFrame, dates: pd.Series, config: JobConfig, params: dict[str, Any],
                   arrays: FoldArrays | None = None) -> np.ndarray:
    """What ``Prophet(**params).fit(train).predict(dates)["yhat"]`` gives, with the
    job's model settings and no uncertainty sampling, in the order of the sorted
    ``dates``. ``arrays``: ``fold_arrays(train, dates)``, where the caller kept them.
    Raises ``prophet_map.NotConverged`` where Prophet would go on to Stan."""
    settings = {**DEFAULTS, **params, **effective_model_settings(config.model, params)}
    arrays = fold_arrays(train, dates) if arrays is None else arrays
    settings["yearly_seasonality"] = yearly_setting(settings["yearly_seasonality"], config.forecast.frequency,
                                                    arrays.span)
    ds, y, future, y_scale = arrays.ds, arrays.y, arrays.future, arrays.y_scale
    start, t_scale, t, t_future = arrays.start, arrays.t_scale, arrays.t, arrays.t_future

    periods = _seasonalities(arrays.span, arrays.finest, settings)
    features, future_features = arrays.fourier(periods)
    prior_scales = [float(settings["seasonality_prior_scale"])] * features.shape[1]
    in_mode = np.ones(features.shape[1])
    if config.model.country_holidays:  # after the seasonalities, in their mode (Prophet's holidays_mode default)
        holidays, future_holidays = arrays.holidays(config.model.country_holidays, config.forecast.frequency,
                                                    config.model.holiday_windows)
        features = np.asfortranarray(np.hstack([features, holidays]))
        future_features = np.hstack([future_features, future_holidays])
        prior_scales += [float(settings["holidays_prior_scale"])] * holidays.shape[1]
        in_mode = np.ones(features.shape[1])
    if not features.shape[1]:  # Prophet's placeholder feature, in no component
        features, future_features = np.zeros((len(y), 1)), np.zeros((len(future), 1))
        prior_scales, in_mode = [1.0], np.zeros(1)
    multiplicative = settings["seasonality_mode"] == "multiplicative"
    s_a, s_m = (0 * in_mode, in_mode) if multiplicative else (in_mode, 0 * in_mode)
    t_change = _changepoints(ds, start, t_scale, float(settings["changepoint_range"]), int(settings["n_changepoints"]))
    flat = settings["growth"] == "flat"
    data = {
        "T": len(y), "S": max(len(t_change), 1), "K": features.shape[1],
        "tau": float(settings["changepoint_prior_scale"]),
        "trend_indicator": prophet_map.FLAT if flat else prophet_map.LINEAR,
        "y": y / y_scale, "t": t, "cap": np.zeros(len(y)),
        "t_change": t_change if len(t_change) else np.zeros(1),  # Prophet's dummy changepoint
        "X": np.asfortranarray(features), "sigmas": prior_scales, "s_a": s_a, "s_m": s_m,
    }
    k, m, delta, beta = _fit(data, constant=y.min() == y.max())
    if len(t_change) == 0:  # Prophet folds the dummy's rate change into k
        k, delta = k + float(delta[0]), np.zeros(1)

    if flat:
        trend = m * np.ones_like(t_future)
    else:  # Prophet.piecewise_linear
        changes = (data["t_change"][None, :] <= t_future[:, None]) * delta
        rate, offset = changes.sum(axis=1) + k, (changes * -data["t_change"]).sum(axis=1) + m
        trend = rate * t_future + offset
    additive = future_features @ (beta * s_a) * y_scale
    return trend * y_scale * (1 + future_features @ (beta * s_m)) + additive


def _fit(data: dict, constant: bool) -> tuple[float, float, np.ndarray, np.ndarray]:
    """k, m, delta and beta at the posterior mode, from Prophet's starting point
    (Prophet.calculate_initial_params); a constant series keeps that start, as in Prophet."""
    y, t = data["y"], data["t"]
    if data["trend_indicator"] == prophet_map.FLAT:
        k, m = 0.0, float(np.mean(y))
    else:
        last = int(np.argmax(t))  # the first of the latest dates, as pandas' idxmax
        k = (y[last] - y[0]) / (t[last] - t[0])
        m = y[0] - k * t[0]
    init = {"k": k, "m": m, "delta": np.zeros(data["S"]), "beta": np.zeros(data["K"]), "sigma_obs": 1.0}
    if constant:
        return float(k), float(m), init["delta"], init["beta"]
    fitted = prophet_map.fit(init, data)
    return float(fitted["k"][0, 0]), float(fitted["m"][0, 0]), fitted["delta"][0], fitted["beta"][0]


def yearly_setting(setting: Any, frequency: str, span: pd.Timedelta | None) -> Any:
    """``yearly_seasonality`` (auto, true, false or an order) as a model of ``frequency``'s
    periods fits it, over a history of ``span``: an order above what its periods tell
    apart (periods.yearly_harmonics: 6 for months, where true and auto mean 10) is that
    many; at yearly periods none. Unchanged where it is within, or auto leaves it out."""
    most = yearly_harmonics(frequency)
    if most is None or setting is False or (setting == "auto" and (span is None or span < YEARLY_SPAN)):
        return setting
    order = YEARLY_ORDER if setting is True or setting == "auto" else int(setting)
    if order <= most:
        return setting
    return most if most > 0 else False


def seasonal(config: JobConfig, history: pd.DataFrame) -> bool:
    """Whether a Prophet model of the config's settings fitted on ``history`` (the rows with
    a ``y``, as Prophet fits them) has any built-in seasonality: none for yearly data (a year
    a period) nor for a history too short or too coarse for auto to turn one on, where a
    seasonality's prior scale changes nothing."""
    ds = np.sort(history.loc[history["y"].notna(), "ds"].to_numpy("datetime64[ns]"))
    if len(ds) < 2:
        return False
    span, finest = _span_and_finest(ds)
    settings = effective_model_settings(config.model, {})
    settings["yearly_seasonality"] = yearly_setting(settings["yearly_seasonality"], config.forecast.frequency, span)
    return bool(_seasonalities(span, finest, settings))


def _seasonalities(span: pd.Timedelta, finest: pd.Timedelta | None, settings: dict[str, Any]) -> list[tuple[float, int]]:
    """(period, Fourier order) of each built-in seasonality Prophet turns on
    (Prophet.set_auto_seasonalities), given the model's ``<name>_seasonality`` settings,
    the history's ``span`` and its ``finest`` spacing between distinct dates."""
    chosen = []
    for name, period, default_order, min_span, max_spacing in SEASONALITIES:
        setting = settings[f"{name}_seasonality"]
        if setting == "auto":
            too_coarse = max_spacing is not None and finest is not None and finest >= max_spacing
            order = 0 if span < min_span or too_coarse else default_order
        elif setting is True:
            order = default_order
        elif setting is False:
            order = 0
        else:
            order = int(setting)
        if order > 0:
            chosen.append((period, order))
    return chosen


def fourier_features(dates: np.ndarray, periods: list[tuple[float, int]]) -> np.ndarray:
    """Prophet's seasonality features (Prophet.fourier_series) at ``dates``
    (datetime64[ns]), side by side, for each (period in days, Fourier order)."""
    days = dates.astype(np.int64) // NANOSECONDS_PER_SECOND / SECONDS_PER_DAY
    angle = days * np.pi * 2
    columns = []
    for period, order in periods:
        for i in range(order):
            c = angle * (i + 1) / period
            columns += [np.sin(c), np.cos(c)]
    return np.column_stack(columns) if columns else np.zeros((len(dates), 0))


def holiday_features(ds: np.ndarray, future: np.ndarray, code: str, frequency: str,
                     windows: dict[str, list[int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Prophet's features of a country's holidays (Prophet.make_holiday_features) at the
    history's dates ``ds`` and the ``future`` ones, as ``model.build_model`` gives them
    (holiday_periods' frame): one column per holiday and day of its window, in the order
    of Prophet's column names, 1 on each row whose day it marks."""
    columns = holiday_periods.feature_days(holiday_periods.period_holidays(code, frequency, ds, windows))
    return tuple(np.column_stack([np.isin(dates.astype("datetime64[D]"), marked).astype(float)
                                  for marked in columns.values()])
                 if columns else np.zeros((len(dates), 0)) for dates in (ds, future))


def _changepoints(ds: np.ndarray, start, t_scale, changepoint_range: float, wanted: int) -> np.ndarray:
    """Prophet's grid of potential changepoints over the first ``changepoint_range``
    of the history, in scaled time (Prophet.set_changepoints); empty for none."""
    size = int(np.floor(len(ds) * changepoint_range))
    count = min(wanted, size - 1)
    if count <= 0:
        return np.zeros(0)
    index = np.linspace(0, size - 1, count + 1).round().astype(int)
    return np.sort((ds[index][1:] - start) / t_scale)
