"""A country's holidays for series whose periods are longer than a day (weekly, monthly,
quarterly), each given to the period that holds it (pure pandas).

Prophet gives a holiday its effect only at a row dated on the holiday itself: a week
dated Monday the 21st holds no Christmas, so weekly and monthly models learnt nearly
nothing from their country's holidays. Here each holiday's date is moved to the date
that names its period on the series' grid (``periods.align_to_grid``), and the model
gets them as Prophet's ``holidays`` frame: Christmas week is Christmas wherever the
25th falls, Easter's month is March or April as the year has it.
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from forecasting.periods import align_to_grid, frequency_offset

# The frame a model stores covers this many years after its history's last one:
# scoring and serving forecast from it later, and a year it lacks has no holidays.
YEARS_AHEAD = 10
OBSERVED = "(observed"  # "Christmas Day (observed)", "Eid al-Fitr (observed, estimated)"
# The holidays package names the lunar dates it computes rather than lists "Eid al-Fitr
# (estimated)", from a few years ahead on: the same holiday, which must keep its effect.
ESTIMATED = " (estimated)"


def longer_than_a_day(frequency: str) -> bool:
    """Whether a period of ``frequency`` holds several days (W-MON, 7D, MS, QS), so that a
    holiday falls inside one rather than on its date. Business days are days."""
    offset = frequency_offset(frequency)
    if isinstance(offset, (pd.offsets.BusinessDay, pd.offsets.CustomBusinessDay)):
        return False
    return not (isinstance(offset, pd.offsets.Tick) and pd.Timedelta(offset) <= pd.Timedelta(days=1))


def period_holidays(country: str, frequency: str, ds) -> pd.DataFrame:
    """Prophet's ``holidays`` frame (``holiday``, ``ds``) of ``country`` for a series of
    ``frequency`` whose history is dated ``ds`` (on its grid): each holiday at the date
    of its period, from the year before the history's first to ``YEARS_AHEAD`` after its last.

    - A holiday is placed by its own date; the day off observed in its stead when it falls
      on a weekend is left out: at these periods it is mostly in the same period, and
      elsewhere (New Year's observed on December 31st) it would only blur two periods.
    - Only holidays that fall in a period of the history are kept: one first seen after
      it would have no effect learnt (as Prophet keeps a country's holidays of the
      history's years only).
    - A holiday that fell in the same period of every year of the history (Christmas in
      December or Q4, any holiday at yearly periods) is left out: its effect cannot be
      told from the yearly cycle's, and a later year that moves it (Easter Monday in
      March) would carry April's whole season into March. Those that moved in the
      history (Good Friday between March and April, Christmas between weeks) are kept,
      and so is a holiday that came once (a state funeral).
    - So is one that falls in every period of the history: it cannot be told from the level."""
    dates = pd.Series(pd.to_datetime(np.asarray(ds))).sort_values(ignore_index=True)
    if dates.empty:  # nothing to fit: Prophet says so
        return pd.DataFrame({"holiday": pd.Series(dtype=object), "ds": pd.Series(dtype="datetime64[ns]")})
    return _period_holidays(country, frequency, dates.to_numpy().tobytes()).copy()


@functools.lru_cache(maxsize=64)  # the final fit's history is the tuning's too; folds come back per candidate
def _period_holidays(country: str, frequency: str, ds_bytes: bytes) -> pd.DataFrame:
    from prophet import forecaster  # its make_holidays_df, kept once per process (prophet_speedups)

    dates = pd.Series(np.frombuffer(ds_bytes, dtype="datetime64[ns]"))
    first, last = dates.iloc[0], dates.iloc[-1]
    years = range(first.year - 1, last.year + YEARS_AHEAD + 1)
    frame = forecaster.make_holidays_df(year_list=list(years), country=country)[["holiday", "ds"]]
    frame = frame[~frame["holiday"].str.contains(OBSERVED, regex=False)]
    frame = frame.assign(holiday=frame["holiday"].str.replace(ESTIMATED, "", regex=False),
                         ds=align_to_grid(pd.to_datetime(frame["ds"]), frequency, origin=first))
    frame = frame.drop_duplicates(ignore_index=True)
    once = frame["holiday"].value_counts() == 1
    seen = frame[frame["ds"].isin(dates)]
    place_in_year = seen["ds"].dt.month * 100 + seen["ds"].dt.day
    moved = place_in_year.groupby(seen["holiday"]).nunique() > 1  # in the history: else its effect is the cycle's
    periods = seen.groupby("holiday")["ds"].nunique()
    kept = periods.index[(periods < dates.nunique()) & (moved | once.reindex(periods.index))]
    return frame[frame["holiday"].isin(kept)].sort_values(["ds", "holiday"], ignore_index=True)
