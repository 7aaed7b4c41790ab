"""The job on a real Spark standalone cluster: a master and a worker in their own JVMs.

The package reaches the executors only as a zip through --py-files: they run
scripts/cluster_python.sh, a Python that has the dependencies but cannot import
the project's source tree. The second test ships the dependencies too, as the
venv-pack archive of ``scripts/package_job.sh --env``, the way the README says.
"""
import os
import shutil
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from deltalake import DeltaTable

from conftest import daily_series, job_settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from local_cluster import standalone_cluster  # noqa: E402

BIN = Path(sys.executable).parent
EXECUTOR_PYTHON = ROOT / "scripts" / "cluster_python.sh"
ARCHIVE_PYTHON = "./environment/bin/python"  # the README's spark.pyspark.python
POLL_SECONDS = 0.25


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A cluster whose processes' TMPDIR (Python's temporary folder; the JVMs' is
    java.io.tmpdir) is a folder of its own, ``cluster["temp"]``."""
    folder = tmp_path_factory.mktemp("cluster")
    (folder / "temp").mkdir()
    with standalone_cluster(folder, cores=2, memory="2g",
                            env={"PYSPARK_PYTHON": str(EXECUTOR_PYTHON), "TMPDIR": str(folder / "temp")}) as running:
        yield {**running, "temp": folder / "temp"}


def test_a_cluster_process_that_cannot_start_is_said_at_once_with_its_log(tmp_path):
    # it had been waited for two minutes, then a TimeoutError naming no log
    with pytest.raises(RuntimeError, match=f"the standalone master exited with code 1 as it started: see "
                                           f"{tmp_path / 'master.log'}\n[\\s\\S]*Failed to find Spark jars directory"):
        with standalone_cluster(tmp_path, env={"SPARK_HOME": str(tmp_path / "no-spark")}):
            pass


def assert_no_temporary_files_left(cluster):
    """Spark ends its Python workers with os._exit, so a temporary folder made at import
    (cmdstanpy's) was left in the temporary folder by each worker that imported Prophet."""
    assert not list(cluster["temp"].iterdir())


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """Built the way the README's cluster section says."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(["bash", str(ROOT / "scripts" / "package_job.sh")], check=True, timeout=300,
                   env={**os.environ, "DIST": str(dist)})
    return dist / "forecasting.zip"


def test_executor_python_cannot_see_the_source_tree():
    done = subprocess.run([str(EXECUTOR_PYTHON), "-c", "import forecasting"], capture_output=True, text=True,
                          cwd="/", timeout=60)
    assert done.returncode != 0 and "No module named 'forecasting'" in done.stderr


def test_scheduled_runs_on_the_cluster_with_the_package_as_a_zip_as_the_readme_says(cluster, package, tmp_path):
    # A project folder as on a scheduler's machine: the jobs, the environment set-up
    # made (.venv), dist/ from package_job.sh and a config whose paths are relative.
    home = tmp_path / "project"
    (home / "dist").mkdir(parents=True)
    (home / "jobs").symlink_to(ROOT / "jobs")
    (home / ".venv").symlink_to(Path(sys.executable).parents[1])
    shutil.copy(package, home / "dist" / "forecasting.zip")
    stores = ["s0", "s1", "s2"]
    data = pd.concat([daily_series(60, seed=i).assign(store=s) for i, s in enumerate(stores)])
    data.to_csv(home / "input.csv", index=False, date_format="%Y-%m-%d")
    (home / "conf").mkdir()
    (home / "conf" / "my_data.yaml").write_text(
        "input: {path: input.csv, key_columns: [store], time_column: ds, target_column: y}\n"
        "forecast: {horizon: 7}\ncross_validation: {folds: 1}\ntuning: {max_evals: 2}\n"
        "model: {country_holidays: null, yearly_seasonality: false}\n"
        "output: {path: out}\ntracking: {uri: mlruns}\n"
    )
    # the wrapper's own defaults: spark-submit and the driver's Python from the project's .venv; the
    # executors' Python is the nodes' own (the wrapper sends none on a cluster), here one without the source
    env = {k: v for k, v in os.environ.items()
           if k not in ("SPARK_SUBMIT", "PYSPARK_DRIVER_PYTHON", "FORECAST_LOG_DIR")}
    env.update(FORECAST_HOME=str(home), SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=str(EXECUTOR_PYTHON),
               SPARK_SUBMIT_ARGS=f"--master {cluster['master']} --py-files dist/forecasting.zip")
    wrapper = str(ROOT / "scripts" / "run_scheduled.sh")

    def scheduled(*args):
        return subprocess.run(["bash", wrapper, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)

    # the README's backfill, then its daily scoring run, which takes today's date
    apps_before = set((cluster["logs"] / "work").glob("app-*"))
    trained = scheduled("train", "--config", "conf/my_data.yaml", "--run-date", "2024-03-31")
    [train_log] = [p.read_text() for p in (home / "logs").glob("train_forecast-2024-03-31-my_data-*.log")]
    assert trained.returncode == 0, train_log[-4000:]
    assert "forecasting.worker_daemon" not in train_log  # Spark's own daemon: executors get the zip per task
    # one machine here, but the config's bare paths would be each node's own disk on a real cluster
    assert f"output.path out is on each machine's local disk under the master {cluster['master']}" in train_log
    results = DeltaTable(home / "out" / "series_results").to_pandas()
    assert sorted(results["store"]) == stores and (results["status"] == "ok").all()
    client = mlflow.MlflowClient((home / "mlruns").as_uri())
    experiment = client.get_experiment_by_name("many-model-forecasting").experiment_id
    runs = client.search_runs([experiment], filter_string="tags.store = 's2'")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    today = datetime.now(timezone.utc).date().isoformat()
    scored = scheduled("score", "--config", "conf/my_data.yaml")
    [score_log] = [p.read_text() for p in (home / "logs").glob(f"score_forecast-{today}-my_data-*.log")]
    assert scored.returncode == 0, score_log[-4000:]
    assert f"Scoring run {today} finished" in score_log and "from the models of run date 2024-03-31" in score_log
    forecasts = DeltaTable(home / "out" / "forecasts").to_pandas()
    by_source = forecasts.groupby("source")["store"].nunique().to_dict()
    assert by_source == {"trained": 3, "scored": 3}
    assert forecasts.groupby(["source", "store"]).size().eq(7).all()
    assert len(set((cluster["logs"] / "work").glob("app-*")) - apps_before) == 2  # both ran on the cluster
    # the work ran in the cluster's executors, which were handed the package
    executor_logs = "".join(p.read_text(errors="replace") for p in (cluster["logs"] / "work").rglob("stderr"))
    assert package.name in executor_logs
    assert_no_temporary_files_left(cluster)


@pytest.fixture(scope="module")
def packaged_environment(tmp_path_factory):
    """``scripts/package_job.sh --env`` run in a folder, which then holds dist/ as in the README."""
    root = tmp_path_factory.mktemp("packaged")
    done = subprocess.run(["bash", str(ROOT / "scripts" / "package_job.sh"), "--env"], timeout=600,
                          env={**os.environ, "DIST": str(root / "dist")}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    yield root
    shutil.rmtree(root / "dist")  # some 300 MB


class PythonWorkerWatch:
    """Records the PySpark Python worker processes started under ``root`` (a standalone
    worker's work folder) while a job runs: their command line, working directory and the
    shared libraries they loaded. Other Spark jobs on the machine are left out."""

    def __init__(self, root: Path):
        self.root = root
        self.seen: dict[int, dict] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _poll(self):
        while not self._stop.wait(POLL_SECONDS):
            for proc in Path("/proc").glob("[0-9]*"):
                try:
                    argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
                    cwd = Path(os.readlink(proc / "cwd"))
                    if "pyspark.daemon" not in argv or not cwd.is_relative_to(self.root):
                        continue
                    libraries = {line.split()[-1] for line in (proc / "maps").read_text().splitlines()
                                 if line.rstrip().endswith(".so") or ".so." in line}
                    seen = self.seen.setdefault(int(proc.name), {"argv": argv, "cwd": cwd, "libraries": set()})
                    seen["libraries"] |= libraries
                except OSError:  # the process ended while being read
                    continue


def test_job_runs_with_the_environment_archive_as_the_readme_says(cluster, packaged_environment, tmp_path):
    stores = [f"s{i}" for i in range(3)]
    data = pd.concat([daily_series(60, seed=i).assign(store=s) for i, s in enumerate(stores)])
    data.to_csv(tmp_path / "input.csv", index=False, date_format="%Y-%m-%d")
    # the README's standalone command, run beside dist/; the driver's `python` is the
    # project's environment, first on the PATH as after `. .venv/bin/activate`
    command = [
        str(BIN / "spark-submit"), "--master", cluster["master"],
        "--archives", "dist/environment.tar.gz#environment",
        "--conf", f"spark.pyspark.python={ARCHIVE_PYTHON}",
        "--conf", "spark.pyspark.driver.python=python",
        "--py-files", "dist/forecasting.zip",
        str(ROOT / "jobs" / "train_forecast.py"), "--run-date", "2024-03-31",
        *[arg for s in job_settings(tmp_path / "input.csv", tmp_path, ["store"]) for arg in ("--set", s)],
    ]
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    work = cluster["logs"] / "work"
    try:
        with PythonWorkerWatch(work) as watch:
            done = subprocess.run(command, cwd=packaged_environment, env=env, capture_output=True, text=True,
                                  timeout=600)
        assert done.returncode == 0, done.stdout[-4000:]
        results = DeltaTable(tmp_path / "out" / "series_results").to_pandas()
        assert sorted(results["store"]) == stores and (results["status"] == "ok").all()

        # every Python worker of the executors was the archive's Python, started in the
        # executor's folder where the archive was unpacked, and loaded its libraries from there
        assert watch.seen, "no PySpark Python worker was seen"
        for worker in watch.seen.values():
            assert worker["argv"][0] == ARCHIVE_PYTHON and (worker["cwd"] / ARCHIVE_PYTHON).exists()
        packed_site = f"/environment/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages/"
        assert any(lib.startswith(f"{worker['cwd']}{packed_site}numpy/")
                   for worker in watch.seen.values() for lib in worker["libraries"])
        loaded = {lib for worker in watch.seen.values() for lib in worker["libraries"]}
        assert not [lib for lib in loaded if "site-packages" in lib and packed_site not in lib]
        # a driver in this environment (cluster deploy mode) pins deltalake for the served model
        unpacked = next(work.glob("app-*/*/environment"))
        assert (unpacked / packed_site.strip("/").removeprefix("environment/") / "deltalake").is_dir()
        assert_no_temporary_files_left(cluster)
    finally:
        for unpacked in work.glob("app-*/*/environment"):
            shutil.rmtree(unpacked)  # over a gigabyte per run


def test_the_cluster_script_runs_a_master_and_worker_until_stopped(tmp_path):
    import signal

    script = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "local_cluster.py"), "--cores", "1",
                               "--folder", str(tmp_path)], stderr=subprocess.PIPE, text=True)
    try:
        first = script.stderr.readline()  # once the worker has registered with the master
        assert first.startswith("master spark://127.0.0.1:") and f"logs in {tmp_path}" in first, first
        assert "spark-submit --master spark://127.0.0.1:" in script.stderr.readline()
    finally:
        script.send_signal(signal.SIGTERM)
        assert script.wait(timeout=120) == 0
    assert "Successfully registered with master" in (tmp_path / "worker.log").read_text()


def test_the_cluster_script_says_so_when_its_worker_dies(tmp_path):
    script = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "local_cluster.py"), "--cores", "1",
                               "--folder", str(tmp_path)], stderr=subprocess.PIPE, text=True)
    try:
        assert script.stderr.readline().startswith("master spark://")
        subprocess.run(["pkill", "-9", "-f", f"deploy.worker.Worker.*{tmp_path}"], check=True, timeout=30)
        assert script.wait(timeout=60) == 1
        assert f"the worker stopped by itself: see {tmp_path}" in script.stderr.read()
    finally:
        if script.poll() is None:
            script.kill()

