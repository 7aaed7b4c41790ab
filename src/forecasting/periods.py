"""A frequency's periods (pure pandas): the date that names a time's period, where a
period ends, what a run date knows, and how many periods lie between two labels."""
from __future__ import annotations

import functools
import warnings

import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import BusinessDay, CustomBusinessDay, MonthBegin, QuarterBegin, Tick, Week, YearBegin


def frequency_offset(text: str):
    """pandas' offset for ``text``, without its warning for a deprecated alias (the config
    check names that once; a models table may hold one written before)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return to_offset(text)


# A quarter's label as statistics offices publish it (2019Q3, 2019-Q3, 2019 Q3, Q3 2019, any
# case), read as the quarter's first day; Java's regular expressions (Spark's) read them as Python's
YEAR_THEN_QUARTER = r"(?i)^([0-9]{4})[-/ ]?Q([1-4])$"
QUARTER_THEN_YEAR = r"(?i)^Q([1-4])[-/ ]?([0-9]{4})$"


def quarter_starts(texts: pd.Series) -> pd.Series:
    """Quarter labels (YEAR_THEN_QUARTER, QUARTER_THEN_YEAR) as their quarter's first
    day, 2019Q3 as 2019-07-01; NaT for other text."""
    texts = texts.astype("string").str.strip()
    first, last = texts.str.extract(YEAR_THEN_QUARTER), texts.str.extract(QUARTER_THEN_YEAR)
    year, quarter = first[0].fillna(last[1]), first[1].fillna(last[0])
    month = quarter.map({"1": "01", "2": "04", "3": "07", "4": "10"})
    return pd.to_datetime(year + "-" + month + "-01", format="%Y-%m-%d", errors="coerce")


# An ISO 8601 week (2024-W05, 2024W05, 2024-W5, any case), read as its Monday: weeks and
# week-based years Spark's patterns no longer read
ISO_WEEK = r"(?i)^([0-9]{4})-?W([0-9]{1,2})$"


def iso_week_starts(texts: pd.Series) -> pd.Series:
    """ISO week labels (ISO_WEEK) as their week's Monday, 2024-W05 as 2024-01-29 (week 1
    holds the year's first Thursday); NaT for other text and for a week the year lacks."""
    found = texts.astype("string").str.strip().str.extract(ISO_WEEK)
    mondays = pd.to_datetime(found[0] + "-W" + found[1].str.zfill(2) + "-1", format="%G-W%V-%u", errors="coerce")
    named = mondays.dt.isocalendar()  # 2021-W53 would be 2022's first Monday: a week 2021 lacks
    return mondays.where((named["year"] == pd.to_numeric(found[0])) & (named["week"] == pd.to_numeric(found[1])))


def same_frequency(stored: str, asked: str) -> bool:
    """The same step however written: H, as training may have stored it before the
    config refused pandas' deprecated aliases, is h; W is W-SUN. An alias pandas no
    longer reads is the same only as itself."""
    try:
        return frequency_offset(stored) == frequency_offset(asked)
    except ValueError:
        return stored == asked


# Frequencies named by the end of a calendar period (ME, BME, QE, BQE, YE, BYE):
# a date goes to the end its own month, quarter or year has on the grid. A
# business end may come before the calendar end; the days after it are still its.
_CALENDAR_ENDS = ("MonthEnd", "QuarterEnd", "YearEnd")
# ... and by its start (MS, BMS, QS, BQS, YS, BYS): a business start may come after
# the calendar start (a weekend on the 1st); the days before it are still its.
_CALENDAR_BEGINS = ("MonthBegin", "QuarterBegin", "YearBegin")


def align_to_grid(ds: pd.Series, frequency: str, origin: pd.Timestamp | None = None) -> pd.Series:
    """Each timestamp moved to the date that names its period of ``frequency``:
    the period's start (hours, days, MS, QS, YS), or its end for frequencies
    named by their end (ME, QE, YE, their business forms, W-SUN: a week ending on
    Sunday, 52-53-week fiscal years). A monthly value dated the 15th is March's
    either way. Steps of several days (7D) count from ``origin``, a time on the
    grid (default: the first day of ``ds``), not from 1970's first Thursday."""
    offset = to_offset(frequency)
    if isinstance(offset, Tick) and pd.Timedelta(offset) > pd.Timedelta(days=1):
        step = pd.Timedelta(offset)
        start = ds.min().normalize() if origin is None else pd.Timestamp(origin)
        return start + ((ds - start) // step) * step
    if isinstance(offset, Tick):  # fixed-length periods up to a day: hours, days, minutes
        return ds.dt.floor(offset)
    days = ds.dt.normalize()
    name = type(offset).__name__
    if name.startswith("SemiMonth"):  # two periods a month (SMS: the 1st and 15th; SME: the 15th and the end)
        return days.map(offset.rollforward if name.endswith("End") else offset.rollback)
    if name.endswith(_CALENDAR_ENDS):
        earlier = days.map(offset.rollback)
        return earlier.where(earlier.dt.to_period("M") == days.dt.to_period("M"), days.map(offset.rollforward))
    if name.startswith("FY5253") or (isinstance(offset, Week) and offset.weekday is not None):
        return days.map(offset.rollforward)
    earlier = days.map(offset.rollback)
    if name.endswith(_CALENDAR_BEGINS) and not isinstance(offset, (MonthBegin, QuarterBegin, YearBegin)):
        later = days.map(offset.rollforward)  # a business start: the days before it in its month are its
        return later.where(later.dt.to_period("M") == days.dt.to_period("M"), earlier)
    return earlier


def period_end(label: pd.Timestamp, frequency: str) -> pd.Timestamp:
    """The (exclusive) end of the period that ``label``, a date on the grid of
    ``align_to_grid``, names: the next label for periods named by their start, the
    end of the label's day for those named by their end and for business days, and for
    business ends the end of the calendar month, quarter or year (its last days are still its)."""
    offset = to_offset(frequency)
    if isinstance(offset, Tick):
        return label + pd.Timedelta(offset)
    if isinstance(offset, (BusinessDay, CustomBusinessDay)):
        # with its last business day: a Friday's close is known by Friday's end, the
        # weekend after it (whose rows, if any, align to Friday) waits for nothing
        return label.normalize() + pd.Timedelta(days=1)
    following = label + offset  # the next label: aligned to itself, so the search ends there at the latest
    days = pd.Series(pd.date_range(label.normalize(), following.normalize(), freq="D"))
    others = days[(align_to_grid(days, frequency) != label).to_numpy() & (days > label).to_numpy()]
    return others.iloc[0]


def end_of_day(run_date: str | pd.Timestamp) -> pd.Timestamp:
    """The (exclusive) end of the run date."""
    return pd.Timestamp(run_date).normalize() + pd.Timedelta(days=1)


def known_until(run_date: str | pd.Timestamp, now: str | pd.Timestamp | None = None) -> pd.Timestamp:
    """The cut of what was known on the run date: its end, or ``now`` where a run
    started during it (given only then, see ``parent_run.start_parent_run``)."""
    cut = end_of_day(run_date)
    return cut if now is None else min(cut, pd.Timestamp(now))


def open_on(label: pd.Timestamp, frequency: str, cut: pd.Timestamp) -> bool:
    """Whether the period ``label`` names is still open at ``cut`` (``known_until``)."""
    return period_end(label, frequency) > cut


def label_of(time: pd.Timestamp, frequency, origin: pd.Timestamp) -> pd.Timestamp:
    """``align_to_grid`` for one time (``frequency`` as text or an offset); fixed-length
    steps by plain arithmetic, since every series of a run pays this."""
    offset = to_offset(frequency)
    if not isinstance(offset, Tick):
        return align_to_grid(pd.Series([time]), offset.freqstr, origin=origin).iloc[0]
    step = pd.Timedelta(offset)
    if step <= pd.Timedelta(days=1):
        return time.floor(offset)
    # in whole nanoseconds: a Timedelta of more than 292 years (a series of 1700) overflows
    return pd.Timestamp(origin.value + (time.value - origin.value) // step.value * step.value)


def known_by(time: pd.Timestamp) -> pd.Timestamp:
    """What ``time`` knows, read as a run date is: a date (midnight) until its end, a time
    of day until that moment."""
    time = pd.Timestamp(time)
    return end_of_day(time) if time == time.normalize() else time


def last_over(time: pd.Timestamp, frequency: str, origin: pd.Timestamp) -> pd.Timestamp:
    """The label of the last period of ``frequency`` over by ``time`` read as a run date
    is (``known_by``): a Monday's week ending Sunday is still open, and so is the hour
    18:00 at 18:30. ``origin``: a time on the grid, as ``label_of`` takes it."""
    cut = known_by(time)
    label = label_of(cut - pd.Timedelta(1, "ns"), frequency, origin)  # the period holding the cut's last instant
    return label if not open_on(label, frequency, cut) else label - frequency_offset(frequency)


def periods_between(start: pd.Timestamp, end: pd.Timestamp, frequency: str) -> int:
    """How many periods of ``frequency`` ``end`` is after ``start`` (on its grid); 0 where it is not after it."""
    if end <= start:
        return 0
    offset = to_offset(frequency)
    if isinstance(offset, Tick):
        # in whole nanoseconds: a Timedelta of more than 292 years (a series of 1700) overflows
        return (end.value - start.value) // pd.Timedelta(offset).value
    return len(pd.date_range(start, end, freq=frequency)) - 1


def time_text(time: pd.Timestamp) -> str:
    """A date, with its time of day only where it has one."""
    return f"{time:%Y-%m-%d}" if time == time.normalize() else f"{time:%Y-%m-%d %H:%M}"


def sub_daily(frequency: str) -> bool:
    """Whether ``frequency`` steps by less than a day (h, 15min): times of day matter."""
    offset = frequency_offset(frequency)
    return isinstance(offset, Tick) and pd.Timedelta(offset) < pd.Timedelta(days=1)


def business_days(frequency: str) -> bool:
    """Whether ``frequency`` steps by business days (B, C): weekdays, a market's holidays among them."""
    return isinstance(frequency_offset(frequency), (BusinessDay, CustomBusinessDay))


@functools.lru_cache(maxsize=64)  # asked at every fit of a tuning: a date range of eight years is 0.5-3 ms
def yearly_harmonics(frequency: str) -> int | None:
    """The most yearly Fourier terms ``frequency``'s periods can tell apart: half their
    number a year (6 for months, 2 for quarters); None for periods of a day or less,
    which hold more than Prophet ever fits. At a month's dates a higher order's terms
    are nearly those of a lower one (months of 28 to 31 days set them a little apart),
    so their coefficients grow and cancel: the yearly part and the trend drift apart by
    millions while their sum stays close."""
    offset = frequency_offset(frequency)
    if isinstance(offset, Tick) and pd.Timedelta(offset) <= pd.Timedelta(days=1) or business_days(frequency):
        return None
    per_year = len(pd.date_range("2000-01-01", "2007-12-31", freq=offset)) / 8
    return int(per_year // 2)
