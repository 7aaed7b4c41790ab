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


@pytest.mark.parametrize("name, history, frequency, params, overrides", [
    ("daily", daily_series(200, seed=8), "D", {}, []),
    ("daily, country holidays", daily_series(400, seed=3), "D", {}, ["model.country_holidays=US"]),
    ("hourly, multiplicative", hourly_series(24 * 14, 1), "h", {"seasonality_mode": "multiplicative"}, []),
], ids=["daily", "daily, country holidays", "hourly, multiplicative"])
def test_a_forecast_starting_after_the_history_samples_the_trend_changes_of_the_periods_between(
        fast_config, name, history, frequency, params, overrides, monkeypatch):
    """Prophet draws trend changes from the first period it is given, as if it followed the
    history: a forecast 120 periods on had the interval of the first steps (serving's as_of)."""
    fitted = model.fit(history, fast_config(*overrides), {"changepoint_prior_scale": 0.5, **params},
                       uncertainty_samples=1000)
    end = fitted.history["ds"].max()
    whole = model.predict(fitted, 132, frequency, seed=SEED)  # from the history's end, the training's own
    start = whole["ds"].iloc[119]
    later = model.predict(fitted, 12, frequency, seed=SEED, last=start)
    pd.testing.assert_series_equal(later["ds"], whole["ds"].iloc[120:].reset_index(drop=True))
    np.testing.assert_allclose(later["yhat"], whole["yhat"].iloc[120:], rtol=1e-12)  # the same points

    def width(forecast):
        return (forecast["yhat_upper"] - forecast["yhat_lower"]).to_numpy()

    # as wide as the same steps sampled from the history's end (other draws), wider than the first steps
    assert np.median(width(later) / width(whole)[120:]) == pytest.approx(1, abs=0.1)
    assert np.median(width(later) / width(whole)[:12]) > 1.3
    # over a lead sampled a few samples at a time: the same distribution
    monkeypatch.setattr(model, "SAMPLED_CELLS", 500)
    batched = model.predict(fitted, 12, frequency, seed=SEED, last=start)
    assert np.median(width(batched) / width(later)) == pytest.approx(1, abs=0.1)
    monkeypatch.setattr(model, "MAX_LEAD_PERIODS", 119)
    with pytest.raises(model.TooFarAhead, match=f"120 periods of '{frequency}' after the model's history end {end}"):
        model.predict(fitted, 12, frequency, seed=SEED, last=start)
