"""Spikes (pure pandas): a value or a few far above the values around them, back to the
level after them. A page's viral day, a bulk order, a sensor's 99999: Prophet fits such a
value into its trend and seasonality and repeats it (a 50x day became every Thursday's 9x
and the whole forecast's 3x), and a seasonal baseline repeats it within its last cycle.
``cleaning.spikes`` keeps them (noted) or leaves them out of the fit, as a value given
missing is.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import Tick

from forecasting.cleaning_notes import true_runs, value_text
from forecasting.periods import time_text

# How a spike's note goes on (the summary counts the series whose data_notes hold it)
SPIKE_NOTE = "far above the values around"
# Widths of the series' middle 90% of values a spike stands above the median of the values around it:
# far enough that a season's peak, a Black Friday three times a normal day, is not one
SPIKE_REACH = 10
SPIKE_SPAN = 3  # the most consecutive values a spike lasts: longer is a new level, or a season
MIN_VALUES = 20  # fewer say little about a series' usual range
# A spike stands this many times higher above the values around it than any other value does:
# heavy-tailed noise has no one value so far above the rest
DOMINANCE = 5
RECURRING_SHARE = 0.5  # a value a cycle away (a week, a year) this high above its own surroundings: a recurring peak
CYCLE_TOLERANCE = 3  # periods either side of a cycle's lag looked at: Black Friday moves by a day a year


def find_spikes(y: np.ndarray, season: int, cycles: tuple[int, ...] = ()) -> np.ndarray:
    """Which of ``y`` (a series' values in time order) are spikes: over SPIKE_REACH widths
    of the middle 90% of the values above the median of those within a season either side
    (``season`` steps, fewer in a short series), in runs of SPIKE_SPAN values at most with
    a value that is not one before and after (the last values may be a new level: a break,
    which break_notes says), DOMINANCE times higher above that median than any other value,
    few (one run in a hundred values at most, two in any series), and not recurring: no
    value a cycle (``cycles``: the week, the year, in steps) before or after stands half as
    high above its own surroundings (paydays, a daily peak hour, Valentine's Day). None in a
    series mostly of one value (a sparse series' zeros: every sale would be one)."""
    n = len(y)
    none = np.zeros(n, dtype=bool)
    known = y[np.isfinite(y)]
    if len(known) < MIN_VALUES or np.mean(known == np.median(known)) > 0.5:
        return none
    lower, upper = np.percentile(known, [5, 95])
    if not upper > lower:
        return none
    half = max(SPIKE_SPAN, min(season, n // 4))
    around = pd.Series(y).rolling(2 * half + 1, center=True, min_periods=half + 1).median().to_numpy()
    above = np.nan_to_num(y - around, nan=0.0)
    far = above / (upper - lower) > SPIKE_REACH
    runs = list(zip(*true_runs(far)))
    if not runs or len(runs) > max(2, n // 100):  # many far values: a recurring peak, or noise with heavy tails
        return none
    rest = np.where(far, 0.0, above).max(initial=0.0)
    spikes = none.copy()
    for start, end in runs:
        peak = above[start:end].max()
        if end - start > SPIKE_SPAN or start == 0 or end == n or peak <= DOMINANCE * rest:
            continue
        if any(_recurs(above, start, end, lag, RECURRING_SHARE * peak) for lag in cycles if 1 < lag < n):
            continue
        spikes[start:end] = True
    return spikes


def _recurs(above: np.ndarray, start: int, end: int, lag: int, high: float) -> bool:
    """Whether a value a cycle of ``lag`` steps before or after the run ``start:end`` (give
    or take CYCLE_TOLERANCE) stands ``high`` above its surroundings too. Never the run
    itself: a short cycle's window would reach it (a quarter's 4, a 2-value run)."""
    for shift in (-lag, lag):
        low, top = max(start + shift - CYCLE_TOLERANCE, 0), min(end + shift + CYCLE_TOLERANCE, len(above))
        low, top = (low, min(top, start)) if shift < 0 else (max(low, end), top)
        if low < top and above[low:top].max() >= high:
            return True
    return False


@lru_cache(maxsize=64)  # asked for every series
def cycles_of(frequency: str) -> tuple[int, ...]:
    """The cycles a recurring peak of ``frequency`` repeats over, in steps: its season,
    the week (hours: 168), the year."""
    from forecasting.baselines import season_length, week_length

    offset = to_offset(frequency)
    if isinstance(offset, Tick):  # fixed steps: a year of 365 days of them (hours: 8760)
        year = int(pd.Timedelta(days=365) / pd.Timedelta(offset))
    else:  # from a time on the grid to the grid's time nearest a year on (QE-NOV's 2024-02-29 for 2024-02-28)
        first = pd.date_range(pd.Timestamp("2023-01-01"), periods=1, freq=frequency)[0]
        later = first + pd.DateOffset(years=1)
        grid = pd.date_range(first, later + pd.DateOffset(years=1), freq=frequency)
        year = int(np.argmin(np.abs((grid - later).to_numpy())))
    return tuple(sorted({season_length(frequency), week_length(frequency), year} - {0, 1}))


def spike_note(frame: pd.DataFrame, spikes: np.ndarray, policy: str) -> str:
    """The note on a series' ``spikes`` (find_spikes), the highest named, and what
    ``policy`` (cleaning.spikes) did with them. No semicolon: it parts a series' notes."""
    count = int(spikes.sum())
    at = np.flatnonzero(spikes)
    values = frame["y"].to_numpy()[at]
    highest = int(np.argmax(values))
    one = count == 1
    it, them = ("it", "it") if one else ("them", "they")
    which = (f"{value_text(values[highest])} at {time_text(frame['ds'].iloc[at[highest]])}" if one else
             f"the highest {value_text(values[highest])} at {time_text(frame['ds'].iloc[at[highest]])}")
    what = ("left out of the fit (cleaning.spikes: leave_out), periods without a value" if policy == "leave_out"
            else f"kept (cleaning.spikes: keep), and a model may repeat {it}. Where {them} will not recur (a viral "
                 f"day, a glitch, a bulk order), cleaning.spikes: leave_out leaves {it} out of the fit")
    return (f"{count} {'value' if one else 'values'} {SPIKE_NOTE} {it} (above their median by over {SPIKE_REACH} "
            f"times the width of the series' middle 90% of values), {which}: {what}")
