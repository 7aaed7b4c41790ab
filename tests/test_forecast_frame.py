"""model.predict's reduced forecast against Prophet's own predict: the same numbers, exactly."""
import numpy as np
import pandas as pd
import pytest

from conftest import daily_series
from forecasting import model

SEED = 11


def hourly_series(hours: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2024-03-01", periods=hours, freq="h")
    y = 300 + 50 * np.sin(2 * np.pi * (np.arange(hours) % 24) / 24) + 0.2 * np.arange(hours) + rng.normal(0, 5, hours)
    return pd.DataFrame({"ds": ds, "y": y})


def prophets_predict(fitted, horizon: int, frequency: str, columns=model.FORECAST_COLUMNS) -> pd.DataFrame:
    future = pd.DataFrame({"ds": model.future_dates(fitted.history["ds"].max(), horizon, frequency)})
    np.random.seed(SEED)
    return fitted.predict(future)[columns]


CASES = [
    ("hourly, additive", hourly_series(24 * 14, 0), "h", {"changepoint_prior_scale": 0.01}, []),
    ("hourly, multiplicative, 90% interval", hourly_series(24 * 14, 1), "h",
     {"seasonality_mode": "multiplicative"}, ["forecast.interval_width=0.9"]),
    ("hourly, daily order 8", hourly_series(24 * 10, 6), "h", {"daily_seasonality": 8}, []),
    ("daily, flat growth", daily_series(90, seed=2), "D", {}, ["model.growth=flat"]),
    ("daily, no seasonality", daily_series(60, seed=7), "D", {},
     ["model.weekly_seasonality=false", "model.yearly_seasonality=false", "model.daily_seasonality=false"]),
    ("daily, country holidays", daily_series(400, seed=3), "D", {"holidays_prior_scale": 1.0},
     ["model.country_holidays=US"]),
]


@pytest.mark.parametrize("name, history, frequency, params, overrides", CASES, ids=[case[0] for case in CASES])
def test_forecast_and_interval_are_prophets_own(fast_config, name, history, frequency, params, overrides):
    fitted = model.fit(history, fast_config(*overrides), params, uncertainty_samples=300)
    ours = model.predict(fitted, 24, frequency, seed=SEED)
    pd.testing.assert_frame_equal(ours, prophets_predict(fitted, 24, frequency), check_exact=True)
    assert (ours["yhat_lower"] < ours["yhat"]).all() and (ours["yhat"] < ours["yhat_upper"]).all()

    # without holidays, from arrays rather than Prophet's frames
    assert model._plain_seasonal_model(fitted) == (name != "daily, country holidays")

    # a stored model, read back as a plain Prophet model (scoring, serving)
    stored = model.from_json(model.to_json(fitted))
    pd.testing.assert_frame_equal(model.predict(stored, 24, frequency, seed=SEED), ours, check_exact=True)


def test_without_uncertainty_samples_the_bounds_are_missing(fast_config):
    fitted = model.fit(daily_series(60, seed=4), fast_config(), {}, uncertainty_samples=0)
    ours = model.predict(fitted, 7, "D", seed=SEED)
    pd.testing.assert_frame_equal(ours[["ds", "yhat"]], prophets_predict(fitted, 7, "D", ["ds", "yhat"]), check_exact=True)
    assert ours[["yhat_lower", "yhat_upper"]].isna().all().all()


def test_several_parameter_draws_sample_as_prophet_does(fast_config):
    """MCMC fits hold one row of parameters per draw; faked here with two draws."""
    fitted = model.fit(daily_series(60, seed=5), fast_config(), {}, uncertainty_samples=50)
    fitted.params = {name: np.concatenate([value, value * 1.01]) for name, value in fitted.params.items()}
    pd.testing.assert_frame_equal(
        model.predict(fitted, 7, "D", seed=SEED), prophets_predict(fitted, 7, "D"), check_exact=True
    )
