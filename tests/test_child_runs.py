"""A series' child run holds a model that MLflow loads and that forecasts what the job did."""
import mlflow
import mlflow.models
import mlflow.prophet
import numpy as np
import pytest

from conftest import daily_series
from forecasting import child_runs, model_store, parent_run
from forecasting.series import train_series


def test_every_series_model_loads_as_its_own_prophet_model(tmp_path, fast_config):
    # the first model of a process is saved by MLflow, later ones reuse its environment files
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", "selection.candidates=[prophet]")
    context = parent_run.start_parent_run(config, "2024-03-31", {})
    uuids = set()
    for seed, level in ((1, 100.0), (2, 500.0), (3, 50.0)):
        history = daily_series(70, level=level, seed=seed)
        outcome = train_series(history, config)
        model_json = model_store.dump(outcome.model_name, outcome.model)
        run_id = child_runs.log_series_run(context, {"store": f"s{seed}"}, outcome, history, model_json=model_json)

        loaded = mlflow.prophet.load_model(f"runs:/{run_id}/model")
        again = loaded.predict(outcome.forecast[["ds"]])
        np.testing.assert_allclose(again["yhat"], outcome.forecast["yhat"], rtol=1e-9)
        local = mlflow.artifacts.download_artifacts(f"runs:/{run_id}/model", dst_path=str(tmp_path / run_id))
        described = mlflow.models.Model.load(local)
        assert described.flavors["prophet"]["data"] == "model.pr"
        assert described.flavors["python_function"]["loader_module"] == "mlflow.prophet"
        uuids.add(described.model_uuid)
    assert len(uuids) == 3


def test_model_requirements_pin_the_installed_versions_without_scanning_every_package(monkeypatch, fast_config):
    # MLflow's own check maps every installed distribution to its modules (0.6 s a
    # process); the template's pins are the installed versions, so it is skipped
    from importlib import metadata

    from mlflow.utils import environment, requirements_utils

    from forecasting import run_artifacts

    monkeypatch.setattr(run_artifacts, "_PROPHET_TEMPLATE", None)
    monkeypatch.setattr(requirements_utils, "_MODULES_TO_PACKAGES", None)
    check = environment.warn_dependency_requirement_mismatches
    outcome = train_series(daily_series(70, level=100.0, seed=1), fast_config("selection.candidates=[prophet]"))

    files, _ = run_artifacts._prophet_model_template(outcome.model)

    pins = files["requirements.txt"].decode().split()
    assert f"prophet=={metadata.version('prophet')}" in pins
    assert f"mlflow=={mlflow.__version__}" in pins
    assert requirements_utils._MODULES_TO_PACKAGES is None  # nothing was scanned
    assert environment.warn_dependency_requirement_mismatches is check  # restored


@pytest.mark.parametrize("failing", ["artifacts", "mlflow_batch"])
def test_a_child_run_whose_logging_fails_ends_failed_not_running(tmp_path, fast_config, monkeypatch, failing):
    from mlflow import MlflowClient

    from forecasting import file_store_runs, run_artifacts

    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", "selection.candidates=[naive]")
    context = parent_run.start_parent_run(config, "2024-03-31", {})
    history = daily_series(30)
    outcome = train_series(history, config)

    def refused(*args, **kwargs):  # a full disk, or a server that refuses the batch
        raise mlflow.exceptions.MlflowException(f"{failing} refused")

    if failing == "artifacts":  # the run written straight into the store's folders
        monkeypatch.setattr(run_artifacts, "write", refused)
    else:  # through MLflow's client, as a store this package does not write itself
        monkeypatch.setattr(file_store_runs, "local_file_store", lambda tracker: None)
        monkeypatch.setattr(MlflowClient, "log_batch", refused)
    with pytest.raises(mlflow.exceptions.MlflowException, match=f"{failing} refused"):
        child_runs.log_series_run(context, {"store": "north"}, outcome, history)
    monkeypatch.undo()
    [child] = MlflowClient(context.tracking_uri).search_runs(
        [context.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{context.parent_run_id}'"
    )
    assert child.info.status == "FAILED"
    assert ("store" in child.data.tags) == (failing == "artifacts")  # a refused batch's tags were not written


def test_a_run_on_its_run_date_knows_data_up_to_its_own_start_and_a_past_run_date_up_to_its_end(tmp_path, fast_config):
    import datetime as dt

    import pandas as pd

    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}")
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    context = parent_run.start_parent_run(config, today, {})
    started = pd.Timestamp(mlflow.MlflowClient(context.tracking_uri).get_run(context.parent_run_id).info.start_time,
                           unit="ms")
    if started.date().isoformat() == today:  # not when the clock passed midnight meanwhile
        assert pd.Timestamp(context.known_until) == started
    assert parent_run.start_parent_run(config, "2024-03-31", {}).known_until is None  # cleaning cuts at its end


def test_a_plots_title_says_the_model_a_fallbacks_status_and_the_cv_mase_where_there_is_one():
    from types import SimpleNamespace

    said = child_runs._said
    assert said(SimpleNamespace(model_name="prophet", status="ok", cv_metrics={"mase": 0.8123}, holdout={})) == \
        "prophet, CV MASE 0.81"
    assert said(SimpleNamespace(model_name="seasonal_naive", status="skipped", cv_metrics={}, holdout={})) == \
        "skipped, fallback seasonal_naive"
    assert said(SimpleNamespace(model_name=None, status="failed", cv_metrics={"mase": float("nan")}, holdout={})) == \
        "failed, fallback no model"
    # an evaluation's: the held-out MASE first, a fallback's under its prefixed name
    fallback = SimpleNamespace(model_name="naive", status="skipped", cv_metrics={}, holdout={"fallback_naive": {
        "mase": 1.234}})
    assert said(fallback) == "skipped, fallback naive, held-out MASE 1.23"
