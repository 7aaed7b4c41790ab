"""Per-series data problems and their policies, without Spark."""
import datetime as dt
import itertools
import re

import numpy as np
import pandas as pd
import pytest

from conftest import daily_series
from forecasting import baselines
from forecasting.cleaning import clean_history
from forecasting.grid_alignment import SHIFTED_NOTE
from forecasting.cleaning_notes import (BREAK_NOTE, CLOCK_CHANGE_NOTE, NO_WEEKDAY_NOTE, OTHER_VALUES_NOTE,
                                        REPEATED_NOTE, RUNNING_TOTAL_NOTE, SAME_VALUE_NOTE, SEVERAL_SERIES_NOTE,
                                        ZERO_RUN_NOTE)
from forecasting.level_shifts import LEVEL_SHIFT_NOTE
from forecasting.zero_stretches import ZERO_STRETCH_NOTE
from forecasting.periods import align_to_grid, period_end
from forecasting.config import load_config
from forecasting.run_date_cut import AHEAD_NOTE, OPEN_KEPT_NOTE, STALE_NOTE
from forecasting.series import prepare_history
from forecasting.staged_counts import STALE_IN_NOTES


def policy(**changes):
    return load_config(None, [f"cleaning.{k}={v}" for k, v in changes.items()]).cleaning


def frame(days, values):
    return pd.DataFrame({"ds": pd.to_datetime(days, format="ISO8601"), "y": values})


def test_clean_data_passes_untouched():
    history = daily_series(30)
    cleaned = clean_history(history, "D", policy())
    pd.testing.assert_frame_equal(cleaned.history, history)
    assert cleaned.notes == [] and cleaned.rejection is None


@pytest.mark.parametrize(
    "how, expected, note",
    [
        # dropped values leave gaps, which the default gap policy keeps out and notes
        ("drop", [1.0, 3.0, 4.0], "2 missing or infinite values dropped; 2 of 5 periods missing, left out"),
        ("zero", [1.0, 0.0, 3.0, 0.0, 4.0], "2 missing or infinite values filled (zero)"),
        ("interpolate", [1.0, 2.0, 3.0, 3.5, 4.0], "2 missing or infinite values filled (interpolate)"),
    ],
)
def test_missing_and_infinite_values(how, expected, note):
    history = frame(pd.date_range("2024-01-01", periods=5), [1.0, np.nan, 3.0, np.inf, 4.0])
    cleaned = clean_history(history, "D", policy(missing_values=how))
    assert cleaned.history["y"].tolist() == expected and "; ".join(cleaned.notes) == note


def test_interpolation_fills_a_first_or_last_missing_value_from_the_nearest_one():
    history = frame(pd.date_range("2024-01-01", periods=5), [np.nan, 2.0, 3.0, 5.0, np.nan])
    cleaned = clean_history(history, "D", policy(missing_values="interpolate"))
    assert cleaned.history["y"].tolist() == [2.0, 2.0, 3.0, 5.0, 5.0]
    assert cleaned.notes == ["2 missing or infinite values filled (interpolate)"]


@pytest.mark.parametrize("how", ["drop", "zero", "interpolate", "reject"])
def test_a_series_without_any_value_is_rejected_whatever_the_policy(how):
    # interpolation had nothing to fill from and left every value missing, noted as filled
    history = frame(pd.date_range("2024-01-01", periods=4), [np.nan, np.inf, np.nan, -np.inf])
    assert clean_history(history, "D", policy(missing_values=how)).rejection == "no values: all 4 are missing or infinite"


def test_a_missing_value_among_values_is_rejected_with_its_count():
    history = frame(pd.date_range("2024-01-01", periods=4), [1.0, np.nan, 3.0, 4.0])
    cleaned = clean_history(history, "D", policy(missing_values="reject"))
    assert cleaned.rejection == "1 missing or infinite values (the first 2024-01-02; cleaning.missing_values = reject)"


def test_a_missing_value_in_a_period_that_has_a_value_is_dropped_not_filled_and_merged():
    # filled from its neighbours (2.0 here) and summed with the 1.0 beside it, the day was worth 3.0
    history = frame(["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-03"], [1.0, np.nan, 3.0, 4.0])
    for how in ["interpolate", "zero"]:
        cleaned = clean_history(history, "D", policy(missing_values=how))
        assert cleaned.history["y"].tolist() == [1.0, 3.0, 4.0], how
        assert cleaned.notes == ["1 missing or infinite values dropped: their period has a value"], how
    # a missing value alone in its period is still filled, and only it is counted as filled
    history = frame(["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-03"], [1.0, np.nan, np.nan, 4.0])
    cleaned = clean_history(history, "D", policy(missing_values="interpolate"))
    assert cleaned.history["y"].tolist() == [1.0, (1.0 + 4.0) / 2, 4.0]
    assert cleaned.notes == ["1 missing or infinite values dropped: their period has a value",
                             "1 missing or infinite values filled (interpolate)"]


def test_a_period_whose_value_is_missing_is_left_out_not_counted_zero_where_gaps_are_zeros():
    # a page's viral day given as missing, as the summary advises: under gaps: zero it became a day of 0 views
    days = pd.date_range("2024-01-01", periods=6)
    history = frame(days[[0, 1, 2, 4, 5]], [5.0, 6.0, np.nan, 7.0, 5.0]).reset_index(drop=True)
    cleaned = clean_history(history, "D", policy(gaps="zero"))
    assert cleaned.history["ds"].tolist() == list(days[[0, 1, 3, 4, 5]])  # the 3rd left out, the 4th no row: 0
    assert cleaned.history["y"].tolist() == [5.0, 6.0, 0.0, 7.0, 5.0]
    assert cleaned.notes == ["1 missing or infinite values dropped", "1 missing periods filled (zero)",
                             "1 period whose only values were missing left out, not filled (zero)"]
    # a missing value beside a value of its period: the period has that value
    shared = frame(["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03"], [5.0, np.nan, 4.0, 6.0])
    kept = clean_history(shared, "D", policy(gaps="zero"))
    assert kept.history["y"].tolist() == [5.0, 4.0, 6.0] and kept.notes == ["1 missing or infinite values dropped"]
    # weekly periods of daily rows: the week holding only the missing day is left out, the empty week is 0
    weekly = frame(["2024-01-01", "2024-01-08", "2024-01-22"], [3.0, np.nan, 2.0])
    cleaned = clean_history(weekly, "W-SUN", policy(gaps="zero"))
    assert cleaned.history["y"].tolist() == [3.0, 0.0, 2.0]
    assert cleaned.history["ds"].tolist() == list(pd.to_datetime(["2024-01-07", "2024-01-21", "2024-01-28"]))
    # other gap policies as before: interpolated, or left out with the other gaps
    # the last days' values missing (not reported yet): no zeros from there on, no "rows stopped"
    counts = frame(pd.date_range("2024-01-01", periods=120), np.random.default_rng(1).poisson(20, 120).astype(float))
    counts.loc[117:, "y"] = np.nan
    pending = clean_history(counts, "D", policy(gaps="zero"), run_date="2024-04-30", input_end="2024-04-29")
    assert pending.history["ds"].max() == pd.Timestamp("2024-04-26") and (pending.history["y"] > 0).all()
    assert not [note for note in pending.notes if "filled (zero)" in note or "rows stopped" in note]
    # one missing value two months after the last: the rows stopped, as ever (stale_after skips it)
    late = pd.concat([counts.iloc[:60], frame(["2024-04-29"], [np.nan])], ignore_index=True)
    stopped = clean_history(late, "D", policy(gaps="zero", stale_after=28), run_date="2024-04-30",
                            input_end="2024-04-29")
    assert stopped.rejection is not None and stopped.rejection.startswith("data stop longer before the run date")
    interpolated = clean_history(history, "D", policy(gaps="interpolate")).history["y"].tolist()
    assert interpolated == pytest.approx([5.0, 6.0, 6 + 1 / 3, 6 + 2 / 3, 7.0, 5.0])
    assert clean_history(history, "D", policy()).history["ds"].tolist() == list(days[[0, 1, 4, 5]])


@pytest.mark.parametrize("gaps", ["keep", "zero", "interpolate"])
def test_a_first_row_a_century_before_the_rest_is_left_out_and_noted_not_filled(gaps):
    # trial 35: 1923 typed for 2023; gaps: zero had filled 36,524 days with zeros (66 s, a forecast a third low)
    history = daily_series(200)
    typo = pd.DataFrame({"ds": [history["ds"].iloc[0] - pd.DateOffset(years=100)], "y": [history["y"].iloc[0]]})
    cleaned = clean_history(pd.concat([typo, history], ignore_index=True), "D", policy(gaps=gaps))
    pd.testing.assert_frame_equal(cleaned.history, history)
    first = history["ds"].iloc[0]
    assert cleaned.notes == [f"1 row long before the rest ({typo['ds'].iloc[0]:%Y-%m-%d}), "
                             f"{(first - typo['ds'].iloc[0]).days} days before the next, {first:%Y-%m-%d}: "
                             "left out, a mistyped year?"]


def test_up_to_three_first_times_five_years_before_the_rest_and_longer_than_it_are_left_out_and_no_more():
    history = daily_series(60)
    early = pd.DataFrame({"ds": pd.to_datetime(["2014-03-01", "2014-03-01", "2015-07-09"]), "y": [1.0, 2.0, 3.0]})
    cleaned = clean_history(pd.concat([early, history], ignore_index=True), "D", policy())
    assert len(cleaned.history) == 60 and "3 rows long before the rest (2014-03-01, 2015-07-09)" in cleaned.notes[0]
    assert cleaned.kept_from == history["ds"].iloc[0]
    # a unit reopened years later: more than a few rows before the gap, all of them its history
    reopened = pd.concat([daily_series(40).assign(ds=lambda f: f["ds"] - pd.DateOffset(years=6)), history])
    assert not any("long before" in note for note in clean_history(reopened, "D", policy(gaps="keep")).notes)
    # a gap shorter than five years, however long against what follows it: last season's product, a store
    # reopened, a sensor's install reading a month before (trial 38's review), kept (and noted as gaps, as any)
    for gap in (pd.Timedelta(days=30), pd.DateOffset(years=1), pd.DateOffset(years=4)):
        paused = pd.concat([history.iloc[:3].assign(ds=lambda f: f["ds"] - gap), history])
        assert len(clean_history(paused, "D", policy()).history.dropna()) >= 63, gap


def test_daily_rows_all_late_in_a_utc_day_are_noted_as_local_midnights_a_day_early():
    # trial 40: Berlin's midnights as a zoned timestamp column, read in UTC (22:00 or 23:00): every row a day early
    berlin = pd.date_range("2026-03-20", periods=20, freq="D", tz="Europe/Berlin").tz_convert("UTC").tz_localize(None)
    cleaned = clean_history(pd.DataFrame({"ds": berlin, "y": 5.0 + np.arange(20) % 3}), "D", policy())
    assert cleaned.history["ds"].iloc[0] == pd.Timestamp("2026-03-19")  # aligned as ever: the day it falls in
    assert cleaned.notes == ["all 20 timestamps at 22:00 or 23:00, each dated the day it falls in: if they are local "
                             "midnights of a zone ahead of UTC (a timestamp column with a zone is read in UTC), each "
                             "is a day early, and a date column keeps the dates as written"]
    # a weekday business's midnights in Tokyo, read in UTC (15:00): Sunday to Thursday, noted
    tokyo = pd.bdate_range("2026-01-05", periods=20) - pd.Timedelta(hours=9)
    noted = clean_history(pd.DataFrame({"ds": tokyo, "y": 5.0 + np.arange(20) % 3}), "B", policy()).notes
    assert any("all 20 timestamps at 15:00" in note for note in noted)
    # daily rows Monday to Friday late in a UTC day may be a Tuesday-to-Saturday shop's Berlin midnights: asked
    shop = pd.bdate_range("2026-01-06", periods=20) + pd.Timedelta(days=1) - pd.Timedelta(hours=1)
    shop = shop[shop.dayofweek < 5]
    noted = clean_history(pd.DataFrame({"ds": shop, "y": 5.0 + np.arange(len(shop)) % 3}), "D", policy()).notes
    assert any("23:00, each dated the day it falls in" in note for note in noted), noted
    # New York's midnights (05:00 UTC) keep their dates; noon dates keep theirs; hourly rows are times of day as
    # meant; weeks and months dated by their end move such a time forward, to its own period (the review of 12-06)
    new_york = pd.date_range("2026-01-01", periods=20, freq="D", tz="America/New_York").tz_convert("UTC")
    noons = pd.date_range("2026-01-01 12:00", periods=20, freq="D")
    # a market's closes at 21:00 UTC on business days keep their dates: a weekday's midnights a day early fall
    # on Sundays, not on Fridays (the walk-through of 12-06)
    closes = pd.bdate_range("2026-01-05", periods=20) + pd.Timedelta(hours=21)
    for times, frequency in ((new_york.tz_localize(None), "D"), (noons, "D"), (noons + pd.Timedelta(hours=10), "h"),
                             (pd.date_range("2026-01-04 23:00", periods=20, freq="7D"), "W-SUN"), (closes, "B")):
        notes = clean_history(pd.DataFrame({"ds": times, "y": 5.0 + np.arange(20) % 3}), frequency, policy()).notes
        assert not any("local midnights" in note for note in notes), frequency


def test_values_too_large_to_square_refuse_the_series_instead_of_nan_intervals():
    # trial 35: values near 1e200 gave NaN interval bounds and infinite RMSE on an "ok" series
    history = daily_series(60).assign(y=lambda f: f["y"] * 1e198)
    cleaned = clean_history(history, "D", policy())
    assert cleaned.rejection.startswith("values too large to model: 60 beyond 1e+150, e.g. ")
    assert clean_history(daily_series(60).assign(y=lambda f: f["y"] * 1e140), "D", policy()).rejection is None
    # minutes of 1e150 summed into days: beyond it once merged
    minutes = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=3 * 1440, freq="min"), "y": 1e150})
    assert clean_history(minutes, "D", policy()).rejection.startswith(
        "values too large to model: 3 beyond 1e+150 once merged (sum), e.g. 1.44e+153")


def test_a_last_week_of_one_repeated_reading_is_noted_as_a_stuck_sensor():
    # trial 32's hall thermometer: 19.8 for its last 168 hours, forecast flat with CV MASE 0 and no word
    rng = np.random.default_rng(1)
    hours = pd.date_range("2026-10-01", periods=24 * 60, freq="h")
    readings = np.round(20 + 2 * np.sin(np.arange(len(hours)) / 24 * 2 * np.pi) + rng.normal(0, 0.3, len(hours)), 1)
    readings[-168:] = 19.8
    notes = clean_history(pd.DataFrame({"ds": hours, "y": readings}), "h", policy()).notes
    assert notes == ["the last 168 values are all 19.8 (since 2026-11-23), where no value of the 1272 before came "
                     "over 4 times in a row: a stuck sensor, or a feed repeating its last value? Its flat forecast "
                     "scores well in cross-validation. Modelled as they are"]
    # not: a price that changes seldom (runs as long before), a day of one reading (under a season), small counts
    # repeating, zeros (an outage's note)
    price = np.repeat([10.0, 10.5, 11.0, 10.8], [300, 400, 500, 240])
    short = readings.copy()
    short[-168:] = np.round(20 + rng.normal(0, 0.3, 168), 1)
    short[-20:] = 19.8
    counts = rng.poisson(2, 400).astype(float)
    counts[-7:] = 2.0
    zeros = readings.copy()
    zeros[-168:] = 0.0
    for values, frequency in ((price, "h"), (short, "h"), (counts, "D"), (zeros, "h")):
        ds = pd.date_range("2025-01-01", periods=len(values), freq=frequency)
        assert not [note for note in clean_history(pd.DataFrame({"ds": ds, "y": values}), frequency, policy()).notes
                    if "stuck sensor" in note]


def test_negative_values_clip_drop_or_reject():
    history = frame(pd.date_range("2024-01-01", periods=3), [2.0, -1.0, 3.0])
    assert clean_history(history, "D", policy()).history["y"].tolist() == [2.0, -1.0, 3.0]  # allowed by default
    clipped = clean_history(history, "D", policy(negative_values="clip"))
    assert clipped.history["y"].tolist() == [2.0, 0.0, 3.0] and clipped.notes == ["1 negative values clipped to 0"]
    dropped = clean_history(history, "D", policy(negative_values="drop"))
    assert dropped.history["ds"].tolist() == [history["ds"][0], history["ds"][2]]
    assert dropped.notes == ["1 negative values dropped", "1 of 3 periods missing, left out"]
    assert clean_history(history, "D", policy(negative_values="reject")).rejection == (
        "1 negative values (the first 2024-01-02; cleaning.negative_values = reject)"
    )


def test_negative_values_go_before_missing_ones_are_filled():
    # day 2: a missing value beside a negative one, which is dropped: the day is then filled
    history = frame(["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03", "2024-01-04"],
                    [2.0, np.nan, -5.0, 4.0, -np.inf])
    cleaned = clean_history(history, "D", policy(negative_values="drop", missing_values="interpolate"))
    assert cleaned.history["y"].tolist() == [2.0, 3.0, 4.0, 4.0]  # -inf is missing, not negative: filled too
    assert cleaned.notes == ["1 negative values dropped", "2 missing or infinite values filled (interpolate)"]
    clipped = clean_history(history, "D", policy(negative_values="clip", missing_values="interpolate"))
    assert clipped.history["y"].tolist() == [2.0, 0.0, 4.0, 4.0]  # the clipped value stands for its day


def test_off_grid_timestamps_align_then_merge_as_duplicates():
    history = frame(["2024-01-01", "2024-01-02 13:30", "2024-01-02", "2024-01-03"], [1.0, 2.0, 5.0, 3.0])
    cleaned = clean_history(history, "D", policy(duplicates="mean"))
    assert cleaned.history["ds"].tolist() == list(pd.date_range("2024-01-01", periods=3))
    assert cleaned.history["y"].tolist() == [1.0, 3.5, 3.0]
    assert cleaned.notes == ["1 timestamps aligned to the 'D' grid", "1 duplicate timestamps merged (mean)"]
    assert "off the 'D' grid" in clean_history(history, "D", policy(off_grid="reject")).rejection


@pytest.mark.parametrize("how", ["sum", "mean", "last"])
def test_duplicates_whose_merge_would_overflow_reject_the_series_first(how):
    # each value is finite, their sum is not: an infinite period would fail every fit; such values are refused
    # before any merge (and values up to LARGEST_VALUE never sum past float64's largest)
    history = frame(["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03"], [1.0, 1e308, 1e308, 3.0])
    cleaned = clean_history(history, "D", policy(duplicates=how))
    assert cleaned.rejection == "values too large to model: 2 beyond 1e+150, e.g. 1e+308: a unit or a parse error?"


def test_last_of_rows_with_the_very_same_time_does_not_depend_on_their_order():
    ordered = frame(["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03"], [1.0, 7.0, 4.0, 3.0])
    kept = {
        tuple(clean_history(prepare_history(ordered.iloc[list(order)]), "D", policy(duplicates="last")).history["y"])
        for order in itertools.permutations(range(4))
    }
    assert kept == {(1.0, 7.0, 3.0)}  # the larger of the two at the same time, in every order
    # a later time in the same period wins, whatever its value
    later = frame(["2024-01-02", "2024-01-02 18:00", "2024-01-02"], [7.0, 2.0, 4.0])
    assert clean_history(prepare_history(later), "D", policy(duplicates="last")).history["y"].tolist() == [2.0]


def test_monthly_dates_align_to_month_start():
    ds = pd.Series(pd.to_datetime(["2024-01-15", "2024-02-01", "2024-03-31 08:00"], format="ISO8601"))
    assert align_to_grid(ds, "MS").tolist() == list(pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]))


def test_dates_align_to_the_date_that_names_their_period_whether_its_start_or_its_end():
    ds = pd.Series(pd.to_datetime(["2024-01-01", "2024-02-15", "2024-03-31 08:00"], format="ISO8601"))
    dates = lambda *texts: list(pd.to_datetime(list(texts)))  # noqa: E731
    assert align_to_grid(ds, "ME").tolist() == dates("2024-01-31", "2024-02-29", "2024-03-31")
    assert align_to_grid(ds, "QE").tolist() == dates("2024-03-31", "2024-03-31", "2024-03-31")
    assert align_to_grid(ds, "YS").tolist() == dates("2024-01-01", "2024-01-01", "2024-01-01")
    # business ends: Sunday 31 March is after March's (Friday 29th), and still March's
    assert align_to_grid(ds, "BME").tolist() == dates("2024-01-31", "2024-02-29", "2024-03-29")
    assert align_to_grid(pd.Series(pd.to_datetime(["2023-12-31", "2023-06-15"])), "BYE").tolist() == dates(
        "2023-12-29", "2023-12-29"
    )
    # business starts: Sunday 1 January 2023 is in the quarter that starts on Monday 2 January
    starts = pd.Series(pd.to_datetime(["2023-01-01", "2023-02-15", "2023-04-01", "2023-10-01"]))
    assert align_to_grid(starts, "BQS").tolist() == dates("2023-01-02", "2023-01-02", "2023-04-03", "2023-10-02")
    assert align_to_grid(starts, "BMS").tolist() == dates("2023-01-02", "2023-02-01", "2023-04-03", "2023-10-02")
    # half months: the 1st and 15th (SMS), the 15th and the month's end (SME)
    halves = pd.Series(pd.to_datetime(["2023-03-10", "2023-03-15", "2023-03-20"]))
    assert align_to_grid(halves, "SMS").tolist() == dates("2023-03-01", "2023-03-15", "2023-03-15")
    assert align_to_grid(halves, "SME").tolist() == dates("2023-03-15", "2023-03-15", "2023-03-31")
    # weeks ending on Sunday: Monday 1 January is in the week of Sunday 7 January
    weekly = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-07", "2024-01-08"]))
    assert align_to_grid(weekly, "W-SUN").tolist() == dates("2024-01-07", "2024-01-07", "2024-01-14")


def test_steps_of_several_days_count_from_the_series_first_day_not_from_1970():
    # 1970-01-01 was a Thursday: weekly data dated Mondays was all moved to Thursdays
    mondays = frame(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"], [1.0, 2.0, 3.0, 4.0])
    cleaned = clean_history(mondays, "7D", policy())
    pd.testing.assert_frame_equal(cleaned.history, mondays)
    assert cleaned.notes == []
    late = mondays.assign(ds=mondays["ds"].where(mondays.index != 2, pd.Timestamp("2024-01-17 09:00")))
    assert clean_history(late, "7D", policy()).history["ds"].tolist() == mondays["ds"].tolist()
    # a stored model's as_of is counted from its history's end, a time on the grid
    as_of = pd.Series(pd.to_datetime(["2024-01-31"]))
    assert align_to_grid(as_of, "7D", origin=pd.Timestamp("2024-01-22")).tolist() == [pd.Timestamp("2024-01-29")]


def test_gaps_keep_fill_or_reject():
    history = frame(["2024-01-01", "2024-01-02", "2024-01-05"], [1.0, 2.0, 5.0])
    kept = clean_history(history, "D", policy())
    assert len(kept.history) == 3 and kept.notes == ["2 of 5 periods missing, left out, the longest 2 from 2024-01-03"]
    filled = clean_history(history, "D", policy(gaps="interpolate"))
    assert filled.history["y"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert clean_history(history, "D", policy(gaps="zero")).history["y"].tolist() == [1.0, 2.0, 0.0, 0.0, 5.0]
    assert clean_history(history, "D", policy(gaps="reject")).rejection == (
        "2 missing periods (the first 2024-01-03; cleaning.gaps = reject)")


@pytest.mark.parametrize("missing", ["interpolate", "zero"])
def test_steps_of_several_days_keep_one_grid_when_the_first_row_is_dropped(missing):
    # the blank 1 January shares its week with the 3rd's value and is dropped; the weeks had
    # then been counted from the 3rd, which put the blank 22nd, filled as alone in its week,
    # into the 17th's week, and summed the two
    history = pd.DataFrame({"ds": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-10", "2024-01-17", "2024-01-22"]),
                            "y": [np.nan, 1.0, 2.0, 3.0, np.nan]})
    cleaned = clean_history(history, "7D", policy(missing_values=missing))
    assert cleaned.history["ds"].tolist() == list(pd.date_range("2024-01-01", periods=4, freq="7D"))
    assert cleaned.history["y"].tolist()[:3] == [1.0, 2.0, 3.0]  # each week's own value, none summed
    assert "1 missing or infinite values dropped: their period has a value" in cleaned.notes


def test_rows_finer_than_the_frequency_ask_whether_it_is_the_datas_once_merged():
    quarter_hours = pd.date_range("2024-01-01", periods=4 * 24 * 3, freq="15min").strftime("%Y-%m-%d %H:%M").tolist()
    daily = clean_history(frame(quarter_hours, [1.0] * len(quarter_hours)), "D", policy())
    assert daily.history["y"].tolist() == [96.0, 96.0, 96.0]
    assert "several rows a period merged (96 on average) into 'D' periods" in daily.notes
    # duplicates at the grid's own times are rows of one period, merged as meant: not noted
    days = [day for day in ("2024-01-01", "2024-01-02", "2024-01-03") for _ in range(4)]
    assert not any("several rows a period" in note for note in clean_history(frame(days, [1.0] * 12), "D",
                                                                             policy()).notes)
    # nor a row off the grid each period, and one more every other period: 1.5 a period
    mornings = pd.date_range("2024-01-01 06:00", periods=20, freq="D")
    evenings = pd.date_range("2024-01-01 18:00", periods=10, freq="2D")
    times = mornings.append(evenings).sort_values().strftime("%Y-%m-%d %H:%M").tolist()
    assert not any("several rows a period" in note for note in clean_history(frame(times, [1.0] * 30), "D",
                                                                             policy()).notes)


def test_rows_regularly_several_periods_apart_ask_whether_the_frequency_is_the_datas():
    months = pd.date_range("2020-01-01", periods=24, freq="MS").strftime("%Y-%m-%d").tolist()
    monthly = clean_history(frame(months, [float(i) for i in range(24)]), "D", policy())
    assert monthly.notes[0] == "rows regularly 31 periods apart: is forecast.frequency 'D' the data's?"
    weekly = pd.date_range("2024-01-01", periods=10, freq="7D").strftime("%Y-%m-%d").tolist()
    assert clean_history(frame(weekly, [1.0, 2.0] * 5), "D", policy(gaps="zero")).notes[0].startswith(
        "rows regularly 7 periods apart")
    # intermittent demand: sales on some days, irregularly; a month left out of monthly rows; the data's own frequency
    rng = np.random.default_rng(3)
    days = pd.date_range("2024-01-01", periods=200, freq="D")[rng.random(200) < 0.25].strftime("%Y-%m-%d").tolist()
    assert not any("periods apart" in note for note in clean_history(frame(days, [1.0] * len(days)), "D",
                                                                        policy(gaps="zero")).notes)
    assert clean_history(frame(months[:5] + months[6:], [1.0, 2.0] * 11 + [1.0]), "MS", policy()).notes == [
        "1 of 24 periods missing, left out"]


def test_values_far_outside_the_rest_are_noted_not_changed():
    days = pd.date_range("2024-01-01", periods=60, freq="D").strftime("%Y-%m-%d").tolist()
    rng = np.random.default_rng(5)
    values = 100 + 10 * rng.standard_normal(60)
    values[[12, 40]] = [1e12, -5e9]  # a unit slip and a placeholder
    cleaned = clean_history(frame(days, values.tolist()), "D", policy())
    # the slip, far above the values around it, is a spike, whose note says more (tests/test_spikes.py)
    assert cleaned.notes[0] == "1 of 60 values negative, kept (cleaning.negative_values: allow)"
    assert cleaned.notes[1].startswith("1 value far above the values around it")
    assert cleaned.notes[2:] == ["1 value far outside the rest (over 100 times the width of the middle 90% of the "
                                 "values beyond it), the farthest -5,000,000,000 at 2024-02-10: data errors, or a new "
                                 "level? Modelled as they are"]
    np.testing.assert_array_equal(cleaned.history["y"], values)
    # what real series hold: a season's peak, a sparse series' spikes; a sale day at ten times the usual is a spike,
    # not far outside the rest
    values[[12, 40]] = [1000.0, 100.0]
    assert [note[:40] for note in clean_history(frame(days, values.tolist()), "D", policy()).notes] == [
        "1 value far above the values around it ("]
    seasonal = (1e6 * (1 + 0.8 * np.sin(np.arange(60) / 3))).tolist()
    assert clean_history(frame(days, seasonal), "D", policy()).notes == []
    for share in (0.3, 0.6):  # days with sales
        sparse = np.where(rng.random(60) < share, rng.integers(1, 40, 60), 0).astype(float)
        assert clean_history(frame(days, sparse.tolist()), "D", policy()).notes == []
    # mostly one value, or too few to tell the rest by: not said
    mostly_zero = np.zeros(60)
    mostly_zero[7] = 1e12
    assert clean_history(frame(days, mostly_zero.tolist()), "D", policy()).notes == []
    short = clean_history(frame(days[:19], values[:18].tolist() + [1e12]), "D", policy()).notes
    # a short series' last value is measured against the values before it, as a break: its naive forecast repeats it
    assert len(short) == 1 and "far outside the recent range (" in short[0] and "far outside the rest" not in short[0]
    # measured against the middle 90%: 0 to 99 and a value 93 of its widths beyond it is not far, 104 is
    hundred = pd.date_range("2024-01-01", periods=101, freq="D").strftime("%Y-%m-%d").tolist()
    for beyond, noted in ((8500.0, False), (9500.0, True)):
        notes = clean_history(frame(hundred, np.r_[np.arange(100.0), beyond].tolist()), "D", policy()).notes
        assert any("far outside the rest" in note for note in notes) == noted, beyond


def test_interpolation_is_linear_in_time_across_a_gap():
    # a missing value beside a gap was filled as if its neighbours were a row apart: 45 here
    history = frame(["2024-01-01", "2024-01-02", "2024-01-10", "2024-01-11"], [0.0, np.nan, 90.0, 100.0])
    assert clean_history(history, "D", policy(missing_values="interpolate")).history["y"].tolist() == [
        0.0, 10.0, 90.0, 100.0
    ]
    both = clean_history(history, "D", policy(missing_values="interpolate", gaps="interpolate"))
    assert both.history["y"].tolist() == pytest.approx([*range(0, 100, 10), 100.0])  # one straight line


def daily_rows(first, last, value=100.0):
    return frame(pd.date_range(first, last), value)


@pytest.mark.parametrize(
    "label, frequency, end",
    [
        ("2024-03-01", "MS", "2024-04-01"),  # named by its start: up to the next start
        ("2024-01-01", "QS", "2024-04-01"),
        ("2024-03-01 13:00", "h", "2024-03-01 14:00"),
        ("2024-03-10", "W", "2024-03-11"),  # weeks ending on Sunday: the end of that Sunday
        ("2024-03-31", "ME", "2024-04-01"),
        ("2024-03-31", "QE", "2024-04-01"),
        ("2024-03-29", "BME", "2024-04-01"),  # Friday 29 March; the weekend after it is March's too
        ("2023-06-01", "BMS", "2023-07-01"),  # Saturday 1 July is July's, whose first business day is the 3rd
    ],
)
def test_a_period_ends_where_the_next_periods_dates_begin(label, frequency, end):
    assert period_end(pd.Timestamp(label), frequency) == pd.Timestamp(end)
    # the last instant before the end still aligns to the label, the end itself does not
    last_instant = pd.Series([pd.Timestamp(end) - pd.Timedelta(1, "ns")])
    assert align_to_grid(last_instant, frequency).iloc[0] == pd.Timestamp(label)
    assert align_to_grid(pd.Series([pd.Timestamp(end)]), frequency).iloc[0] != pd.Timestamp(label)


@pytest.mark.parametrize("frequency, label, end", [("B", "2025-06-13", "2025-06-14"), ("C", "2025-06-13", "2025-06-14"),
                                                    ("B", "2025-06-12", "2025-06-13")])
def test_a_business_day_ends_with_its_last_day_not_with_the_weekend_after_it(frequency, label, end):
    assert period_end(pd.Timestamp(label), frequency) == pd.Timestamp(end)
    assert align_to_grid(pd.Series([pd.Timestamp(end) - pd.Timedelta(1, "ns")]), frequency).iloc[0] == pd.Timestamp(label)


def test_a_fridays_close_is_whole_on_a_friday_run_date():
    days = pd.bdate_range("2025-03-03", "2025-06-13")  # Monday to Friday
    # dated by the day, or timestamped at the close: Friday's row is Friday's period, over by Friday's end
    for times in (days, days + pd.Timedelta(hours=16)):
        cleaned = clean_history(frame(times, 50.0), "B", policy(), "2025-06-13")
        assert cleaned.history["ds"].iloc[-1] == pd.Timestamp("2025-06-13"), cleaned.notes
        assert not [note for note in cleaned.notes if "still open" in note]
    # while the day itself is open until it ends
    during = clean_history(frame(days + pd.Timedelta(hours=16), 50.0), "B", policy(), "2025-06-13",
                           now="2025-06-13 12:00")
    assert during.history["ds"].iloc[-1] == pd.Timestamp("2025-06-12")


def test_a_last_period_aggregated_from_days_still_open_on_the_run_date_is_left_out():
    history = daily_rows("2024-01-01", "2024-03-10")
    cleaned = clean_history(history, "MS", policy(), "2024-03-10")
    assert cleaned.history["ds"].tolist() == list(pd.to_datetime(["2024-01-01", "2024-02-01"]))
    assert cleaned.history["y"].tolist() == [31 * 100.0, 29 * 100.0]  # whole months: 2024 is a leap year
    assert "the last period 2024-03-01 is still open on the run date 2024-03-10: its 10 rows left out" in cleaned.notes
    # on the month's last day March is whole; without a run date it is kept as before
    whole = clean_history(daily_rows("2024-01-01", "2024-03-31"), "MS", policy(), "2024-03-31")
    assert whole.history["y"].tolist() == [31 * 100.0, 29 * 100.0, 31 * 100.0]
    assert clean_history(history, "MS", policy()).history["y"].tolist() == [31 * 100.0, 29 * 100.0, 10 * 100.0]


def test_a_last_period_on_the_grid_stays_though_an_earlier_row_was_aligned():
    # weeks summed before the job, dated Monday, one of them dated a Tuesday: the open week's
    # row was on the grid, and stays, noted (leave such a row out of the input)
    history = frame(["2024-02-06", "2024-02-19", "2024-02-26", "2024-03-04"], [7.0, 7.0, 7.0, 3.0])
    cleaned = clean_history(history, "W-MON", policy(), "2024-03-01")
    assert cleaned.history["ds"].iloc[-1] == pd.Timestamp("2024-03-04") and cleaned.history["y"].iloc[-1] == 3.0
    assert [note for note in cleaned.notes if "still open" in note] == [
        "the last period 2024-03-04 is still open on the run date 2024-03-01, its value kept as the whole "
        "period's: if it holds only a part, or what was known only later (a backfill), cleaning.open_period: drop "
        "leaves it out and forecasts it"]


def test_with_zero_gaps_a_first_period_whose_rows_start_late_into_it_is_left_out_not_a_slow_movers():
    # daily sales from a Sunday summed into weeks to Sunday: the first week is that Sunday alone
    sunday = clean_history(daily_rows("2024-12-01", "2025-03-30"), "W-SUN", policy(gaps="zero"), "2025-04-01",
                           input_end="2025-03-30")
    assert sunday.history["ds"].iloc[0] == pd.Timestamp("2024-12-08") and set(sunday.history["y"]) == {700.0}
    assert ("the first period 2024-12-01 has rows from 2024-12-01 on, later into it than its other periods: its 1 row "
            "left out, a part summed is no whole period") in sunday.notes
    monday = clean_history(daily_rows("2024-12-02", "2025-03-30"), "W-SUN", policy(gaps="zero"), "2025-04-01")
    assert monday.history["ds"].iloc[0] == pd.Timestamp("2024-12-08")
    assert not any("first period" in note for note in monday.notes)
    # a slow mover's sales fall on any day of the week: its first week, a sale on the Friday, is whole
    days = pd.date_range("2024-12-02", "2025-03-30")
    sales = frame(days[[4, 9, 20, 22, 33, 40, 50, 53, 66, 74, 80, 95, 101, 110]], 1.0)
    slow = clean_history(sales, "W-SUN", policy(gaps="zero"), "2025-04-01", input_end="2025-03-30")
    assert slow.history["ds"].iloc[0] == pd.Timestamp("2024-12-08") and not any("first period" in n for n in slow.notes)
    # weeks of daily sales every third week, the first from a Wednesday: late by a quarter of a week, not of the
    # three weeks between rows (the review of 12-07: a sparse series' threshold had been their gap)
    weeks = [day for start in pd.date_range("2024-12-02", periods=8, freq="21D")
             for day in pd.date_range(start, periods=7)]
    sparse = frame(weeks[2:], 1.0)
    late = clean_history(sparse, "W-SUN", policy(gaps="zero"), "2025-06-01", input_end="2025-06-01")
    assert late.history["ds"].iloc[0] == pd.Timestamp("2024-12-29") and late.history["y"].iloc[0] == 7.0
    assert any("the first period 2024-12-08 has rows from 2024-12-04 on" in note for note in late.notes)
    # a shop's hours from 9 to 17 summed into days: every day starts at 9, none late
    days = pd.date_range("2024-01-01", "2024-01-31")
    hours = frame([day + pd.Timedelta(hours=hour) for day in days for hour in range(9, 18)], 1.0)
    shop = clean_history(hours, "D", policy(gaps="zero"), "2024-02-01", input_end="2024-01-31 17:00")
    assert shop.history["ds"].iloc[0] == pd.Timestamp("2024-01-01") and shop.history["y"].iloc[0] == 9.0


def test_a_first_or_last_period_its_finer_rows_cover_only_in_part_is_left_out_when_summed():
    # daily sales from 20 January and up to 10 January a year later, summed into months
    # while other series' rows go on to February (input_end)
    history = daily_rows("2023-01-20", "2024-01-10")
    cleaned = clean_history(history, "MS", policy(), "2024-03-01", input_end="2024-02-29")
    assert cleaned.history["ds"].tolist() == list(pd.date_range("2023-02-01", "2023-12-01", freq="MS"))
    assert cleaned.history["y"].iloc[0] == 28 * 100.0 and cleaned.history["y"].iloc[-1] == 31 * 100.0
    assert [note for note in cleaned.notes if "part summed" in note] == [
        "the first period 2023-01-01 has 12 distinct times, against 31 in its other periods: its 12 rows left out, "
        "a part summed is no whole period",
        "the last period 2024-01-01 has 10 distinct times, against 31 in its other periods: its 10 rows left out, "
        "a part summed is no whole period"]
    # an input whose daily rows end on the period's last day covers it: the last period is judged too
    for input_end in ("2024-01-31", "2024-01-31 10:00"):  # rows at a time of day too
        covered = clean_history(history, "MS", policy(), "2024-02-01", input_end=input_end)
        assert covered.history["ds"].iloc[-1] == pd.Timestamp("2023-12-01")
        assert "the last period 2024-01-01 has 10 distinct times" in " ".join(covered.notes)
    # quarter hours to 10:15 summed into hours, the run a day later: the 10:00 hour holds half its quarters
    quarters = frame(pd.date_range("2024-01-01", "2024-01-05 10:15", freq="15min"), 1.0)
    hourly = clean_history(quarters, "h", policy(), "2024-01-06", input_end="2024-01-05 10:15")
    assert hourly.history["ds"].iloc[-1] == pd.Timestamp("2024-01-05 09:00") and hourly.history["y"].iloc[-1] == 4.0
    # a week ending Monday whose first day of data is that Monday: one day of seven
    weeks = clean_history(daily_rows("2023-01-02", "2023-01-29"), "W-MON", policy(), "2023-03-01")
    assert weeks.history["ds"].iloc[0] == pd.Timestamp("2023-01-09") and weeks.history["y"].iloc[0] == 7 * 100.0
    # with zero gaps a day without a row sold nothing: the last month is what was sold; the days
    # before the first row are not known, so the first month, its rows starting late into it, is left out
    zeros = clean_history(history, "MS", policy(gaps="zero"), "2024-03-01", input_end="2024-02-29")
    assert zeros.history["ds"].iloc[0] == pd.Timestamp("2023-02-01") and zeros.history["y"].iloc[11] == 10 * 100.0
    assert "the first period 2023-01-01 has rows from 2023-01-20 on, later into it than its other periods" in (
        " ".join(zeros.notes))
    # weekdays whose months start or end on a weekend, and daily data from 2 January, are whole months
    weekdays = frame(pd.bdate_range("2024-06-03", "2024-11-29"), 1.0)  # June starts and August ends on a Saturday
    kept = clean_history(weekdays, "MS", policy(), "2024-12-31", input_end="2024-12-31")
    assert kept.history["y"].tolist() == [20.0, 23.0, 22.0, 21.0, 23.0, 21.0]
    assert len(clean_history(daily_rows("2023-01-02", "2023-06-30"), "MS", policy(), "2024-03-01").history) == 6
    # whole first and last periods are kept; so are rows a period apart, and hours at noon are a whole day
    assert len(clean_history(daily_rows("2023-01-01", "2023-12-31"), "MS", policy(), "2024-03-01").history) == 12
    mid_month = frame(pd.date_range("2023-01-01", periods=12, freq="MS") + pd.Timedelta(days=14), 1.0)
    assert len(clean_history(mid_month, "MS", policy(), "2024-03-01").history) == 12
    semimonthly = frame(pd.date_range("2023-01-01", "2023-12-15", freq="SMS"), 1.0)  # the 1st and the 15th
    assert clean_history(semimonthly, "MS", policy(), "2024-03-01").history["y"].tolist() == [2.0] * 12
    noon = frame(pd.date_range("2023-01-01 12:00", "2023-03-31 12:00", freq="D"), 1.0)
    assert clean_history(noon, "MS", policy(), "2024-03-01").history["y"].tolist() == [31.0, 28.0, 31.0]
    # averaged, a part of a period is still its level: kept
    averaged = clean_history(history, "MS", policy(duplicates="mean"), "2024-03-01", input_end="2024-02-29")
    assert len(averaged.history) == 13 and not [note for note in averaged.notes if "part summed" in note]
    # where the whole input stops inside the last period, that period is a part too, whatever the run date says,
    # also with zero gaps: the days after the input's last are not known to have sold nothing
    for gaps in ("keep", "zero"):
        alone = clean_history(history, "MS", policy(gaps=gaps), "2024-03-01", input_end="2024-01-10")
        assert alone.history["ds"].iloc[-1] == pd.Timestamp("2023-12-01") and alone.history["y"].iloc[-1] == 3100.0
        assert ("the last period 2024-01-01 goes on past the input's last day 2024-01-10 by 21 days of the week the "
                "series has rows on: its 10 rows left out, a part summed is no whole period (forecast instead)"
                ) in alone.notes
    averaged = clean_history(history, "MS", policy(duplicates="mean"), "2024-03-01", input_end="2024-01-10")
    assert averaged.history["ds"].iloc[-1] == pd.Timestamp("2024-01-01")  # averaged, a part is still its level


def test_a_last_week_the_input_stops_inside_is_left_out_and_never_filled_with_zeros():
    # daily sales to Sunday 30 November summed into weeks ending Monday, the run dated Monday 1 December
    # (a backfill of a Monday's run from an input exported on Sunday) or later: six days of seven
    for run_date in ("2025-12-01", "2025-12-03"):
        cleaned = clean_history(daily_rows("2025-06-03", "2025-11-30"), "W-MON", policy(gaps="zero"), run_date,
                                input_end="2025-11-30")
        assert cleaned.history["ds"].iloc[-1] == pd.Timestamp("2025-11-24"), run_date
        assert cleaned.history["y"].iloc[-1] == 700.0
        assert any(note.startswith("the last period 2025-12-01 goes on past the input's last day 2025-11-30 by 1 day "
                                   "of the week the series has rows on: its 6 rows") for note in cleaned.notes)
    # with Monday's rows in the input, or the whole input's reaching Monday, the week is whole
    whole = clean_history(daily_rows("2025-06-03", "2025-12-01"), "W-MON", policy(gaps="zero"), "2025-12-01",
                          input_end="2025-12-01")
    assert whole.history["ds"].iloc[-1] == pd.Timestamp("2025-12-01") and whole.history["y"].iloc[-1] == 700.0
    other_series = clean_history(daily_rows("2025-06-03", "2025-11-30"), "W-MON", policy(gaps="zero"), "2025-12-01",
                                 input_end="2025-12-01")
    assert other_series.history["y"].iloc[-1] == 600.0  # gaps: zero, Monday sold nothing
    # business days summed into weeks to Sunday, the input stopping on a Friday: as many days as the weeks before
    weekdays = clean_history(frame(pd.bdate_range("2025-06-02", "2025-11-28"), 1.0), "W-SUN", policy(gaps="zero"),
                             "2025-11-30", input_end="2025-11-28")
    assert weekdays.history["ds"].iloc[-1] == pd.Timestamp("2025-11-30") and weekdays.history["y"].iloc[-1] == 5.0
    # and into months: February 2026 ends on a Saturday, its 20 business days to the 27th are the whole month
    months = clean_history(frame(pd.bdate_range("2025-01-01", "2026-02-27"), 1.0), "MS", policy(), "2026-03-31",
                           input_end="2026-02-27")
    assert months.history["ds"].iloc[-1] == pd.Timestamp("2026-02-01") and months.history["y"].iloc[-1] == 20.0
    # every day, or transactions, to Friday 30 January: January lacks its Saturday, however many rows it has
    # (31 days against months of 28 to 31, a busy month's transactions against quieter ones')
    every_day = clean_history(daily_rows("2025-06-01", "2026-01-30"), "MS", policy(), "2026-02-02",
                              input_end="2026-01-30")
    assert every_day.history["ds"].iloc[-1] == pd.Timestamp("2025-12-01")
    quiet, busy = pd.date_range("2025-06-01", "2025-12-31 23:00", freq="5h"), pd.date_range("2026-01-01", "2026-01-30",
                                                                                           freq="3h")
    transactions = clean_history(frame(quiet.append(busy), 1.0), "MS", policy(), "2026-02-02", input_end="2026-01-30")
    assert transactions.history["ds"].iloc[-1] == pd.Timestamp("2025-12-01")
    # weeks summed into quarters or months: whole where no week was due before the period's end
    mondays = clean_history(frame(pd.date_range("2024-01-01", "2026-03-30", freq="W-MON"), 1.0), "QS", policy(),
                            "2026-04-01", input_end="2026-03-30")
    assert mondays.history["ds"].iloc[-1] == pd.Timestamp("2026-01-01") and mondays.history["y"].iloc[-1] == 13.0
    months = clean_history(frame(pd.date_range("2023-01-01", "2025-03-01", freq="MS"), 1.0), "QS", policy(),
                           "2025-04-01", input_end="2025-03-01")
    assert months.history["ds"].iloc[-1] == pd.Timestamp("2025-01-01") and months.history["y"].iloc[-1] == 3.0
    # March 2025 has five Mondays: to the 24th it lacks the 31st, though it has as many as most months
    march = clean_history(frame(pd.date_range("2024-01-01", "2025-03-24", freq="W-MON"), 1.0), "MS", policy(),
                          "2025-04-01", input_end="2025-03-24")
    assert march.history["ds"].iloc[-1] == pd.Timestamp("2025-02-01")
    assert ("the last period 2025-03-01 goes on past the input's last day 2025-03-24 where a row was due by "
            "2025-03-31: its 4 rows left out, a part summed is no whole period (forecast instead)") in march.notes
    # the week left out is the input's lag, not the series': it is not behind for it, nor stale a day later
    later = clean_history(daily_rows("2025-06-03", "2025-11-30"), "W-MON", policy(stale_after=1), "2025-12-02",
                          input_end="2025-11-30")
    assert later.rejection is None and not any("periods before the run date" in note for note in later.notes)


def test_zeros_fill_no_week_that_the_input_stops_inside():
    # daily rows summed into weeks, the input known to Wednesday 20 March: a series with rows that week has it
    # left out as a part, and one whose rows stopped on the 10th got a zero for it, for days no row covers
    stopped = clean_history(daily_rows("2024-01-01", "2024-03-10"), "W", policy(gaps="zero"), "2024-03-31",
                            input_end="2024-03-20T00:00:00")
    going = clean_history(daily_rows("2024-01-01", "2024-03-20"), "W", policy(gaps="zero"), "2024-03-31",
                          input_end="2024-03-20T00:00:00")
    assert stopped.history["ds"].iloc[-1] == going.history["ds"].iloc[-1] == pd.Timestamp("2024-03-17")
    assert stopped.history["y"].iloc[-1] == 0.0 and "1 period after the last row, before the run date" in " ".join(
        stopped.notes)
    assert not [note for note in stopped.notes if note.startswith(STALE_NOTE)]  # the input's lag, not its own
    assert not [note for note in going.notes if note.startswith(STALE_NOTE)]
    # averaged (duplicates: mean), a part is the level: a week of the input's is no part, as for a series with rows in it
    averaged = clean_history(daily_rows("2024-01-01", "2024-03-10"), "W", policy(gaps="zero", duplicates="mean"),
                             "2024-03-31", input_end="2024-03-20T00:00:00")
    assert averaged.history["ds"].iloc[-1] == pd.Timestamp("2024-03-24") and averaged.history["y"].iloc[-1] == 0.0
    # business days to Friday: the week to Sunday is whole, so it is a week without sales
    weekdays = frame(pd.bdate_range("2024-01-01", "2024-03-08"), 1.0)
    whole = clean_history(weekdays, "W", policy(gaps="zero"), "2024-03-31", input_end="2024-03-22T00:00:00")
    assert whole.history["ds"].iloc[-1] == pd.Timestamp("2024-03-24") and whole.history["y"].iloc[-1] == 0.0


def test_a_last_day_or_week_of_hours_the_input_stops_inside_is_left_out():
    # hourly rows to 10:00 summed into a day, or into a week, were kept as whole: 11 of 24 hours, 155 of 168
    hours = frame(pd.date_range("2024-03-01", "2024-03-20 10:00", freq="h"), 1.0)
    day = clean_history(hours, "D", policy(), "2024-03-22", input_end="2024-03-20T10:00:00")
    assert day.history["ds"].iloc[-1] == pd.Timestamp("2024-03-19") and day.history["y"].iloc[-1] == 24.0
    assert ("the last period 2024-03-20 goes on past the input's last day 2024-03-20 (its last time 10:00) by 13 of "
            "the hours of the week the series has rows in: its 11 rows left out, a part summed is no whole period "
            "(forecast instead)") in day.notes
    weeks = frame(pd.date_range("2024-01-01", "2024-03-31 10:00", freq="h"), 1.0)
    week = clean_history(weeks, "W", policy(), "2024-04-03", input_end="2024-03-31T10:00:00")
    assert week.history["ds"].iloc[-1] == pd.Timestamp("2024-03-24") and week.history["y"].iloc[-1] == 168.0
    # a day's first hour alone, the input ending at midnight
    midnight = clean_history(frame(pd.date_range("2024-03-01", "2024-03-21", freq="h"), 1.0), "D", policy(),
                             "2024-03-25", input_end="2024-03-21T00:00:00")
    assert midnight.history["ds"].iloc[-1] == pd.Timestamp("2024-03-20")
    # a shop's hours, 9:00 to 20:00, to its closing hour: the day is whole; closed on Sundays, so is the week
    open_hours = pd.date_range("2024-01-01", "2024-03-30 20:00", freq="h")
    open_hours = open_hours[(open_hours.hour >= 9) & (open_hours.hour <= 20) & (open_hours.dayofweek != 6)]
    shop = clean_history(frame(open_hours, 1.0), "D", policy(), "2024-04-03", input_end="2024-03-30T20:00:00")
    assert shop.history["ds"].iloc[-1] == pd.Timestamp("2024-03-30") and shop.history["y"].iloc[-1] == 12.0
    shop_week = clean_history(frame(open_hours, 1.0), "W", policy(), "2024-04-03", input_end="2024-03-30T20:00:00")
    assert shop_week.history["ds"].iloc[-1] == pd.Timestamp("2024-03-31") and shop_week.history["y"].iloc[-1] == 72.0
    early = clean_history(frame(open_hours[open_hours <= "2024-03-30 15:00"], 1.0), "D", policy(), "2024-04-03",
                          input_end="2024-03-30T15:00:00")
    assert early.history["ds"].iloc[-1] == pd.Timestamp("2024-03-29")  # 16:00 to 20:00 still to come
    # Saturdays 10:00 to 14:00 only: a Saturday to 14:00 is whole, though weekdays go on to 20:00
    short_saturdays = open_hours[(open_hours.dayofweek != 5) | ((open_hours.hour >= 10) & (open_hours.hour <= 14))]
    saturday = clean_history(frame(short_saturdays[short_saturdays <= "2024-03-30 14:00"], 1.0), "W", policy(),
                             "2024-04-03", input_end="2024-03-30T14:00:00")
    assert saturday.history["ds"].iloc[-1] == pd.Timestamp("2024-03-31") and saturday.history["y"].iloc[-1] == 65.0
    # one late row some weeks ago is no opening hour
    stray = open_hours.append(pd.DatetimeIndex(["2024-03-26 23:05"])).sort_values()
    kept = clean_history(frame(stray[stray <= "2024-03-29 20:00"], 1.0), "D", policy(), "2024-04-03",
                         input_end="2024-03-29T20:00:00")
    assert kept.history["ds"].iloc[-1] == pd.Timestamp("2024-03-29")


def test_an_open_period_named_by_its_end_is_left_out_and_a_closed_one_kept():
    # Wednesday 6 March: the week ending Sunday 10 March has three of its seven days
    open_week = clean_history(daily_rows("2024-01-01", "2024-03-06"), "W", policy(), "2024-03-06")
    assert open_week.history["ds"].iloc[-1] == pd.Timestamp("2024-03-03") and open_week.history["y"].iloc[-1] == 700.0
    assert "the last period 2024-03-10 is still open on the run date 2024-03-06: its 3 rows left out" in open_week.notes
    closed = clean_history(daily_rows("2024-01-01", "2024-03-10"), "W", policy(), "2024-03-10")
    assert closed.history["ds"].iloc[-1] == pd.Timestamp("2024-03-10") and closed.history["y"].iloc[-1] == 700.0
    assert not any("still open" in note for note in closed.notes)
    month_end = clean_history(daily_rows("2024-01-01", "2024-03-10"), "ME", policy(), "2024-03-10")
    assert month_end.history["ds"].iloc[-1] == pd.Timestamp("2024-02-29")


def test_rows_several_times_a_period_make_the_open_period_a_part_though_most_rows_are_on_the_grid():
    # sales stamped on the hour three at a time, and at :20 and :40: finer than hours, though most rows sit on the
    # grid; the current hour's rows, all on the hour so far, are a part of it, not the hour
    hours = pd.date_range("2024-03-10 00:00", "2024-03-10 09:00", freq="h")
    times = [*hours.repeat(3), *(hours + pd.Timedelta(minutes=20)), *(hours + pd.Timedelta(minutes=40)),
             *[pd.Timestamp("2024-03-10 10:00")] * 3]
    cleaned = clean_history(frame(pd.DatetimeIndex(sorted(times)), 1.0), "h", policy(), "2024-03-10",
                            now="2024-03-10 10:20")
    assert cleaned.history["ds"].iloc[-1] == pd.Timestamp("2024-03-10 09:00")
    assert cleaned.history["y"].tolist() == [5.0] * 10
    assert "the last period 2024-03-10 10:00 is still open at 2024-03-10 10:20: its 3 rows left out" in cleaned.notes


def test_a_run_during_its_run_date_cuts_at_its_start_so_the_current_hour_of_minute_rows_is_open():
    minutes = frame(pd.date_range("2024-03-10 00:00", "2024-03-10 10:19", freq="min"), 1.0)
    # at 10:20 the hour from 10:00 has 20 of its 60 minutes: no hour yet
    cleaned = clean_history(minutes, "h", policy(), "2024-03-10", now="2024-03-10 10:20")
    assert cleaned.history["ds"].iloc[-1] == pd.Timestamp("2024-03-10 09:00")
    assert cleaned.history["y"].tolist() == [60.0] * 10
    assert "the last period 2024-03-10 10:00 is still open at 2024-03-10 10:20: its 20 rows left out" in cleaned.notes
    # the last whole hour is one period before the start's: no stale history
    assert not any("periods before" in note for note in cleaned.notes)
    # the day's end as the cut (a past run date's) counts that hour whole: the hour such a run ran is not known
    at_day_end = clean_history(minutes, "h", policy(), "2024-03-10")
    assert at_day_end.history["y"].iloc[-1] == 20.0 and not any("periods before" in note for note in at_day_end.notes)
    # the start only matters for periods shorter than a day: a month is open either way
    days = daily_rows("2024-01-01", "2024-03-10")
    assert (clean_history(days, "MS", policy(), "2024-03-10", now="2024-03-10 10:20").history.equals(
        clean_history(days, "MS", policy(), "2024-03-10").history))


def test_a_last_period_already_on_the_grid_is_kept_on_the_run_date():
    # a monthly value dated the 1st may be that month's figure (a plan) or its first days' (an
    # export on the 10th): kept, and noted, since only the input knows
    monthly = frame(pd.date_range("2023-10-01", "2024-03-01", freq="MS"), 5.0)
    cleaned = clean_history(monthly, "MS", policy(), "2024-03-10")
    pd.testing.assert_frame_equal(cleaned.history, monthly)
    assert cleaned.notes == ["the last period 2024-03-01 is still open on the run date 2024-03-10, its value "
                             f"{OPEN_KEPT_NOTE}: if it holds only a part, or what was known only later (a backfill), "
                             "cleaning.open_period: drop leaves it out and forecasts it"]
    # closed on the month's last day, and a run on the day itself knows only up to its start
    assert clean_history(monthly, "MS", policy(), "2024-03-31").notes == []
    assert OPEN_KEPT_NOTE in clean_history(monthly, "MS", policy(), "2024-03-31", now="2024-03-31 10:00").notes[0]


def test_a_last_period_still_open_is_left_out_and_forecast_with_open_period_drop():
    # a backfill on 09-01 from today's file: September's total, dated its first day, was not known then
    monthly = frame(pd.date_range("2024-01-01", "2024-09-01", freq="MS"), np.arange(9.0))
    dropped = clean_history(monthly, "MS", policy(open_period="drop"), "2024-09-01")
    pd.testing.assert_frame_equal(dropped.history, monthly.iloc[:8])
    assert dropped.notes == ["the last period 2024-09-01 is still open on the run date 2024-09-01: its 1 row left "
                             "out (cleaning.open_period: drop), forecast instead"]
    # a period over by the run date's end is no open one: kept whatever the policy
    assert clean_history(monthly, "MS", policy(open_period="drop"), "2024-09-30").history.equals(monthly)
    # the model forecasts September first
    assert baselines.naive(dropped.history, 2, "MS", 0.8)["ds"].tolist() == list(pd.to_datetime(["2024-09-01",
                                                                                                  "2024-10-01"]))


def test_a_history_that_stops_longer_before_the_run_date_than_stale_after_is_skipped_so():
    from forecasting.run_date_cut import STALE_SKIPPED

    history = daily_rows("2023-12-01", "2024-01-10")  # a unit closed on 10 January: 21 days behind on the 31st
    cleaned = clean_history(history, "D", policy(stale_after=20), "2024-01-31")
    assert cleaned.rejection == (f"{STALE_SKIPPED} (20 periods): last observation 2024-01-10, 21 periods before the "
                                 "run date 2024-01-31")
    assert cleaned.refused_by == "stale_after"  # a policy's refusal: the scoring job's status rejected
    # as many periods behind as allowed, or no limit: forecast as ever, noted
    for allowed in (21, "null"):
        kept = clean_history(history, "D", policy(stale_after=allowed), "2024-01-31")
        assert kept.rejection is None and kept.notes == ["last observation 2024-01-10, 21 periods before the run "
                                                         "date 2024-01-31"]
    # gaps: zero: counted from the last row, not the zeros after it (a product delisted a year ago sells nothing)
    for input_end in ("2024-01-10", "2024-01-30"):
        zeros = clean_history(history, "D", policy(stale_after=5, gaps="zero"), "2024-01-31", input_end=input_end)
        assert zeros.rejection == (f"{STALE_SKIPPED} (5 periods): last observation 2024-01-10, 21 periods before the "
                                   "run date 2024-01-31" + (" (the zeros cleaning.gaps filled after it not counted: "
                                                            "no zeros before it)" if input_end == "2024-01-30" else ""))
        # its history as the reason counts it: up to its last row, in periods, not its input's rows
        assert zeros.history["ds"].max() == pd.Timestamp("2024-01-10") and len(zeros.history) == 41
    kept = clean_history(history, "D", policy(stale_after=21, gaps="zero"), "2024-01-31", input_end="2024-01-30")
    assert kept.rejection is None and kept.history["ds"].max() == pd.Timestamp("2024-01-30")  # zeros up to the end
    # a slow mover, a sale every 10 days, the last on 9 January: 16 days on is its usual silence twice at most
    sales = frame(pd.date_range("2023-10-01", "2024-01-10", freq="10D"), 4.0)
    slow = clean_history(sales, "D", policy(stale_after=5, gaps="zero"), "2024-01-25", input_end="2024-01-24")
    assert slow.rejection is None and slow.history["ds"].max() == pd.Timestamp("2024-01-24")
    assert clean_history(sales, "D", policy(stale_after=5, gaps="zero"), "2024-02-02",
                         input_end="2024-02-01").rejection.endswith("longest run of zeros before, 9 periods)")


def test_a_product_whose_rows_stopped_is_noted_and_its_zeros_reach_the_week_the_live_ones_reach():
    from forecasting.run_date_cut import STALE_SKIPPED, STOPPED_NOTE

    # daily sales summed into weeks ending Sunday; one product delisted after Sunday 30 August
    delisted, live = daily_rows("2025-01-06", "2026-08-30", 20.0), daily_rows("2025-01-06", "2026-11-22", 20.0)
    zero = policy(gaps="zero")
    # a past run date, Sunday 22 November: the live product's week ending then is whole, so the zeros reach it too
    # (they stopped a week short: that week's forecast was the delisted product's first)
    ends = {name: clean_history(rows, "W-SUN", zero, "2026-11-22", input_end="2026-11-22").history["ds"].max()
            for name, rows in (("delisted", delisted), ("live", live))}
    assert ends == {"delisted": pd.Timestamp("2026-11-22"), "live": pd.Timestamp("2026-11-22")}
    # run on the day itself, Sunday morning: the week still open, for both
    ends = {name: clean_history(rows, "W-SUN", zero, "2026-11-22", input_end="2026-11-22",
                                now="2026-11-22 06:00").history["ds"].max() for name, rows in (("d", delisted), ("l", live))}
    assert ends == {"d": pd.Timestamp("2026-11-15"), "l": pd.Timestamp("2026-11-15")}
    cleaned = clean_history(delisted, "W-SUN", zero, "2026-11-22", input_end="2026-11-22")
    assert cleaned.notes[-1] == (
        f"{STOPPED_NOTE}: 0 since 2026-09-06, 12 periods, all zeros filled after the last row 2026-08-30, over twice "
        "its longest run of zeros before. Discontinued? Modelled as periods of 0 (a forecast may still keep the "
        "level before them); cleaning.stale_after skips series whose rows stop long before the run date")
    assert not [note for note in clean_history(live, "W-SUN", zero, "2026-11-22", input_end="2026-11-22").notes
                if STOPPED_NOTE in note]
    # zero rows from August, then none: the whole run of zeros counted, one note (not also an outage's)
    fading = delisted.assign(y=np.where(delisted["ds"] > "2026-07-31", 0.0, 20.0))
    notes = clean_history(fading, "W-SUN", zero, "2026-11-22", input_end="2026-11-22").notes
    assert [note for note in notes if note.startswith(STOPPED_NOTE)] == [
        f"{STOPPED_NOTE}: 0 since 2026-08-09, 16 periods, 12 of them zeros filled after the last row 2026-08-30, over "
        "twice its longest run of zeros before. Discontinued? Modelled as periods of 0 (a forecast may still keep "
        "the level before them); cleaning.stale_after skips series whose rows stop long before the run date"]
    assert not [note for note in notes if "values are 0, where" in note]
    # back in stock after three weeks out, its rows of this week left out (still open, the input stopping inside
    # it, or unsettled): its rows came back, nothing stopped
    back = pd.concat([daily_rows("2025-06-02", "2026-10-25", 20.0), daily_rows("2026-11-16", "2026-11-17", 20.0)])
    for run_date, changes, now in (("2026-11-18", {}, "2026-11-18 06:00"), ("2026-11-22", {}, None),
                                   ("2026-11-18", {"unsettled_periods": 1}, None)):
        notes = clean_history(back, "W-SUN", policy(gaps="zero", **changes), run_date, input_end="2026-11-17",
                              now=now).notes
        assert [note for note in notes if "filled (zero)" in note] and not [
            note for note in notes if STOPPED_NOTE in note], (run_date, changes, notes)
    # a slow mover, a sale every five weeks, the last eight weeks before: its usual silence, not stopped
    slow = frame(pd.date_range("2025-01-05", "2026-09-27", freq="35D"), 3.0)
    assert not [note for note in clean_history(slow, "W-SUN", zero, "2026-11-22", input_end="2026-11-22").notes
                if STOPPED_NOTE in note]
    # skipped by stale_after: no note that its forecast follows, and its history in weeks up to its last
    skipped = clean_history(delisted, "W-SUN", policy(gaps="zero", stale_after=6), "2026-11-22", input_end="2026-11-22")
    assert skipped.rejection.startswith(STALE_SKIPPED) and not [n for n in skipped.notes if STOPPED_NOTE in n]
    weeks = pd.date_range("2025-01-12", "2026-08-30", freq="W-SUN")
    assert skipped.history["ds"].tolist() == list(weeks) and (skipped.history["y"] == 140.0).all()


def test_unsettled_periods_leave_the_run_dates_period_and_those_before_it_out():
    history = daily_rows("2023-12-01", "2024-01-31")  # yesterday's count partial, the two before still revised
    cleaned = clean_history(history, "D", policy(unsettled_periods=2), "2024-01-31")
    assert cleaned.history["ds"].max() == pd.Timestamp("2024-01-28") and cleaned.notes == []  # not behind: settled
    assert cleaned.history.equals(history[history["ds"] <= "2024-01-28"].reset_index(drop=True))
    # a run during its date: the same periods, by the run's start
    assert clean_history(history, "D", policy(unsettled_periods=2), "2024-01-31",
                         now="2024-01-31 05:00").history["ds"].max() == pd.Timestamp("2024-01-28")
    # zero gaps fill up to the settled end, not into the unsettled periods
    early = daily_rows("2023-12-01", "2024-01-20")
    zeros = clean_history(early, "D", policy(unsettled_periods=2, gaps="zero"), "2024-01-31", input_end="2024-01-31")
    assert zeros.history["ds"].max() == pd.Timestamp("2024-01-28") and (zeros.history["y"].iloc[-8:] == 0).all()
    # months named by their end: March is open on the 10th, February unsettled, January the last kept
    months = frame(pd.date_range("2023-01-31", "2024-03-31", freq="ME"), 1.0)
    assert clean_history(months, "ME", policy(unsettled_periods=1), "2024-03-10").history["ds"].max() == \
        pd.Timestamp("2024-01-31")
    # none unsettled: the run date's rows are kept, as ever
    assert clean_history(history, "D", policy(), "2024-01-31").history["ds"].max() == pd.Timestamp("2024-01-31")
    # data that stop before the unsettled periods are behind by the periods before the last settled one
    early = clean_history(daily_rows("2023-12-01", "2024-01-24"), "D", policy(unsettled_periods=2, stale_after=4),
                          "2024-01-31")
    assert early.rejection is None and early.notes == ["last observation 2024-01-24, 4 periods before the last "
                                                       "settled period 2024-01-28 (the run date 2024-01-31 less "
                                                       "cleaning.unsettled_periods)"]
    assert clean_history(daily_rows("2023-12-01", "2024-01-23"), "D", policy(unsettled_periods=2, stale_after=4),
                         "2024-01-31").rejection.endswith("5 periods before the last settled period 2024-01-28 (the "
                                                          "run date 2024-01-31 less cleaning.unsettled_periods)")
    # hours of a past run date count from its start, as for a stale history: its own hours are unsettled
    hours = frame(pd.date_range("2024-03-12", "2024-03-13 12:00", freq="h"), 1.0)
    kept = clean_history(hours, "h", policy(unsettled_periods=1, stale_after=2), "2024-03-13")
    assert kept.history["ds"].max() == pd.Timestamp("2024-03-12 21:00") and kept.notes == []
    # a series all of whose rows are unsettled: skipped, saying so
    new = clean_history(daily_rows("2024-01-29", "2024-01-31"), "D", policy(unsettled_periods=2), "2024-01-31")
    assert new.rejection == ("all 3 rows in the periods left out as still growing (cleaning.unsettled_periods: the "
                             "run date's and the 2 before it)")


def test_a_history_that_stopped_well_before_the_run_date_is_noted():
    history = daily_rows("2023-12-01", "2024-01-10")
    behind = (pd.Timestamp("2024-01-31") - pd.Timestamp("2024-01-10")).days
    cleaned = clean_history(history, "D", policy(), "2024-01-31")
    assert cleaned.notes == [f"last observation 2024-01-10, {behind} periods before the run date 2024-01-31"]
    assert len(cleaned.history) == len(history)  # noted, not changed
    # the run date's own period may not be in yet: one period behind is usual
    assert clean_history(history, "D", policy(), "2024-01-11").notes == []
    months = frame(pd.date_range("2023-01-01", "2023-10-01", freq="MS"), 1.0)
    assert clean_history(months, "MS", policy(), "2024-03-10").notes == [
        "last observation 2023-10-01, 5 periods before the run date 2024-03-10"  # November to March
    ]
    assert clean_history(history, "D", policy()).notes == []
    # hours of a past run date count from its start, not from its last hour
    hours = frame(pd.date_range("2024-03-08", "2024-03-09 20:00", freq="h"), 1.0)
    assert clean_history(hours, "h", policy(), "2024-03-10").notes == [
        "last observation 2024-03-09 20:00, 3 periods before the run date 2024-03-10"
    ]
    assert clean_history(hours.iloc[:-1], "h", policy(), "2024-03-09", now="2024-03-09 21:30").notes == [
        "last observation 2024-03-09 19:00, 2 periods before the run's start 2024-03-09 21:30"  # 21:00 is current
    ]
    # more than 292 years before (pandas' longest Timedelta): counted all the same, not an overflow
    old = daily_rows("1700-01-01", "1700-03-01")
    behind = (dt.date(2024, 9, 1) - dt.date(1700, 3, 1)).days
    assert clean_history(old, "D", policy(), "2024-09-01").notes == [
        f"last observation 1700-03-01, {behind} periods before the run date 2024-09-01"]
    weeks = (dt.date(2024, 9, 1) - dt.date(1700, 1, 1)).days // 7 - (dt.date(1700, 2, 26) - dt.date(1700, 1, 1)).days // 7
    assert clean_history(old, "7D", policy(), "2024-09-01").notes[-1] == (  # steps of days too
        f"last observation 1700-02-26, {weeks} periods before the run date 2024-09-01")


def test_zero_gaps_fill_the_periods_over_before_the_run_date():
    history = daily_rows("2024-01-01", "2024-01-10")
    # a run on its run date, still going (a scheduled run's default is today): the 11th to the 14th
    cleaned = clean_history(history, "D", policy(gaps="zero"), "2024-01-15", now="2024-01-15 06:00")
    assert cleaned.history["ds"].tolist() == list(pd.date_range("2024-01-01", "2024-01-14"))
    assert cleaned.history["y"].tolist() == [100.0] * 10 + [0.0] * 4
    assert cleaned.notes[0] == "4 periods after the last row, before the run date 2024-01-15, filled (zero)"
    assert cleaned.notes[1].startswith("rows stopped: 0 since 2024-01-11, 4 periods, all zeros filled after the last "
                                       "row 2024-01-10") and len(cleaned.notes) == 2
    # a past run date is over at its end, as another series' row of that day is kept: the 15th too
    past = clean_history(history, "D", policy(gaps="zero"), "2024-01-15")
    assert past.history["ds"].tolist() == list(pd.date_range("2024-01-01", "2024-01-15"))
    # 10 March is inside March: February is the last whole month, and March stays out
    months = frame(pd.date_range("2023-06-01", "2023-10-01", freq="MS"), 1.0)
    filled = clean_history(months, "MS", policy(gaps="zero"), "2024-03-10")
    assert filled.history["ds"].iloc[-1] == pd.Timestamp("2024-02-01")
    assert filled.history["y"].tolist() == [1.0] * 5 + [0.0] * 4  # November to February
    # a month that ends as the run date starts is over: 1 March's run fills February too, as does a past 29
    # February, over at its end; a run on 29 February itself stops at January
    for run_date in ("2024-03-01", "2024-02-29"):
        assert clean_history(months, "MS", policy(gaps="zero"), run_date).history["ds"].iloc[-1] == pd.Timestamp("2024-02-01")
    assert clean_history(months, "MS", policy(gaps="zero"), "2024-02-29",
                         now="2024-02-29 08:00").history["ds"].iloc[-1] == pd.Timestamp("2024-01-01")
    # hours: a past run date's up to its last hour, as other series' rows of its hours are kept (they
    # stopped a day short); a run during it up to the hour before its start
    hours = frame(pd.date_range("2024-01-01", periods=30, freq="h"), 2.0)
    assert clean_history(hours, "h", policy(gaps="zero"), "2024-01-03").history["ds"].iloc[-1] == pd.Timestamp("2024-01-03 23:00")
    assert clean_history(hours, "h", policy(gaps="zero"), "2024-01-03",
                         now="2024-01-03 06:30").history["ds"].iloc[-1] == pd.Timestamp("2024-01-03 05:00")
    # an input whose data stop on the 12th (other series' rows show it): zeros up to then, not to the run date
    bounded = clean_history(history, "D", policy(gaps="zero"), "2024-01-15", input_end="2024-01-12 18:00")
    assert bounded.history["ds"].iloc[-1] == pd.Timestamp("2024-01-12")
    assert bounded.notes == ["2 periods after the last row, before the run date 2024-01-15, filled (zero)",
                             "last observation 2024-01-12 (a zero cleaning.gaps filled, the last row 2024-01-10), "
                             "3 periods before the run date 2024-01-15"]
    # whole, as the summary finds it among a series' notes
    assert re.search(STALE_IN_NOTES, "; ".join(bounded.notes)).group(1) == bounded.notes[1]
    stale_input = clean_history(history, "D", policy(gaps="zero"), "2024-01-15", input_end="2024-01-10")
    assert len(stale_input.history) == 10
    assert stale_input.notes == ["last observation 2024-01-10, 5 periods before the run date 2024-01-15"]
    # interpolation has nothing to the right to draw towards: only noted
    interpolated = clean_history(history, "D", policy(gaps="interpolate"), "2024-01-15")
    assert len(interpolated.history) == 10 and interpolated.notes[0].startswith("last observation 2024-01-10")


def test_bad_policy_is_a_config_error_naming_the_key():
    with pytest.raises(ValueError, match="'cleaning.gaps'"):
        policy(gaps="guess")


def test_a_series_whose_every_row_moved_to_another_date_is_noted_with_its_first_move():
    # weeks dated by their Monday read as W (weeks named by their Sunday): the forecasts
    # would be dated Sundays, which a join on the input's Mondays does not find
    mondays = frame(pd.date_range("2024-01-01", periods=8, freq="7D"), 5.0)
    assert clean_history(mondays, "W", policy()).notes == [
        f"all 8 {SHIFTED_NOTE} on the 'W' grid (2024-01-01 to 2024-01-07, ...): does forecast.frequency date "
        "the periods as the input does?"]
    assert clean_history(mondays, "7D", policy()).notes == []  # dated as the input
    # and with its last week exported twice: both said
    again = pd.concat([mondays, mondays.tail(1)], ignore_index=True).sort_values("ds", kind="stable")
    notes = clean_history(again, "W", policy()).notes
    assert SHIFTED_NOTE in notes[0] and REPEATED_NOTE in notes[-1]
    # the same day at another hour, or several rows a period merged, is no other dating
    mornings = frame(pd.date_range("2024-01-01 09:00", periods=8, freq="D"), 5.0)
    assert clean_history(mornings, "D", policy()).notes == ["8 timestamps aligned to the 'D' grid"]
    days = frame(pd.date_range("2024-01-02", periods=28, freq="D"), 5.0)
    assert not [note for note in clean_history(days, "W", policy()).notes if SHIFTED_NOTE in note]
    # one row moved alone is aligned, not the series shifted
    one_off = frame(["2024-01-07", "2024-01-14", "2024-01-20", "2024-01-28"], 5.0)
    assert clean_history(one_off, "W", policy()).notes == ["1 timestamps aligned to the 'W' grid"]


def test_a_few_negative_values_kept_are_noted_but_not_a_signed_series():
    # returns among sales: kept as allowed, said, since forecast.floor auto then sets no floor
    sales = frame(pd.date_range("2024-01-01", periods=20, freq="D"), [5.0] * 18 + [-2.0, 5.0])
    assert clean_history(sales, "D", policy()).notes == [
        "1 of 20 values negative, kept (cleaning.negative_values: allow)"]
    temperatures = frame(pd.date_range("2024-01-01", periods=20, freq="D"), [-3.0, 4.0] * 10)
    assert clean_history(temperatures, "D", policy()).notes == []


def test_rows_repeated_exactly_and_summed_are_noted_but_not_records_of_their_own():
    weeks = pd.date_range("2024-01-01", periods=6, freq="7D")
    exported = frame(weeks, [10.0, 11.0, 12.0, 13.0, 14.0, 15.0])
    overlapping = pd.concat([exported, exported.tail(2)], ignore_index=True).sort_values("ds", kind="stable")
    cleaned = clean_history(overlapping, "7D", policy())
    assert cleaned.history["y"].tolist()[-2:] == [28.0, 30.0]  # summed, as the policy says
    assert cleaned.notes == ["2 duplicate timestamps merged (sum)",
                             f"2 {REPEATED_NOTE} (the same time and value as another), added up: the same rows read "
                             "twice?"]
    assert clean_history(overlapping, "7D", policy(duplicates="last")).notes == ["2 duplicate timestamps merged (last)"]
    # two sales at one time, one of them of another amount: records of their own, summed as meant, and said
    sales = frame(["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03", "2024-01-03"],
                  [5.0, 5.0, 5.0, 7.0, 1.0, 2.0])
    assert clean_history(sales, "D", policy()).notes == [
        "3 duplicate timestamps merged (sum)",
        f"2 {OTHER_VALUES_NOTE} (the first 2024-01-02), merged (cleaning.duplicates: sum)"]
    # exact repeats merged by last or mean are no other values
    assert clean_history(sales, "D", policy(duplicates="mean")).notes[1:] == [
        f"2 {OTHER_VALUES_NOTE} (the first 2024-01-02), merged (cleaning.duplicates: mean)"]
    # a week's total loaded twice here and there, its other weeks a row each: summed, and asked about
    doubled = pd.concat([exported, exported.iloc[[1, 4]]], ignore_index=True).sort_values("ds", kind="stable")
    assert clean_history(doubled, "7D", policy()).notes == [
        "2 duplicate timestamps merged (sum)",
        f"2 times {SAME_VALUE_NOTE} (the first 2024-01-08), added up (cleaning.duplicates: sum): a row loaded twice?"]
    assert clean_history(doubled, "7D", policy(duplicates="last")).notes == ["2 duplicate timestamps merged (last)"]
    # daily totals loaded twice on 15 scattered days, two pairs of one value by chance: asked about all the same
    # (the walk-through of 12-07 had none noted); one amount again and again is sales of one unit
    days = frame(pd.date_range("2024-01-01", periods=200, freq="D"), np.arange(200.0) % 90 + 5)
    scattered = list(range(3, 200, 13))[:15]
    days.loc[scattered, "y"] = [20.0, 38.0, 20.0, 38.0, *np.arange(50.0, 61.0)]
    again = days.iloc[scattered]
    twice = pd.concat([days, again], ignore_index=True).sort_values("ds", kind="stable")
    assert clean_history(twice, "D", policy()).notes[-1] == (
        f"15 times {SAME_VALUE_NOTE} (the first 2024-01-04), added up (cleaning.duplicates: sum): a row loaded twice?")
    units = frame(pd.date_range("2024-01-01", periods=200, freq="D"), 1.0)
    sold_twice = pd.concat([units, units.iloc[list(range(3, 200, 13))]], ignore_index=True).sort_values("ds")
    assert not [note for note in clean_history(sold_twice, "D", policy()).notes if SAME_VALUE_NOTE in note]
    # daily rows of one value summed into weeks: other times, not repeats
    days = frame(pd.date_range("2024-01-01", periods=28, freq="D"), 1.0)
    assert not [note for note in clean_history(days, "7D", policy()).notes if REPEATED_NOTE in note]


def test_an_open_last_period_of_finer_rows_is_left_out_though_its_one_row_is_on_the_grid():
    # daily rows up to 1 March, monthly periods: March's first day is no March
    days = frame(pd.date_range("2023-01-01", "2024-03-01", freq="D"), 10.0)
    cleaned = clean_history(days, "MS", policy(), "2024-03-01", input_end="2024-03-01")
    assert cleaned.history["ds"].iloc[-1] == pd.Timestamp("2024-02-01")
    assert "the last period 2024-03-01 is still open on the run date 2024-03-01: its 1 row left out" in cleaned.notes
    # quarter hours up to 10:00, hourly periods, a run at 10:05: the 10:00 hour has one reading so far
    quarters = frame(pd.date_range("2024-01-05", "2024-01-05 10:00", freq="15min"), 1.0)
    hourly = clean_history(quarters, "h", policy(), "2024-01-05", now="2024-01-05 10:05")
    assert hourly.history["ds"].iloc[-1] == pd.Timestamp("2024-01-05 09:00")
    assert not [note for note in hourly.notes if OPEN_KEPT_NOTE in note]


def test_rows_after_the_runs_start_on_its_run_date_are_left_out_as_not_known_yet():
    # a run at 20:27 UTC whose input runs to 23:00: an hour that has not begun is no open period kept
    hours = frame(pd.date_range("2026-12-01", "2026-12-04 23:00", freq="h"), 5.0)
    cleaned = clean_history(hours, "h", policy(), "2026-12-04", now="2026-12-04 20:27:31.250")
    assert cleaned.history["ds"].iloc[-1] == pd.Timestamp("2026-12-04 20:00")
    assert cleaned.notes[0] == (f"3 rows {AHEAD_NOTE} (2026-12-04 20:27 UTC) left out, not known yet: times in a "
                                "zone ahead of UTC? (the job reads times as UTC)")
    assert OPEN_KEPT_NOTE in cleaned.notes[1]  # 20:00's hour has begun: kept, as before
    # a run date given for an earlier day knows the whole day; a daily row of today is no row ahead
    assert len(clean_history(hours, "h", policy(), "2026-12-04").history) == len(hours)
    days = frame(pd.date_range("2026-11-01", "2026-12-04", freq="D"), 5.0)
    assert not [note for note in clean_history(days, "D", policy(), "2026-12-04", now="2026-12-04 06:00").notes
                if AHEAD_NOTE in note]


def test_a_period_that_begins_at_the_runs_start_or_a_day_stamped_late_is_no_row_ahead():
    hours = frame(pd.date_range("2026-12-04", "2026-12-04 20:00", freq="h"), 5.0)
    begun = clean_history(hours, "h", policy(), "2026-12-04", now="2026-12-04 20:00")
    assert begun.history["ds"].iloc[-1] == pd.Timestamp("2026-12-04 20:00")
    assert not [note for note in begun.notes if AHEAD_NOTE in note]
    # weeks named by their Sunday: this week's rows so far are no rows ahead, though its label is
    weeks = clean_history(frame(pd.date_range("2026-10-01", "2026-12-02"), 5.0), "W-SUN", policy(), "2026-12-02",
                          now="2026-12-02 10:00")
    assert not [note for note in weeks.notes if AHEAD_NOTE in note]
    days = frame(pd.date_range("2026-11-01 23:59", "2026-12-04 23:59", freq="D"), 5.0)  # today's row, stamped late
    late = clean_history(days, "D", policy(), "2026-12-04", now="2026-12-04 10:00")
    assert late.notes[-1] == "the last period 2026-12-04 is still open at 2026-12-04 10:00: its 1 row left out"


def test_rows_on_scattered_days_or_several_a_period_are_aligned_not_called_shifted():
    # one sale a week on varying days, read as W: aligned, no other dating of the periods
    sales = frame(["2024-01-03", "2024-01-09", "2024-01-19", "2024-01-24", "2024-02-01", "2024-02-06"], 1.0)
    assert clean_history(sales, "W", policy()).notes == ["6 timestamps aligned to the 'W' grid"]
    # Monday to Saturday rows summed into Sunday-named weeks: every row moves, several a period
    workdays = pd.date_range("2024-01-01", periods=28, freq="D")
    moved = clean_history(frame(workdays[workdays.dayofweek < 6], 1.0), "W", policy())
    assert not [note for note in moved.notes if SHIFTED_NOTE in note]
    # month ends read as month starts: each row by the same rule, though by other numbers of days
    ends = frame(pd.date_range("2023-01-31", periods=6, freq="ME"), 1.0)
    assert SHIFTED_NOTE in clean_history(ends, "MS", policy()).notes[0]
    # and month starts read as month ends (the walk-through of 12-06: a data note alone, nothing in the summary)
    starts = frame(pd.date_range("2023-01-01", periods=6, freq="MS"), 1.0)
    assert clean_history(starts, "ME", policy()).notes[0].startswith(
        f"all 6 {SHIFTED_NOTE} on the 'ME' grid (2023-01-01 to 2023-01-31, ...)")
    # months summed into quarters, dated by their end or start: several rows a period, no other dating
    for months, frequency in ((ends, "QS"), (starts, "QE")):
        assert not [note for note in clean_history(months, frequency, policy()).notes if SHIFTED_NOTE in note]
    assert clean_history(frame(["2024-01-03", "2024-01-10"], 1.0), "W", policy()).notes == [
        "2 timestamps aligned to the 'W' grid"]  # two rows say little


def test_unit_sales_or_scattered_pairs_at_one_time_are_not_called_repeated_rows():
    # one row a sale of one unit: some days three, some two
    units = frame(["2024-01-01"] * 3 + ["2024-01-02"] * 2 + ["2024-01-03"], 1.0)
    assert clean_history(units, "D", policy()).notes == ["3 duplicate timestamps merged (sum)"]
    # two sales of one unit on days far apart: not one run of times exported twice
    pairs = frame(["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-04"],
                  [1.0, 1.0, 2.0, 3.0, 1.0, 1.0])
    assert clean_history(pairs, "D", policy()).notes == ["2 duplicate timestamps merged (sum)"]
    # the same rows twice with their labels (pd.concat without ignore_index): merged as before
    once = frame(pd.date_range("2024-01-01", periods=5, freq="D"), [1.0, 2.0, 3.0, 4.0, 5.0])
    twice = clean_history(pd.concat([once, once]).sort_values("ds", kind="stable"), "D", policy())
    assert twice.history["y"].tolist() == [2.0, 4.0, 6.0, 8.0, 10.0] and REPEATED_NOTE in twice.notes[1]


def local_hours(start: str, end: str, zone: str) -> pd.DataFrame:
    """Hourly rows timed by a zone's local clock, as a data lake export without offsets has them."""
    utc = pd.date_range(start, end, freq="h", tz="UTC")
    return frame(utc.tz_convert(zone).tz_localize(None), np.arange(len(utc)) % 24 + 10.0)


def test_the_hour_local_clocks_repeat_is_noted_and_does_not_hide_exports_that_overlap():
    berlin = local_hours("2026-10-20", "2026-10-28", "Europe/Berlin")  # 02:00 twice on Sunday 25 October
    cleaned = clean_history(berlin, "h", policy())
    assert cleaned.notes == ["1 duplicate timestamps merged (sum)",
                             f"1 {CLOCK_CHANGE_NOTE} (the first 2026-10-25 02:00): local times? Merged "
                             "(cleaning.duplicates: sum), an hour's rows added to another's; times with their UTC "
                             "offset, or in UTC, keep both hours apart"]
    # an export overlapping the last 30 hours: its repeats are told apart from the clock's
    overlapping = pd.concat([berlin, berlin.tail(30)], ignore_index=True).sort_values("ds", kind="stable")
    notes = clean_history(overlapping, "h", policy()).notes
    assert notes[0] == "31 duplicate timestamps merged (sum)" and CLOCK_CHANGE_NOTE in notes[1]
    assert notes[2].startswith(f"30 {REPEATED_NOTE}")
    # ... nor another time given twice elsewhere (a correction's row)
    corrected = pd.concat([overlapping, berlin.iloc[[40]].assign(y=0.0)]).sort_values("ds", kind="stable")
    assert clean_history(corrected, "h", policy()).notes[2].startswith(f"30 {REPEATED_NOTE}")
    # ... and a value the later export revised does not hide the others
    revised = overlapping.reset_index(drop=True)
    revised.loc[revised.index[-3], "y"] += 1.0
    assert clean_history(revised, "h", policy()).notes[2].startswith(f"29 {REPEATED_NOTE}")
    # New York's clocks go back on the first Sunday of November, at 2:00 to 1:00; averaged, said too
    flat = frame(local_hours("2026-10-30", "2026-11-03", "America/New_York")["ds"], 1.0)  # its two hours alike
    assert not [note for note in clean_history(flat, "h", policy()).notes if REPEATED_NOTE in note]
    new_york = clean_history(local_hours("2026-10-30", "2026-11-03", "America/New_York"), "h", policy(duplicates="mean"))
    assert new_york.notes[1].startswith(f"1 {CLOCK_CHANGE_NOTE} (the first 2026-11-01 01:00): local times? Merged "
                                        "(cleaning.duplicates: mean); times")
    # not daily rows, nor a repeated hour on another day
    sundays = frame(["2026-10-24", "2026-10-25", "2026-10-25", "2026-10-26"], 1.0)
    assert not [note for note in clean_history(sundays, "D", policy()).notes if CLOCK_CHANGE_NOTE in note]
    june = local_hours("2026-06-01", "2026-06-10", "UTC")
    june = pd.concat([june, june[june["ds"] == "2026-06-07 02:00"]]).sort_values("ds", kind="stable")
    assert not [note for note in clean_history(june, "h", policy()).notes if CLOCK_CHANGE_NOTE in note]


@pytest.mark.parametrize("zone, first", [("Europe/London", "2023-10-29 01:00"), ("Europe/Helsinki", "2023-10-29 03:00"),
                                          ("Australia/Sydney", "2023-04-02 02:00")])
def test_each_zones_autumn_hour_is_noted_and_its_spring_hour_is_no_data_lost(zone, first):
    year = pd.date_range("2023-01-01", "2023-12-31 23:00", freq="h", tz="UTC")
    local = frame(year.tz_convert(zone).tz_localize(None), np.arange(len(year)) % 24 + 10.0)
    notes = clean_history(local, "h", policy()).notes
    assert notes[1].startswith(f"1 {CLOCK_CHANGE_NOTE} (the first {first}): local times?")
    assert notes[2] == ("1 of 8760 periods missing, left out (1 of them in the hour clocks skip where daylight saving "
                        "time begins: local times, no data lost)")
    # the same year read twice: the rows repeated are said too, the clock's hour not among them
    twice = clean_history(pd.concat([local, local]).sort_values("ds", kind="stable"), "h", policy()).notes
    assert CLOCK_CHANGE_NOTE in twice[1] and twice[2].startswith(f"{len(year) - 2} {REPEATED_NOTE}")


def test_utc_times_repeated_on_other_nights_or_summed_into_days_are_no_clocks():
    hours = frame(pd.date_range("2023-09-20", "2023-11-20", freq="h"), 1.0)
    not_a_switch = pd.concat([hours, hours[hours["ds"] == "2023-10-01 01:00"].assign(y=2.0)])  # the first Sunday
    assert clean_history(not_a_switch.sort_values("ds", kind="stable"), "h", policy()).notes == [
        "1 duplicate timestamps merged (sum)",
        f"1 {OTHER_VALUES_NOTE} (the first 2023-10-01 01:00), merged (cleaning.duplicates: sum)"]
    tuesday = pd.concat([hours, hours[hours["ds"] == "2023-10-31 02:00"].assign(y=2.0)])  # the last week, a weekday
    assert not [note for note in clean_history(tuesday.sort_values("ds", kind="stable"), "h", policy()).notes
                if CLOCK_CHANGE_NOTE in note]
    every_hour = pd.concat([hours, hours.assign(y=2.0)]).sort_values("ds", kind="stable")  # a night's every hour
    assert not [note for note in clean_history(every_hour, "h", policy()).notes if CLOCK_CHANGE_NOTE in note]
    night = hours[hours["ds"].between("2023-10-29 01:00", "2023-10-29 03:00")]  # the switch night's three hours
    overlap = pd.concat([hours, night.assign(y=2.0)]).sort_values("ds", kind="stable")
    assert not [note for note in clean_history(overlap, "h", policy()).notes if CLOCK_CHANGE_NOTE in note]
    # hourly sales summed into days: the night's extra hour is its day's own
    switch = pd.concat([hours, hours[hours["ds"] == "2023-10-29 02:00"].assign(y=2.0)]).sort_values("ds", kind="stable")
    assert not [note for note in clean_history(switch, "D", policy()).notes if CLOCK_CHANGE_NOTE in note]
    # half the hours missing: a missing 02:00 on a switch night is no clock's
    every = pd.date_range("2023-03-01", "2023-04-30", freq="h")
    kept = every[np.random.default_rng(1).random(len(every)) < 0.5]
    sparse = frame(kept.union(pd.DatetimeIndex(["2023-03-26 01:00"])), 1.0)
    assert "2023-03-26 02:00" not in set(sparse["ds"].astype(str))  # Europe's skipped hour among the missing
    [gaps] = clean_history(sparse, "h", policy()).notes
    assert "periods missing, left out" in gaps and "daylight saving" not in gaps


def test_the_hour_clocks_skip_in_spring_is_said_to_be_no_data_lost():
    berlin = clean_history(local_hours("2026-03-25", "2026-03-31", "Europe/Berlin"), "h", policy())
    assert berlin.notes == ["1 of 146 periods missing, left out (1 of them in the hour clocks skip where daylight saving "
                            "time begins: local times, no data lost)"]
    outage = frame(pd.date_range("2026-06-01", "2026-06-10", freq="h").delete([50, 51]), 1.0)
    assert clean_history(outage, "h", policy(gaps="interpolate")).notes == ["2 missing periods filled (interpolate)"]


def test_a_run_of_zeros_at_the_end_is_noted_where_the_history_has_none():
    # an outage going on: the last 7 hours of load read 0
    hours = pd.date_range("2026-12-01", periods=120, freq="h")
    load = frame(hours, np.r_[10.0 + np.arange(113) % 24, np.zeros(7)])
    assert clean_history(load, "h", policy()).notes == [
        f"the last 7 {ZERO_RUN_NOTE} none of the 113 before were (since 2026-12-05 17:00): an outage, or a feed that "
        "stopped sending (zeros for no data)? Modelled as they are"]  # a break in the data too, said once
    # a solar feeder's nights, days without sales, or two zeros: no note
    solar = frame(hours, np.where((hours.hour >= 7) & (hours.hour < 17), 5.0, 0.0))
    assert clean_history(solar, "h", policy()).notes == []
    assert clean_history(frame(hours, np.r_[np.ones(118), 0.0, 0.0]), "h", policy()).notes == []


def test_a_run_of_zeros_needs_three_and_a_history_nearly_without_them():
    hours = pd.date_range("2026-12-01", periods=60, freq="h")
    steady = 100.0 + np.arange(57) % 10
    [three] = clean_history(frame(hours, np.r_[steady, np.zeros(3)]), "h", policy()).notes  # a break too: said once
    assert three.startswith(f"the last 3 {ZERO_RUN_NOTE} none of the 57 before were")
    some = steady.copy()
    some[10] = 0.0  # one zero in 57: under two in a hundred, too many
    assert clean_history(frame(hours, np.r_[some, np.zeros(3)]), "h", policy()).notes == [
        "the last 3 values, from 0 at 2026-12-03 09:00, are far outside the recent range (100 to 109 in the 25 values "
        "before): a break in the data (a stock split, a new unit), a one-off (a promotion), or a value to check? "
        "Modelled as it is"]
    # 19 before: too few to tell a run of zeros by; a short series' break instead
    [short] = clean_history(frame(hours[:22], np.r_[steady[:19], np.zeros(3)]), "h", policy()).notes
    assert ZERO_RUN_NOTE not in short and short.startswith("the last 3 values, from 0 at 2026-12-01 19:00, are far "
                                                           "outside the recent range (100 to 109 in the 19 values")
    long = pd.date_range("2026-11-01", periods=153, freq="h")
    rare = np.r_[100.0 + np.arange(150) % 10, np.zeros(3)]
    rare[40] = 0.0  # one zero in 150
    assert clean_history(frame(long, rare), "h", policy()).notes[0].startswith(
        f"the last 3 {ZERO_RUN_NOTE} only 1 of the 150 before were")


def test_runs_of_zeros_inside_a_history_that_has_nearly_none_are_noted():
    # a walk-through of 12-08: three weeks of a stock-out in a sku selling some 20 a day, fitted as no demand unsaid
    days = pd.date_range("2026-05-01", periods=200, freq="D")
    sales = 20.0 + np.arange(200) % 7
    sales[100:120] = 0.0
    assert clean_history(frame(days, sales), "D", policy()).notes == [
        f"20 {ZERO_STRETCH_NOTE} (2026-08-09 to 2026-08-28): a stock-out, an outage or a closure, which the models fit "
        "as real values? Modelled as they are; given as missing values (empty) instead, they are not fitted as zeros "
        "(cleaning.missing_values: drop)"]
    sales[40:43] = 0.0  # another, shorter: the longest named, the others counted
    [note] = clean_history(frame(days, sales), "D", policy()).notes
    assert note.startswith(f"20 {ZERO_STRETCH_NOTE} (2026-08-09 to 2026-08-28; 1 more such run, 23 zeros in all): ")
    # left as missing values instead: no zeros to fit, nothing to say
    missing = np.where(sales == 0.0, np.nan, sales)
    assert not [note for note in clean_history(frame(days, missing), "D", policy()).notes if ZERO_STRETCH_NOTE in note]


def test_zeros_that_start_or_end_a_history_or_that_a_sparse_series_or_the_filling_made_are_not_zero_stretches():
    days = pd.date_range("2026-05-01", periods=200, freq="D")

    def noted(values, dates=days, **cleaning) -> bool:
        return any(ZERO_STRETCH_NOTE in note for note in clean_history(frame(dates, values), "D",
                                                                       policy(**cleaning)).notes)

    steady = 20.0 + np.arange(200) % 7
    assert not noted(np.r_[np.zeros(30), steady[30:]])  # a launch
    assert not noted(np.r_[steady[:190], np.zeros(10)])  # an outage going on: its own note
    assert not noted(np.r_[steady[:100], [0.0, 0.0], steady[102:]])  # two zeros: a day shut, no stretch
    slow = np.where(np.arange(200) % 5 == 0, 2.0, 0.0)  # a slow mover: a sale every five days
    assert not noted(slow)
    some = steady.copy()
    some[[10, 30, 50]] = 0.0  # zeros of its own (3 of 180), where the stretch is no rarity
    some[100:120] = 0.0
    assert not noted(some)
    # twenty days without a row, filled with zeros by gaps: zero: the filling's notes say so
    assert not noted(np.delete(steady, range(100, 120)), days.delete(range(100, 120)), gaps="zero")
    mixed = steady.copy()
    mixed[100:120] = 0.0  # zeros in the input, a few days of them without a row
    assert noted(np.delete(mixed, range(105, 110)), days.delete(range(105, 110)), gaps="zero")


def test_negative_days_summed_into_positive_weeks_are_not_noted():
    # the floor looks at the cleaned history: weeks of sales with one return day are all positive
    days = frame(pd.date_range("2024-01-01", periods=28, freq="D"), [5.0] * 6 + [-2.0] + [5.0] * 21)
    cleaned = clean_history(days, "7D", policy())
    assert (cleaned.history["y"] > 0).all() and not [note for note in cleaned.notes if "negative" in note]


def test_an_open_day_of_rows_read_twice_is_kept_as_on_the_grid_not_taken_for_finer_rows():
    days = frame(pd.date_range("2024-01-01", periods=10, freq="D"), 3.0)
    twice = pd.concat([days, days], ignore_index=True).sort_values("ds", kind="stable")
    cleaned = clean_history(twice, "D", policy(), "2024-01-10", now="2024-01-10 12:00")
    assert cleaned.history["ds"].iloc[-1] == pd.Timestamp("2024-01-10")
    assert any(OPEN_KEPT_NOTE in note for note in cleaned.notes)


def test_daily_rows_that_never_fall_on_some_days_of_the_week_are_noted_where_d_forecasts_them():
    closes = frame(pd.bdate_range("2024-01-01", "2024-06-28"), 50.0)  # business days
    [weekends] = [note for note in clean_history(closes, "D", policy(), "2024-06-28").notes if NO_WEEKDAY_NOTE in note]
    assert weekends.startswith("no row on a Saturday or Sunday in 25 weeks of daily rows, yet 'D' forecasts every "
                               "day: business days? forecast.frequency: B")
    assert not [note for note in clean_history(closes, "B", policy(), "2024-06-28").notes if NO_WEEKDAY_NOTE in note]
    days = pd.date_range("2024-01-01", "2024-06-30")
    shop = frame(days[days.dayofweek != 6], 5.0)  # closed on Sundays
    assert [note for note in clean_history(shop, "D", policy(), "2024-06-30").notes if NO_WEEKDAY_NOTE in note] == [
        "no row on Sundays in 25 weeks of daily rows, yet 'D' forecasts every day: closed days? cleaning.gaps: zero "
        "models them as days without sales"]
    # not where a missing day is a day without sales, nor for a few weeks, nor for sales on some days of each week
    unnoted = [clean_history(shop, "D", policy(gaps="zero"), "2024-06-30"),
               clean_history(frame(pd.bdate_range("2024-05-01", "2024-06-21"), 1.0), "D", policy(), "2024-06-21"),
               clean_history(frame(pd.bdate_range("2024-01-01", "2024-06-28")[::3], 1.0), "D", policy(), "2024-06-28"),
               # 4 days without: weekly?
               clean_history(frame(days[days.dayofweek < 3], 1.0), "D", policy(), "2024-06-30"),
               # no Sundays, but Mondays on only 7 weeks in 10: rows missing here and there, not days closed
               clean_history(frame(days[(days.dayofweek != 6) & ~((days.dayofweek == 0) & (days.day % 10 < 3))], 1.0),
                             "D", policy(), "2024-06-30")]
    assert not [note for cleaned in unnoted for note in cleaned.notes if NO_WEEKDAY_NOTE in note]


def test_nearly_every_time_given_as_many_rows_of_other_values_is_noted_as_several_series_under_one_key():
    days = pd.bdate_range("2024-01-01", "2024-03-29")
    two = pd.concat([frame(days, 50.0), frame(days, 68.0)]).sort_values("ds", kind="stable")  # two exchanges
    cleaned = clean_history(two, "B", policy(), "2024-03-29")
    assert cleaned.history["y"].eq(118.0).all()  # summed, as cleaning.duplicates says
    assert [note for note in cleaned.notes if SEVERAL_SERIES_NOTE in note] == [
        "2 rows at nearly every time (65 of 65), merged (cleaning.duplicates: sum): as meant (stores summed into an "
        "item's total), or 2 series under one key (a ticker on two exchanges: a column that tells them apart belongs "
        "in input.key_columns)?"]
    # a log of sales (a varying number a day), an input read twice, hours summed into days: no note
    rng = np.random.default_rng(1)
    times = np.repeat(days, rng.integers(2, 6, len(days)))
    sales = frame(times, rng.integers(1, 9, len(times)).astype(float))
    hours = frame(pd.date_range("2024-01-01", "2024-01-31 23:00", freq="h"), 1.0)
    revised = frame(days, 50.0)
    revised.loc[3, "y"] = 51.0  # an input read twice, one value revised since
    twice = [frame(days, 50.0), frame(days[:3], 60.0)]  # three times of 65 given twice, one row at the others
    most = [frame(days, 50.0), frame(days[:45], 68.0)]  # 45 of 65: no series to tell apart at the other 20
    unnoted = [clean_history(sales, "B", policy(), "2024-03-29"),
               clean_history(pd.concat([frame(days, 50.0)] * 2).sort_values("ds", kind="stable"), "B",
                             policy(duplicates="last"), "2024-03-29"),
               clean_history(hours, "D", policy(), "2024-01-31"),
               clean_history(pd.concat([frame(days, 50.0), revised]).sort_values("ds", kind="stable"), "B",
                             policy(duplicates="last"), "2024-03-29"),
               clean_history(pd.concat(twice).sort_values("ds", kind="stable"), "B", policy(), "2024-03-29"),
               clean_history(pd.concat(most).sort_values("ds", kind="stable"), "B", policy(), "2024-03-29"),
               clean_history(pd.concat([frame(days[:9], 50.0), frame(days[:9], 68.0)]).sort_values("ds", kind="stable"),
                             "B", policy(), "2024-03-29")]  # nine times: too few to say
    assert not [note for cleaned in unnoted for note in cleaned.notes if SEVERAL_SERIES_NOTE in note]


def test_last_values_far_outside_the_recent_range_are_noted_as_a_break():
    days = pd.bdate_range("2024-06-03", "2024-09-10")
    closes = 400.0 + 10 * np.sin(np.arange(len(days)))  # 390 to 410
    split = closes.copy()
    split[-1] /= 2  # a 2:1 split on the last day
    [noted] = [note for note in clean_history(frame(days, split), "B", policy(), "2024-09-10").notes
               if BREAK_NOTE in note]
    assert noted.startswith(f"the last value, {split[-1]:.6g} at 2024-09-10, is {BREAK_NOTE} (390")
    # one value below: also what an export during the day had loaded so far
    assert ("in the 20 values before): a last period loaded only in part (an export made during it? If it is the "
            "run date's period, a run dated before it leaves it out; if the one before, cleaning.unsettled_periods: "
            "1), a break") in noted
    hours = pd.date_range("2024-09-01", periods=len(days), freq="h")  # an hour's part: the open-period rule's
    [noted] = [note for note in clean_history(frame(hours, split), "h", policy()).notes if BREAK_NOTE in note]
    assert "loaded only in part" not in noted
    split[-3:] = closes[-3:] / 2  # three days ago: three values at the new level
    [noted] = [note for note in clean_history(frame(days, split), "B", policy(), "2024-09-10").notes
               if BREAK_NOTE in note]
    assert noted.startswith(f"the last 3 values, from {split[-3]:.6g} at 2024-09-06, are {BREAK_NOTE}")
    assert "loaded only in part" not in noted  # three days' loads are no part of one
    [noted] = [note for note in clean_history(frame(days, closes * np.r_[np.ones(len(days) - 1), 2.0]), "B",
                                              policy(), "2024-09-10").notes if BREAK_NOTE in note]
    assert "loaded only in part" not in noted  # above the range: no part
    # not a last value within the range's width of it, a break the model has long seen, nor a sparse series' sale
    near = closes.copy()
    near[-1] = 425.0
    long_ago = closes.copy()
    long_ago[-6:] /= 2
    sparse = np.zeros(len(days))
    sparse[[-15, -8, -1]] = [1.0, 2.0, 9.0]
    spike = closes.copy()
    spike[-2] = 600.0  # a day before the last: the last is back in its range
    dip = closes.copy()
    dip[-2] = 100.0  # the same below the range
    unnoted = [clean_history(frame(days, values), "B", policy(), "2024-09-10")
               for values in (near, long_ago, sparse, spike, dip)]
    assert not [note for cleaned in unnoted for note in cleaned.notes if BREAK_NOTE in note]
    # beyond by one and a half widths, or five values at the new level: noted
    beyond = closes.copy()
    beyond[-1] = 440.0
    five = closes.copy()
    five[-5:] /= 2
    for values, start in ((beyond, "the last value, 440 at"), (five, "the last 5 values, from")):
        notes = clean_history(frame(days, values), "B", policy(), "2024-09-10").notes
        assert [note for note in notes if note.startswith(start) and BREAK_NOTE in note], notes
    # a product launched ten weeks ago whose last week was Black Friday's: against its nine weeks before
    launch = pd.date_range("2026-09-06", periods=10, freq="W-SUN")
    weekly = [150.0, 180.0, 130.0, 214.0, 170.0, 160.0, 190.0, 200.0, 175.0, 584.0]
    [noted] = [note for note in clean_history(frame(launch, weekly), "W-SUN", policy()).notes if BREAK_NOTE in note]
    assert noted.startswith(f"the last value, 584 at 2026-11-08, is {BREAK_NOTE} (130 to 214 in the 9 values before)")
    # a launch still ramping up (doubling too), small counts' noise, or too few weeks before to tell: not said
    for values in ([10.0, 50.0, 120.0, 180.0, 240.0, 260.0, 300.0, 310.0, 330.0, 400.0],
                   [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0, 1280.0], [3.0, 4.0, 3.0, 4.0, 5.0, 3.0, 4.0, 4.0, 7.0],
                   weekly[-8:]):
        notes = clean_history(frame(launch[-len(values):], values), "W-SUN", policy()).notes
        assert not [note for note in notes if BREAK_NOTE in note], values


def test_a_change_of_level_inside_the_history_is_noted_with_its_date():
    # the walk-through of 12-06: a ticker split 10:1 halfway, its naive interval ten times as wide, said nowhere
    days = pd.bdate_range("2025-01-06", periods=200)
    rng = np.random.default_rng(3)
    closes = 1000.0 + np.cumsum(rng.normal(0, 5, 200))
    split = closes.copy()
    split[120:] /= 10
    [noted] = [note for note in clean_history(frame(days, split), "B", policy(), "2025-10-31").notes
               if LEVEL_SHIFT_NOTE in note]
    assert noted.startswith(f"{LEVEL_SHIFT_NOTE} {days[120].date()}, from about {np.median(split[100:120]):.6g} to "
                            f"about {np.median(split[120:140]):.6g} (the 20 values after beyond the range of the 20 "
                            "before by more than its width): a stock split")
    joined = np.r_[np.full(70, 50.0), np.full(60, 500.0), np.full(70, 50.0)] + np.arange(200) % 4  # there and back
    [noted] = [note for note in clean_history(frame(days, joined), "B", policy(), "2025-10-31").notes
               if LEVEL_SHIFT_NOTE in note]
    assert f"at {days[70].date()}, from about 51.5 to about 501.5 and at {days[130].date()}, from about 501.5" in noted
    # not a random walk, a trend, weekly sales with Christmas week, a sparse series' sales, a spike, a split in the
    # last few values (break_notes says those), a machine switched on and off, nor a flat price stepping once
    weeks = pd.date_range("2022-01-02", periods=200, freq="W-SUN")
    christmas = 100.0 + 5 * np.sin(np.arange(200)) + np.where(weeks.isocalendar().week.to_numpy() == 52, 150.0, 0.0)
    sparse = np.zeros(200)
    sparse[::17] = 40.0
    spike = closes.copy()
    spike[100:103] *= 10
    late = closes.copy()
    late[-5:] /= 10
    switched = np.tile(np.r_[np.full(25, 5.0), np.full(25, 80.0)], 4) + np.arange(200) % 3
    stepped = np.r_[np.full(100, 9.99), np.full(100, 10.49)]
    for values, when, frequency in ((closes, days, "B"), (np.arange(200) * 3.0 + rng.normal(0, 1, 200), days, "B"),
                                    (christmas, weeks, "W-SUN"), (sparse, days, "B"), (spike, days, "B"),
                                    (late, days, "B"), (switched, days, "B"), (stepped, days, "B")):
        notes = clean_history(frame(when, values), frequency, policy(), str(when[-1].date())).notes
        assert not [note for note in notes if LEVEL_SHIFT_NOTE in note], notes
    # nor a drop into zeros: an outage at the end, a six-week closure, a product stopped and filled with zeros by
    # gaps: zero, whose own notes say so, nor the reopening to the level before (the reviews of 12-06); the rise
    # from zeros to a level the series never had is a change (a launch)
    sales = frame(pd.date_range("2025-01-01", periods=200, freq="D"), 20.0 + np.arange(200) % 7)
    outage = sales.assign(y=np.r_[sales["y"].to_numpy()[:175], np.zeros(25)])
    closure = sales.assign(y=np.where((np.arange(200) >= 80) & (np.arange(200) < 122), 0.0, sales["y"]))
    for history, run_date, gaps in ((outage, "2025-07-19", "keep"), (closure, "2025-07-19", "zero"),
                                    (sales.iloc[:150], "2025-09-30", "zero")):
        notes = [note for note in clean_history(history, "D", policy(gaps=gaps), run_date).notes
                 if LEVEL_SHIFT_NOTE in note]
        assert notes == [], notes  # a closure's reopening comes back to the level before it: no change either
    launch = sales.assign(y=np.where(np.arange(200) < 60, 0.0, sales["y"]))  # the review of 12-06 (second)
    [noted] = [note for note in clean_history(launch, "D", policy(), "2025-07-19").notes if LEVEL_SHIFT_NOTE in note]
    assert noted.startswith(f"{LEVEL_SHIFT_NOTE} 2025-03-02, from about 0 to about 23")


def test_a_change_of_level_hidden_in_a_yearly_cycles_swing_is_noted_once_the_cycle_is_taken_out():
    # a walk-through's business unit bought in 2020: revenue 80% up, its fourth quarter a third above the rest
    rng = np.random.default_rng(0)
    quarters = pd.date_range("2012-01-01", periods=56, freq="QS")
    cycle = np.where(quarters.quarter == 4, 1.35, np.where(quarters.quarter == 1, 0.9, 1.0))
    growth = 1e7 * (1 + 0.005 * np.arange(56)) * cycle * (1 + rng.normal(0, 0.03, 56))
    bought = growth * np.where(quarters >= "2020-01-01", 1.8, 1.0)
    [noted] = [note for note in clean_history(frame(quarters, bought), "QS", policy(), "2025-12-31").notes
               if LEVEL_SHIFT_NOTE in note]
    assert noted.startswith(f"{LEVEL_SHIFT_NOTE} 2020-01-01, from about ") and (
        "(the 20 values after beyond the range of the 20 before by more than its width once its seasonal cycle is "
        "taken out): a stock split, a new unit") in noted
    from forecasting.cleaning_notes import value_text
    # the values as they are, not as adjusted
    assert f"from about {value_text(np.median(bought[12:32]))} to about {value_text(np.median(bought[32:52]))}" in noted
    # the same revenue without the purchase, and a series with zeros (a cycle taken out as differences): none
    for values in (growth, np.maximum(growth - 1.05e7, 0.0)):
        notes = clean_history(frame(quarters, values), "QS", policy(), "2025-12-31").notes
        assert not [note for note in notes if LEVEL_SHIFT_NOTE in note], notes
    # daily data keep to the plain rule: a week's cycle is in its windows already
    days = pd.date_range("2024-01-01", periods=56 * 7, freq="D")
    assert not [note for note in clean_history(frame(days, np.repeat(growth / 7, 7)), "D", policy()).notes
                if LEVEL_SHIFT_NOTE in note]


def test_a_seasons_peak_or_the_zeros_gaps_zero_adds_are_no_break():
    # weekly sales, Christmas week two and a half times a usual one: measured against the year
    # before (a season and one), not the 20 weeks before it
    weeks = pd.date_range("2022-01-02", "2024-12-22", freq="W")
    sales = np.where((weeks.month == 12) & (weeks.day >= 16), 250.0, 100.0) + np.arange(len(weeks)) % 3
    cleaned = clean_history(frame(weeks, sales), "W", policy(), "2024-12-22")
    assert not [note for note in cleaned.notes if BREAK_NOTE in note]
    assert [note for note in clean_history(frame(weeks[-40:], sales[-40:]), "W", policy(), "2024-12-22").notes
            if BREAK_NOTE in note]  # without a year before, the peak stands out
    # daily sales that stop days before the run date: zeros cleaning adds, not values of the data
    days = pd.date_range("2024-03-01", "2024-06-28")
    stopped = clean_history(frame(days, 100.0 + np.arange(len(days)) % 7), "D", policy(gaps="zero"), "2024-06-30")
    assert stopped.history["y"].iloc[-1] == 0.0
    assert not [note for note in stopped.notes if BREAK_NOTE in note]


def test_values_that_never_fall_are_noted_as_a_running_total_perhaps():
    days = pd.date_range("2024-01-01", periods=30, freq="D")
    register = 12_000 + np.cumsum(np.r_[0.0, np.full(29, 3.0)])  # a meter's register read as kWh per day
    register[[5, 17]] = register[[4, 16]]  # two days without consumption: still never falls
    assert clean_history(frame(days, register), "D", policy()).notes == [
        "values never fall over 30 values, rising at 93% of the steps: a running total (a meter's register, sales to "
        "date) where amounts per period were meant, or a level growing steadily? Modelled as it is"]
    once_lower = register.copy()
    once_lower[20] -= 10
    for values in (once_lower, np.full(30, 5.0), register[:19]):  # a fall; flat; too few to tell
        assert not [note for note in clean_history(frame(days[:len(values)], values), "D", policy()).notes
                    if RUNNING_TOTAL_NOTE in note]
    steps = np.r_[0.0, np.tile([3.0, 3.0, 3.0, 0.0, 0.0], 6)][:30]  # rising at under 80% of the steps: not said
    assert not clean_history(frame(days, 100 + np.cumsum(steps)), "D", policy()).notes
    # a headcount that grew every year for thirty years: a level, not said; the same a quarter apart is
    years = pd.date_range("1995-01-01", periods=30, freq="YS")
    assert not clean_history(frame(years, register), "YS", policy()).notes
    quarters = pd.date_range("2017-01-01", periods=30, freq="QS")
    assert [RUNNING_TOTAL_NOTE in note for note in clean_history(frame(quarters, register), "QS", policy()).notes] == [
        True]


def test_values_in_notes_are_written_in_grouped_digits_from_a_million_so_a_placeholder_reads_as_one():
    from forecasting.cleaning_notes import value_text

    assert value_text(9999999999.99) == "9,999,999,999.99"  # 1e+10 hid the placeholder
    assert value_text(-2149115.33) == "-2,149,115.33" and value_text(3717740.0) == "3,717,740"
    assert value_text(92.80651) == "92.8065" and value_text(0.00012345) == "0.00012345"
    assert value_text(1e20) == "1e+20" and value_text(999999.5) == "999,999.5"  # not 1e+06


def test_zeros_filled_into_a_series_that_never_comes_near_zero_are_noted():
    """gaps: zero, meant for sales, fills a price's exchange holidays with 0s its models fit as crashes."""
    days = pd.bdate_range("2026-01-05", periods=60)
    price = pd.DataFrame({"ds": days.delete([10, 30]), "y": 100.25 + np.arange(58) % 4})
    notes = clean_history(price, "B", policy(gaps="zero")).notes
    assert notes == ["2 missing periods filled (zero)", "2 of them zeros among values that never come near 0 "
                     "(the lowest 100.25): prices or a level, where a period without a row is no 0? cleaning.gaps: "
                     "keep or interpolate suits such a series"]
    # counts, what gaps: zero is for: sales that reach 0, a busy product's steady sales, a slow mover's 1s and 2s
    steps = np.arange(58)
    for values in (steps % 4, 10.0 + 30 * (steps % 2), 100.0 + steps % 7, 1.0 + steps % 2):
        sales = clean_history(price.assign(y=values.astype(float)), "B", policy(gaps="zero")).notes
        assert not [note for note in sales if "never come near 0" in note]
    assert not [note for note in clean_history(price, "B", policy(gaps="interpolate")).notes if "near 0" in note]
