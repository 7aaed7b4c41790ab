"""The scheduler wrapper, run the way cron runs it: its logs, lock and exit codes."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from deltalake import DeltaTable

from conftest import daily_series
from forecasting import parent_run, signals, tracking

ROOT = Path(__file__).resolve().parents[1]
WRAPPER = ROOT / "scripts" / "run_scheduled.sh"
QUICK = [
    "--set", "forecast.horizon=7", "--set", "cross_validation.folds=1", "--set", "tuning.max_evals=2",
    "--set", "model.country_holidays=null", "--set", "model.yearly_seasonality=false",
]


def wrapper_env(tmp_path, home=None, log_dir=None, spark_submit=None) -> dict:
    env = {**os.environ, "SPARK_SUBMIT_ARGS": "--master local[2]",
           "SPARK_SUBMIT": str(spark_submit or Path(sys.executable).parent / "spark-submit"),
           "PYSPARK_PYTHON": sys.executable}
    if home is None:
        env["FORECAST_LOG_DIR"] = log_dir or str(tmp_path / "logs")
    else:
        env.pop("FORECAST_LOG_DIR", None)
        env["FORECAST_HOME"] = str(home)
    return env


def wrapper(tmp_path, *args, **where):
    return subprocess.run(["bash", str(WRAPPER), *args], cwd=tmp_path, env=wrapper_env(tmp_path, **where),
                          capture_output=True, text=True, timeout=600)


def only_log(folder: Path, pattern: str) -> str:
    """The text of the one log file in ``folder`` whose name matches ``pattern``."""
    logs = list(folder.glob(pattern))
    assert len(logs) == 1, sorted(p.name for p in folder.iterdir())
    return logs[0].read_text()


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
    log = only_log(home / "logs", "train_forecast-2024-02-20-job-????????.log")  # named by the config too
    assert done.returncode == 0, log[-3000:]
    assert "train 2024-02-20: starting" in log and "Forecast run 2024-02-20 finished" in log
    assert log.rstrip().endswith("train 2024-02-20: exit code 0")
    assert (home / "mlruns").is_dir() and not any((tmp_path / "cron_start").iterdir())
    results = DeltaTable(home / "out" / "series_results").to_pandas()
    assert set(results["run_date"].astype(str)) == {"2024-02-20"}
    # the run date cut the input: 51 of the 60 days are on or before it
    assert (results["history_length"] == 51).all()


def test_a_refused_runs_message_leaves_out_a_password_in_the_output_path(tmp_path):
    import fcntl
    import hashlib

    output = "s3a://AKIAEXAMPLE:se/cr+et@bucket/out"  # a raw secret key may hold / and +
    logs = tmp_path / "logs"
    logs.mkdir()
    shown = "s3a://AKIAEXAMPLE:(redacted)@bucket/out"  # python -m forecasting output's answer, locked on
    lock = logs / f".train_forecast-2024-02-20-{hashlib.sha256(shown.encode()).hexdigest()[:8]}.lock"
    with open(lock, "w") as held:  # another run of that job, date and output holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        refused = wrapper(tmp_path, "train", "--set", f"output.path={output}", "--run-date", "2024-02-20",
                          spark_submit="/bin/false")
    assert refused.returncode == 6, refused.stderr
    assert f"writing {shown} is still going" in refused.stderr
    assert "se/cr+et" not in refused.stderr + "".join(path.read_text() for path in logs.glob("*.log"))


def test_a_run_of_the_same_job_and_date_writing_the_same_output_exits_6_and_another_outputs_runs(tmp_path):
    # A stand-in for spark-submit: the run of held.yaml waits until the test lets it go.
    home, marks = tmp_path / "project", tmp_path / "marks"
    home.mkdir()
    marks.mkdir()
    for stem, output in (("held", "out-held"), ("other", "out-other"), ("same_output", "out-held")):
        (home / f"{stem}.yaml").write_text(f"output:\n  path: {output}\n")
    fake = tmp_path / "spark-submit"
    fake.write_text(f"""#!/usr/bin/env bash
case "$*" in *held.yaml*)
    touch {marks}/started
    for _ in $(seq 600); do [ -e {marks}/release ] && break; sleep 0.1; done ;;
esac
""")
    fake.chmod(0o755)
    env = wrapper_env(tmp_path, home=home, spark_submit=fake)
    held = subprocess.Popen(["bash", str(WRAPPER), "train", "--config", "held.yaml", "--run-date", "2024-02-20"],
                            cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):
            if (marks / "started").exists():
                break
            time.sleep(0.1)
        assert (marks / "started").exists(), "the held run never started"
        # the same config spelt otherwise, the date as one argument: the same run
        same = wrapper(tmp_path, "train", "--config=./held.yaml", "--run-date=2024-02-20", home=home, spark_submit=fake)
        assert same.returncode == 6
        # the one line cron mails, in the form of a failed run's: the code, why, and the log
        [said] = same.stderr.splitlines()
        assert said.startswith(f"{WRAPPER}: train 2024-02-20 failed with exit code 6 (another run of this job and "
                               f"date writing {home / 'out-held'} is still going); its log: {home / 'logs'}/train_")
        # other arguments, or another config, writing that output: they would replace each other's rows
        for args in (["--config", "held.yaml", "--log-level", "DEBUG"], ["--config", "same_output.yaml"],
                     ["--config", "other.yaml", "--set", "output.path=out-held"]):
            clash = wrapper(tmp_path, "train", *args, "--run-date", "2024-02-20", home=home, spark_submit=fake)
            assert clash.returncode == 6 and "still going" in clash.stderr, args
        # another dataset's config the same day runs beside it, with a log of its own
        other = wrapper(tmp_path, "train", "--config", "other.yaml", "--run-date", "2024-02-20", home=home,
                        spark_submit=fake)
        assert other.returncode == 0, other.stderr
    finally:
        (marks / "release").touch()
        held.wait(timeout=120)
    assert held.returncode == 0, held.stderr.read()
    # each call logs under its own arguments; the refused ones say why
    logs = {path.name: path.read_text() for path in (home / "logs").glob("train_forecast-2024-02-20-*.log")}
    finished = sorted(name for name, text in logs.items() if text.rstrip().endswith("exit code 0"))
    assert [name.split("-")[-2] for name in finished] == ["held", "other"]
    refused = [text for text in logs.values() if "still going" in text]
    assert len(refused) == 4 and all(f"writing {home / 'out-held'} is still going" in text for text in refused)


@pytest.mark.parametrize("sent, expected", [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")])
def test_a_signal_to_the_wrapper_reaches_the_job_whose_exit_code_it_waits_for_and_logs(tmp_path, sent, expected):
    # A scheduler's timeout signals the wrapper alone: the job (here a stand-in, with a child of
    # its own as spark-submit's JVM has its Python driver) had run on unseen, holding the lock
    marks = tmp_path / "marks"
    marks.mkdir()
    fake = tmp_path / "spark-submit"
    # spark-submit's JVM starts the Python driver as a child process, not in a shell
    fake.write_text(f"""#!{sys.executable}
import signal, subprocess, sys, time
from pathlib import Path
role = sys.argv[1] if sys.argv[1:] == ["driver"] else "job"
def record(signum, frame):
    if role == "driver":  # it outlives the JVM, ending its MLflow run
        time.sleep(1)
    Path("{marks}", role).write_text(signal.Signals(signum).name)
    sys.exit(128 + signum)
signal.signal(signal.SIGTERM, record)
signal.signal(signal.SIGINT, record)
if role == "job":
    subprocess.Popen([sys.executable, __file__, "driver"])
Path("{marks}", role + "-started").touch()
time.sleep(60)
""")
    fake.chmod(0o755)
    run = subprocess.Popen(["bash", str(WRAPPER), "train", "--run-date", "2024-02-20"], cwd=tmp_path,
                           env=wrapper_env(tmp_path, spark_submit=fake), stderr=subprocess.PIPE, text=True)
    for _ in range(300):
        if (marks / "job-started").exists() and (marks / "driver-started").exists():
            break
        time.sleep(0.1)
    run.send_signal(sent)
    run.wait(timeout=60)
    code = 128 + sent
    assert run.returncode == code, run.stderr.read()
    # the wrapper ended after the driver had: its lock and log outlast the job's last step
    assert (marks / "job").read_text().strip() == (marks / "driver").read_text().strip() == expected
    log = only_log(tmp_path / "logs", "train_forecast-2024-02-20-*.log")
    assert log.rstrip().endswith(f"train 2024-02-20: exit code {code}")
    # the lock went with the job: the next run of that date is not refused
    again = wrapper(tmp_path, "train", "--run-date", "2024-02-20", spark_submit="/bin/true")
    assert again.returncode == 0, again.stderr


def test_a_run_ends_the_stale_runs_of_its_own_output_only(tmp_path, fast_config):
    # two datasets' configs in one experiment, on the same day: neither's start ends the other's run
    from mlflow import MlflowClient

    def start(output: str) -> str:
        config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / output}")
        return parent_run.start_parent_run(config, "2024-02-20", {}).parent_run_id

    first_a, first_b = start("a"), start("b")  # both still going
    store = MlflowClient((tmp_path / "mlruns").as_uri())
    assert store.get_run(first_a).info.status == "RUNNING"
    assert store.get_run(first_a).data.tags[tracking.OUTPUT_PATH_TAG] == str(tmp_path / "a")
    second_a = start("a")  # a's rerun of the date: a's killed run ends, b's goes on
    assert store.get_run(first_a).info.status == "FAILED"
    assert store.get_run(first_a).data.tags["ended_by"] == "a later train_forecast run of 2024-02-20"
    assert (store.get_run(first_b).info.status, store.get_run(second_a).info.status) == ("RUNNING", "RUNNING")


@pytest.mark.parametrize("submit_args, workers, driver", [
    ("", "venv", "unset"),
    ("--master local[2]", "venv", "unset"),
    ("--master spark://master:7077 --py-files dist/forecasting.zip", "unset", "venv"),
    ("--master=yarn --deploy-mode cluster", "unset", "unset"),  # the driver runs on a node
    ("--conf spark.master=spark://master:7077", "unset", "venv"),  # the master given as a setting
])
def test_the_projects_python_goes_to_the_executors_on_a_local_master_only(tmp_path, submit_args, workers, driver):
    # PySpark sends the driver's PYSPARK_PYTHON to every executor: a cluster's have no .venv of this machine
    home = tmp_path / "project"
    (home / ".venv" / "bin").mkdir(parents=True)
    (home / ".venv" / "bin" / "python").symlink_to(sys.executable)
    seen = tmp_path / "seen"
    fake = tmp_path / "spark-submit"
    fake.write_text(f"""#!/usr/bin/env bash
echo "${{PYSPARK_PYTHON-unset}} ${{PYSPARK_DRIVER_PYTHON-unset}}" > {seen}
""")
    fake.chmod(0o755)
    env = {key: value for key, value in wrapper_env(tmp_path, home=home, spark_submit=fake).items()
           if key not in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "VIRTUAL_ENV")}
    venv = str(home / ".venv" / "bin" / "python")

    def run_with(**given) -> list[str]:
        done = subprocess.run(["bash", str(WRAPPER), "train", "--run-date", "2024-02-20"], cwd=tmp_path,
                              env={**env, "SPARK_SUBMIT_ARGS": submit_args, **given}, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return seen.read_text().split()

    assert run_with() == [venv if workers == "venv" else "unset", venv if driver == "venv" else "unset"]
    # a Python given stays, the driver's too
    assert run_with(PYSPARK_PYTHON="/opt/py/bin/python") == ["/opt/py/bin/python", "unset"]
    assert run_with(PYSPARK_DRIVER_PYTHON="/opt/py/bin/python")[1] == "/opt/py/bin/python"


def test_the_spark_submit_arguments_reach_spark_submit_as_written_not_as_file_names(tmp_path):
    # local[2] is a pattern to the shell: a file local2 in the project folder made it "--master local2"
    home = tmp_path / "project"
    home.mkdir()
    (home / "local2").write_text("")
    seen = tmp_path / "seen"
    fake = tmp_path / "spark-submit"
    fake.write_text(f'#!/usr/bin/env bash\necho "$1 $2" > {seen}\n')
    fake.chmod(0o755)
    done = subprocess.run(["bash", str(WRAPPER), "train", "--run-date", "2024-02-20"], cwd=tmp_path,
                          env=wrapper_env(tmp_path, home=home, spark_submit=fake), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert seen.read_text().split() == ["--master", "local[2]"]


def test_a_project_without_its_own_venv_runs_the_activated_one_or_says_what_is_missing(tmp_path):
    # a bare exit 127 in the log, and PYSPARK_PYTHON needed by hand, where the venv lived elsewhere
    home, elsewhere = tmp_path / "project", tmp_path / "envs" / "forecasting"
    home.mkdir()
    (elsewhere / "bin").mkdir(parents=True)
    seen = tmp_path / "seen"
    (elsewhere / "bin" / "spark-submit").write_text(f'#!/usr/bin/env bash\necho "$0 $PYSPARK_PYTHON" > {seen}\n')
    (elsewhere / "bin" / "spark-submit").chmod(0o755)
    (elsewhere / "bin" / "python").symlink_to(sys.executable)
    env = {key: value for key, value in wrapper_env(tmp_path, home=home).items()
           if key not in ("SPARK_SUBMIT", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "VIRTUAL_ENV")}
    call = ["bash", str(WRAPPER), "train", "--run-date", "2024-02-20"]
    missing = subprocess.run(call, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 64
    assert f"no spark-submit at {home}/.venv/bin/spark-submit: run scripts/setup.sh in {home}" in missing.stderr
    activated = subprocess.run(call, cwd=tmp_path, env={**env, "VIRTUAL_ENV": str(elsewhere)}, capture_output=True,
                               text=True, timeout=60)
    assert activated.returncode == 0, activated.stderr
    assert seen.read_text().split() == [str(elsewhere / "bin" / "spark-submit"), str(elsewhere / "bin" / "python")]
    # a spark-submit named, no environment at all: no worker Python that is not there
    (elsewhere / "bin" / "python").unlink()
    named = subprocess.run(call, cwd=tmp_path, env={**env, "SPARK_SUBMIT": str(elsewhere / "bin" / "spark-submit")},
                           capture_output=True, text=True, timeout=60)
    assert named.returncode == 0, named.stderr
    assert seen.read_text().split() == [str(elsewhere / "bin" / "spark-submit")]


def test_job_exit_codes_pass_through_and_a_wrong_call_is_64(tmp_path):
    # a log folder given relative to where the wrapper starts, although the job runs in the project
    bad = wrapper(tmp_path, "train", "--run-date", "2024-02-20", "--set", "forecast.horizon=-1", log_dir="my-logs")
    assert bad.returncode == 2
    assert "forecast.horizon" in only_log(tmp_path / "my-logs", "train_forecast-2024-02-20-defaults-????????.log")
    # what cron mails: one line, naming the log
    [said] = bad.stderr.splitlines()
    assert "train 2024-02-20 failed with exit code 2 (configuration error: " in said and "forecast.horizon" in said
    assert "; its log: " in said and said.endswith(".log")  # and why: the job's summary file's last line
    (tmp_path / "a-file").write_text("")  # a log folder that cannot be one: a wrong call, not "still running"
    no_logs = wrapper(tmp_path, "train", "--run-date", "2024-02-20", log_dir=str(tmp_path / "a-file"))
    assert no_logs.returncode == 64 and "cannot write logs to the folder" in no_logs.stderr
    assert wrapper(tmp_path, "predict").returncode == 64
    other_spelling = wrapper(tmp_path, "train", "--run-date", "20240220")  # would take a lock of its own
    assert other_spelling.returncode == 64 and "--run-date must be YYYY-MM-DD, got '20240220'" in other_spelling.stderr
    # a date of that form the calendar lacks: refused here, not by the job's exit 2 after a log and a lock were made
    for impossible in ("2025-13-40", "2025-02-29"):
        refused = wrapper(tmp_path, "train", "--run-date", impossible, log_dir="no-date-logs")
        assert refused.returncode == 64 and f"--run-date {impossible} is no date of the calendar" in refused.stderr
        assert not (tmp_path / "no-date-logs").exists()
    helped = wrapper(tmp_path, "--help")  # the script's own comments: its arguments, environment and exit codes
    assert helped.returncode == 0 and "SPARK_SUBMIT_ARGS" in helped.stdout and "Exit codes:" in helped.stdout
    twice = wrapper(tmp_path, "train", "--config", "conf/airports.yaml", "--config=conf/m4_hourly.yaml")
    assert twice.returncode == 64 and "--config given twice" in twice.stderr
    two_dates = wrapper(tmp_path, "train", "--run-date", "2024-02-20", "--run-date=2024-02-27")  # the last had won
    assert two_dates.returncode == 64 and "--run-date given twice: one date a job" in two_dates.stderr


def test_a_project_folder_with_a_space_in_its_path_runs_its_own_spark_submit(tmp_path):
    # pyspark's find-spark-home runs the driver's Python unquoted: exit 127 before the job began
    home = tmp_path / "my project"
    home.mkdir()
    (home / "jobs").symlink_to(ROOT / "jobs")
    (home / ".venv").symlink_to(Path(sys.executable).parents[1])
    env = {key: value for key, value in wrapper_env(tmp_path, home=home).items()
           if key not in ("SPARK_SUBMIT", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "SPARK_HOME")}
    done = subprocess.run(["bash", str(WRAPPER), "train", "--run-date", "2024-02-20", "--set", "forecast.horizon=-1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    log = only_log(home / "logs", "train_forecast-2024-02-20-defaults-????????.log")
    assert done.returncode == 2 and "forecast.horizon" in log, log[-2000:]  # the job's own answer


def test_the_crontab_example_calls_the_wrapper_with_shipped_configs():
    lines = [line.split() for line in (ROOT / "scripts" / "crontab.example").read_text().splitlines()
             if line.strip() and not line.startswith("#") and "=" not in line.split()[0]]
    jobs = [fields for fields in lines if fields[5] != "find"]
    assert jobs and len(lines) == len(jobs) + 1  # and one line pruning the logs
    for fields in lines:
        assert all(field[0].isdigit() or field[0] == "*" for field in fields[:5]), fields
    for fields in jobs:
        command = [f.replace("$FORECAST_HOME", str(ROOT)) for f in fields[5:]]
        assert command[0] == str(WRAPPER) and command[1] in ("train", "score", "evaluate"), fields
        assert Path(command[command.index("--config") + 1]).is_file(), fields


def test_the_crontab_example_prunes_old_logs_only(tmp_path):
    line = next(line for line in (ROOT / "scripts" / "crontab.example").read_text().splitlines()
                if line.split()[5:6] == ["find"])
    logs = tmp_path / "logs"
    logs.mkdir()
    # the wrapper's hidden files of a job and date go with the logs: a lock's time is its last run's start
    for name, days in (("train_forecast-2025-01-06-airports-1a2b3c4d.log", 400), ("score-recent.log", 3),
                       (".train_forecast-2025-01-06-1a2b3c4d.lock", 400), (".score-recent.lock", 3),
                       (".train_forecast-2025-01-06-airports-1a2b3c4d.summary", 400), ("notes.txt", 400)):
        (logs / name).write_text("x")
        old = time.time() - days * 86400
        os.utime(logs / name, (old, old))
    command = " ".join(line.split()[5:])
    subprocess.run(["bash", "-c", command], env={**os.environ, "FORECAST_HOME": str(tmp_path)}, check=True)
    assert sorted(p.name for p in logs.iterdir()) == [".score-recent.lock", "notes.txt", "score-recent.log"]


def test_the_failure_line_says_why_from_this_attempts_summary_file_and_a_cluster_driver_gets_none(tmp_path):
    # a fake spark-submit: records its arguments, writes the summary file it is given a cause, exits as told
    fake = tmp_path / "spark-submit"
    fake.write_text('#!/usr/bin/env bash\necho "$@" > "$SEEN"\nwhile [ $# -gt 0 ]; do\n'
                    '  if [ "$1" = --summary-file ] && [ -n "$CAUSE" ]; then\n'
                    '    echo "train_forecast x: started, ended with exit code ${SAID:-$CODE} ($CAUSE)" > "$2"; fi\n'
                    '  if [ "$1" = --summary-file ] && [ -n "$REPORT" ]; then cp "$REPORT" "$2"; fi\n'
                    '  if [ "$1" = --summary-file ] && [ -n "$STARTED" ]; then echo "$STARTED" > "$2"; fi\n'
                    '  shift\ndone\nexit "$CODE"\n')
    fake.chmod(0o755)
    seen = tmp_path / "seen"

    def attempt(code: int, cause: str = "", submit_args: str = "--master local[2]", *args: str, report: str = "",
                started: str = "", said: str = ""):
        env = {**wrapper_env(tmp_path, spark_submit=fake), "SPARK_SUBMIT_ARGS": submit_args, "SEEN": str(seen),
               "CODE": str(code), "CAUSE": cause, "REPORT": report, "STARTED": started, "SAID": said}
        return subprocess.run(["bash", str(WRAPPER), "train", "--run-date", "2024-02-20", *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=60)

    down = attempt(4, "tracking error: server down")
    assert down.returncode == 4 and "failed with exit code 4 (tracking error: server down); its log: " in down.stderr
    # the log's last line says why too: the job's own line can be lost with the JVM that carries its output
    log = only_log(tmp_path / "logs", "train_forecast-2024-02-20-*.log")
    assert log.rstrip().endswith("train 2024-02-20: exit code 4 (tracking error: server down)")
    # a SIGKILL leaves the job's first line, "not finished": the wrapper says what it knows, there too
    started = "train_forecast 2024-02-20: started 2024-02-20 06:00:01 UTC"
    killed = attempt(137, started=f"{started}, not finished (this file holds the run's summary once it ends)")
    why = "killed (SIGKILL: kill -9, or out of memory); its MLflow run stays RUNNING until a rerun of the date ends it"
    assert f"failed with exit code 137 ({why}); its log: " in killed.stderr
    (summary,) = (tmp_path / "logs").glob(".train_forecast-2024-02-20-*.summary")
    assert summary.read_text() == (
        f"{started}, ended with exit code 137 ({why})\n")
    # the JVM killed alone: the Python driver said its own exit code (1), spark-submit's is the JVM's (a walk-through
    # of 12-08 found 1 in the file and 137 in the line)
    gone = attempt(137, f"{signals.JVM_GONE}: its MLflow run ended FAILED", said="1")
    assert f"failed with exit code 137 ({signals.JVM_GONE}: its MLflow run ended FAILED); its log: " in gone.stderr
    assert summary.read_text() == f"train_forecast x: started, ended with exit code 137 ({signals.JVM_GONE}: its " \
        "MLflow run ended FAILED)\n"
    jvm = attempt(1)  # spark-submit failed before the job wrote a word: no cause, not the attempt before's
    assert jvm.returncode == 1 and "failed with exit code 1; its log: " in jvm.stderr
    own = tmp_path / "mine.summary"  # the arguments' own file is the one read
    mine = attempt(3, "input error: no rows", "--master local[2]", "--summary-file", str(own))
    assert "(input error: no rows)" in mine.stderr and seen.read_text().count("--summary-file") == 1
    # a full report's own line of why (exit 5: too many failed; exit 4: tracking lost after the writes)
    report = tmp_path / "report.txt"
    report.write_text("Forecast run 2024-02-20 finished in 9s\n  failed  7\n\n  70% of the series failed, above "
                      "reliability.max_failed_share (50%): exit code 5\n")
    five = attempt(5, report=str(report))
    assert "failed with exit code 5 (70% of the series failed, above reliability.max_failed_share (50%)); " \
        in five.stderr
    report.write_text("Forecast run 2024-02-20 finished in 9s\n\n  exit code 4: the tables are written, but the "
                      "tracking server failed (503)\n")
    four = attempt(4, report=str(report))
    assert "failed with exit code 4 (the tables are written, but the tracking server failed (503)); " in four.stderr
    cluster = attempt(1, "", "--master yarn --deploy-mode cluster")
    assert cluster.returncode == 1 and "--summary-file" not in seen.read_text()
