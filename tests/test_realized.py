"""The forecasts of the run date before, scored on the periods that arrived since."""
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from chispa import assert_df_equality

from conftest import daily_series
from forecasting import metrics, realized
from forecasting.cleaning import clean_history
from forecasting.series import prepare_history


def cleaned_of(history: pd.DataFrame, config) -> pd.DataFrame:
    return clean_history(prepare_history(history), config.forecast.frequency, config.cleaning).history


def test_the_periods_after_the_earlier_run_date_arrive_up_to_a_horizon_and_the_scale_is_the_earlier_historys(
        fast_config):
    config = fast_config("cleaning.gaps=interpolate")
    history = daily_series(60)  # 2024-01-01 to 02-29
    history = history[history["ds"] != "2024-02-23"]  # a day interpolated after the earlier run date
    cleaned = cleaned_of(history, config)

    arrived, scale = realized.arrived_since(prepare_history(history), cleaned, "2024-02-19", 7, config)

    # 02-20 to 02-26, the first 7 days not known on 02-19, without the interpolated 02-23
    assert arrived["ds"].dt.day.tolist() == [20, 21, 22, 24, 25, 26]
    assert arrived["y"].tolist() == history.set_index("ds").loc[arrived["ds"], "y"].tolist()
    known = history[history["ds"] <= "2024-02-19"]
    assert scale == pytest.approx(metrics.mase_scale(known["y"], 7))
    # nothing arrived after a run date on the history's last day
    assert realized.arrived_since(prepare_history(history), cleaned, "2024-02-29", 7, config) == (None, None)


def test_a_period_that_arrived_as_a_zero_the_gaps_policy_declares_is_scored(fast_config):
    config = fast_config("cleaning.gaps=zero")
    history = daily_series(30)
    history = history[history["ds"] != "2024-01-28"]

    arrived, _ = realized.arrived_since(prepare_history(history), cleaned_of(history, config), "2024-01-26", 7, config)

    assert arrived["ds"].dt.day.tolist() == [27, 28, 29, 30] and arrived["y"].tolist()[1] == 0.0


def day(n: int) -> dt.datetime:
    return dt.datetime(2024, 4, n)


def test_scores_are_the_mase_and_the_share_inside_the_interval_over_the_periods_both_have(spark):
    point = "struct<ds: timestamp, y: double>"
    staged = spark.createDataFrame([
        ("a", [(day(1), 10.0), (day(2), 14.0), (day(3), float("nan")), (day(4), 30.0)], 2.0),
        ("flat", [(day(1), 5.0)], 0.0),  # a history with no change: an error is infinitely bad
        ("exact", [(day(1), 5.0)], 0.0),  # ... and none is none
        ("unbounded", [(day(1), 5.0)], 1.0),  # a forecast without an interval
        ("unscaled", [(day(1), 5.0)], None),  # no two values a season apart before
        ("late", [(day(9), 5.0)], 1.0),  # arrived where the earlier forecast did not reach
        ("none", None, None),  # nothing arrived
    ], f"shop string, {realized.ARRIVED} array<{point}>, {realized.SCALE} double")
    previous = spark.createDataFrame([
        ("a", day(1), 11.0, 9.0, 13.0), ("a", day(2), 10.0, 8.0, 12.0), ("a", day(3), 10.0, 8.0, 12.0),
        ("a", day(5), 10.0, 8.0, 12.0), ("flat", day(1), 6.0, 5.0, 7.0), ("exact", day(1), 5.0, 4.0, 6.0),
        ("unbounded", day(1), 6.0, float("nan"), float("nan")), ("unscaled", day(1), 6.0, None, None),
        ("late", day(1), 5.0, 4.0, 6.0),
    ], f"shop string, ds timestamp, {realized.PREVIOUS} double, {realized.LOWER} double, {realized.UPPER} double")

    scores = realized.scores(staged, previous, ["shop"])

    # a: days 1 and 2 (day 3's actual is NaN, day 4 was not forecast): errors 1 and 4 over a scale of 2
    expected = spark.createDataFrame([
        ("a", 2, 2.5 / 2.0, 0.5), ("flat", 1, float("inf"), 1.0), ("exact", 1, 0.0, 1.0),
        ("unbounded", 1, 1.0, None), ("unscaled", 1, None, None),
    ], f"shop string, {realized.POINTS} int, {realized.MASE} double, {realized.COVERAGE} double")
    assert_df_equality(scores, expected, ignore_row_order=True, ignore_nullable=True)
    assert np.isinf(scores.where("shop = 'flat'").first()[realized.MASE])
