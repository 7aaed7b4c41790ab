"""What a user might write on one machine instead of Spark: the benchmark's multiprocessing variant.

A program of its own, timed like the job from its start to its last file written: it
reads the same input, trains and tracks every series with the job's per-series work in a
``multiprocessing.Pool`` (the platform's default start method: on Linux the workers fork
with the modules already imported) and writes the forecasts and one result row per series
as parquet.

    python scripts/benchmark_multiprocessing.py INPUT.parquet OUTPUT_FOLDER CONFIG.yaml CORES
"""
import logging
import multiprocessing
import sys
import time
from collections import Counter
from functools import partial
from pathlib import Path

import pandas as pd

from forecasting import child_runs, model, model_store, parent_run, series_identity, tracking
from forecasting.config import JobConfig, load_config
from forecasting.python_worker import load_training_modules
from forecasting.series import train_series


def train_and_track(item: tuple[str, pd.DataFrame], config: JobConfig, context: tracking.RunContext):
    name, group = item
    keys = {"series": name}
    history = group[["ds", "y"]]
    series_id = series_identity.series_id(keys)
    outcome = train_series(history, config, seed=model.series_seed(series_id), name=f"series {series_id}")  # as the job
    model_json = (model_store.dump(outcome.model_name, outcome.model, outcome.floor)
                  if outcome.model is not None else None)
    run_id = child_runs.log_series_run(context, keys, outcome, history, model_json=model_json)
    result = {"series": name, "status": outcome.status, "reason": outcome.reason, "model": outcome.model_name,
              "params": str(outcome.best_params), "model_json": model_json, "run_id": run_id}
    forecast = outcome.forecast.assign(series=name) if outcome.forecast is not None else None  # a failed series
    return forecast, result


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    data, out, config_path, cores = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    started = time.perf_counter()
    load_training_modules()  # Prophet, Hyperopt, MLflow: imported once, before the pool forks
    config = load_config(config_path)
    history = pd.read_parquet(data)
    groups = sorted(history.groupby("series"), key=lambda item: -len(item[1]))  # big series first
    context = parent_run.start_parent_run(config, "2026-01-01", {"source": str(data)})
    with multiprocessing.Pool(cores) as pool:
        done = pool.map(partial(train_and_track, config=config, context=context), groups, chunksize=1)
    out.mkdir(parents=True, exist_ok=True)
    pd.concat([forecast for forecast, _ in done if forecast is not None]).to_parquet(
        out / "forecasts.parquet", index=False
    )
    pd.DataFrame([result for _, result in done]).to_parquet(out / "series_results.parquet", index=False)
    statuses = Counter(result["status"] for _, result in done)
    parent_run.finish_parent_run(context, dict(statuses), time.perf_counter() - started)


if __name__ == "__main__":
    main()
