"""Prophet construction, fitting and forecasting for one series (pure pandas)."""
from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from forecasting.config import JobConfig

FORECAST_COLUMNS = ["ds", "yhat", "yhat_lower", "yhat_upper"]


def _prophet_class():
    # Prophet and cmdstanpy log every fit at INFO; when L-BFGS stops early they
    # log an error and Prophet retries with Newton by itself (a fit that really
    # fails raises). prophet.plot logs an ERROR when plotly is absent. None of
    # it is news to the user of this job.
    logging.getLogger("cmdstanpy").setLevel(logging.CRITICAL)
    logging.getLogger("prophet").setLevel(logging.WARNING)
    logging.getLogger("prophet.models").setLevel(logging.ERROR)
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
    from prophet import Prophet

    return Prophet


def build_model(config: JobConfig, params: dict[str, Any], uncertainty_samples: int):
    """A Prophet model with the job's fixed settings and the tuned ``params``."""
    settings = config.model
    model = _prophet_class()(
        growth=settings.growth,
        yearly_seasonality=settings.yearly_seasonality,
        weekly_seasonality=settings.weekly_seasonality,
        daily_seasonality=settings.daily_seasonality,
        interval_width=config.forecast.interval_width,
        uncertainty_samples=uncertainty_samples,
        **params,
    )
    if settings.country_holidays:
        model.add_country_holidays(country_name=settings.country_holidays)
    return model


def fit(history: pd.DataFrame, config: JobConfig, params: dict[str, Any], uncertainty_samples: int):
    """Fit on ``history`` (columns ``ds``, ``y``)."""
    model = build_model(config, params, uncertainty_samples)
    model.fit(history[["ds", "y"]])
    return model


def predict(model, horizon: int, frequency: str) -> pd.DataFrame:
    """Forecast ``horizon`` periods after the end of the model's history."""
    future = model.make_future_dataframe(periods=horizon, freq=frequency, include_history=False)
    forecast = model.predict(future)
    if model.uncertainty_samples == 0:
        # without sampling Prophet reports the point forecast as both bounds
        forecast["yhat_lower"] = forecast["yhat_upper"] = float("nan")
    return forecast[FORECAST_COLUMNS].reset_index(drop=True)


def predict_at(model, dates: pd.Series) -> pd.Series:
    """Point forecasts at given dates (used for cross-validation folds)."""
    return model.predict(pd.DataFrame({"ds": dates}))["yhat"]
