"""The embedded demo input: daily sales per store and item, made deterministically.

Each series has a level, a piecewise-linear trend, weekly and yearly seasonality,
US-holiday effects and noise, so that tuning has something real to find. Some
series are multiplicative (seasonality grows with the level), some additive.
"""
from __future__ import annotations

import holidays
import numpy as np
import pandas as pd

STORES = ("north", "south", "east", "west")
ITEMS = ("bread", "milk", "coffee", "apples", "soap", "batteries")
START = "2023-01-01"
DAYS = 3 * 365
SEED = 20260101


def make_sample_sales(
    stores: tuple[str, ...] = STORES,
    items: tuple[str, ...] = ITEMS,
    start: str = START,
    days: int = DAYS,
    seed: int = SEED,
) -> pd.DataFrame:
    """Return the long table ``store, item, date, sales`` (one row per day and series)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")
    t = np.arange(days) / 365.25
    holiday_dates = holidays.country_holidays("US", years=sorted(set(dates.year)))
    is_holiday = dates.normalize().isin(pd.to_datetime(list(holiday_dates)))
    frames = []
    for store in stores:
        for item in items:
            level = rng.uniform(50, 500)
            slope = rng.normal(0.1, 0.15)
            kink = rng.uniform(0.3, 0.8) * t[-1]
            trend = 1 + slope * t + rng.normal(0, 0.2) * np.clip(t - kink, 0, None)
            weekly = rng.uniform(0.05, 0.35) * np.where(dates.dayofweek >= 5, 1.0, -0.4)
            phase = rng.uniform(0, 2 * np.pi)
            yearly = rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * t + phase)
            holiday = rng.uniform(-0.5, 0.8) * is_holiday
            seasonal = weekly + yearly + holiday
            if rng.random() < 0.5:
                signal = level * trend * (1 + seasonal)
            else:
                signal = level * (trend + seasonal)
            noise = rng.normal(0, rng.uniform(0.03, 0.1) * level, days)
            sales = np.clip(signal + noise, 0, None).round(2)
            frames.append(pd.DataFrame({"store": store, "item": item, "date": dates, "sales": sales}))
    return pd.concat(frames, ignore_index=True)
