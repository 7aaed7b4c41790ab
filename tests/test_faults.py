"""Real faults through spark-submit: a killed Python worker, a killed job, too many failures."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from deltalake import DeltaTable

from conftest import daily_series
from forecasting import signals, tracking

ROOT = Path(__file__).resolve().parents[1]
JOB = ROOT / "jobs" / "train_forecast.py"
SPARK_SUBMIT = Path(sys.executable).parent / "spark-submit"
RUN_DATE = "2024-05-31"
HORIZON = 7


def write_input(folder: Path, series: dict[str, pd.DataFrame]) -> Path:
    path = folder / "input.csv"
    pd.concat([s.assign(store=name) for name, s in series.items()]).to_csv(path, index=False, date_format="%Y-%m-%d")
    return path


def command(folder: Path, input_path: Path, *settings: str, master: str = "local[2]") -> list[str]:
    overrides = [
        f"input.path={input_path}", "input.key_columns=[store]", "input.time_column=ds", "input.target_column=y",
        f"forecast.horizon={HORIZON}", "cross_validation.folds=1", "tuning.max_evals=2",
        "model.country_holidays=null", "model.yearly_seasonality=false", "selection.candidates=[prophet]", *settings,
    ]
    args = [arg for setting in overrides for arg in ("--set", setting)]
    return [str(SPARK_SUBMIT), "--master", master, str(JOB), "--run-date", RUN_DATE, *args]


def environment() -> dict:
    return {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}


def run(folder: Path, argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=folder, env=environment(), capture_output=True, text=True, timeout=600)


def search_job_runs(folder: Path, filter_string: str):
    """The job experiment's runs matching the filter; none while the job has not created it yet."""
    if not (folder / "mlruns").exists():
        return []
    client = mlflow.MlflowClient((folder / "mlruns").as_uri())
    experiment = client.get_experiment_by_name("many-model-forecasting")
    return client.search_runs([experiment.experiment_id], filter_string) if experiment else []


def child_runs(folder: Path, parent_id: str):
    return search_job_runs(folder, f"tags.mlflow.parentRunId = '{parent_id}'")


def parent_runs(folder: Path):
    return search_job_runs(folder, "tags.job = 'train_forecast'")


def assert_clean_tables(folder: Path, stores: list[str]):
    forecasts = DeltaTable(folder / "output" / "forecasts").to_pandas()
    results = DeltaTable(folder / "output" / "series_results").to_pandas()
    assert sorted(results["store"]) == sorted(stores)
    assert len(forecasts) == len(stores) * HORIZON
    assert not forecasts.duplicated(["store", "ds"]).any()
    return results


def test_a_killed_python_worker_is_retried_without_duplicates(tmp_path):
    stores = [f"s{i}" for i in range(4)]
    input_path = write_input(tmp_path, {s: daily_series(60, seed=i) for i, s in enumerate(stores)})
    # one task for all four series (s0 and s1 are logged before s2's worker dies), on a
    # local master as users give it: local[2] alone would give the task one attempt
    argv = command(tmp_path, input_path, "reliability.kill_worker_on_series=s2", "spark.shuffle_partitions=1",
                   master="local[2]")
    done = run(tmp_path, argv)
    assert done.returncode == 0, done.stderr[-3000:]
    log = done.stdout + done.stderr
    assert "fault injection: killing the Python worker of s2" in log
    assert "Spark master local[2] runs as local[2,4]" in log
    assert "the session's Spark master is" not in log  # the master set on the builder took effect
    results = assert_clean_tables(tmp_path, stores)
    assert (results["status"] == "ok").all()
    # the retry is said, not hidden by the counts: the task's four series were trained again
    assert results["data_notes"].fillna("").str.contains("trained in a retry of its Spark task").all()
    assert re.search(r"4 series \(e\.g\. [^)]+\) were trained again in a retry of their Spark task, an earlier "
                     r"attempt having failed \(a Python worker that died", done.stdout)
    assert "No Partition Defined for Window" not in done.stdout + done.stderr  # no query of the summary's
    # the failed task attempt was seen, and the series' runs checked for a second one (a resubmitted stage's)
    assert "a Spark stage or task of the training ran again: 0 second child runs of a series ended" in log

    [parent] = parent_runs(tmp_path)
    runs = child_runs(tmp_path, parent.info.run_id)
    per_series = pd.Series([r.data.tags.get("series_id") for r in runs]).value_counts()
    assert per_series.to_dict() == {s: 1 for s in stores}
    # the killed attempt's run of s2, without its meta.yaml, is found by no search: the retry wrote it anew
    experiment = tmp_path / "mlruns" / parent.info.experiment_id
    [unfinished] = [folder for folder in experiment.iterdir() if (folder / "tags").is_dir()
                    and not (folder / "meta.yaml").exists()]
    assert (unfinished / "tags" / "series_hash").is_file()
    assert all(r.info.status == "FINISHED" for r in runs)
    assert set(results["child_run_id"]) == {r.info.run_id for r in runs}
    # the runs the killed attempt had finished were not logged a second time
    client = mlflow.MlflowClient((tmp_path / "mlruns").as_uri())
    assert all(len(client.get_metric_history(r.info.run_id, "fit_seconds")) == 1 for r in runs)


def test_a_job_killed_midway_is_rerun_cleanly(tmp_path):
    stores = [f"s{i}" for i in range(6)]
    input_path = write_input(tmp_path, {s: daily_series(90, seed=i) for i, s in enumerate(stores)})
    argv = command(tmp_path, input_path, "tuning.max_evals=4")
    # A killed process cannot delete its temporary folders (Spark's, the JVM's native
    # libraries, a worker's model template): they go under tmp_path, not the system's.
    scratch = tmp_path / "killed-job-temp"
    scratch.mkdir()
    killed_argv = [argv[0], "--driver-java-options", f"-Djava.io.tmpdir={scratch}", *argv[1:]]
    job = subprocess.Popen(killed_argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env={**environment(), "TMPDIR": str(scratch), "SPARK_LOCAL_DIRS": str(scratch)},
                           start_new_session=True)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and job.poll() is None:
            try:
                parents = parent_runs(tmp_path)
                if parents and child_runs(tmp_path, parents[0].info.run_id):
                    break  # training is under way: at least one series has its run
            except ValueError:  # read a metric file the job had created but not written yet
                pass
            time.sleep(0.5)
        assert job.poll() is None, "the job ended before it could be killed"
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    assert not (tmp_path / "output" / "forecasts").exists()  # killed before writing

    done = run(tmp_path, argv)
    assert done.returncode == 0, done.stdout[-3000:]
    assert_clean_tables(tmp_path, stores)
    assert not list((tmp_path / "output" / "_staging").glob(f"train-{RUN_DATE}-*"))
    killed, finished = sorted(parent_runs(tmp_path), key=lambda r: r.info.start_time)
    assert finished.info.status == "FINISHED"
    assert killed.info.status == "FAILED" and killed.data.tags["ended_by"].startswith("a later train_forecast run")
    assert all(r.info.status != "RUNNING" for r in child_runs(tmp_path, killed.info.run_id))


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT])
def test_a_job_stopped_by_a_signal_ends_its_mlflow_run_failed_and_exits_128_plus_it(tmp_path, sent):
    # a scheduler's timeout, YARN or Kubernetes stopping the driver: Python's default, an exit
    # on the spot, had left the parent run RUNNING until a rerun of the date (if any) ended it.
    # Ctrl-C in a terminal, the whole group too: PySpark's handler, cancelling the Spark jobs through
    # Py4J while the main thread was inside a Py4J call, failed ("reentrant call"), and the job
    # exited 1 as if it had failed
    stores = [f"s{i}" for i in range(12)]
    input_path = write_input(tmp_path, {s: daily_series(90, seed=i) for i, s in enumerate(stores)})
    printed = tmp_path / "printed.txt"
    with open(printed, "w") as out:
        job = subprocess.Popen(command(tmp_path, input_path, "tuning.max_evals=6"), cwd=tmp_path, env=environment(),
                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 300
    try:  # stopped during the training: its first series tracked
        while time.monotonic() < deadline and job.poll() is None and not (
                parent_runs(tmp_path) and child_runs(tmp_path, parent_runs(tmp_path)[0].info.run_id)):
            time.sleep(0.2)
        assert job.poll() is None, "the job ended before it could be stopped"
        os.killpg(job.pid, sent)  # the whole group, as a scheduler or a terminal stops it
        assert job.wait(timeout=120) == 128 + sent
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    for _ in range(100):  # the Python driver may end its run just after the JVM has exited
        [parent] = parent_runs(tmp_path)
        if parent.info.status != "RUNNING":
            break
        time.sleep(0.2)
    assert parent.info.status == "FAILED" and parent.data.tags["ended_by"] == signal.Signals(sent).name
    # said in one line: not with Py4J's tracebacks of its calls failing as the JVM goes
    log = printed.read_text()
    assert f"stopped by {signal.Signals(sent).name}: a run it had started in MLflow ends FAILED" in log
    assert not [noise for noise in ("while sending command", "while shutting down connection") if noise in log]
    # a Python worker in the middle of a series may end its run just after: none is left RUNNING for good
    for _ in range(100):
        running = [r for r in child_runs(tmp_path, parent.info.run_id) if r.info.status == "RUNNING"]
        if not running:
            break
        time.sleep(0.2)
    assert not running


def test_a_sigterm_to_spark_submits_jvm_alone_ends_its_run_failed_tagged_so(tmp_path):
    """kill <pid> of spark-submit, or docker stop where it is the container's main process: the JVM goes,
    and the Python driver, signalled by nothing, fails against a SparkContext shut down. Its run had stayed
    RUNNING where the error's text, asked of the gone JVM, failed; else ended FAILED as if the job crashed."""
    stores = [f"s{i}" for i in range(12)]
    input_path = write_input(tmp_path, {s: daily_series(90, seed=i) for i, s in enumerate(stores)})
    summary = tmp_path / "summary.txt"
    job = subprocess.Popen([*command(tmp_path, input_path, "tuning.max_evals=6"), "--summary-file", str(summary)],
                           cwd=tmp_path, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and job.poll() is None and not (
                parent_runs(tmp_path) and child_runs(tmp_path, parent_runs(tmp_path)[0].info.run_id)):
            time.sleep(0.2)
        assert job.poll() is None, "the job ended before it could be stopped"
        os.kill(job.pid, signal.SIGTERM)  # spark-submit's own process, the JVM: not its group
        job.wait(timeout=120)
        for _ in range(300):  # the Python driver ends its run after the JVM has gone
            [parent] = parent_runs(tmp_path)
            if parent.info.status != "RUNNING":
                break
            time.sleep(0.2)
    finally:
        try:
            os.killpg(job.pid, signal.SIGKILL)  # the driver, where it outlived the JVM
        except ProcessLookupError:
            pass
    assert parent.info.status == "FAILED" and parent.data.tags.get("ended_by") == signals.JVM_GONE, parent.data.tags
    # what failed said so, not the symptom the driver met ("[Errno 111] Connection refused", its gateway's: read as
    # a tracking server's refusal in a walk-through of 12-08)
    assert tracking.FAILED_WITH_TAG not in parent.data.tags
    for _ in range(100):  # the driver writes it as it exits, after ending the run
        if "ended with exit code" in summary.read_text():
            break
        time.sleep(0.2)
    assert f"ended with exit code 1 ({signals.JVM_GONE}: its MLflow run ended FAILED)" in summary.read_text()


JVM_GONE = """
import signal, sys, time
from pyspark.sql import SparkSession
from forecasting import parent_run, signals, tracking

scratch = sys.argv[2]  # a killed JVM cannot delete its temporary folders: they go under the test's
spark = (SparkSession.builder.master("local[1]").config("spark.local.dir", scratch)
         .config("spark.driver.extraJavaOptions", f"-Djava.io.tmpdir={scratch}").getOrCreate())
uri = tracking.resolve_uri(sys.argv[1])
tracker = tracking.client(uri)
experiment = tracker.create_experiment("killed")
run = tracker.create_run(experiment)
spark.sparkContext._gateway.proc.kill()  # this process's own JVM, as a kill during the table writes leaves it
spark.sparkContext._gateway.proc.wait()
context = tracking.RunContext(uri, experiment, run.info.run_id, "2024-03-31", True, True)
parent_run.fail_parent_run(context, signals.Terminated("SIGTERM"), partly=["forecasts"])
print(run.info.run_id)
"""


def test_a_driver_whose_jvm_is_gone_still_ends_its_run_failed(tmp_path):
    # a SIGTERM to the job's process group during the table writes: the JVM is gone by the time the
    # driver ends its run, and MLflow's client read its registry's URI from the Spark session for each
    # new client, so the run stayed RUNNING ("could not mark ... FAILED (Connection refused)")
    scratch = tmp_path / "killed-jvm-temp"
    scratch.mkdir()
    done = subprocess.run([sys.executable, "-c", JVM_GONE, str(tmp_path / "mlruns"), str(scratch)], cwd=tmp_path,
                          env=environment(), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "could not mark" not in done.stderr
    run = mlflow.MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri()).get_run(done.stdout.split()[-1])
    assert run.info.status == "FAILED" and run.data.tags["ended_by"] == "SIGTERM"
    assert run.data.tags["failed_after_writing"] == "partly: forecasts"


def test_too_many_failed_series_exit_5_after_writing_everything(tmp_path):
    # a 10-row series (under two weeks: the fallback is naive) whose training fails
    input_path = write_input(tmp_path, {"good": daily_series(60), "bad": daily_series(10)})
    argv = command(tmp_path, input_path, "forecast.min_history=9", "reliability.fail_series=bad",
                   "reliability.max_failed_share=0.25")
    done = run(tmp_path, argv)
    assert done.returncode == 5, done.stdout[-3000:]
    assert "50% of the series failed, above reliability.max_failed_share (25%): exit code 5" in done.stdout
    results = DeltaTable(tmp_path / "output" / "series_results").to_pandas().set_index("store")
    assert results.loc["good", "status"] == "ok" and results.loc["bad", "status"] == "failed"
    forecasts = DeltaTable(tmp_path / "output" / "forecasts").to_pandas()
    assert set(forecasts.groupby("store")["model"].first().items()) == {("good", "prophet"), ("bad", "naive")}
