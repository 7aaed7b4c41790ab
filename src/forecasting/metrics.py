"""Point-forecast error metrics. Pairs where the actual value is missing are ignored."""
from __future__ import annotations

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
    return float(200 * np.mean(ratio))


METRIC_FUNCTIONS = {"mae": mae, "rmse": rmse, "smape": smape}


def score(actual, predicted) -> dict[str, float]:
    """All metrics at once, keyed by name."""
    return {name: fn(actual, predicted) for name, fn in METRIC_FUNCTIONS.items()}
