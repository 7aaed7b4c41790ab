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
from forecasting.periods import align_to_grid, known_until, period_end, sub_daily, time_text
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
# A series whose every row was moved to another date, one row a period: the same frequency,
# dated otherwise than the grid dates it (Monday-dated weeks read as W, which names a week by
# its Sunday), so that the forecasts are dated otherwise than the input
SHIFTED_NOTE = "timestamps moved to other dates"
MIN_SHIFTED_ROWS = 3  # fewer rows say little about how a series dates its periods
# A daily series whose every time is late in the day, at one or two times of day (a clock change):
# local midnights of a zone ahead of UTC, read in UTC (a zoned timestamp column), each dated a day
# early; or times of day meant as they are (the summary warns only where the input's times are zoned)
LATE_TIMES_NOTE = "local midnights of a zone ahead of UTC"
# A first or last period gathered from finer rows is a part of one (left out where summed)
# when it has fewer than this share of the distinct times its series' other periods have
PARTIAL_SHARE = 0.75
PERIODS_COMPARED = 8  # the periods before the last whose rows tell the days, or the step, a series has rows on
# A last period of finer rows summed that goes on past the whole input's last day: a part, left out
PAST_INPUT_NOTE = "goes on past the input's last day"


def _fill(frame: pd.DataFrame, how: str) -> np.ndarray:
    """``y`` with its gaps filled: zeros, or linear in time (a value two days from
    its neighbour is not one row away); the ends take the nearest value."""
    if how == "zero":
        return frame["y"].fillna(0.0).to_numpy()
    return frame.set_index("ds")["y"].interpolate(method="time", limit_direction="both").to_numpy()


def clean_history(
    history: pd.DataFrame, frequency: str, policy: CleaningConfig, run_date: str | pd.Timestamp | None = None,
    input_end: str | pd.Timestamp | None = None, now: str | pd.Timestamp | None = None, strays: bool = True,
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
    rows long before the rest (``stray_first_rows``).
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
    origin = frame["ds"].min().normalize() if len(frame) else None

    # Before the missing values: a value dropped here leaves its period to be filled, and
    # none is filled from a value that is then dropped or clipped.
    negative = (frame["y"] < 0) & np.isfinite(frame["y"])  # -inf is a missing value, below
    if negative.any() and policy.negative_values != "allow":
        count = int(negative.sum())
        if policy.negative_values == "reject":
            return _reject(result, f"{count} negative values", "negative_values")
        if policy.negative_values == "clip":
            frame.loc[negative, "y"] = 0.0
        else:
            frame = frame[~negative]
        result.notes.append(f"{count} negative values {'clipped to 0' if policy.negative_values == 'clip' else 'dropped'}")

    missing = ~np.isfinite(frame["y"].to_numpy())
    unknown = frame["ds"].iloc[:0]  # the times of values missing and dropped: no periods for gaps: zero to fill
    if missing.all() and len(frame):  # nothing to fill from, whatever the policy
        result.rejection = f"no values: all {len(frame)} are missing or infinite"
        return result
    if missing.any():
        count = int(missing.sum())
        if policy.missing_values == "reject":
            return _reject(result, f"{count} missing or infinite values", "missing_values")
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
            return _reject(result, f"{off_grid} timestamps off the '{frequency}' grid", "off_grid")
        raw = frame["ds"]
        frame = frame.assign(ds=aligned.to_numpy())
        result.notes.append(_aligned_note(raw, aligned, frequency))
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
        frame, unfinished = (_without_period_past_input(frame, given, finer, frequency, input_end, result.notes)
                             if policy.duplicates == "sum" else (frame, None))  # averaged, a part is the level
        if frame.empty:
            result.history = frame.reset_index(drop=True)
            return result
    if off_grid and policy.duplicates == "sum" and policy.gaps != "zero":  # with zero gaps, no row is no sales
        frame = _without_partial_ends(frame, raw.loc[frame.index], frequency, result.notes, input_end)

    duplicated = int(frame["ds"].duplicated().sum())
    repeated = 0
    if duplicated:
        if policy.duplicates == "reject":
            return _reject(result, f"{duplicated} duplicate timestamps", "duplicates")
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
            return _reject(result, f"{gaps} missing periods", "gaps")
        clocks = skipped_hours(grid.delete(filled), len(grid)) if sub_daily(frequency) else ""
        if policy.gaps == "keep":
            result.notes.append(f"{gaps} of {len(grid)} {GAPS_KEPT_NOTE}{_longest_gap(grid, filled)}{clocks}")
        else:
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
    rising = running_total_notes(frame)  # on the rows, not the zeros gaps: zero may add after them
    if cut is not None and policy.gaps == "zero" and len(unknown):
        # rows after the last value whose values are missing (days not reported yet): no zeros from there on
        pending = align_to_grid(unknown, frequency, origin=origin)
        pending = pending[pending > frame["ds"].max()]
        # from the period right after the last value: one such row months later is no feed still sending
        if len(pending) and pending.min() == pd.date_range(frame["ds"].max(), periods=2, freq=frequency)[1]:
            unfinished = pending.min() if unfinished is None else min(unfinished, pending.min())
    if cut is not None:
        up_to, stale = up_to_run_date(frame, frequency, policy, run_date, cut, result.notes, input_end, result.closed,
                                      unfinished, rows_after=latest > frame["ds"].max())
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
    result.notes += rising + breaks
    result.history = frame
    return result


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


def _aligned_note(raw: pd.Series, aligned: pd.Series, frequency: str) -> str:
    """How many timestamps were aligned; where every one moved to another date alike (by
    the same time, or from its month's end: one row a period, but for repeats), the
    data's own dates (SHIFTED_NOTE): its forecasts are not dated as its rows. Rows on
    scattered days (intermittent sales) are aligned, not noted."""
    moves = (aligned - raw).to_numpy()
    if (len(raw) >= MIN_SHIFTED_ROWS and (moves != np.timedelta64(0)).all()
            and (np.abs(moves) >= np.timedelta64(1, "D")).any()
            and (len(np.unique(moves)) == 1 or raw.dt.is_month_end.all())):  # each row dated alike in its period
        return (f"all {len(raw)} {SHIFTED_NOTE} on the '{frequency}' grid ({time_text(raw.iloc[0])} to "
                f"{time_text(aligned.iloc[0])}, ...): does forecast.frequency date the periods as the input does?")
    late = _late_times_note(raw, frequency)
    return late or f"{int((moves != np.timedelta64(0)).sum())} timestamps aligned to the '{frequency}' grid"


def _late_times_note(raw: pd.Series, frequency: str) -> str | None:
    """Where every time of a daily series is late in the day (14:00 to midnight, where the
    midnights of zones from UTC+1 to UTC+10 fall in UTC), at one or two times of day
    (a clock change): each is dated the day it falls in, the day before a local midnight's
    own date (trial 40's Berlin sales, a day early). Times meant as they are (a day's
    closing snapshot) read alike: the note asks. Periods dated by their end (W, ME) move
    such a time forward, to its own period: no note."""
    if frequency.upper() not in ("D", "1D", "B") or len(raw) < MIN_SHIFTED_ROWS:
        return None
    times = raw - raw.dt.normalize()
    if not (times >= pd.Timedelta(hours=14)).all() or times.nunique() > 2:
        return None
    shown = " or ".join(sorted({f"{time.components.hours:02d}:{time.components.minutes:02d}" for time in times}))
    return (f"all {len(raw)} timestamps at {shown}, each dated the day it falls in: if they are {LATE_TIMES_NOTE} "
            "(a timestamp column with a zone is read in UTC), each is a day early, and a date column keeps the "
            "dates as written")


def _without_period_past_input(frame: pd.DataFrame, given: pd.Series, finer: bool, frequency: str,
                               input_end: str | pd.Timestamp | None,
                               notes: list[str]) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """``frame`` (aligned from the input's times ``given``, rows not yet summed) without its
    last period where finer rows were gathered into it and it goes on past the whole
    input's last day (``input_end``) by days of the week the series has rows on: daily rows
    to Sunday summed into a week ending Monday are six days of seven, whatever the run date
    says (a Monday's run backfilled from an input that stops on Sunday), and a month of
    transactions to Friday the 30th lacks its Saturday. Business days to a Friday are a
    whole week to Sunday, or a whole month ending on a Saturday. Rows further apart than a
    day (weeks or months summed into quarters) make a part where the next row was due
    before the period's end, by the longest step between the rows of the periods before:
    a March of Mondays to the 24th lacks the 31st, a quarter of months to March is whole.
    Also returns the period left out, None where none was: no zeros fill it."""
    if input_end is None or frame.empty:
        return frame, None
    last = frame["ds"].max()
    in_last = (frame["ds"] == last).to_numpy()
    raw = given.loc[frame.index]
    reached, end = pd.Timestamp(input_end).normalize() + pd.Timedelta(days=1), period_end(last, frequency)
    if end <= reached or not (finer or (raw[in_last] != last).any()):  # on the grid: the run date's open period decides
        return frame, None
    before = frame["ds"].drop_duplicates().iloc[:-1].tail(PERIODS_COMPARED)
    days = raw[frame["ds"].isin(before).to_numpy()].dt.normalize().drop_duplicates().sort_values()
    if len(days) < 2:
        return frame, None
    steps = np.diff(days.to_numpy())
    if np.median(steps) <= np.timedelta64(1, "D"):
        # the days of the week the series has rows on, by the periods before (business days: not the weekend)
        usual = {day for day, count in days.dt.dayofweek.value_counts().items() if count >= len(days) / 14}
        missed = int(np.isin(pd.date_range(reached, end - pd.Timedelta(1, "ns"), freq="D").dayofweek,
                             list(usual)).sum())
        why = f"by {missed} day{'s' if missed != 1 else ''} of the week the series has rows on"
    else:  # rows days apart (weeks summed into months): one was due before the period's end
        due = raw[in_last].max().normalize() + pd.Timedelta(steps.max())
        missed = int(due < end)
        why = f"where a row was due by {time_text(due)}"
    if not missed:
        return frame, None
    rows = int(in_last.sum())
    notes.append(f"the last period {time_text(last)} {PAST_INPUT_NOTE} {time_text(reached - pd.Timedelta(days=1))} "
                 f"{why}: its {rows} row{'s' if rows != 1 else ''} left out, a part summed is no whole period (forecast "
                 "instead)")
    return frame[~in_last], last


def _without_partial_ends(frame: pd.DataFrame, raw: pd.Series, frequency: str, notes: list[str],
                          input_end: str | pd.Timestamp | None) -> pd.DataFrame:
    """``frame`` (aligned from ``raw``'s times, rows not yet summed) without its first or
    last period where that period has fewer than PARTIAL_SHARE of the distinct times the
    periods between have (their median): daily sales from 20 January summed are no
    January, nor daily rows that stop on 10 January while the input's rows
    (``input_end``) go on past January. By counts, not by spans: a month of weekdays
    that starts on a Saturday, or daily data from 2 January, is whole. Where the input
    itself stops inside the last period, the run date's open period decides
    (``run_date_cut.without_open_period``). Periods between are kept as they are."""
    times = pd.Series(raw.to_numpy()).groupby(frame["ds"].to_numpy()).nunique()  # by period, in time order
    if len(times) < 4:  # too few periods between to say what a whole one has
        return frame
    typical = float(np.median(times.iloc[1:-1]))
    dropped = np.zeros(len(frame), dtype=bool)
    for label, edge in ((times.index[0], "first"), (times.index[-1], "last")):
        if times[label] >= PARTIAL_SHARE * typical:
            continue
        if edge == "last" and (input_end is None or period_end(label, frequency) > pd.Timestamp(input_end)):
            continue
        inside = (frame["ds"] == label).to_numpy()
        dropped |= inside
        rows = int(inside.sum())
        notes.append(f"the {edge} period {time_text(label)} has {times[label]} distinct times, against {typical:g} in "
                     f"its other periods: its {rows} row{'s' if rows != 1 else ''} left out, a part summed is no "
                     "whole period")
    return frame[~dropped]


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


def _reject(result: Cleaned, problem: str, key: str) -> Cleaned:
    result.rejection, result.refused_by = f"{problem} (cleaning.{key} = reject)", key
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
