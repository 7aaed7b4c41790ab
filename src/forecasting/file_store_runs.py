"""A child run written straight into a local MLflow file store, in the store's own layout.

Through MLflow's client a child run costs the file store some 60 file operations that
mostly check or reread what it has just written: ``create_run`` reads the whole run
back, every tag and batch call rereads its meta.yaml, ``end_run`` rewrites it. That was
more than half of what tracking a series cost. Here the run's tags, params and metrics
are checked as MLflow's ``log_batch`` checks them and written once, and its meta.yaml,
already ended, last: the store skips a run folder without meta.yaml, so a reader finds
the run whole or not at all. A worker killed while writing leaves a folder no search
finds, and the retried task writes the run anew.

Other stores (a tracking server, a database) get their runs through MLflow's client."""
from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass

from forecasting import child_run_names, mlflow_file_store
from forecasting.series_identity import SERIES_HASH_TAG

# The file store's private helpers used here: a store without any of them (another
# MLflow's layout) gets its runs through MLflow's client.
_STORE_HELPERS = ("_get_run_dir", "_get_artifact_dir", "_writeable_value")


@dataclass(frozen=True)
class NewRun:
    """A run whose data is written and whose meta.yaml is not yet: invisible to readers."""
    run_id: str
    experiment_id: str
    run_name: str
    folder: str
    artifact_uri: str
    start_time: int


def local_file_store(tracker):
    """The client's store where it is MLflow's file store, else None."""
    from mlflow.store.tracking.file_store import FileStore

    store = getattr(getattr(tracker, "_tracking_client", None), "store", None)
    if isinstance(store, FileStore) and all(hasattr(store, helper) for helper in _STORE_HELPERS):
        return store
    return None


def write_run_data(store, experiment_id: str, run_name: str, tags: dict[str, str], params: list,
                   metrics: list) -> NewRun:
    """A new run's tags (its name's tag added), params and metrics, checked as
    ``log_batch`` checks them (MLflow's errors), written in its folder."""
    from mlflow.entities import LifecycleStage, RunTag
    from mlflow.exceptions import MlflowException
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME
    from mlflow.utils.name_utils import _generate_random_name
    from mlflow.utils.validation import _validate_batch_log_data, _validate_param_keys_unique

    experiment = store.get_experiment(experiment_id)
    if experiment is None or experiment.lifecycle_stage != LifecycleStage.ACTIVE:
        raise MlflowException(f"Could not create run under experiment with ID {experiment_id}: "
                              f"{'no such experiment exists' if experiment is None else 'it is not active'}.")
    run_name = run_name or _generate_random_name()  # as MLflow names a run given none
    series_hash = tags.get(SERIES_HASH_TAG)
    tags = [RunTag(key, value) for key, value in {**tags, MLFLOW_RUN_NAME: run_name}.items()]
    metrics, params, tags = _validate_batch_log_data(metrics, params, tags)
    _validate_param_keys_unique(params)
    run_id = child_run_names.child_run_id(series_hash)  # named so that searches pass it over by name
    run = NewRun(run_id, experiment_id, run_name, store._get_run_dir(experiment_id, run_id),
                 store._get_artifact_dir(experiment_id, run_id), int(time.time() * 1000))
    os.mkdir(run.folder)
    try:
        for folder in ("metrics", "params", "tags", "artifacts"):  # as create_run leaves a run's folder
            os.mkdir(os.path.join(run.folder, folder))
        for folder, entries in (("tags", tags), ("params", params)):
            for entry in entries:
                _write(run.folder, folder, entry.key, store._writeable_value(entry.value))
        for metric in metrics:
            _write(run.folder, "metrics", metric.key, f"{metric.timestamp} {metric.value} {metric.step}\n")
    except BaseException:  # a full disk: no half-written folder left behind
        shutil.rmtree(run.folder, ignore_errors=True)
        raise
    return run


def finish(run: NewRun, status: str) -> None:
    """The run's meta.yaml, ended with ``status``: from here on readers find it."""
    from mlflow.entities import LifecycleStage, RunInfo
    from mlflow.exceptions import MlflowException
    from mlflow.store.tracking.file_store import _make_persisted_run_info_dict
    from mlflow.utils.file_utils import write_yaml

    info = RunInfo(run_uuid=run.run_id, run_id=run.run_id, run_name=run.run_name, experiment_id=run.experiment_id,
                   user_id="unknown", status=status, start_time=run.start_time, end_time=int(time.time() * 1000),
                   lifecycle_stage=LifecycleStage.ACTIVE, artifact_uri=run.artifact_uri)
    if not os.path.isdir(os.path.join(run.folder, "tags")):  # a local artifact write would make the folder anew
        raise MlflowException(f"run {run.run_id}'s folder {run.folder} is gone (its experiment deleted or moved "
                              "while the run was written)")
    partial = os.path.join(run.folder, f".meta.{uuid.uuid4().hex}.partial.yaml")
    mlflow_file_store.write_then_rename(partial, os.path.join(run.folder, "meta.yaml"), lambda: write_yaml(
        run.folder, os.path.basename(partial), _make_persisted_run_info_dict(info), ensure_yaml_extension=False))


def _write(run_folder: str, folder: str, key: str, text: str) -> None:
    """One tag's, param's or metric's file; a key with a slash is a path below the
    folder, as in MLflow's store."""
    path = os.path.join(run_folder, folder, key)
    if "/" in key:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        file.write(text)
