"""The plots' axis ticks: round values labelled as dashboards write amounts, and dates
at the finest spacing that keeps a plot's labels apart."""
from __future__ import annotations

import math

import pandas as pd

MAX_TICK_LABEL = 10  # characters of a value's label the left margin holds at 12 px
VALUE_SUFFIXES = ("K", "M", "B", "T")  # thousands, millions, billions, trillions: a wide value's label
# Date tick spacings, finest first, with the label format each calls for.
DATE_STEPS = [
    (freq, "%m-%d %H:%M") for freq in ("1min", "5min", "15min", "30min", "1h", "3h", "6h", "12h")
] + [(freq, "%Y-%m-%d") for freq in ("1D", "2D", "7D", "14D")] + [
    (freq, "%Y-%m") for freq in ("MS", "3MS", "6MS")
] + [(freq, "%Y") for freq in ("YS", "2YS", "5YS", "10YS", "20YS", "50YS", "100YS")]
MAX_TICKS = 8
# The longest each spacing can be (months of 31 days, years of 366), so that a
# spacing that must give too many ticks is skipped without building them.
LONGEST_STEP = {
    freq: pd.Timedelta(freq) if not freq.endswith("S")
    else pd.Timedelta(days=31 * int(freq[:-2] or 1)) if freq.endswith("MS")
    else pd.Timedelta(days=366 * int(freq[:-2] or 1))
    for freq, _ in DATE_STEPS
}


def value_ticks(low: float, high: float, wanted: int = 6) -> list[tuple[float, str]]:
    """Round tick values (1, 2 or 5 times a power of ten apart) inside the
    range, labelled with as many decimals as the spacing needs."""
    raw = (high - low) / wanted
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    decimals = max(0, -math.floor(math.log10(step)))
    first = math.ceil(low / step) * step
    values = [first + i * step for i in range(int((high - first) / step) + 1)]
    labels = [f"{value:,.{decimals}f}" for value in values]
    if max(map(len, labels)) > MAX_TICK_LABEL:  # too wide for the margin: 2.3B, not 2,300,000,000 nor 2.3e+09
        for short in (_with_suffix(values, step), [f"{value:.3g}" for value in values]):
            if max(map(len, short)) <= MAX_TICK_LABEL and len(set(short)) == len(short):
                return list(zip(values, short))
    return list(zip(values, labels))


def _with_suffix(values: list[float], step: float) -> list[str]:
    """Tick values in thousands (K), millions (M), billions (B) or trillions (T), as
    dashboards write amounts, with the decimals the spacing needs in that unit."""
    largest = max(abs(value) for value in values)
    power = min(max(int(math.log10(largest)) // 3, 1), len(VALUE_SUFFIXES)) if largest >= 1000 else 0
    if not power:
        return [f"{value:g}" for value in values]
    unit = 1000.0 ** power
    decimals = max(0, -math.floor(math.log10(step / unit)))
    return [f"{value / unit:,.{decimals}f}{VALUE_SUFFIXES[power - 1]}" if value else "0" for value in values]


def _date_ticks(start: pd.Timestamp, end: pd.Timestamp) -> list[tuple[pd.Timestamp, str]]:
    """The finest date spacing that gives at most MAX_TICKS ticks."""
    span = (end.value - start.value) / 1e9  # seconds: a Timedelta overflows past 292 years
    for freq, label in DATE_STEPS:
        if span / LONGEST_STEP[freq].total_seconds() - 1 > MAX_TICKS:
            continue  # more ticks than allowed, whatever the calendar
        if not freq.endswith("S"):  # hours and days: counted in steps from the epoch, as Timestamp.ceil does
            step = LONGEST_STEP[freq].value
            ticks = [pd.Timestamp(moment) for moment in range(-(-start.value // step) * step, end.value + 1, step)]
        else:  # months and years start aligned
            ticks = pd.date_range(start, end, freq=freq)
        if len(ticks) <= MAX_TICKS:
            return [(moment, moment.strftime(label)) for moment in ticks]
    return []
