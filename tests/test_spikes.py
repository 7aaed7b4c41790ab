"""Spikes: a few values far above those around them, kept and noted or left out of the fit."""
import numpy as np
import pandas as pd
import pytest

from forecasting.cleaning import clean_history
from forecasting.cleaning_notes import OUTLIER_NOTE
from forecasting.config import load_config
from forecasting.baselines import season_length
from forecasting.spikes import SPIKE_NOTE, cycles_of, find_spikes

WEEK = np.array([1.0, 1.1, 1.2, 1.3, 1.1, 0.6, 0.5])  # a page's weekdays and weekend


def page_views(days: int = 700, seed: int = 1, spread: float = 0.15) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 3000 * WEEK[pd.date_range("2025-01-01", periods=days).dayofweek] * rng.lognormal(0, spread, days)


def history(y: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"ds": pd.date_range("2025-01-01", periods=len(y)), "y": y})


def test_a_viral_day_and_a_glitch_are_spikes_and_a_seasons_peak_a_new_level_or_the_last_value_are_not():
    viral = page_views()
    viral[600] = 200_150  # trial 31's cat video: a 50x Thursday
    assert np.flatnonzero(find_spikes(viral, 7)).tolist() == [600]
    burst = page_views()
    burst[[300, 301, 302]] = [90_000, 120_000, 60_000]  # three days, then back
    assert np.flatnonzero(find_spikes(burst, 7)).tolist() == [300, 301, 302]
    glitch = page_views()
    glitch[-10] = 99_999  # trial 32's historian placeholder, ten periods before the end: back after it
    assert np.flatnonzero(find_spikes(glitch, 7)).tolist() == [690]
    # none of these: a Black Friday three times a normal day, every year; a new level that lasts; a burst of a
    # week; the last value, which may be a new level (break_notes says so)
    peaks = page_views()
    peaks[[327, 691]] *= 3
    level = page_views()
    level[400:] *= 5
    week = page_views()
    week[300:307] *= 40
    last = page_views()
    last[-1] = 99_999
    for y in (peaks, level, week, last, page_views()):
        assert not find_spikes(y, 7).any()
    # a sparse series' sale is no spike where most values are one value; a bulk order in a slow mover is
    sparse = np.zeros(100)
    sparse[[10, 50, 90]] = [3.0, 40.0, 2.0]
    assert not find_spikes(sparse, 7).any()
    slow = np.random.default_rng(2).poisson(3, 400).astype(float)
    slow[200] = 120.0
    assert np.flatnonzero(find_spikes(slow, 7)).tolist() == [200]
    assert not find_spikes(viral[:19], 7).any()  # too few values to know a usual range


def test_peaks_that_recur_are_no_spikes_however_far_above_the_values_around_them():
    # paydays, a daily peak hour, a weekly event, Valentine's Day two years running: repeating demand, kept
    rng = np.random.default_rng(0)
    days = pd.date_range("2023-01-01", periods=730)
    hours = pd.date_range("2024-01-01", periods=2880, freq="h")
    payday = 1000 * rng.lognormal(0, 0.1, 730)
    payday[days.day == 1] *= 6
    peak_hour = rng.lognormal(0, 0.1, 2880)
    peak_hour[hours.hour == 3] *= 15
    weekly = rng.lognormal(0, 0.1, 2880)
    weekly[(hours.dayofweek == 2) & hours.hour.isin([18, 19])] *= 20
    valentine = 1000 * rng.lognormal(0, 0.1, 730)
    valentine[(days.month == 2) & (days.day == 14)] *= 10
    for y, frequency in ((payday, "D"), (peak_hour, "h"), (weekly, "h"), (valentine, "D")):
        assert not find_spikes(y, season_length(frequency), cycles_of(frequency)).any(), frequency
    once = valentine.copy()
    once[days.year == 2024] = 1000 * rng.lognormal(0, 0.1, int((days.year == 2024).sum()))  # a year without it
    assert find_spikes(once, 7, cycles_of("D")).sum() == 1
    assert cycles_of("D") == (7, 365) and cycles_of("h") == (24, 168, 8760) and cycles_of("W-SUN") == (52,)


def test_a_spike_is_found_whatever_the_grid_dates_its_periods_and_however_short_the_cycle():
    # the year counted from a time off the grid was a step short: QE's 3, within a spike's own window
    assert cycles_of("ME") == cycles_of("MS") == (12,) and cycles_of("QE") == cycles_of("BQE") == (4,)
    assert cycles_of("W-SAT") == (52,) and cycles_of("B") == (5, 261)
    assert cycles_of("QE-NOV") == cycles_of("BQE-NOV") == (4,)  # a year on from 2023-02-28 is 2024-02-29's quarter
    rng = np.random.default_rng(0)
    quarters = 100 + rng.normal(0, 1, 40)
    quarters[20] = 10000.0
    for frequency in ("QS", "QE"):
        ds = pd.date_range("2014-01-01", periods=40, freq=frequency)
        cleaned = clean_history(pd.DataFrame({"ds": ds, "y": quarters}), frequency,
                                load_config(None, ["cleaning.spikes=leave_out"]).cleaning)
        assert sum(SPIKE_NOTE in note for note in cleaned.notes) == 1, frequency
    # a run of 2 values a quarter's cycle (4) from its own end, 3 business days a week (5) from theirs
    quarters[21] = 10000.0
    assert np.flatnonzero(find_spikes(quarters, season_length("QS"), cycles_of("QS"))).tolist() == [20, 21]
    days = 100 + rng.normal(0, 1, 200)
    days[100:103] = 10000.0
    assert np.flatnonzero(find_spikes(days, season_length("B"), cycles_of("B"))).tolist() == [100, 101, 102]


def test_noisy_series_without_a_spike_are_seldom_said_to_have_one():
    rng = np.random.default_rng(3)
    found = [find_spikes(3000 * WEEK[np.arange(700) % 7] * rng.lognormal(0, 0.5, 700), 7).any() for _ in range(300)]
    found += [find_spikes(rng.poisson(3, 700).astype(float), 7).any() for _ in range(300)]
    assert sum(found) == 0
    # heavy tails: no one value five times further above its surroundings than the rest, mostly
    heavy = [find_spikes(1000 * rng.lognormal(0, 1.0, 730), 7, cycles_of("D")).any() for _ in range(300)]
    assert sum(heavy) <= 3


@pytest.mark.parametrize("gaps", ["keep", "zero"])
def test_spikes_are_noted_and_kept_or_left_out_of_the_fit_as_a_value_given_missing_is(gaps):
    y = page_views(200)
    y[150] = 200_150
    kept = clean_history(history(y), "D", load_config(None, [f"cleaning.gaps={gaps}"]).cleaning)
    assert len(kept.history) == 200 and kept.history["y"].max() == 200_150
    [note] = [note for note in kept.notes if SPIKE_NOTE in note]
    assert note == (f"1 value {SPIKE_NOTE} it (above their median by over 10 times the width of the series' middle "
                    "90% of values), 200,150 at 2025-05-31: kept (cleaning.spikes: keep), and a model may repeat it. Where "
                    "it will not recur (a viral day, a glitch, a bulk order), cleaning.spikes: leave_out leaves it "
                    "out of the fit")
    assert not [note for note in kept.notes if OUTLIER_NOTE in note]  # one note on the value, not two
    left = clean_history(history(y), "D", load_config(None, [f"cleaning.gaps={gaps}", "cleaning.spikes=leave_out"])
                         .cleaning)
    assert len(left.history) == 199 and pd.Timestamp("2025-05-31") not in set(left.history["ds"])
    assert left.history["y"].max() < 10_000
    assert f"1 value {SPIKE_NOTE} it" in "; ".join(left.notes) and "left out of the fit (cleaning.spikes: " \
                                                                  "leave_out)" in "; ".join(left.notes)
    assert ";" not in note  # a series' notes are parted by semicolons in data_notes


def test_a_placeholder_beside_a_new_level_is_still_an_outlier_not_a_spike():
    # 999999 on the last day: a new level or a value to check, as ever
    y = page_views(100)
    y[-1] = 999_999
    notes = clean_history(history(y), "D", load_config(None, ["cleaning.spikes=leave_out"]).cleaning).notes
    assert not [note for note in notes if SPIKE_NOTE in note]
    assert [note for note in notes if OUTLIER_NOTE in note]


@pytest.mark.parametrize("gaps", ["keep", "zero"])
def test_evaluation_leaves_out_a_spike_its_earlier_rows_alone_find_not_making_up_a_value(gaps):
    # the whole series' range holds a later level, so 900 is no spike in it; before the held-out weeks it is
    from forecasting.holdout import split_holdout
    from forecasting.series import prepare_history

    config = load_config(None, ["cleaning.spikes=leave_out", f"cleaning.gaps={gaps}"])
    rng = np.random.default_rng(5)
    y = 100 * rng.lognormal(0, 0.1, 330)
    y[150], y[-30:] = 900.0, 600 * rng.lognormal(0, 0.1, 30)
    raw = prepare_history(history(y))
    cleaned = clean_history(raw.copy(), "D", config.cleaning)
    assert not [note for note in cleaned.notes if SPIKE_NOTE in note]
    training, held_out = split_holdout(raw, cleaned, 28, config)
    assert raw["ds"][150] not in set(training["ds"])  # it had been filled with 0 (gaps: zero) or the last value
    assert len(training) == 330 - 28 - 1 and len(held_out) == 28
