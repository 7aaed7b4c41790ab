"""The job on a real Spark standalone cluster: a master and a worker in their own JVMs.

The package reaches the executors only as a zip through --py-files: they run
scripts/cluster_python.sh, a Python that has the dependencies but cannot import
the project's source tree.
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from deltalake import DeltaTable

from conftest import daily_series

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EXECUTOR_PYTHON = ROOT / "scripts" / "cluster_python.sh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_worker(ui_port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as answer:
                if any(w["state"] == "ALIVE" for w in json.load(answer)["workers"]):
                    return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError("the standalone worker did not register with the master")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    logs = tmp_path_factory.mktemp("cluster")
    port, ui_port = free_port(), free_port()
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": str(EXECUTOR_PYTHON)}
    spark_class = str(BIN / "spark-class")
    master = subprocess.Popen(
        [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
         "--webui-port", str(ui_port)],
        stdout=open(logs / "master.log", "w"), stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    worker = subprocess.Popen(
        [spark_class, "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}", "--cores", "2",
         "--memory", "2g", "--work-dir", str(logs / "work"), "--webui-port", str(free_port())],
        stdout=open(logs / "worker.log", "w"), stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    try:
        wait_for_worker(ui_port)
        yield {"master": f"spark://127.0.0.1:{port}", "logs": logs}
    finally:
        for process in (worker, master):
            os.killpg(process.pid, 15)
            process.wait(timeout=60)


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


def test_job_runs_on_a_standalone_cluster_with_the_package_as_a_zip(cluster, package, tmp_path):
    stores = [f"s{i}" for i in range(4)]
    data = pd.concat([daily_series(60, seed=i).assign(store=s) for i, s in enumerate(stores)])
    data.to_csv(tmp_path / "input.csv", index=False, date_format="%Y-%m-%d")
    settings = [
        f"input.path={tmp_path / 'input.csv'}", "input.key_columns=[store]", "input.time_column=ds",
        "input.target_column=y", "forecast.horizon=7", "cross_validation.folds=1", "tuning.max_evals=2",
        "model.country_holidays=null", "model.yearly_seasonality=false",
        f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'output'}",
    ]
    command = [
        str(BIN / "spark-submit"), "--master", cluster["master"], "--deploy-mode", "client",
        "--py-files", str(package),
        "--conf", f"spark.pyspark.python={EXECUTOR_PYTHON}",
        "--conf", f"spark.pyspark.driver.python={sys.executable}",
        "--conf", "spark.executor.memory=1g",
        str(ROOT / "jobs" / "train_forecast.py"), "--run-date", "2024-03-31",
        *[arg for s in settings for arg in ("--set", s)],
    ]
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:]

    results = DeltaTable(tmp_path / "output" / "series_results").to_pandas()
    assert sorted(results["store"]) == stores and (results["status"] == "ok").all()
    forecasts = DeltaTable(tmp_path / "output" / "forecasts").to_pandas()
    assert forecasts.groupby("store").size().eq(7).all()
    client = mlflow.MlflowClient((tmp_path / "mlruns").as_uri())
    experiment = client.get_experiment_by_name("many-model-forecasting").experiment_id
    runs = client.search_runs([experiment], filter_string="tags.store = 's3'")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    # the work ran in the cluster's executor, which was handed the package
    executor_logs = "".join(p.read_text(errors="replace") for p in (cluster["logs"] / "work").rglob("stderr"))
    assert package.name in executor_logs
