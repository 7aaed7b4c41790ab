"""What a run date leaves of a history (pure pandas): rows not known yet at the
run's start, the periods still open or unsettled on it, the zeros up to it under
``gaps: zero``, and how long before it the data stopped (``cleaning.stale_after``);
and whether a run's whole horizon lies before its run date.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import Tick

from forecasting.cleaning_notes import trailing_zeros, true_runs
from forecasting.closed_times import outside_closed, periods_outside_closed, slots_per_week
from forecasting.config import CleaningConfig
from forecasting.config_schema import ForecastConfig
from forecasting.periods import (align_to_grid, end_of_day, known_until, label_of, open_on, period_end, sub_daily,
                                 time_text)

# How the note on a history that stopped well before the run date starts (scoring looks for it)
STALE_NOTE = "last observation "
# the reason of a series skipped by cleaning.stale_after (its kind in the summary: up to the bracket)
STALE_SKIPPED = "data stop longer before the run date than cleaning.stale_after"
# A last period still open on the run date whose row was already on the grid: kept, since only
# the input knows whether it holds the whole period (a week's sales summed on its Monday so far?)
OPEN_KEPT_NOTE = "kept as the whole period's"
# A series whose rows stopped: under gaps: zero, the periods after its last row filled with zeros
# up to the run date make, with any zero rows before them, a run of zeros STOPPED_RUN periods or
# more long and over twice any run of zeros before it: a product delisted, not a slow mover between sales
STOPPED_NOTE = "rows stopped"
STOPPED_RUN = 3
# Rows timed after the run's start on its run date: not known yet, by the clock the job reads
# times by (UTC), so left out; local times ahead of UTC look so every morning
AHEAD_NOTE = "after the run's start"


def without_rows_ahead(frame: pd.DataFrame, frequency: str, cut: pd.Timestamp, notes: list[str]) -> pd.DataFrame:
    """``frame`` without the rows of periods that begin after ``cut``, the run's start
    during its run date (AHEAD_NOTE). Only periods under a day: a daily row stamped
    23:59 is today's, still open, which the open-period rule decides. One under a day
    is named by its start, so only rows after the cut can be in one: aligned only then."""
    if not sub_daily(frequency) or not (frame["ds"] > cut).any():
        return frame
    ahead = (align_to_grid(frame["ds"], frequency, origin=frame["ds"].min().normalize()) > cut).to_numpy()
    if ahead.any():
        frame = frame[~ahead].reset_index(drop=True)
        notes.append(f"{int(ahead.sum())} rows {AHEAD_NOTE} ({time_text(cut)} UTC) left out, not known "
                     "yet: times in a zone ahead of UTC? (the job reads times as UTC)")
    return frame


def settled_until(cut: pd.Timestamp, frequency: str, origin: pd.Timestamp | None, unsettled: int) -> pd.Timestamp:
    """The end of the last settled period (``cleaning.unsettled_periods``): the one
    ``unsettled`` periods before the period that holds ``cut``'s last instant."""
    offset = to_offset(frequency)
    current = label_of(cut - pd.Timedelta(1, "ns"), offset, origin=cut.normalize() if origin is None else origin)
    return period_end(current - unsettled * offset - offset, frequency)


def settled_cut(cut: pd.Timestamp, run_date: str | pd.Timestamp, frequency: str, origin: pd.Timestamp | None,
                unsettled: int) -> pd.Timestamp:
    """Where a run cut at ``cut`` on ``run_date`` has its data end under
    ``cleaning.unsettled_periods``: an upstream lag, the last periods' counts still
    grow, so they are forecast, not fitted nor scored. Periods under a day count from
    a past run date's start, as ``up_to_run_date`` does."""
    past = sub_daily(frequency) and cut == end_of_day(run_date)
    return settled_until(pd.Timestamp(run_date).normalize() if past else cut, frequency, origin, unsettled)


def all_unsettled(rows: int, unsettled: int) -> str:
    """The rejection of a series whose ``rows`` all fall in the unsettled periods."""
    return (f"all {rows} rows in the periods left out as still growing (cleaning.unsettled_periods: the run "
            f"date's and the {unsettled} before it)")


def without_open_period(frame: pd.DataFrame, moved: np.ndarray, frequency: str, cut: pd.Timestamp,
                        notes: list[str], open_period: str) -> pd.DataFrame:
    """``frame`` (aligned) without its last period when finer rows were gathered
    into it and it ends after ``cut``: a month of ten days' sales is no month.
    Data that was on the grid already is kept, and noted (OPEN_KEPT_NOTE), unless
    ``open_period`` (cleaning.open_period) is "drop": a month's total dated its first
    day is a part of it on that day, or, read later (a backfill from files), what was
    not known then."""
    last = frame["ds"].max()
    if not open_on(last, frequency, cut):
        return frame
    in_last = (frame["ds"] == last).to_numpy()
    when = (f"on the run date {time_text(cut - pd.Timedelta(days=1))}" if cut == cut.normalize() else
            f"at {time_text(cut)}")
    if not moved[in_last].any() and open_period == "keep":
        notes.append(f"the last period {time_text(last)} is still open {when}, its value {OPEN_KEPT_NOTE}: "
                     "if it holds only a part, or what was known only later (a backfill), cleaning.open_period: "
                     "drop leaves it out and forecasts it")
        return frame
    dropped = "" if moved[in_last].any() else " (cleaning.open_period: drop), forecast instead"
    rows = int(in_last.sum())
    notes.append(f"the last period {time_text(last)} is still open {when}: "
                 f"its {rows} row{'s' if rows != 1 else ''} left out{dropped}")
    return frame[~in_last]


def up_to_run_date(frame: pd.DataFrame, frequency: str, policy: CleaningConfig, run_date: str | pd.Timestamp,
                   cut: pd.Timestamp, notes: list[str],
                   input_end: str | pd.Timestamp | None = None,
                   closed: list[int] | None = None,
                   unfinished: pd.Timestamp | None = None,
                   rows_after: bool = False,
                   input_part: pd.Timestamp | None = None) -> tuple[pd.DataFrame, str | None]:
    """With ``gaps: zero`` the periods after the last row up to the last one over at
    the cut, and no later than ``input_end``'s, are zeros too. A
    history that still stops more than a period before the cut's is noted: its
    forecast starts in the past. Returns the frame, and why it is stale where its
    last row is more than ``stale_after`` periods before the cut's (None where not).
    Where zeros follow the last row, it is stale only where its silence is also over
    twice the longest run of zeros before: a delisted product is not forecast from a
    year of zeros for ever, and a slow mover between its sales is not skipped. Periods
    shorter than a day count from the run date's start where the cut is its end (a
    past run date's): at what hour such a run would have run is not known. Periods of
    the week left out as ``closed`` (closed_times) get no zeros, nor count as behind;
    ``unfinished``, a last period left out as a part of one, gets no zeros, nor do those after
    it, and the history counts as reaching it. A series modelled whose filled zeros end a
    run of zeros long enough to say its rows stopped (``stopped_run``) is noted (STOPPED_NOTE),
    unless it has rows after them that cleaning left out (``rows_after``: a period still open,
    or unsettled): its rows came back. ``input_part``, the input's last period where the
    series' finer rows would make it a part (grid_alignment.part_past_input), gets no
    zeros, nor counts as behind: the input's lag, not the series'."""
    offset = to_offset(frequency)
    last = last_row = frame["ds"].iloc[-1]  # sorted
    silence = longest_zero_run(frame["y"].to_numpy())  # before the zeros added below
    started = pd.Timestamp(run_date).normalize()
    reference = started if sub_daily(frequency) and cut == end_of_day(run_date) else cut
    # the last instant known names its period; steps of days count from the history's first day
    current = label_of(reference - pd.Timedelta(1, "ns"), offset, origin=frame["ds"].iloc[0])
    run_day = time_text(started)
    stopped = None
    if policy.gaps == "zero":
        # The periods over at the cut, as the open-period rule keeps other series' rows:
        # a past run date's up to its end (a Sunday's week), a run's during its own date
        # up to its start (today still going may yet get rows; hours up to the last
        # whole one). Unsettled periods (cleaning.unsettled_periods) get no zeros either.
        before = label_of(cut - pd.Timedelta(1, "ns"), offset, origin=frame["ds"].iloc[0])
        complete = before if period_end(before, frequency) <= cut else before - offset
        if input_end is not None:  # other series' rows show how far the data reach
            complete = min(complete, label_of(pd.Timestamp(input_end), offset, origin=frame["ds"].iloc[0]))
        for part in (unfinished, input_part):
            if part is not None:
                complete = min(complete, part - offset)
        trailing = pd.date_range(last, complete, freq=frequency)[1:] if complete > last else []
        trailing = trailing[outside_closed(trailing, frequency, closed)] if closed and len(trailing) else trailing
        if len(trailing):
            frame = pd.concat([frame, pd.DataFrame({"ds": trailing, "y": 0.0})], ignore_index=True)
            upto = "up to" if period_end(trailing[-1], frequency) > started else "before"
            periods = f"{len(trailing)} period{'s' if len(trailing) != 1 else ''}"
            notes.append(f"{periods} after the last row, {upto} the run date {run_day}, filled (zero)")
            last = trailing[-1]
            run = 0 if rows_after or unfinished is not None else stopped_run(frame["y"].to_numpy())
            if run:  # no semicolon: it parts a series' notes in data_notes
                filled = ("all" if run == len(trailing) else f"{len(trailing)} of them") + " zeros filled"
                stopped = (f"{STOPPED_NOTE}: 0 since {time_text(frame['ds'].iloc[-run])}, {run} periods, {filled} "
                           f"after the last row {time_text(last_row)}, over twice its longest run of zeros before. "
                           "Discontinued? Modelled as periods of 0 (a forecast may still keep the level before them); "
                           "cleaning.stale_after skips series whose rows stop long before the run date")
    # with unsettled periods, counted from the last settled one: the lag is every series', not this one's
    since = (f"the last settled period {time_text(current)} (the run date {run_day} less "
             "cleaning.unsettled_periods)" if policy.unsettled_periods else
             f"the run's start {time_text(cut)}" if sub_daily(frequency) and reference == cut else
             f"the run date {run_day}")
    # a last period left out as a part (unfinished) had rows: the series reached it, the input stopped in it
    if unfinished is not None:
        last, last_row = max(last, unfinished), max(last_row, unfinished)
    behind = periods_outside_closed(last, current, frequency, closed) - (input_part is not None and last < input_part)
    if behind > 1:
        # no semicolon: it parts a series' notes in data_notes
        filled = f" (a zero cleaning.gaps filled, the last row {time_text(last_row)})" if last > last_row else ""
        notes.append(f"{STALE_NOTE}{time_text(last)}{filled}, {behind} periods before {since}")
    rows_behind = periods_outside_closed(last_row, current, frequency, closed)
    zeros = last > last_row
    if policy.stale_after is None or rows_behind <= policy.stale_after or (zeros and rows_behind <= 2 * silence):
        if stopped:  # of a series modelled; a skipped one's reason says why
            notes.append(stopped)
        return frame, None
    longest = f"its longest run of zeros before, {silence} periods" if silence else "no zeros before it"
    counted = f" (the zeros cleaning.gaps filled after it not counted: {longest})" if zeros else ""
    return frame, f"{STALE_NOTE}{time_text(last_row)}, {rows_behind} periods before {since}{counted}"


def stopped_run(values: np.ndarray) -> int:
    """The run of zeros ``values`` end in where it is STOPPED_RUN or more long and over
    twice the longest run of zeros before it (a product no longer sold, not a slow mover
    between its sales); else 0, as for values that are all 0 (nothing stopped)."""
    run = trailing_zeros(values) if (values != 0).any() else 0
    return run if run >= STOPPED_RUN and run > 2 * longest_zero_run(values[:len(values) - run]) else 0


def longest_zero_run(values: np.ndarray) -> int:
    """The most values in a row that are 0 (periods without a sale, under gaps: zero)."""
    starts, ends = true_runs(values == 0)
    return int((ends - starts).max()) if len(starts) else 0


def past_horizon_warning(latest: dt.datetime | None, forecast: ForecastConfig, run_date: str,
                         started: str | None) -> str | None:
    """What to say where ``forecast.horizon`` periods after the input's ``latest`` time
    all end before the run's cut (its start, ``started``, on its own date): every
    forecast lies in the past, as a horizon given in days for half-hours has it."""
    if latest is None:
        return None
    frequency, horizon = forecast.frequency, forecast.horizon
    offset = to_offset(frequency)
    latest = pd.Timestamp(latest)
    last = label_of(latest, offset, origin=latest.normalize()) + horizon * offset
    cut = known_until(run_date, started)
    if period_end(last, frequency) > cut:
        return None
    when = f"the run's start {time_text(cut)}" if started else f"the end of the run date {run_date}"
    return (f"forecast.horizon {horizon} periods of {frequency!r} after the input's latest time {time_text(latest)} "
            f"(the last {time_text(last)}) are all over by {when}: every forecast lies in the past. Is the horizon "
            f"counted in periods of {frequency!r}{_week_of(offset)}, and do the data reach the run date?")


def _week_of(offset) -> str:
    """How many periods of a frequency under a day a week is, as a hint."""
    if not isinstance(offset, Tick) or pd.Timedelta(offset) >= pd.Timedelta(days=1):
        return ""
    return f" (a week is {slots_per_week(pd.Timedelta(offset))} of them)"
