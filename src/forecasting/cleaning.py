"""Per-series data problems and the configured policy for each (pure pandas).

Each step either repairs the history and notes what it did, or rejects the
series with a reason; nothing is changed or dropped without a note.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import MonthBegin, QuarterBegin, Tick, Week, YearBegin

from forecasting.config import CleaningConfig


@dataclass
class Cleaned:
    history: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    rejection: str | None = None


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


def _fill(frame: pd.DataFrame, how: str) -> np.ndarray:
    """``y`` with its gaps filled: zeros, or linear in time (a value two days from
    its neighbour is not one row away); the ends take the nearest value."""
    if how == "zero":
        return frame["y"].fillna(0.0).to_numpy()
    return frame.set_index("ds")["y"].interpolate(method="time", limit_direction="both").to_numpy()


def clean_history(history: pd.DataFrame, frequency: str, policy: CleaningConfig) -> Cleaned:
    """Apply the cleaning policy to a ``ds``/``y`` frame sorted by time."""
    result = Cleaned(history.copy())
    frame = result.history
    frame["y"] = frame["y"].astype("float64")

    missing = ~np.isfinite(frame["y"].to_numpy())
    if missing.all() and len(frame):  # nothing to fill from, whatever the policy
        result.rejection = f"no values: all {len(frame)} are missing or infinite"
        return result
    if missing.any():
        count = int(missing.sum())
        if policy.missing_values == "reject":
            return _reject(result, f"{count} missing or infinite values", "missing_values")
        frame.loc[missing, "y"] = np.nan
        if policy.missing_values == "drop":
            frame = frame[~missing]
            result.notes.append(f"{count} missing or infinite values dropped")
        else:
            frame["y"] = _fill(frame, policy.missing_values)
            result.notes.append(f"{count} missing or infinite values filled ({policy.missing_values})")

    negative = frame["y"] < 0
    if negative.any() and policy.negative_values != "allow":
        count = int(negative.sum())
        if policy.negative_values == "reject":
            return _reject(result, f"{count} negative values", "negative_values")
        if policy.negative_values == "clip":
            frame.loc[negative, "y"] = 0.0
        else:
            frame = frame[~negative]
        result.notes.append(f"{count} negative values {'clipped to 0' if policy.negative_values == 'clip' else 'dropped'}")

    if frame.empty:
        result.history = frame
        return result

    aligned = align_to_grid(frame["ds"], frequency)
    off_grid = int((aligned != frame["ds"]).sum())
    if off_grid:
        if policy.off_grid == "reject":
            return _reject(result, f"{off_grid} timestamps off the '{frequency}' grid", "off_grid")
        frame = frame.assign(ds=aligned.to_numpy())
        result.notes.append(f"{off_grid} timestamps aligned to the '{frequency}' grid")

    duplicated = int(frame["ds"].duplicated().sum())
    if duplicated:
        if policy.duplicates == "reject":
            return _reject(result, f"{duplicated} duplicate timestamps", "duplicates")
        frame = frame.groupby("ds", as_index=False, sort=True)["y"].agg(policy.duplicates)
        result.notes.append(f"{duplicated} duplicate timestamps merged ({policy.duplicates})")

    grid = pd.date_range(frame["ds"].min(), frame["ds"].max(), freq=frequency)
    gaps = len(grid.difference(pd.DatetimeIndex(frame["ds"])))
    if gaps:
        if policy.gaps == "reject":
            return _reject(result, f"{gaps} missing periods", "gaps")
        if policy.gaps == "keep":
            result.notes.append(f"{gaps} missing periods left out")
        else:
            frame = frame.set_index("ds").reindex(grid.union(pd.DatetimeIndex(frame["ds"])))
            frame = frame.rename_axis("ds").reset_index()
            frame["y"] = _fill(frame, policy.gaps)
            result.notes.append(f"{gaps} missing periods filled ({policy.gaps})")

    result.history = frame.sort_values("ds").reset_index(drop=True)
    return result


def _reject(result: Cleaned, problem: str, key: str) -> Cleaned:
    result.rejection = f"{problem} (cleaning.{key} = reject)"
    return result
