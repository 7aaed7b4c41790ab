"""How a series' rows meet its frequency's grid (pure pandas, for ``cleaning``): notes on
timestamps aligned to the grid or all moved to other dates, and first or last periods
that finer rows make only a part of, left out before they are summed."""
from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from forecasting.periods import known_by, label_of, period_end, time_text

# A series whose every row was moved to another date, one row a period: the same frequency,
# dated otherwise than the grid dates it (Monday-dated weeks read as W, which names a week by
# its Sunday), so that the forecasts are dated otherwise than the input
SHIFTED_NOTE = "timestamps moved to other dates"
MIN_SHIFTED_ROWS = 3  # fewer rows say little about how a series dates its periods
# A daily series whose every time is late in the day, at one or two times of day (a clock change):
# local midnights of a zone ahead of UTC, read in UTC (a zoned timestamp column), each dated a day
# early; or times of day meant as they are (the summary warns only where the input's times are zoned)
LATE_TIMES_NOTE = "local midnights of a zone ahead of UTC"
FRIDAY, WEEKEND = 4, {5, 6}
# A first or last period gathered from finer rows is a part of one (left out where summed)
# when it has fewer than this share of the distinct times its series' other periods have
PARTIAL_SHARE = 0.75
PERIODS_COMPARED = 8  # the periods before the last whose rows tell the days, or the step, a series has rows on
HOURS_LOOKED_BACK = pd.Timedelta(days=28)  # at least, for the hours of the week rows several times a day are in
# A last period of finer rows summed that goes on past the whole input's last day: a part, left out
PAST_INPUT_NOTE = "goes on past the input's last day"


def aligned_note(raw: pd.Series, aligned: pd.Series, frequency: str) -> str:
    """How many timestamps were aligned; where every one moved to another date alike (by
    the same time, or from its month's end or start: one row a period, but for repeats),
    the data's own dates (SHIFTED_NOTE): its forecasts are not dated as its rows. Rows on
    scattered days (intermittent sales), or months summed into quarters, are aligned, not
    noted."""
    moves = (aligned - raw).to_numpy()
    monthly = raw.dt.is_month_end.all() or (raw.dt.is_month_start.all() and (raw == raw.dt.normalize()).all())
    if (len(raw) >= MIN_SHIFTED_ROWS and (moves != np.timedelta64(0)).all()
            and (np.abs(moves) >= np.timedelta64(1, "D")).any()
            and (len(np.unique(moves)) == 1 or monthly)  # each row dated alike in its period
            and aligned.nunique() == raw.nunique()):  # each time a period of its own
        return (f"all {len(raw)} {SHIFTED_NOTE} on the '{frequency}' grid ({time_text(raw.iloc[0])} to "
                f"{time_text(aligned.iloc[0])}, ...): does forecast.frequency date the periods as the input does?")
    late = late_times_note(raw, frequency)
    return late or f"{int((moves != np.timedelta64(0)).sum())} timestamps aligned to the '{frequency}' grid"


def late_times_note(raw: pd.Series, frequency: str) -> str | None:
    """Where every time of a daily series is late in the day (14:00 to midnight, where the
    midnights of zones from UTC+1 to UTC+10 fall in UTC), at one or two times of day
    (a clock change): each is dated the day it falls in, the day before a local midnight's
    own date (trial 40's Berlin sales, a day early). Times meant as they are (a day's
    closing snapshot) read alike: the note asks, but for business days (B) on Fridays and
    never at a weekend (a market's 21:00 UTC closes): a weekday's local midnights a day
    early would fall on Sundays and never on Fridays. Not said of daily (D) rows so, which
    may be a Tuesday-to-Saturday business's midnights a day early."""
    if frequency.upper() not in ("D", "1D", "B") or len(raw) < MIN_SHIFTED_ROWS:
        return None
    times = raw - raw.dt.normalize()
    if not (times >= pd.Timedelta(hours=14)).all() or times.nunique() > 2:
        return None
    weekdays = set(raw.dt.dayofweek)
    if frequency.upper() == "B" and FRIDAY in weekdays and not weekdays & WEEKEND:
        return None
    shown = " or ".join(sorted({f"{time.components.hours:02d}:{time.components.minutes:02d}" for time in times}))
    return (f"all {len(raw)} timestamps at {shown}, each dated the day it falls in: if they are {LATE_TIMES_NOTE} "
            "(a timestamp column with a zone is read in UTC), each is a day early, and a date column keeps the "
            "dates as written")


def without_period_past_input(frame: pd.DataFrame, given: pd.Series, finer: bool, frequency: str,
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
    Rows several times a day make a part where it lacks hours of the week after the input's
    last time that the series has rows in (_usual_hours, over four weeks at least): hourly
    rows to 10:00 summed into a day lack 13 hours, a shop's to its closing hour none.
    Also returns the period left out, None where none was: no zeros fill it."""
    if input_end is None or frame.empty:
        return frame, None
    last = frame["ds"].max()
    in_last = (frame["ds"] == last).to_numpy()
    raw = given.loc[frame.index]
    if not (finer or (raw[in_last] != last).any()):  # on the grid: the run date's open period decides
        return frame, None
    lacking = _lacks_after_input(frame["ds"], raw, last, frequency, pd.Timestamp(input_end), raw[in_last].max())
    if lacking is None:
        return frame, None
    rows = int(in_last.sum())
    notes.append(f"the last period {time_text(last)} {PAST_INPUT_NOTE} {lacking}: its {rows} row"
                 f"{'s' if rows != 1 else ''} left out, a part summed is no whole period (forecast instead)")
    return frame[~in_last], last


def part_past_input(frame: pd.DataFrame, given: pd.Series, finer: bool, frequency: str,
                    input_end: str | pd.Timestamp | None) -> pd.Timestamp | None:
    """The whole input's last period (the one ``input_end`` lies in), where the series'
    rows stop before it and, finer than its periods, would make it only a part by
    without_period_past_input's rule: ``gaps: zero`` fills no zero there (a week of
    daily rows known to Wednesday is no week without sales). None where it is whole."""
    if input_end is None or frame.empty or not finer:
        return None
    input_end = pd.Timestamp(input_end)
    period = label_of(input_end, frequency, origin=frame["ds"].min())
    if period <= frame["ds"].max():
        return None
    return period if _lacks_after_input(frame["ds"], given.loc[frame.index], period, frequency, input_end,
                                        input_end) else None


def _lacks_after_input(aligned: pd.Series, raw: pd.Series, period: pd.Timestamp, frequency: str,
                       input_end: pd.Timestamp, last_time: pd.Timestamp) -> str | None:
    """How ``period`` lacks rows the series would have after the input's last time, by
    the rows (``raw``, aligned as ``aligned``) of its periods before: "goes on past"'s
    rest of the note; None where it lacks none, or too few periods before tell.
    ``last_time``: the series' last time in ``period``, where rows are days apart."""
    end = period_end(period, frequency)
    if end <= input_end:
        return None
    before = aligned[aligned < period].drop_duplicates().sort_values().tail(PERIODS_COMPARED)
    times = raw[aligned.isin(before).to_numpy()].drop_duplicates().sort_values()
    days = times.dt.normalize().drop_duplicates()
    if len(days) < 2:
        return None
    if len(times) >= 2 * len(days):  # several times a day (hours summed into days): the usual hours after the last
        since = min(times.iloc[0].normalize(), period - HOURS_LOOKED_BACK)
        usual = _usual_hours(raw[((aligned < period) & (raw >= since)).to_numpy()])
        left = pd.date_range(input_end.floor("h") + pd.Timedelta(hours=1), end - pd.Timedelta(1, "ns"), freq="h")
        missed = sum((day, hour) in usual for day, hour in zip(left.dayofweek, left.hour))
        return (f"{time_text(input_end.normalize())} (its last time {input_end:%H:%M}) by {missed} of the hours of "
                "the week the series has rows in") if missed else None
    # the days of the week the series has rows on, by the periods before (business days: not the weekend)
    usual = {day for day, count in days.dt.dayofweek.value_counts().items() if count >= len(days) / 14}
    reached = input_end.normalize() + pd.Timedelta(days=1)
    if end <= reached:
        return None
    steps = np.diff(days.to_numpy())
    if np.median(steps) <= np.timedelta64(1, "D"):
        missed = int(np.isin(pd.date_range(reached, end - pd.Timedelta(1, "ns"), freq="D").dayofweek,
                             list(usual)).sum())
        why = f"by {missed} day{'s' if missed != 1 else ''} of the week the series has rows on"
    else:  # rows days apart (weeks summed into months): one was due before the period's end
        due = last_time.normalize() + pd.Timedelta(steps.max())
        missed = int(due < end)
        why = f"where a row was due by {time_text(due)}"
    return f"{time_text(input_end.normalize())} {why}" if missed else None


def _usual_hours(times: pd.Series) -> set[tuple[int, int]]:
    """The hours of the week (day of the week, hour) ``times`` have rows in on two of
    that day of the week's days or more, and one in 14 of them: a shop's Saturday ends
    at 14:00 where its weekdays end at 20:00, and a stray late row is no opening hour."""
    slots = pd.DataFrame({"day": times.dt.normalize(), "hour": times.dt.hour}).drop_duplicates()
    weekday = slots["day"].dt.dayofweek
    days_of = slots["day"].drop_duplicates().dt.dayofweek.value_counts()
    counts = slots.groupby([weekday.to_numpy(), slots["hour"].to_numpy()]).size()
    return {(day, hour) for (day, hour), count in counts.items() if count >= max(2, days_of[day] / 14)}


def without_partial_ends(frame: pd.DataFrame, raw: pd.Series, frequency: str, notes: list[str],
                          input_end: str | pd.Timestamp | None) -> pd.DataFrame:
    """``frame`` (aligned from ``raw``'s times, rows not yet summed) without its first or
    last period where that period has fewer than PARTIAL_SHARE of the distinct times the
    periods between have (their median): daily sales from 20 January summed are no
    January, nor daily rows that stop on 10 January while the input's rows
    (``input_end``) go on past January. By counts, not by spans: a month of weekdays
    that starts on a Saturday, or daily data from 2 January, is whole. The input's last
    row covers its whole day, whatever its time (quarter hours to 10:15 leave the 10:00
    hour a part); where the input stops before the last period's last day, the run
    date's open period decides (``run_date_cut.without_open_period``). Periods between
    are kept as they are."""
    times = pd.Series(raw.to_numpy()).groupby(frame["ds"].to_numpy()).nunique()  # by period, in time order
    if len(times) < 4:  # too few periods between to say what a whole one has
        return frame
    typical = float(np.median(times.iloc[1:-1]))
    dropped = np.zeros(len(frame), dtype=bool)
    for label, edge in ((times.index[0], "first"), (times.index[-1], "last")):
        if times[label] >= PARTIAL_SHARE * typical:
            continue
        # an input whose last row is on a period's last day, at any time of it, covers that day (as
        # _lacks_after_input reads it): daily rows at 10:00 to 01-31 are a whole January's
        if edge == "last" and (input_end is None
                               or period_end(label, frequency) > known_by(pd.Timestamp(input_end).normalize())):
            continue
        inside = (frame["ds"] == label).to_numpy()
        dropped |= inside
        rows = int(inside.sum())
        notes.append(f"the {edge} period {time_text(label)} has {times[label]} distinct times, against {typical:g} in "
                     f"its other periods: its {rows} row{'s' if rows != 1 else ''} left out, a part summed is no "
                     "whole period")
    return frame[~dropped]


def without_late_start(frame: pd.DataFrame, raw: pd.Series, frequency: str, notes: list[str]) -> pd.DataFrame:
    """``frame`` (aligned from ``raw``'s times, rows not yet summed) without its first period
    where its rows start later into it than into the periods between (their median) by over
    a quarter of a period: daily sales from a Sunday summed into weeks to Sunday are one day's,
    the days before not known to be zeros. For ``gaps: zero``, whose rows are sales: by where
    a period's rows start, not how many it has (a slow mover's week holds a sale or two, a
    shop's days start at 9)."""
    labels = frame["ds"].to_numpy()
    first = pd.Series(raw.to_numpy()).groupby(labels).min()  # by period, in time order
    if len(first) < 4:  # too few periods between to say where a whole one starts
        return frame
    lateness = first.to_numpy() - first.index.to_numpy()
    length = (first.index[0] + to_offset(frequency)) - first.index[0]  # the first period's: to the next label
    if lateness[0] - np.median(lateness[1:-1]) <= (1 - PARTIAL_SHARE) * length.to_timedelta64():
        return frame
    inside = labels == first.index[0]
    rows = int(inside.sum())
    notes.append(f"the first period {time_text(first.index[0])} has rows from {time_text(first.iloc[0])} on, later "
                 f"into it than its other periods: its {rows} row{'s' if rows != 1 else ''} left out, a part summed is "
                 "no whole period")
    return frame[~inside]
