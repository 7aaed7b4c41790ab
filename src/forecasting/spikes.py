"""Spikes (pure pandas): a value or a few far above the values around them, back to the
level after them. A page's viral day, a bulk order, a sensor's 99999: Prophet fits such a
value into its trend and seasonality and repeats it (a 50x day became every Thursday's 9x
and the whole forecast's 3x), and a seasonal baseline repeats it within its last cycle.
``cleaning.spikes`` keeps them (noted) or leaves them out of the fit, as a value given
missing is.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.cleaning_notes import value_text
from forecasting.periods import time_text

# How a spike's note goes on (the summary counts the series whose data_notes hold it)
SPIKE_NOTE = "far above the values around"
# Widths of the middle 90% of the series' values above the median of the values around: far
# enough that a season's peak, a Black Friday three times a normal day, is not one
SPIKE_REACH = 10
SPIKE_SPAN = 3  # the most consecutive values a spike lasts: longer is a new level, or a season
MIN_VALUES = 20  # fewer say little about a series' usual range


def find_spikes(y: np.ndarray, season: int) -> np.ndarray:
    """Which of ``y`` (a series' values in time order) are spikes: over SPIKE_REACH widths
    of the middle 90% of the values above the median of those within a season either side,
    in runs of SPIKE_SPAN values at most with a value that is not one before and after (the
    last values may be a new level: a break, which break_notes says). None in a series
    mostly of one value (a sparse series' zeros: every sale would be one)."""
    far = np.zeros(len(y), dtype=bool)
    known = y[np.isfinite(y)]
    if len(known) < MIN_VALUES or np.mean(known == np.median(known)) > 0.5:
        return far
    lower, upper = np.percentile(known, [5, 95])
    if not upper > lower:
        return far
    half = max(season, SPIKE_SPAN)
    around = pd.Series(y).rolling(2 * half + 1, center=True, min_periods=half + 1).median().to_numpy()
    far = np.nan_to_num((y - around) / (upper - lower), nan=0.0) > SPIKE_REACH
    # runs of far values: each kept where short and closed on both sides
    edges = np.flatnonzero(np.diff(np.concatenate(([0], far.astype(np.int8), [0]))))
    for start, end in zip(edges[::2], edges[1::2]):
        if end - start > SPIKE_SPAN or start == 0 or end == len(y):
            far[start:end] = False
    return far


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
    what = ("left out of the fit (cleaning.spikes: leave_out), as values given missing are" if policy == "leave_out"
            else f"kept (cleaning.spikes: keep), and a model may repeat {it}. Where {them} will not recur (a viral "
                 f"day, a glitch, a bulk order), cleaning.spikes: leave_out leaves {it} out of the fit")
    return (f"{count} {'value' if one else 'values'} {SPIKE_NOTE} {it} (over {SPIKE_REACH} times the width of the "
            f"middle 90% of the values above their median), {which}: {what}")
