"""The notes a series' forecast gets once its model is chosen (pure pandas): metrics
undefined for it, points the floor raised or below 0, a forecast of nothing where
something was seen, a repeated cycle holding an outage or a one-off, holidays ahead
that no cross-validation fold scored or that the history never held."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from forecasting import metrics
from forecasting.baselines import CYCLES, on_grid
from forecasting.cleaning_notes import FEW_NEGATIVE_SHARE, trailing_zeros, value_text
from forecasting.holiday_periods import holiday_days, holidays_between, longer_than_a_day
from forecasting.periods import time_text
from forecasting.tuning import TuningResult

# Prophet failed on every parameter set of its search, the series chosen among the other candidates (a
# series Prophet cannot fit at all is still forecast by the baselines it is scored against, and said so)
PROPHET_FAILED_NOTE = "Prophet failed in every tuning evaluation"
# every forecast point 0 (the floor's, or a baseline's repeated zeros) where the recent values are not
ZERO_FORECAST_NOTE = "forecast 0 throughout"
# A cycle-repeating forecast that repeats a value far from that time's in the cycles before (an outage's 0)
REPEATED_ODDITY_NOTE = "of its last cycle far from that time's in the cycles before"
ODDITY_CYCLES = 3  # earlier cycles a time of the cycle needs values in to be told odd
ODDITY_FACTOR = 4  # how far below their lowest or above their highest: 5 of M4's 414 hourly series, 1 of 15 airports
# Holidays the forecast falls on that no fold's held-out periods did: its cross-validation
# scores say nothing of them (a trial's folds ran November to February: CV MASE 0.6,
# 2.7 over the Eid it then forecast)
UNSEEN_HOLIDAY_NOTE = "which no cross-validation fold held"
NAMED_HOLIDAYS = 3
# Holidays the forecast falls on that never fell within the history's span (a history shorter than a
# year): no effect of them was learnt (a walk-through's GB plant, eight weeks of history, forecast its May
# bank holiday as a Monday, where its Good Friday had been 40% down), said nowhere
NEVER_HELD_NOTE = "which the history never held"
# How far a holiday's values stand out of their neighbours': at least this many times the median distance of a
# period on no holiday, and farther than HOLIDAY_QUANTILE of those periods, over at least HOLIDAY_PERIODS of its
# own (noise alone: 0 to 2 of 60 simulated 3-year daily series, Poisson or Gaussian, forecast over 90 days of US
# holidays; a Christmas at 1.3 times the level with 5% noise: all 60)
HOLIDAY_JUMP = 3
HOLIDAY_QUANTILE = 0.98
HOLIDAY_PERIODS = 2


def undefined_metric_notes(metric: str, ranked_by: str, tuned: TuningResult | None,
                           tuning_metric: str) -> list[str]:
    """What ranked tuning's parameters and the candidates where the configured metric
    was undefined for the series in every fold (metrics.ranking_metric)."""
    replaced = []  # (what was ranked, the metric configured, the one used)
    tuned_by = metrics.ranking_metric(tuning_metric, [tuned.cv_metrics]) if tuned is not None else tuning_metric
    if tuned_by != tuning_metric:
        replaced.append(["tuning", tuning_metric, tuned_by])
    if ranked_by != metric:
        if replaced and replaced[0][1:] == [metric, ranked_by]:
            replaced[0][0] = "tuning and the model choice"
        else:
            replaced.append(["the model choice", metric, ranked_by])
    why = {"mase": " (no two values a season or a period apart to scale it by, or none differing beyond rounding)"}
    return [f"{wanted} undefined for this series in every cross-validation fold{why.get(wanted, '')}: "
            f"{what} ranked by {used}" for what, wanted, used in replaced]


QUIET_SPELL_CHANCE = 0.05  # zeros at the end at least this likely, by how seldom a series sells: a quiet spell


def recent_values(y: pd.Series, recent: int) -> pd.Series:
    """The last ``recent`` values, which zero_forecast_notes weighs a forecast of zeros
    against; where they are all 0 but as many zeros in a row are likely by the history's
    share of nonzero values (a slow mover's quiet fortnight, not a stop), back to its last
    sales too."""
    last = y.iloc[-recent:]
    sells = float((y.to_numpy() != 0).mean()) if len(y) else 0.0
    if last.any() or not sells:
        return last
    quiet = trailing_zeros(y.to_numpy())
    return y.iloc[-(quiet + recent):] if (1 - sells) ** quiet >= QUIET_SPELL_CHANCE else last


def zero_forecast_notes(points: pd.Series, recent: pd.Series, ranked_by: str,
                        scores: dict[str, dict[str, float]], winner: str, ends_in_zeros: bool = False) -> list[str]:
    """A note where every forecast point is 0 though the series' ``recent`` values were
    not all 0: for staffing or stock, a forecast of nothing. Ranked by sMAPE, the likely
    cause: it scores a 0 forecast of a 0 as perfect and any other as its worst (200), so
    in series with zeros it favours forecasting zeros. Where the series ``ends_in_zeros``
    while its history has nearly none (cleaning's note on them: a discontinued item's last
    weeks), the forecast follows them under any metric: said so, not counted with the others."""
    if points.empty or (points.to_numpy() != 0).any() or not recent.mean() > 0:
        return []
    if ends_in_zeros:  # an outage or a product that stopped: no metric changes a model that follows them
        return [f"forecast at 0, as its last {trailing_zeros(recent.to_numpy())} values are: whatever the metric "
                "ranks by, a model follows them"]
    said = f"{ZERO_FORECAST_NOTE}, where the last {len(recent)} values average {recent.mean():.3g}"
    if ranked_by == "smape":
        by_mase = {name: found["mase"] for name, found in scores.items() if found.get("mase") == found.get("mase")}
        best = min(by_mase, key=by_mase.get) if by_mase else winner
        said += (" (ranked by sMAPE, which scores a 0 forecast of a 0 as perfect and any other as its worst: "
                 f"{'by MASE, ' + best + ' would have won; ' if best != winner else ''}tuning.metric: mase)")
    return [said]


# After "N of M": forecast points the floor raised (the summary counts series with half or more so)
FLOOR_RAISED_NOTE = "forecast points raised to stay at or above"


def floor_notes(points: pd.Series, unfloored: pd.Series, setting: float | str | None,
                history: pd.Series | None = None) -> list[str]:
    """A note where the floor raised forecast points (``points`` above the ``unfloored``
    ones): the model foresaw values below it, or the ensemble a part below it. Under
    ``auto``, a note too where a few values below 0 in the ``history`` (a refund, a
    credit: as cleaning's note on them counts few) left the series without a floor and
    its forecast goes below 0."""
    raised = int((points.to_numpy() > unfloored.to_numpy()).sum())
    if not raised:
        return [] if setting != "auto" or history is None else _below_zero_notes(points, history)
    floor = "0" if setting == "auto" else f"{setting:g}"
    why = "forecast.floor auto: the history has no value below 0" if setting == "auto" else "forecast.floor"
    return [f"{raised} of {len(points)} {FLOOR_RAISED_NOTE} {floor} ({why})"]


def _below_zero_notes(points: pd.Series, history: pd.Series) -> list[str]:
    below, negative = int((points.to_numpy() < 0).sum()), int((history.to_numpy() < 0).sum())
    if not below or not 0 < negative <= FEW_NEGATIVE_SHARE * len(history):
        return []
    return [f"{below} of {len(points)} forecast points below 0, where {negative} of the history's {len(history)} "
            "values are (refunds, credits?): forecast.floor: 0 would keep them at or above 0 (auto sets no floor "
            "once a value is below 0)"]


def repeated_oddity_notes(cycled: str, history: pd.DataFrame, frequency: str) -> list[str]:
    """A note where ``cycled``, a forecast that repeats the last cycle (seasonal_naive,
    weekly_naive, the ensemble's seasonal part), repeats a value far from that time's in
    the ODDITY_CYCLES cycles before or more: under a quarter of their lowest (an outage's
    0), or over four times their highest (ODDITY_FACTOR), by half the series' typical level
    or more; each against a positive bound only (a solar meter's feed-in swings both sides of
    0, where a quarter of a negative lowest is no outage), and the same of values all below 0
    turned over (an export meter's 0). Such a value recurs in the forecast, the model having
    no way to tell a one-off."""
    cycle = CYCLES[cycled](frequency)
    y = on_grid(history, frequency)
    earlier = min(len(y) // cycle - 1, 2 * ODDITY_CYCLES) if cycle > 1 else 0
    if earlier < ODDITY_CYCLES:
        return []
    last = y[-cycle:]
    before = y[len(y) - (earlier + 1) * cycle:len(y) - cycle].reshape(earlier, cycle)
    with warnings.catch_warnings():  # times without a value in every cycle (closed ones): NaN, no comparison
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high, seen = np.nanmin(before, axis=0), np.nanmax(before, axis=0), np.isfinite(before).sum(axis=0)
        level = np.nanmedian(np.abs(before))
        # and mirrored, for times whose values are all below 0 (an export meter's 0 is its outage)
        odd = (seen >= ODDITY_CYCLES) & np.isfinite(last) & (
            _far_off(last, low, high, level) | _far_off(-last, -high, -low, level))
    if not level > 0 or not odd.any():
        return []
    first, count = int(np.flatnonzero(odd)[0]), int(odd.sum())
    when = pd.date_range(end=history["ds"].iloc[-1], periods=cycle, freq=frequency)[first]
    more = f", and {count - 1} more" if count > 1 else ""
    return [f"{cycled} repeats {count} value{'s' if count > 1 else ''} {REPEATED_ODDITY_NOTE} ({time_text(when)}: "
            f"{value_text(last[first])}, against {value_text(low[first])} to {value_text(high[first])} in {earlier} "
            f"cycles{more}): an outage or a one-off, forecast as if it recurred? A value that did not happen is best "
            "given as missing"]


def _far_off(last: np.ndarray, low: np.ndarray, high: np.ndarray, level: float) -> np.ndarray:
    """repeated_oddity_notes' test: ``last`` under a quarter of a positive ``low``, or
    over four times a positive ``high``, by half the ``level`` or more."""
    return (((low > 0) & (last < low / ODDITY_FACTOR) & (low - last >= level / 2))
            | ((high > 0) & (last > ODDITY_FACTOR * high) & (last - high >= level / 2)))


def unseen_holiday_notes(holidays: pd.DataFrame | None, history: pd.DataFrame, forecast_ds: pd.Series,
                         held_out: list[pd.Series], frequency: str) -> list[str]:
    """A note naming the holidays that stood out in the series' history (see
    _standing_out) and that the forecast falls on, where no cross-validation fold's
    held-out periods fell on any of their days (a day of a holiday's window,
    model.holiday_windows, counts). ``holidays``: the series' Prophet frame
    (model.series_holidays), None where it has none; ``held_out``: each fold's held-out times."""
    if holidays is None or not held_out or not len(forecast_ds):
        return []
    names, _, days = holiday_days(holidays)
    ahead = np.isin(days, np.asarray(forecast_ds, dtype="datetime64[D]"))  # an hour is on its day, as in Prophet
    held = np.isin(days, np.concatenate([np.asarray(ds, dtype="datetime64[D]") for ds in held_out]))
    unseen = set(names[ahead]) - set(names[held])
    if not unseen:
        return []
    standing_out = _standing_out(history, names, days, unseen, frequency)
    named = sorted((days[ahead & (names == name)].min(), name) for name in standing_out)
    if not named:
        return []
    when = "the period of " if longer_than_a_day(frequency) else ""
    said = ", ".join(f"{name} ({when}{day})" for day, name in named[:NAMED_HOLIDAYS]).replace(";", ",")
    more = f" and {len(named) - NAMED_HOLIDAYS} more" if len(named) > NAMED_HOLIDAYS else ""
    return [f"forecast over {said}{more}, on which the history's values stood out and {UNSEEN_HOLIDAY_NOTE}: its "
            "cross-validation scores do not speak for those periods"]


def never_held_holiday_notes(code: str | None, history: pd.DataFrame, forecast_ds: pd.Series,
                             frequency: str) -> list[str]:
    """A note naming the holidays of country ``code`` (model.country_holidays, the series'
    own) that the forecast falls on and that never fell within the history's span: no
    model learnt what they do. Not one that did, with a row or without (a market closed
    on it). A day observed in a weekend holiday's stead is a holiday of its own to Prophet,
    as is a one-off. Periods of a day or shorter: a longer period's holiday is one day of
    several."""
    if not code or longer_than_a_day(frequency) or not len(forecast_ds) or history.empty:
        return []
    days = _naive(forecast_ds).dt.normalize()
    ahead = holidays_between(code, days.min(), days.max())
    ahead = ahead[ahead["ds"].isin(days)]
    known = _naive(history["ds"])
    spanned = set(holidays_between(code, known.min(), known.max())["holiday"])
    named = sorted({(day.date(), name) for day, name in zip(ahead["ds"], ahead["holiday"]) if name not in spanned})
    if not named:
        return []
    said = ", ".join(f"{name} ({day})" for day, name in named[:NAMED_HOLIDAYS]).replace(";", ",")
    more = f" and {len(named) - NAMED_HOLIDAYS} more" if len(named) > NAMED_HOLIDAYS else ""
    return [f"forecast over {said}{more}, {NEVER_HELD_NOTE}: no effect of them was learnt, and they are forecast "
            "as usual days"]


def _naive(times) -> pd.Series:
    """Times without their zone, as the clock there reads them: a day's date where it is (the
    job hands over naive times already)."""
    times = pd.Series(pd.to_datetime(times)).reset_index(drop=True)
    return times.dt.tz_localize(None) if times.dt.tz is not None else times


def _standing_out(history: pd.DataFrame, names: np.ndarray, days: np.ndarray, asked: set[str],
                  frequency: str) -> set[str]:
    """The holidays of ``asked`` (``names`` and ``days`` as holiday_days gives them)
    whose periods in ``history`` stood out: the median, over those periods (HOLIDAY_PERIODS
    at least), of a value's distance from its neighbours' (the same day of the week or two
    before and after, an hourly series' days by their mean; at longer periods the periods
    either side), at least HOLIDAY_JUMP times that distance's median over the periods on no
    holiday and above its HOLIDAY_QUANTILE. None where that median is 0 (mostly zeros)."""
    y = history["y"].to_numpy(float)
    known = np.isfinite(y)
    if not known.any():
        return set()
    dates, where = np.unique(np.asarray(history["ds"], dtype="datetime64[D]")[known], return_inverse=True)
    means = np.bincount(where, y[known]) / np.bincount(where)
    if longer_than_a_day(frequency):
        values, shifts = means, (1, 2)  # neighbours on the series' own periods
    else:  # on the calendar: a missing day is no neighbour
        dates, positions = np.arange(dates[0], dates[-1] + 1), (dates - dates[0]).astype(int)
        values, shifts = np.full(len(dates), np.nan), (7, 14)
        values[positions] = means
    on_holiday = np.isin(dates, days)
    plain = np.where(on_holiday, np.nan, values)
    padded = np.concatenate([np.full(max(shifts), np.nan), plain, np.full(max(shifts), np.nan)])
    around = np.column_stack([padded[max(shifts) + k:max(shifts) + k + len(plain)]
                              for step in shifts for k in (step, -step)])
    with warnings.catch_warnings():  # periods with no neighbour: NaN, not counted
        warnings.simplefilter("ignore", RuntimeWarning)
        distance = np.abs(values - np.nanmedian(around, axis=1))
    plain_distances = distance[~on_holiday]
    plain_distances = plain_distances[np.isfinite(plain_distances)]
    typical = np.median(plain_distances) if plain_distances.size else np.nan
    if not typical > 0:  # mostly zeros, or no period to compare: a holiday's 0 tells nothing
        return set()
    bar = max(HOLIDAY_JUMP * typical, np.quantile(plain_distances, HOLIDAY_QUANTILE))
    standing_out = set()
    for name in asked:
        theirs = distance[np.isin(dates, days[names == name])]
        theirs = theirs[np.isfinite(theirs)]
        if theirs.size >= HOLIDAY_PERIODS and np.median(theirs) >= bar:
            standing_out.add(name)
    return standing_out
