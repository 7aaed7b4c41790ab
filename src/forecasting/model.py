"""Prophet construction, fitting and forecasting for one series (pure pandas)."""
from __future__ import annotations

import dataclasses
import json
import logging
import zlib
from typing import Any

import numpy as np
import pandas as pd

from forecasting import holiday_periods, prophet_backend, prophet_points, prophet_speedups
from forecasting.config import JobConfig
from forecasting.config_schema import effective_model_settings

FORECAST_COLUMNS = ["ds", "yhat", "yhat_lower", "yhat_upper"]
# A forecast that starts after its model's history samples its interval's trend changes over
# every period from the history's end (see predict): at most this many, or TooFarAhead
MAX_LEAD_PERIODS = 100_000
SAMPLED_CELLS = 2_000_000  # trend samples times periods drawn at once over such a lead (16 MB an array)


class TooFarAhead(ValueError):
    """A forecast asked to start more than MAX_LEAD_PERIODS after its model's history."""


def prophet_class():
    from cmdstanpy.utils import get_logger
    from prophet import Prophet

    # Prophet and cmdstanpy log every fit at INFO, and an error when L-BFGS stops
    # early (the backend then falls back by itself; a fit that really fails raises). None of
    # it is news to the user of this job. cmdstanpy resets its level when it
    # first adds its handler, so that happens (get_logger) before ours is set.
    get_logger()
    logging.getLogger("cmdstanpy").setLevel(logging.CRITICAL)
    logging.getLogger("prophet").setLevel(logging.WARNING)
    logging.getLogger("prophet.models").setLevel(logging.ERROR)
    return Prophet


def with_series_holidays(config: JobConfig, keys: dict[str, Any]) -> tuple[JobConfig, str | None]:
    """``config`` with model.country_holidays set to the series' own country, named by
    its key column model.country_holidays_column (any case: "de" is DE); a null value
    keeps model.country_holidays. The second item says why the series cannot be
    modelled: a value that names no country the holidays package knows."""
    column = config.model.country_holidays_column
    value = keys.get(column) if column is not None else None
    if value is None or not str(value).strip():  # a null key's series is skipped anyway
        return config, None
    code = holiday_periods.canonical(str(value))
    problem = holiday_periods.unknown(code)
    if problem:
        return config, (f"no holidays known for country {value!r} (key column {column}, "
                        f"model.country_holidays_column): it {problem}; give a country code such as US, DE or GB, "
                        "or a country and region such as GB-ENG")
    return dataclasses.replace(config, model=dataclasses.replace(config.model, country_holidays=code)), None


def build_model(config: JobConfig, params: dict[str, Any], uncertainty_samples: int, ds: pd.Series | None = None):
    """A Prophet model with the job's fixed settings and the tuned ``params``. ``ds``, the
    dates of the history it will be fitted on, places a country's holidays on the series'
    periods (holiday_periods), needed where model.country_holidays names one, and decides
    whether ``auto`` turns the yearly cycle on, at the order the periods tell apart
    (prophet_points.yearly_setting); without them ``auto`` is left to Prophet, uncut."""
    settings = config.model
    holidays = None
    if settings.country_holidays:
        if ds is None:
            raise ValueError("the history's dates are needed to place its holidays on its periods")
        holidays = holiday_periods.period_holidays(settings.country_holidays, config.forecast.frequency, ds,
                                                   settings.holiday_windows)
    chosen = {**params, **effective_model_settings(settings, params)}
    span = None if ds is None or not len(ds) else pd.Timestamp(ds.max()) - pd.Timestamp(ds.min())
    chosen["yearly_seasonality"] = prophet_points.yearly_setting(chosen["yearly_seasonality"],
                                                                 config.forecast.frequency, span)
    model = _prophet()(
        interval_width=config.forecast.interval_width,
        uncertainty_samples=uncertainty_samples,
        holidays=None if holidays is None or holidays.empty else holidays,
        **chosen,
    )
    model.stan_backend = prophet_backend.array_backend()
    model.stan_backend.in_process = settings.optimizer == "in_process"
    return model


def series_holidays(config: JobConfig, history: pd.DataFrame) -> pd.DataFrame | None:
    """The holidays a model fitted on ``history`` gets, as Prophet's ``holidays`` frame:
    a country's that fall in its periods (at periods longer than a day, one that moved
    between them: holiday_periods); None where none is modelled."""
    if not config.model.country_holidays:
        return None
    holidays = holiday_periods.period_holidays(config.model.country_holidays, config.forecast.frequency,
                                               _fitted_dates(history), config.model.holiday_windows)
    return None if holidays.empty else holidays


def has_holidays(config: JobConfig, history: pd.DataFrame) -> bool:
    """Whether a model fitted on ``history`` gets any holidays (series_holidays)."""
    return series_holidays(config, history) is not None


def _fitted_dates(history: pd.DataFrame) -> pd.Series:
    """The dates of the rows Prophet fits: those with a value."""
    return history.loc[history["y"].notna(), "ds"]


_PROPHET = None


def _prophet():
    """The Prophet class build_model makes: Prophet with this package's speed-ups."""
    global _PROPHET
    if _PROPHET is None:
        _PROPHET = prophet_speedups.with_cached_components(prophet_class())
    return _PROPHET


def fit(
    history: pd.DataFrame, config: JobConfig, params: dict[str, Any], uncertainty_samples: int,
    init: dict[str, Any] | None = None,
):
    """Fit on ``history`` (columns ``ds``, ``y``), the optimiser starting from
    ``init`` (see ``warm_start``) when given."""
    model = build_model(config, params, uncertainty_samples, _fitted_dates(history))
    if init is not None:
        model.fit(history[["ds", "y"]], init=init)
    elif _fits_from_arrays(model, history):
        _fit_from_arrays(model, history)
    else:
        model.fit(history[["ds", "y"]])
    return model


def _arrays_cover(model) -> bool:
    """Whether a model's inputs are what ``_seasonality_features`` and a zero floor
    make: linear or flat growth scaled by the absolute maximum, seasonalities
    without conditions, no holidays, no extra regressors."""
    return (
        model.growth in ("linear", "flat")
        and model.scaling == "absmax"
        and not model.logistic_floor
        and model.holidays is None
        and model.country_holidays is None
        and not model.extra_regressors
        and all(props["condition_name"] is None for props in model.seasonalities.values())
    )


def _seasonality_features(model, ds: np.ndarray) -> np.ndarray:
    """Prophet's seasonality features of ``model`` at the sorted ``ds``, in its column
    order (Prophet's placeholder column where there are none), column-major as
    its frame hands them over: the same sums in the same order."""
    periods = [(props["period"], props["fourier_order"]) for props in model.seasonalities.values()]
    features = prophet_points.fourier_features(ds, periods) if periods else np.zeros((len(ds), 1))
    return np.asfortranarray(features)


def _fits_from_arrays(model, history: pd.DataFrame) -> bool:
    """Whether ``_fit_from_arrays`` makes this model's fit: ``_arrays_cover`` it, its
    posterior mode is found in process, and the dates are nanoseconds and the values
    floats (as cleaning leaves them)."""
    return (
        _arrays_cover(model)
        and model.stan_backend.in_process
        and model.mcmc_samples == 0
        and history["ds"].dtype == np.dtype("datetime64[ns]")
        and history["y"].dtype == np.dtype("float64")
    )


def _fit_from_arrays(model, history: pd.DataFrame) -> None:
    """``model.fit(history)``: the same fitted model, whose history frame, scales,
    seasonality features and the fit's inputs are made from arrays instead of by
    Prophet's setup_dataframe and make_all_seasonality_features (pandas: a third of
    a final fit's time on hourly series). Prophet's own steps where they are cheap:
    its automatic seasonalities, changepoints, starting point and the fit itself."""
    from prophet.models import TrendIndicator

    if np.isinf(history["y"].to_numpy()).any():
        raise ValueError("Found infinity in column y.")
    with np.errstate(invalid="ignore"):  # one distinct date: NaN, as pandas gives Prophet without a warning
        arrays = prophet_points.fold_arrays(history, history["ds"].iloc[:0])  # the observed rows, sorted, scaled
    ds, y, t = arrays.ds, arrays.y, arrays.t
    model.history_dates = pd.to_datetime(pd.Series(history["ds"].unique(), name="ds")).sort_values()
    model.y_min, model.y_scale = 0.0, arrays.y_scale  # initialize_scales, absmax
    model.start, model.t_scale = pd.Timestamp(arrays.start), pd.Timedelta(arrays.t_scale)
    floor = np.zeros(len(y))
    model.history = pd.DataFrame({"ds": ds, "y": y, "floor": floor, "t": t, "y_scaled": (y - floor) / model.y_scale})
    model.set_auto_seasonalities()

    # make_all_seasonality_features: the features, their names and priors, which component each is in
    features = _seasonality_features(model, ds)
    columns, prior_scales = [], []
    modes: dict[str, list[str]] = {"additive": [], "multiplicative": []}
    for name, props in model.seasonalities.items():
        columns += [f"{name}_delim_{i + 1}" for i in range(2 * props["fourier_order"])]
        prior_scales += [props["prior_scale"]] * (2 * props["fourier_order"])
        modes[props["mode"]].append(name)
    if not columns:  # Prophet's placeholder, so that X is never empty
        columns, prior_scales = ["zeros"], [1.0]
    # the layout depends on the features' names only: an empty frame of them (of floats: 20 times cheaper)
    named = pd.DataFrame(np.empty((0, len(columns))), columns=columns)
    component_cols, modes = model.regressor_column_matrix(named, modes)
    model.train_component_cols, model.component_modes, model.fit_kwargs = component_cols, modes, {}
    model.set_changepoints()

    stan_init = dataclasses.asdict(model.calculate_initial_params(features.shape[1]))
    stan_data = {
        "T": len(y), "S": len(model.changepoints_t), "K": features.shape[1], "tau": model.changepoint_prior_scale,
        "trend_indicator": TrendIndicator[model.growth.upper()].value, "y": model.history["y_scaled"].to_numpy(),
        "t": t, "t_change": model.changepoints_t, "X": features, "sigmas": prior_scales,
        "s_a": component_cols["additive_terms"].to_numpy(), "s_m": component_cols["multiplicative_terms"].to_numpy(),
        "cap": np.zeros(len(y)),
    }
    # the rest of Prophet.fit
    if y.min() == y.max():
        model.params = {name: np.array([value]) for name, value in {**stan_init, "sigma_obs": 1e-9}.items()}
    else:
        model.params = model.stan_backend.fit(stan_init, stan_data)
    model.stan_fit = model.stan_backend.stan_fit
    if len(model.changepoints) == 0:  # Prophet folds the rate change of its dummy changepoint into k
        model.params["k"] = model.params["k"] + model.params["delta"].reshape(-1)
        model.params["delta"] = np.zeros(model.params["delta"].shape).reshape((-1, 1))


def warm_start(fitted) -> dict[str, Any]:
    """A fitted model's parameters as a starting point for the next fit of the
    same series. Prophet checks their shapes and falls back to its own start."""
    params = fitted.params
    return {
        "k": float(params["k"][0][0]),
        "m": float(params["m"][0][0]),
        "sigma_obs": float(params["sigma_obs"][0][0]),
        "delta": np.asarray(params["delta"][0]),
        "beta": np.asarray(params["beta"][0]),
    }


def future_dates(last: pd.Timestamp, horizon: int, frequency: str) -> pd.DatetimeIndex:
    """The ``horizon`` periods after ``last``, as Prophet's make_future_dataframe makes them."""
    dates = pd.date_range(start=last, periods=horizon + 1, freq=frequency)
    return dates[dates > last][:horizon]


def predict(model, horizon: int, frequency: str, seed: int, last: pd.Timestamp | None = None) -> pd.DataFrame:
    """Forecast ``horizon`` periods after ``last`` (default: the end of the model's history).

    Prophet draws its interval from NumPy's global generator; seeding it makes a
    stored model reproduce its forecast exactly when it is scored again.
    """
    end = model.history["ds"].max()
    last = end if last is None else last
    dates = future_dates(last, horizon, frequency)
    np.random.seed(seed)
    if last <= end or not model.uncertainty_samples:
        return forecast_frame(model, pd.DataFrame({"ds": dates}))
    # Prophet's trend changes start at the first period it is given, as if it followed the
    # history: from a later start (scoring's newer history end, serving's as_of) the interval
    # was as narrow as the first steps' however far off. The periods between count too.
    lead = pd.date_range(start=end, end=last, freq=frequency)
    lead = lead[lead > end]
    if len(lead) > MAX_LEAD_PERIODS:
        raise TooFarAhead(f"{len(lead)} periods of {frequency!r} after the model's history end {end}, more than "
                          f"{MAX_LEAD_PERIODS} (its interval samples the trend's changes over every one of them)")
    return forecast_frame(model, pd.DataFrame({"ds": lead.append(dates)}), lead=len(lead))


def forecast_frame(model, future: pd.DataFrame, lead: int = 0) -> pd.DataFrame:
    """``model.predict(future)``'s ds, yhat, yhat_lower and yhat_upper, the same
    numbers from the same random draws, without what predict makes besides: an
    interval for every component and for the trend, and a frame of them all
    (more than half of its time on hourly series). Without uncertainty samples the
    bounds are NaN (Prophet leaves them out). The first ``lead`` rows of ``future``
    (periods between the history's end and those wanted: predict) count in the trend's
    sampled changes and are left out of the frame."""
    if _plain_seasonal_model(model):
        ds, df, features = _prediction_arrays(model, future)
        component_cols = model.train_component_cols  # the same layout: the same seasonalities
    else:
        df = model.setup_dataframe(future.copy())
        frame, _, component_cols, _ = model.make_all_seasonality_features(df)
        ds, features = df["ds"].to_numpy(), frame.to_numpy()
    trend = np.asarray(model.predict_trend(df))
    terms = {}
    for component in ("additive_terms", "multiplicative_terms"):  # as predict_seasonal_components
        beta = model.params["beta"] * component_cols[component].values
        values = np.matmul(features, beta.transpose())
        if component in model.component_modes["additive"]:
            values *= model.y_scale
        terms[component] = np.nanmean(values, axis=1)
    yhat = trend * (1 + terms["multiplicative_terms"]) + terms["additive_terms"]
    lower = upper = np.full(len(df) - lead, np.nan)
    if model.uncertainty_samples:
        samples = _yhat_samples(model, df, features[lead:], component_cols, lead)
        percentile = np.nanpercentile if np.isnan(samples).any() else np.percentile  # as Prophet.percentile
        width = model.interval_width
        lower, upper = percentile(samples, [100 * (1 - width) / 2, 100 * (1 + width) / 2], axis=1)
    return pd.DataFrame({"ds": ds[lead:], "yhat": yhat[lead:], "yhat_lower": lower, "yhat_upper": upper})


def _plain_seasonal_model(model) -> bool:
    """A model whose prediction inputs ``_prediction_arrays`` makes: ``_arrays_cover``
    it, it has one parameter draw (a posterior mode), and no holidays were trained."""
    return _arrays_cover(model) and model.params["k"].shape[0] == 1 and model.train_holiday_names is None


def _prediction_arrays(model, future: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """The sorted dates, a frame of the scaled time and floor (what the trend and its
    samples read), and the seasonality features, as Prophet's setup_dataframe and
    make_all_seasonality_features make them, from arrays."""
    ds = np.sort(future["ds"].to_numpy("datetime64[ns]"), kind="mergesort")
    t = (ds - model.start.to_datetime64()) / model.t_scale.to_timedelta64()
    return ds, pd.DataFrame({"t": t, "floor": np.zeros(len(ds))}), _seasonality_features(model, ds)


def _yhat_samples(model, df: pd.DataFrame, features: np.ndarray, component_cols: pd.DataFrame,
                  lead: int = 0) -> np.ndarray:
    """Prophet's sample_posterior_predictive(df)["yhat"], one column per sample, but for
    the first ``lead`` rows (forecast_frame; ``features`` are those of the rows after them).
    A fit to the posterior mode has one parameter draw: its samples are then
    computed as sample_model_vectorized does, in one array instead of a list of
    one dict per sample stacked again (the same draws in the same order)."""
    if model.params["k"].shape[0] != 1:  # MCMC draws
        return model.sample_posterior_predictive(df, vectorized=True)["yhat"][lead:]
    beta = model.params["beta"][0]
    additive = np.matmul(features, beta * component_cols["additive_terms"].values) * model.y_scale
    multiplicative = np.matmul(features, beta * component_cols["multiplicative_terms"].values)
    n = model.uncertainty_samples
    if not lead:
        trends = model.sample_predictive_trend_vectorized(df, n, 0)
    else:  # a few samples at a time over a long lead, each kept for the rows after it
        batch = max(1, SAMPLED_CELLS // len(df))
        trends = np.vstack([model.sample_predictive_trend_vectorized(df, min(batch, n - i), 0)[:, lead:]
                            for i in range(0, n, batch)])
    noise = np.random.normal(0, model.params["sigma_obs"][0], trends.shape) * model.y_scale
    return (trends * (1 + multiplicative) + additive + noise).T


def series_seed(series_id: str) -> int:
    """A stable seed per series, the same in training and in scoring."""
    return zlib.crc32(series_id.encode("utf-8"))


def to_json(model) -> str:
    from prophet.serialize import model_to_json

    return model_to_json(model)


def from_json(text: str):
    return from_dict(json.loads(text))


def from_dict(stored: dict):
    """A Prophet model from its JSON, parsed (``model_store.forecast`` reads a key of its own there too)."""
    prophet_class()  # quiets Prophet's loggers before it loads
    from prophet.serialize import model_from_dict

    return model_from_dict(stored)


def predict_at(model, dates: pd.Series) -> pd.Series:
    """Point forecasts at given dates (used for cross-validation folds)."""
    return model.predict(pd.DataFrame({"ds": dates}))["yhat"]
