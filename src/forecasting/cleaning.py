"""Per-series data problems and the configured policy for each (pure pandas).

Each step either repairs the history and notes what it did, or rejects the
series with a reason; nothing is changed or dropped without a note.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.baselines import season_length
from forecasting.closed_times import closed_note, find_closed, outside_closed, too_short_note
from forecasting.cleaning_notes import (ZERO_RUN_NOTE, break_notes, duplicate_notes, flat_end_notes, negative_notes,
                                        no_weekday_notes, outlier_notes, running_total_notes, skipped_hours,
                                        stray_first_rows, value_text, zero_run_notes)
from forecasting.config import CleaningConfig
from forecasting.grid_alignment import aligned_note, part_past_input, without_partial_ends, without_period_past_input
from forecasting.level_shifts import level_shift_notes
from forecasting.periods import align_to_grid, known_until, sub_daily, time_text, yearly_harmonics
from forecasting.spikes import cycles_of, find_spikes, spike_note
from forecasting.run_date_cut import (STALE_SKIPPED, STOPPED_NOTE, all_unsettled, settled_cut, up_to_run_date,
                                      without_open_period, without_rows_ahead)


# Values beyond this in magnitude square past float64's largest (RMSE, the intervals' spread): a
# unit or a parse error, whose forecasts and scores would be inf or NaN
LARGEST_VALUE = 1e150


@dataclass
class Cleaned:
    history: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    rejection: str | None = None
    refused_by: str | None = None  # the cleaning policy whose reject refused it, if one did
    kept_from: pd.Timestamp | None = None  # where first rows were left out as strays: the first time kept
    closed: list[int] = field(default_factory=list)  # periods of the week left out (closed_times module)


# After "N": target values null, NaN or infinite, dropped or filled by cleaning.missing_values
MISSING_VALUES_NOTE = "missing or infinite values"
# After "N of M": the periods of a series' span without a row, which cleaning.gaps: keep leaves out
GAPS_KEPT_NOTE = "periods missing, left out"
# Begins the note on a series whose rows are several periods apart: another frequency than the data's?
SPARSE_NOTE = "rows regularly "
# A series with several rows a period, most of them off its grid: data finer than the frequency,
# summed into it as meant (daily sales into weeks) or not (15-minute readings left at daily)
MERGED_NOTE = "several rows a period merged"
# Rows at one time merged by cleaning.duplicates, whichever the reason (the notes after it say
# the reasons they know: finer data, an input read twice, several series, a clock change, other values)
DUPLICATES_NOTE = "duplicate timestamps merged"
# Zeros gaps: zero filled into a series whose own values never come near 0 (a price on an exchange's
# holidays, a stock level): no period without sales, but a gap the model then fits as a crash
ZEROS_INTO_LEVEL_NOTE = "zeros among values that never come near 0"
NEAR_ZERO_SHARE = 0.5  # of the values' median: a level that never halves, unlike counts that reach 0


def _fill(frame: pd.DataFrame, how: str) -> np.ndarray:
    """``y`` with its gaps filled: zeros, or linear in time (a value two days from
    its neighbour is not one row away); the ends take the nearest value."""
    if how == "zero":
        return frame["y"].fillna(0.0).to_numpy()
    return frame.set_index("ds")["y"].interpolate(method="time", limit_direction="both").to_numpy()


def clean_history(
    history: pd.DataFrame, frequency: str, policy: CleaningConfig, run_date: str | pd.Timestamp | None = None,
    input_end: str | pd.Timestamp | None = None, now: str | pd.Timestamp | None = None, strays: bool = True,
    origin: pd.Timestamp | None = None,
) -> Cleaned:
    """Apply the cleaning policy to a ``ds``/``y`` frame sorted by time.

    ``run_date`` is the day the data is known up to (its end is the cut). Given
    one, a last period aggregated from finer rows that is still open on it is
    left out, a history that stopped well before it is noted, and ``gaps: zero``
    fills up to it, but not past ``input_end``'s period (the whole input's latest
    time: an input that stopped long ago is no run of zeros). ``now``, the run's
    start during its run date, cuts there instead of at the day's end: the
    current hour of minute rows is still open. Without a run date (direct
    callers, benchmarks) none of that applies. ``strays``: whether to leave out first
    rows long before the rest (``stray_first_rows``). ``origin``: a time on the grid of
    steps of several days (7D) to align to, a stored model's (scoring, where the input
    may start on another day than the training's did); default the first row's day.
    """
    result = Cleaned(history.reset_index(drop=True))  # rows by position: an input read twice repeats labels
    frame = result.history
    frame["y"] = frame["y"].astype("float64")
    cut = None if run_date is None else known_until(run_date, now)
    if now is not None and cut is not None:
        frame = result.history = without_rows_ahead(frame, frequency, cut, result.notes)
    stray, note = stray_first_rows(frame["ds"]) if strays else (None, None)
    if note:
        frame = frame[~stray.to_numpy()]
        result.notes.append(note)
        result.kept_from = frame["ds"].min()
    # Steps of several days (7D) count from the series' first day, whichever rows are
    # dropped below: one grid for every step, or a row found alone in its period by
    # one step would share another's by the next (a filled value summed with a real one)
    if origin is None:
        origin = frame["ds"].min().normalize() if len(frame) else None

    # Before the missing values: a value dropped here leaves its period to be filled, and
    # none is filled from a value that is then dropped or clipped.
    negative = (frame["y"] < 0) & np.isfinite(frame["y"])  # -inf is a missing value, below
    if negative.any() and policy.negative_values != "allow":
        count = int(negative.sum())
        if policy.negative_values == "reject":
            return _reject(result, f"{count} negative values", "negative_values", frame.loc[negative, "ds"])
        if policy.negative_values == "clip":
            frame.loc[negative, "y"] = 0.0
        else:
            frame = frame[~negative]
        result.notes.append(f"{count} negative values {'clipped to 0' if policy.negative_values == 'clip' else 'dropped'}")

    missing = ~np.isfinite(frame["y"].to_numpy())
    unknown = frame["ds"].iloc[:0]  # the times of values missing and dropped: no periods for gaps: zero to fill
    if missing.all() and len(frame):  # nothing to fill from, whatever the policy
        result.rejection = f"no values: all {len(frame)} are missing or infinite"
        result.history = frame.iloc[:0]  # no period with a value: a history_length of 0, not the rows'
        return result
    if missing.any():
        count = int(missing.sum())
        if policy.missing_values == "reject":
            return _reject(result, f"{count} missing or infinite values", "missing_values", frame.loc[missing, "ds"])
        frame.loc[missing, "y"] = np.nan
        if policy.missing_values == "drop":
            unknown = frame.loc[missing, "ds"]
            frame = frame[~missing]
            result.notes.append(f"{count} {MISSING_VALUES_NOTE} dropped")
        else:
            # A filled value beside a real one in its period would be merged with it
            # (summed, averaged): the real value stands for the period on its own.
            periods = align_to_grid(frame["ds"], frequency, origin=origin)
            shared = missing & periods.isin(periods[~missing]).to_numpy()
            if shared.any():
                frame = frame[~shared]
                result.notes.append(f"{int(shared.sum())} {MISSING_VALUES_NOTE} dropped: "
                                    "their period has a value")
            if count > shared.sum():
                frame = frame.assign(y=_fill(frame, policy.missing_values))
                result.notes.append(f"{count - int(shared.sum())} {MISSING_VALUES_NOTE} filled "
                                    f"({policy.missing_values})")

    if frame.empty:
        result.history = frame
        return result
    result.rejection = too_large(frame["y"].to_numpy())
    if result.rejection:
        return result

    given = frame["ds"]  # the times as the input had them, by row
    aligned = align_to_grid(frame["ds"], frequency, origin=origin)
    moved = (aligned != frame["ds"]).to_numpy()
    off_grid = int(moved.sum())
    if off_grid:
        if policy.off_grid == "reject":
            return _reject(result, f"{off_grid} timestamps off the '{frequency}' grid", "off_grid", given[moved])
        raw = frame["ds"]
        frame = frame.assign(ds=aligned.to_numpy())
        result.notes.append(aligned_note(raw, aligned, frequency))
    latest = frame["ds"].max()  # the last period with a row, before any is left out below
    if cut is not None and policy.unsettled_periods:
        # from here on the data ends where the settled periods do: what follows cuts there
        cut = settled_cut(cut, run_date, frequency, origin, policy.unsettled_periods)
        settled = (frame["ds"] < cut).to_numpy()
        if not settled.any():
            result.rejection = all_unsettled(len(frame), policy.unsettled_periods)
            return result
        frame, given, moved = frame[settled], given[settled], moved[settled]
    if cut is not None:
        # finer rows (most moved, or several times a period): the open period is a part, even where its rows were
        # on the grid; rows repeated at one time (two sales, an input read twice) are no finer data
        finer = 2 * off_grid >= len(frame) or 2 * frame["ds"].nunique() <= given.nunique()
        frame = without_open_period(frame, moved | finer, frequency, cut, result.notes, policy.open_period)
        frame, unfinished = (without_period_past_input(frame, given, finer, frequency, input_end, result.notes)
                             if policy.duplicates == "sum" else (frame, None))  # averaged, a part is the level
        input_part = (part_past_input(frame, given, finer, frequency, input_end)
                      if policy.gaps == "zero" and policy.duplicates == "sum" and unfinished is None else None)
        if frame.empty:
            result.history = frame.reset_index(drop=True)
            return result
    if off_grid and policy.duplicates == "sum" and policy.gaps != "zero":  # with zero gaps, no row is no sales
        frame = without_partial_ends(frame, raw.loc[frame.index], frequency, result.notes, input_end)

    duplicated = int(frame["ds"].duplicated().sum())
    repeated = 0
    if duplicated:
        if policy.duplicates == "reject":
            return _reject(result, f"{duplicated} duplicate timestamps", "duplicates",
                           frame.loc[frame["ds"].duplicated(), "ds"])
        rows = len(frame)
        repeated, noted = duplicate_notes(given.loc[frame.index], frame["y"], policy.duplicates, sub_daily(frequency))
        frame = frame.groupby("ds", as_index=False, sort=True)["y"].agg(policy.duplicates)
        result.notes.append(f"{duplicated} {DUPLICATES_NOTE} ({policy.duplicates})")
        result.notes += noted
        if rows >= 2 * len(frame) and off_grid >= rows / 2:  # most rows aligned, then merged: finer data
            result.notes.append(f"{MERGED_NOTE} ({rows / len(frame):.0f} on average) into '{frequency}' periods")
        result.rejection = too_large(frame["y"].to_numpy(), f"once merged ({policy.duplicates})")
        if result.rejection:  # minutes summed into days
            return result

    grid = pd.date_range(frame["ds"].min(), frame["ds"].max(), freq=frequency)
    filled = _filled(grid, frame["ds"])
    apart = _regular_spacing(np.diff(filled))
    if apart >= 2:  # monthly rows read as daily, say; not intermittent rows, irregular
        result.notes.append(f"{SPARSE_NOTE}{apart:.0f} periods apart: is forecast.frequency {frequency!r} the data's?")
    # rows regularly apart are another frequency's (daily rows read as hourly), no opening hours;
    # a series with a row every period has none either (most: nothing to look for)
    closed = []
    if apart < 2 and len(filled) < len(grid):
        closed = find_closed(frame["ds"], frequency)
        if not closed and policy.closed_times == "leave_out":
            result.notes += too_short_note(frame["ds"], frequency)
    if closed:
        result.notes.append(closed_note(closed, frequency, grid, policy.closed_times))
        if policy.closed_times == "leave_out":  # no periods of the series: not missing, not filled
            result.closed = closed
            grid = grid[outside_closed(grid, frequency, closed)]
            filled = _filled(grid, frame["ds"])
    gaps = len(grid) - len(filled)
    if policy.gaps != "zero":  # with zero gaps, a day without a row is a day without sales: modelled as such
        result.notes += no_weekday_notes(frame["ds"], frequency)
    if gaps:
        if policy.gaps == "reject":
            return _reject(result, f"{gaps} missing periods", "gaps", grid.delete(filled).to_series())
        clocks = skipped_hours(grid.delete(filled), len(grid)) if sub_daily(frequency) else ""
        if policy.gaps == "keep":
            result.notes.append(f"{gaps} of {len(grid)} {GAPS_KEPT_NOTE}{_longest_gap(grid, filled)}{clocks}")
        else:
            real = frame["y"].to_numpy()  # the values the input had, before any is filled
            frame = frame.set_index("ds").reindex(grid.union(pd.DatetimeIndex(frame["ds"])))
            frame = frame.rename_axis("ds").reset_index()
            frame["y"] = _fill(frame, policy.gaps)
            # a row whose value is missing is no period without sales: left out, not a 0 (a spike given as missing)
            left_out = (grid.delete(filled).isin(align_to_grid(unknown, frequency, origin=origin))
                        if policy.gaps == "zero" and len(unknown) else np.zeros(gaps, dtype=bool))
            if left_out.any():
                frame = frame[~frame["ds"].isin(grid.delete(filled)[left_out])].reset_index(drop=True)
            if gaps > left_out.sum():
                result.notes.append(f"{gaps - int(left_out.sum())} missing periods filled ({policy.gaps}){clocks}")
                if policy.gaps == "zero":
                    result.notes += _zeros_into_level(real, gaps - int(left_out.sum()))
            if left_out.any():
                count = int(left_out.sum())
                result.notes.append(f"{count} {'period' if count == 1 else 'periods'} whose only values were missing "
                                    "left out, not filled (zero)")

    frame = frame.sort_values("ds").reset_index(drop=True)
    # before the zeros gaps: zero adds after the last row, which are no break in the data; and not
    # with the repeated-rows note: the last rows read twice stand out as doubled, and it names the cause
    # a run of zeros at the end (an outage) is one note, not a break too
    breaks = [] if repeated else (zero_run_notes(frame) or flat_end_notes(frame, season_length(frequency))
                                  or break_notes(frame, season_length(frequency), not sub_daily(frequency)))
    # on the rows, not the zeros gaps: zero may add after them; not of yearly data, where a level (headcount,
    # revenue) that rose every year for twenty years is no rarity and a register read once a year is
    rising = running_total_notes(frame) if yearly_harmonics(frequency) != 0 else []
    if cut is not None and policy.gaps == "zero" and len(unknown):
        # rows after the last value whose values are missing (days not reported yet): no zeros from there on
        pending = align_to_grid(unknown, frequency, origin=origin)
        pending = pending[pending > frame["ds"].max()]
        # from the period right after the last value: one such row months later is no feed still sending
        if len(pending) and pending.min() == pd.date_range(frame["ds"].max(), periods=2, freq=frequency)[1]:
            unfinished = pending.min() if unfinished is None else min(unfinished, pending.min())
    if cut is not None:
        up_to, stale = up_to_run_date(frame, frequency, policy, run_date, cut, result.notes, input_end, result.closed,
                                      unfinished, rows_after=latest > frame["ds"].max(), input_part=input_part)
        if stale is not None:  # a unit closed, a product delisted
            result.rejection = f"{STALE_SKIPPED} ({policy.stale_after} periods): {stale}"
            result.refused_by = "stale_after"
            result.history = frame  # up to its last row, in periods: its length and end as the reason counts them
            return result
        frame = up_to
        if any(note.startswith(STOPPED_NOTE) for note in result.notes):  # those zeros are the note's, no outage
            breaks = [note for note in breaks if ZERO_RUN_NOTE not in note]
    if policy.negative_values == "allow":
        result.notes += negative_notes(frame)
    spiked = find_spikes(frame["y"].to_numpy(dtype="float64"), season_length(frequency), cycles_of(frequency))
    if spiked.any():
        result.notes.append(spike_note(frame, spiked, policy.spikes))
        if policy.spikes == "leave_out":  # as a value given missing: a period without one, not a 0
            frame, spiked = frame[~spiked].reset_index(drop=True), spiked[~spiked]
    result.notes += outlier_notes(frame, spiked)
    # periods of a week to a quarter: a yearly cycle whose swing can hide a change of level (adjusted for it)
    result.notes += rising + breaks + level_shift_notes(frame, season_length(frequency),
                                                        adjust=bool(yearly_harmonics(frequency)))
    result.history = frame
    return result


def _zeros_into_level(real: np.ndarray, zeros: int) -> list[str]:
    """A note where ``zeros`` periods were filled with 0 in a series whose own values never come
    near it (the smallest at least NEAR_ZERO_SHARE of their median) and are not whole numbers: a
    price or a level, where a period without a row is a holiday or a gap in the feed, which the
    models fit as crashes. Counts (units sold, slow movers' 1s and 2s) are what gaps: zero is for."""
    lowest = float(np.min(real)) if len(real) else 0.0
    if lowest <= 0 or lowest < NEAR_ZERO_SHARE * float(np.median(real)) or np.all(real == np.round(real)):
        return []
    return [f"{zeros} of them {ZEROS_INTO_LEVEL_NOTE} (the lowest {value_text(lowest)}): prices or a level, where "
            "a period without a row is no 0? cleaning.gaps: keep or interpolate suits such a series"]


def too_large(values: np.ndarray, when: str = "") -> str | None:
    """A rejection where values are beyond LARGEST_VALUE (``when``: at which step), else None."""
    huge = np.abs(values) > LARGEST_VALUE  # an overflow to inf too
    if not huge.any():
        return None
    return (f"values too large to model: {int(huge.sum())} beyond {LARGEST_VALUE:g}{' ' + when if when else ''}, "
            f"e.g. {values[huge][0]:g}: a unit or a parse error?")


def _regular_spacing(steps: np.ndarray) -> float:
    """How many periods apart most rows are (``steps``: the periods from each row to the
    next), where at least four fifths of the steps are within a tenth of their median;
    else 0 (an irregular series, or one of too few rows to tell)."""
    if len(steps) < 5:
        return 0.0
    typical = float(np.median(steps))
    return typical if np.mean(np.abs(steps - typical) <= 0.1 * typical) >= 0.8 else 0.0


def _filled(grid: pd.DatetimeIndex, times: pd.Series) -> np.ndarray:
    """The positions of ``grid``'s periods with a row, in order."""
    filled = np.unique(grid.get_indexer(pd.DatetimeIndex(times)))
    return filled[filled >= 0]


def _longest_gap(grid: pd.DatetimeIndex, filled: np.ndarray) -> str:
    """When the longest run of missing periods was, where it is several (an outage)."""
    missing = np.diff(filled) - 1
    if not len(missing) or missing.max() < 2:
        return ""
    at = int(np.argmax(missing))
    return f", the longest {int(missing[at])} from {time_text(grid[filled[at] + 1])}"


def _reject(result: Cleaned, problem: str, key: str, times: pd.Series) -> Cleaned:
    """The series refused by a ``cleaning.<key>: reject`` policy, its reason naming the first
    of the ``times`` it found the problem at (inside the bracket, where the summary's kinds
    of reasons end)."""
    first = f"the first {time_text(times.min())}; " if len(times) else ""
    result.rejection, result.refused_by = f"{problem} ({first}cleaning.{key} = reject)", key
    return result


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
