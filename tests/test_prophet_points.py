"""Cross-validation's point forecasts from arrays against Prophet's own fit and predict."""
import numpy as np
import pandas as pd
import pytest

from conftest import daily_series
from forecasting import model, prophet_map, prophet_points, tuning


def hourly_series(hours: int, seed: int = 0) -> pd.DataFrame:
    """Hourly data with a daily and a weekly cycle, a change of slope and noise."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2024-03-01", periods=hours, freq="h")
    hour, day = np.arange(hours) % 24, np.arange(hours) // 24
    y = 500 + 80 * np.sin(2 * np.pi * hour / 24) + 30 * (day % 7 >= 5) + rng.normal(0, 8, hours)
    y[hours // 2:] += 0.4 * np.arange(hours - hours // 2)
    return pd.DataFrame({"ds": ds, "y": y})


def periodic_series(frequency: str, periods: int, start: str, seed: int) -> pd.DataFrame:
    """A series at ``frequency`` with a yearly cycle, a trend and noise."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range(start, periods=periods, freq=frequency)
    y = 200 + 40 * np.sin(2 * np.pi * ds.dayofyear / 365.25) + 0.5 * np.arange(periods) + rng.normal(0, 6, periods)
    return pd.DataFrame({"ds": ds, "y": y})


def prophets_forecast(config, train, dates, params):
    return model.predict_at(model.fit(train, config, params, 0), dates).to_numpy()


CASES = [
    ("hourly, additive", hourly_series(24 * 21), {"changepoint_prior_scale": 0.01}, []),
    ("hourly, multiplicative", hourly_series(24 * 21, seed=1),
     {"seasonality_mode": "multiplicative", "changepoint_range": 0.9, "seasonality_prior_scale": 0.5}, []),
    ("hourly, flat growth", hourly_series(24 * 15, seed=2), {"changepoint_prior_scale": 0.2}, ["model.growth=flat"]),
    ("daily, weekly cycle on", daily_series(60, seed=3), {"changepoint_prior_scale": 0.3}, []),
    # 10 days: too short for a weekly cycle and too coarse for a daily one, so no seasonality at all
    ("daily, no seasonality", daily_series(10, seed=4), {}, []),
    ("daily, no changepoints", daily_series(40, seed=5), {"n_changepoints": 0}, []),
    ("daily, more changepoints than rows", daily_series(20, seed=6), {"n_changepoints": 30}, []),
    ("daily, weekly order given", daily_series(30, seed=7), {}, ["model.weekly_seasonality=3"]),
    # growth and seasonalities chosen by the tuning, over the model settings
    ("hourly, tuned flat growth and orders", hourly_series(24 * 15, seed=8),
     {"growth": "flat", "daily_seasonality": 6, "weekly_seasonality": False}, ["model.weekly_seasonality=auto"]),
    ("daily over two years, yearly cycle on", daily_series(800, seed=10), {}, ["model.yearly_seasonality=auto"]),
    # a week apart: too coarse for the weekly cycle
    ("weekly data", daily_series(420, seed=11).iloc[::7].reset_index(drop=True), {}, []),
    # a country's holidays: the held-out week holds 4 July, the history New Year and its observed day
    ("daily, US holidays", daily_series(400, seed=12, start="2023-06-01"), {"holidays_prior_scale": 5.0},
     ["model.country_holidays=US"]),
    ("daily, US holidays, multiplicative", daily_series(400, seed=13, start="2023-06-01"),
     {"seasonality_mode": "multiplicative"}, ["model.country_holidays=US"]),
    # every hour of a holiday is the holiday; the held-out week is in a year the history barely saw
    ("hourly, US holidays over New Year", hourly_series(24 * 21).assign(ds=lambda f: f["ds"] + pd.Timedelta(days=300)),
     {}, ["model.country_holidays=US"]),
    # a history in 2020 forecast into 2021: Juneteenth, a holiday since 2021, is no feature; GB's names differ
    ("daily, holidays first seen after the history", daily_series(200, seed=14, start="2020-06-20"), {},
     ["model.country_holidays=US"]),
    ("daily, GB holidays", daily_series(400, seed=15, start="2023-06-01"), {}, ["model.country_holidays=GB"]),
    ("daily, a region's holidays", daily_series(400, seed=20, start="2023-06-01"), {}, ["model.country_holidays=GB-ENG"]),
    # days before and after a holiday with effects of their own (Prophet's windows); at weeks, the weeks they touch
    ("daily, holiday windows", daily_series(500, seed=21, start="2023-01-01"), {"seasonality_mode": "multiplicative"},
     ["model.country_holidays=US", "model.holiday_windows={Christmas Day: [-3, 1], Thanksgiving Day: [0, 1]}"]),
    ("hourly, a holiday window", hourly_series(24 * 21).assign(ds=lambda f: f["ds"] + pd.Timedelta(days=290)), {},
     ["model.country_holidays=US", "model.holiday_windows={Christmas Day: [-2, 1]}"]),
    ("weekly, a month before Eid", periodic_series("W-MON", 160, "2021-01-04", seed=22), {},
     ["model.country_holidays=ID", "forecast.frequency=W-MON", "model.holiday_windows={Eid al-Fitr: [-30, 0]}"]),
    # periods longer than a day: each holiday in the period that holds it (holiday_periods)
    ("weekly, US holidays by week", periodic_series("W-MON", 160, "2021-01-04", seed=16), {"holidays_prior_scale": 5.0},
     ["model.country_holidays=US", "forecast.frequency=W-MON", "model.yearly_seasonality=auto"]),
    ("7-day steps, GB holidays, multiplicative", periodic_series("7D", 150, "2021-01-06", seed=17),
     {"seasonality_mode": "multiplicative"}, ["model.country_holidays=GB", "forecast.frequency=7D"]),
    ("monthly, GB holidays by month", periodic_series("MS", 60, "2019-01-01", seed=18), {},
     ["model.country_holidays=GB", "forecast.frequency=MS", "model.yearly_seasonality=auto"]),
    ("quarterly, DE holidays by quarter", periodic_series("QS", 40, "2014-01-01", seed=19), {},
     ["model.country_holidays=DE", "forecast.frequency=QS"]),
    # yearly orders above what the periods tell apart, fitted as that order (6 for months, 2 for quarters)
    ("monthly, yearly order 15 tuned", periodic_series("MS", 60, "2019-01-01", seed=23), {"yearly_seasonality": 15},
     ["forecast.frequency=MS"]),
    ("quarterly, yearly cycle on", periodic_series("QS", 40, "2014-01-01", seed=24), {"yearly_seasonality": True},
     ["forecast.frequency=QS"]),
]


@pytest.mark.parametrize("name, history, params, overrides", CASES, ids=[case[0] for case in CASES])
def test_point_forecasts_are_prophets_own(fast_config, name, history, params, overrides):
    config = fast_config(*overrides)
    assert prophet_points.supports(config, params)
    train, dates = history.iloc[:-7], history["ds"].iloc[-7:]
    ours = prophet_points.point_forecast(train, dates, config, params)
    np.testing.assert_allclose(ours, prophets_forecast(config, train, dates, params), rtol=1e-9)


def test_gaps_constant_series_and_unsorted_dates_as_prophet_handles_them(fast_config):
    config = fast_config()
    history = daily_series(50, seed=8)
    history.loc[[5, 17, 30], "y"] = np.nan  # left out of the fit, as Prophet leaves them
    train, dates = history.iloc[:-7], history["ds"].iloc[-7:]
    shuffled = train.sample(frac=1.0, random_state=0)
    expected = prophets_forecast(config, train, dates, {})
    np.testing.assert_allclose(prophet_points.point_forecast(shuffled, dates[::-1], config, {}), expected, rtol=1e-9)

    constant = train.assign(y=42.0)
    np.testing.assert_allclose(
        prophet_points.point_forecast(constant, dates, config, {}), prophets_forecast(config, constant, dates, {}),
        rtol=1e-12,
    )
    with pytest.raises(ValueError, match="less than 2"):
        prophet_points.point_forecast(train.iloc[:1], dates, config, {})


def test_models_it_does_not_compute_are_left_to_prophet(fast_config, monkeypatch):
    assert not prophet_points.supports(fast_config("model.optimizer=stan"), {})
    assert not prophet_points.supports(fast_config(), {"seasonality_mode": "additve"})
    assert not prophet_points.supports(fast_config(), {"changepoint_range": 1.5})
    assert not prophet_points.supports(fast_config(), {"growth": "logistic"})
    # and tuning's folds go by it: Stan's fits are Prophet models
    calls, real_fit = [], model.fit
    monkeypatch.setattr(prophet_points, "point_forecast", lambda *args, **kwargs: pytest.fail("computed from arrays"))
    monkeypatch.setattr(model, "fit", lambda *args, **kwargs: calls.append(args) or real_fit(*args, **kwargs))
    history = daily_series(60, seed=9)
    train, dates = history.iloc[:-7], history["ds"].iloc[-7:]
    config = fast_config("model.optimizer=stan")
    forecast = tuning.prophet_forecaster(config, {})(train, dates)
    assert len(calls) == 1
    np.testing.assert_allclose(forecast, prophets_forecast(config, train, dates, {}), rtol=1e-9)


def test_tuning_fits_no_prophet_model_for_its_folds_but_falls_back_to_one(fast_config, monkeypatch):
    config = fast_config()
    history = daily_series(60, seed=9)
    train, dates = history.iloc[:-7], history["ds"].iloc[-7:]
    fits = []
    real_fit = model.fit
    monkeypatch.setattr(model, "fit", lambda *args, **kwargs: fits.append(args) or real_fit(*args, **kwargs))

    forecast = tuning.prophet_forecaster(config, {"changepoint_prior_scale": 0.1})(train, dates)
    assert fits == []
    np.testing.assert_allclose(forecast, prophets_forecast(config, train, dates, {"changepoint_prior_scale": 0.1}),
                               rtol=1e-9)

    def gives_up(*args):
        raise prophet_map.NotConverged("for the test")

    monkeypatch.setattr(prophet_points, "point_forecast", gives_up)
    fits.clear()
    fallback = tuning.prophet_forecaster(config, {"changepoint_prior_scale": 0.1})(train, dates)
    assert len(fits) == 1 and fits[0][1].model.optimizer == "stan"  # the same data would give up in process too
    np.testing.assert_allclose(fallback, forecast, rtol=0.02)  # Stan's optimiser stops near the mode


def test_one_folds_arrays_serve_every_parameter_set_as_prophet_would(fast_config):
    # the seasonalities differ between the parameter sets: the arrays keep each one's features apart
    config = fast_config("model.weekly_seasonality=auto")
    history = hourly_series(24 * 17, seed=12)  # 16 days of training: the weekly cycle on, unless turned off
    train, dates = history.iloc[:-24], history["ds"].iloc[-24:]
    arrays = prophet_points.fold_arrays(train, dates)
    for params in ({"daily_seasonality": 8}, {"daily_seasonality": 4, "seasonality_mode": "multiplicative"},
                   {"daily_seasonality": 8, "weekly_seasonality": False}, {"daily_seasonality": 8}):
        shared = prophet_points.point_forecast(train, dates, config, params, arrays)
        np.testing.assert_array_equal(shared, prophet_points.point_forecast(train, dates, config, params))
        np.testing.assert_allclose(shared, prophets_forecast(config, train, dates, params), rtol=1e-9)
    assert len(arrays.features) == 3


def test_tuning_prepares_each_folds_arrays_once_for_all_its_evaluations(fast_config, monkeypatch):
    config = fast_config("tuning.max_evals=4", "cross_validation.folds=2")
    made, real = [], prophet_points.fold_arrays
    monkeypatch.setattr(prophet_points, "fold_arrays", lambda train, dates: made.append(len(train)) or real(train, dates))
    result = tuning.tune(daily_series(80, seed=13), config)
    assert result.evaluations == 4 and not result.failed_evaluations
    assert sorted(made) == sorted(result.fold_predictions)  # one per fold, whatever the evaluations


def test_the_arrays_scale_a_series_below_zero_as_prophet_does():
    # Prophet's absmax scaling: the largest absolute value, not the largest value (here negative).
    # model.fit's own fast path takes the arrays' scale too, so its forecasts cannot tell.
    from prophet import Prophet

    history = daily_series(53, seed=21).assign(y=lambda f: f["y"] - 400)
    prophet = Prophet()
    prophet.setup_dataframe(history.copy(), initialize_scales=True)
    assert prophet_points.fold_arrays(history, history["ds"].iloc[:0]).y_scale == prophet.y_scale > 0


def test_two_weeks_of_history_to_the_day_turn_the_weekly_cycle_on_as_prophet_does(fast_config):
    config = fast_config("model.weekly_seasonality=auto")
    history = daily_series(22, seed=22)  # 15 days to train on: a span of exactly two weeks
    train, dates = history.iloc[:-7], history["ds"].iloc[-7:]
    ours = prophet_points.point_forecast(train, dates, config, {})
    prophets = model.predict_at(model.fit(train, config, {}, 0), dates).to_numpy()
    np.testing.assert_allclose(ours, prophets, rtol=1e-9)


def test_a_yearly_order_above_what_the_periods_tell_apart_is_fitted_as_that_order(fast_config):
    from forecasting.periods import yearly_harmonics

    assert [yearly_harmonics(f) for f in ("MS", "ME", "QS", "SMS", "W-SUN", "7D", "YS", "D", "B", "h")] == [
        6, 6, 2, 12, 26, 26, 0, None, None, None]
    # passengers a month: a yearly cycle and a level of about two million
    rng = np.random.default_rng(3)
    ds = pd.date_range("2008-01-01", periods=96, freq="MS")
    y = 2e6 * (1 + 0.15 * np.sin(2 * np.pi * (ds.month.to_numpy() - 3) / 12) + 0.002 * np.arange(96)) + rng.normal(
        0, 2e4, 96)
    history, config = pd.DataFrame({"ds": ds, "y": y}), fast_config("forecast.frequency=MS")
    for setting in (15, True, "auto"):
        fitted = model.fit(history, config, {"yearly_seasonality": setting}, 0)
        assert fitted.seasonalities["yearly"]["fourier_order"] == 6
        parts = fitted.predict(history[["ds"]])
        # the parts say why: a trend at the level, a yearly cycle about 0 over a year's months
        assert abs(parts["yearly"].tail(12).mean()) < 0.02 * y.mean()
        assert parts["trend"].iloc[-1] == pytest.approx(y[-12:].mean(), rel=0.05)
    assert model.fit(history, config, {"yearly_seasonality": 4}, 0).seasonalities["yearly"]["fourier_order"] == 4
    assert "yearly" not in model.fit(history, fast_config("forecast.frequency=YS"), {"yearly_seasonality": 3},
                                     0).seasonalities  # a year a period: no cycle within it
    # under two years, auto leaves it out, as Prophet does
    assert "yearly" not in model.fit(history.head(20), config, {}, 0).seasonalities
    # the tuning tries each order the periods tell apart once
    searched = fast_config("forecast.frequency=MS", "tuning.search_space.yearly_seasonality={distribution: choice, "
                           "values: [4, 10, 15, auto, true, 1]}")
    assert tuning.searched_space(searched, history)["yearly_seasonality"].values == [4, 6, "auto", 1]  # true: 10
    # yearly data: no seasonality to scale or mode to set, so neither is searched (a small budget goes further)
    headcount = pd.DataFrame({"ds": pd.date_range("2005-01-01", periods=21, freq="YS"), "y": np.arange(21.0)})
    yearly = fast_config("forecast.frequency=YS", "model.yearly_seasonality=auto")  # auto: on for 20 years, cut to none
    assert set(tuning.searched_space(yearly, headcount)) == {"changepoint_prior_scale"}
    # holidays take the seasonalities' mode: it stays; a yearly order searched is a seasonality that may be on
    with_holidays = fast_config("forecast.frequency=YS", "model.yearly_seasonality=auto", "model.country_holidays=DE")
    assert set(tuning.searched_space(with_holidays, headcount)) == {"changepoint_prior_scale", "seasonality_mode",
                                                                     "holidays_prior_scale"}
    searched_order = fast_config("forecast.frequency=YS", "tuning.search_space.yearly_seasonality={distribution: "
                                 "choice, values: [false, 2]}")
    assert "seasonality_prior_scale" in tuning.searched_space(searched_order, headcount)
    monthly = fast_config("forecast.frequency=MS", "model.yearly_seasonality=auto")
    assert set(tuning.searched_space(monthly, history)) == {
        "changepoint_prior_scale", "seasonality_prior_scale", "seasonality_mode"}
    weekly_on = fast_config("model.weekly_seasonality=true", "model.yearly_seasonality=false")  # asked for: it is there
    assert "seasonality_prior_scale" in tuning.searched_space(weekly_on, headcount)
    daily = fast_config("tuning.search_space.yearly_seasonality={distribution: choice, values: [4, 10, 15, true, 1]}")
    assert tuning.searched_space(daily, daily_series(800))["yearly_seasonality"].values == [4, 10, 15, True, 1]
