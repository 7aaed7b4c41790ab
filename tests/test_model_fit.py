"""model.fit's final fit made from arrays against Prophet's own fit: the same model."""
import json

import numpy as np
import pandas as pd
import pytest

from conftest import daily_series
from forecasting import model, prophet_map
from test_forecast_frame import hourly_series

CASES = [
    ("hourly, additive", hourly_series(24 * 14, 0), {"changepoint_prior_scale": 0.01}, []),
    ("hourly, multiplicative", hourly_series(24 * 14, 1), {"seasonality_mode": "multiplicative"}, []),
    ("hourly, daily order 8", hourly_series(24 * 10, 6), {"daily_seasonality": 8, "changepoint_range": 0.9}, []),
    ("daily, flat growth", daily_series(90, seed=2), {}, ["model.growth=flat"]),
    ("daily, no seasonality", daily_series(60, seed=7), {},
     ["model.weekly_seasonality=false", "model.yearly_seasonality=false", "model.daily_seasonality=false"]),
    ("daily, no changepoints", daily_series(40, seed=8), {"n_changepoints": 0}, []),
    ("daily, fewer rows than changepoints", daily_series(12, seed=9), {}, []),
    ("constant", daily_series(30, seed=1).assign(y=5.0), {}, []),
    ("unsorted, with a missing value", daily_series(50, seed=10).sample(frac=1, random_state=0)
     .assign(y=lambda frame: frame["y"].mask(frame.index == 7)), {}, []),
]


@pytest.mark.parametrize("name, history, params, overrides", CASES, ids=[case[0] for case in CASES])
def test_the_fit_from_arrays_is_prophets_own(fast_config, monkeypatch, name, history, params, overrides):
    config = fast_config(*overrides)
    history = history.assign(ds=history["ds"].astype("datetime64[ns]"))
    made, fit_inputs = [], []
    real, real_map_fit = model._fit_from_arrays, prophet_map.fit
    monkeypatch.setattr(model, "_fit_from_arrays", lambda *args: made.append(1) or real(*args))
    monkeypatch.setattr(prophet_map, "fit", lambda init, data: fit_inputs.append((init, data)) or real_map_fit(init, data))
    ours = model.fit(history, config, params, uncertainty_samples=100)
    assert made == [1]
    monkeypatch.setattr(model, "_fits_from_arrays", lambda *args: False)
    prophets = model.fit(history, config, params, uncertainty_samples=100)

    # the same model but for the fitted parameters: its history, scales, seasonalities, changepoints
    stored = [json.loads(model.to_json(fitted)) for fitted in (ours, prophets)]
    assert [{**fields, "params": None} for fields in stored] == [{**stored[1], "params": None}] * 2
    # the same inputs to the same fit, bit for bit
    assert len(fit_inputs) == (0 if name == "constant" else 2)  # a constant series is not fitted
    if fit_inputs:
        (our_init, our_data), (init, data) = fit_inputs
        assert our_init.keys() == init.keys() and our_data.keys() == data.keys()
        for key in init:
            np.testing.assert_array_equal(our_init[key], init[key])
        for key in data:
            np.testing.assert_array_equal(np.asarray(our_data[key]), np.asarray(data[key]))
    # the posterior mode to rounding: BLAS's sums may round differently with the arrays' alignment in memory
    for key in prophets.params:
        np.testing.assert_allclose(ours.params[key], prophets.params[key], rtol=1e-9, atol=1e-12)
    pd.testing.assert_frame_equal(model.predict(ours, 10, "D", seed=3), model.predict(prophets, 10, "D", seed=3),
                                  rtol=1e-9)


def test_holidays_and_warm_starts_are_left_to_prophet(fast_config, monkeypatch):
    monkeypatch.setattr(model, "_fit_from_arrays", lambda *args: pytest.fail("fitted from arrays"))
    history = daily_series(400, seed=3)
    model.fit(history, fast_config("model.country_holidays=US"), {}, uncertainty_samples=0)
    monkeypatch.undo()
    start = model.warm_start(model.fit(history, fast_config(), {}, uncertainty_samples=0))
    monkeypatch.setattr(model, "_fit_from_arrays", lambda *args: pytest.fail("fitted from arrays"))
    assert model.fit(history, fast_config(), {}, uncertainty_samples=0, init=start).params["k"].shape == (1, 1)


def test_a_countrys_holidays_are_worked_out_once_per_process_as_the_holidays_package_gives_them(fast_config,
                                                                                               monkeypatch):
    from prophet import forecaster, make_holidays

    model.build_model(fast_config(), {}, 0)  # sets Prophet up for the job
    looked_up = []  # each time the holidays package is asked for a country's holidays
    country_class = make_holidays.get_country_holidays_class
    monkeypatch.setattr(make_holidays, "get_country_holidays_class",
                        lambda country: looked_up.append(country) or country_class(country))
    for _ in range(3):  # years and a country no other test asks for
        forecaster.make_holidays_df(year_list=[1990, 1991], country="FR")
        forecaster.get_holiday_names("FR")
    assert looked_up == ["FR", "FR"]  # once for the frame, once for the names
    monkeypatch.undo()
    years = [2024, 2023]
    first = forecaster.make_holidays_df(year_list=years, country="US")
    pd.testing.assert_frame_equal(first, make_holidays.make_holidays_df(year_list=years, country="US"))
    first.loc[0, "holiday"] = "changed by a caller"
    again = forecaster.make_holidays_df(year_list=years, country="US")  # kept, handed out as a copy
    pd.testing.assert_frame_equal(again, make_holidays.make_holidays_df(year_list=years, country="US"))
    assert forecaster.get_holiday_names("US") == make_holidays.get_holiday_names("US")
    # a fit's holiday features, from the kept frames, are those of the holidays package
    history = daily_series(400, seed=3)
    fitted = model.fit(history, fast_config("model.country_holidays=US"), {}, uncertainty_samples=0)
    assert "Christmas Day" in set(fitted.train_holiday_names)
    assert forecaster.make_holidays_df.reused


def test_holiday_features_made_a_column_at_a_time_are_prophets_own(fast_config, monkeypatch):
    from prophet import Prophet
    from prophet.make_holidays import make_holidays_df

    from forecasting import holiday_periods, prophet_speedups

    weeks = pd.Series(pd.date_range("2021-01-04", periods=150, freq="W-MON"), name="ds")
    hours = pd.Series(pd.date_range("2023-12-20", periods=24 * 20, freq="h"), name="ds")
    days = pd.Series(pd.date_range("2023-06-01", periods=400, freq="D"), name="ds")
    cases = [  # the dates, and the holidays: a country's, as Prophet makes them; holiday_periods'; a prediction's,
        # one name without a date
        (days, make_holidays_df(year_list=[2023, 2024], country="US")),
        (hours, make_holidays_df(year_list=[2023, 2024], country="GB")),
        (days, holiday_periods.period_holidays("GB-ENG", "D", days)),
        (hours, holiday_periods.period_holidays("US", "h", hours, {"Christmas Day": [-2, 1], "New Year's Day": [0, 2]})),
        (weeks, holiday_periods.period_holidays("US", "W-MON", weeks)),
        (weeks.iloc[-20:], pd.concat([holiday_periods.period_holidays("DE", "W-MON", weeks).iloc[:40],
                                      pd.DataFrame({"holiday": ["Not seen"], "ds": [pd.NaT]})], ignore_index=True)),
    ]
    for dates, holidays in cases:
        ours, prophets = Prophet(holidays_prior_scale=3.0), Prophet(holidays_prior_scale=3.0)
        features, scales, names = prophet_speedups.holiday_features(ours, dates.reset_index(drop=True), holidays)
        expected, expected_scales, expected_names = prophets.make_holiday_features(dates.reset_index(drop=True), holidays)
        assert features.to_numpy().sum() > 0
        pd.testing.assert_frame_equal(features, expected)
        assert (scales, names) == (expected_scales, expected_names)
        pd.testing.assert_series_equal(ours.train_holiday_names, prophets.train_holiday_names)
    # the job's models make them so in their fits and forecasts
    monkeypatch.setattr(Prophet, "make_holiday_features", lambda *args: pytest.fail("Prophet's loop"))
    weekly = pd.DataFrame({"ds": weeks, "y": np.linspace(100, 200, len(weeks))})
    fitted = model.fit(weekly, fast_config("model.country_holidays=US", "forecast.frequency=W-MON"), {}, 0)
    assert "Christmas Day" in set(fitted.train_holiday_names) and len(model.predict(fitted, 13, "W-MON", 0)) == 13
