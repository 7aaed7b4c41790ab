"""One series' child run: created (or, on a task retry, found again), filled and
ended by the executor that trained the series, through an ``MlflowClient`` built
from the tracking URI, so nothing per series passes through the driver."""
from __future__ import annotations

import logging
import math
import time
from functools import partial
from typing import Any, Callable

from forecasting import file_store_runs, mlflow_file_store, model_store, plots, run_artifacts, signals
from forecasting.redaction import redact_url_password
from forecasting.series import FAILED, FALLBACK_PREFIX, OK, SeriesOutcome
from forecasting.series_identity import (
    SERIES_HASH_TAG, SERIES_ID_TAG, key_text, series_filter, series_hash, series_id, shortened,
)
from forecasting.tracking import (
    FROM_JOB_TAG, MAX_RUN_NAME, MAX_TAG_VALUE, PARENT_TAG, RUN_DATE_TAG, STATUS_TAG,
    RunContext, client, end_run, param_value, use_context_environment,
)

logger = logging.getLogger(__name__)


# A tracking server gone mid-run costs every series its retries (tracking.max_retries and
# timeout_seconds: minutes each): after this many series in a row whose child run failed, a
# Python worker skips the child runs of the next ones for a while, then tries one again.
FAILURES_BEFORE_PAUSE = 3
PAUSE_SECONDS = 60.0
_failing: dict[str, tuple[int, float]] = {}  # per tracking URI, in this worker: failures in a row, paused until


def tracking_paused(tracking_uri: str) -> str | None:
    """Why this series gets no child run, where the last ones' failed in this worker."""
    failures, until = _failing.get(tracking_uri, (0, 0.0))
    left = until - time.monotonic()
    if failures < FAILURES_BEFORE_PAUSE or left <= 0:
        return None
    return (f"not tried: the child runs of the last {failures} series in this worker failed (tried again in "
            f"{left:.0f} s)")


def record_tracking(tracking_uri: str, logged: bool) -> None:
    """Whether a series' child run was logged, for tracking_paused."""
    if logged:
        _failing.pop(tracking_uri, None)
    else:
        _failing[tracking_uri] = (_failing.get(tracking_uri, (0, 0.0))[0] + 1, time.monotonic() + PAUSE_SECONDS)


def log_series_run(
    context: RunContext,
    keys: dict[str, Any],
    outcome: SeriesOutcome,
    history,
    retry: bool = False,
    model_json: str | None = None,
) -> str:
    """Create (or, on a task retry, reuse), fill and end the child run of one series.
    ``history``: its rows as given (``ds``, ``y``, any order), plotted where the
    outcome has no cleaned series (its cleaning failed)
    ``model_json``: the outcome's model as model_store.dump gives it, if already made."""
    # only this call writes to the series' run meanwhile (a retry's earlier attempt is dead); a stop
    # (Ctrl-C, a scheduler's SIGTERM to the job's group) waits for the run's end: none left RUNNING
    with mlflow_file_store.run_metadata_read_once(), signals.stops_held():
        return _log_series_run(context, keys, outcome, history, retry, model_json)


def _log_series_run(context: RunContext, keys: dict[str, Any], outcome: SeriesOutcome, history, retry: bool,
                    model_json: str | None) -> str:
    from mlflow.entities import Metric, Param, RunTag

    use_context_environment(context)
    tracker = client(context.tracking_uri)
    name = series_id(keys)
    tags = {
        SERIES_ID_TAG: name[:MAX_TAG_VALUE],
        SERIES_HASH_TAG: series_hash(keys),
        RUN_DATE_TAG: context.run_date,
        FROM_JOB_TAG: context.job,
        STATUS_TAG: outcome.status,
        "model": outcome.model_name or "none",
        **{column: key_text(value)[:MAX_TAG_VALUE] for column, value in keys.items()},
    }
    if outcome.reason:
        tags["reason"] = outcome.reason[:MAX_TAG_VALUE]
    if outcome.notes:
        tags["data_notes"] = "; ".join(outcome.notes)[:MAX_TAG_VALUE]
    now = int(time.time() * 1000)
    metrics = [Metric(f"cv_{k}", v, now, 0) for k, v in outcome.cv_metrics.items()]
    metrics += [
        Metric(f"cv_{metric}_{candidate}", value, now, 0)
        for candidate, scores in outcome.candidate_scores.items()
        for metric, value in scores.items()
        if math.isfinite(value)
    ]
    metrics += [
        Metric("fit_seconds", outcome.fit_seconds, now, 0),
        Metric("history_length", float(outcome.history_length), now, 0),
        Metric("evaluations", float(outcome.evaluations), now, 0),
    ]
    params = [Param(k, param_value(v)) for k, v in outcome.best_params.items()]
    run = _earlier_attempt(tracker, context, keys) if retry else None
    ended_as = "FAILED" if outcome.status == FAILED else "FINISHED"  # a failed series' fallback is logged too
    if run is not None and run.info.status == ended_as:
        return run.info.run_id  # the lost attempt had logged this series in full (the search is seeded)
    if run is not None:
        try:  # the retried attempt found the same parameters (the search is seeded)
            batch_tags = [RunTag(k, v) for k, v in tags.items()]
            tracker.log_batch(run.info.run_id, metrics=metrics, params=params, tags=batch_tags)
        except Exception as err:
            # redacted: MLflow's error quotes the URL, and an executor logs without the job's formatter
            logger.warning("cannot reuse run %s of %s (%s); starting a new one", run.info.run_id, name,
                           redact_url_password(str(err)))
            end_run(tracker, run.info.run_id, "FAILED")
            run = None
    if run is None:
        run_id, artifact_uri, end = begin_run(tracker, context, name, tags, params, metrics)
    else:
        run_id, artifact_uri, end = run.info.run_id, run.info.artifact_uri, partial(end_run, tracker, run.info.run_id)
    try:  # from here on a failure ends the run FAILED: no run is left RUNNING
        _log_artifacts(context, keys, outcome, history, model_json, artifact_uri)
    except Exception:
        end("FAILED")
        raise
    end(ended_as)
    return run_id


def begin_run(tracker, context: RunContext, name: str, tags: dict[str, str], params: list,
              metrics: list) -> tuple[str, str, Callable[[str], None]]:
    """A new child run of series ``name`` with its tags (its series_hash among them), params
    and metrics: its id, its artifacts' URI, and how to end it with a status. A local file
    store's is written straight into its folders, found by readers only once ended
    (file_store_runs); another store's is made through MLflow's client, and ended FAILED
    where its data is refused."""
    from mlflow.entities import RunTag

    store = file_store_runs.local_file_store(tracker)
    if store is not None:
        written = file_store_runs.write_run_data(store, context.experiment_id, shortened(name, MAX_RUN_NAME),
                                                 {PARENT_TAG: context.parent_run_id, **tags}, params, metrics)
        return written.run_id, written.artifact_uri, partial(file_store_runs.finish, written)
    # Created with the two tags a retried task finds it by; the rest go in one batch
    # (the file store rereads the run's metadata for every tag given here).
    identity = {PARENT_TAG: context.parent_run_id, SERIES_HASH_TAG: tags[SERIES_HASH_TAG]}
    run = tracker.create_run(context.experiment_id, tags=identity, run_name=shortened(name, MAX_RUN_NAME))
    end = partial(end_run, tracker, run.info.run_id)
    rest = [RunTag(key, value) for key, value in tags.items() if key not in identity]
    if rest or params or metrics:
        try:
            tracker.log_batch(run.info.run_id, metrics=metrics, params=params, tags=rest)
        except Exception:
            end("FAILED")
            raise
    return run.info.run_id, run.info.artifact_uri, end


def _log_artifacts(context: RunContext, keys: dict[str, Any], outcome: SeriesOutcome, history,
                   model_json: str | None, artifact_uri: str) -> None:
    """The series' plot and model, straight to the run's artifact store: MLflow's
    client would read the whole run back to find it."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    files = {}
    if outcome.forecast is not None and context.log_plots:
        title = shortened(", ".join(f"{k}={key_text(v)}" for k, v in keys.items()), 70)
        shown = history if outcome.cleaned is None else outcome.cleaned  # as modelled: merged, aligned
        held_out = outcome.held_out  # an evaluation's: the actuals its forecast is scored against
        if held_out is not None and outcome.history_end is not None:  # the history ends where the fit's did
            shown = shown[shown["ds"] <= outcome.history_end]
        # the run's start during its run date, else the run date's start: where the plot draws it
        svg = plots.forecast_svg(shown, outcome.forecast, f"{title}  (run {context.run_date}): {_said(outcome)}",
                                 outcome.backtest, closed=bool(outcome.closed),
                                 run_date=context.known_until or context.run_date, held_out=held_out)
        files["plots/forecast.svg"] = svg.encode("utf-8")
    if outcome.model is not None and context.log_models:
        model_json = model_json or model_store.dump(outcome.model_name, outcome.model, outcome.floor,
                                                    outcome.closed)
        files.update(run_artifacts.model_files(outcome.model_name, outcome.model, model_json))
    if files:
        run_artifacts.write(get_artifact_repository(artifact_uri), files)


def _said(outcome: SeriesOutcome) -> str:
    """What the plot's title says of the forecast: its model, a fallback's status, its CV MASE,
    and in an evaluation its MASE on the held-out periods first."""
    said = outcome.model_name or "no model"
    if outcome.status != OK:
        said = f"{outcome.status}, fallback {said}"
    scored = outcome.holdout.get(outcome.model_name) or outcome.holdout.get(FALLBACK_PREFIX + str(outcome.model_name))
    held = (scored or {}).get("mase")
    if held is not None and math.isfinite(held):
        said = f"{said}, held-out MASE {held:.2f}"
    mase = outcome.cv_metrics.get("mase")
    return f"{said}, CV MASE {mase:.2f}" if mase is not None and math.isfinite(mase) else said


def _earlier_attempt(tracker, context: RunContext, keys: dict[str, Any]) -> Any:
    """The mlflow Run an earlier, killed attempt of this task made for this series, or None."""
    runs = tracker.search_runs(
        [context.experiment_id],
        filter_string=f"tags.{PARENT_TAG} = '{context.parent_run_id}' and {series_filter(keys)}",
    )
    for extra in runs[1:]:
        end_run(tracker, extra.info.run_id, "FAILED")
    return runs[0] if runs else None
