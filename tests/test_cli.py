"""The jobs' command-line front: exit codes, and the session left to the JVM to stop."""
import datetime as dt
import dataclasses
import logging
import os
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from datetime import datetime, timezone

import pytest

from forecasting import cli, heartbeat, io, job_summary, python_worker, redaction, tracking
from forecasting.config import load_config
from forecasting.spark_session import MissingDeltaError


class RecordingSession:
    """Stands in for the SparkSession that cli.run_job builds; records stop()."""

    stopped = False
    sparkContext = types.SimpleNamespace(master="local[2]")

    def stop(self):
        self.stopped = True


@pytest.fixture
def session(monkeypatch):
    made = RecordingSession()
    monkeypatch.setattr(cli, "build_session", lambda app_name, config: made)
    monkeypatch.setattr(cli.tables, "on_default_file_system", lambda spark, config: config)  # no Hadoop here
    monkeypatch.setattr(cli, "prepare_server", lambda config: None)  # no tracking server either
    return made


def run(job, *argv):
    args = cli.job_parser("test job").parse_args(list(argv))
    return cli.run_job(job, args, "test_job", logging.getLogger("test"))


def summary(failed: int):
    done = job_summary.JobSummary("2024-01-01", "run", "0", "file:///tmp/mlruns", {}, max_failed_share=0.1)
    done.counts = {"ok": 10 - failed, "failed": failed}
    return done


def test_a_finished_job_exits_0_and_leaves_stopping_spark_to_the_jvm(session, capsys, tmp_path):
    # PySpark's stop() waits up to a second on its accumulator server; the JVM's
    # shutdown hook stops the context as the driver process exits
    kept = tmp_path / "summary.txt"
    assert run(lambda spark, config: summary(failed=0), "--summary-file", str(kept)) == cli.EXIT_OK
    assert not session.stopped
    printed = capsys.readouterr().out
    assert "Forecast run 2024-01-01" in printed
    assert kept.read_text() == printed  # the summary alone, whatever else went to standard output


def test_the_job_gets_the_config_with_output_path_on_the_default_file_system(session, monkeypatch):
    from dataclasses import replace

    monkeypatch.setattr(cli.tables, "on_default_file_system",
                        lambda spark, config: replace(config, output=replace(config.output, path="hdfs://nn/user/a/out")))
    seen = []
    assert run(lambda spark, config: seen.append(config.output.path) or summary(failed=0)) == cli.EXIT_OK
    assert seen == ["hdfs://nn/user/a/out"]


def test_a_session_spark_cannot_start_is_one_line_naming_the_java_error_and_exit_1(monkeypatch, caplog):
    class Py4JLike(Exception):  # the text of a Py4JJavaError: the call, then the Java exception and its stack
        def __str__(self):
            return ("An error occurred while calling None.org.apache.spark.api.java.JavaSparkContext.\n"
                    ": java.lang.IllegalStateException: Cannot call methods on a stopped SparkContext.\n"
                    "\tat org.apache.spark.SparkContext.assertNotStopped(SparkContext.scala:122)\n")

    def unreachable(app_name, config):
        raise Py4JLike()

    monkeypatch.setattr(cli, "build_session", unreachable)
    assert run(lambda spark, config: summary(failed=0)) == cli.EXIT_FAILED
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage().startswith(
        "cannot start Spark: java.lang.IllegalStateException: Cannot call methods on a stopped SparkContext. (Spark "
        "stopped as it started: a master that never answered, or that refused the application")
    assert record.exc_info is None  # no Python traceback on top of Spark's own log


def test_a_file_spark_submit_was_given_that_is_not_there_is_a_configuration_error_naming_it(monkeypatch, caplog):
    def no_zip(app_name, config):
        raise RuntimeError("An error occurred while calling None.org.apache.spark.api.java.JavaSparkContext.\n"
                           ": java.io.FileNotFoundException: File file:/srv/dist/nope.zip does not exist\n\tat org...")

    monkeypatch.setattr(cli, "build_session", no_zip)
    assert run(lambda spark, config: summary(failed=0)) == cli.EXIT_CONFIG  # a retry would fail the same way
    assert ("configuration error: Spark was given a file or folder that is not there: file:/srv/dist/nope.zip "
            "(spark-submit's --py-files, --files, --archives or --jars") in caplog.text


def test_the_summary_file_of_a_run_that_failed_early_says_why_without_a_password(session, monkeypatch, tmp_path):
    kept, started = tmp_path / "summary.txt", cli.build_session

    def refused(app_name, config):
        raise RuntimeError("An error occurred\n: org.apache.spark.SparkException: Could not parse Master URL: "
                           "'spark://ana:hunter2@h:7077'\n\tat org.apache.spark.SparkContext")

    monkeypatch.setattr(cli, "build_session", refused)
    assert run(lambda spark, config: summary(failed=0), "--summary-file", str(kept)) == cli.EXIT_FAILED
    assert kept.read_text().rstrip().endswith(
        "ended with exit code 1 (cannot start Spark: org.apache.spark.SparkException: Could not parse Master URL: "
        "'spark://ana:(redacted)@h:7077')")
    monkeypatch.setattr(cli, "build_session", started)
    lost = tracking.TrackingUnavailable("MLflow tracking server http://ana:hunter2@h:5000 is unreachable: boom")
    assert run(lambda spark, config: (_ for _ in ()).throw(lost), "--summary-file", str(kept)) == cli.EXIT_TRACKING
    assert kept.read_text().rstrip().endswith("ended with exit code 4 (tracking error: MLflow tracking server "
                                              "http://ana:(redacted)@h:5000 is unreachable: boom)")
    assert run(lambda spark, config: summary(failed=0), "--summary-file", str(kept), "--run-date", "2024-01-01",
               "--set", "forecast.horizon=100000000") == cli.EXIT_CONFIG
    assert "ended with exit code 2 (configuration error: " in kept.read_text()


@pytest.mark.parametrize("error, code", [
    (io.InputError("no rows"), cli.EXIT_INPUT),
    (tracking.TrackingUnavailable("refused"), cli.EXIT_TRACKING),
    (heartbeat.StillRunning("another train_forecast run of 2024-03-31 is still going"), cli.EXIT_STILL_RUNNING),
])
def test_input_and_tracking_errors_have_their_own_exit_codes(session, error, code, monkeypatch):
    # the warm-up job that loads the Python workers may still be running: it is let end
    # first, or Spark logs its worker as crashed after the job's own clean error
    warming = threading.Thread(target=time.sleep, args=(0.5,))
    monkeypatch.setattr(python_worker, "_started", [warming])

    def job(spark, config):
        warming.start()
        raise error

    assert run(job) == code
    assert not warming.is_alive()


def test_executors_that_cannot_start_python_are_a_configuration_error_naming_it(session, caplog, tmp_path):
    # every task failed so on a local master given --archives (unpacked elsewhere), with a Java stack trace
    failure = RuntimeError("An error occurred while calling o98.parquet.\n: org.apache.spark.SparkException: Job "
                           "aborted due to stage failure: ... java.io.IOException: Cannot run program "
                           '"./environment/bin/python": error=2, No such file or directory\n\tat java.base/...')

    def job(spark, config):
        raise failure

    written = tmp_path / "summary.txt"
    assert run(job, "--summary-file", str(written)) == cli.EXIT_CONFIG
    assert ("configuration error: the executors cannot start Python './environment/bin/python' "
            "(spark.pyspark.python)") in caplog.text
    assert "exit code 2 (configuration error: the executors cannot start Python" in written.read_text()
    with pytest.raises(RuntimeError, match="o98"):  # another failure stays one, with its traceback
        run(lambda spark, config: (_ for _ in ()).throw(RuntimeError("o98 failed")))



@pytest.mark.parametrize("module, advice", [
    ("pandas", "set spark.pyspark.python to a Python with the job's packages (requirements.txt) on every node"),
    ("forecasting", "ship the job's package with --py-files dist/forecasting.zip"),
])
def test_executors_whose_python_lacks_the_jobs_packages_are_a_configuration_error_saying_what_to_ship(
        session, caplog, module, advice):
    # a worker's python3 without the venv's packages, or --py-files left out: every task fails alike
    failure = RuntimeError("An error occurred while calling o98.parquet.\n: org.apache.spark.SparkException: Job "
                           "aborted ... org.apache.spark.api.python.PythonException: Traceback (most recent call "
                           f"last):\n  File ...\nModuleNotFoundError: No module named '{module}'\n\tat ...")
    assert run(lambda spark, config: (_ for _ in ()).throw(failure)) == cli.EXIT_CONFIG
    assert f"configuration error: the executors' Python cannot import '{module}': {advice}" in caplog.text


def test_spark_without_delta_lake_is_a_configuration_error_before_the_job_starts(monkeypatch, caplog, capsys):
    def without_delta(app_name, config):
        raise MissingDeltaError("Delta Lake is not on Spark's classpath")

    monkeypatch.setattr(cli, "build_session", without_delta)
    started = []
    assert run(lambda spark, config: started.append(spark)) == cli.EXIT_CONFIG
    assert not started and "Delta Lake is not on Spark's classpath" in caplog.text
    assert capsys.readouterr().out == ""


def test_an_unexpected_error_escapes_for_python_to_exit_1_without_a_summary(session, capsys):
    def job(spark, config):
        raise KeyError("a bug")

    with pytest.raises(KeyError, match="a bug"):  # its traceback, and Python's exit code 1
        run(job)
    assert capsys.readouterr().out == ""
    assert cli.EXIT_FAILED == 1


def test_too_many_failed_series_exit_5(session, caplog):
    assert run(lambda spark, config: summary(failed=2)) == cli.EXIT_TOO_MANY_FAILED
    # in the log too, where an alert would look: at warning level
    assert [(r.levelname, r.getMessage()) for r in caplog.records if "exit code 5" in r.getMessage()] == [
        ("WARNING", "exit code 5: 2 of 10 series failed, more than reliability.max_failed_share")]


def test_a_run_that_modelled_no_series_exits_5_so_that_a_scheduler_sees_it(session, capsys, caplog):
    # every series too short (a horizon of 48 hours left at daily): fallbacks written, a scheduler saw success
    def too_short(spark, config):
        done = summary(failed=0)
        done.counts, done.nothing_modelled = {"ok": 0, "skipped": 12}, True
        return done

    assert run(too_short) == cli.EXIT_TOO_MANY_FAILED
    assert "no series was modelled (their reasons above): exit code 5" in capsys.readouterr().out
    assert "exit code 5: no series was modelled" in caplog.text


def test_an_output_folder_the_job_cannot_write_in_exits_2_before_the_input_is_read(session, monkeypatch, caplog):
    # a read-only mount failed the first write with a Java stack trace and exit 1, after the input was read;
    # checked once Spark has said the path is local (without a scheme it is on HDFS under YARN)
    started = []
    assert run(lambda spark, config: started.append(config), "--set", "output.path=/proc/forecast_out") == cli.EXIT_CONFIG
    assert "output.path is '/proc/forecast_out', but this process cannot write in /proc: " in caplog.text
    assert not started and not list(Path("/proc").glob(".write-check-*"))
    monkeypatch.setattr(cli.tables, "on_default_file_system",  # as on YARN: the path is HDFS's, not this disk's
                        lambda spark, config: dataclasses.replace(config, output=dataclasses.replace(
                            config.output, path="hdfs://namenode:8020" + config.output.path)))
    assert run(lambda spark, config: started.append(config) or summary(failed=0), "--set",
               "output.path=/proc/forecast_out") == cli.EXIT_OK and started


def test_local_paths_under_a_cluster_master_are_warned_about_before_the_input_is_read(session, monkeypatch, caplog):
    # each executor of a spark:// cluster wrote its part of the tables and its child runs to its own disk
    monkeypatch.setattr(session, "sparkContext", types.SimpleNamespace(master="spark://master:7077"), raising=False)
    warned = []
    assert run(lambda spark, config: warned.append(caplog.text) or summary(failed=0),
               "--set", "output.path=out", "--set", "tracking.uri=mlruns") == cli.EXIT_OK
    assert "output.path out is on each machine's local disk under the master spark://master:7077" in warned[0]
    assert "tracking.uri mlruns is a store on each machine's local disk" in warned[0]
    caplog.clear()
    assert run(lambda spark, config: summary(failed=0), "--set", "output.path=file:///mnt/shared/out",
               "--set", "tracking.uri=http://tracking:5000") == cli.EXIT_OK
    assert "local disk" not in caplog.text  # a file: URI is taken as a mount the nodes share


def test_a_tracking_server_that_is_down_exits_4_before_spark(monkeypatch, caplog):
    # found after the session and the input's scan, a wrong port cost a cluster's start-up first
    import socket

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]  # nothing listens once closed
    monkeypatch.setattr(cli, "build_session", lambda app_name, config: pytest.fail("Spark started"))
    assert run(lambda spark, config: None, "--set", f"tracking.uri=http://127.0.0.1:{port}", "--set",
               "tracking.timeout_seconds=2") == cli.EXIT_TRACKING
    assert f"MLflow tracking server http://127.0.0.1:{port} is unreachable" in caplog.text


def test_a_bad_config_key_exits_2(session):
    assert run(lambda spark, config: summary(failed=0), "--set", "tuning.no_such_key=1") == cli.EXIT_CONFIG


def test_the_end_of_job_summary_is_a_table_with_every_status_and_where_to_look():
    done = job_summary.JobSummary(
        "2024-01-01", "abc123", "7", "file:///tmp/mlruns",
        {"forecasts": "/out/forecasts", "series_results": "/out/series_results"}, max_failed_share=0.5,
    )
    done.counts, done.wall_seconds = {"ok": 1200, "failed": 3}, 61.4
    lines = done.format().splitlines()
    assert lines[0] == "Forecast run 2024-01-01 finished in 61s"
    rows = {line.split()[0]: line for line in lines if line.startswith("  ") and len(line.split()) == 2}
    # every status, those no series had too, with the counts right-aligned in one column
    assert [rows[s].split()[1] for s in ("ok", "skipped", "failed")] == ["1200", "0", "3"]
    assert len({len(rows[s]) for s in ("ok", "skipped", "failed")}) == 1
    assert "  series total    " in done.format() and done.format().count("1203") == 1
    assert {rows["forecasts"].split()[1], rows["series_results"].split()[1]} == {"/out/forecasts", "/out/series_results"}
    assert "MLflow parent run abc123 (experiment 7)" in done.format()
    assert "mlflow ui --backend-store-uri file:///tmp/mlruns" in done.format()
    assert "series_results" in lines[-1]  # failed series: where to read why


def test_the_default_run_date_is_todays_date_in_utc_whatever_the_machines_time_zone():
    # UTC+14 and UTC-12 are never on the same date: a local date would differ between them
    code = "from forecasting import cli; print(cli.job_parser('x').parse_args([]).run_date)"
    before = datetime.now(timezone.utc).date().isoformat()
    dates = {
        subprocess.run([sys.executable, "-c", code], env={**os.environ, "TZ": zone}, capture_output=True,
                       text=True, check=True).stdout.strip()
        for zone in ("Etc/GMT-14", "Etc/GMT+12")
    }
    assert dates <= {before, datetime.now(timezone.utc).date().isoformat()} and len(dates) == 1


def test_log_lines_and_the_summary_hide_a_password_in_a_url():
    try:
        raise OSError("cannot open s3a://key:hunter2@bucket/input")
    except OSError:
        record = logging.LogRecord("forecasting.io", logging.ERROR, __file__, 1, "input %s", ("ftp://ana:hunter2@h/x",),
                                   exc_info=sys.exc_info())
    line = cli.RedactingFormatter(cli.LOG_FORMAT).format(record)  # the traceback too
    assert "hunter2" not in line and "ftp://ana:(redacted)@h/x" in line and "s3a://key:(redacted)@bucket" in line
    summary = job_summary.JobSummary(run_date="2024-03-31", job_run_id="r", experiment_id="1",
                         tracking_uri="https://ana:hunter2@mlflow.example.com", tables={"forecasts": "out/forecasts"})
    assert "tracking server: https://ana:(redacted)@mlflow.example.com" in summary.format()


def test_scoring_with_models_trained_after_its_run_date_is_a_wrong_call(capsys):
    import importlib.util
    from pathlib import Path

    job = Path(__file__).resolve().parents[1] / "jobs" / "score_forecast.py"
    spec = importlib.util.spec_from_file_location("score_forecast", job)
    score_forecast = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score_forecast)
    with pytest.raises(SystemExit) as exited:  # before any session: the models had seen its future
        score_forecast.main(["--run-date", "2024-03-31", "--model-run-date", "2024-04-05"])
    assert exited.value.code == 2
    assert "--model-run-date 2024-04-05 is after --run-date 2024-03-31" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:  # the option named is the one written wrong
        score_forecast.main(["--run-date", "2024-03-31", "--model-run-date", "10/03/2024"])
    assert exited.value.code == 2
    assert "argument --model-run-date: expects a date written YYYY-MM-DD, got '10/03/2024'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:  # the last of two had won, silently
        score_forecast.main(["--run-date", "2024-03-31", "--model-run-date", "2024-03-10", "--model-run-date",
                             "2024-03-17"])
    assert exited.value.code == 2
    assert "--model-run-date given twice (2024-03-10, 2024-03-17): one date's models" in capsys.readouterr().err


@pytest.mark.parametrize("written", ["20261201", "2026-W49-2", "2026-12-1"])
def test_a_run_date_is_written_yyyy_mm_dd_as_the_scheduling_wrapper_takes_it(written, capsys):
    # Python's fromisoformat reads these too: a run the wrapper refuses ran when started by hand
    with pytest.raises(SystemExit) as exited:
        cli.job_parser("train").parse_args(["--run-date", written])
    assert exited.value.code == 2 and f"expects a date written YYYY-MM-DD, got '{written}'" in capsys.readouterr().err


def test_a_run_date_past_what_pandas_times_hold_is_refused_before_the_job(capsys):
    parser = cli.job_parser("train")
    assert parser.parse_args(["--run-date", "2260-12-31"]).run_date == "2260-12-31"
    for typo in ("2620-11-23", "2261-01-01"):  # 2620 for 2026: every series would fail in cleaning
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(["--run-date", typo])
        assert exited.value.code == 2
        assert f"{typo} is after 2260-12-31: pandas' times end in April 2262" in capsys.readouterr().err


def test_a_second_config_file_is_refused_not_read_instead_of_the_first(capsys):
    from forecasting import __main__ as forecasting_main

    with pytest.raises(SystemExit) as exited:
        cli.job_parser("train").parse_args(["--config", "base.yaml", "--config", "prod.yaml"])
    assert exited.value.code == 2
    assert "--config given twice (base.yaml, prod.yaml): one file is read" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        forecasting_main.parser().parse_args(["output", "--config", "a.yaml", "--config=b.yaml"])
    assert exited.value.code == 2 and "--config given twice" in capsys.readouterr().err


def test_a_second_run_date_is_refused_not_run_instead_of_the_first(capsys):
    # a scheduler's template adds one, a user's arguments another: the last would have won
    with pytest.raises(SystemExit) as exited:
        cli.job_parser("train").parse_args(["--run-date", "2026-11-16", "--run-date=2026-11-23"])
    assert exited.value.code == 2
    assert ("--run-date given twice (2026-11-16, 2026-11-23): one date is run; run each date as a job of its own"
            in capsys.readouterr().err)
    # once, or not at all (today's date, the default, is no earlier value)
    assert cli.job_parser("train").parse_args(["--run-date", "2026-11-16"]).run_date == "2026-11-16"
    parser = cli.job_parser("train")
    assert parser.parse_args([]).run_date == dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert parser.parse_args(["--run-date", "2026-11-09"]).run_date == "2026-11-09"  # a parser used again
    from forecasting import __main__ as forecasting_main

    with pytest.raises(SystemExit):  # the lookup's, as the jobs'
        forecasting_main.parser().parse_args(["series", "north", "--run-date", "2026-11-16", "--run-date", "2026-11-23"])
    assert "--run-date given twice (2026-11-16, 2026-11-23)" in capsys.readouterr().err
    assert forecasting_main.parser().parse_args(["series", "north"]).run_date is None


def test_a_series_keys_may_come_on_either_side_of_its_options(capsys):
    from forecasting import __main__ as forecasting_main

    args = forecasting_main.parse_arguments(["series", "store=north", "--set", "tracking.uri=x", "item=milk"])
    assert args.keys == ["store=north", "item=milk"] and args.overrides == ["tracking.uri=x"]
    args = forecasting_main.parse_arguments(["series", "store=north", "--steps", "24", "item=milk"])
    assert args.keys == ["store=north", "item=milk"] and args.steps == 24
    for stray in (["runs", "extra=1"], ["series", "a=1", "--nope"]):
        with pytest.raises(SystemExit) as exited:
            forecasting_main.parse_arguments(stray)
        assert exited.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


@pytest.mark.parametrize("url, shown", [
    ("s3a://AKIAKEY:abc/def+ghi@bucket/x", "s3a://AKIAKEY:(redacted)@bucket/x"),  # a raw secret key holds /
    ("https://:token123@host/api", "https://:(redacted)@host/api"),  # a token without a user
    ("ftp://ana:p@ss@files/dir/f@x.csv", "ftp://ana:(redacted)@files/dir/f@x.csv"),  # an @ in the password
    ("https://host:8080/team@x/y", "https://host:8080/team@x/y"),  # a port and an @ in the path: nothing secret
    ("https://ana@host/x", "https://ana@host/x"),
    ("http://u:p1@h1,http://u:p2@h2/x", "http://u:(redacted)@h1,http://u:(redacted)@h2/x"),  # two in one word
    ("http://proxy:3128/http://u:pw@h/", "http://proxy:3128/http://u:(redacted)@h/"),  # one inside another's path
    ("https://[2001:db8::1]/a@b", "https://[2001:db8::1]/a@b"),  # an IPv6 host is no user
    ("https://u:pw@[::1]:5000/x", "https://u:(redacted)@[::1]:5000/x"),
    ("http://h1,http://u:pw@h2/", "http://h1,http://u:(redacted)@h2/"),  # the first URL has none
    ("http://h?a=http://u:pw@h2/", "http://h?a=http://u:(redacted)@h2/"),
    ("s3a://AKIAKEY://wJalrXUtnFEMI+K7MDENG@bucket/key", "s3a://AKIAKEY:(redacted)@bucket/key"),  # a key starting //
])
def test_a_password_in_a_url_is_redacted_whatever_it_holds(url, shown):
    assert redaction.redact_url_password(f"cannot read '{url}' now") == f"cannot read '{shown}' now"


@pytest.mark.parametrize("text, shown", [
    ("postgresql://u@db/runs?password=pw1&sslmode=require", "postgresql://u@db/runs?password=(redacted)&sslmode=require"),
    ("server http://h:5000/api?token=t0k is down", "server http://h:5000/api?token=(redacted) is down"),
    ("https://acct.blob.core.windows.net/c/f.csv?sv=2022&sig=AbC%2B", "https://acct.blob.core.windows.net/c/f.csv?sv=2022&sig=(redacted)"),
    ("s3a://bucket/data?versionId=3&a=1", "s3a://bucket/data?versionId=3&a=1"),  # nothing secret: kept
    # a presigned URL: its signature hidden, whose key and when it expires kept
    ("https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F20261203&X-Amz-Expires=60&X-Amz-Signature=deadbeef",
     "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F20261203&X-Amz-Expires=60&X-Amz-Signature=(redacted)"),
    ("see (http://h/api?token=abc), then", "see (http://h/api?token=(redacted)), then"),  # the text around kept
    ("http://h/cb#access_token=abc&next_page_token=2", "http://h/cb#access_token=(redacted)&next_page_token=2"),
    # SQL Server through pyodbc: the password inside the ODBC connection string, encoded or not
    ("mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BODBC%7D%3BSERVER%3Ddb%3BUID%3Dme%3BPWD%3Ds3cr%25t%3BEncrypt%3Dyes",
     "mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BODBC%7D%3BSERVER%3Ddb%3BUID%3Dme%3BPWD%3D(redacted)%3BEncrypt%3Dyes"),
    ("mssql+pyodbc:///?odbc_connect=SERVER=db;UID=me;Password=s3cret;Encrypt=yes",
     "mssql+pyodbc:///?odbc_connect=SERVER=db;UID=me;Password=(redacted);Encrypt=yes"),
    ("mssql+pyodbc:///?odbc_connect=PWD%3Dx1%3BUID%3Dme", "mssql+pyodbc:///?odbc_connect=PWD%3D(redacted)%3BUID%3Dme"),
    # a password holding a ; is braced, encoded or not
    ("mssql+pyodbc:///?odbc_connect=UID=me;PWD={se;c}}ret};Encrypt=yes",
     "mssql+pyodbc:///?odbc_connect=UID=me;PWD=(redacted);Encrypt=yes"),
    ("mssql+pyodbc:///?odbc_connect=UID%3Dme%3BPWD%3D%7Bse%3Bc%7D%7Dret%7D%3BEncrypt%3Dyes",
     "mssql+pyodbc:///?odbc_connect=UID%3Dme%3BPWD%3D(redacted)%3BEncrypt%3Dyes"),
])
def test_a_secret_in_a_urls_query_is_redacted_and_its_other_parameters_kept(text, shown):
    # libpq takes a password in the query, a SAS URL its signature: MLflow's errors quote the URL
    assert redaction.redact_url_password(text) == shown


def test_a_summary_file_given_as_a_folder_or_empty_is_refused_before_the_job(tmp_path, capsys):
    for given in (str(tmp_path), ""):  # the job ran, then could not write it, and exited 0
        with pytest.raises(SystemExit) as exited:
            cli.job_parser("train").parse_args(["--summary-file", given])
        assert exited.value.code == 2 and "a file's path, not a folder's" in capsys.readouterr().err


def test_a_horizon_reaching_past_pandas_last_time_is_a_configuration_error_before_spark(monkeypatch, caplog):
    # every series failed after its tuning (exit 5); the end of the week's run is in range
    monkeypatch.setattr(cli, "build_session", lambda app_name, config: pytest.fail("Spark started"))
    args = cli.job_parser("train").parse_args(["--run-date", "2026-12-01", "--set", "forecast.horizon=100000"])
    assert cli.run_job(lambda spark, config: None, args, "train", logging.getLogger("train")) == cli.EXIT_CONFIG
    assert "100000 periods of 'D' from the run date 2026-12-01 reach past April 2262" in caplog.text
    from forecasting.config_checks import horizon_problem
    assert horizon_problem(load_config(None, ["forecast.horizon=80000"]), "2026-12-01") is None  # 2245
    assert horizon_problem(load_config(None, ["forecast.frequency=h", "forecast.horizon=10000000000000"]),
                           "2026-12-01") is not None
    # a Wednesday: its week is dated by Sunday 2262-03-30; two weeks on is 2262-04-13, past pandas' last time
    weekly = ["forecast.frequency=W-SUN"]
    assert horizon_problem(load_config(None, [*weekly, "forecast.horizon=2"]), "2262-03-26") is not None
    assert horizon_problem(load_config(None, [*weekly, "forecast.horizon=1"]), "2262-03-26") is None


def test_a_threads_traceback_is_printed_as_python_would_but_redacted(capsys):
    def fail():
        raise RuntimeError("cannot open ftp://ana:hunter2@files/x.csv")

    previous = threading.excepthook
    threading.excepthook = cli.print_redacted_thread_traceback
    try:
        for target in (fail, sys.exit):  # SystemExit in a thread: silent, as Python's own hook
            thread = threading.Thread(target=target, name="writer")
            thread.start()
            thread.join()
    finally:
        threading.excepthook = previous
    printed = capsys.readouterr().err
    assert printed.startswith("Exception in thread writer:\nTraceback") and "SystemExit" not in printed
    assert "ftp://ana:(redacted)@files/x.csv" in printed and "hunter2" not in printed


def test_a_traceback_nothing_caught_is_printed_redacted(capsys):
    try:
        raise RuntimeError("cannot open ftp://ana:hunter2@files/x.csv")
    except RuntimeError as err:
        cli.print_redacted_traceback(type(err), err, err.__traceback__)
    printed = capsys.readouterr().err
    assert "Traceback" in printed and "ftp://ana:(redacted)@files/x.csv" in printed and "hunter2" not in printed


def test_a_summary_file_that_cannot_be_written_is_refused_before_the_job_or_leaves_its_exit_code(
        session, tmp_path, capsys, caplog):
    with pytest.raises(SystemExit) as exited:  # a folder that is not there: before any work
        cli.job_parser("train").parse_args(["--summary-file", str(tmp_path / "no-such-folder" / "summary.txt")])
    assert exited.value.code == 2 and "--summary-file" in capsys.readouterr().err
    folder = tmp_path / "a-folder"
    folder.mkdir()
    taken = folder / "summary.txt"

    def job_that_removes_the_folder(spark, config):  # it cannot be written then: the job's work is done all the same
        taken.unlink()  # the run's "not finished" line
        folder.rmdir()
        return summary(failed=0)

    assert run(job_that_removes_the_folder, "--summary-file", str(taken)) == cli.EXIT_OK
    assert f"cannot write the summary to {taken}" in caplog.text


@pytest.mark.parametrize("key", [
    "spark.hadoop.fs.s3a.encryption.key",  # S3A's SSE-C key
    "Password",  # a JDBC option as a user may capitalise it
    "AWS_SECRET_ACCESS_KEY",
    "fs.azure.SAS.token",
])
def test_a_secret_looking_key_is_redacted_whatever_its_case_or_kind(key):
    cleaned = redaction.redact_secrets({"input": {"options": {key: "hunter2", "user": "ana"}}})
    assert cleaned["input"]["options"] == {key: redaction.REDACTED, "user": "ana"}


@pytest.mark.parametrize("text", [
    # two URLs in a row, then an address: nothing of the text between them is a password
    "tried http://a,http://b and then wrote to ana@example.com",
    "copy s3a://bucket://x 'failed' for ana@example.com",
])
def test_text_between_a_url_and_a_later_at_sign_is_kept(text):
    assert redaction.redact_url_password(text) == text


@pytest.mark.parametrize("url, shown", [
    ("https://h/api?access_token=abc123&page=2", "https://h/api?access_token=(redacted)&page=2"),
    ("postgresql://h/db?user=ana&db_password=hunter2", "postgresql://h/db?user=ana&db_password=(redacted)"),
])
def test_a_query_parameter_whose_name_holds_a_secret_word_is_redacted(url, shown):
    assert redaction.redact_url_password(f"cannot read '{url}' now") == f"cannot read '{shown}' now"


def test_sigterm_raises_terminated_in_the_block_and_what_stopped_a_job_is_found_behind_a_later_error():
    import signal

    from forecasting import signals

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(signals.Terminated) as raised:
        with signals.sigterm_raised():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before this ends
    assert signal.getsignal(signal.SIGTERM) is before  # restored: a later SIGTERM is not the job's
    assert signals.stopped_by(raised.value) == "SIGTERM"

    # the JVM dies from the same signal: Py4J's clean-up fails against it, in the interrupt's place
    class Py4JNetworkError(Exception):
        pass

    for interrupt, name in ((signals.Terminated("SIGTERM"), "SIGTERM"), (KeyboardInterrupt(), "SIGINT")):
        try:
            try:
                raise interrupt
            except KeyboardInterrupt:
                raise Py4JNetworkError("Answer from Java side is empty")
        except Py4JNetworkError as later:
            assert signals.stopped_by(later) == name
    with signals.sigterm_raised():  # the next job's: the signal before was another job's
        assert signals.stopped_by(RuntimeError("a job's own failure")) is None


def test_ctrl_c_stops_a_job_whose_pyspark_handler_fails_and_a_later_error_is_put_down_to_the_signal():
    import signal

    from forecasting import signals

    def pyspark_like(signum, frame):  # cancelling the Spark jobs through Py4J while inside a Py4J call
        raise RuntimeError("reentrant call inside <_io.BufferedReader name=7>")

    before = signal.signal(signal.SIGINT, pyspark_like)
    try:
        with signals.sigterm_raised():  # a job's start: no signal noted yet
            assert signals.stopped_by(RuntimeError("a job's own failure")) is None
            signals.note_sigint()
            signals.note_sigint()  # a second call wraps it once
            with pytest.raises(KeyboardInterrupt, match="SIGINT") as raised:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)
            assert isinstance(raised.value.__cause__, RuntimeError) and signals._received == ["SIGINT"]
            # the JVM, stopped by the same Ctrl-C, fails Py4J's next call: its error is the stop's
            assert signals.stopped_by(RuntimeError("An error occurred while calling o900.parquet")) == "SIGINT"
        assert signal.getsignal(signal.SIGINT) is pyspark_like  # the job's end restores the handler it wrapped
        signals.forget_signals()  # the next job's start (the CLI's, a parent run's)
        assert signals.stopped_by(RuntimeError("the next job's own failure")) is None

        # a host's handler that stops nothing (a notebook's), and an ignored SIGINT, are left as they are
        asked = []
        signal.signal(signal.SIGINT, lambda signum, frame: asked.append(signum))
        with signals.sigterm_raised():
            signals.note_sigint()
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
            assert asked == [signal.SIGINT] and signals.stopped_by(RuntimeError("its own")) is None
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with signals.sigterm_raised():
            signals.note_sigint()
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_stop_during_a_child_runs_logging_waits_for_its_end():
    import signal

    from forecasting import signals

    done = []
    with pytest.raises(signals.Terminated):
        with signals.sigterm_raised():
            with signals.stops_held():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.2)  # a handler would have raised by now
                done.append("ended")  # the run's end, after the signal
            time.sleep(5)  # sent again on leaving the block, acted on as before
    assert done == ["ended"]
    signals.forget_signals()  # as the next job's start does


def test_a_failed_run_leaves_no_earlier_runs_summary_in_the_summary_file(session, tmp_path, capsys):
    kept = tmp_path / "summary.txt"
    kept.write_text("Forecast run 2024-01-01 finished in 8s\n")  # yesterday's, read by a scheduler

    def seen_while_running(spark, config):
        assert "not finished" in kept.read_text()  # a run killed now leaves no success behind
        raise io.InputError("no rows\nin detail")

    assert run(seen_while_running, "--summary-file", str(kept)) == cli.EXIT_INPUT
    assert kept.read_text().rstrip().endswith("ended with exit code 3 (input error: no rows)")  # read without the log
    with pytest.raises(RuntimeError):
        run(lambda spark, config: (_ for _ in ()).throw(RuntimeError("a bug")), "--summary-file", str(kept))
    assert kept.read_text().rstrip().endswith("ended with exit code 1 (a bug)")
    assert run(lambda spark, config: summary(failed=0), "--summary-file", str(kept), "--set",
               "forecast.horizon=0") == cli.EXIT_CONFIG  # a config error: its key named in the file too
    assert "ended with exit code 2 (configuration error: " in kept.read_text() and "forecast.horizon" in kept.read_text()
    for exited, code in ((None, 0), ("fatal", 1), (3, 3)):  # as Python exits for each
        with pytest.raises(SystemExit):
            run(lambda spark, config: sys.exit(exited), "--summary-file", str(kept))
        assert f"ended with exit code {code} (" in kept.read_text()


def test_a_tracking_server_lost_after_the_tables_were_written_exits_4_with_the_runs_summary(session, tmp_path,
                                                                                          capsys):
    kept = tmp_path / "summary.txt"

    def job(spark, config):
        raise tracking.TrackingUnavailable("the tables are written, but the tracking server failed", summary(0))

    assert run(job, "--summary-file", str(kept)) == cli.EXIT_TRACKING
    printed = capsys.readouterr().out
    assert "Forecast run 2024-01-01" in printed and printed.rstrip().endswith(
        "exit code 4: the tables are written, but the tracking server failed")
    assert kept.read_text() == printed

    def with_too_many_failed(spark, config):  # the exit is 4, not the 5 the counts would give
        raise tracking.TrackingUnavailable("the tracking server failed", summary(5))

    assert run(with_too_many_failed) == cli.EXIT_TRACKING
    printed = capsys.readouterr().out
    assert "above reliability.max_failed_share (10%)\n" in printed and "exit code 5" not in printed


def test_a_password_in_the_tracking_uri_is_warned_about_with_where_it_belongs(session, caplog):
    assert run(lambda spark, config: summary(failed=0), "--set",
               "tracking.uri=http://ana:hunter2@127.0.0.1:5000") == cli.EXIT_OK
    [said] = [r.getMessage() for r in caplog.records if "holds a password" in r.getMessage()]
    assert "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD" in said and "hunter2" not in said
    assert "conf/local/" in tracking.password_warning("postgresql://ana:hunter2@db/mlflow")
    assert tracking.password_warning("http://127.0.0.1:5000") is None
    assert tracking.password_warning("mlruns") is None
    # `python -m forecasting config`, which runs the jobs' checks, warns of it too (a walk-through of 12-07)
    from forecasting.__main__ import main as forecasting_main

    caplog.clear()
    assert forecasting_main(["config", "--set", "tracking.uri=http://ana:hunter2@127.0.0.1:5000"]) == cli.EXIT_OK
    assert [r for r in caplog.records if "holds a password" in r.getMessage()]


def test_a_password_in_mlflows_tracking_uri_variable_is_not_warned_about_as_plain_text_in_a_config(
        session, caplog, monkeypatch):
    # the environment is where the docs keep secrets: the warning's "a config file or --set" would be wrong
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://ana:hunter2@127.0.0.1:5000")
    caplog.set_level(logging.INFO, logger="forecasting.config")
    taken = []
    assert run(lambda spark, config: taken.append(config.tracking.uri) or summary(failed=0)) == cli.EXIT_OK
    assert taken == ["http://ana:hunter2@127.0.0.1:5000"]
    assert not [r for r in caplog.records if "holds a password" in r.getMessage()]
    assert "tracking.uri from MLFLOW_TRACKING_URI: http://ana:(redacted)@127.0.0.1:5000" in caplog.text
    assert "hunter2" not in caplog.text


def test_urllib3s_warning_of_each_retry_is_left_out_of_the_jobs_log(caplog, monkeypatch):
    # a walk-through of 12-07: a tracking server stopped for two minutes put 54 "Retrying (...)" lines in the log
    import socket

    import urllib3

    from forecasting import python_worker, redaction

    with socket.socket() as probe:  # a port nothing answers on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def request() -> list[str]:
        caplog.clear()
        with pytest.raises(urllib3.exceptions.MaxRetryError):
            urllib3.PoolManager(retries=urllib3.Retry(2, backoff_factor=0)).request("GET", f"http://127.0.0.1:{port}/")
        return [r.getMessage() for r in caplog.records if r.name == redaction.RETRY_LOGGER]

    retries = logging.getLogger(redaction.RETRY_LOGGER)
    try:
        caplog.set_level(logging.DEBUG)
        retries.setLevel(logging.NOTSET)
        assert len([said for said in request() if said.startswith("Retrying")]) == 2  # as they came before
        for hook in ((sys, "excepthook"), (threading, "excepthook")):  # which configure_logging sets: put back after
            monkeypatch.setattr(*hook, getattr(*hook))
        cli.configure_logging("INFO")  # the driver's
        assert request() == []
        retries.setLevel(logging.NOTSET)
        # a worker's first task, without its set-up of temporary files and zip imports, which are the process's
        monkeypatch.setattr(python_worker, "_prepared", False)
        monkeypatch.setattr(python_worker, "temporary_files_in_spark_local_dir", lambda: None)
        monkeypatch.setattr(python_worker, "_reread_zip_directories_only_when_changed", lambda: None)
        python_worker.prepare()
        assert request() == []
    finally:
        retries.setLevel(logging.NOTSET)


def test_the_names_of_columns_and_holidays_are_no_secrets():
    """input.rename_columns and model.holiday_windows are keyed by the data's names (a column
    private_label): recorded as given, so that a run's resolved.yaml loads back to its config."""
    recorded = {"input": {"rename_columns": {"private_label": "own_brand"}, "options": {"password": "x"}},
                "model": {"holiday_windows": {"Token Day": [-1, 0]}}}
    cleaned = redaction.redact_secrets(recorded)
    assert cleaned["input"]["rename_columns"] == {"private_label": "own_brand"}
    assert cleaned["model"]["holiday_windows"] == {"Token Day": [-1, 0]}
    assert cleaned["input"]["options"] == {"password": redaction.REDACTED}
