"""The real job through spark-submit, as a user starts it; tables and runs read back."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from deltalake import DeltaTable

ROOT = Path(__file__).resolve().parents[1]
JOB = ROOT / "jobs" / "train_forecast.py"
SCORE_JOB = ROOT / "jobs" / "score_forecast.py"
EVALUATE_JOB = ROOT / "jobs" / "evaluate_forecast.py"
SHARED_AIRPORTS = ROOT.parent / "shared/data/airports/air_passenger_traffic_monthly.csv"
SPARK_SUBMIT = Path(sys.executable).parent / "spark-submit"
QUICK = ["--set", "tuning.max_evals=2", "--set", "cross_validation.folds=1"]


def spark_submit(args, cwd, job=JOB, timeout=600, spark_args=()):
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    command = [str(SPARK_SUBMIT), "--master", "local[2]", *spark_args, str(job), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def event_log(folder: Path) -> list[str]:
    """spark-submit arguments for Spark's event log, as one plain JSON file in ``folder``."""
    folder.mkdir()
    settings = {"enabled": "true", "dir": str(folder), "rolling.enabled": "false", "compress": "false"}
    return [arg for key, value in settings.items() for arg in ("--conf", f"spark.eventLog.{key}={value}")]


def started_jobs(folder: Path) -> list[dict]:
    [log] = folder.iterdir()
    return [json.loads(line) for line in log.read_text().splitlines() if '"SparkListenerJobStart"' in line]


def test_embedded_default_runs_end_to_end(tmp_path, monkeypatch):
    # a setting of the driver's JVM in the config: said to need spark-submit's flag, as it does
    done = spark_submit([*QUICK, "--run-date", "2026-01-05", "--summary-file", "summary.txt",
                         "--set", "spark.conf.spark.driver.cores=1"], cwd=tmp_path,
                        spark_args=event_log(tmp_path / "training-events"))
    assert done.returncode == 0, done.stdout[-3000:]
    assert "spark.conf.spark.driver.cores has no effect: spark-submit started the driver's JVM" in done.stdout
    assert "series total" in done.stdout and "mlflow ui --backend-store-uri" in done.stdout
    summary = (tmp_path / "summary.txt").read_text()  # the summary alone: the log came out with it
    assert summary.startswith("Forecast run 2026-01-05 finished") and "INFO" not in summary and "INFO" in done.stdout
    assert "Python workers: forked from forecasting.worker_daemon" in done.stdout  # a local master
    assert "train and forecast every series: 24/24 series done (" in done.stdout
    # Spark's own log, on standard error: its warning about a plan's text for its web UI silenced, and of
    # its some 40 INFO lines as the session starts only the three logged before it reads spark.log.level
    assert "Truncated the string representation of a plan" not in done.stderr
    assert " INFO SparkContext: Running Spark version" in done.stderr and " INFO SparkEnv: " not in done.stderr
    # the Spark UI names every step's jobs, the table writes too (they run side by side, each in its thread)
    descriptions = [job["Properties"].get("spark.job.description") for job in started_jobs(tmp_path / "training-events")]
    assert None not in descriptions, descriptions
    assert {"start Python workers", "read and check the input", "train and forecast every series",
            "read the staged results", "write forecasts", "write series_results", "write models",
            "count the series by status"} <= set(descriptions)
    in_turn = [d for d in descriptions if d != "start Python workers"]  # that one runs beside them
    # balancing works its tasks' values out in Python: no job of its own before the training's
    assert set(in_turn[:in_turn.index("train and forecast every series")]) == {"read and check the input"}

    # the embedded defaults write Delta tables relative to the working directory
    forecasts = DeltaTable(tmp_path / "output" / "forecasts").to_pandas()
    results = DeltaTable(tmp_path / "output" / "series_results").to_pandas()
    assert len(results) == 24 and (results["status"] == "ok").all()
    assert forecasts.groupby(["store", "item"]).size().eq(28).all()
    assert forecasts.groupby(["store", "item"]).ngroups == 24

    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    [parent] = mlflow.search_runs(
        experiment_names=["many-model-forecasting"], filter_string="tags.job = 'train_forecast'", output_format="list"
    )
    assert parent.info.status == "FINISHED" and parent.data.metrics["series_ok"] == 24
    # statuses no series had are logged at zero, so that a search can ask for them
    assert (parent.data.metrics["series_skipped"], parent.data.metrics["series_failed"]) == (0, 0)
    assert "Forecast run 2026-01-05" in done.stdout and parent.info.run_id in done.stdout
    # the embedded default registers the run's models as version 1 of its registered model
    version = mlflow.MlflowClient().get_model_version("many-model-forecasting", "1")
    assert version.run_id == parent.info.run_id
    assert "registered model many-model-forecasting version 1" in done.stdout
    one = mlflow.search_runs(
        experiment_names=["many-model-forecasting"], filter_string="tags.store = 'east' and tags.item = 'soap'"
    )
    assert len(one) == 1 and one.iloc[0]["tags.mlflow.parentRunId"] == parent.info.run_id
    assert set(results["child_run_id"]) == set(
        mlflow.search_runs(
            experiment_names=["many-model-forecasting"],
            filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        )["run_id"]
    )

    # the scoring job reproduces the trained forecast from the stored models, here
    # with Spark's own worker daemon, which a daemon named by the user stays
    scored = spark_submit(["--run-date", "2026-01-05"], cwd=tmp_path, job=SCORE_JOB,
                          spark_args=["--conf", "spark.python.daemon.module=pyspark.daemon",
                                      *event_log(tmp_path / "scoring-events")])
    assert scored.returncode == 0, scored.stdout[-3000:]
    # writing into the existing forecasts table, Delta replays its log in a few tasks, not its default 50
    replays = [job for job in started_jobs(tmp_path / "scoring-events")
               if "Compute snapshot" in job["Properties"].get("spark.job.description", "")]
    assert replays and max(stage["Number of Tasks"] for job in replays for stage in job["Stage Infos"]) <= 4
    scoring_descriptions = [job["Properties"].get("spark.job.description") for job in started_jobs(tmp_path / "scoring-events")]
    assert None not in scoring_descriptions, scoring_descriptions
    assert "forecasting.worker_daemon" not in scored.stdout
    assert "Scoring run 2026-01-05" in scored.stdout and "from the models of run date 2026-01-05" in scored.stdout
    both = DeltaTable(tmp_path / "output" / "forecasts").to_pandas()
    by_source = {s: f.sort_values(["store", "item", "ds"]).reset_index(drop=True) for s, f in both.groupby("source")}
    assert len(by_source["scored"]) == len(by_source["trained"]) == 24 * 28
    pd.testing.assert_series_equal(by_source["scored"]["yhat"], by_source["trained"]["yhat"])

    # the everyday questions, asked in that folder: the embedded defaults find the output
    runs = subprocess.run([sys.executable, "-m", "forecasting", "runs"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert runs.returncode == 0, runs.stderr
    _, scoring_run, training_run = runs.stdout.splitlines()  # newest first
    assert scoring_run.split()[:3] == ["2026-01-05", "score_forecast", "FINISHED"]
    assert training_run.split()[:3] == ["2026-01-05", "train_forecast", "FINISHED"]
    assert "  ok 24, skipped 0, failed 0  " in training_run and training_run.endswith(parent.info.run_id)
    soap = subprocess.run([sys.executable, "-m", "forecasting", "series", "store=east", "item=soap"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert soap.returncode == 0, soap.stderr
    assert "  status      ok" in soap.stdout and f"  child run   {one.iloc[0]['run_id']} (FINISHED)" in soap.stdout
    assert "latest forecast: run date 2026-01-05 (trained), 28 steps" in soap.stdout  # trained wins a tie with scored

    # the notebook runs on this output, as an analyst would open it in that folder
    import nbformat
    from nbclient import NotebookClient

    # a kernel of this very Python: a "python3" kernel in the user's Jupyter folder would win otherwise
    kernel = tmp_path / "jupyter" / "kernels" / "project-python"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps(
        {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"], "language": "python",
         "display_name": "project venv"}
    ))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    notebook = nbformat.read(ROOT / "notebooks" / "explore_forecasts.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="project-python",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert f"run {parent.info.run_id} of 2026-01-05" in text and "1 run(s)" in text
    assert "Downloading artifacts" not in text  # MLflow's progress bar for every artifact read, off
    assert "IProgress not found" not in text  # tqdm's, for widgets the notebook has no need of
    images = [kind for o in outputs for kind in o.get("data", {}) if kind.startswith("image/")]
    # the comparison, the run's overview and the forecast as logged
    assert sorted(images) == ["image/png", "image/svg+xml", "image/svg+xml"]


@pytest.mark.skipif(not SHARED_AIRPORTS.exists(), reason="../shared airports data not present")
def test_airports_config_forecasts_every_airport_and_measure(tmp_path):
    prepared = tmp_path / "data" / "airports.csv"
    prep = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "prepare_airports.py"), "--raw", str(SHARED_AIRPORTS), "--out", str(prepared)],
        capture_output=True, text=True, timeout=120,
    )
    assert prep.returncode == 0, prep.stderr
    # SWF's 1994-2005 rows are yearly totals dated December: left out, and said
    assert "left out 12 rows that hold a year's passengers, dated December (SWF 2005, " in prep.stderr
    done = spark_submit(["--config", str(ROOT / "conf" / "airports.yaml"), *QUICK], cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]

    source = pd.read_csv(prepared)
    results = DeltaTable(tmp_path / "output" / "airports" / "series_results").to_pandas()
    expected = source.groupby(["airport", "measure"]).size()
    assert len(results) == len(expected) == 15
    assert (results["status"] == "ok").all(), results[["airport", "measure", "reason"]]
    forecasts = DeltaTable(tmp_path / "output" / "airports" / "forecasts").to_pandas()
    assert forecasts.groupby(["airport", "measure"]).size().eq(12).all()
    assert forecasts["ds"].dt.is_month_start.all()

    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    for airport, measure in expected.index:
        runs = mlflow.search_runs(
            experiment_names=["airports"], filter_string=f"tags.airport = '{airport}' and tags.measure = '{measure}'"
        )
        assert len(runs) == 1, (airport, measure)


def test_config_error_exits_2_before_spark_and_names_the_key(tmp_path):
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run(
        [sys.executable, str(JOB), "--set", "forecast.horizn=3"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert "unknown config key 'forecast.horizn'" in done.stderr and "forecast.horizon" in done.stderr
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.parametrize("job", [JOB, SCORE_JOB, EVALUATE_JOB])
def test_a_driver_python_without_the_jobs_packages_exits_2_and_its_summary_file_says_so(tmp_path, job):
    # spark.pyspark.python naming a node's python3 sets the driver's too: the job's import failed with a
    # traceback, exit 1, and the summary file kept an earlier run's success for the scheduler to read
    kept = tmp_path / "summary.txt"
    kept.write_text("Forecast run 2024-03-24 finished in 21s\n")
    done = subprocess.run([sys.executable, "-S", str(job), "--run-date", "2024-03-31", "--summary-file", str(kept)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)  # -S: without the venv's packages
    assert done.returncode == 2, done.stderr
    said = (f"ended with exit code 2 (configuration error: the driver's Python {sys.executable} cannot import the job "
            "(No module named 'forecasting'): run it with the Python the job is installed in")
    assert said in kept.read_text() and "Traceback" not in done.stderr
    assert f"{job.stem}: configuration error: the driver's Python" in done.stderr


def test_missing_input_exits_3_with_the_path(tmp_path):
    done = spark_submit(["--set", f"input.path={tmp_path / 'nope.csv'}"], cwd=tmp_path)
    # spark-submit merges the Python driver's stderr into its stdout
    assert done.returncode == 3, done.stdout[-2000:]
    assert f"input error: cannot read input csv '{tmp_path / 'nope.csv'}'" in done.stdout
    assert "java.io.FileNotFoundException" not in done.stdout + done.stderr  # Spark's probe for streaming metadata, silenced


def test_unreachable_tracking_server_exits_4_naming_it(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once the socket closes
    done = spark_submit(["--set", f"tracking.uri={uri}", "--set", "tracking.timeout_seconds=2"], cwd=tmp_path)
    assert done.returncode == 4, done.stdout[-2000:]
    assert f"tracking error: MLflow tracking server {uri} is unreachable" in done.stdout
    assert not (tmp_path / "output").exists()


def test_the_evaluation_job_scores_the_embedded_default(tmp_path):
    done = spark_submit([*QUICK, "--run-date", "2026-01-05"], cwd=tmp_path, job=EVALUATE_JOB)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Evaluation run 2026-01-05" in done.stdout and "selection" in done.stdout
    evaluation = DeltaTable(tmp_path / "output" / "evaluation").to_pandas()
    assert evaluation.groupby(["store", "item"])["selected"].sum().eq(1).all()
    assert evaluation.groupby(["store", "item"]).ngroups == 24
    assert not (tmp_path / "output" / "forecasts").exists()  # the production tables stay untouched
    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    [parent] = mlflow.search_runs(experiment_names=["many-model-forecasting"], output_format="list",
                                  filter_string="tags.job = 'evaluate_forecast'")
    assert parent.info.status == "FINISHED" and "eval_mase_selection" in parent.data.metrics
