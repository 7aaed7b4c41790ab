"""The scheduler wrapper, run the way cron runs it: its logs, lock and exit codes."""
import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from deltalake import DeltaTable

from conftest import daily_series

ROOT = Path(__file__).resolve().parents[1]
WRAPPER = ROOT / "scripts" / "run_scheduled.sh"
QUICK = [
    "--set", "forecast.horizon=7", "--set", "cross_validation.folds=1", "--set", "tuning.max_evals=2",
    "--set", "model.country_holidays=null", "--set", "model.yearly_seasonality=false",
]


def wrapper(tmp_path, *args, home=None, log_dir=None):
    env = {**os.environ, "SPARK_SUBMIT_ARGS": "--master local[2]",
           "SPARK_SUBMIT": str(Path(sys.executable).parent / "spark-submit"), "PYSPARK_PYTHON": sys.executable}
    if home is None:
        env["FORECAST_LOG_DIR"] = log_dir or str(tmp_path / "logs")
    else:
        env.pop("FORECAST_LOG_DIR", None)
        env["FORECAST_HOME"] = str(home)
    return subprocess.run(["bash", str(WRAPPER), *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)


def test_a_scheduled_run_logs_to_its_own_file_and_passes_the_run_date(tmp_path):
    # A project folder of its own (its jobs are this project's), and the wrapper
    # started elsewhere, as cron starts it in the home folder: the relative paths
    # below are found in FORECAST_HOME.
    home = tmp_path / "project"
    home.mkdir()
    (home / "jobs").symlink_to(ROOT / "jobs")
    (tmp_path / "cron_start").mkdir()
    data = pd.concat([daily_series(60, seed=i).assign(store=f"s{i}") for i in range(2)])
    data.to_csv(home / "input.csv", index=False, date_format="%Y-%m-%d")
    (home / "job.yaml").write_text("input:\n  path: input.csv\n  key_columns: [store]\n")
    settings = ["input.time_column=ds", "input.target_column=y", "output.path=out", "tracking.uri=mlruns"]
    done = wrapper(tmp_path / "cron_start", "train", "--config", "job.yaml", "--run-date", "2024-02-20", *QUICK,
                   *[a for s in settings for a in ("--set", s)], home=home)
    log = (home / "logs" / "train_forecast-2024-02-20.log").read_text()
    assert done.returncode == 0, log[-3000:]
    assert "train 2024-02-20: starting" in log and "Forecast run 2024-02-20 finished" in log
    assert log.rstrip().endswith("train 2024-02-20: exit code 0")
    assert (home / "mlruns").is_dir() and not any((tmp_path / "cron_start").iterdir())
    results = DeltaTable(home / "out" / "series_results").to_pandas()
    assert set(results["run_date"].astype(str)) == {"2024-02-20"}
    # the run date cut the input: 51 of the 60 days are on or before it
    assert (results["history_length"] == 51).all()


def test_a_run_of_the_same_job_and_date_still_going_exits_6(tmp_path):
    (tmp_path / "logs").mkdir()
    with open(tmp_path / "logs" / ".train_forecast-2024-02-20.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        done = wrapper(tmp_path, "train", "--run-date", "2024-02-20")
        assert done.returncode == 6 and "still going" in done.stderr
        joined = wrapper(tmp_path, "train", "--run-date=2024-02-20")  # the same date, spelt as one argument
        assert joined.returncode == 6 and "train 2024-02-20: another run" in joined.stderr


def test_job_exit_codes_pass_through_and_a_wrong_call_is_64(tmp_path):
    # a log folder given relative to where the wrapper starts, although the job runs in the project
    bad = wrapper(tmp_path, "train", "--run-date", "2024-02-20", "--set", "forecast.horizon=-1", log_dir="my-logs")
    assert bad.returncode == 2
    assert "forecast.horizon" in (tmp_path / "my-logs" / "train_forecast-2024-02-20.log").read_text()
    assert wrapper(tmp_path, "predict").returncode == 64
    other_spelling = wrapper(tmp_path, "train", "--run-date", "20240220")  # would take a lock of its own
    assert other_spelling.returncode == 64 and "--run-date must be YYYY-MM-DD, got '20240220'" in other_spelling.stderr


def test_the_crontab_example_calls_the_wrapper_with_shipped_configs():
    lines = [line.split() for line in (ROOT / "scripts" / "crontab.example").read_text().splitlines()
             if line.strip() and not line.startswith("#") and "=" not in line.split()[0]]
    assert lines
    for fields in lines:
        schedule, command = fields[:5], [f.replace("$FORECAST_HOME", str(ROOT)) for f in fields[5:]]
        assert all(field[0].isdigit() or field[0] == "*" for field in schedule), fields
        assert command[0] == str(WRAPPER) and command[1] in ("train", "score", "evaluate"), fields
        assert Path(command[command.index("--config") + 1]).is_file(), fields
