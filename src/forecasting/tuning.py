"""Rolling-origin cross-validation and Hyperopt TPE search for one series (pure pandas)."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Callable

import numpy as np
import pandas as pd

from forecasting import baselines, hyperopt_speedups, metrics, model, prophet_map, prophet_points
from forecasting.config import JobConfig, ParamSpace
from forecasting.config_schema import MODEL_SETTINGS
from forecasting.config import MIN_TRAIN_HORIZONS, cv_horizon, cv_step, min_history  # noqa: F401  (read from here)

logger = logging.getLogger(__name__)

# TPE draws its first 20 points at random by default, so budgets of 20 or
# less never learn; a third of the budget at random, then TPE proper.
RANDOM_START_DIVISOR = 3  # max_evals // 3 random points
SEASONALITY_SETTINGS = tuple(name for name in MODEL_SETTINGS if name.endswith("_seasonality"))


@dataclass(frozen=True)
class TuningResult:
    best_params: dict[str, Any]
    cv_metrics: dict[str, float]
    evaluations: int
    # the best parameters' point forecasts per fold, keyed by training size
    fold_predictions: dict[int, np.ndarray] = field(default_factory=dict)
    warm_starts: WarmStarts | None = None
    failed_evaluations: list[str] = field(default_factory=list)  # each failed evaluation's error


class EveryEvaluationFailed(RuntimeError):
    """Every parameter set of a series' search failed: ``errors``, each evaluation's."""

    def __init__(self, errors: list[str]):
        super().__init__(f"every tuning evaluation failed: {sorted(set(errors))[:3]}")
        self.errors = errors


class WarmStarts:
    """One series' last fitted Prophet parameters per training size.

    Successive fits of a series differ little (another parameter set on the same
    fold, or one fold more), so starting the optimiser where the last one ended
    saves iterations. A size not seen yet starts from the latest fit."""

    def __init__(self):
        self._by_size: dict[int, dict[str, Any]] = {}
        self._latest: dict[str, Any] | None = None

    def get(self, size: int) -> dict[str, Any] | None:
        return self._by_size.get(size, self._latest)

    def remember(self, size: int, fitted) -> None:
        self._latest = self._by_size[size] = model.warm_start(fitted)


def cutoffs(n_rows: int, folds: int, horizon: int, step: int) -> list[int]:
    """Train sizes of the rolling folds, oldest first: fold i trains on rows ``[:c]``
    and is scored on rows ``[c:c + horizon]``; the last fold ends at the last row."""
    sizes = [n_rows - horizon - i * step for i in range(folds)]
    return sorted(size for size in sizes if size > 0)


def period_cutoffs(positions: np.ndarray, folds: int, horizon: int, step: int) -> list[tuple[int, int]]:
    """``cutoffs`` in periods, for a series with gaps: ``positions`` are its sorted
    rows' periods counted from its first. Fold i is scored on the rows in the
    ``horizon`` periods that end ``i * step`` periods before the last one, and trains
    on the rows before them. Returns (train size, end of the scored rows) per fold,
    oldest first, leaving out, as ``cutoffs`` does, folds with nothing to train on,
    and also folds with nothing to score and a fold whose training rows a later
    fold's are too (its cutoff fell in a gap)."""
    end = int(positions[-1]) + 1
    folds_by_size: dict[int, int] = {}
    for i in range(folds):
        start = end - horizon - i * step
        size, stop = (int(bound) for bound in np.searchsorted(positions, [start, start + horizon]))
        if 0 < size < stop and size not in folds_by_size:
            folds_by_size[size] = stop
    return sorted(folds_by_size.items())


# Point forecasts of a model trained on ``train`` at the given dates.
Forecaster = Callable[[pd.DataFrame, pd.Series], np.ndarray]


def prophet_forecaster(
    config: JobConfig, params: dict[str, Any], warm: WarmStarts | None = None,
    arrays_by_size: dict[int, prophet_points.FoldArrays] | None = None,
) -> Forecaster:
    """Prophet with ``params``, fit without uncertainty sampling: CV scores the point
    forecast. With ``warm``, each fit starts from the series' previous one.

    Where it can, the point forecast is computed without a Prophet model
    (forecasting.prophet_points: the same numbers, a third of the time), from each
    fold's arrays, kept in ``arrays_by_size`` (by training size) for the next evaluation."""
    arrays_only = warm is None and prophet_points.supports(config, params)

    def forecast(train: pd.DataFrame, dates: pd.Series) -> np.ndarray:
        if arrays_only:
            try:
                arrays = None  # point_forecast makes them
                if arrays_by_size is not None:
                    if len(train) not in arrays_by_size:
                        arrays_by_size[len(train)] = prophet_points.fold_arrays(train, dates)
                    arrays = arrays_by_size[len(train)]
                return prophet_points.point_forecast(train, dates, config, params, arrays)
            except (prophet_map.NotConverged, np.linalg.LinAlgError) as err:
                # A Prophet model's fit: for a local mode the backend's, which compares it with
                # Stan's answer; else Stan's alone (in process, the same data would give up again)
                fit_config = config if isinstance(err, prophet_map.LocalMode) else replace(
                    config, model=replace(config.model, optimizer="stan"))
                fitted = model.fit(train, fit_config, params, uncertainty_samples=0)
                return model.predict_at(fitted, dates).to_numpy()
        init = warm.get(len(train)) if warm is not None else None
        fitted = model.fit(train, config, params, uncertainty_samples=0, init=init)
        if warm is not None:
            warm.remember(len(train), fitted)
        return model.predict_at(fitted, dates).to_numpy()

    return forecast


def baseline_forecaster(config: JobConfig, name: str) -> Forecaster:
    def forecast(train: pd.DataFrame, dates: pd.Series) -> np.ndarray:
        return baselines.predict_at(name, train, dates, config.forecast.frequency, config.forecast.interval_width)

    return forecast


def at_or_above(forecaster: Forecaster, floor: float | None) -> Forecaster:
    """``forecaster`` with its forecasts raised to the series' ``floor``, as its final
    forecast will be: cross-validation scores what the tables would get."""
    if floor is None:
        return forecaster
    return lambda train, dates: np.maximum(forecaster(train, dates), floor)


@dataclass(frozen=True)
class Fold:
    """One rolling-origin fold: what it trains on, what it scores, and the MASE scale
    of its training part. The same for every evaluation of a series, so made once."""
    train: pd.DataFrame
    test_ds: pd.Series
    test_y: np.ndarray
    scale: float


def make_folds(history: pd.DataFrame, config: JobConfig) -> list[Fold]:
    """The folds of ``history``, oldest first. MASE is scaled by each fold's training
    data, or by the whole history where that is flat (a product launched later: any
    error would be infinitely bad, every candidate alike)."""
    horizon, frequency = cv_horizon(config), config.forecast.frequency
    season = baselines.season_length(frequency)
    # MASE scales by differences between periods: with gaps, each fold's training part on the grid
    whole = baselines.on_grid(history, frequency)
    gaps = len(whole) > len(history)
    count, step = config.cross_validation.folds, cv_step(config)
    positions = period_positions(history, frequency) if gaps else None
    if positions is not None:  # the horizon and step count periods, as the forecast's horizon does
        bounds = period_cutoffs(positions, count, horizon, step)
    else:
        bounds = [(size, size + horizon) for size in cutoffs(len(history), count, horizon, step)]
    folds = []
    for size, stop in bounds:
        train, test = history.iloc[:size], history.iloc[size:stop]
        scale = metrics.mase_scale(baselines.on_grid(train, frequency) if gaps else train["y"], season)
        if not scale > 0:
            scale = metrics.mase_scale(whole, season)
        folds.append(Fold(train, test["ds"], test["y"].to_numpy(dtype="float64"), scale))
    return folds


def period_positions(history: pd.DataFrame, frequency: str) -> np.ndarray | None:
    """Each row's period counted from the series' first; None unless every row is on
    the grid, in order, as cleaning leaves them (then the folds count rows)."""
    grid = pd.date_range(history["ds"].iloc[0], history["ds"].iloc[-1], freq=frequency)
    positions = grid.get_indexer(pd.DatetimeIndex(history["ds"]))
    return positions if (positions >= 0).all() and (np.diff(positions) > 0).all() else None


def cross_validate_predictions(
    history: pd.DataFrame, config: JobConfig, forecaster: Forecaster, folds: list[Fold] | None = None
) -> tuple[dict[str, float], dict[int, np.ndarray]]:
    """The mean of each metric over the rolling folds (``make_folds``, unless given),
    and each fold's predictions, keyed by training size."""
    folds = make_folds(history, config) if folds is None else folds
    if not folds:
        raise ValueError("no cross-validation fold fits in the history")
    fold_scores, predictions = [], {}
    for fold in folds:
        predicted = predictions[len(fold.train)] = forecaster(fold.train, fold.test_ds)
        fold_scores.append(metrics.score(fold.test_y, predicted, fold.scale))
    scores = {name: _mean_of_defined([s[name] for s in fold_scores]) for name in fold_scores[0]}
    return scores, predictions


def _mean_of_defined(values: list[float]) -> float:
    """The mean of the values that are not NaN; NaN if none is (np.nanmean's answer,
    without its warning for every evaluation of a series whose MASE is undefined)."""
    defined = [value for value in values if value == value]
    return float(np.mean(defined)) if defined else float("nan")


def cached_forecaster(predictions: dict[int, np.ndarray]) -> Forecaster:
    """Replays fold predictions computed before (the tuned Prophet's, for the ensemble)."""

    def forecast(train: pd.DataFrame, dates: pd.Series) -> np.ndarray:
        return predictions[len(train)]

    return forecast


def _patience_stop(patience: int):
    """Hyperopt early stop: ``patience`` evaluations in a row without a lower loss
    (a failed evaluation counts as one without)."""

    def stop(trials, best: float = math.inf, stale: int = 0):
        loss = trials.trials[-1]["result"].get("loss", math.inf)
        best, stale = (loss, 0) if loss < best else (best, stale + 1)
        return stale >= patience, [best, stale]

    return stop


def searched_space(config: JobConfig, history: pd.DataFrame) -> dict[str, ParamSpace]:
    """``tuning.search_space`` as ``history`` is tuned over it: without
    ``holidays_prior_scale`` where its model has no holidays (``model.country_holidays``
    null, as its country column may leave it; at monthly periods, none that moved
    between months), a parameter that changes nothing there and would only spread the
    evaluations thinner; without the seasonalities' prior scale where the model has no
    seasonality (yearly data: a year a period), nor their mode without holidays; with yearly
    orders above what the periods tell apart fitted as that order
    (prophet_points.yearly_setting), each tried once."""
    space = config.tuning.search_space
    holidays = model.has_holidays(config, history)
    if "holidays_prior_scale" in space and not holidays:
        space = {name: spec for name, spec in space.items() if name != "holidays_prior_scale"}
    # a model without seasonalities (yearly data): their prior scale changes nothing, nor their mode (which
    # holidays take too) without holidays
    if ({"seasonality_prior_scale", "seasonality_mode"} & set(space) and not set(space) & set(SEASONALITY_SETTINGS)
            and not prophet_points.seasonal(config, history)):
        idle = {"seasonality_prior_scale"} | (set() if holidays else {"seasonality_mode"})
        space = {name: spec for name, spec in space.items() if name not in idle}
    yearly = space.get("yearly_seasonality")
    if yearly is not None:  # orders the periods cannot tell apart are one (months: 10 and 15 are 6), tried once
        # auto left as it is: each fit's history decides it, as in Prophet (true and 1 kept apart: True == 1)
        values = [prophet_points.yearly_setting(value, config.forecast.frequency, None) for value in yearly.values]
        distinct = list({(type(value), value): value for value in values}.values())
        space = {**space, "yearly_seasonality": replace(yearly, values=distinct)}
    return space


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


def tune(history: pd.DataFrame, config: JobConfig, folds: list[Fold] | None = None,
         floor: float | None = None) -> TuningResult:
    """Search the configured space with TPE (seeded) and return the best parameters
    with their cross-validated metrics on ``folds`` (``make_folds``, unless given),
    forecasts raised to ``floor``. An empty space just cross-validates."""
    from hyperopt import STATUS_FAIL, STATUS_OK, Trials, space_eval, tpe
    from hyperopt.fmin import FMinIter

    # Hyperopt's logger announces every trial; the job reports per series instead.
    logging.getLogger("hyperopt").setLevel(logging.WARNING)
    hyperopt_speedups.reuse_tpe_posterior_graph()
    hyperopt_speedups.replay_graph_evaluation()
    tuning = config.tuning
    warm = WarmStarts() if tuning.warm_start else None
    folds = make_folds(history, config) if folds is None else folds
    space = searched_space(config, history)
    if not space:
        forecaster = at_or_above(prophet_forecaster(config, {}, warm), floor)
        try:
            scores, predictions = cross_validate_predictions(history, config, forecaster, folds)
        except Exception as err:  # its one evaluation: the other candidates may still be chosen
            raise EveryEvaluationFailed([repr(err)]) from err
        return TuningResult({}, scores, 1, predictions, warm)
    arrays: dict[int, prophet_points.FoldArrays] = {}  # each fold's, shared by the evaluations

    def objective(params):
        params = _plain(params)
        try:
            forecaster = at_or_above(prophet_forecaster(config, params, warm, arrays), floor)
            scores, predictions = cross_validate_predictions(history, config, forecaster, folds)
        except Exception as err:  # one bad parameter set must not end the search
            logger.debug("parameters %s failed: %s", params, err)
            return {"status": STATUS_FAIL, "error": repr(err)}
        ranked_by = metrics.ranking_metric(tuning.metric, [scores])  # MASE may be undefined for the series
        loss = scores[ranked_by]
        if not math.isfinite(loss):
            return {"status": STATUS_FAIL, "error": f"{ranked_by} is {loss}"}
        return {"status": STATUS_OK, "loss": loss, "scores": scores, "predictions": predictions}

    # what fmin does, with the space's Domain built once per process (hyperopt_speedups)
    space_key = repr(sorted(space.items()))
    domain = hyperopt_speedups.search_domain(space_key, lambda: hyperopt_space(space), objective)
    trials = Trials()
    startup = max(1, min(20, tuning.max_evals // RANDOM_START_DIVISOR))
    try:
        FMinIter(
            partial(tpe.suggest, n_startup_jobs=startup),
            domain,
            trials,
            rstate=np.random.default_rng(tuning.seed),
            max_evals=tuning.max_evals,
            show_progressbar=False,
            early_stop_fn=_patience_stop(tuning.patience) if tuning.patience else None,
        ).exhaust()
    finally:
        domain.fn = None  # the series' data is not kept until the next search
    succeeded = [t for t in trials.trials if t["result"]["status"] == STATUS_OK]
    failed = [str(t["result"].get("error")) for t in trials.trials if t["result"]["status"] != STATUS_OK]
    if not succeeded:
        raise EveryEvaluationFailed(failed)
    best = min(succeeded, key=lambda t: t["result"]["loss"])
    chosen = {name: values[0] for name, values in best["misc"]["vals"].items() if values}
    best_params = _plain(space_eval(domain.expr, chosen))
    result = best["result"]
    return TuningResult(best_params, result["scores"], len(trials.trials), result["predictions"], warm, failed)
