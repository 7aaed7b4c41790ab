"""MLflow tracking: one parent run per job run, one child run per series.

Child runs are written by the executors themselves through an ``MlflowClient``
built from the tracking URI, so nothing per series passes through the driver.
"""
from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from forecasting import lineage, plots
from forecasting.config import JobConfig
from forecasting.series import SeriesOutcome

logger = logging.getLogger(__name__)

SERIES_ID_TAG = "series_id"
PARENT_TAG = "mlflow.parentRunId"
RUN_DATE_TAG = "run_date"
STATUS_TAG = "status"
JOB_TAG = "job"


@dataclass(frozen=True)
class RunContext:
    """What an executor needs to log a child run; small, so it ships with the task."""

    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    run_date: str
    log_models: bool
    log_plots: bool


def resolve_uri(uri: str) -> str:
    """A bare path becomes an absolute ``file:`` URI, so executors started in other
    working directories write to the same store."""
    if urlparse(uri).scheme in ("", "file"):
        path = urlparse(uri).path if uri.startswith("file:") else uri
        return Path(path).expanduser().resolve().as_uri()
    return uri


def client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def series_id(keys: dict[str, Any]) -> str:
    """A readable identity of a series: its key values joined by '/'."""
    return "/".join(str(value) for value in keys.values())


# --------------------------------------------------------------------------- driver


def start_parent_run(
    config: JobConfig, run_date: str, data_version: dict, job: str = "train_forecast", extra_tags: dict | None = None
) -> RunContext:
    uri = resolve_uri(config.tracking.uri)
    tracker = client(uri)
    experiment = tracker.get_experiment_by_name(config.tracking.experiment)
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else tracker.create_experiment(config.tracking.experiment)
    )
    versions = lineage.package_versions()
    tags = {
        JOB_TAG: job,
        RUN_DATE_TAG: run_date,
        "input_path": config.input.path,
        "data_version": data_version.get("content_sha256") or str(data_version.get("delta_version")),
        "code_version": lineage.code_version(),
        **{f"version.{name}": version for name, version in versions.items()},
        **(extra_tags or {}),
    }
    run = tracker.create_run(experiment_id, tags=tags, run_name=f"{job} {run_date}")
    run_id = run.info.run_id
    from mlflow.entities import Param

    params = [Param(key, _param_value(value)) for key, value in _flatten(config.to_dict()).items()]
    params.append(Param("run_date", run_date))
    for start in range(0, len(params), 100):  # MLflow takes at most 100 params a call
        tracker.log_batch(run_id, params=params[start : start + 100])
    tracker.log_text(run_id, yaml.safe_dump(config.to_dict(), sort_keys=False), "config/resolved.yaml")
    tracker.log_text(run_id, lineage.to_json(data_version), "lineage/data_version.json")
    tracker.log_text(run_id, lineage.to_json(versions), "lineage/packages.json")
    logger.info("MLflow parent run %s in experiment %s at %s", run_id, experiment_id, uri)
    return RunContext(
        tracking_uri=uri,
        experiment_id=experiment_id,
        parent_run_id=run_id,
        run_date=run_date,
        log_models=config.tracking.log_models,
        log_plots=config.tracking.log_plots,
    )


def finish_parent_run(context: RunContext, counts: dict[str, int], wall_seconds: float, failed: bool = False) -> None:
    from mlflow.entities import Metric

    tracker = client(context.tracking_uri)
    now = int(time.time() * 1000)
    values = {f"series_{status}": count for status, count in counts.items()}
    values["series_total"] = sum(counts.values())
    values["wall_seconds"] = wall_seconds
    metrics = [Metric(key, float(value), now, 0) for key, value in values.items()]
    tracker.log_batch(context.parent_run_id, metrics=metrics)
    tracker.set_terminated(context.parent_run_id, status="FAILED" if failed else "FINISHED")


def _flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _param_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


# --------------------------------------------------------------------------- executor


def log_series_run(
    context: RunContext,
    keys: dict[str, Any],
    outcome: SeriesOutcome,
    history,
) -> str:
    """Create, fill and end the child run of one series; return its run id."""
    from mlflow.entities import Metric, Param

    tracker = client(context.tracking_uri)
    name = series_id(keys)
    tags = {
        PARENT_TAG: context.parent_run_id,
        SERIES_ID_TAG: name,
        RUN_DATE_TAG: context.run_date,
        STATUS_TAG: outcome.status,
        "model": "prophet",
        **{column: str(value) for column, value in keys.items()},
    }
    if outcome.reason:
        tags["reason"] = outcome.reason[:5000]
    run = tracker.create_run(context.experiment_id, tags=tags, run_name=name)
    run_id = run.info.run_id
    try:
        now = int(time.time() * 1000)
        metrics = [Metric(f"cv_{k}", v, now, 0) for k, v in outcome.cv_metrics.items()]
        metrics += [
            Metric("fit_seconds", outcome.fit_seconds, now, 0),
            Metric("history_length", float(outcome.history_length), now, 0),
            Metric("evaluations", float(outcome.evaluations), now, 0),
        ]
        params = [Param(k, _param_value(v)) for k, v in outcome.best_params.items()]
        tracker.log_batch(run_id, metrics=metrics, params=params)
        if outcome.forecast is not None and context.log_plots:
            title = ", ".join(f"{k}={v}" for k, v in keys.items()) + f"  (run {context.run_date})"
            figure = plots.forecast_figure(history, outcome.forecast, title)
            tracker.log_figure(run_id, figure, "plots/forecast.png")
        if outcome.model is not None and context.log_models:
            _log_model(tracker, run_id, outcome.model)
    except Exception:
        tracker.set_terminated(run_id, status="FAILED")
        raise
    tracker.set_terminated(run_id, status="FINISHED" if outcome.status != "failed" else "FAILED")
    return run_id


def _log_model(tracker, run_id: str, model) -> None:
    """Save in MLflow's prophet flavor (loadable with ``mlflow.prophet.load_model``).

    Requirements are given explicitly: inferring them imports and scans the
    environment, which costs seconds per series."""
    import mlflow.prophet

    requirements = [f"prophet=={lineage.package_versions()['prophet']}"]
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "model"
        mlflow.prophet.save_model(model, str(target), pip_requirements=requirements)
        tracker.log_artifacts(run_id, str(target), "model")
