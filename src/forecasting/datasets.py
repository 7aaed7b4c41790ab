"""Converters from public raw data sets into the job's long input format."""
from __future__ import annotations

import pandas as pd

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
