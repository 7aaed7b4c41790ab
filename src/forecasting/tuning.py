"""Rolling-origin cross-validation and Hyperopt TPE search for one series (pure pandas)."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

import numpy as np
import pandas as pd

from forecasting import baselines, metrics, model
from forecasting.config import JobConfig, ParamSpace

logger = logging.getLogger(__name__)

# The first fold must train on at least this many CV horizons of history.
MIN_TRAIN_HORIZONS = 2
# TPE draws its first 20 points at random by default, so budgets of 20 or
# less never learn; a third of the budget at random, then TPE proper.
STARTUP_SHARE = 3


@dataclass(frozen=True)
class TuningResult:
    best_params: dict[str, Any]
    cv_metrics: dict[str, float]
    evaluations: int


def cv_horizon(config: JobConfig) -> int:
    return config.cross_validation.horizon or config.forecast.horizon


def cv_step(config: JobConfig) -> int:
    return config.cross_validation.step or cv_horizon(config)


def min_history(config: JobConfig) -> int:
    """Rows a series needs: the configured minimum, else what the folds need."""
    if config.forecast.min_history is not None:
        return config.forecast.min_history
    folds = config.cross_validation.folds
    return (folds - 1) * cv_step(config) + (1 + MIN_TRAIN_HORIZONS) * cv_horizon(config)


def cutoffs(n_rows: int, folds: int, horizon: int, step: int) -> list[int]:
    """Train sizes of the rolling folds, oldest first: fold i trains on rows ``[:c]``
    and is scored on rows ``[c:c + horizon]``; the last fold ends at the last row."""
    sizes = [n_rows - horizon - i * step for i in range(folds)]
    return sorted(size for size in sizes if size > 0)


# Point forecasts of a model trained on ``train`` at the given dates.
Forecaster = Callable[[pd.DataFrame, pd.Series], np.ndarray]


def prophet_forecaster(config: JobConfig, params: dict[str, Any]) -> Forecaster:
    """Prophet with ``params``, fit without uncertainty sampling: CV scores the point forecast."""

    def forecast(train: pd.DataFrame, dates: pd.Series) -> np.ndarray:
        fitted = model.fit(train, config, params, uncertainty_samples=0)
        return model.predict_at(fitted, dates).to_numpy()

    return forecast


def baseline_forecaster(config: JobConfig, name: str) -> Forecaster:
    def forecast(train: pd.DataFrame, dates: pd.Series) -> np.ndarray:
        return baselines.predict_at(name, train, dates, config.forecast.frequency, config.forecast.interval_width)

    return forecast


def cross_validate_forecaster(history: pd.DataFrame, config: JobConfig, forecaster: Forecaster) -> dict[str, float]:
    """Mean of each metric over the rolling folds; MASE is scaled by each fold's training data."""
    horizon = cv_horizon(config)
    season = baselines.season_length(config.forecast.frequency)
    fold_scores = []
    for size in cutoffs(len(history), config.cross_validation.folds, horizon, cv_step(config)):
        train = history.iloc[:size]
        test = history.iloc[size : size + horizon]
        predicted = forecaster(train, test["ds"])
        fold_scores.append(metrics.score(test["y"], predicted, train["y"], season))
    if not fold_scores:
        raise ValueError("no cross-validation fold fits in the history")
    return {name: float(np.nanmean([s[name] for s in fold_scores])) for name in fold_scores[0]}


def cross_validate(history: pd.DataFrame, config: JobConfig, params: dict[str, Any]) -> dict[str, float]:
    """Cross-validated metrics of Prophet with one parameter set."""
    return cross_validate_forecaster(history, config, prophet_forecaster(config, params))


def hyperopt_space(search_space: dict[str, ParamSpace]) -> dict[str, Any]:
    from hyperopt import hp

    space = {}
    for name, spec in search_space.items():
        if spec.distribution == "choice":
            space[name] = hp.choice(name, list(spec.values))
        elif spec.distribution == "loguniform":
            space[name] = hp.loguniform(name, math.log(spec.low), math.log(spec.high))
        elif spec.distribution == "quniform":
            space[name] = hp.quniform(name, spec.low, spec.high, spec.q)
        else:
            space[name] = hp.uniform(name, spec.low, spec.high)
    return space


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """Hyperopt hands out numpy scalars and floats for integer parameters."""
    plain = {}
    for name, value in params.items():
        value = value.item() if isinstance(value, np.generic) else value
        if name == "n_changepoints":
            value = int(value)
        plain[name] = value
    return plain


def tune(history: pd.DataFrame, config: JobConfig) -> TuningResult:
    """Search the configured space with TPE (seeded) and return the best parameters
    with their cross-validated metrics. An empty space just cross-validates."""
    from hyperopt import STATUS_FAIL, STATUS_OK, Trials, fmin, space_eval, tpe
    from hyperopt.exceptions import AllTrialsFailed

    # Hyperopt's logger announces every trial; the job reports per series instead.
    logging.getLogger("hyperopt").setLevel(logging.WARNING)
    tuning = config.tuning
    if not tuning.search_space:
        return TuningResult({}, cross_validate(history, config, {}), 1)

    def objective(params):
        params = _plain(params)
        try:
            scores = cross_validate(history, config, params)
        except Exception as err:  # one bad parameter set must not end the search
            logger.debug("parameters %s failed: %s", params, err)
            return {"status": STATUS_FAIL, "error": repr(err)}
        loss = scores[tuning.metric]
        if not math.isfinite(loss):
            return {"status": STATUS_FAIL, "error": f"{tuning.metric} is {loss}"}
        return {"status": STATUS_OK, "loss": loss, "scores": scores}

    space = hyperopt_space(tuning.search_space)
    trials = Trials()
    startup = max(1, min(20, tuning.max_evals // STARTUP_SHARE))
    try:
        fmin(
            objective,
            space,
            algo=partial(tpe.suggest, n_startup_jobs=startup),
            max_evals=tuning.max_evals,
            trials=trials,
            rstate=np.random.default_rng(tuning.seed),
            show_progressbar=False,
            return_argmin=False,
        )
    except AllTrialsFailed:
        pass  # reported below with the trials' own errors
    succeeded = [t for t in trials.trials if t["result"]["status"] == STATUS_OK]
    if not succeeded:
        errors = {t["result"].get("error") for t in trials.trials}
        raise RuntimeError(f"every tuning evaluation failed: {sorted(map(str, errors))[:3]}")
    best = min(succeeded, key=lambda t: t["result"]["loss"])
    chosen = {name: values[0] for name, values in best["misc"]["vals"].items() if values}
    best_params = _plain(space_eval(space, chosen))
    return TuningResult(best_params, best["result"]["scores"], len(trials.trials))
