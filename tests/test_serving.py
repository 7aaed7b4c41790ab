"""Each training run's models as one registered MLflow model, served over HTTP for real."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests
from pyspark.sql import functions as F

from conftest import FAST_OVERRIDES, daily_series
from forecasting import pipeline, serving, tables, tracking
from forecasting.config import load_config

RUN_DATE = "2024-03-31"
NAME = "store-forecaster"


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("serving")
    data = pd.concat([daily_series(60, seed=50 + i).assign(store=f"s{i}") for i in range(2)])
    data.to_csv(root / "input.csv", index=False, date_format="%Y-%m-%d")
    config = load_config(None, [
        *FAST_OVERRIDES, f"input.path={root / 'input.csv'}", "input.key_columns=[store]",
        "input.time_column=ds", "input.target_column=y", f"tracking.uri={root / 'mlruns'}",
        f"output.path={root / 'out'}", f"tracking.registered_model={NAME}",
        "selection.candidates=[prophet, seasonal_naive]",
    ])
    summary = pipeline.run_job(spark, config, RUN_DATE)
    return {"config": config, "summary": summary, "root": root}


def test_each_run_registers_a_new_version(trained):
    from mlflow import MlflowClient

    summary = trained["summary"]
    assert f"registered model {NAME} version 1" in summary.format()
    registry = MlflowClient(summary.tracking_uri)
    first = registry.get_model_version(NAME, "1")
    assert first.run_id == summary.job_run_id and first.source.endswith(serving.ARTIFACT_PATH)
    # what the next run's registration does: a new version, the first one kept
    context = tracking.RunContext(summary.tracking_uri, summary.experiment_id, summary.job_run_id, RUN_DATE, True, True)
    assert serving.register(context, NAME, summary.tables[tables.MODELS], RUN_DATE, ["store"]) == 2
    assert sorted(int(v.version) for v in registry.search_model_versions(f"name = '{NAME}'")) == [1, 2]


def test_the_served_model_answers_with_the_forecasts_table(spark, trained):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MLFLOW_TRACKING_URI": trained["summary"].tracking_uri}
    mlflow_cli = str(Path(sys.executable).parent / "mlflow")
    server = subprocess.Popen(
        [mlflow_cli, "models", "serve", "-m", f"models:/{NAME}/1", "-h", "127.0.0.1", "-p", str(port),
         "--env-manager", "local"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None, server.stdout.read().decode()[-3000:]
            time.sleep(1)
        request = {"dataframe_split": {"columns": ["store", "horizon"], "data": [["s0", 7], ["s1", 3]]}}
        answer = requests.post(f"{url}/invocations", json=request, timeout=120)
        assert answer.status_code == 200, answer.text
        served = pd.DataFrame(answer.json()["predictions"])
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)
    assert served.groupby("store").size().to_dict() == {"s0": 7, "s1": 3}
    stored = tables.read_table(spark, trained["config"], tables.FORECASTS).where(F.col("source") == "trained").toPandas()
    for store, rows in served.groupby("store"):
        expected = stored[stored["store"] == store].sort_values("ds").head(len(rows))
        assert list(pd.to_datetime(rows["ds"])) == list(expected["ds"])
        assert rows["yhat"].tolist() == pytest.approx(expected["yhat"].tolist(), rel=1e-9)
        assert set(rows["model"]) == set(expected["model"])
