"""Times of the week a sub-daily series never has a row (pure pandas): a contact
centre's nights and Sundays, a market's closed hours.

Under ``cleaning.closed_times: leave_out`` they are no periods of the series: not
missing, not filled, not counted towards staleness and not forecast, as Prophet's
own advice for data with regular gaps has it. A time of the week is one of the
frequency's periods counted from Monday 00:00, so only frequencies that divide a day
have them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import Tick

from forecasting.periods import periods_between

# After "N of M '30min'": the note on a series with times of the week it never has a row at
CLOSED_TIMES_NOTE = "times of the week without a row"
MIN_WEEKS = 2  # every time of the week seen twice at least before one is taken as closed
OPEN_SHARE = 0.8  # the other times have rows at four fifths of their periods or more: no sparse series
CHANCE = 0.01  # at most this chance that missing rows alone leave some time of the week without any
MAX_DESCRIBED = 160  # characters of the times' description in a note
_WEEK = pd.Timedelta(days=7).value
_MONDAY = pd.Timestamp("1969-12-29").value  # a Monday 00:00, the weeks' origin
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def step_of(frequency: str) -> pd.Timedelta | None:
    """A frequency's step where it divides a day (30min, H, 6H); else None."""
    offset = to_offset(frequency)
    if not isinstance(offset, Tick):
        return None
    step = pd.Timedelta(offset)
    return step if step < pd.Timedelta(days=1) and pd.Timedelta(days=1) % step == pd.Timedelta(0) else None


def slots_per_week(step: pd.Timedelta) -> int:
    """How many periods of ``step`` (one that divides a day) a week has: 336 of 30min."""
    return _WEEK // step.value


def week_slots(times, step: pd.Timedelta) -> np.ndarray:
    """Each time's period of the week, its slot: 0 for the one that starts Monday 00:00."""
    nanos = pd.DatetimeIndex(times).asi8
    return (nanos - _MONDAY) % _WEEK // step.value


def find_closed(times: pd.Series, frequency: str, min_weeks: float = MIN_WEEKS) -> list[int]:
    """The slots of the week (``week_slots``) none of ``times`` (aligned, sorted) falls
    in, where the series spans MIN_WEEKS weeks or more, its rows fill OPEN_SHARE of
    the other periods, and so many empty times are no chance of rows missing at random;
    else none: a few weeks' outage, or a sparse series, is no pattern of opening hours."""
    step = step_of(frequency)
    if step is None or len(times) < 2 or times.iloc[-1] - times.iloc[0] < pd.Timedelta(weeks=min_weeks):
        return []
    slots = slots_per_week(step)
    expected = np.bincount(week_slots(pd.date_range(times.iloc[0], times.iloc[-1], freq=step), step), minlength=slots)
    present = np.bincount(week_slots(times.drop_duplicates(), step), minlength=slots)
    closed = present == 0
    if not closed.any() or closed.all():
        return []
    fill = present[~closed].sum() / expected[~closed].sum()
    # rows missing at random leave a time of the week without any once in a while: the times
    # found must be far too many for chance (under one in CHANCE that any time would be so empty)
    if fill < OPEN_SHARE or slots * (1 - fill) ** expected[closed].min() > CHANCE:
        return []
    return np.flatnonzero(closed).tolist()


def outside_closed(times, frequency: str, closed: list[int]) -> np.ndarray:
    """Which ``times`` fall in none of the ``closed`` slots of the week."""
    if not closed:
        return np.ones(len(times), dtype=bool)
    return ~np.isin(week_slots(times, step_of(frequency)), closed)


def without_closed(forecast: pd.DataFrame, frequency: str, closed: list[int]) -> pd.DataFrame:
    """``forecast`` (a ``ds`` column) without its rows at closed times."""
    return forecast if not closed else forecast[outside_closed(forecast["ds"], frequency, closed)].reset_index(drop=True)


def periods_outside_closed(start: pd.Timestamp, end: pd.Timestamp, frequency: str, closed: list[int]) -> int:
    """``periods_between``, counting only the periods after ``start`` up to ``end`` outside the closed slots."""
    if not closed or end <= start:
        return periods_between(start, end, frequency)
    return int(outside_closed(pd.date_range(start, end, freq=frequency)[1:], frequency, closed).sum())


def describe(closed: list[int], frequency: str) -> str:
    """When the ``closed`` slots of the week are, by day, days alike together, cut at
    MAX_DESCRIBED characters (" and more"):
    'Sundays, Monday-Friday before 08:00 and from 20:00, Saturday before 09:00 and from 13:00'
    (no semicolon: it parts a series' notes in data_notes)."""
    step = step_of(frequency)
    per_day = pd.Timedelta(days=1) // step
    shut = np.isin(np.arange(7 * per_day), closed).reshape(7, per_day)
    texts = [_day_text(day, step) for day in shut]
    whole = [name + "s" for name, day in zip(_DAY_NAMES, shut) if day.all()]
    parts = [", ".join(whole)] if whole else []
    day = 0
    while day < 7:
        last = day
        while last + 1 < 7 and texts[last + 1] == texts[day]:
            last += 1
        if texts[day] and not shut[day].all():
            days = _DAY_NAMES[day] if last == day else f"{_DAY_NAMES[day]}-{_DAY_NAMES[last]}"
            parts.append(f"{days} {texts[day]}")
        day = last + 1
    described = ", ".join(parts)
    if len(described) <= MAX_DESCRIBED:
        return described
    # cut after the last whole run of times that fits, or within one where none does
    end = max(described.rfind(" and ", 0, MAX_DESCRIBED), described.rfind(", ", 0, MAX_DESCRIBED))
    return described[:end if end > 0 else MAX_DESCRIBED] + " and more"


def too_short_note(times: pd.Series, frequency: str) -> list[str]:
    """A note on a series too short to tell its closed times from (a queue opened last
    week) where it looks as if it had some: every time is forecast, nights too."""
    if times.iloc[-1] - times.iloc[0] >= pd.Timedelta(weeks=MIN_WEEKS):
        return []
    looks = find_closed(times, frequency, min_weeks=1)  # none where the frequency has no times of the week
    if not looks or len(looks) < pd.Timedelta(days=7) / step_of(frequency) / 10:  # a few rows missing: no hours
        return []
    days = (times.iloc[-1] - times.iloc[0]).days
    return [f"no row at some times of the week ({describe(looks, frequency)}) in {days} days: too short to take "
            f"them for closed ({MIN_WEEKS} weeks are needed), so every time is forecast"]


def closed_note(closed: list[int], frequency: str, grid: pd.DatetimeIndex, policy: str) -> str:
    """The note on a series' ``closed`` times over ``grid`` (its span), as ``policy``
    (cleaning.closed_times) treats them."""
    weeks = round((grid[-1] - grid[0]) / pd.Timedelta(weeks=1))
    slots = slots_per_week(step_of(frequency))
    when = describe(closed, frequency)
    found = f"{len(closed)} of {slots} '{frequency}' {CLOSED_TIMES_NOTE} in {weeks} weeks ({when})"
    if policy == "leave_out":
        return f"{found}: closed, left out of the gaps and the forecasts (cleaning.closed_times: leave_out)"
    return f"{found}, yet forecast (cleaning.closed_times: forecast): closed times? leave_out leaves them out"


def _day_text(shut: np.ndarray, step: pd.Timedelta) -> str:
    """A day's closed runs of periods: 'before 08:00 and from 20:00'."""
    edges = np.flatnonzero(np.diff(np.r_[0, shut.astype(int), 0]))
    runs = []
    for begin, end in zip(edges[::2], edges[1::2]):
        at = [_clock(begin * step), _clock(end * step)]
        runs.append(f"before {at[1]}" if begin == 0 else f"from {at[0]}" if end == len(shut) else f"{at[0]}-{at[1]}")
    return " and ".join(runs)


def _clock(since_midnight: pd.Timedelta) -> str:
    seconds = int(since_midnight.total_seconds())
    clock = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}"
    return clock if seconds % 60 == 0 else f"{clock}:{seconds % 60:02d}"
