"""scripts/benchmark.py on two M4 series: every variant runs, on the same per-series work."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from deltalake import DeltaTable

ROOT = Path(__file__).resolve().parents[1]
M4_TRAIN = ROOT.parent / "shared/data/m4/Hourly-train.csv"
PHASES = ["start, read and check", "parent run", "training stage", "table writes",
          "result checks and registration", "summary and exit"]


@pytest.mark.skipif(not M4_TRAIN.exists(), reason="../shared M4 data not present")
def test_benchmark_runs_every_variant_in_rounds_on_the_same_work_and_reports_each_ones_median_run(tmp_path):
    # one invocation for all of it: every job it starts is a real spark-submit
    out = tmp_path / "benchmark.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--series", "2", "--cores", "2",
         "--max-evals", "2", "--folds", "1", "--rounds", "2", "--keep", "--out", str(out),
         "--workdir", str(tmp_path / "work")],
        # a machine outside UTC: every variant's forecasts keep the input's times
        cwd=tmp_path, env={**os.environ, "TZ": "America/New_York"}, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    started = [line.split("running ")[1].split()[0] for line in done.stderr.splitlines() if "benchmark: running " in line]
    assert started == ["ideal", "parallel", "job", "multiprocessing"] * 2 + ["naive"]  # the naive version once, last
    report = json.loads(out.read_text())
    variants = report["variants"]
    assert list(variants) == ["ideal", "parallel", "job", "multiprocessing", "naive"]

    # the job, the bare loops and the multiprocessing program fit the same models: same accuracy
    same_work = [variants[name]["mase"] for name in ("ideal", "parallel", "job", "multiprocessing")]
    assert all(value == pytest.approx(same_work[0], rel=1e-6) for value in same_work)
    assert math.isfinite(variants["naive"]["mase"])

    ideal, parallel, job = (variants[name] for name in ("ideal", "parallel", "job"))
    assert report["efficiency"] == pytest.approx(report["ideal_wall"] / job["wall"])
    assert report["job_vs_multiprocessing"] == pytest.approx(variants["multiprocessing"]["wall"] / job["wall"])
    assert list(job["phases"]) == PHASES and sum(job["phases"].values()) == pytest.approx(job["wall"], abs=0.1)
    assert job["phases"]["result checks and registration"] > 0  # its log line found: the job registers its forecaster
    assert 0 < report["tracking_share"] < 1 and job["driver_peak"] > job["driver_jvm_peak"] > 0
    assert "job phases (s): start, read and check " in done.stdout
    # how quickly the job's folder took new files just before each job, tracking's main cost
    assert len(job["file_create_ms_every"]) == 2 and all(ms > 0 for ms in job["file_create_ms_every"])
    assert job["file_create_ms"] in job["file_create_ms_every"]
    assert "creating a file or folder where the job tracks, just before it: " in done.stdout

    # each variant's median run, the lower of two
    assert len(ideal["cpus"]) == len(parallel["walls"]) == len(job["walls"]) == 2 and report["rounds"] == 2
    assert ideal["cpu"] == min(ideal["cpus"]) and parallel["wall"] == min(parallel["walls"])
    assert report["ideal_wall"] == pytest.approx(ideal["cpu"] / 2)
    assert report["parallel_efficiency"] == pytest.approx(report["ideal_wall"] / parallel["wall"])
    assert "median of 2 rounds" in done.stdout

    # each job wrote into tables of its own: a first run each time, as alike as the rounds can be
    [folder] = [path for path in (tmp_path / "work").iterdir() if path.name.startswith("forecast-benchmark-")]
    assert f"runs kept in {folder}" in done.stdout
    for round_number in (1, 2):
        results = DeltaTable(folder / f"round-{round_number}" / "job" / "output" / "series_results")
        assert results.version() == 0 and len(results.to_pandas()) == 2
    # run as of the day the data reach, so no series is stale against today
    latest = pd.read_parquet(folder / "train.parquet")["ds"].max()
    assert set(results.to_pandas()["run_date"].astype(str)) == {latest.date().isoformat()}
    assert not results.to_pandas()["data_notes"].fillna("").str.contains("before the run date").any()

    # the naive version tracks what the job does, the straightforward way: a run per series
    # under its parent, with its model, and under it a run per Hyperopt evaluation
    client = mlflow.MlflowClient((folder / "round-1" / "naive" / "mlruns").as_uri())
    # its Stan fits' files, which its workers leave behind, went under its folder, not the system's
    assert list((folder / "round-1" / "naive" / "tmp").glob("*/prophet_model*"))
    experiment = client.get_experiment_by_name("naive")
    runs = client.search_runs([experiment.experiment_id])
    [parent] = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    per_series = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    series = pd.read_parquet(folder / "train.parquet")["series"].unique()
    assert sorted(run.data.tags["series"] for run in per_series) == sorted(series)
    for run in per_series:
        assert "cv_mase" in run.data.metrics and client.list_artifacts(run.info.run_id, "model")
        evaluations = [other for other in runs if other.data.tags.get("mlflow.parentRunId") == run.info.run_id]
        assert len(evaluations) == 2 and all("mase" in other.data.metrics for other in evaluations)
    assert len(runs) == 1 + 2 * 3


@pytest.mark.skipif(not M4_TRAIN.exists(), reason="../shared M4 data not present")
def test_the_benchmarks_runs_are_deleted_once_its_report_is_written(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--series", "1", "--max-evals", "1", "--folds", "1",
         "--variants", "ideal", "--out", str(tmp_path / "benchmark.json"), "--workdir", str(tmp_path / "work")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((tmp_path / "benchmark.json").read_text())["variants"]["ideal"]["mase"] > 0
    # about 1 GB at 400 series: gone once the report is written, unless --keep
    assert (tmp_path / "work").is_dir() and not list((tmp_path / "work").iterdir())
    assert "runs kept in" not in done.stdout


def peak_of(program: str, folder: Path) -> int:
    """scripts/peak_memory.py's peak for a Python program's process tree."""
    script = folder / "program.py"
    script.write_text(program)
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from peak_memory import PeakMemory
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    process = subprocess.Popen([sys.executable, str(script)])
    with PeakMemory(process.pid, interval=0.2) as memory:
        process.wait()
    return memory.driver


FILLED = "import os, time\ndata = bytearray(200 * 2**20)\nfor i in range(0, len(data), 4096): data[i] = 1\n"


def test_peak_memory_counts_pages_a_fork_shares_once(tmp_path):
    # a worker daemon's stand-in fills 200 MB, then forks two workers that share them: the
    # sum of proportional sizes stays about 200 MB, where resident sizes would count 600
    forking = FILLED + (
        "time.sleep(1.0)\n"
        "for _ in range(2):\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(2.0)\n"
        "        os._exit(0)\n"
        "os.wait()\n"
        "os.wait()\n"
    )
    assert 190 * 2**20 < peak_of(forking, tmp_path) < 300 * 2**20


def test_peak_memory_sees_pages_a_forked_process_copies_by_writing_to_them(tmp_path):
    # the two workers write to all 200 MB they share: each gets a private copy, while no
    # process's resident size moves; the sampler reads every process again every few seconds
    copying = FILLED + (
        "for _ in range(2):\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(0.5)\n"
        "        for i in range(0, len(data), 4096): data[i] = 2\n"
        "        time.sleep(4.0)\n"
        "        os._exit(0)\n"
        "os.wait()\n"
        "os.wait()\n"
    )
    assert peak_of(copying, tmp_path) > 550 * 2**20
