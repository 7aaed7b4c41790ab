"""Simple forecasts that need no fitting (naive, seasonal naive, weekly naive,
drift, recent mean): candidates scored against Prophet on the same cross-validation folds
(``selection.candidates``), and the fallback for a series Prophet cannot model
(``reliability.fallback``).

Each takes a ``ds``/``y`` history and returns the same columns as Prophet's
forecast, with a normal interval from the spread of the method's own in-sample
one-step errors, widening with the horizon (the recent mean's stays as wide).
"""
from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import Tick

from forecasting.periods import periods_between
from forecasting.model import FORECAST_COLUMNS, future_dates

# Seasonal period in steps, for calendar frequencies of one period: the cycle such
# series most often repeat (a week of days, a year of months, ...). Business and
# semi-month periods repeat as their calendar ones do.
SEASON_BY_FREQUENCY = {
    "D": 7, "B": 5, "W": 52, "MS": 12, "ME": 12, "BMS": 12, "BME": 12, "SMS": 24, "SME": 24,
    "QS": 4, "QE": 4, "BQS": 4, "BQE": 4,
}
DAY = pd.Timedelta(days=1)
WEEK = 7 * DAY
WEEKS_PER_YEAR = SEASON_BY_FREQUENCY["W"]


@lru_cache(maxsize=64)  # asked for every baseline and fold (0.05 ms a parse of the frequency)
def step_nanos(frequency: str) -> int | None:
    """The length of one period in nanoseconds where it is fixed (hours, days, 15
    minutes, ...); None for calendar periods (months, weeks on a weekday, business days)."""
    offset = to_offset(frequency)
    return offset.nanos if isinstance(offset, Tick) else None


def _steps_per(cycle: int, step: int) -> int:
    """Whole steps in a cycle; 1 (no season) when the cycle is not a whole number
    of steps: a lag of m steps would then fall at a different point of the cycle."""
    steps, remainder = divmod(cycle, step)
    return steps if not remainder and steps >= 1 else 1


@lru_cache(maxsize=64)  # asked on every cross-validation (0.05 ms a parse of the frequency)
def season_length(frequency: str) -> int:
    """Steps per seasonal cycle for ``frequency`` (1 when it has no natural cycle).

    A fixed-length step's cycle follows from its length, whatever the unit it is
    written in: the day below a day (24 for hourly data, 12 for 2 hours, 96 for 15
    minutes), a year of 52 weeks for multiples of a week (``7D`` as ``W``: 52,
    ``14D``: 26), else the week (``24h`` as ``D``: 7). A calendar multiple has its
    base period's season over n (``3MS``: 4, as quarters; ``2W``: 26)."""
    step = step_nanos(frequency)
    if step is not None:
        if step < DAY.value:
            return _steps_per(DAY.value, step)
        if step % WEEK.value == 0:
            return _steps_per(WEEKS_PER_YEAR, step // WEEK.value)
        return _steps_per(WEEK.value, step)
    offset = to_offset(frequency)
    base = SEASON_BY_FREQUENCY.get(offset.name.split("-")[0], 1)
    return _steps_per(base, offset.n)


@lru_cache(maxsize=64)  # asked for every weekly naive forecast
def week_length(frequency: str) -> int:
    """Steps per week for data of a day or finer (168 for hourly data), else 1."""
    step = step_nanos(frequency)
    if step is not None and step <= DAY.value:
        return _steps_per(WEEK.value, step)
    return 1


# The baselines that repeat a cycle, and its length in steps.
CYCLES = {"seasonal_naive": season_length, "weekly_naive": week_length}


def naive_instead(name: str, history: pd.DataFrame, frequency: str) -> str | None:
    """Why baseline ``name`` forecasts ``history`` as plain naive (the last value,
    repeated), or None where it repeats its cycle: the frequency has no cycle of
    whole steps, or the history spans fewer than two (counted in periods, as
    ``on_grid`` counts them). The rule the forecast itself follows, so a stored
    model forecasts the same again; for a note, or the name to report."""
    if name not in CYCLES:
        return None
    m = CYCLES[name](frequency)
    if m <= 1:
        return f"{name} forecast as naive: '{frequency}' data have no cycle of whole steps to repeat"
    periods = len(on_grid(history, frequency))
    if periods < 2 * m:
        spanned = "1 period" if periods == 1 else f"{periods} periods"  # spanned, gaps included: not values
        return f"{name} forecast as naive: {spanned} of history, shorter than two cycles of {m}"
    return None


def _interval(point: np.ndarray, sigma: float, widening: np.ndarray, width: float) -> pd.DataFrame:
    z = NormalDist().inv_cdf(0.5 + width / 2)
    spread = z * sigma * widening if math.isfinite(sigma) else np.full(len(point), np.nan)
    return pd.DataFrame({"yhat": point, "yhat_lower": point - spread, "yhat_upper": point + spread})


def on_grid(history: pd.DataFrame, frequency: str) -> np.ndarray:
    """``y`` for every period from the history's first to its last (sorted, on the
    grid, as cleaning leaves it), NaN where a period has no row (``cleaning.gaps:
    keep``): a lag of m steps is then m periods, not m rows."""
    y = history["y"].to_numpy(dtype="float64")
    if len(y) < 2:
        return y
    step = step_nanos(frequency)
    if step is not None and _elapsed(history["ds"]) == (len(y) - 1) * step:
        return y  # no gap, known without building the grid
    grid = pd.date_range(history["ds"].iloc[0], history["ds"].iloc[-1], freq=frequency)
    if len(grid) == len(y):
        return y
    return history.set_index("ds")["y"].reindex(grid).to_numpy(dtype="float64")


def _elapsed(ds: pd.Series) -> int:
    """Nanoseconds from the first time to the last (both in the row order)."""
    first, last = ds.iloc[0], ds.iloc[-1]
    return (last - first).value


# The fewest errors, less those a fit took, a spread is measured from: two seasonal differences
# that happened to be 0 gave a gappy series an interval of no width, which a reader would trust
MIN_SPREAD_ERRORS = 5


def _spread(errors: np.ndarray, fitted: int = 0) -> float:
    """The root mean square of the defined one-step errors (a gap's is not one),
    about zero, not their mean: a naive forecast's errors on a trending series are
    biased, and its interval has to cover that too. ``fitted``: parameters estimated
    from the same errors (drift's slope), each taking a degree of freedom. NaN (no
    interval) where fewer than MIN_SPREAD_ERRORS are left once those are taken."""
    defined = errors[np.isfinite(errors)]
    if len(defined) - fitted < MIN_SPREAD_ERRORS:
        return float("nan")
    return float(np.sqrt(np.sum(defined ** 2) / (len(defined) - fitted)))


# Each baseline's forecast from ``y`` on the grid (on_grid) as three arrays: the
# points, the spread of its in-sample one-step errors, and how the interval widens
# with each step. Cross-validation needs only the points, without dates or frames.
Parts = tuple[np.ndarray, float, np.ndarray]


def _naive_parts(y: np.ndarray, horizon: int, frequency: str) -> Parts:
    steps = np.arange(1, horizon + 1)
    return np.full(horizon, y[-1]), _spread(np.diff(y)), np.sqrt(steps)


def _cycle_parts(y: np.ndarray, horizon: int, frequency: str, m: int) -> Parts:
    if m <= 1 or len(y) < 2 * m:  # naive_instead says so, for the name and notes
        return _naive_parts(y, horizon, frequency)
    cycle = y[len(y) - m:]
    earlier = len(y) - 2 * m
    while np.isnan(cycle).any() and earlier >= 0:  # a period missing from the last cycle: the cycle before's
        cycle = np.where(np.isnan(cycle), y[earlier:earlier + m], cycle)
        earlier -= m
    cycle = np.where(np.isnan(cycle), y[-1], cycle)
    steps = np.arange(horizon)
    return cycle[steps % m], _spread(y[m:] - y[:-m]), np.sqrt(steps // m + 1)


def _seasonal_parts(y: np.ndarray, horizon: int, frequency: str) -> Parts:
    return _cycle_parts(y, horizon, frequency, season_length(frequency))


def _weekly_parts(y: np.ndarray, horizon: int, frequency: str) -> Parts:
    return _cycle_parts(y, horizon, frequency, week_length(frequency))


def _drift_parts(y: np.ndarray, horizon: int, frequency: str) -> Parts:
    n = len(y)
    slope = (y[-1] - y[0]) / (n - 1) if n > 1 else 0.0
    steps = np.arange(1, horizon + 1)
    widening = np.sqrt(steps * (1 + steps / max(n - 1, 1)))
    return y[-1] + slope * steps, _spread(np.diff(y) - slope, fitted=1), widening


def _recent_mean_parts(y: np.ndarray, horizon: int, frequency: str) -> Parts:
    m = season_length(frequency)
    sales = np.flatnonzero(np.isfinite(y) & (y != 0))
    # at least a season (no cycle of whole steps: the whole history), and back to the RECENT_SALES-th
    # last value that is not 0: a part sold every 20 days gets its rate, not 0 or a week's lump
    since = len(y) - sales[-RECENT_SALES] if len(sales) >= RECENT_SALES else len(y)
    window = min(len(y), max(m if m > 1 else len(y), since))
    recent = y[-window:]
    point = np.nanmean(recent) if np.isfinite(recent).any() else y[-1]
    # each value against the mean of the window before it (its missing periods left out)
    before = pd.Series(y).rolling(window, min_periods=1).mean().shift(1).to_numpy()
    return np.full(horizon, point), _spread(y[1:] - before[1:]), np.full(horizon, math.sqrt(1 + 1 / window))


RECENT_SALES = 5  # the values other than 0 recent_mean's window reaches back to, where that is over a season

PARTS = {"naive": _naive_parts, "seasonal_naive": _seasonal_parts, "weekly_naive": _weekly_parts,
         "drift": _drift_parts, "recent_mean": _recent_mean_parts}


def _forecast(name: str, history: pd.DataFrame, horizon: int, frequency: str, interval_width: float) -> pd.DataFrame:
    point, sigma, widening = PARTS[name](on_grid(history, frequency), horizon, frequency)
    frame = _interval(point, sigma, widening, interval_width)
    return _with_dates(frame, history, horizon, frequency)


def naive(history: pd.DataFrame, horizon: int, frequency: str, interval_width: float) -> pd.DataFrame:
    """The last value, repeated."""
    return _forecast("naive", history, horizon, frequency, interval_width)


def seasonal_naive(history: pd.DataFrame, horizon: int, frequency: str, interval_width: float) -> pd.DataFrame:
    """The value one season earlier, repeated; the plain naive forecast when the
    history is shorter than two seasons."""
    return _forecast("seasonal_naive", history, horizon, frequency, interval_width)


def weekly_naive(history: pd.DataFrame, horizon: int, frequency: str, interval_width: float) -> pd.DataFrame:
    """The value one week earlier: for hourly data whose days differ by weekday
    (traffic, footfall), which the daily cycle of seasonal naive misses."""
    return _forecast("weekly_naive", history, horizon, frequency, interval_width)


def drift(history: pd.DataFrame, horizon: int, frequency: str, interval_width: float) -> pd.DataFrame:
    """The line from the first to the last value, extended."""
    return _forecast("drift", history, horizon, frequency, interval_width)


def recent_mean(history: pd.DataFrame, horizon: int, frequency: str, interval_width: float) -> pd.DataFrame:
    """The mean of the last season's values (the whole history's where the frequency has
    no cycle), or back to the fifth-last value that is not 0 where that reaches further,
    repeated: the rate of a lumpy, intermittent series (spare parts, slow movers), which
    the naive forecasts flip between zero and the last lump."""
    return _forecast("recent_mean", history, horizon, frequency, interval_width)


def _with_dates(frame: pd.DataFrame, history: pd.DataFrame, horizon: int, frequency: str) -> pd.DataFrame:
    frame.insert(0, "ds", future_dates(history["ds"].max(), horizon, frequency))
    return frame[FORECAST_COLUMNS]


BASELINES = {"naive": naive, "seasonal_naive": seasonal_naive, "weekly_naive": weekly_naive, "drift": drift,
             "recent_mean": recent_mean}


def forecast_until(
    name: str, history: pd.DataFrame, last_date: pd.Timestamp, horizon: int, frequency: str, interval_width: float
) -> pd.DataFrame:
    """``horizon`` periods after ``last_date`` (on or after the history's end), as
    the baseline forecasts them from its history: the periods in between count
    as forecast steps too, so the interval widens with them."""
    between = periods_between(history["ds"].max(), last_date, frequency)
    full = BASELINES[name](history, between + horizon, frequency, interval_width)
    return full.iloc[between:].reset_index(drop=True)


def predict_at(name: str, history: pd.DataFrame, dates: pd.Series, frequency: str, interval_width: float) -> np.ndarray:
    """Point forecasts at ``dates``; NaN at a date off the frequency's grid, or not
    after the history. With periods of a fixed length (hours, days, ...) the dates are
    counted in steps and only the points computed: a cross-validation asks for them
    for every baseline and fold."""
    step = step_nanos(frequency)
    if step is None or getattr(history["ds"].dtype, "tz", None) is not None:
        # months, business days, ...: their own calendar; and a day across a clock change
        return _predict_at_dates(name, history, dates, frequency, interval_width)
    last = history["ds"].to_numpy(dtype="datetime64[ns]").max()
    after = (np.asarray(dates, dtype="datetime64[ns]") - last).astype("int64")
    steps, off_grid = np.divmod(after, step)
    point = PARTS[name](on_grid(history, frequency), max(int(steps.max(initial=0)), 1), frequency)[0]
    at = np.full(len(steps), np.nan)
    on = (off_grid == 0) & (steps >= 1)
    at[on] = point[steps[on] - 1]
    return at


def _predict_at_dates(name: str, history: pd.DataFrame, dates: pd.Series, frequency: str,
                      interval_width: float) -> np.ndarray:
    periods = periods_between(history["ds"].max(), pd.Timestamp(dates.max()), frequency)
    forecast = BASELINES[name](history, max(periods, 1), frequency, interval_width).set_index("ds")["yhat"]
    return forecast.reindex(pd.DatetimeIndex(dates)).to_numpy()
