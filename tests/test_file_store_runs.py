"""A child run written straight into a local file store: what MLflow's client would have
written, found by readers only once whole."""
import logging

import mlflow
import pytest
import yaml
from mlflow.entities import Metric, Param

from conftest import daily_series
from forecasting import child_runs, file_store_runs, parent_run, tracking
from forecasting.series import train_series

CHANGING = {"run_id", "run_uuid", "artifact_uri", "start_time", "end_time"}  # a run's own id and times


def _run_files(folder) -> dict[str, str]:
    """Every file of a run's folder (artifacts included) by its path, metric timestamps left out."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            name = str(path.relative_to(folder))
            text = path.read_text()
            if name == "meta.yaml":
                text = {key: value for key, value in yaml.safe_load(text).items() if key not in CHANGING}
            elif name.startswith("metrics/"):
                text = text.split(" ", 1)[1]
            files[name] = text
    return files


def test_a_child_run_written_straight_is_the_run_mlflows_client_writes(tmp_path, fast_config, monkeypatch):
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", "selection.candidates=[naive]")
    context = parent_run.start_parent_run(config, "2024-03-31", {})
    history = daily_series(60)
    outcome = train_series(history, config)
    keys = {"region/area": "north", "store": "O'Brien's"}  # a slash is a folder below tags/, as MLflow writes it

    written = child_runs.log_series_run(context, keys, outcome, history)
    monkeypatch.setattr(file_store_runs, "local_file_store", lambda tracker: None)
    through_client = child_runs.log_series_run(context, keys, outcome, history)

    experiment = tmp_path / "mlruns" / context.experiment_id
    straight, mlflows = _run_files(experiment / written), _run_files(experiment / through_client)
    assert "tags/region/area" in straight and "artifacts/plots/forecast.svg" in straight
    assert straight == mlflows
    client = tracking.client(context.tracking_uri)
    runs = client.get_run(written), client.get_run(through_client)
    assert runs[0].data.to_dictionary() == runs[1].data.to_dictionary()
    assert [(run.info.status, run.info.run_name, run.info.user_id) for run in runs] == [("FINISHED", "north/O'Brien's",
                                                                                          "unknown")] * 2
    assert runs[0].info.artifact_uri == (experiment / written / "artifacts").as_uri()
    assert runs[0].info.start_time <= runs[0].info.end_time
    assert mlflow.artifacts.load_text(f"runs:/{written}/plots/forecast.svg").startswith("<svg")


def test_a_run_whose_writing_stopped_is_found_by_no_search_and_its_retry_writes_it_whole(
    tmp_path, fast_config, caplog,
):
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", "selection.candidates=[naive]")
    context = parent_run.start_parent_run(config, "2024-03-31", {})
    history = daily_series(60)
    outcome = train_series(history, config)
    client = tracking.client(context.tracking_uri)
    store = file_store_runs.local_file_store(client)
    # a worker killed after the run's data, before its meta.yaml
    stopped = file_store_runs.write_run_data(store, context.experiment_id, "north", {
        tracking.PARENT_TAG: context.parent_run_id, "store": "north"}, [Param("p", "1")], [Metric("m", 1.0, 0, 0)])
    children = f"tags.{tracking.PARENT_TAG} = '{context.parent_run_id}'"

    with caplog.at_level(logging.DEBUG, logger="forecasting"):
        assert client.search_runs([context.experiment_id], children) == []
        assert client.search_runs([context.experiment_id]) != []  # the parent: the search reads the experiment
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    retried = child_runs.log_series_run(context, {"store": "north"}, outcome, history, retry=True)
    [found] = client.search_runs([context.experiment_id], children)
    assert found.info.run_id == retried != stopped.run_id
    assert found.info.status == "FINISHED" and found.data.metrics["history_length"] == 60


def test_a_name_mlflow_refuses_fails_the_run_before_any_folder_is_made(tmp_path):
    client = tracking.client((tmp_path / "mlruns").as_uri())
    experiment = client.create_experiment("e")
    store = file_store_runs.local_file_store(client)
    before = sorted((tmp_path / "mlruns" / experiment).iterdir())

    with pytest.raises(mlflow.exceptions.MlflowException, match="Invalid value"):
        file_store_runs.write_run_data(store, experiment, "north", {"units (net)": "x"}, [], [])
    with pytest.raises(mlflow.exceptions.MlflowException, match="Duplicate parameter keys"):
        file_store_runs.write_run_data(store, experiment, "north", {}, [Param("p", "1"), Param("p", "2")], [])
    client.delete_experiment(experiment)
    with pytest.raises(mlflow.exceptions.MlflowException, match="not active"):
        file_store_runs.write_run_data(store, experiment, "north", {}, [], [])
    assert sorted((tmp_path / "mlruns" / ".trash" / experiment).iterdir()) == [
        path.parent.parent / ".trash" / experiment / path.name for path in before]


def test_other_stores_get_their_runs_through_mlflows_client(tmp_path):
    assert file_store_runs.local_file_store(tracking.client((tmp_path / "mlruns").as_uri())) is not None
    assert file_store_runs.local_file_store(tracking.client(f"sqlite:///{tmp_path / 'runs.db'}")) is None


def test_a_write_that_fails_leaves_no_folder_and_a_run_whose_folder_went_is_not_finished(tmp_path, monkeypatch):
    from forecasting import file_store_runs as module

    client = tracking.client((tmp_path / "mlruns").as_uri())
    experiment = client.create_experiment("e")
    store = file_store_runs.local_file_store(client)
    folder = tmp_path / "mlruns" / experiment
    before = sorted(folder.iterdir())
    real_write = module._write

    def disk_full(run_folder, folder, key, text):
        if folder == "metrics":
            raise OSError(28, "No space left on device")
        real_write(run_folder, folder, key, text)

    monkeypatch.setattr(module, "_write", disk_full)
    with pytest.raises(OSError, match="No space left"):
        file_store_runs.write_run_data(store, experiment, "north", {"store": "north"}, [], [Metric("m", 1.0, 0, 0)])
    assert sorted(folder.iterdir()) == before
    monkeypatch.undo()

    run = file_store_runs.write_run_data(store, experiment, "north", {"store": "north"}, [], [])
    client.delete_experiment(experiment)  # while the series' artifacts are written
    (folder / run.run_id / "artifacts").mkdir(parents=True)  # as a local artifact write makes it anew
    with pytest.raises(mlflow.exceptions.MlflowException, match="is gone"):
        file_store_runs.finish(run, "FINISHED")
    assert not (folder / run.run_id / "meta.yaml").exists()


def test_a_run_without_a_name_gets_one_as_mlflow_names_it(tmp_path):
    client = tracking.client((tmp_path / "mlruns").as_uri())
    experiment = client.create_experiment("e")
    run = file_store_runs.write_run_data(file_store_runs.local_file_store(client), experiment, "", {}, [], [])
    file_store_runs.finish(run, "FINISHED")
    named = client.get_run(run.run_id)
    assert named.info.run_name and named.data.tags["mlflow.runName"] == named.info.run_name
