"""The check of forecast.frequency: a pandas frequency the job can align rows to and
store in its models, with a hint where it is not (a word, a close misspelling, an
alias pandas is removing)."""
from __future__ import annotations

import difflib
import re
import warnings

# pandas is imported in the checks that need it, not here: reading a config (the CLI's
# questions, --help) need not wait for it


def frequency_problem(text: str) -> str | None:
    """What is wrong with ``text`` as forecast.frequency, said after the key; None where
    nothing is."""
    if not _is_frequency(text):
        return f"is not a pandas frequency with a positive step{_frequency_hint(text)}"
    if _is_business_hours(text):
        return "counts business hours, which this job does not model: use 'h' (hours outside them are gaps)"
    months = _months_for_minutes(text)
    if _is_calendar_multiple(text):
        return (f"is {text!r}, several calendar periods a step, which cleaning cannot align to: use one calendar "
                f"period a step (MS, W-MON, QS, ...) or a multiple of a fixed length (2h, 15min, 14D){months}")
    unmodelled = _step_out_of_range(text)
    if unmodelled:
        return unmodelled
    uneven = _uneven_day_step(text)
    if uneven:
        return uneven
    deprecated = _deprecation(text)  # after those, whose hints lead elsewhere (BH is not bh)
    if deprecated is not None:
        return (f"is {text!r}, an alias pandas is removing: {deprecated.rstrip('.')}{_start_form(deprecated)}; the "
                f"models would store it, and could not be read once it is gone{months}")
    return None


def _fixed_step(text: str):
    """The length of a fixed step (h, 15min, 7D) as a Timedelta; None for a calendar period."""
    import pandas as pd
    from pandas.tseries.offsets import Tick

    with warnings.catch_warnings():  # a removed alias (H) is said by _deprecation, not by pandas' own warning
        warnings.simplefilter("ignore", FutureWarning)
        offset = pd.tseries.frequencies.to_offset(text)
    return pd.Timedelta(offset) if isinstance(offset, Tick) else None


def _step_out_of_range(text: str) -> str | None:
    """What to say of a fixed step under a second ('ms', a month's 'MS' mistyped, would
    make a grid of billions of periods a day) or over a year (whose grid pandas' times
    cannot count in nanoseconds past a few centuries)."""
    import pandas as pd

    step = _fixed_step(text)
    if step is not None and step < pd.Timedelta(seconds=1):
        month = " ('MS' is a month, dated by its first day)" if text.strip().lower() == "ms" else ""
        return f"is {text!r}, a step under a second: this job models steps of a second or more{month}"
    if step is not None and step > pd.Timedelta(days=366):
        return f"is {text!r}, a fixed step over a year: yearly data is 'YS' (dated by the year's first day)"
    return None


def _uneven_day_step(text: str) -> str | None:
    """What to say of a fixed step that neither divides a day (7h, 13min) nor is whole
    days (36h): periods are counted from midnights, and such a grid differs from one day
    to the next, so that the same time is dated otherwise by each part of a run."""
    import pandas as pd

    step, day = _fixed_step(text), pd.Timedelta(days=1)
    if step is None or (day % step if step < day else step % day) == pd.Timedelta(0):
        return None
    if step > day:
        fits = f"whole days ({step.days}D or {step.days + 1}D)"
    elif step >= pd.Timedelta(hours=1):
        fits = "one that divides a day (1h, 2h, 3h, 4h, 6h, 8h, 12h)"
    elif step >= pd.Timedelta(minutes=1):
        fits = "one that divides a day (1min, 5min, 10min, 15min, 30min)"
    else:
        fits = "one that divides a day (1s, 5s, 10s, 15s, 30s)"
    return (f"is {text!r}, a step that neither divides a day nor is whole days: this job counts periods from "
            f"midnights, and each day's grid would differ. Use {fits}")


# A calendar period dated by its last day, the same period dated by its first, and a period's two dates
_MONTH, _QUARTER, _YEAR = ("2024-03-31", "2024-03-01"), ("2024-03-31", "2024-01-01"), ("2024-12-31", "2024-01-01")
_END_TO_START = {"ME": ("MS", _MONTH), "QE": ("QS", _QUARTER), "YE": ("YS", _YEAR), "BME": ("BMS", _MONTH),
                 "BQE": ("BQS", _QUARTER), "BYE": ("BYS", _YEAR)}


def _start_form(deprecation: str) -> str:
    """Where pandas' advice for a removed alias (Q) is a period dated by its last day
    (QE), the alias for the same period dated by its first (QS): data dated 2024-07-01
    is a quarter's start."""
    found = re.search(r"use '([A-Z]+)' instead", deprecation)
    if not found or found.group(1) not in _END_TO_START:
        return ""
    start, (last, first) = _END_TO_START[found.group(1)]
    return f" (dated by the period's last day, {last}; {start!r} dates it by its first, {first})"


# Fixed steps near a calendar period's length, which drift against it: (days, the period, its aliases)
_NEAR_CALENDAR = [((30, 31), "months (28 to 31 days)", "MS or ME"), ((90, 91, 92), "quarters (90 to 92 days)", "QS or QE"),
                  ((365, 366), "years (365 or 366 days)", "YS or YE")]


def calendar_step_warning(text: str) -> str | None:
    """What to say of a fixed step of days near a calendar period's length (91D for
    quarters): its grid drifts against the calendar, so rows move to other dates and two
    may fall in one period, summed. Allowed: a 13-week period is 91 days."""
    import pandas as pd

    from forecasting.periods import frequency_offset

    offset = frequency_offset(text)
    if not isinstance(offset, pd.offsets.Tick) or pd.Timedelta(offset) % pd.Timedelta(days=1):
        return None
    days = pd.Timedelta(offset).days
    for lengths, period, aliases in _NEAR_CALENDAR:
        if days in lengths:
            return (f"forecast.frequency {text!r} is a fixed step of {days} days, which drifts against calendar "
                    f"{period}: rows move to the dates of its grid and two may fall in one period, merged by "
                    f"cleaning.duplicates. Calendar {period.split(' ')[0]} are {aliases} (dated by their first or "
                    f"last day); {text!r} is for periods of exactly {days} days")
    return None


def _months_for_minutes(text: str) -> str:
    """A hint where 'm' (15m) was likely meant as minutes: pandas reads it as months."""
    step = text.strip().lstrip("0123456789")
    return f" (pandas reads {step!r} as months: minutes are 'min', e.g. {text.strip()[:-1]}min)" if step == "m" else ""


# What a frequency given in words most likely means, as pandas writes it
FREQUENCY_WORDS = {"hourly": "h", "hour": "h", "hr": "h", "daily": "D", "day": "D", "weekly": "7D", "week": "7D",
                   "monthly": "MS", "month": "MS", "quarterly": "QS", "quarter": "QS", "yearly": "YS",
                   "annual": "YS", "year": "YS", "minute": "min", "minutely": "min"}
# Aliases a close misspelling is matched against (W-MONDAY, Ms, hr)
COMMON_FREQUENCIES = ("min", "h", "D", "B", "7D", *(f"W-{day}" for day in ("MON", "TUE", "WED", "THU", "FRI", "SAT",
                      "SUN")), "MS", "ME", "QS", "QE", "YS", "YE")


def _frequency_hint(text: str) -> str:
    """A suggestion for a frequency pandas does not read: a word's alias, or a close one."""
    lower = text.strip().lower()
    word = FREQUENCY_WORDS.get(lower) or FREQUENCY_WORDS.get(lower.removesuffix("s"))  # days, weeks
    close = [word] if word else difflib.get_close_matches(text.strip(), COMMON_FREQUENCIES, n=1, cutoff=0.7)
    if not close:
        return " (e.g. h, D, 7D, W-SUN, MS)"
    weeks = " 7D dates a week by its first day, W-SUN by its Sunday" if close[0] == "7D" else ""
    return f" (did you mean {close[0]!r}?{weeks})"


def _is_frequency(text: str) -> bool:
    from forecasting.periods import frequency_offset

    try:
        offset = frequency_offset(text)
    except ValueError:
        return False
    return offset.n > 0  # "0D" or "-1D" would never move forward in time


def _deprecation(text: str) -> str | None:
    """pandas' warning for a frequency alias it is removing ('H', 'M', 'T'), which
    names the one to write instead; None for a current alias."""
    import pandas as pd

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FutureWarning)
        pd.tseries.frequencies.to_offset(text)
    said = [str(warning.message) for warning in caught if issubclass(warning.category, FutureWarning)]
    return said[0] if said else None


def _is_calendar_multiple(text: str) -> bool:
    """Several calendar periods a step (2MS, 2W-MON, 2QS, 2B): cleaning aligns a
    date to its period with the offset's rollback/rollforward, which ignore the
    multiple, and the baselines would then drop every row off the wider grid.
    Multiples of a fixed length (Tick: 2h, 15min, 7D) are aligned by arithmetic."""
    import pandas as pd

    from forecasting.periods import frequency_offset

    offset = frequency_offset(text)
    return offset.n > 1 and not isinstance(offset, pd.offsets.Tick)


def _is_business_hours(text: str) -> bool:
    from forecasting.periods import frequency_offset

    return "BusinessHour" in type(frequency_offset(text)).__name__
