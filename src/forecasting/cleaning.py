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
                                        stray_first_rows, zero_run_notes)
from forecasting.config import CleaningConfig
from forecasting.gap_filling import (GAPS_KEPT_NOTE, SPARSE_NOTE, fill, filled_positions, longest_gap, regular_spacing,
                                      zeros_into_level)
from forecasting.grid_alignment import (aligned_note, part_past_input, without_late_start, without_partial_ends,
                                        without_period_past_input)
from forecasting.level_shifts import level_shift_notes
from forecasting.zero_stretches import zero_stretch_notes
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
# A series with several rows a period, most of them off its grid: data finer than the frequency,
# summed into it as meant (daily sales into weeks) or not (15-minute readings left at daily)
MERGED_NOTE = "several rows a period merged"
# Rows at one time merged by cleaning.duplicates, whichever the reason (the notes after it say
# the reasons they know: finer data, an input read twice, several series, a clock change, other values)
DUPLICATES_NOTE = "duplicate timestamps merged"


@dataclass
class _Pass:
    """A series on its way through clean_history's steps: the frame and what a later step
    needs of an earlier one's work."""
    frame: pd.DataFrame
    frequency: str
    policy: CleaningConfig
    run_date: str | pd.Timestamp | None
    input_end: str | pd.Timestamp | None
    cut: pd.Timestamp | None  # where the data known on the run date ends (None: no run date)
    origin: pd.Timestamp | None  # the grid's start for steps of several days
    unknown: pd.Series  # the times of values missing and dropped: no periods for gaps: zero to fill
    given: pd.Series | None = None  # the times as the input had them, by row
    moved: np.ndarray | None = None  # which rows alignment moved onto the grid
    off_grid: int = 0
    raw: pd.Series | None = None  # the times before alignment, where some were off the grid
    latest: pd.Timestamp | None = None  # the last period with a row, before any is left out
    unfinished: pd.Timestamp | None = None  # a period the input has not finished (gaps: zero fills up to it)
    input_part: pd.Timestamp | None = None  # the input's last period, only a part known: gaps: zero fills none there
    repeated: int = 0  # rows read twice, as duplicate_notes tells them
    filled: pd.DatetimeIndex | None = None  # the periods gaps: zero filled with 0


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
    state = _Pass(frame, frequency, policy, run_date, input_end, cut, origin, unknown=frame["ds"].iloc[:0])
    # each step returns False where the series' result is final (refused, or nothing left)
    for step in (_values, _onto_grid, _merged, _gaps):
        if not step(state, result):
            return result
    _last_notes(state, result)
    return result


def _values(state: _Pass, result: Cleaned) -> bool:
    """Negative and missing values, by their policies. Before the missing periods: a value
    dropped here leaves its period to be filled, and none is filled from a value that is
    then dropped or clipped."""
    frame, policy = state.frame, state.policy
    negative = (frame["y"] < 0) & np.isfinite(frame["y"])  # -inf is a missing value, below
    if negative.any() and policy.negative_values != "allow":
        count = int(negative.sum())
        if policy.negative_values == "reject":
            _reject(result, f"{count} negative values", "negative_values", frame.loc[negative, "ds"])
            return False
        if policy.negative_values == "clip":
            frame.loc[negative, "y"] = 0.0
        else:
            frame = frame[~negative]
        result.notes.append(f"{count} negative values {'clipped to 0' if policy.negative_values == 'clip' else 'dropped'}")

    missing = ~np.isfinite(frame["y"].to_numpy())
    if missing.all() and len(frame):  # nothing to fill from, whatever the policy
        result.rejection = f"no values: all {len(frame)} are missing or infinite"
        result.history = frame.iloc[:0]  # no period with a value: a history_length of 0, not the rows'
        return False
    if missing.any():
        count = int(missing.sum())
        if policy.missing_values == "reject":
            _reject(result, f"{count} missing or infinite values", "missing_values", frame.loc[missing, "ds"])
            return False
        frame.loc[missing, "y"] = np.nan
        if policy.missing_values == "drop":
            state.unknown = frame.loc[missing, "ds"]
            frame = frame[~missing]
            result.notes.append(f"{count} {MISSING_VALUES_NOTE} dropped")
        else:
            # A filled value beside a real one in its period would be merged with it
            # (summed, averaged): the real value stands for the period on its own.
            periods = align_to_grid(frame["ds"], state.frequency, origin=state.origin)
            shared = missing & periods.isin(periods[~missing]).to_numpy()
            if shared.any():
                frame = frame[~shared]
                result.notes.append(f"{int(shared.sum())} {MISSING_VALUES_NOTE} dropped: "
                                    "their period has a value")
            if count > shared.sum():
                frame = frame.assign(y=fill(frame, policy.missing_values))
                result.notes.append(f"{count - int(shared.sum())} {MISSING_VALUES_NOTE} filled "
                                    f"({policy.missing_values})")
    state.frame = frame
    if frame.empty:
        result.history = frame
        return False
    result.rejection = too_large(frame["y"].to_numpy())
    return not result.rejection


def _onto_grid(state: _Pass, result: Cleaned) -> bool:
    """Times moved onto the frequency's grid, and the periods the run date does not know
    in full left out: unsettled ones, an open last one, one past the input's end."""
    frame, frequency, policy = state.frame, state.frequency, state.policy
    given = frame["ds"]
    aligned = align_to_grid(frame["ds"], frequency, origin=state.origin)
    moved = (aligned != frame["ds"]).to_numpy()
    off_grid = int(moved.sum())
    if off_grid:
        if policy.off_grid == "reject":
            _reject(result, f"{off_grid} timestamps off the '{frequency}' grid", "off_grid", given[moved])
            return False
        state.raw = frame["ds"]
        frame = frame.assign(ds=aligned.to_numpy())
        result.notes.append(aligned_note(state.raw, aligned, frequency))
    state.latest = frame["ds"].max()  # before any period is left out below
    cut = state.cut
    if cut is not None and policy.unsettled_periods:
        # from here on the data ends where the settled periods do: what follows cuts there
        cut = state.cut = settled_cut(cut, state.run_date, frequency, state.origin, policy.unsettled_periods)
        settled = (frame["ds"] < cut).to_numpy()
        if not settled.any():
            result.rejection = all_unsettled(len(frame), policy.unsettled_periods)
            return False
        frame, given, moved = frame[settled], given[settled], moved[settled]
    if cut is not None:
        # finer rows (most moved, or several times a period): the open period is a part, even where its rows were
        # on the grid; rows repeated at one time (two sales, an input read twice) are no finer data
        finer = 2 * off_grid >= len(frame) or 2 * frame["ds"].nunique() <= given.nunique()
        frame = without_open_period(frame, moved | finer, frequency, cut, result.notes, policy.open_period)
        frame, state.unfinished = (
            without_period_past_input(frame, given, finer, frequency, state.input_end, result.notes)
            if policy.duplicates == "sum" else (frame, None))  # averaged, a part is the level
        state.input_part = (part_past_input(frame, given, finer, frequency, state.input_end)
                            if policy.gaps == "zero" and policy.duplicates == "sum" and state.unfinished is None
                            else None)
        if frame.empty:
            result.history = frame.reset_index(drop=True)
            return False
    if off_grid and policy.duplicates == "sum" and policy.gaps != "zero":
        frame = without_partial_ends(frame, state.raw.loc[frame.index], frequency, result.notes, state.input_end)
    elif off_grid and policy.duplicates == "sum":  # rows are sales: a period without one sold nothing
        frame = without_late_start(frame, state.raw.loc[frame.index], frequency, result.notes)
    state.frame, state.given, state.moved, state.off_grid = frame, given, moved, off_grid
    return True


def _merged(state: _Pass, result: Cleaned) -> bool:
    """Rows at one time merged by the duplicates policy, with notes on why there were several."""
    frame, policy = state.frame, state.policy
    duplicated = int(frame["ds"].duplicated().sum())
    if not duplicated:
        return True
    if policy.duplicates == "reject":
        _reject(result, f"{duplicated} duplicate timestamps", "duplicates", frame.loc[frame["ds"].duplicated(), "ds"])
        return False
    rows = len(frame)
    state.repeated, noted = duplicate_notes(state.given.loc[frame.index], frame["y"], policy.duplicates,
                                            sub_daily(state.frequency))
    frame = state.frame = frame.groupby("ds", as_index=False, sort=True)["y"].agg(policy.duplicates)
    result.notes.append(f"{duplicated} {DUPLICATES_NOTE} ({policy.duplicates})")
    result.notes += noted
    if rows >= 2 * len(frame) and state.off_grid >= rows / 2:  # most rows aligned, then merged: finer data
        result.notes.append(f"{MERGED_NOTE} ({rows / len(frame):.0f} on average) into '{state.frequency}' periods")
    result.rejection = too_large(frame["y"].to_numpy(), f"once merged ({policy.duplicates})")
    return not result.rejection  # minutes summed into days


def _gaps(state: _Pass, result: Cleaned) -> bool:
    """The periods of the series' span without a row: closed times of the week left out,
    the rest kept missing, filled or refused by the gaps policy."""
    frame, frequency, policy = state.frame, state.frequency, state.policy
    grid = pd.date_range(frame["ds"].min(), frame["ds"].max(), freq=frequency)
    filled = filled_positions(grid, frame["ds"])
    apart = regular_spacing(np.diff(filled))
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
            filled = filled_positions(grid, frame["ds"])
    gaps = len(grid) - len(filled)
    if policy.gaps != "zero":  # with zero gaps, a day without a row is a day without sales: modelled as such
        result.notes += no_weekday_notes(frame["ds"], frequency)
    if not gaps:
        return True
    if policy.gaps == "reject":
        _reject(result, f"{gaps} missing periods", "gaps", grid.delete(filled).to_series())
        return False
    clocks = skipped_hours(grid.delete(filled), len(grid)) if sub_daily(frequency) else ""
    if policy.gaps == "keep":
        result.notes.append(f"{gaps} of {len(grid)} {GAPS_KEPT_NOTE}{longest_gap(grid, filled)}{clocks}")
        return True
    real = frame["y"].to_numpy()  # the values the input had, before any is filled
    frame = frame.set_index("ds").reindex(grid.union(pd.DatetimeIndex(frame["ds"])))
    frame = frame.rename_axis("ds").reset_index()
    frame["y"] = fill(frame, policy.gaps)
    # a row whose value is missing is no period without sales: left out, not a 0 (a spike given as missing)
    unknown = state.unknown
    left_out = (grid.delete(filled).isin(align_to_grid(unknown, frequency, origin=state.origin))
                if policy.gaps == "zero" and len(unknown) else np.zeros(gaps, dtype=bool))
    if left_out.any():
        frame = frame[~frame["ds"].isin(grid.delete(filled)[left_out])].reset_index(drop=True)
    if gaps > left_out.sum():
        result.notes.append(f"{gaps - int(left_out.sum())} missing periods filled ({policy.gaps}){clocks}")
        if policy.gaps == "zero":
            result.notes += zeros_into_level(real, gaps - int(left_out.sum()))
            state.filled = grid.delete(filled)[~left_out]
    if left_out.any():
        count = int(left_out.sum())
        result.notes.append(f"{count} {'period' if count == 1 else 'periods'} whose only values were missing "
                            "left out, not filled (zero)")
    state.frame = frame
    return True


def _last_notes(state: _Pass, result: Cleaned) -> None:
    """The history cut at the run date (or refused as stale), then the notes on its values:
    breaks, outages, spikes, outliers and changes of level."""
    frequency, policy, cut = state.frequency, state.policy, state.cut
    frame = state.frame.sort_values("ds").reset_index(drop=True)
    # before the zeros gaps: zero adds after the last row, which are no break in the data; and not
    # with the repeated-rows note: the last rows read twice stand out as doubled, and it names the cause
    # a run of zeros at the end (an outage) is one note, not a break too
    breaks = [] if state.repeated else (zero_run_notes(frame) or flat_end_notes(frame, season_length(frequency))
                                        or break_notes(frame, season_length(frequency), not sub_daily(frequency)))
    # on the rows, not the zeros gaps: zero may add after them; not of yearly data, where a level (headcount,
    # revenue) that rose every year for twenty years is no rarity and a register read once a year is
    rising = running_total_notes(frame) if yearly_harmonics(frequency) != 0 else []
    unfinished = state.unfinished
    if cut is not None and policy.gaps == "zero" and len(state.unknown):
        # rows after the last value whose values are missing (days not reported yet): no zeros from there on
        pending = align_to_grid(state.unknown, frequency, origin=state.origin)
        pending = pending[pending > frame["ds"].max()]
        # from the period right after the last value: one such row months later is no feed still sending
        if len(pending) and pending.min() == pd.date_range(frame["ds"].max(), periods=2, freq=frequency)[1]:
            unfinished = pending.min() if unfinished is None else min(unfinished, pending.min())
    if cut is not None:
        up_to, stale = up_to_run_date(frame, frequency, policy, state.run_date, cut, result.notes, state.input_end,
                                      result.closed, unfinished, rows_after=state.latest > frame["ds"].max(),
                                      input_part=state.input_part)
        if stale is not None:  # a unit closed, a product delisted
            result.rejection = f"{STALE_SKIPPED} ({policy.stale_after} periods): {stale}"
            result.refused_by = "stale_after"
            result.history = frame  # up to its last row, in periods: its length and end as the reason counts them
            return
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
    result.notes += zero_stretch_notes(frame, state.filled)  # a stock-out's zeros, fitted as no demand
    result.history = frame


def too_large(values: np.ndarray, when: str = "") -> str | None:
    """A rejection where values are beyond LARGEST_VALUE (``when``: at which step), else None."""
    huge = np.abs(values) > LARGEST_VALUE  # an overflow to inf too
    if not huge.any():
        return None
    return (f"values too large to model: {int(huge.sum())} beyond {LARGEST_VALUE:g}{' ' + when if when else ''}, "
            f"e.g. {values[huge][0]:g}: a unit or a parse error?")


def _reject(result: Cleaned, problem: str, key: str, times: pd.Series) -> Cleaned:
    """The series refused by a ``cleaning.<key>: reject`` policy, its reason naming the first
    of the ``times`` it found the problem at (inside the bracket, where the summary's kinds
    of reasons end)."""
    first = f"the first {time_text(times.min())}; " if len(times) else ""
    result.rejection, result.refused_by = f"{problem} ({first}cleaning.{key} = reject)", key
    return result
