"""Point-forecast error metrics. Pairs where the actual value is missing are ignored."""
from __future__ import annotations

import math

import numpy as np


def _pairs(actual, predicted) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(actual, dtype="float64")
    f = np.asarray(predicted, dtype="float64")
    if y.shape != f.shape:
        raise ValueError(f"actual and predicted differ in shape: {y.shape} vs {f.shape}")
    keep = np.isfinite(y)
    return y[keep], f[keep]


def mae(actual, predicted) -> float:
    y, f = _pairs(actual, predicted)
    return float(np.mean(np.abs(y - f))) if len(y) else float("nan")


def rmse(actual, predicted) -> float:
    y, f = _pairs(actual, predicted)
    return float(np.sqrt(np.mean((y - f) ** 2))) if len(y) else float("nan")


def smape(actual, predicted) -> float:
    """Symmetric MAPE in percent (0 to 200), as in the M4 competition; 0/0 counts as 0."""
    y, f = _pairs(actual, predicted)
    if not len(y):
        return float("nan")
    denominator = np.abs(y) + np.abs(f)
    ratio = np.divide(np.abs(y - f), denominator, out=np.zeros_like(y), where=denominator > 0)
    ratio[np.isnan(f)] = np.nan  # a missing forecast is no error of zero: NaN, as in mae
    return float(200 * np.mean(ratio))


# differences this small against the values' mean are float rounding (a thousand float64 steps),
# no change; a meter at 1e9 changing by 0.5 is well above it
ROUNDING = 1e-12


def mase_scale(insample, season: int) -> float:
    """Mean absolute seasonal difference of the training history (M4's MASE scale),
    given one value per period (``baselines.on_grid``: NaN in a gap, whose
    differences are left out).

    The one-step difference stands in when the history is shorter than a season
    plus one, or repeats its season exactly (a zero scale would make every
    forecast infinitely bad), to float rounding: differences a trillionth of the
    values' size are no change (a synthetic season had scored a MASE of 3e15)."""
    y = np.asarray(insample, dtype="float64")
    finite = np.abs(y[np.isfinite(y)])
    rounding = ROUNDING * float(finite.mean()) if len(finite) else 0.0
    for lag in (season, 1):
        differences = y[lag:] - y[:-lag] if len(y) > lag else np.empty(0)
        differences = differences[np.isfinite(differences)]
        if len(differences):
            scale = float(np.mean(np.abs(differences)))
            if scale > rounding:
                return scale
            if lag == 1:
                return 0.0
    return float("nan")


def mase(actual, predicted, insample, season: int) -> float:
    """Mean absolute scaled error: MAE over the in-sample seasonal naive MAE."""
    return scaled_mae(actual, predicted, mase_scale(insample, season))


def scaled_mae(actual, predicted, scale: float) -> float:
    """MAE over ``scale`` (``mase_scale``'s, worked out once by the caller); NaN
    where either is undefined (a missing forecast, a history of no differences)."""
    error = mae(actual, predicted)
    if error != error or scale != scale:
        return float("nan")
    if not scale > 0:  # a flat history: any error is infinitely worse than none
        return 0.0 if error == 0 else float("inf")
    return error / scale


def coverage(actual, lower, upper) -> float:
    """Share of actual values inside the forecast interval; NaN where there is no
    interval (no uncertainty samples): no value is outside what was never drawn."""
    y, lo = _pairs(actual, lower)
    _, hi = _pairs(actual, upper)
    drawn = np.isfinite(lo) & np.isfinite(hi)
    return float(np.mean((y[drawn] >= lo[drawn]) & (y[drawn] <= hi[drawn]))) if drawn.any() else float("nan")


def interval_width(lower, upper) -> float:
    return float(np.nanmean(np.asarray(upper, dtype="float64") - np.asarray(lower, dtype="float64")))


METRIC_FUNCTIONS = {"mae": mae, "rmse": rmse, "smape": smape}
METRIC_NAMES = (*METRIC_FUNCTIONS, "mase")
DISPLAY_NAMES = {"mase": "MASE", "smape": "sMAPE", "mae": "MAE", "rmse": "RMSE"}  # as reports write them
# What ranks parameters and candidates where the chosen metric is undefined for a series in
# every fold, as MASE is for a history with no two values a season or a period apart (every
# other day missing): scale-free first. Ranking by an undefined metric picked the first listed.
FALLBACK_METRICS = ("smape", "mae")


def ranking_metric(metric: str, score_sets) -> str:
    """``metric``, unless it is NaN or infinite in every one of ``score_sets`` (dicts by
    metric name): then the first of FALLBACK_METRICS that is not. MASE is infinite in each
    where a history's only changes are rounding's (0.1 + 0.2 against 0.3): no scale."""
    score_sets = list(score_sets)
    for name in (metric, *FALLBACK_METRICS):
        if any(scores.get(name) is not None and math.isfinite(scores[name]) for scores in score_sets):
            return name
    return metric


def score(actual, predicted, scale: float) -> dict[str, float]:
    """Every point metric at once, keyed by name; MASE by ``scale`` (``mase_scale``)."""
    scores = {name: fn(actual, predicted) for name, fn in METRIC_FUNCTIONS.items()}
    scores["mase"] = scaled_mae(actual, predicted, scale)
    return scores
