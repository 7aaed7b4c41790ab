"""Baseline models, their season lengths and the stored-model round trip."""
import json

import numpy as np
import pandas as pd
import pytest
from pandas.tseries.frequencies import to_offset

from conftest import daily_series
from forecasting import baselines, metrics, model, model_store


@pytest.mark.parametrize("frequency, season", [
    ("h", 24), ("15min", 96), ("D", 7), ("W-MON", 52), ("MS", 12), ("QS", 4), ("YS", 1),
    ("BMS", 12), ("BME", 12), ("SME", 24), ("BQS", 4), ("BQE-MAR", 4),  # as their calendar periods
    ("B", 5), ("ME", 12), ("QE", 4), ("SMS", 24), ("W-SUN", 52),  # a business week; ends as their starts
])
def test_season_length_follows_the_frequency(frequency, season):
    assert baselines.season_length(frequency) == season


@pytest.mark.parametrize("multiple, base, n", [
    ("24h", "D", 1), ("1440min", "D", 1), ("7D", "W", 1), ("168h", "W", 1), ("14D", "W", 2), ("2W-SUN", "W", 2),
    ("2h", "h", 2), ("3MS", "MS", 3), ("2QS", "QS", 2), ("2SMS", "SMS", 2),
])
def test_a_multiple_of_a_period_has_its_season_over_n(multiple, base, n):
    # 24h and 7D were given no season (1), so seasonal naive was naive under its own name
    assert baselines.season_length(multiple) == baselines.season_length(base) // n > 1


@pytest.mark.parametrize("frequency", ["7h", "2D", "36h", "21D", "5MS", "2B"])
def test_a_step_that_does_not_fit_its_cycle_a_whole_number_of_times_has_no_season(frequency):
    assert baselines.season_length(frequency) == 1


def test_seasonal_naive_of_weeks_written_in_days_repeats_the_year():
    ds = pd.date_range("2020-01-06", periods=120, freq="7D")
    history = pd.DataFrame({"ds": ds, "y": np.random.default_rng(8).normal(50, 5, len(ds))})
    y = history["y"].to_numpy()
    forecast = baselines.seasonal_naive(history, 3, "7D", 0.8)
    np.testing.assert_allclose(forecast["yhat"], y[-52:-49])  # the same weeks a year earlier, not y[-1]
    pd.testing.assert_frame_equal(forecast, baselines.seasonal_naive(history, 3, "W-MON", 0.8))
    daily = daily_series(21, seed=3)
    pd.testing.assert_frame_equal(baselines.seasonal_naive(daily, 9, "24h", 0.8),
                                  baselines.seasonal_naive(daily, 9, "D", 0.8))


@pytest.mark.parametrize("name, frequency, cycle", [("seasonal_naive", "D", 7), ("weekly_naive", "h", 168)])
def test_naive_instead_says_when_a_cycle_baseline_forecasts_the_last_value(name, frequency, cycle):
    step = pd.tseries.frequencies.to_offset(frequency)
    ds = pd.date_range("2024-01-01", periods=2 * cycle, freq=step)
    history = pd.DataFrame({"ds": ds, "y": np.random.default_rng(cycle).normal(100, 10, len(ds))})
    forecast = baselines.BASELINES[name]
    assert baselines.naive_instead(name, history, frequency) is None
    assert not np.allclose(forecast(history, 3, frequency, 0.8)["yhat"], history["y"].iloc[-1])
    short = history.iloc[1:]  # one period short of two cycles
    note = baselines.naive_instead(name, short, frequency)
    assert note and name in note and str(2 * cycle - 1) in note
    pd.testing.assert_frame_equal(forecast(short, 3, frequency, 0.8), baselines.naive(short, 3, frequency, 0.8))
    # periods count, not rows: a gap inside two cycles leaves the cycle to repeat
    assert baselines.naive_instead(name, history.drop(index=[cycle]), frequency) is None
    assert "no cycle" in baselines.naive_instead(name, history, "2D" if name == "seasonal_naive" else "W")
    assert baselines.naive_instead("drift", short, frequency) is None


def test_a_stored_seasonal_naive_too_short_for_its_season_forecasts_the_naive_numbers_again():
    history = daily_series(10, seed=9)  # under two weeks: seasonal naive repeats the last value
    assert baselines.naive_instead("seasonal_naive", history, "D")
    stored = model_store.dump("seasonal_naive", history)
    later = history["ds"].max() + pd.Timedelta(days=3)
    again = model_store.forecast("seasonal_naive", stored, later, 4, "D", 0.8, seed=1)
    pd.testing.assert_frame_equal(again, baselines.forecast_until("naive", history, later, 4, "D", 0.8))


def test_naive_seasonal_naive_and_drift_points():
    history = daily_series(21, seed=2)
    y = history["y"].to_numpy()
    naive = baselines.naive(history, 10, "D", 0.8)
    np.testing.assert_allclose(naive["yhat"], y[-1])
    seasonal = baselines.seasonal_naive(history, 10, "D", 0.8)
    np.testing.assert_allclose(seasonal["yhat"], np.concatenate([y[-7:], y[-7:-4]]))
    drift = baselines.drift(history, 3, "D", 0.8)
    slope = (y[-1] - y[0]) / 20
    np.testing.assert_allclose(drift["yhat"], y[-1] + slope * np.arange(1, 4))
    assert list(naive["ds"]) == list(pd.date_range(history["ds"].max(), periods=11, freq="D")[1:])


def test_baselines_count_periods_not_rows_across_a_gap():
    # a day missing (cleaning.gaps: keep) put the weekly pattern a day out and bent the drift
    weekdays = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=35), "y": np.arange(35.0) % 7})
    gappy = weekdays.drop(index=31)  # Thursday of the last week
    seasonal = baselines.seasonal_naive(gappy, 7, "D", 0.8)
    assert seasonal["yhat"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # Thursday from the week before
    assert seasonal["ds"].min() == pd.Timestamp("2024-02-05")
    line = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=20), "y": np.arange(20.0)}).drop(index=range(5, 15))
    np.testing.assert_allclose(baselines.drift(line, 3, "D", 0.8)["yhat"], [20.0, 21.0, 22.0])
    # and MASE's scale: differences between periods a season apart, none across a gap
    rising = weekdays.assign(y=np.arange(35.0)).drop(index=31)  # a week apart, always 7 more
    assert metrics.mase_scale(baselines.on_grid(rising, "D"), 7) == 7.0


@pytest.mark.parametrize("frequency, week", [("h", 168), ("30min", 336), ("D", 7), ("W-MON", 1), ("MS", 1)])
def test_week_length_follows_the_frequency(frequency, week):
    assert baselines.week_length(frequency) == week


def test_weekly_naive_repeats_the_same_hour_one_week_earlier():
    ds = pd.date_range("2026-01-05", periods=3 * 168, freq="h")
    y = np.random.default_rng(3).normal(100, 10, len(ds))
    history = pd.DataFrame({"ds": ds, "y": y})
    weekly = baselines.weekly_naive(history, 200, "h", 0.8)
    np.testing.assert_allclose(weekly["yhat"], np.concatenate([y[-168:], y[-168:-136]]))
    short = history.tail(300)  # under two weeks: the last value
    np.testing.assert_allclose(baselines.weekly_naive(short, 5, "h", 0.8)["yhat"], y[-1])


def test_intervals_hold_the_point_and_widen_with_the_horizon():
    forecast = baselines.naive(daily_series(30), 5, "D", 0.8)
    width = (forecast["yhat_upper"] - forecast["yhat_lower"]).to_numpy()
    assert (forecast["yhat_lower"] < forecast["yhat"]).all() and (np.diff(width) > 0).all()
    wider = baselines.naive(daily_series(30), 5, "D", 0.95)
    assert ((wider["yhat_upper"] - wider["yhat_lower"]).to_numpy() > width).all()


def test_intervals_widen_as_a_random_walks_with_the_square_root_of_the_steps_and_need_five_errors():
    naive = baselines.naive(daily_series(30), 9, "D", 0.8)
    width = (naive["yhat_upper"] - naive["yhat_lower"]).to_numpy()
    assert width[3] / width[0] == pytest.approx(2.0) and width[8] / width[0] == pytest.approx(3.0)
    # seasonal naive: each whole season ahead one more step of its seasonal random walk
    seasonal = baselines.seasonal_naive(daily_series(30), 21, "D", 0.8)
    width = (seasonal["yhat_upper"] - seasonal["yhat_lower"]).to_numpy()
    assert width[6] == pytest.approx(width[0]) and width[7] / width[0] == pytest.approx(np.sqrt(2))
    assert width[20] / width[0] == pytest.approx(np.sqrt(3))
    # a few errors say nothing of the spread: no interval (two seasonal differences that were 0 gave one of no width)
    for days in (2, 5):
        short = baselines.naive(daily_series(days), 3, "D", 0.8)
        assert short["yhat_lower"].isna().all() and short["yhat_upper"].isna().all()
    assert baselines.naive(daily_series(6), 3, "D", 0.8)["yhat_lower"].notna().all()
    weeks = pd.date_range("2024-01-01", periods=120, freq="7D")
    gappy = pd.DataFrame({"ds": weeks[[0, 10, 52, 62, 104, 110]], "y": [111.0, 95.0, 111.0, 95.0, 111.0, 98.0]})
    seasonal = baselines.seasonal_naive(gappy, 4, "7D", 0.8)
    assert seasonal["yhat"].notna().all() and seasonal["yhat_lower"].isna().all()


def test_a_period_missing_from_the_last_season_comes_from_the_seasons_before_then_the_last_value():
    days = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=21), "y": 10.0 * np.arange(21)})
    week_before = days[days["ds"] != "2024-01-16"]  # day 15, the 2nd of the last week: day 8's value
    two_before = week_before[week_before["ds"] != "2024-01-09"]  # and day 8: day 1's
    never = two_before[two_before["ds"] != "2024-01-02"]  # and day 1: the last value, 200
    forecasts = [baselines.seasonal_naive(frame, 7, "D", 0.8)["yhat"].tolist() for frame in (week_before, two_before,
                                                                                          never)]
    assert [forecast[1] for forecast in forecasts] == [80.0, 10.0, 200.0]
    assert forecasts[0][0] == 140.0 and forecasts[0][2:] == [160.0, 170.0, 180.0, 190.0, 200.0]
    # two seasons exactly, one missing from the last: the first season's
    fortnight = days.iloc[:14]
    assert baselines.seasonal_naive(fortnight[fortnight["ds"] != "2024-01-10"], 7, "D", 0.8)["yhat"][2] == 20.0


def test_a_gaps_differences_are_no_errors_of_zero_in_the_interval():
    # days 10 and 20 missing: their one-step differences are undefined, not zero, so the
    # spread is the root mean square of the 25 defined ones (each gap takes two of the 29)
    history = daily_series(30).drop(index=[10, 20])
    forecast = baselines.naive(history, 1, "D", 0.8)
    y = history.set_index("ds")["y"].reindex(pd.date_range("2024-01-01", periods=30)).to_numpy()
    defined = np.diff(y)[np.isfinite(np.diff(y))]
    assert len(defined) == 25
    z = 1.2815515655446004  # the 90th percentile of the standard normal
    np.testing.assert_allclose((forecast["yhat_upper"] - forecast["yhat"]).iloc[0], z * np.sqrt(np.mean(defined ** 2)))


def test_an_interval_covers_the_bias_of_a_trend_not_only_the_noise_about_it():
    # 10 weeks of a weekly cycle on a steady rise of 2 a day, with a little noise: every
    # seasonal difference is about 14, so its spread about the mean is small, while the
    # forecast (last week repeated) falls behind by 14 a week
    ds = pd.date_range("2024-01-01", periods=70, freq="D")
    noise = np.random.default_rng(5).normal(0, 0.5, 70)
    history = pd.DataFrame({"ds": ds, "y": 2.0 * np.arange(70) + 10 * (ds.dayofweek == 5) + noise})
    forecast = baselines.seasonal_naive(history, 7, "D", 0.8)
    differences = history["y"].to_numpy()[7:] - history["y"].to_numpy()[:-7]
    z = 1.2815515655446004  # the 90th percentile of the standard normal
    half_width = (forecast["yhat_upper"] - forecast["yhat"]).to_numpy()
    np.testing.assert_allclose(half_width, z * np.sqrt(np.mean(differences ** 2)))  # one week: no widening yet
    actual = 2.0 * np.arange(70, 77) + 10 * (ds[-7:] + pd.Timedelta(days=7)).dayofweek.isin([5])
    assert ((actual >= forecast["yhat_lower"]) & (actual <= forecast["yhat_upper"])).all()
    # drift's slope is fitted from the same differences: a degree of freedom fewer
    # and widens with the slope's own error too: h steps ahead by sqrt(h (1 + h / T)), T = 69 steps fitted
    drift = baselines.drift(history, 7, "D", 0.8)
    steps = np.diff(history["y"].to_numpy())
    residuals = steps - (history["y"].iloc[-1] - history["y"].iloc[0]) / 69
    h = np.arange(1, 8)
    expected = z * np.sqrt(np.sum(residuals ** 2) / 68) * np.sqrt(h * (1 + h / 69))
    np.testing.assert_allclose((drift["yhat_upper"] - drift["yhat"]).to_numpy(), expected)


def test_forecast_until_a_later_date_continues_the_same_forecast():
    history = daily_series(30, seed=4)
    direct = baselines.seasonal_naive(history, 12, "D", 0.8)
    later = baselines.forecast_until("seasonal_naive", history, history["ds"].max() + pd.Timedelta(days=5), 7, "D", 0.8)
    pd.testing.assert_frame_equal(later, direct.iloc[5:].reset_index(drop=True))


def test_stored_models_forecast_exactly_as_when_they_were_made(fast_config):
    history = daily_series(40, seed=5)
    stored = model_store.dump("drift", history)
    again = model_store.forecast("drift", stored, None, 7, "D", 0.8, seed=1)
    pd.testing.assert_frame_equal(again, baselines.drift(history, 7, "D", 0.8))

    fitted = model.fit(history, fast_config(), {}, uncertainty_samples=50)
    original = model.predict(fitted, 7, "D", seed=3)
    restored = model_store.forecast("prophet", model_store.dump("prophet", fitted), None, 7, "D", 0.8, seed=3)
    pd.testing.assert_frame_equal(restored, original)


def test_a_stored_model_of_several_day_steps_stays_on_its_own_grid():
    mondays = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=4, freq="7D"), "y": [1.0, 2.0, 3.0, 4.0]})
    scored = model_store.forecast("naive", model_store.dump("naive", mondays), pd.Timestamp("2024-01-31"), 2, "7D",
                                  0.8, seed=1)  # a Wednesday, in the week of Monday the 29th
    assert scored["ds"].tolist() == list(pd.to_datetime(["2024-02-05", "2024-02-12"]))


def test_a_stored_model_of_steps_below_a_second_keeps_its_times():
    ticks = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=6, freq="250ms"), "y": np.arange(6.0)})
    stored = model_store.dump("naive", ticks)
    again = model_store.forecast("naive", stored, None, 2, "250ms", 0.8, seed=1)
    assert again["ds"].tolist() == list(pd.date_range("2024-01-01 00:00:01.500", periods=2, freq="250ms"))
    pd.testing.assert_frame_equal(again, baselines.naive(ticks, 2, "250ms", 0.8))


def test_every_kind_of_stored_model_starts_after_the_period_of_as_of_and_never_inside_its_history(fast_config):
    history = daily_series(40, seed=7)
    fitted = model.fit(history, fast_config(), {}, uncertainty_samples=50)
    end = history["ds"].max()
    for name, stored in (("prophet", model_store.dump("prophet", fitted)), ("naive", model_store.dump("naive", history)),
                         ("ensemble", model_store.dump("ensemble", (fitted, history)))):
        early = model_store.forecast(name, stored, end - pd.Timedelta(days=10), 2, "D", 0.8, seed=1)
        assert early["ds"].tolist() == [end + pd.Timedelta(days=1), end + pd.Timedelta(days=2)], name
        midday = model_store.forecast(name, stored, end + pd.Timedelta(days=3, hours=12), 2, "D", 0.8, seed=1)
        assert midday["ds"].tolist() == [end + pd.Timedelta(days=4), end + pd.Timedelta(days=5)], name


def test_every_kind_of_stored_model_gives_back_the_history_it_was_fitted_on(fast_config):
    # what explains a past forecast once the input has changed (a corrected month, a later one appended)
    history = daily_series(40, seed=8)
    fitted = model.fit(history, fast_config(), {}, uncertainty_samples=50)
    for name, stored in (("prophet", model_store.dump("prophet", fitted)), ("drift", model_store.dump("drift", history)),
                         ("ensemble", model_store.dump("ensemble", (fitted, history)))):
        pd.testing.assert_frame_equal(model_store.fitted_history(name, stored), history[["ds", "y"]],
                                      check_dtype=False, obj=name)


def test_the_ensemble_is_stored_with_both_parts_and_averages_them(fast_config):
    history = daily_series(40, seed=6)
    fitted = model.fit(history, fast_config(), {}, uncertainty_samples=50)
    stored = model_store.dump("ensemble", (fitted, history))
    later = history["ds"].max() + pd.Timedelta(days=2)
    again = model_store.forecast("ensemble", stored, later, 5, "D", 0.8, seed=9)
    prophet = model.predict(fitted, 5, "D", seed=9, last=later)
    seasonal = baselines.forecast_until("seasonal_naive", history, later, 5, "D", 0.8)
    for column in ("yhat", "yhat_lower", "yhat_upper"):  # each the plain mean of the parts'
        np.testing.assert_allclose(again[column], (prophet[column].to_numpy() + seasonal[column].to_numpy()) / 2)
    assert again["ds"].tolist() == prophet["ds"].tolist() == seasonal["ds"].tolist()
    assert again["ds"].min() == later + pd.Timedelta(days=1)


@pytest.mark.parametrize("frequency", ["h", "15min", "D", "7D"])
@pytest.mark.parametrize("name", sorted(baselines.BASELINES))
def test_points_counted_in_steps_are_the_forecast_at_those_dates(name, frequency, monkeypatch):
    """predict_at's points for fixed-length periods, without dates or frames, against
    the whole forecast looked up at the dates: on a gappy history, at dates off the
    grid (NaN), inside the history (NaN) and beyond the next season."""
    step = pd.Timedelta(pd.tseries.frequencies.to_offset(frequency))
    rng = np.random.default_rng(len(name) + len(frequency))
    ds = pd.Timestamp("2024-03-01") + step * np.arange(800)
    history = pd.DataFrame({"ds": ds, "y": rng.gamma(2.0, 10.0, len(ds))}).drop(index=[790, 795, 796])
    end = ds[-1]
    dates = pd.Series([end + step * k for k in (1, 2, 5, 200, 400)] + [end + step / 2, end, end - step])
    parts = (history, history.head(30), history.head(1))  # shorter than a season, a single row
    from_dates = [baselines._predict_at_dates(name, part, dates, frequency, 0.8) for part in parts]
    monkeypatch.setattr(baselines, "_predict_at_dates", None)  # the steps alone
    for part, expected in zip(parts, from_dates):
        np.testing.assert_array_equal(baselines.predict_at(name, part, dates, frequency, 0.8), expected)
    points = baselines.predict_at(name, history, dates, frequency, 0.8)
    assert np.isnan(points[-3:]).all() and np.isfinite(points[:5]).all()


@pytest.mark.parametrize("frequency", ["MS", "B", "W-MON"])
def test_points_at_calendar_periods_still_come_from_the_dates(frequency):
    ds = pd.date_range("2020-01-06", periods=40, freq=frequency)
    history = pd.DataFrame({"ds": ds[:36], "y": np.arange(36.0)})
    points = baselines.predict_at("drift", history, pd.Series(ds[36:]), frequency, 0.8)
    np.testing.assert_allclose(points, [36.0, 37.0, 38.0, 39.0])  # a period a step, by the calendar
    assert baselines.step_nanos(frequency) is None


def test_times_with_a_zone_keep_their_calendar_across_a_clock_change():
    days = pd.date_range("2024-03-25", periods=10, freq="D", tz="Europe/Berlin")  # the clock moved on the 31st
    history = pd.DataFrame({"ds": days, "y": np.arange(10.0)}).drop(index=[7])  # a gap after the change
    assert np.isnan(baselines.on_grid(history, "D")).sum() == 1
    later = pd.Series(pd.date_range(days[-1], periods=4, freq="D")[1:])
    np.testing.assert_allclose(baselines.predict_at("naive", history, later, "D", 0.8), [9.0, 9.0, 9.0])


def test_a_stored_history_holds_its_times_to_the_second_or_finer_where_they_need_it():
    def stored_times(times):
        history = pd.DataFrame({"ds": pd.to_datetime(times), "y": [1.0] * len(times)})
        return json.loads(model_store.dump("naive", history))["ds"]

    assert stored_times(["1969-12-31 23:59:59", "2024-01-31 23:00:00"]) == ["1969-12-31T23:59:59", "2024-01-31T23:00:00"]
    finer = stored_times(["1969-12-31 23:59:59.999999999", "2024-01-31 23:00:00.000000000"])  # before 1970 too
    assert finer == ["1969-12-31T23:59:59.999999999", "2024-01-31T23:00:00.000000000"]


def _scored(rows: pd.DataFrame, stored: str, frequency: str, run_date: str, now: str | None = None,
            horizon: int = 3, input_end: str | None = None, **policy) -> pd.DataFrame:
    """A naive model's forecast as the scoring job makes it: after the series' history
    as cleaned on ``run_date`` (scoring.history_end), from the model ``stored``."""
    from forecasting import scoring
    from forecasting.config import load_config

    config = load_config(None, [f"cleaning.{key}={value}" for key, value in policy.items()])
    end, status, reason = scoring.history_end(rows.assign(frequency=frequency), config, run_date, input_end, now)
    assert status is None, reason
    return model_store.forecast("naive", stored, end, horizon, frequency, 0.8, seed=1)


@pytest.mark.parametrize("frequency, run_date, now", [
    ("MS", "2024-11-15", None), ("W-SUN", "2024-11-13", None),
    # run on the day that names the period: its last row sits on the grid, the days before it were moved there
    ("W-SUN", "2024-11-17", "2024-11-17 10:00"), ("ME", "2024-11-30", "2024-11-30 06:00"),
])
def test_scoring_on_the_run_date_starts_where_training_did_when_finer_rows_leave_a_period_open(frequency, run_date, now):
    from forecasting.cleaning import clean_history
    from forecasting.config import load_config

    days = pd.date_range("2022-01-01", run_date, freq="D")
    daily = pd.DataFrame({"ds": days, "y": 10.0 + (days.dayofweek >= 5)})
    cleaned = clean_history(daily, frequency, load_config(None, []).cleaning, run_date, now=now)
    assert cleaned.history["ds"].iloc[-1] < days[-1]  # the open period was left out of training
    trained = baselines.naive(cleaned.history, 3, frequency, 0.8)
    stored = model_store.dump("naive", cleaned.history)
    pd.testing.assert_frame_equal(_scored(daily, stored, frequency, run_date, now), trained)
    # a later run date, when that period has ended, moves on by one period
    later = (pd.Timestamp(run_date) + pd.Timedelta(days=40)).strftime("%Y-%m-%d")
    assert _scored(daily, stored, frequency, later)["ds"].iloc[0] == trained["ds"].iloc[1]


def test_scoring_on_the_run_date_keeps_a_period_whose_one_row_was_on_the_grid_as_training_does():
    from forecasting.cleaning import clean_history
    from forecasting.config import load_config

    sundays = pd.date_range("2024-01-07", "2024-11-17", freq="W-SUN")
    weekly = pd.DataFrame({"ds": sundays, "y": np.arange(len(sundays), dtype=float)})
    now = "2024-11-17 10:00"
    cleaned = clean_history(weekly, "W-SUN", load_config(None, []).cleaning, "2024-11-17", now=now)
    assert cleaned.history["ds"].iloc[-1] == sundays[-1]  # a weekly value, not a week of days: kept
    stored = model_store.dump("naive", cleaned.history)
    pd.testing.assert_frame_equal(_scored(weekly, stored, "W-SUN", "2024-11-17", now),
                                  baselines.naive(cleaned.history, 3, "W-SUN", 0.8))


@pytest.mark.parametrize("missing", ["interpolate", "zero"])
@pytest.mark.parametrize("frequency, run_date, now, blank", [
    ("W-SUN", "2024-11-17", "2024-11-17 10:00", "2024-11-16"),  # a blank Saturday in the week of its Sunday's value
    ("MS", "2025-01-06", None, "2025-01-05"),  # a blank 5 January after the month's value on the 1st
])
def test_scoring_drops_a_blank_row_whose_period_has_a_value_as_training_does(missing, frequency, run_date, now, blank):
    # values on the grid to the run date's period, and a row without a value in that period: cleaning
    # drops it (the period has a value), so no row was gathered there and training keeps the period
    dates = pd.date_range("2023-01-01", run_date, freq=frequency)
    rows = pd.concat([pd.DataFrame({"ds": dates, "y": np.arange(len(dates), dtype=float)}),
                      pd.DataFrame({"ds": [pd.Timestamp(blank)], "y": [np.nan]})], ignore_index=True)
    stored = model_store.dump("naive", rows.iloc[:len(dates) - 1])  # the models of the week (month) before
    scored = _scored(rows, stored, frequency, run_date, now, missing_values=missing)
    assert scored["ds"].iloc[0] == dates[-1] + to_offset(frequency)  # after the period training kept


def test_scoring_starts_after_the_gap_before_an_open_period_and_after_zero_gaps_as_training_does():
    from forecasting.cleaning import clean_history
    from forecasting.config import load_config

    # daily rows to January, none in February, five days of March open on 5 March: training ends in
    # January and forecasts February on; the period before the open one had been taken for the last
    days = pd.date_range("2023-11-01", "2024-01-31").append(pd.date_range("2024-03-01", "2024-03-05"))
    rows = pd.DataFrame({"ds": days, "y": 1.0})
    stored = model_store.dump("naive", pd.DataFrame({"ds": pd.date_range("2023-11-01", "2023-12-01", freq="MS"),
                                                     "y": 30.0}))  # a model of December
    assert _scored(rows, stored, "MS", "2024-03-05")["ds"].iloc[0] == pd.Timestamp("2024-02-01")
    # sales to 3 January, the input to the 9th: zero days to the 8th (over before the run date), as in training
    sales = pd.DataFrame({"ds": pd.date_range("2024-01-01", "2024-01-03"), "y": 5.0})
    stored = model_store.dump("naive", sales.iloc[:2])
    cleaned = clean_history(sales, "D", load_config(None, ["cleaning.gaps=zero"]).cleaning, "2024-01-09",
                            input_end="2024-01-09 12:00", now="2024-01-09 13:00")
    scored = _scored(sales, stored, "D", "2024-01-09", "2024-01-09 13:00", input_end="2024-01-09 12:00", gaps="zero")
    assert scored["ds"].iloc[0] == cleaned.history["ds"].iloc[-1] + pd.Timedelta(days=1) == pd.Timestamp("2024-01-09")


def test_scoring_during_its_run_date_counts_the_current_hour_as_open_as_training_does():
    from forecasting.cleaning import clean_history
    from forecasting.config import load_config

    minutes = pd.date_range("2024-03-08", "2024-03-10 10:19", freq="min")
    rows = pd.DataFrame({"ds": minutes, "y": 1.0})
    now = "2024-03-10 10:20"
    cleaned = clean_history(rows, "h", load_config(None, []).cleaning, "2024-03-10", now=now)
    stored = model_store.dump("naive", cleaned.history)
    trained = baselines.naive(cleaned.history, 3, "h", 0.8)
    scored = _scored(rows, stored, "h", "2024-03-10", now)
    pd.testing.assert_frame_equal(scored, trained)
    assert scored["ds"].iloc[0] == pd.Timestamp("2024-03-10 10:00")
    # an hour later the 10:00 hour is whole, and the forecast moves on by one
    assert _scored(rows, stored, "h", "2024-03-10", "2024-03-10 11:20")["ds"].iloc[0] == pd.Timestamp("2024-03-10 11:00")


def test_recent_mean_repeats_the_mean_of_the_last_season_with_a_flat_interval_from_its_own_errors():
    weeks = pd.date_range("2023-01-01", periods=80, freq="W-SUN")
    lumps = np.zeros(80)
    lumps[::5] = 10.0  # a spare part: a lump every fifth week, nothing between
    history = pd.DataFrame({"ds": weeks, "y": lumps})
    forecast = baselines.recent_mean(history, 4, "W-SUN", 0.8)
    assert forecast["yhat"].tolist() == pytest.approx([lumps[-52:].mean()] * 4)  # a year's rate, not 0 or 10
    assert forecast["ds"].iloc[0] == weeks[-1] + pd.Timedelta(weeks=1)
    before = [lumps[max(0, t - 52):t].mean() for t in range(1, 80)]
    sigma = np.sqrt(np.mean((lumps[1:] - before) ** 2))
    half = (forecast["yhat_upper"] - forecast["yhat"]).to_numpy()
    assert half == pytest.approx(1.2815515655446004 * sigma * np.sqrt(1 + 1 / 52) * np.ones(4))  # not widening
    # a missing period is left out of the mean; a frequency without a cycle takes the whole history
    gappy = history.drop(index=[70]).reset_index(drop=True)  # a lump's week without a row
    assert baselines.recent_mean(gappy, 1, "W-SUN", 0.8)["yhat"].iloc[0] == pytest.approx(
        (lumps[28:].sum() - 10.0) / 51)
    days = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=9, freq="2D"), "y": np.arange(9.0)})
    assert baselines.recent_mean(days, 1, "2D", 0.8)["yhat"].iloc[0] == 4.0
    # sold every 20 days: the window reaches back over its last five sales, not a week (0, or a week's lump)
    every = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=400, freq="D"),
                          "y": np.where(np.arange(400) % 20 == 0, 10.0, 0.0)})
    rates = [baselines.recent_mean(every.head(n), 1, "D", 0.8)["yhat"].iloc[0] for n in range(300, 350)]
    assert 0.5 <= min(rates) and max(rates) <= 50 / 81


def test_recent_mean_is_a_candidate_and_fallback_that_wins_a_lumpy_series_by_rmse(fast_config):
    from forecasting.series import train_series

    days = pd.date_range("2024-01-01", periods=120, freq="D")
    lumps = np.where(np.arange(120) % 3 == 0, 9.0, 0.0)  # a lump every third day: out of step with the week
    config = fast_config("selection.candidates=[naive, seasonal_naive, recent_mean]", "tuning.metric=rmse")
    outcome = train_series(pd.DataFrame({"ds": days, "y": lumps}), config)
    assert outcome.model_name == "recent_mean" and outcome.forecast["yhat"].nunique() == 1
    stored = model_store.dump("recent_mean", outcome.cleaned)
    pd.testing.assert_frame_equal(model_store.forecast("recent_mean", stored, None, 7, "D", 0.8, seed=0)[
        ["ds", "yhat"]], outcome.forecast[["ds", "yhat"]].head(7).reset_index(drop=True), check_exact=False)
    short = train_series(pd.DataFrame({"ds": days[:5], "y": lumps[:5]}), fast_config("reliability.fallback=recent_mean"))
    assert short.model_name == "recent_mean" and short.forecast["yhat"].iloc[0] == pytest.approx(lumps[:5].mean())
