"""MLflow's file store, looking entries up by name instead of listing their folder."""
import os

import pytest
from mlflow.utils import file_utils

from conftest import daily_series
from forecasting import child_run_names, child_runs, file_store_runs, mlflow_file_store, parent_run, tracking
from forecasting.series import train_series
from forecasting.series_identity import series_hash


def through_mlflows_client(monkeypatch):
    """Child runs made by MLflow's client calls, as for a retried task that fills in its earlier
    attempt's run, not written straight into the store's folders (file_store_runs)."""
    monkeypatch.setattr(file_store_runs, "local_file_store", lambda tracker: None)


def test_a_lookup_by_name_answers_what_the_listing_answers(tmp_path):
    from mlflow.store.tracking import file_store

    mlflow_file_store.look_up_entries_by_name()
    (tmp_path / "0a1b").mkdir()
    (tmp_path / "meta.yaml").write_text("name: x\n")
    for name in ("0a1b", "meta.yaml", "missing", "..", "0a1b/../0a1b", ""):
        for full_path in (False, True):
            expected = file_utils.find(str(tmp_path), name, full_path=full_path)
            assert file_store.find(str(tmp_path), name, full_path=full_path) == expected, name
    with pytest.raises(Exception, match="Invalid parent directory"):
        file_store.find(str(tmp_path / "absent"), "0a1b")


def test_a_child_run_is_logged_without_listing_its_experiment_folder(tmp_path, fast_config, monkeypatch):
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", "selection.candidates=[naive]")
    context = parent_run.start_parent_run(config, "2024-03-31", {})
    history = daily_series(60)
    outcome = train_series(history, config)
    experiment_folder = os.path.realpath(tmp_path / "mlruns" / context.experiment_id)
    listed, listdir = [], os.listdir
    monkeypatch.setattr(os, "listdir", lambda path=".": listed.append(os.path.realpath(path)) or listdir(path))

    run_id = child_runs.log_series_run(context, {"store": "north"}, outcome, history)

    assert experiment_folder not in listed
    run = tracking.client(context.tracking_uri).get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["store"] == "north"
    assert run.data.metrics["history_length"] == len(history)
    file_utils.find(experiment_folder, run_id)  # the spy sees a listing when there is one
    assert experiment_folder in listed


def test_runs_are_found_in_a_deleted_and_a_restored_experiment(tmp_path):
    tracker = tracking.client((tmp_path / "mlruns").as_uri())
    experiment = tracker.create_experiment("to-delete")
    run_id = tracker.create_run(experiment).info.run_id
    tracker.delete_experiment(experiment)  # moves its folder to .trash
    assert tracker.get_run(run_id).info.lifecycle_stage == "deleted"
    tracker.restore_experiment(experiment)
    tracker.set_tag(run_id, "seen", "after the restore")
    assert tracker.get_run(run_id).data.tags["seen"] == "after the restore"
    with pytest.raises(Exception, match="not found"):
        tracker.get_run("0" * 32)


def test_a_child_run_reads_its_metadata_once_and_ends_with_what_was_written(tmp_path, fast_config, monkeypatch):
    from mlflow.store.tracking.file_store import FileStore

    through_mlflows_client(monkeypatch)
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", "selection.candidates=[naive]")
    context = parent_run.start_parent_run(config, "2024-03-31", {})
    history = daily_series(60)
    outcome = train_series(history, config)
    reads, read = [], FileStore._get_run_info_from_dir
    monkeypatch.setattr(FileStore, "_get_run_info_from_dir", lambda self, run_dir: reads.append(run_dir) or read(self, run_dir))

    run_id = child_runs.log_series_run(context, {"store": "north"}, outcome, history)

    assert len(reads) == 1  # the store's own calls would read it 7 times
    run = tracking.client(context.tracking_uri).get_run(run_id)  # outside the logging: read afresh
    assert len(reads) >= 2
    assert run.info.status == "FINISHED" and run.info.run_name == "north" and run.info.end_time
    assert run.data.tags["store"] == "north" and run.data.tags[tracking.PARENT_TAG] == context.parent_run_id


def test_a_child_run_finds_its_experiment_folder_once(tmp_path, fast_config, monkeypatch):
    from mlflow.store.tracking import file_store

    through_mlflows_client(monkeypatch)
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", "selection.candidates=[naive]")
    context = parent_run.start_parent_run(config, "2024-03-31", {})
    history = daily_series(60)
    outcome = train_series(history, config)
    mlflow_file_store.look_up_entries_by_name()
    lookups, find = [], file_store.find

    def counting(root, name, full_path=False):
        lookups.append(name)
        return find(root, name, full_path)

    counting.by_name = True  # already the lookup by name: left in place
    monkeypatch.setattr(file_store, "find", counting)

    run_id = child_runs.log_series_run(context, {"store": "north"}, outcome, history)

    assert lookups.count(context.experiment_id) == 1  # some 25 times by the store's own calls
    client = tracking.client(context.tracking_uri)
    assert client.get_run(run_id).info.status == "FINISHED"
    assert lookups.count(context.experiment_id) > 1  # outside the logging: looked up afresh


def test_a_child_run_reads_its_experiment_once_and_writes_its_metadata_only_when_it_changes(
    tmp_path, fast_config, monkeypatch,
):
    from mlflow.store.tracking import file_store
    from mlflow.store.tracking.file_store import FileStore

    through_mlflows_client(monkeypatch)
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", "selection.candidates=[naive]")
    context = parent_run.start_parent_run(config, "2024-03-31", {})
    history = daily_series(60)
    outcome = train_series(history, config)
    tracking.client(context.tracking_uri)  # the store's patches are in place
    experiment_folder = os.path.realpath(tmp_path / "mlruns" / context.experiment_id)
    experiment_reads, written = [], []
    read_yaml = FileStore._read_yaml

    def counting_read(root, name, *args):
        if os.path.realpath(root) == experiment_folder:
            experiment_reads.append(name)
        return read_yaml(root, name, *args)

    monkeypatch.setattr(FileStore, "_read_yaml", staticmethod(counting_read))
    write_yaml = file_store.write_yaml
    monkeypatch.setattr(file_store, "write_yaml",
                        lambda root, name, data, **kwargs: written.append(dict(data)) or write_yaml(root, name, data, **kwargs))

    run_id = child_runs.log_series_run(context, {"store": "north"}, outcome, history)

    assert experiment_reads == ["meta.yaml"]  # the store's own calls read it twice
    # meta.yaml written when the run is created and when it ends; not again when
    # create_run sets the run's name tag, which leaves it as it was
    assert [meta["status"] for meta in written] == [1, 3]  # RUNNING, FINISHED
    run = tracking.client(context.tracking_uri).get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "north"
    assert run.data.tags["mlflow.runName"] == "north"
    assert FileStore(str(tmp_path / "mlruns")).get_experiment(context.experiment_id).name == config.tracking.experiment


KILLED_MIDWAY = """
import os, sys
import yaml
from mlflow.entities import Metric
from forecasting import tracking

tracker = tracking.client(sys.argv[1])  # the file store's patches
experiment = tracker.get_experiment_by_name("e") or tracker.create_experiment("e")
JOB = {"job": "train_forecast", "run_date": "2024-03-31"}  # the tags a rerun finds its date's runs by
finished = tracker.create_run(experiment, run_name="finished", tags=JOB)
tracker.log_batch(finished.info.run_id, metrics=[Metric("mase", 0.9, 0, 0)])
tracker.set_terminated(finished.info.run_id)
if sys.argv[2] == "meta.yaml":  # killed while a new run's meta.yaml is written
    yaml.dump = lambda *args, **kwargs: os._exit(9)
    tracker.create_run(experiment, run_name="killed", tags=JOB)
else:  # killed while a run's first metric file is written
    started = tracker.create_run(experiment, run_name="killed", tags=JOB)
    os.replace = lambda *args: os._exit(9)
    tracker.log_batch(started.info.run_id, metrics=[Metric("mase", 1.1, 0, 0)])
"""


@pytest.mark.parametrize("killed_writing", ["meta.yaml", "metric"])
def test_a_job_killed_while_writing_a_run_leaves_the_experiment_searchable(tmp_path, killed_writing):
    """A rerun's first step searches the experiment for the runs the killed job left RUNNING."""
    import subprocess
    import sys

    uri = (tmp_path / "mlruns").as_uri()
    done = subprocess.run([sys.executable, "-c", KILLED_MIDWAY, uri, killed_writing], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 9, done.stderr[-2000:]

    client = tracking.client(uri)
    experiment = client.get_experiment_by_name("e").experiment_id
    runs = {run.info.run_name: run for run in client.search_runs([experiment])}
    assert runs["finished"].data.metrics == {"mase": 0.9}
    if killed_writing == "meta.yaml":
        assert set(runs) == {"finished"}  # a run without its meta.yaml: skipped as malformed
        # written to a temporary name and renamed: no run is left with a half-written (empty) one
        assert all((path.stat().st_size > 0) for path in (tmp_path / "mlruns" / experiment).glob("*/meta.yaml"))
    else:
        assert runs["killed"].data.metrics == {} and runs["killed"].info.status == "RUNNING"
    parent_run.end_stale_runs(client, experiment, "train_forecast", "2024-03-31")  # the rerun's first step
    after = {run.info.run_name: run for run in client.search_runs([experiment])}
    assert after["finished"].info.status == "FINISHED" and "ended_by" not in after["finished"].data.tags
    if killed_writing == "metric":
        assert after["killed"].info.status == "FAILED"
        assert after["killed"].data.tags["ended_by"] == "a later train_forecast run of 2024-03-31"


def test_a_run_left_with_an_empty_meta_yaml_is_left_out_of_searches_with_a_warning(tmp_path, caplog):
    """As a job killed mid-write left it before meta.yaml was written atomically."""
    uri = (tmp_path / "mlruns").as_uri()
    client = tracking.client(uri)
    experiment = client.create_experiment("e")
    left_running = {"job": "train_forecast", "run_date": "2024-03-31"}  # by a killed job of that date
    kept = client.create_run(experiment, run_name="kept", tags=left_running).info.run_id
    damaged = client.create_run(experiment, run_name="damaged", tags=left_running).info.run_id
    damaged_folder = tmp_path / "mlruns" / experiment / damaged
    (damaged_folder / "meta.yaml").write_text("")

    with caplog.at_level("WARNING", logger="forecasting.mlflow_file_store"):
        found = client.search_runs([experiment])
    assert [run.info.run_id for run in found] == [kept]
    assert str(damaged_folder) in caplog.text and "empty meta.yaml" in caplog.text
    parent_run.end_stale_runs(client, experiment, "train_forecast", "2024-03-31")  # what the rerun does first
    ended = client.get_run(kept)  # past the damaged one
    assert ended.info.status == "FAILED" and ended.data.tags["ended_by"] == "a later train_forecast run of 2024-03-31"


def test_a_search_for_tags_reads_only_the_runs_whose_tag_files_can_match(tmp_path, monkeypatch):
    from mlflow.entities import ViewType
    from mlflow.store.tracking.file_store import FileStore

    client = tracking.client(str(tmp_path / "mlruns"))  # patches the store
    experiment = client.create_experiment("searched")
    parents = [client.create_run(experiment, tags={"job": job, "run_date": "2024-03-31"}).info.run_id
               for job in ("train_forecast", "score_forecast")]
    for i in range(12):
        client.create_run(experiment, tags={"mlflow.parentRunId": parents[i % 2], "store": ["a", "O'Brien", "b"][i % 3]})
    client.set_terminated(parents[0])
    client.create_run(experiment, tags={"start_time": "x"})  # found by tags.created, MLflow's alias
    client.delete_run(client.create_run(experiment, tags={"job": "train_forecast"}).info.run_id)
    (tmp_path / "mlruns" / experiment / "not-a-run").mkdir()  # a stray folder, no meta.yaml
    store = client._tracking_client.store
    read = []
    original_read = FileStore._get_run_info_from_dir
    monkeypatch.setattr(FileStore, "_get_run_info_from_dir", lambda self, path: read.append(path) or original_read(self, path))
    searches = [
        "tags.job = 'train_forecast' and tags.run_date = '2024-03-31' and attributes.status = 'FINISHED'",
        "tags.job LIKE '%'",
        f"tags.mlflow.parentRunId = '{parents[1]}' and attributes.status = 'RUNNING'",
        "tags.store = \"O'Brien\"",
        "tags.store != 'a'",  # no tag to read first: MLflow's own search
        "tags.created = 'x'",  # MLflow reads this name as start_time's: its own search too
        f"tags.`{'k' * 300}` = 'a'",  # a name no file can have: no such tag
        "attributes.status = 'RUNNING'",
    ]
    for text in searches:
        for view in (ViewType.ACTIVE_ONLY, ViewType.ALL):
            read.clear()
            mine = store._search_runs([experiment], text, view, 1000, ["attributes.start_time DESC"], None)
            theirs = FileStore._search_runs.original(store, [experiment], text, view, 1000,
                                                     ["attributes.start_time DESC"], None)
            assert [run.info.run_id for run in mine[0]] == [run.info.run_id for run in theirs[0]], text
    # a parent run's search reads the parent runs alone, not the children
    read.clear()
    client.search_runs([experiment], "tags.job LIKE '%'")
    assert len(read) == 3 and len(client.search_runs([experiment], "tags.job LIKE '%'", ViewType.ALL)) == 3
    # and a parent's RUNNING children: only those are read in full, not every child of the parent
    for child in client.search_runs([experiment], f"tags.mlflow.parentRunId = '{parents[0]}'")[1:]:
        client.set_terminated(child.info.run_id)
    full = []
    original_full = FileStore._get_run_from_info
    monkeypatch.setattr(FileStore, "_get_run_from_info",
                        lambda self, info: full.append(info) or original_full(self, info))
    running = client.search_runs([experiment],
                                 f"tags.mlflow.parentRunId = '{parents[0]}' and attributes.status = 'RUNNING'")
    assert len(running) == len(full) == 1


def test_searches_for_job_runs_and_for_a_series_pass_the_child_runs_written_straight_over_by_name(
    tmp_path, monkeypatch,
):
    import uuid

    from mlflow.store.tracking.file_store import FileStore

    client = tracking.client(str(tmp_path / "mlruns"))  # patches the store
    experiment = client.create_experiment("searched")
    folder = tmp_path / "mlruns" / experiment
    parent = client.create_run(experiment, tags={"job": "train_forecast"}).info.run_id
    store = file_store_runs.local_file_store(client)
    hashes = {name: series_hash({"store": name}) for name in ("north", "south")}
    children = {}
    for name, digest in hashes.items():
        written = file_store_runs.write_run_data(store, experiment, name, {
            "mlflow.parentRunId": parent, "from_job": "train_forecast", "series_hash": digest}, [], [])
        file_store_runs.finish(written, "FINISHED")
        children[name] = written.run_id
    old_child = client.create_run(experiment, tags={"mlflow.parentRunId": parent,  # as MLflow names a run
                                                    "series_hash": hashes["north"]}).info.run_id
    assert [uuid.UUID(run_id).version for run_id in children.values()] == [8, 8] and uuid.UUID(old_child).version == 4
    assert all(children[name][:12] == hashes[name][:12] for name in hashes)
    assert all(len(run_id) == 32 and not child_run_names.named_as_child_run(run_id) for run_id in (parent, old_child))
    looked_at = []
    original_isfile = os.path.isfile
    monkeypatch.setattr(os.path, "isfile", lambda path: looked_at.append(path) or original_isfile(path))

    found = client.search_runs([experiment], "tags.job LIKE '%'")

    assert [run.info.run_id for run in found] == [parent]
    assert {os.path.relpath(path, folder).split(os.sep)[0] for path in looked_at} == {parent, old_child}  # no child's
    # a series' runs: the other series' children are passed over by their names, unread. Shown with
    # south's tag file rewritten to north's hash, which MLflow's own search then finds
    (folder / children["south"] / "tags" / "series_hash").write_text(hashes["north"])
    north = f"tags.series_hash = '{hashes['north']}'"
    assert sorted(run.info.run_id for run in client.search_runs([experiment], north)) == sorted(
        [children["north"], old_child])
    theirs = FileStore._search_runs.original(store, [experiment], north, 1, 1000, [], None)[0]
    assert children["south"] in [run.info.run_id for run in theirs]
    # and children are found by their other tags as before
    assert sorted(run.info.run_id for run in client.search_runs([experiment], "tags.from_job = 'train_forecast'")) == (
        sorted(children.values()))


def test_a_tag_rewritten_while_it_is_read_is_read_whole(tmp_path):
    # the review of 12-06: a live run's heartbeat, rewritten every minute, read empty by a rerun (truncated, then
    # written), which took the run for dead
    import threading

    tracker = tracking.client((tmp_path / "mlruns").as_uri())  # the file store's patches
    run_id = tracker.create_run(tracker.create_experiment("e"), tags={"heartbeat": "2026-12-06T00:00:00"}).info.run_id
    stop = threading.Event()

    def beat():
        while not stop.is_set():
            tracker.set_tag(run_id, "heartbeat", "2026-12-06T00:00:01")

    writer = threading.Thread(target=beat)
    writer.start()
    try:
        read = {tracker.get_run(run_id).data.tags["heartbeat"] for _ in range(300)}
    finally:
        stop.set()
        writer.join()
    assert "" not in read and read <= {"2026-12-06T00:00:00", "2026-12-06T00:00:01"}
    # no temporary file left among the tags, nor in the run's folder
    run_folder = next((tmp_path / "mlruns").glob(f"*/{run_id}"))
    assert sorted(path.name for path in (run_folder / "tags").iterdir()) == sorted(tracker.get_run(run_id).data.tags)
    assert not list(run_folder.glob(".tag.*"))


KILLED_REGISTERING = """
import os
import sys

import yaml
from forecasting import tracking

tracker = tracking.client(sys.argv[1])  # the file store's patches, the local registry's too
tracker.create_registered_model("m")
tracker.create_model_version("m", source=sys.argv[2])
dump = yaml.dump


def killed_in_version_2(data, stream=None, **kwargs):  # killed while version 2's meta.yaml is written
    if "version-2" in getattr(stream, "name", ""):
        os._exit(9)
    return dump(data, stream, **kwargs)


yaml.dump = killed_in_version_2
tracker.create_model_version("m", source=sys.argv[2])
"""


def test_a_job_killed_while_registering_a_version_leaves_the_registry_usable(tmp_path):
    # the review of 12-06: an empty version meta.yaml failed every later search and registration of the model
    import subprocess
    import sys

    uri, source = (tmp_path / "mlruns").as_uri(), str(tmp_path)
    done = subprocess.run([sys.executable, "-c", KILLED_REGISTERING, uri, source], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 9, done.stderr[-2000:]
    tracker = tracking.client(uri)
    assert [int(version.version) for version in tracker.search_model_versions("name = 'm'")] == [1]
    assert int(tracker.create_model_version("m", source=source).version) == 2  # the next run registers again
