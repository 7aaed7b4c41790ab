"""Converters from public raw data sets into the job's long input format."""
from __future__ import annotations

import logging

import pandas as pd

logger = logging.getLogger(__name__)

AIRPORT_MEASURES = ("Domestic Passengers", "International Passengers", "Total Passengers")
AIRPORT_COLUMNS = ("Airport Code", "Year", "Month", *AIRPORT_MEASURES)


def airports_to_long(raw: pd.DataFrame) -> pd.DataFrame:
    """Turn the NY/NJ port authority table into ``airport, measure, month, passengers``.

    The raw table has one row per airport and month, month names instead of
    numbers, unsorted rows and three measures side by side.
    """
    missing = [c for c in AIRPORT_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"airport data lacks columns {missing}; has {list(raw.columns)}")
    month = pd.to_datetime(
        raw["Year"].astype(str) + "-" + raw["Month"].str.strip().str[:3], format="%Y-%b"
    )
    wide = raw.assign(month=month, airport=raw["Airport Code"].str.strip())
    totals = _yearly_totals(wide)
    if totals.any():
        count = int(totals.sum())
        logger.warning("left out %d %s that %s a year's passengers, dated December (%s): not a month's", count,
                       "row" if count == 1 else "rows", "holds" if count == 1 else "hold",
                       ", ".join(f"{row.airport} {row.Year}" for row in wide[totals].itertuples()))
        wide = wide[~totals]
    long = wide.melt(
        id_vars=["airport", "month"],
        value_vars=list(AIRPORT_MEASURES),
        var_name="measure",
        value_name="passengers",
    )
    long["measure"] = long["measure"].str.replace(" Passengers", "").str.lower()
    long["passengers"] = long["passengers"].astype("float64")
    columns = ["airport", "measure", "month", "passengers"]
    return long[columns].sort_values(columns[:3]).reset_index(drop=True)


def _yearly_totals(wide: pd.DataFrame) -> pd.Series:
    """The rows that are a year's total dated December (SWF's from 1994 to 2005): the only
    row of their year, at an airport with whole years of months, over twice its busiest
    month in those years."""
    rows_a_year = wide.groupby(["airport", "Year"])["month"].transform("size")
    whole_years = wide[rows_a_year == 12]
    busiest = wide["airport"].map(whole_years.groupby("airport")["Total Passengers"].max())
    return ((rows_a_year == 1) & (wide["month"].dt.month == 12)
            & (wide["Total Passengers"] > 2 * busiest)).fillna(False).astype(bool)


M4_HOURLY_START = "2015-01-01 00:00"  # M4 gives no timestamps; any fixed start will do


def m4_to_long(train: pd.DataFrame, test: pd.DataFrame, start: str = M4_HOURLY_START, frequency: str = "h") -> pd.DataFrame:
    """M4's wide train and test tables (first column the series id, then the values,
    padded with NaN) as one long table ``series, ds, y``; each series' test values
    follow its training values, so holding out the last 48 hours is the official split."""
    frames = []
    for wide, part in ((train, "train"), (test, "test")):
        ids = wide.iloc[:, 0].astype(str)
        values = wide.iloc[:, 1:].apply(pd.to_numeric, errors="coerce")
        long = values.set_axis(ids).stack().rename("y").reset_index()
        long.columns = ["series", "step", "y"]
        long["step"] = long.groupby("series").cumcount()
        long["part"] = part
        frames.append(long)
    train_long, test_long = frames
    offset = train_long.groupby("series")["step"].max() + 1
    test_long["step"] += test_long["series"].map(offset)
    both = pd.concat([train_long, test_long], ignore_index=True)
    both["ds"] = pd.Timestamp(start) + pd.to_timedelta(both["step"], unit=frequency)
    return both.sort_values(["series", "ds"])[["series", "ds", "y"]].reset_index(drop=True)
