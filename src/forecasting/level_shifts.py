"""Changes of level inside a series' history (pure pandas): a stock split, prices in
cents from some day on, a store rebuilt at twice its size, two series joined under one
key. Prophet fits a trend across such a step and a baseline's interval counts the jump
as one of its errors (a split ticker's naive forecast got an interval ten times as wide
as its neighbours', its lower bound at the floor). Noted, not changed: only the user
knows whether the values before it should be adjusted or left out.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from forecasting.cleaning_notes import BREAK_WINDOW, value_text
from forecasting.periods import time_text

# How the note on a change of level goes on (the summary counts the series whose data_notes hold it)
LEVEL_SHIFT_NOTE = "the level changed at"
# The most changes a series is noted for: a series stepping up and down more often (a machine
# switched on and off, a price list's tiers) moves between levels by nature
MOST_SHIFTS = 2


def level_shift_notes(frame: pd.DataFrame, season: int, adjust: bool = False) -> list[str]:
    """A note where the values of a window after some time all lie beyond the range of
    the window before it, on one side, by more than the wider window's width: windows of
    BREAK_WINDOW values, or a season and one (``season`` steps), so that a season's peak
    is no change. With ``adjust`` (periods of a week to a quarter, whose season is a year),
    the values are looked at with their season's cycle taken out too (seasonally_adjusted),
    where its swing is wider than the change: a unit bought, 80% up, in revenue whose fourth
    quarter is a third above the rest. The last values are break_notes' (cleaning_notes): a
    change needs a whole window after it. Not said of a series mostly of one value (a sparse series'
    zeros), nor where a window has a gap left (NaN), nor into a window of one value (an
    outage's zeros) or out of one back to a level held before it (a reopening), nor of one
    with more than MOST_SHIFTS changes (a seasonal business's openings and closings over
    years)."""
    values = frame["y"].to_numpy(dtype="float64")
    window = max(BREAK_WINDOW, season + 1)
    if len(values) < 2 * window or np.mean(values == np.median(values)) > 0.5:
        return []
    starts = _changes(values, window)
    adjusted = None if starts or not adjust else seasonally_adjusted(values, season)
    if adjusted is not None:
        starts, how = _changes(adjusted, window), " once its seasonal cycle is taken out"
    else:
        how = ""
    if not 0 < len(starts) <= MOST_SHIFTS:
        return []
    changes = [f"{time_text(frame['ds'].iloc[start])}, from about "
               f"{value_text(np.median(values[start - window:start]))} to about "
               f"{value_text(np.median(values[start:start + window]))}" for start in starts]
    return [f"{LEVEL_SHIFT_NOTE} {' and at '.join(changes)} (the {window} values after beyond the range of the "
            f"{window} before by more than its width{how}): a stock split, a new unit, a store resized, a season's "
            "start or end, or two series joined? Modelled across it, and a baseline's interval counts the jump as "
            "one of its errors: adjust the values before it, or start the input after it"]


def seasonally_adjusted(values: np.ndarray, season: int) -> np.ndarray | None:
    """``values`` with their season's cycle taken out: each divided by its place in the
    cycle's median ratio to a moving average a season long (where every value is above 0;
    else less the median difference). None for a cycle of one step or under three cycles."""
    if season < 2 or len(values) < 3 * season:
        return None
    series = pd.Series(values)
    level = series.rolling(season + (season % 2 == 0), center=True, min_periods=season).mean()
    ratios = np.nanmin(values) > 0
    relative = series / level if ratios else series - level
    place = np.arange(len(values)) % season
    cycle = relative.groupby(place).median().to_numpy()[place]
    return values / cycle if ratios else values - cycle


def _changes(values: np.ndarray, window: int) -> list[int]:
    """The first value after each change of level level_shift_notes looks for."""
    windows = sliding_window_view(values, window)
    low, high = windows.min(axis=1), windows.max(axis=1)  # NaN where a gap was left: no change there
    before_low, before_high, after_low, after_high = low[:-window], high[:-window], low[window:], high[window:]
    before_width, after_width = before_high - before_low, after_high - after_low
    margin = np.maximum(before_width, after_width)
    # the window after varies: a flat one is a drop into a stretch of one value (an outage's zeros, a closure's, a
    # product stopped and filled with zeros by gaps: zero, which their own notes name; a stuck sensor), no new
    # level; the rise from one (a launch after zeros, a reopening) is a change
    changed = (after_width > 0) & ((after_low > before_high + margin) | (after_high < before_low - margin))
    # the first value after each change; not a rise from a flat stretch back to a level the series had before it
    # (a reopening after a closure's zeros: the history before is no other series)
    return [start for start in np.flatnonzero(changed) + window
            if not (before_width[start - window] == 0 and _held_before(values[:start - window],
                                                                     after_low[start - window],
                                                                     after_high[start - window]))]


def _held_before(earlier: np.ndarray, low: float, high: float) -> bool:
    """Whether values before a flat stretch lay in the range the series came back to."""
    return bool(((earlier >= low) & (earlier <= high)).any())
