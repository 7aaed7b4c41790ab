"""The forecasts of the run date before, scored on the periods that arrived since."""
import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from chispa import assert_df_equality

from conftest import daily_series
from forecasting import metrics, realized
from forecasting.cleaning import clean_history
from forecasting.periods import known_until
from forecasting.series import prepare_history


def cleaned_of(history: pd.DataFrame, config, run_date=None) -> pd.DataFrame:
    return clean_history(prepare_history(history), config.forecast.frequency, config.cleaning, run_date).history


def test_the_periods_a_forecast_of_the_earlier_run_date_can_cover_arrive_with_the_scale_of_the_history_before_each(
        fast_config):
    config = fast_config("cleaning.gaps=interpolate")
    history = daily_series(60)  # 2024-01-01 to 02-29
    history = history[history["ds"] != "2024-02-23"]  # a day interpolated after the earlier run date
    cleaned = cleaned_of(history, config)

    arrived = realized.arrived_since(prepare_history(history), cleaned, "2024-02-19", 7, config)

    # a week either side of the end of 02-19, without the interpolated 02-23
    assert arrived["ds"].dt.strftime("%m-%d").tolist() == [
        "02-13", "02-14", "02-15", "02-16", "02-17", "02-18", "02-19", "02-20", "02-21", "02-22", "02-24", "02-25",
        "02-26"]
    assert arrived["y"].tolist() == history.set_index("ds").loc[arrived["ds"], "y"].tolist()
    # each with the scale of the days before it: for 02-20, the history of a run on 02-19
    known = history[history["ds"] <= "2024-02-19"]
    assert arrived.set_index("ds").loc["2024-02-20", "scale"] == pytest.approx(metrics.mase_scale(known["y"], 7))
    # nothing near a run date long after the history
    assert realized.arrived_since(prepare_history(history), cleaned, "2024-06-01", 7, config) is None


def test_a_month_still_open_on_the_earlier_run_date_arrives_once_it_is_whole(fast_config):
    # run on 01-15, a monthly job leaves January out and forecasts it (and February)
    config = fast_config("forecast.frequency=MS", "cleaning.gaps=interpolate")
    days = daily_series(365 * 3 + 60, start="2021-01-01")  # daily rows, summed into months, to 2024-02-29
    then = cleaned_of(days[days["ds"] <= "2024-01-15"], config, "2024-01-15")
    assert then["ds"].max() == pd.Timestamp("2023-12-01")  # January was still open

    arrived = realized.arrived_since(prepare_history(days), cleaned_of(days, config), "2024-01-15", 2, config)

    assert pd.Timestamp("2024-01-01") in set(arrived["ds"]) and pd.Timestamp("2024-02-01") in set(arrived["ds"])
    january = arrived.set_index("ds").loc["2024-01-01", "scale"]
    assert january == pytest.approx(metrics.mase_scale(then["y"], 12))  # the history that run had


@pytest.mark.parametrize("frequency, earlier, horizon", [("ME", "2024-01-15", 2), ("W-SUN", "2024-02-21", 1),
                                                         ("W-SUN", "2024-02-21", 3), ("MS", "2024-01-15", 2)])
def test_every_period_an_earlier_forecast_covered_arrives_where_periods_are_dated_by_their_end(
        fast_config, frequency, earlier, horizon):
    # a week dated by its Sunday, or a month by its last day: the forecast's last period had been left out
    from forecasting import baselines

    config = fast_config(f"forecast.frequency={frequency}")
    days = daily_series(365 * 3 + 90, start="2021-01-01")  # to 2024-03-30
    then = cleaned_of(days[days["ds"] <= earlier], config, earlier)
    forecast = set(baselines.naive(then, horizon, frequency, 0.8)["ds"])

    arrived = realized.arrived_since(prepare_history(days), cleaned_of(days, config), earlier, horizon, config)

    assert len(forecast) == horizon and forecast <= set(arrived["ds"])


def test_a_period_still_open_on_this_run_date_has_not_arrived_though_its_value_is_kept(fast_config):
    # monthly totals dated the 1st, October's so far on 10-01: modelled whole (open_period: keep), not yet scored
    config = fast_config("forecast.frequency=MS")
    months = pd.DataFrame({"ds": pd.date_range("2022-01-01", "2024-10-01", freq="MS"), "y": 100.0})
    months.loc[months.index[-1], "y"] = 5.0
    cleaned = cleaned_of(months, config, "2024-10-01")
    assert cleaned["ds"].iloc[-1] == pd.Timestamp("2024-10-01")  # kept, and noted so

    def arrived(run_date, now=None):
        found = realized.arrived_since(prepare_history(months), cleaned, "2024-09-01", 1, config,
                                       known_until(run_date, now))
        return set() if found is None else set(found["ds"].dt.strftime("%m-%d"))

    assert "10-01" in arrived("2024-10-31") and "10-01" not in arrived("2024-10-01")
    assert "10-01" not in arrived("2024-10-31", now="2024-10-31 09:00")  # a run during the month's last day
    assert "09-01" in arrived("2024-10-01")
    # as the training's tasks hand it on: this run's date is the cut
    from forecasting import spark_training, tracking
    from forecasting.series import train_series

    monthly = fast_config("forecast.frequency=MS", "forecast.horizon=1", "selection.candidates=[seasonal_naive]")
    outcome = train_series(months, monthly, run_date="2024-10-01")
    context = tracking.RunContext("file:///nowhere", "0", "run", "2024-10-01", False, False,
                                  earlier_run_date="2024-09-01")
    handed = spark_training._arrived(months, outcome, context, monthly, "s1")
    assert "09-01" in set(handed["ds"].dt.strftime("%m-%d")) and "10-01" not in set(handed["ds"].dt.strftime("%m-%d"))
    # a daily run during its own date (the run's start in the context): today is still open
    daily = fast_config("selection.candidates=[naive]")
    days = daily_series(300, start="2024-01-01")  # to 10-26
    today = train_series(days, daily, run_date="2024-10-26", now="2024-10-26 09:00")
    during = dataclasses.replace(context, run_date="2024-10-26", earlier_run_date="2024-10-20",
                                 known_until="2024-10-26 09:00")
    handed = set(spark_training._arrived(days, today, during, daily, "s1")["ds"].dt.strftime("%m-%d"))
    assert "10-25" in handed and "10-26" not in handed


def test_a_period_that_arrived_as_a_zero_the_gaps_policy_declares_is_scored(fast_config):
    config = fast_config("cleaning.gaps=zero")
    history = daily_series(30)
    history = history[history["ds"] != "2024-01-28"]

    arrived = realized.arrived_since(prepare_history(history), cleaned_of(history, config), "2024-01-26", 2, config)

    assert arrived["ds"].dt.day.tolist() == [25, 26, 27, 28] and arrived["y"].tolist()[3] == 0.0


def test_a_series_cleaning_rejected_is_not_scored_on_its_rows_as_given(fast_config):
    from forecasting import spark_training, tracking
    from forecasting.series import train_series

    config = fast_config("cleaning.negative_values=reject")
    history = daily_series(40)
    history.loc[38, "y"] = -5.0  # near the earlier run date: the series is refused
    outcome = train_series(history, config)
    assert outcome.status == "skipped" and outcome.forecast is None
    context = tracking.RunContext("file:///nowhere", "0", "run", "2024-02-09", False, False,
                                  earlier_run_date="2024-02-02")
    assert spark_training._arrived(history, outcome, context, config, "s1") is None


def day(n: int) -> dt.datetime:
    return dt.datetime(2024, 4, n)


def test_scores_are_the_mase_and_the_share_inside_the_interval_over_the_periods_both_have(spark):
    point = "struct<ds: timestamp, y: double, scale: double>"
    staged = spark.createDataFrame([
        # the earlier forecast starts on day 2: its scale is day 2's, the history before it
        ("a", [(day(1), 10.0, 9.0), (day(2), 10.0, 2.0), (day(3), 14.0, 3.0), (day(4), float("nan"), 3.0),
               (day(5), 30.0, 3.0), (day(6), 7.0, 3.0)]),
        ("flat", [(day(1), 5.0, 0.0)]),  # a history with no change: an error is infinitely bad
        ("exact", [(day(1), 5.0, 0.0)]),  # ... and none is none
        ("unbounded", [(day(1), 5.0, 1.0)]),  # a forecast without an interval
        ("unscaled", [(day(1), 5.0, None)]),  # no two values a season apart before it
        ("late", [(day(9), 5.0, 1.0)]),  # arrived where the earlier forecast did not reach
        ("on-bound", [(day(1), 12.0, 1.0), (day(2), 8.0, 1.0)]),  # on the interval's bounds: inside
        ("none", None),  # nothing arrived
    ], f"shop string, {realized.ARRIVED} array<{point}>")
    previous = spark.createDataFrame([
        ("a", day(2), 11.0, 9.0, 13.0), ("a", day(3), 10.0, 8.0, 12.0), ("a", day(4), 10.0, 8.0, 12.0),
        ("a", day(6), None, None, None), ("a", day(7), 10.0, 8.0, 12.0),
        ("flat", day(1), 6.0, 5.0, 7.0), ("exact", day(1), 5.0, 4.0, 6.0),
        ("unbounded", day(1), 6.0, float("nan"), float("nan")), ("unscaled", day(1), 6.0, None, None),
        ("late", day(1), 5.0, 4.0, 6.0), ("on-bound", day(1), 10.0, 8.0, 12.0), ("on-bound", day(2), 10.0, 8.0, 12.0),
    ], f"shop string, ds timestamp, {realized.PREVIOUS} double, {realized.LOWER} double, {realized.UPPER} double")

    scores = realized.scores(staged, previous, ["shop"])

    # a: days 2 and 3 (day 4's actual is NaN, day 5 was not forecast, day 6's forecast is null):
    # errors 1 and 4 over day 2's scale of 2
    expected = spark.createDataFrame([
        ("a", 2, 2.5 / 2.0, 0.5), ("flat", 1, float("inf"), 1.0), ("exact", 1, 0.0, 1.0),
        ("unbounded", 1, 1.0, None), ("unscaled", 1, None, None), ("on-bound", 2, 2.0, 1.0),
    ], f"shop string, {realized.POINTS} int, {realized.MASE} double, {realized.COVERAGE} double")
    assert_df_equality(scores, expected, ignore_row_order=True, ignore_nullable=True)
    assert np.isinf(scores.where("shop = 'flat'").first()[realized.MASE])


def test_the_share_inside_intervals_names_its_count_where_some_values_had_no_interval():
    # a new product's naive fallback has no interval: 4 of the 7 values with one were inside (the
    # weekly walk-through of 12-07: "57% of the actual values" read as 4 of all 8)
    said = realized.realized_line("2026-11-02", 8, 8, 0.38, 4 / 7, 7, 0.8)
    assert said.endswith("median MASE 0.38, 57% of the actual values inside their intervals (of the 7 with one; "
                         "nominal 80%)")
    assert realized.realized_line("2026-11-02", 2, 3, 0.38, 1.0, 1, 0.8).endswith(
        "100% of the actual values inside their intervals (of the 1 with one; nominal 80%)")
    every = realized.realized_line("2026-11-02", 2, 14, 0.5, 0.5, 14, 0.8)
    assert every.endswith("median MASE 0.50, 50% of the actual values inside their intervals (nominal 80%)")
    assert realized.realized_line("2026-11-02", 1, 1, None, None, None, 0.8).endswith(
        "on the 1 value that has arrived since in 1 series (series_results.realized_points and realized_mase): "
        "median MASE -")
