"""The holidays a series' model gets (pure pandas): a country's, or a region's
(``GB-ENG``, ``DE-BY``, ``US-CA``), as Prophet's ``holidays`` frame on the series' periods.

Prophet gives a holiday its effect only at a row dated on the holiday itself: a week
dated Monday the 21st holds no Christmas. At periods longer than a day (weekly, monthly,
quarterly) each holiday's date is moved to the date that names its period on the series'
grid (``periods.align_to_grid``): Christmas week is Christmas wherever the 25th falls,
Good Friday's month is March or April as the year has it. At days and hours the dates
stay as they are (every hour of a holiday is the holiday, as Prophet's country holidays).

The frame covers the history and ``YEARS_AHEAD`` years after it and is stored with the
model, so scoring and serving forecast with the same holidays wherever they run.
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from forecasting.periods import align_to_grid, business_days, frequency_offset

# The frame a model stores covers this many years after its history's last one:
# scoring and serving forecast from it later, and a year it lacks has no holidays.
YEARS_AHEAD = 10
OBSERVED = "(observed"  # "Christmas Day (observed)", "Eid al-Fitr (observed, estimated)"
# The holidays package names the lunar dates it computes rather than lists "Eid al-Fitr
# (estimated)", from a few years ahead on: the same holiday, which must keep its effect.
ESTIMATED = r"(?: \(estimated\)$|, estimated(?=\)$))"


def longer_than_a_day(frequency: str) -> bool:
    """Whether a period of ``frequency`` holds several days (W-MON, 7D, MS, QS), so that a
    holiday falls inside one rather than on its date. Business days are days."""
    if business_days(frequency):
        return False
    offset = frequency_offset(frequency)
    return not (isinstance(offset, pd.offsets.Tick) and pd.Timedelta(offset) <= pd.Timedelta(days=1))


def _calendar_periods(frequency: str) -> bool:
    """Whether ``frequency``'s periods are months or parts of the calendar year (MS, ME,
    BMS, SMS, QS, QE-NOV, YS), a dozen or two a year, each of which the yearly cycle
    can shape as it likes; not weeks nor fixed steps of days."""
    offset = frequency_offset(frequency)
    return not isinstance(offset, (pd.offsets.Tick, pd.offsets.Week)) and longer_than_a_day(frequency)


def unknown(code: str) -> str | None:
    """Why ``code`` names no holidays the holidays package knows (None where it does):
    a country (``DE``) or a country and one of its subdivisions (``DE-BY``), in capitals."""
    supported = _supported()
    country, dash, subdivision = code.partition("-")
    if country not in supported:
        import holidays

        if country in holidays.list_supported_financial():  # NYSE's, XLON's: a market's closing days
            return ("is a market's calendar, not a country: the job takes countries' holidays alone, and a business-"
                    "day series forecasts a market's closing days as weekdays (forecast.frequency)")
        return "is not a known country"
    if dash and not subdivision:
        return f"names no region after {country}-"
    if subdivision and not supported[country]:
        return f"names a region of {country}, which has none in the holidays package: give {country} alone"
    if subdivision and subdivision not in supported[country]:
        return f"names no subdivision of {country} the holidays package knows: one of {', '.join(supported[country])}"
    return None


def canonical(code: str) -> str:
    """``code`` as the holidays package spells it: ``gb-eng`` is ``GB-ENG``; a subdivision
    written in another case (``DE-augsburg``) takes the package's (``DE-Augsburg``), one
    of its other names the code it stands for (``MY-KUL`` is ``MY-14``)."""
    country, _, subdivision = code.strip().partition("-")
    country = country.upper()
    if not subdivision:
        return country
    spelled = {name.upper(): name for name in _supported().get(country, [])}
    spelled.update({alias.upper(): name for alias, name in _aliases(country).items()})  # MY-KUL, MY-Johor: theirs
    return f"{country}-{spelled.get(subdivision.upper(), subdivision.upper())}"


@functools.lru_cache(maxsize=256)
def _aliases(country: str) -> dict[str, str]:
    """The other names the holidays package takes for ``country``'s subdivisions (``KUL``
    and ``Kuala Lumpur`` for Malaysia's ``14``), by the code it lists."""
    import holidays

    if country not in _supported():
        return {}
    return dict(getattr(holidays.country_holidays(country), "subdivisions_aliases", {}) or {})


@functools.lru_cache(maxsize=1)  # asked for each series of a country column
def _supported() -> dict[str, list[str]]:
    import holidays

    return holidays.list_supported_countries()


def period_holidays(code: str, frequency: str, ds, windows: dict[str, list[int]] | None = None) -> pd.DataFrame:
    """Prophet's ``holidays`` frame (``holiday``, ``ds``) of ``code`` (``canonical``) for a
    series of ``frequency`` whose history is dated ``ds`` (on its grid), from the year
    before the history's first to ``YEARS_AHEAD`` after its last. ``windows``
    (model.holiday_windows): days before and after a named holiday that are its too.

    - Only holidays that fall in a period of the history are kept: one first seen after
      it would have no effect learnt (as Prophet keeps a country's holidays of the
      history's years only).
    - At days and hours the dates stay as they are, and a window gives each of its days
      an effect of its own (Prophet's ``lower_window`` and ``upper_window``: the rush
      before Eid is not its quiet day).
    - At longer periods each holiday is at the date of the period holding it, placed by
      its own date: the day off observed in its stead when it falls on a weekend is left
      out (mostly in the same period, and elsewhere, New Year's observed on December 31st,
      it would only blur two periods). A window makes every period it touches the
      holiday's (a month of Ramadan: Eid al-Fitr's 30 days before). One that falls in
      every period of the history is left out: it cannot be told from the level.
    - At months, quarters and years, one that fell in the same place of every year of
      the history (Christmas in December or Q4) is left out too: its effect cannot be
      told from the yearly cycle's, and a later year that moves it (Easter Monday in
      March) would carry April's whole season into March. Those that moved in the history
      (Good Friday between March and April) are kept, and so is one that came once."""
    dates = pd.Series(pd.to_datetime(np.asarray(ds))).sort_values(ignore_index=True)
    if dates.empty:  # nothing to fit: Prophet says so
        return pd.DataFrame({"holiday": pd.Series(dtype=object), "ds": pd.Series(dtype="datetime64[ns]")})
    ns = dates.to_numpy().astype("datetime64[ns]")  # as _period_holidays reads them back, whatever the unit given
    return _period_holidays(code, frequency, ns.tobytes(), window_spans(windows)).copy()


def window_spans(windows: dict[str, list[int]] | None) -> tuple[tuple[str, int, int], ...]:
    """model.holiday_windows as a key: (name, days before, days after), by name."""
    return tuple(sorted((name, int(before), int(after)) for name, (before, after) in (windows or {}).items()))


@functools.lru_cache(maxsize=64)  # the final fit's history is the tuning's too; folds come back per candidate
def _period_holidays(code: str, frequency: str, ds_bytes: bytes, spans: tuple = ()) -> pd.DataFrame:
    dates = pd.Series(np.frombuffer(ds_bytes, dtype="datetime64[ns]"))
    first, last = dates.iloc[0], dates.iloc[-1]
    frame = _country_frame(code, tuple(range(first.year - 1, last.year + YEARS_AHEAD + 1)))
    before = {name: days for name, days, _ in spans}
    after = {name: days for name, _, days in spans}
    if not longer_than_a_day(frequency):
        frame = frame.drop_duplicates(ignore_index=True)
        kept = frame.loc[frame["ds"].isin(dates.dt.normalize()), "holiday"].unique()
        frame = frame[frame["holiday"].isin(kept)].sort_values(["ds", "holiday"], ignore_index=True)
        if spans:  # Prophet's columns, on every row (a frame without them stays as Prophet's own country holidays)
            frame = frame.assign(lower_window=frame["holiday"].map(before).fillna(0).astype(int),
                                 upper_window=frame["holiday"].map(after).fillna(0).astype(int))
        return frame
    frame = frame[~frame["holiday"].str.contains(OBSERVED, regex=False)]
    if spans:  # each day of a holiday's window, placed in its period below
        offsets = [list(range(before.get(name, 0), after.get(name, 0) + 1)) for name in frame["holiday"]]
        frame = frame.assign(offset=offsets).explode("offset")
        frame = frame.assign(ds=frame["ds"] + pd.to_timedelta(frame["offset"].astype(int), unit="D"))[["holiday", "ds"]]
    frame = frame.assign(ds=align_to_grid(pd.to_datetime(frame["ds"]), frequency, origin=first))
    frame = frame.drop_duplicates(ignore_index=True)
    once = frame["holiday"].value_counts() == 1
    seen = frame[frame["ds"].isin(dates)]
    periods = seen.groupby("holiday")["ds"].nunique()
    kept = periods.index[periods < dates.nunique()]
    if _calendar_periods(frequency):  # months, quarters, years: else a week's spike is no cycle's shape
        # the period's place in its year: its month and third of the month (a business month's first
        # day, or February's end, moves by a day or two; a semi-month's halves differ)
        place = seen["ds"].dt.month * 3 + np.minimum(seen["ds"].dt.day // 10, 2)
        moved = place.groupby(seen["holiday"]).nunique() > 1  # in the history: else its effect is the cycle's
        kept = kept[(moved | once).reindex(kept).to_numpy()]
    return frame[frame["holiday"].isin(kept)].sort_values(["ds", "holiday"], ignore_index=True)


@functools.lru_cache(maxsize=64)
def _country_frame(code: str, years: tuple[int, ...]) -> pd.DataFrame:
    """``code``'s holidays (``canonical``) in ``years`` as a frame of ``holiday`` and ``ds``,
    named as a model names them."""
    from prophet import forecaster  # its make_holidays_df, kept once per process (prophet_speedups)

    country, _, subdivision = code.partition("-")
    frame = forecaster.make_holidays_df(year_list=list(years), country=country, province=subdivision or None)
    return frame[["holiday", "ds"]].assign(holiday=frame["holiday"].str.replace(ESTIMATED, "", regex=True))


@functools.lru_cache(maxsize=64)
def holiday_names(code: str) -> frozenset[str]:
    """The names of ``code``'s holidays (``canonical``), as the frames give them, over the
    years a run may model (1995 to 2045, as Prophet lists them)."""
    return frozenset(_country_frame(code, tuple(range(1995, 2046)))["holiday"])


def holidays_between(code: str, first, last) -> pd.DataFrame:
    """``code``'s holidays (``canonical``) from day ``first`` to day ``last``, both
    included, every one of them, learnt from a history or not: ``holiday`` and ``ds``."""
    first, last = pd.Timestamp(first).normalize(), pd.Timestamp(last).normalize()
    frame = _country_frame(code, tuple(range(first.year, last.year + 1)))
    return frame[(frame["ds"] >= first) & (frame["ds"] <= last)].reset_index(drop=True)


def year_listing(code: str, year: int) -> str:
    """``code``'s holidays in ``year``, a line each: the date and the name a model gives it."""
    frame = _country_frame(code, (year,)).sort_values(["ds", "holiday"])
    return "\n".join(f"{day:%Y-%m-%d}  {name}" for day, name in zip(frame["ds"], frame["holiday"])) or f"none in {year}"


def unmatched_windows(windows: dict, codes: list[str]) -> list[str]:
    """The names of model.holiday_windows that are no holiday of any of ``codes``: a
    window a typo left without its holiday does nothing."""
    known = set().union(*(holiday_names(code) for code in codes if not unknown(code))) if codes else set()
    return [name for name in windows if name not in known]


def holiday_days(holidays: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each day of each holiday of a Prophet ``holidays`` frame (``holiday``, ``ds``,
    optionally ``lower_window`` and ``upper_window``), its window's days included, side by
    side: the holidays' names, each day's offset from the holiday's date, and the days
    (datetime64[D]; NaT for a row without a date). A row without a window (NaN) has its
    date alone, as Prophet reads it; one whose window ends before it starts, none."""
    lower, upper = (np.broadcast_to(np.asarray(pd.to_numeric(holidays.get(bound, 0), errors="coerce"), dtype=float),
                                    len(holidays)) for bound in ("lower_window", "upper_window"))
    unwindowed = np.isnan(lower) | np.isnan(upper)  # Prophet: int(nan) fails, and it takes 0 and 0
    lower, upper = np.where(unwindowed, 0, lower).astype(int), np.where(unwindowed, 0, upper).astype(int)
    lengths = np.maximum(upper - lower + 1, 0)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(lower, lengths)
    on = np.repeat(pd.to_datetime(holidays["ds"]).to_numpy("datetime64[D]"), lengths)
    return (np.repeat(holidays["holiday"].to_numpy(dtype=object), lengths), offsets,
            on + offsets.astype("timedelta64[D]"))


def feature_days(holidays: pd.DataFrame) -> dict[str, np.ndarray]:
    """The columns Prophet's make_holiday_features makes of ``holidays`` (``holiday``,
    ``ds``, optionally ``lower_window`` and ``upper_window``), in its sorted order: for each
    holiday and each day of its window, ``{name}_delim_{+|-}{days}``, and the days (as
    datetime64[D]) on which it is 1. A row without a date (a prediction's name the
    frame lacks) or without a window (NaN) gives its name's ``+0`` column and no day."""
    names, offsets, days = holiday_days(holidays)
    columns = np.array([f"{name}_delim_{'+' if offset >= 0 else '-'}{abs(offset)}"
                        for name, offset in zip(names, offsets)], dtype=object)
    order = np.argsort(columns, kind="stable")  # each column's days in the frame's order
    keys, starts = np.unique(columns[order], return_index=True)
    return {key: marked[~np.isnat(marked)]
            for key, marked in zip(keys, np.split(days[order], starts[1:]))}


# the end of the summary's line on series with a blank country where model.country_holidays is null
BLANK_WITHOUT_HOLIDAYS = "got no holidays, as model.country_holidays: null asks"


def country_column_lines(series_by_value: dict, column: str, default: str | None,
                         windows: dict | None = None) -> list[str]:
    """What the summary says of a country key column (model.country_holidays_column),
    given how many series hold each of its values: the codes the holidays package does
    not know, whose series are skipped, and the series with a blank value, which get
    ``default`` (model.country_holidays), or none where it is None."""
    lines = []
    unknown_codes = {value: n for value, n in series_by_value.items()
                     if value is not None and str(value).strip() and unknown(canonical(str(value)))}
    if unknown_codes:
        shown = ", ".join(f"{value!r} ({n} series: {unknown(canonical(str(value)))})"
                          for value, n in sorted(unknown_codes.items(), key=lambda item: -item[1])[:5])
        more = f" and {len(unknown_codes) - 5} other codes" if len(unknown_codes) > 5 else ""
        lines.append(f"column {column} (model.country_holidays_column) holds codes the holidays package does not "
                     f"know, whose series are skipped: {shown}{more}; give a country code such as US, or a country "
                     "and region such as GB-ENG")
    codes = [canonical(str(value)) for value in series_by_value if value is not None and str(value).strip()]
    unmatched = unmatched_windows(windows or {}, codes + ([default] if default else []))
    if unmatched:
        lines.append(f"model.holiday_windows names holidays of none of the countries in {column}: "
                     f"{', '.join(map(repr, unmatched))} (names as the holidays package gives them, such as "
                     "'Eid al-Fitr': python -m forecasting holidays <code> lists them)")
    blank = sum(n for value, n in series_by_value.items() if value is not None and not str(value).strip())
    if blank:
        have = "has" if blank == 1 else "have"
        got = (f"got the holidays of model.country_holidays, {default}: set it to null for none" if default else
               BLANK_WITHOUT_HOLIDAYS)
        lines.append(f"{blank} series {have} a blank {column} (model.country_holidays_column) and {got}")
    return lines
