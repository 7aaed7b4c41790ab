"""The notes cleaning makes that change nothing (pure pandas): values or rows worth a
look, which the series' data_notes keep and the run's summary counts (run_report).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from forecasting.periods import time_text

# Rows repeating another's time and value exactly, summed by cleaning.duplicates: sum
REPEATED_NOTE = "rows repeated exactly"
# In the note on values far outside the rest of their series: data errors, often (a
# unit slip, a placeholder such as 999999), which the model takes as they are
OUTLIER_NOTE = "far outside the rest"
# How far outside the middle 90% of a series' values, in its widths, a value is noted:
# far enough that a season's peak, a sale day or a sparse series' spike is not
OUTLIER_REACH = 100
# In the note on a series whose last few values lie far outside the range of those before
# them (beyond it by more than its width): a stock split, a new unit, a last value to check.
# The model fits the history on both sides of it, and its forecast starts from neither.
BREAK_NOTE = "far outside the recent range"
BREAK_WINDOW = 20  # the values before the last few whose range they are measured against, at least a season
BREAK_LAST = 5  # the most values at the end taken for a break: later, the model has seen it
# A series shorter than that (a product launched weeks ago) measured against all its values before,
# this many at least, beyond by half their largest size at least (noise in a few small values spans
# little), and not where they only rise or only fall (a launch ramping up): its naive forecast
# repeats a last Black Friday week for the whole horizon
SHORT_BREAK_WINDOW = 8
# Negative values kept are noted where they are this share of a series' values or less: a few
# returns or corrections in sales, not a series that is signed (profits, temperatures)
FEW_NEGATIVE_SHARE = 0.1
NEGATIVE_KEPT_NOTE = "values negative, kept"
# Daily rows with no row on some days of the week (weekends: business days; Sundays: a shop
# closed), while 'D' forecasts every day, those days from a weekly cycle fitted without them
NO_WEEKDAY_NOTE = "weeks of daily rows"
NO_WEEKDAY_WEEKS = 8  # fewer weeks say little about which days a series never has
# A series whose last values (ZERO_RUN or more) are all 0 where its history has nearly none:
# an outage, or a feed that stopped sending and wrote zeros for no data
ZERO_RUN_NOTE = "values are 0, where"
ZERO_RUN = 3
# A series whose last values (a season, FLAT_END_RUN at least) are all one value other than 0, over
# FLAT_END_FACTOR times as many as any value repeated before: a stuck sensor, whose flat forecast cross-validation
# scores perfect (CV MASE 0)
FLAT_END_NOTE = "a stuck sensor, or a feed repeating its last value"
FLAT_END_RUN = 6
FLAT_END_FACTOR = 3  # times as many as the longest run of one value before
# A few first rows before a gap longer than all the rest of the series span: a mistyped year
# (1923 for 2023), which gaps: zero would fill with a century of zeros and Prophet would fit a
# trend across; left out, as no part of the series
STRAY_NOTE = "long before the rest"
STRAY_TIMES = 3  # at most, and a tenth of the series' times
# and 5 years at least: a digit mistyped in a year moves a row 10 or 100 years; a season's
# product, a store reopened or a sensor's install reading a year or two before are no strays
STRAY_GAP = pd.Timedelta(days=5 * 365)
# Times given twice in the hour local clocks repeat as daylight saving time ends: local
# times, whose two hours cleaning.duplicates merges into one (sum: an hour's load doubled)
CLOCK_CHANGE_NOTE = "times given twice where daylight saving time ends"
# Nearly every time given the same number of rows, two or more, with other values: series
# that one more key column would tell apart (a ticker on two exchanges), merged into one
SEVERAL_SERIES_NOTE = "rows at nearly every time"
# A series whose values never fall and rise at nearly every step: a running total (a meter's
# register, sales to date) where amounts per period were meant; modelled as it is
RUNNING_TOTAL_NOTE = "values never fall"
RUNNING_TOTAL_RISING = 0.8  # the share of steps that rise: a flat series never falls either
RUNNING_TOTAL_VALUES = 20  # fewer say little: a young product's sales may rise for a while
# Times given more than once with other values that none of the notes above explains: a
# value given again corrected beside the first, several sales at one time
OTHER_VALUES_NOTE = "times given more than once with other values"
# Times given twice with one value each, a value of its own at each, scattered rather than the run
# an overlap of exports makes, in a series whose other times hold a row each: rows loaded twice (a
# week's total doubled); summed, so asked about. Not unit sales (1 and 1 on some days, three at a time)
SAME_VALUE_NOTE = "given twice with one value"


def stray_first_rows(times: pd.Series) -> tuple[pd.Series, str | None]:
    """Which rows of a series (by time, sorted) are at its first few times (STRAY_TIMES) standing
    before a gap of STRAY_GAP or more, longer than all its later times span, and a note
    saying so; none, and no note, where no such gap follows them."""
    unique = pd.DatetimeIndex(times.unique()).sort_values()
    for first in range(min(STRAY_TIMES, len(unique) // 10), 0, -1):  # the most such times first
        gap, rest = unique[first] - unique[first - 1], unique[-1] - unique[first]
        if gap >= STRAY_GAP and gap > rest:
            stray = times < unique[first]
            count = int(stray.sum())
            when = ", ".join(time_text(time) for time in unique[:first])
            return stray, (f"{count} {'row' if count == 1 else 'rows'} {STRAY_NOTE} ({when}), {gap.days} days "
                           f"before the next, {time_text(unique[first])}: left out, a mistyped year?")
    return times != times, None


def negative_notes(frame: pd.DataFrame) -> list[str]:
    """A note where a few of the cleaned values are negative (returns among sales), since
    forecast.floor auto then sets no floor at 0 (the summary says what the floor setting
    does); not for a signed series (profits)."""
    negative = int((frame["y"].to_numpy() < 0).sum())
    if not negative or negative > FEW_NEGATIVE_SHARE * len(frame):
        return []
    return [f"{negative} of {len(frame)} {NEGATIVE_KEPT_NOTE} (cleaning.negative_values: allow)"]


def value_text(value: float) -> str:
    """A value as a note shows it: from 100,000 up in digits grouped by thousands (a
    placeholder such as 9,999,999,999.99 reads as one, where 1e+10 did not), else to six
    significant digits."""
    if 1e5 <= abs(value) < 1e15:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.6g}"


def running_total_notes(frame: pd.DataFrame) -> list[str]:
    """A note where a series' values never fall and rise at most steps: a running total?"""
    values = frame["y"].to_numpy()
    steps = np.diff(values[np.isfinite(values)])
    if len(steps) + 1 < RUNNING_TOTAL_VALUES or (steps < 0).any() or np.mean(steps > 0) < RUNNING_TOTAL_RISING:
        return []
    return [f"{RUNNING_TOTAL_NOTE} over {len(steps) + 1} values, rising at {np.mean(steps > 0):.0%} of the steps: a "
            "running total (a meter's register, sales to date) where amounts per period were meant, or a level "
            "growing steadily? Modelled as it is"]


def outlier_notes(frame: pd.DataFrame, noted: np.ndarray | None = None) -> list[str]:
    """A note on the values more than ``OUTLIER_REACH`` widths of the middle 90% of the
    series' values beyond it, the farthest named: noted, not changed; not those ``noted``
    already (spikes, whose note says more). Not said of a series of fewer than 20 values
    (the middle 90% would hold them all) or one mostly of one value (a sparse series'
    zeros: every sale would be far)."""
    values = frame["y"].to_numpy()
    known = values[np.isfinite(values)]
    if len(known) < 20 or np.mean(known == np.median(known)) > 0.5:
        return []
    lower, upper = np.percentile(known, [5, 95])
    reach = np.where(np.isfinite(values), np.maximum(lower - values, values - upper), 0.0) / (upper - lower)
    if noted is not None:
        reach = np.where(noted, 0.0, reach)
    far = int((reach > OUTLIER_REACH).sum())
    if not far:
        return []
    farthest = int(np.argmax(reach))
    return [f"{far} {'value' if far == 1 else 'values'} {OUTLIER_NOTE} (over {OUTLIER_REACH} times the width of the "
            f"middle 90% of the values beyond it), the farthest {value_text(values[farthest])} at "
            f"{time_text(frame['ds'].iloc[farthest])}: data errors, or a new level? Modelled as they are"]


def no_weekday_notes(days: pd.Series, frequency: str) -> list[str]:
    """A note on daily rows (``days``, one a day) that over NO_WEEKDAY_WEEKS weeks or more never
    fall on some days of the week, while the others have a row on four fifths of their
    dates or more: 'D' forecasts those days too, from a weekly cycle fitted without them."""
    if to_offset(frequency) != to_offset("D") or len(days) < 2:
        return []
    weeks = (days.iloc[-1] - days.iloc[0]).days // 7
    if weeks < NO_WEEKDAY_WEEKS:
        return []
    present = np.bincount(days.dt.dayofweek.to_numpy(), minlength=7)
    expected = np.bincount(pd.date_range(days.iloc[0], days.iloc[-1], freq="D").dayofweek, minlength=7)
    absent = present == 0
    if not absent.any() or absent.sum() > 3 or (present[~absent] < 0.8 * expected[~absent]).any():
        return []
    if absent.tolist() == [False] * 5 + [True] * 2:
        return [f"no row on a Saturday or Sunday in {weeks} {NO_WEEKDAY_NOTE}, yet '{frequency}' forecasts every day: "
                "business days? forecast.frequency: B forecasts weekdays only"]
    names = " or ".join(f"{name}s" for name, none in zip(_DAY_NAMES, absent) if none)
    return [f"no row on {names} in {weeks} {NO_WEEKDAY_NOTE}, yet '{frequency}' forecasts every day: closed "
            "days? cleaning.gaps: zero models them as days without sales"]


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _several_series_note(counts: np.ndarray, kinds: np.ndarray, merged_by: str) -> str | None:
    """A note where nearly every time (nine in ten, of ten or more) is given the same
    number of rows (``counts``), two or more, most times of other values (``kinds``: the
    distinct values a time): one series per value of a key column missing from the key (a
    ticker on two exchanges), merged into one, or summed as meant (an item's sales in every
    store). A log of sales has a varying number a day; an input read twice, one value a
    time (a revised one aside)."""
    if len(counts) < 10:
        return None
    sizes, frequency = np.unique(counts, return_counts=True)
    usual = sizes[np.argmax(frequency)]
    if usual < 2 or frequency.max() < 0.9 * len(counts):
        return None
    if (kinds[counts > 1] == 1).mean() > 0.5:  # one value a time: read twice
        return None
    return (f"{usual} {SEVERAL_SERIES_NOTE} ({frequency.max()} of {len(counts)}), merged "
            f"(cleaning.duplicates: {merged_by}): as meant (stores summed into an item's total), or {usual} series "
            "under one key (a ticker on two exchanges: a column that tells them apart belongs in "
            "input.key_columns)?")


def break_notes(frame: pd.DataFrame, season: int, whole_days: bool = True) -> list[str]:
    """A note where the last values (up to BREAK_LAST) are all beyond the range of the
    values before them, on one side, by more than its width: prices halved by a split, say.
    Those before are the last BREAK_WINDOW, or the last season and one (``season`` steps)
    where the series has them, so that a season's peak (Christmas week, the morning of
    15-minute readings) is measured against the last one. Not said where those before are
    mostly of one value (a sparse series' zeros: any sale would be far). One last value
    below may be a period loaded in part: said, with how to leave it out, for periods of a
    day or longer (``whole_days``; shorter ones have the open-period rule on their run date).
    A series too short for that window is measured against all its values before, where there
    are SHORT_BREAK_WINDOW at least, as that constant says."""
    values = frame["y"].to_numpy()
    for last in range(1, BREAK_LAST + 1):
        window = min(max(BREAK_WINDOW, season + 1), len(values) - last)
        if window < SHORT_BREAK_WINDOW:
            return []
        before, tail = values[-window - last:-last], values[-last:]
        low, high = np.min(before), np.max(before)  # NaN where a gap was left: then no note
        width = high - low
        if not width > 0 or np.mean(before == np.median(before)) > 0.5:  # flat, or mostly zeros between sales
            continue
        margin = width
        if window < BREAK_WINDOW:  # a short series: all its values before
            steps = np.diff(before)
            if (steps > 0).all() or (steps < 0).all():
                continue
            margin = max(width, 0.5 * max(abs(low), abs(high)))
        if (tail > high + margin).all() or (tail < low - margin).all():
            first = value_text(tail[0])
            which = (f"the last value, {first} at {time_text(frame['ds'].iloc[-1])}, is" if last == 1 else
                     f"the last {last} values, from {first} at {time_text(frame['ds'].iloc[-last])}, are")
            # a last period far below: what an export during it had loaded so far, read as the whole
            partial = ("a last period loaded only in part (an export made during it? If it is the run date's "
                       "period, a run dated before it leaves it out; if the one before, cleaning.unsettled_periods: "
                       "1), "
                       if whole_days and last == 1 and tail[0] < low else "")
            return [f"{which} {BREAK_NOTE} ({value_text(low)} to {value_text(high)} in the {window} values before): "
                    f"{partial}a break in the data (a stock split, a new unit), a one-off (a promotion), or a value "
                    "to check? Modelled as it is"]
    return []


def _repeated_rows(counts: np.ndarray, kinds: np.ndarray, clock_hours: np.ndarray, changes: np.ndarray) -> int:
    """How many rows repeat another's time and value as an overlap of exports repeats them:
    times (``counts`` rows each, in time order, of ``kinds`` values) given twice with one
    value, one run of consecutive times each given twice, nearly all with one value (a
    value the later export revised aside). Other times given more than once are few. The
    night's hours when clocks go back (``clock_hours``) may hold two hours' rows, inside
    the run or out, and its hour given twice by a local clock (``changes``) is none of the
    repeats, whatever its values. Records of their own (several sales at one time) hold different
    values, come three at a time, or on scattered days: none counted."""
    exact = np.flatnonzero((counts == 2) & (kinds == 1) & ~changes)
    if not len(exact):
        return 0
    run = slice(exact[0], exact[-1] + 1)
    # an overlap repeats a run of consecutive times; one sale of 1 twice on some days does not
    twice = (counts[run] == 2) | (clock_hours[run] & (counts[run] == 4))
    if not twice.all() or (exact[-1] - exact[0] + 1) - len(exact) - clock_hours[run].sum() > 0.1 * len(exact):
        return 0
    elsewhere = np.ones(len(counts), dtype=bool)
    elsewhere[run] = False
    others = int(((counts > 1) & elsewhere & ~clock_hours).sum())
    return len(exact) if others <= 0.1 * len(exact) else 0


def _clock_hours(times: pd.DatetimeIndex, autumn: bool) -> np.ndarray:
    """Which of ``times`` fall in the night's hours (1:00 to 3:59) of a Sunday on which
    clocks change somewhere: going back, the last of October (Europe), the first of
    November (North America) or of April (Australia); going forward, the last (Europe) or
    second (North America) of March, the last of September (New Zealand) or the first of
    October (Australia)."""
    day, month, days = times.day, times.month, times.days_in_month
    first, second, last = day <= 7, (day > 7) & (day <= 14), day > days - 7
    if autumn:
        switch = ((month == 10) & last) | ((month == 11) & first) | ((month == 4) & first)
    else:
        switch = ((month == 3) & (last | second)) | ((month == 9) & last) | ((month == 10) & first)
    return np.asarray((times.dayofweek == 6) & switch & np.isin(times.hour, (1, 2, 3)))


def _clock_changes(times: pd.DatetimeIndex, counts: np.ndarray, clock_hours: np.ndarray) -> np.ndarray:
    """Which of the distinct ``times`` hold more rows than the other times of their day
    (their median), within one clock hour of a night when clocks go back: that hour
    twice, by a local clock. A night whose every hour is repeated (an input read twice)
    is no clock's."""
    if not (clock_hours & (counts > 1)).any():  # nearly every series: no day's median to work out
        return np.zeros(len(times), dtype=bool)
    days = np.asarray(times.normalize())
    flagged = clock_hours & (counts > pd.Series(counts).groupby(days).transform("median").to_numpy())
    if flagged.any():  # one clock hour a night
        hours = pd.Series(np.asarray(times.hour)[flagged]).groupby(days[flagged]).nunique()
        flagged &= ~np.isin(days, hours.index[hours.to_numpy() > 1])
    return flagged


def duplicate_notes(times: pd.Series, values: pd.Series, merged_by: str, sub_daily: bool) -> tuple[int, list[str]]:
    """What the rows sharing a time (``times`` as the input gave them) say before they are
    merged by ``merged_by``: rows repeated exactly and summed (how many, and the note), for
    periods under a day (``sub_daily``) the hour local clocks repeat, or else several
    series under one key, or else the times given with other values."""
    per_time = values.groupby(times.to_numpy())  # in time order
    sizes = per_time.size()
    counts, kinds, distinct = sizes.to_numpy(), per_time.nunique(dropna=False).to_numpy(), pd.DatetimeIndex(sizes.index)
    clock_hours = _clock_hours(distinct, autumn=True)
    notes = []
    changes = _clock_changes(distinct, counts, clock_hours)
    if sub_daily and changes.any():  # summed into days, the night's extra hour is the day's own: no note
        added = ", an hour's rows added to another's" if merged_by == "sum" else ""
        notes.append(f"{int(changes.sum())} {CLOCK_CHANGE_NOTE} (the first {time_text(distinct[changes][0])}): local "
                     f"times? Merged (cleaning.duplicates: {merged_by}){added}; times with their UTC offset, or in "
                     "UTC, keep both hours apart")
    repeated = _repeated_rows(counts, kinds, clock_hours, changes) if merged_by == "sum" else 0
    if repeated:
        return repeated, [*notes, f"{repeated} {REPEATED_NOTE} (the same time and value as another), added up: "
                                  "the same rows read twice?"]
    several = _several_series_note(counts, kinds, merged_by)
    if several:
        return 0, [*notes, several]
    other = np.flatnonzero((counts > 1) & (kinds > 1) & ~changes)
    if len(other):
        notes.append(f"{len(other)} {OTHER_VALUES_NOTE} (the first {time_text(distinct[other[0]])}), merged "
                     f"(cleaning.duplicates: {merged_by})")
    # where no time holds other values or three rows, and the pairs' values mostly differ, the rows are no records
    # of their own (two sales of one unit at one time, the same few amounts again and again); daily totals
    # loaded twice on 15 days share a value on two of them by chance
    alike = np.flatnonzero((counts == 2) & (kinds == 1) & ~changes & ~clock_hours)
    records = (len(other) or (counts > 2).any()
               or len(np.unique(per_time.first().to_numpy()[alike])) <= len(alike) / 2)
    if merged_by == "sum" and len(alike) and not records:
        notes.append(f"{len(alike)} time{'s' if len(alike) != 1 else ''} {SAME_VALUE_NOTE} (the first "
                     f"{time_text(distinct[alike[0]])}), added up (cleaning.duplicates: sum): a row loaded twice?")
    return 0, notes


def true_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of True values in ``mask`` starts, and where it ends (exclusive)."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], np.asarray(mask, dtype=np.int8), [0]))))
    return edges[::2], edges[1::2]


def trailing_zeros(values: np.ndarray) -> int:
    """How many of the last ``values`` are 0 in a row (all of them where none is not)."""
    nonzero = np.flatnonzero(values != 0)
    return len(values) - (int(nonzero[-1]) + 1 if len(nonzero) else 0)


def zero_run_notes(frame: pd.DataFrame) -> list[str]:
    """A note where the last values (ZERO_RUN or more) are all 0 while at most one in a
    hundred of the BREAK_WINDOW or more before them is: an outage going on, or a feed
    that stopped. Not said of a series with zeros of its own (nights of a solar feeder,
    days without sales)."""
    values = frame["y"].to_numpy()
    run = trailing_zeros(values)
    before = values[:len(values) - run]
    if run < ZERO_RUN or len(before) < BREAK_WINDOW or np.mean(before == 0) > 0.01:
        return []
    zeros = int((before == 0).sum())
    had = "none" if not zeros else f"only {zeros}"
    return [f"the last {run} {ZERO_RUN_NOTE} {had} of the {len(before)} before were (since "
            f"{time_text(frame['ds'].iloc[-run])}): an outage, or a feed that stopped sending (zeros for no data)? "
            "Modelled as they are"]


def flat_end_notes(frame: pd.DataFrame, season: int) -> list[str]:
    """A note where the last values, a season of them (``season`` steps) and FLAT_END_RUN at
    least, are all one value other than 0 (zero_run_notes says those), over FLAT_END_FACTOR
    times as many as any run of one value before them, which are as many at least."""
    values = frame["y"].to_numpy()
    if not len(values) or values[-1] == 0 or not np.isfinite(values[-1]):
        return []
    changes = np.flatnonzero(values[1:] != values[:-1])  # where a value differs from the one before
    run = len(values) - 1 - (changes[-1] if len(changes) else -1)
    before = values[:len(values) - run]
    if run < max(season, FLAT_END_RUN) or len(before) < run:
        return []
    starts, ends = true_runs(before[1:] == before[:-1])  # runs of repeats: a value and its repeats
    longest = int((ends - starts).max()) + 1 if len(starts) else 1
    if run <= FLAT_END_FACTOR * longest:  # a price held for two months after changes every few weeks: no fault
        return []
    repeated = "came twice in a row" if longest == 1 else f"came over {longest} times in a row"
    return [f"the last {run} values are all {value_text(values[-1])} (since {time_text(frame['ds'].iloc[-run])}), "
            f"where no value of the {len(before)} before {repeated}: {FLAT_END_NOTE}? Its flat forecast scores well "
            "in cross-validation. Modelled as they are"]


def skipped_hours(missing: pd.DatetimeIndex, periods: int) -> str:
    """Where a series of several periods a day, its ``periods`` nearly all there (one in
    twenty missing at most), misses the night's hours of a Sunday when clocks go forward,
    those say so: local times, no data lost."""
    if len(missing) > 0.05 * periods:
        return ""
    skipped = int(_clock_hours(missing, autumn=False).sum())
    return (f" ({skipped} of them in the hour clocks skip where daylight saving time begins: local times, no data "
            "lost)" if skipped else "")
