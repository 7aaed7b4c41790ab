"""Stretches of zeros inside a series' history (pure pandas): a stock-out, an outage, a
shop shut for works, in a series that otherwise nearly never reads 0. The models fit
them as real values (a stock-out as no demand, pulling the level and the trend down);
only the user knows whether they are. Noted, not changed. A run at the end is
cleaning_notes.zero_run_notes' (an outage going on), a run at the start is a launch.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.cleaning_notes import BREAK_WINDOW, ZERO_RUN
from forecasting.periods import time_text

# How the note goes on (the summary counts the series whose data_notes hold it)
ZERO_STRETCH_NOTE = "values in a row are 0 inside a history that has nearly none"
NEARLY_NONE = 0.01  # the most zeros the rest of the history may have, as a share of it
MOST_IN_RUNS = 0.2  # the largest share of the history the runs may take: more is a sparse series' way


def zero_stretch_notes(frame: pd.DataFrame, filled: pd.DatetimeIndex | None = None) -> list[str]:
    """A note on the runs of ZERO_RUN or more zeros that neither start nor end the history
    (the longest named), where they take at most MOST_IN_RUNS of it and at most NEARLY_NONE
    of the BREAK_WINDOW or more other values are 0. Runs of zeros that ``filled`` (the
    periods cleaning.gaps: zero filled) made alone are left to the filling's own notes."""
    values = frame["y"].to_numpy(dtype="float64")
    zero = values == 0
    if not zero.any():  # most series: nothing to look at
        return []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], zero.astype(np.int8), [0]))))
    starts, ends = edges[::2], edges[1::2]  # each run of zeros: values[start:end]
    inside = (starts > 0) & (ends < len(values)) & (ends - starts >= ZERO_RUN)
    given = np.ones(len(values), dtype=bool)  # the values the input had, not filled
    if filled is not None and len(filled) and inside.any():
        given = ~frame["ds"].isin(filled).to_numpy()
        inside[inside] = [given[start:end].any() for start, end in zip(starts[inside], ends[inside])]
    starts, ends = starts[inside], ends[inside]
    lengths = ends - starts
    rest = len(values) - int(lengths.sum())
    if not len(lengths) or rest < BREAK_WINDOW or lengths.sum() > MOST_IN_RUNS * len(values):
        return []
    given_in_runs = sum(int(given[start:end].sum()) for start, end in zip(starts, ends))
    if (zero & given).sum() - given_in_runs > NEARLY_NONE * rest:  # the zeros filled are the filling's to say
        return []
    start, end = starts[np.argmax(lengths)], ends[np.argmax(lengths)]
    others = len(lengths) - 1
    more = f"; {others} more such {'run' if others == 1 else 'runs'}, {lengths.sum()} zeros in all" if others else ""
    times = frame["ds"]
    return [f"{end - start} {ZERO_STRETCH_NOTE} ({time_text(times.iloc[start])} to {time_text(times.iloc[end - 1])}"
            f"{more}): a stock-out, an outage or a closure, which the models fit as real values? Modelled as they "
            "are; given as missing values (empty) instead, they are not fitted as zeros (cleaning.missing_values: "
            "drop)"]
