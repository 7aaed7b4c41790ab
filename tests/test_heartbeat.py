"""A parent run's heartbeat: a rerun of its date tells a run still going from one a kill left RUNNING."""
import datetime as dt
import os
import socket
import subprocess
import sys
import time

import pytest

from forecasting import heartbeat, parent_run, tracking


def tags(pid: int, age_seconds: float = 5, host: str | None = None, space: str | None = None) -> dict[str, str]:
    beat = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=age_seconds)
    return {heartbeat.HOST_TAG: host or socket.gethostname(), heartbeat.PID_TAG: str(pid),
            heartbeat.PROCESS_SPACE_TAG: heartbeat.process_space() if space is None else space,
            heartbeat.HEARTBEAT_TAG: beat.isoformat(timespec="seconds")}


@pytest.fixture
def other_process():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def test_a_run_is_going_where_its_heartbeat_is_recent_and_its_process_alive(other_process):
    said = heartbeat.still_going(tags(other_process.pid))
    assert said.startswith(f"on {socket.gethostname()} (process {other_process.pid}), its last heartbeat ")
    assert heartbeat.still_going(tags(other_process.pid, host="elsewhere")).startswith("on elsewhere")  # untold: beat
    # taken for dead: beats stopped long ago, no heartbeat (a run from before them), its process gone, this process
    assert heartbeat.still_going(tags(other_process.pid, age_seconds=heartbeat.DEAD_AFTER_SECONDS + 1)) is None
    assert heartbeat.still_going({}) is None
    assert heartbeat.still_going(tags(os.getpid())) is None
    other_process.kill()
    other_process.wait()
    assert heartbeat.still_going(tags(other_process.pid)) is None
    assert heartbeat.still_going(tags(other_process.pid, host="elsewhere")) is not None
    # another container with this host name (host networking): its pids are its own, its heartbeat tells
    assert heartbeat.still_going(tags(other_process.pid, space="other-boot pid:[1]")) is not None
    assert heartbeat.still_going(tags(os.getpid(), space="other-boot pid:[1]")) is not None


def test_a_rerun_beside_a_run_still_going_stops_before_it_ends_that_run(tmp_path, fast_config, other_process):
    # a manual rerun beside the scheduled run had ended it as killed and removed its staged results
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'out'}")
    store = tracking.client((tmp_path / "mlruns").as_uri())
    experiment = store.create_experiment(config.tracking.experiment)
    going = store.create_run(experiment, tags={
        tracking.JOB_TAG: tracking.TRAIN_JOB, tracking.RUN_DATE_TAG: "2024-03-31",
        tracking.OUTPUT_PATH_TAG: str(tmp_path / "out"), **tags(other_process.pid)}).info.run_id
    with pytest.raises(heartbeat.StillRunning, match=rf"another train_forecast run of 2024-03-31 writing {tmp_path}/out "
                                                     rf"is still going \(MLflow run {going}, on .*: two runs of one "
                                                     "date would replace each other's rows"):
        parent_run.start_parent_run(config, "2024-03-31", {})
    assert store.get_run(going).info.status == "RUNNING"
    assert [run.info.run_id for run in store.search_runs([experiment])] == [going]  # no run of its own started
    other_process.kill()
    other_process.wait()
    context = parent_run.start_parent_run(config, "2024-03-31", {})  # killed: ended as before
    assert store.get_run(going).info.status == "FAILED"
    started = store.get_run(context.parent_run_id).data.tags
    assert (started[heartbeat.HOST_TAG], started[heartbeat.PID_TAG]) == (socket.gethostname(), str(os.getpid()))
    parent_run.finish_parent_run(context, {"ok": 1}, 1.0)


def test_of_two_runs_started_at_once_each_stops_where_it_sees_the_other_once_its_run_is_made(
        tmp_path, fast_config, other_process, monkeypatch):
    # both searched before either had made its run, and both went on (the review of 12-06): the search is done
    # again once the run is made, and a run that sees the other going stops, whichever started first by its clock
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'out'}")
    store = tracking.client((tmp_path / "mlruns").as_uri())
    experiment = store.create_experiment(config.tracking.experiment)
    now = int(time.time() * 1000)

    def other_run(start_time: int) -> str:
        return store.create_run(experiment, start_time=start_time, tags={
            tracking.JOB_TAG: tracking.TRAIN_JOB, tracking.RUN_DATE_TAG: "2024-03-31",
            tracking.OUTPUT_PATH_TAG: str(tmp_path / "out"), **tags(other_process.pid)}).info.run_id

    monkeypatch.setattr(parent_run, "end_stale_runs", lambda *args: None)  # as if searched before the other began
    first = other_run(now - 1000)
    with pytest.raises(heartbeat.StillRunning, match=rf"\(MLflow run {first}, on "):
        parent_run.start_parent_run(config, "2024-03-31", {})
    mine = [run for run in store.search_runs([experiment]) if run.info.run_id != first]
    assert [run.info.status for run in mine] == ["FAILED"]  # its own run ended, the other untouched
    assert store.get_run(first).info.status == "RUNNING"
    store.set_terminated(first, "FAILED")
    later = other_run(now + 60_000)  # a clock ahead, or a slow start: this one stops all the same
    with pytest.raises(heartbeat.StillRunning, match=rf"\(MLflow run {later}, on "):
        parent_run.start_parent_run(config, "2024-03-31", {})
    store.set_terminated(later, "FAILED")
    context = parent_run.start_parent_run(config, "2024-03-31", {})  # the retry, alone
    parent_run.finish_parent_run(context, {"ok": 1}, 1.0)


def test_a_running_job_renews_its_heartbeat_until_its_run_ends(tmp_path, fast_config, monkeypatch):
    monkeypatch.setattr(heartbeat, "BEAT_SECONDS", 0.2)
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'out'}")
    store = tracking.client((tmp_path / "mlruns").as_uri())
    context = parent_run.start_parent_run(config, "2024-03-31", {})
    first = store.get_run(context.parent_run_id).data.tags[heartbeat.HEARTBEAT_TAG]
    time.sleep(1.5)  # the tag's time is in whole seconds
    renewed = store.get_run(context.parent_run_id).data.tags[heartbeat.HEARTBEAT_TAG]
    assert renewed > first
    parent_run.finish_parent_run(context, {"ok": 1}, 1.0)
    assert context.parent_run_id not in heartbeat._beating
    ended = store.get_run(context.parent_run_id).data.tags[heartbeat.HEARTBEAT_TAG]
    time.sleep(1.5)
    assert store.get_run(context.parent_run_id).data.tags[heartbeat.HEARTBEAT_TAG] == ended  # stopped


def test_the_next_dates_run_names_a_date_whose_run_a_kill_left_running(tmp_path, fast_config, other_process):
    # a killed weekly run was never said again: the next date went on, the killed date's rows missing
    from forecasting import job_summary, run_report

    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'out'}")
    store = tracking.client((tmp_path / "mlruns").as_uri())
    experiment = store.create_experiment(config.tracking.experiment)

    def left_running(run_date: str, pid: int, output: str = "out") -> str:
        return store.create_run(experiment, tags={
            tracking.JOB_TAG: tracking.TRAIN_JOB, tracking.RUN_DATE_TAG: run_date,
            tracking.OUTPUT_PATH_TAG: str(tmp_path / output), **tags(pid)}).info.run_id

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    killed = left_running("2025-12-15", dead.pid)
    left_running("2025-12-08", other_process.pid)  # a backfill still going: not said
    left_running("2025-12-01", dead.pid, output="other")  # another dataset's
    context = parent_run.start_parent_run(config, "2025-12-22", {})
    summary = job_summary.JobSummary("2025-12-22", context.parent_run_id, experiment, context.tracking_uri, {})
    run_report.say_unfinished(context, summary)
    assert summary.note == (f"  the train_forecast run of run date 2025-12-15 (MLflow run {killed}) never finished "
                            "(killed? Still RUNNING, with no heartbeat): its rows may be missing, or in part. A "
                            "rerun of a date replaces them\n")
    parent_run.finish_parent_run(context, {"ok": 1}, 1.0)
