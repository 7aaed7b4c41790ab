"""The periods of a series' span without a row: how cleaning's gaps step fills, finds and
describes them, and which cleaned periods interpolation made (pure pandas)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.cleaning_notes import value_text
from forecasting.periods import time_text

# After "N of M": the periods of a series' span without a row, which cleaning.gaps: keep leaves out
GAPS_KEPT_NOTE = "periods missing, left out"
# Begins the note on a series whose rows are several periods apart: another frequency than the data's?
SPARSE_NOTE = "rows regularly "
# Zeros gaps: zero filled into a series whose own values never come near 0 (a price on an exchange's
# holidays, a stock level): no period without sales, but a gap the model then fits as a crash
ZEROS_INTO_LEVEL_NOTE = "zeros among values that never come near 0"
NEAR_ZERO_SHARE = 0.5  # of the values' median: a level that never halves, unlike counts that reach 0


def fill(frame: pd.DataFrame, how: str) -> np.ndarray:
    """``y`` with its gaps filled: zeros, or linear in time (a value two days from
    its neighbour is not one row away); the ends take the nearest value."""
    if how == "zero":
        return frame["y"].fillna(0.0).to_numpy()
    return frame.set_index("ds")["y"].interpolate(method="time", limit_direction="both").to_numpy()


def regular_spacing(steps: np.ndarray) -> float:
    """How many periods apart most rows are (``steps``: the periods from each row to the
    next), where at least four fifths of the steps are within a tenth of their median;
    else 0 (an irregular series, or one of too few rows to tell)."""
    if len(steps) < 5:
        return 0.0
    typical = float(np.median(steps))
    return typical if np.mean(np.abs(steps - typical) <= 0.1 * typical) >= 0.8 else 0.0


def filled_positions(grid: pd.DatetimeIndex, times: pd.Series) -> np.ndarray:
    """The positions of ``grid``'s periods with a row, in order."""
    filled = np.unique(grid.get_indexer(pd.DatetimeIndex(times)))
    return filled[filled >= 0]


def longest_gap(grid: pd.DatetimeIndex, filled: np.ndarray) -> str:
    """When the longest run of missing periods was, where it is several (an outage)."""
    missing = np.diff(filled) - 1
    if not len(missing) or missing.max() < 2:
        return ""
    at = int(np.argmax(missing))
    return f", the longest {int(missing[at])} from {time_text(grid[filled[at] + 1])}"


def zeros_into_level(real: np.ndarray, zeros: int) -> list[str]:
    """A note where ``zeros`` periods were filled with 0 in a series whose own values never come
    near it (the smallest at least NEAR_ZERO_SHARE of their median) and are not whole numbers: a
    price or a level, where a period without a row is a holiday or a gap in the feed, which the
    models fit as crashes. Counts (units sold, slow movers' 1s and 2s) are what gaps: zero is for."""
    lowest = float(np.min(real)) if len(real) else 0.0
    if lowest <= 0 or lowest < NEAR_ZERO_SHARE * float(np.median(real)) or np.all(real == np.round(real)):
        return []
    return [f"{zeros} of them {ZEROS_INTO_LEVEL_NOTE} (the lowest {value_text(lowest)}): prices or a level, where "
            "a period without a row is no 0? cleaning.gaps: keep or interpolate suits such a series"]


def filled_by_interpolation(labels: pd.Series, raw: pd.DataFrame, periods: pd.Series, policy) -> np.ndarray:
    """Which cleaned periods ``labels`` were filled by interpolation: no input row of
    theirs kept a value (one missing, or negative and dropped), and the policy that
    filled them interpolates (missing values for a period whose row was missing and
    kept, else the gaps policy)."""
    y = raw["y"].to_numpy(dtype="float64")
    kept = np.isfinite(y) & ((y >= 0) | (policy.negative_values != "drop"))
    missing = ~np.isfinite(y) & (policy.missing_values != "drop")
    valued, filled_as_missing = labels.isin(periods[kept]), labels.isin(periods[missing])
    by_missing = filled_as_missing.to_numpy() & ~valued.to_numpy()
    interpolated = np.where(by_missing, policy.missing_values == "interpolate", policy.gaps == "interpolate")
    return ~valued.to_numpy() & interpolated
