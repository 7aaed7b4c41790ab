"""The pure parts of ``python -m forecasting``; tests/test_pipeline.py runs it on a real job's output."""
import json
import re
import socket
import time
import types
from pathlib import Path

import pandas as pd
import pytest

from forecasting import (command_keys, lookup, lookup_job_run, lookup_text, run_listing, series_identity, tables,
                         tracking)
from forecasting.__main__ import main as forecasting_main
from forecasting.config import load_config
from forecasting.lookup_job_run import TrackedRun

ROOT = Path(__file__).resolve().parents[1]


def test_an_unreachable_tracking_server_is_reported_with_exit_4_not_minutes_of_retries(caplog):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert forecasting_main(["runs", "--set", f"tracking.uri=http://127.0.0.1:{port}"]) == 4
    assert f"MLflow tracking server http://127.0.0.1:{port} is unreachable" in caplog.text


@pytest.mark.parametrize("limit", ["0", "50001"])  # 0 answered "no job runs yet"; MLflow refuses above 50,000
def test_a_run_limit_below_one_or_above_mlflows_most_is_a_wrong_call(limit, capsys):
    with pytest.raises(SystemExit) as wrong:
        forecasting_main(["runs", "--limit", limit])
    assert wrong.value.code == 2 and "from 1 to 50000" in capsys.readouterr().err


def test_run_location_points_at_the_server_page_or_the_local_folder_and_ui():
    assert lookup.run_location("https://mlflow.example.com/", "7", "abc") == [
        "https://mlflow.example.com/#/experiments/7/runs/abc"
    ]
    assert lookup.run_location("file:///srv/mlruns", "7", "abc") == [
        "/srv/mlruns/7/abc",
        "mlflow ui --backend-store-uri file:///srv/mlruns, then http://127.0.0.1:5000/#/experiments/7/runs/abc",
    ]
    assert lookup.run_location("file:///srv/my%20runs", "7", "abc")[0] == "/srv/my runs/7/abc"
    # printed on standard output, which the log's redaction does not see
    # a link to open in a browser: without the user and password, which the browser asks for
    assert lookup.run_location("https://ana:S3cret@mlflow.example.com:8443/mlflow/", "7", "abc") == [
        "https://mlflow.example.com:8443/mlflow/#/experiments/7/runs/abc"]
    assert lookup.run_location("http://ana:S3/cr#et@mlflow.example.com", "7", "abc") == [
        "http://mlflow.example.com/#/experiments/7/runs/abc"]
    assert "S3cret" not in " ".join(lookup.run_location("postgresql://fc:S3cret@db.example/mlflow", "7", "abc"))
    assert lookup.run_location("databricks", "7", "abc") == ["in the workspace: #mlflow/experiments/7/runs/abc"]
    assert lookup.run_location("databricks://prod", "7", "abc") == [
        "in the workspace of profile prod: #mlflow/experiments/7/runs/abc"
    ]


def test_status_counts_list_the_usual_statuses_first():
    metrics = {"series_total": 6, "series_scored": 1, "series_failed": 2, "series_ok": 3, "wall_seconds": 9.5}
    assert run_listing.status_counts(metrics) == "ok 3, failed 2, scored 1"
    assert run_listing.status_counts({"wall_seconds": 1.0}) == "-"


def test_a_missing_file_store_is_not_found_and_not_created(tmp_path, monkeypatch, caplog):
    # run in the wrong folder, MLflow would create an empty ./mlruns and answer "no job runs yet"
    monkeypatch.chdir(tmp_path)
    assert forecasting_main(["runs"]) == 1
    assert f"no MLflow store at {tmp_path / 'mlruns'}: run this in the folder the job ran in" in caplog.text
    assert not (tmp_path / "mlruns").exists()


def test_a_series_asked_for_without_the_jobs_config_where_no_table_is_says_the_defaults_were_read(tmp_path, monkeypatch,
                                                                                                   caplog):
    # a walk-through of 12-08: the table's format hint ("give its --config") had kept this hint out
    monkeypatch.chdir(tmp_path)
    tracking.client(str(tmp_path / "mlruns")).create_experiment("many-model-forecasting")
    assert forecasting_main(["series", "east/soap"]) == 1
    assert "no delta table at " in caplog.text and "(read with the embedded defaults only: give the job's --config" in (
        caplog.text)
    caplog.clear()
    assert forecasting_main(["series", "east/soap", "--set", "output.format=parquet"]) == 1  # a setting given
    assert "no parquet table at " in caplog.text and "embedded defaults" not in caplog.text


@pytest.mark.parametrize("api", ["stalls", "fails", "missing"])
def test_a_server_whose_health_answers_but_its_api_does_not_is_exit_4(api, caplog):
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class HealthOnly(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/health" and api == "stalls":
                time.sleep(3)  # past the 1 s timeout
            # missing: another web server, or MLflow's behind a path the URI lacks, answers 404 to all
            self.send_response(404 if api == "missing" else 200 if self.path == "/health" else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), HealthOnly)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert forecasting_main(["runs", "--set", f"tracking.uri={uri}", "--set", "tracking.timeout_seconds=1"]) == 4
    finally:
        server.shutdown()
        server.server_close()
    expected = {"stalls": f"MLflow tracking server {uri} does not answer its API",
                "fails": f"MLflow tracking server {uri} fails its API: HTTP 503",
                "missing": f"{uri} answers, but not as an MLflow tracking server: {uri}/api/2.0/mlflow/experiments/"
                           "search is HTTP 404. Check tracking.uri's host, port and path"}
    assert expected[api] in caplog.text


@pytest.mark.parametrize("uri, store", [("sqlite:///mlflow.db", "mlflow.db"), ("mlruns", "mlruns")])
def test_questions_about_a_local_store_that_is_not_there_create_none(tmp_path, monkeypatch, caplog, uri, store):
    monkeypatch.chdir(tmp_path)  # e.g. asked from the wrong folder
    assert forecasting_main(["runs", "--set", f"tracking.uri={uri}"]) == 1
    assert f"no MLflow store at {tmp_path / store}" in caplog.text  # where the folder it was asked from puts it
    assert list(tmp_path.iterdir()) == []  # MLflow had made and migrated an empty database here


def test_an_absolute_sqlite_store_is_found_where_its_uri_points(tmp_path):
    database = tmp_path / "runs.db"
    assert tracking.missing_store(f"sqlite:///{database}") == str(database)  # four slashes: an absolute path
    database.touch()
    assert tracking.missing_store(f"sqlite:///{database}") is None
    assert tracking.missing_store("sqlite:///:memory:") is None and tracking.missing_store("http://host:5000") is None


def test_a_job_name_that_names_no_job_is_a_wrong_call(capsys):
    # a typo had answered "no job runs yet" with exit 0, a quote an MLflow traceback
    for job in ("train_forcast", "train'x"):
        with pytest.raises(SystemExit) as wrong:
            forecasting_main(["runs", "--job", job])
        assert wrong.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_no_runs_of_the_job_asked_for_says_which_job(tmp_path, monkeypatch, capsys):
    from forecasting import tracking

    monkeypatch.chdir(tmp_path)
    store = tmp_path / "mlruns"
    tracker = tracking.client(str(store))
    experiment = tracker.create_experiment("forecasting")
    tracker.set_terminated(tracker.create_run(experiment, tags={tracking.JOB_TAG: "train_forecast"}).info.run_id)
    settings = ["--set", f"tracking.uri={store}", "--set", "tracking.experiment=forecasting"]
    # exit 1, as for a series not there: a script asking whether a job or date ran
    assert forecasting_main(["runs", "--job", "evaluate_forecast", *settings]) == 1
    assert capsys.readouterr().out.strip() == "no evaluate_forecast runs yet"  # there are training runs

    # a run date's runs only (trial 36: its reruns, listed among a year of weekly runs)
    for run_date in ("2024-03-24", "2024-03-31", "2024-03-31"):
        tracker.set_terminated(tracker.create_run(experiment, tags={
            tracking.JOB_TAG: "train_forecast", tracking.RUN_DATE_TAG: run_date}).info.run_id)
    assert forecasting_main(["runs", "--run-date", "2024-03-31", *settings]) == 0
    listed = capsys.readouterr().out.splitlines()[1:]
    assert len(listed) == 2 and all(line.startswith("2024-03-31") for line in listed)
    assert forecasting_main(["runs", "--run-date", "2024-04-07", "--job", "train_forecast", *settings]) == 1
    assert capsys.readouterr().out.strip() == "no train_forecast runs of run date 2024-04-07"


def test_the_output_a_config_writes_is_printed_resolved_without_asking_the_tracking_server(tmp_path, monkeypatch,
                                                                                           capsys):
    monkeypatch.chdir(tmp_path)
    done = forecasting_main(["output", "--set", "output.path=~/forecasts/../out", "--set",
                             "tracking.uri=http://127.0.0.1:9"])  # nothing listens there
    assert done == 0 and capsys.readouterr().out.strip() == str(Path.home() / "out")
    assert forecasting_main(["output", "--set", "output.path=s3a://bucket/out/"]) == 0
    assert capsys.readouterr().out.strip() == "s3a://bucket/out"
    # a password in the path is not printed (the scheduling wrapper locks on this answer)
    assert forecasting_main(["output", "--set", "output.path=abfss://user:hunter2@account.host/out"]) == 0
    assert capsys.readouterr().out.strip() == "abfss://user:(redacted)@account.host/out"


def test_a_config_naming_fewer_key_columns_than_the_tables_is_refused_not_answered_with_mixed_series(
        tmp_path, monkeypatch, caplog):
    import pyarrow as pa
    from deltalake import write_deltalake

    # two series share region=north; asked by region alone, their rows came back interleaved, exit 0
    results = pa.table({"region": ["north", "north"], "sku": ["1", "2"], "status": ["ok", "failed"],
                        "run_date": ["2024-01-01"] * 2})
    write_deltalake(str(tmp_path / "out" / "series_results"), results)
    monkeypatch.chdir(tmp_path)
    asked = ["series", "--set", f"output.path={tmp_path / 'out'}", "--set", "input.key_columns=[region]",
             "region=north"]
    assert forecasting_main(asked) == 1
    assert "holds series keyed by region, sku, but the config's key columns are region" in caplog.text


def test_a_parquet_output_asked_about_as_delta_says_how_to_name_its_format(tmp_path, monkeypatch, caplog):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "out" / "series_results" / "run_date=2024-01-01"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"region": ["north"], "status": ["ok"]}), folder / "part-0.parquet")
    monkeypatch.chdir(tmp_path)
    asked = ["series", "--set", f"output.path={tmp_path / 'out'}", "--set", "input.key_columns=[region]",
             "region=north"]
    assert forecasting_main(asked) == 1
    assert "(for a job writing parquet, give its --config, or --set output.format=parquet, here too)" in caplog.text


def test_a_series_is_shown_as_of_an_asked_run_date_and_its_other_run_dates_are_named(tmp_path, monkeypatch, capsys,
                                                                                   caplog):
    import datetime as dt

    import pandas as pd
    from deltalake import write_deltalake

    dates = [dt.date(2024, 1, day) for day in (1, 8, 15)]
    results = pd.DataFrame({"region": "north", "status": ["failed", "ok", "ok"], "reason": ["broke", "", ""],
                            "run_date": dates, "job_run_id": ["j1", "j8", "j15"], "child_run_id": [""] * 3})
    write_deltalake(str(tmp_path / "out" / "series_results"), results, partition_by=["run_date"])
    scored = dt.date(2024, 1, 22)  # a scoring run's date: it writes forecasts only
    forecasts = pd.DataFrame({
        "region": "north", "ds": pd.to_datetime(["2024-01-02", "2024-01-09", "2024-01-16", "2024-01-23"], utc=True),
        "yhat": [1.0, 8.0, 15.0, 22.0], "yhat_lower": 0.0, "yhat_upper": 30.0, "model": "naive",
        # scored from the models of 01-08 (asked for), not the 01-15 training's
        "run_date": [*dates, scored], "source": ["trained"] * 3 + ["scored"], "model_run_date": [*dates, dates[1]],
        "job_run_id": ["j1", "j8", "j15", "s22"], "child_run_id": [""] * 4})
    write_deltalake(str(tmp_path / "out" / "forecasts"), forecasts, partition_by=["run_date", "source"])
    monkeypatch.chdir(tmp_path)
    asked = ["series", "--set", f"output.path={tmp_path / 'out'}", "--set", "input.key_columns=[region]",
             "--set", f"tracking.uri={tmp_path / 'mlruns'}", "region=north"]

    assert forecasting_main(asked) == 0
    latest = capsys.readouterr().out
    assert "  run date    2024-01-15" in latest
    assert "latest forecast: run date 2024-01-22 (scored from the models of 2024-01-08)" in latest
    assert "  run dates   4: 2024-01-01, 2024-01-08, 2024-01-15, 2024-01-22 (--run-date to see another)" in latest

    assert forecasting_main([*asked, "--run-date", "2024-01-01"]) == 0
    first = capsys.readouterr().out
    assert "  status      failed" in first and "  reason      broke" in first and "  job run     j1" in first
    assert "forecast: run date 2024-01-01 (trained), 1 steps" in first and "latest forecast" not in first
    assert "\n2024-01-02 1.000 " in first

    # the scoring date: its forecast, beside the result of the training whose models it used
    assert forecasting_main([*asked, "--run-date", "2024-01-15"]) == 0
    assert "forecast: run date 2024-01-15 (trained), 1 steps" in capsys.readouterr().out
    assert forecasting_main([*asked, "--run-date", "2024-01-22"]) == 0
    on_scoring_date = capsys.readouterr().out
    assert "  run date    2024-01-08" in on_scoring_date and "  job run     j8" in on_scoring_date
    assert "forecast: run date 2024-01-22 (scored from the models of 2024-01-08), 1 steps" in on_scoring_date

    assert forecasting_main([*asked, "--run-date", "2024-01-02"]) == 1
    assert "no run date 2024-01-02 for series region=north in" in caplog.text
    assert "its run dates: 2024-01-01, 2024-01-08, 2024-01-15, 2024-01-22" in caplog.text


def test_a_past_forecast_asked_for_says_how_it_did_as_the_next_run_date_scored_it(tmp_path, monkeypatch, capsys):
    # how a past forecast did is on the next run date's row: the lookup of that date said nothing of it
    # (the walk-through of 12-07)
    import datetime as dt

    from deltalake import write_deltalake

    from forecasting import tracking

    store = tmp_path / "mlruns"
    tracker = tracking.client(str(store))
    experiment = tracker.create_experiment("many-model-forecasting")

    def job_run(run_date: str, compared: str | None) -> str:
        run = tracker.create_run(experiment, tags={
            tracking.JOB_TAG: tracking.TRAIN_JOB, tracking.RUN_DATE_TAG: run_date,
            tracking.OUTPUT_PATH_TAG: str(tmp_path / "out"),
            **({tracking.COMPARED_RUN_DATE_TAG: compared} if compared else {})})
        tracker.set_terminated(run.info.run_id)
        return run.info.run_id

    def results(compared_by_later: str) -> None:
        write_deltalake(str(tmp_path / "out" / "series_results"), pd.DataFrame({
            "region": "north", "status": "ok", "run_date": [dt.date(2024, 1, 8), dt.date(2024, 1, 15)],
            "job_run_id": [job_run("2024-01-08", None), job_run("2024-01-15", compared_by_later)],
            "child_run_id": "", "realized_points": [None, 7.0], "realized_mase": [None, 0.9],
            "realized_coverage": [None, 0.857]}), partition_by=["run_date"], mode="overwrite")
        write_deltalake(str(tmp_path / "out" / "forecasts"), pd.DataFrame({  # the second scored on 01-12
            "region": "north", "ds": pd.to_datetime(["2024-01-09", "2024-01-13"], utc=True), "yhat": 1.0,
            "yhat_lower": 0.0, "yhat_upper": 2.0, "model": "naive",
            "run_date": [dt.date(2024, 1, 8), dt.date(2024, 1, 12)],
            "source": ["trained", "scored"], "model_run_date": dt.date(2024, 1, 8), "job_run_id": "j",
            "child_run_id": ""}), partition_by=["run_date", "source"], mode="overwrite")

    monkeypatch.chdir(tmp_path)
    asked = ["series", "--set", f"output.path={tmp_path / 'out'}", "--set", "input.key_columns=[region]",
             "--set", f"tracking.uri={store}", "region=north", "--run-date", "2024-01-08"]
    results(compared_by_later="2024-01-08")
    assert forecasting_main(asked) == 0
    assert ("  scored      this forecast: MASE 0.900 on the 7 periods arrived by run date 2024-01-15, 86% inside its "
            "interval\n") in capsys.readouterr().out
    # a scoring date asked: its own forecast is shown, which the later run did not score
    assert forecasting_main([*asked[:-1], "2024-01-12"]) == 0
    assert "  scored " not in capsys.readouterr().out
    # 01-08 run again since: its forecast as it was then is what was scored
    results(compared_by_later="2024-01-08")
    time.sleep(0.01)
    job_run("2024-01-08", None)
    assert forecasting_main(asked) == 0
    assert "  scored      this date's forecast as it was then (run again since): MASE 0.900" in capsys.readouterr().out
    results(compared_by_later="2024-01-01")  # the later run scored another date's forecast: not this one's
    assert forecasting_main(asked) == 0
    assert "  scored " not in capsys.readouterr().out


def test_a_series_with_a_null_key_is_asked_for_as_its_tags_show_it(tmp_path, monkeypatch, capsys):
    import datetime as dt

    import pandas as pd
    from deltalake import write_deltalake

    results = pd.DataFrame({"region": [None, "north"], "status": ["skipped", "ok"],
                            "reason": ["null key in ['region']: the series has no identity", ""],
                            "run_date": [dt.date(2024, 1, 1)] * 2, "job_run_id": ["j1"] * 2, "child_run_id": [""] * 2})
    write_deltalake(str(tmp_path / "out" / "series_results"), results, partition_by=["run_date"])
    write_deltalake(str(tmp_path / "out" / "forecasts"), pd.DataFrame({
        "region": ["north"], "ds": pd.to_datetime(["2024-01-02"], utc=True), "yhat": [1.0], "yhat_lower": [0.0],
        "yhat_upper": [2.0], "model": ["naive"], "run_date": [dt.date(2024, 1, 1)], "source": ["trained"],
        "model_run_date": [dt.date(2024, 1, 1)], "job_run_id": ["j1"], "child_run_id": [""]}),
        partition_by=["run_date", "source"])
    monkeypatch.chdir(tmp_path)
    asked = ["series", "--set", f"output.path={tmp_path / 'out'}", "--set", "input.key_columns=[region]",
             "--set", f"tracking.uri={tmp_path / 'mlruns'}", "region=<null>"]
    assert forecasting_main(asked) == 0
    answer = capsys.readouterr().out
    assert "  status      skipped" in answer and "null key in ['region']" in answer and "no forecast" in answer


def test_the_answer_is_flushed_and_its_code_kept_when_leaving_without_the_interpreters_teardown():
    import subprocess
    import sys

    leave = "from forecasting.__main__ import exit_now; print('the answer'); exit_now(3)"
    done = subprocess.run([sys.executable, "-c", leave], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (3, "the answer\n")  # a pipe buffers it: lost without a flush


def test_an_answer_whose_reader_stops_early_ends_without_a_traceback():
    import subprocess
    import sys

    # as `python -m forecasting runs | head -1`: the reader closes the pipe before the answer is written
    answer = "from forecasting.__main__ import exit_now, print_answer; print_answer('row\\n' * 100000); exit_now(0)"
    process = subprocess.Popen([sys.executable, "-c", answer], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    assert process.wait(timeout=60) == 0
    error = process.stderr.read()
    assert b"BrokenPipeError" not in error and b"Traceback" not in error, error


def test_a_series_is_named_by_its_id_as_the_summary_names_it(fast_config):
    config = fast_config("input.key_columns=[part, warehouse]")
    assert command_keys.parse_keys(config, ["000100/DC1"]) == {"part": "000100", "warehouse": "DC1"}
    escaped = series_identity.series_id({"part": "A/B", "warehouse": "C\\D"})  # A\/B/C\\D
    assert command_keys.parse_keys(config, [escaped]) == {"part": "A/B", "warehouse": "C\\D"}
    with pytest.raises(ValueError, match=r"expected KEY=VALUE, or one series id of 2 values joined by / "
                                         r"\(part/warehouse\), got '000100'"):
        command_keys.parse_keys(config, ["000100"])
    # a URL's slashes unescaped: three values where two were meant, and how to write them said
    with pytest.raises(ValueError, match=r"\(part/warehouse\) \(a '/' within a value written '\\/', as the summary "
                                         r"names series\), got 'news.example.com//sport/football'"):
        command_keys.parse_keys(config, ["news.example.com//sport/football"])
    assert command_keys.parse_keys(fast_config("input.key_columns=[store]"), ["north"]) == {"store": "north"}


def test_a_key_given_twice_with_two_values_is_refused(fast_config):
    config = fast_config("input.key_columns=[store, item]")
    assert command_keys.parse_keys(config, ["item=2", "store=1"]) == {"store": "1", "item": "2"}
    with pytest.raises(ValueError, match="store is given twice: store=1 and store=3"):
        command_keys.parse_keys(config, ["store=1", "item=2", "store=3"])  # the last had won


def test_a_series_report_shows_the_trained_forecast_where_a_scored_one_has_the_same_run_date(monkeypatch):
    # the rule of tables.latest_forecasts: the newest run date, and on a tie the training's
    config = load_config(None, ["input.key_columns=[store]"])
    results = pd.DataFrame({"store": ["s1"], "run_date": ["2024-03-31"], "status": ["ok"], "child_run_id": [None]})
    forecasts = pd.DataFrame({
        "store": "s1", "ds": pd.to_datetime(["2024-04-01"] * 3), "yhat": [1.0, 2.0, 3.0],
        "yhat_lower": [0.0] * 3, "yhat_upper": [4.0] * 3, "run_date": ["2024-03-10", "2024-03-31", "2024-03-31"],
        "source": ["trained", "scored", "trained"], "model_run_date": ["2024-03-10", "2024-03-10", "2024-03-31"],
        "job_run_id": ["j1", "j2", "j3"], "child_run_id": [None] * 3,
    })
    paths = tables.table_paths(config)
    by_path = {paths[tables.SERIES_RESULTS]: results, paths[tables.FORECASTS]: forecasts}
    monkeypatch.setattr(lookup, "_read", lambda path, keys, fmt: by_path[path])
    report = lookup.series_report(config, {"store": "s1"})
    assert (report.forecast_run_date, report.forecast_source, report.forecast["yhat"].tolist()) == (
        "2024-03-31", "trained", [3.0])


def test_a_series_report_says_when_another_model_won_on_the_run_date_before(monkeypatch):
    # a near tie flipped: the forecast's change came from the switch, which the CFO's analyst had dug out by hand
    config = load_config(None, ["input.key_columns=[store]"])
    results = pd.DataFrame({"store": "s1", "run_date": ["2024-03-03", "2024-03-10", "2024-03-17"], "status": "ok",
                            "child_run_id": None, "model": ["prophet", "seasonal_naive", "prophet"]})
    paths = tables.table_paths(config)
    by_path = {paths[tables.SERIES_RESULTS]: results, paths[tables.FORECASTS]: pd.DataFrame()}
    monkeypatch.setattr(lookup, "_read", lambda path, keys, fmt: by_path[path])
    said = [line.strip() for line in lookup_text.format_series(lookup.series_report(config, {"store": "s1"})).splitlines()]
    assert ("model       prophet (was seasonal_naive on 2024-03-10: a change of forecast may come from the switch)"
            in said)
    same = lookup.series_report(config, {"store": "s1"}, run_date="2024-03-03")  # the first: nothing before it
    assert same.previous_model is None
    assert "model       prophet" in lookup_text.format_series(same)
    kept = results.assign(model="prophet")
    by_path[paths[tables.SERIES_RESULTS]] = kept
    assert lookup.series_report(config, {"store": "s1"}).previous_model is None
    # skipped on either date (stale, no fallback): no forecast, so no switch to explain a change by
    for models in (["prophet", "seasonal_naive", None], ["prophet", None, "prophet"]):
        by_path[paths[tables.SERIES_RESULTS]] = results.assign(model=models)
        assert lookup.series_report(config, {"store": "s1"}).previous_model is None


def test_a_scored_forecast_from_a_model_a_rerun_replaced_says_to_score_its_date_again(monkeypatch):
    config = load_config(None, ["input.key_columns=[store]"])
    # the training of 2024-03-10 was rerun (child run c2) after the scoring of 2024-03-20 read c1's model
    results = pd.DataFrame({"store": ["s1"], "run_date": ["2024-03-10"], "status": ["ok"], "child_run_id": ["c2"],
                            "job_run_id": ["j3"]})
    forecasts = pd.DataFrame({
        "store": "s1", "ds": pd.to_datetime(["2024-03-21"]), "yhat": [1.0], "yhat_lower": [0.0], "yhat_upper": [2.0],
        "run_date": ["2024-03-20"], "source": ["scored"], "model_run_date": ["2024-03-10"], "job_run_id": ["j2"],
        "child_run_id": ["c1"],
    })
    paths = tables.table_paths(config)
    by_path = {paths[tables.SERIES_RESULTS]: results, paths[tables.FORECASTS]: forecasts}
    monkeypatch.setattr(lookup, "_read", lambda path, keys, fmt: by_path[path])
    monkeypatch.setattr(lookup, "_child_run", lambda config, run_id: (None, []))
    monkeypatch.setattr(lookup, "_replaced_runs", lambda config, job, run_date: [])
    said = lookup_text.format_series(lookup.series_report(config, {"store": "s1"}, "2024-03-20"))
    assert "made by job run j2, from the model of child run c1" in said
    assert ("that model is no longer current: a rerun of 2024-03-10 trained the series again (the lines above are "
            "its), so score 2024-03-20 again") in said
    results["child_run_id"] = "c1"  # not rerun: nothing to say
    assert "no longer current" not in lookup_text.format_series(lookup.series_report(config, {"store": "s1"}, "2024-03-20"))


def test_a_run_that_never_counted_its_series_shows_no_count_not_zero(tmp_path):
    store = tmp_path / "mlruns"
    tracker = tracking.client(str(store))
    experiment = tracker.create_experiment("forecasting")
    run = tracker.create_run(experiment, tags={tracking.JOB_TAG: "train_forecast", tracking.RUN_DATE_TAG: "2024-03-31"})
    tracker.set_terminated(run.info.run_id, status="FAILED")  # failed before it counted its series
    config = load_config(None, [f"tracking.uri={store}", "tracking.experiment=forecasting"])
    [row] = run_listing.job_runs(config).to_dict("records")
    assert (row["series"], row["by_status"], row["median_cv_mase"]) == ("-", "-", "-")
    assert "holdout_mase" not in row  # no evaluation listed: no column for it
    # where it says what failed it: that, in place of the counts it never made
    tracker.set_tag(run.info.run_id, tracking.FAILED_WITH_TAG, "ModuleNotFoundError: No module named 'pandas'" + "!" * 80)
    [row] = run_listing.job_runs(config).to_dict("records")
    assert row["by_status"] == "failed with ModuleNotFoundError: No module named 'pandas'" + "!" * 12 + "..."


def test_a_failed_runs_tag_says_what_failed_it_in_a_line():
    from forecasting import parent_run

    task = RuntimeError("An error occurred while calling o98.parquet.\n: org.apache.spark.SparkException: Job aborted "
                        "due to stage failure: org.apache.spark.api.python.PythonException: Traceback (most recent "
                        "call last):\n  File \"x.py\", line 1\nKeyError: 'store'\n\tat org.apache.spark...")
    assert parent_run.failure_line(task) == "KeyError: 'store'"  # the Python error a task raised
    session = RuntimeError("An error occurred while calling o1.x.\n: java.io.IOException: disk full at "
                           "s3a://KEY:SECRET@bucket/out\n\tat org.apache.hadoop...")
    assert parent_run.failure_line(session) == "java.io.IOException: disk full at s3a://KEY:(redacted)@bucket/out"
    assert parent_run.failure_line(OSError("no space left on device")) == "OSError: no space left on device"
    assert len(parent_run.failure_line(ValueError("x" * 2000))) == parent_run.FAILURE_CHARACTERS


def test_an_evaluation_run_is_listed_with_its_held_out_mase(tmp_path):
    # trial 37: only the winners' CV MASE was listed, optimistic and not comparable across CV settings
    store = tmp_path / "mlruns"
    tracker = tracking.client(str(store))
    experiment = tracker.create_experiment("forecasting")
    for job, metric in (("train_forecast", "median_cv_mase"), ("evaluate_forecast", "eval_mase_selection")):
        run = tracker.create_run(experiment, tags={tracking.JOB_TAG: job, tracking.RUN_DATE_TAG: "2024-03-31"})
        tracker.log_metric(run.info.run_id, metric, 0.8123)
        tracker.set_terminated(run.info.run_id)
        time.sleep(0.01)  # listed newest first
    config = load_config(None, [f"tracking.uri={store}", "tracking.experiment=forecasting"])
    evaluated, trained = run_listing.job_runs(config).to_dict("records")
    assert list(evaluated)[-2:] == ["holdout_mase", "parent_run_id"]
    assert (evaluated["holdout_mase"], evaluated["median_cv_mase"]) == ("0.812", "-")
    assert (trained["holdout_mase"], trained["median_cv_mase"]) == ("-", "0.812")


def test_the_keys_come_back_in_the_configs_column_order_whatever_order_they_were_typed_in(fast_config):
    config = fast_config("input.key_columns=[store, item, region]")
    keys = command_keys.parse_keys(config, ["region=north", "item=milk", "store=7"])
    assert list(keys) == ["store", "item", "region"]
    assert lookup_text.describe(keys) == "store=7 item=milk region=north"


def test_a_long_list_of_run_dates_says_how_many_it_leaves_out():
    dates = [f"2024-01-{day:02d}" for day in range(1, 11)]
    text = lookup_text.dates_text(dates)
    shown = re.findall(r"\d{4}-\d{2}-\d{2}", text)
    left_out = int(re.search(r"\((\d+) more\)", text).group(1))
    assert shown == [*dates[:2], *dates[-2:]] and len(shown) + left_out == len(dates)


def report_with(forecast: pd.DataFrame, run_dates=("2024-03-24", "2024-03-31")) -> lookup.SeriesReport:
    result = pd.Series({"status": "ok", "run_date": "2024-03-31", "history_end": pd.Timestamp("2024-03-31 23:00")})
    return lookup.SeriesReport({"store": "s1"}, result, list(run_dates), forecast, "2024-03-31", "trained", None,
                               None, None, [])


def test_an_hourly_forecast_is_shown_with_its_hours():
    forecast = pd.DataFrame({"ds": pd.date_range("2024-04-01", periods=3, freq="h"), "yhat": [1.0, 2.0, 3.0],
                             "yhat_lower": [0.0] * 3, "yhat_upper": [4.0] * 3})
    shown = lookup_text.format_series(report_with(forecast))
    assert "2024-03-31 23:00" in shown  # the history's end
    assert all(f"2024-04-01 0{hour}:00" in shown for hour in range(3))
    assert "... 2 more steps, to 2024-04-01 02:00" in lookup_text.format_series(report_with(forecast), steps=1)


def test_a_series_report_says_when_its_latest_forecast_is_older_than_its_latest_result():
    forecast = pd.DataFrame({"ds": pd.date_range("2024-03-25", periods=2), "yhat": [1.0, 2.0],
                             "yhat_lower": [0.0] * 2, "yhat_upper": [4.0] * 2})
    report = report_with(forecast)
    assert "gave this series no forecast" not in lookup_text.format_series(report)  # the result's own run date
    # a delisted product skipped on 31 March, its forecast of 24 March the latest there is
    report.forecast_run_date, report.result["status"] = "2024-03-24", "skipped"
    assert ("latest forecast: run date 2024-03-24 (trained), 2 steps\n  run date 2024-03-31 gave this series no "
            "forecast (skipped, its reason above): readers of the latest forecasts still get this older one"
            ) in lookup_text.format_series(report)
    report.asked_run_date = "2024-03-24"  # asked for by its date: no later one to compare with
    assert "gave this series no forecast" not in lookup_text.format_series(report)


def test_a_series_report_says_when_a_later_run_date_had_no_row_for_it():
    forecast = pd.DataFrame({"ds": pd.date_range("2024-04-01", periods=2), "yhat": [1.0, 2.0],
                             "yhat_lower": [0.0] * 2, "yhat_upper": [4.0] * 2})
    report = report_with(forecast)
    report.latest_run_date = "2024-03-31"  # its own: nothing to say
    assert "has no row for this series" not in lookup_text.format_series(report)
    report.latest_run_date = "2024-04-07"  # a product left out of the input since
    assert ("run date    2024-03-31 (the latest run date, 2024-04-07, has no row for this series: it was not in "
            "that run's input; these lines are of its last run date)") in lookup_text.format_series(report)


def test_the_run_dates_of_a_table_are_read_from_its_partitions(tmp_path):
    from deltalake import write_deltalake

    from forecasting import table_reads

    rows = pd.DataFrame({"store": ["a", "b", "a"], "status": ["ok"] * 3,
                         "run_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-08"]).date})
    write_deltalake(tmp_path / "delta", rows, partition_by=["run_date"])
    rows.to_parquet(tmp_path / "parquet", partition_cols=["run_date"])
    assert table_reads.run_dates(tmp_path / "delta") == ["2024-01-01", "2024-01-08"]
    assert table_reads.run_dates(tmp_path / "parquet", "parquet") == ["2024-01-01", "2024-01-08"]


def test_a_series_report_says_how_far_its_forecast_moved_from_the_run_date_before():
    forecast = pd.DataFrame({"ds": pd.date_range("2024-04-01", periods=2), "yhat": [1.0, 2.0],
                             "yhat_lower": [0.0] * 2, "yhat_upper": [4.0] * 2})
    report = report_with(forecast)
    # untold which date the job run compared with (no tag): also a run of older code, whose rows have no change
    # (an upgrade's walk-through, 12-07: rows of 11-30's code read as "no earlier forecast"), or one with no date
    # before it when it ran, an earlier one backfilled since (the docs walk-through of 12-07)
    assert ("change      - (no earlier run date's forecast of the same times, an earlier date run only since (a "
            "backfill: run this date again to compare), or a run of code from before 2026-12-03, which compared none)"
            ) in lookup_text.format_series(report)
    report.compared = ("2024-03-24", False)  # the run compared: this series had none of the same times
    assert "change      - (no earlier run date's forecast of the same times)\n" in lookup_text.format_series(report)
    report.compared = None
    report.result["forecast_change"] = 0.234
    assert "change      23% from the forecast of the run date before" in lookup_text.format_series(report)
    report.compared = ("2024-03-24", False)  # the job run's tag names the date
    assert "change      23% from the forecast of run date 2024-03-24, over" in lookup_text.format_series(report)
    report.compared = None
    report.result["forecast_change"] = 0.0041  # not 0%
    assert "change      0.4% from the forecast of the run date before" in lookup_text.format_series(report)
    # the series' first run date: no forecast before it to compare with, or to score
    first = lookup_text.format_series(report_with(forecast, ["2024-03-31", "2024-04-07"]))
    assert "change      - (no earlier run date of this series)" in first
    assert "realized    - (no earlier run date of this series)" in first


def test_a_series_report_says_how_the_forecast_of_the_run_date_before_did_on_what_arrived_since():
    forecast = pd.DataFrame({"ds": pd.date_range("2024-04-01", periods=2), "yhat": [1.0, 2.0],
                             "yhat_lower": [0.0] * 2, "yhat_upper": [4.0] * 2})
    report = report_with(forecast)
    assert ("realized    - (no period forecast on the run date before has arrived, an earlier date run only since "
            "(a backfill: run this date again to score it), or a run of code from before 2026-12-04, which scored none)"
            ) in lookup_text.format_series(report)
    report.compared = ("2024-03-24", False)
    said = lookup_text.format_series(report)
    assert "realized    - (no period forecast on the run date before has arrived)\n" in said
    report.compared = None
    report.result["realized_mase"], report.result["realized_points"] = 1.2345, 7.0
    assert ("realized    MASE 1.234 of the forecast of the run date before on the 7 periods arrived since\n"
            in lookup_text.format_series(report))
    report.result["realized_coverage"] = 0.857
    assert ("realized    MASE 1.234 of the forecast of the run date before on the 7 periods arrived since, 86% "
            "inside its interval") in lookup_text.format_series(report)
    # the date compared with, and a rerun of it since: the columns speak of its forecasts as they were
    report.compared = ("2024-03-24", True)
    shown = lookup_text.format_series(report)
    assert "realized    MASE 1.234 of the forecast of run date 2024-03-24 as it was then (run again since) on the 7" in shown
    report.result["forecast_change"] = 0.234
    assert ("change      23% from the forecast of run date 2024-03-24 as it was then (run again since: run this date "
            "again to compare with its current forecasts), over") in lookup_text.format_series(report)
    report.compared = None
    report.result["realized_points"] = 1.0
    assert "before on the 1 period arrived since, 86% inside" in lookup_text.format_series(report)


def test_a_lookup_without_the_config_of_the_runs_in_the_store_names_the_experiments_it_has(tmp_path):
    # a walk-through of 12-07: `series JFK/total` without --config said only "no delta table at output/..."
    store = tmp_path / "mlruns"
    tracking.client(str(store)).create_experiment("airports")
    config = load_config(None, [f"tracking.uri={store}", f"output.path={tmp_path / 'output'}"])
    with pytest.raises(lookup.NotFound, match=r"no delta table at .*; and no experiment 'many-model-forecasting' at "
                                              r".*: it has 'airports' \(tracking.experiment in the job's config"):
        lookup.series_report(config, {"airport": "JFK", "measure": "total"})


def test_the_date_a_job_run_compared_with_is_read_from_its_tag_and_a_rerun_of_it_since_is_found(tmp_path):
    # trial 36: 12-16 run again after 12-30 had compared with it; 12-30's columns spoke of forecasts gone
    from forecasting import tracking

    store = tmp_path / "mlruns"
    tracker = tracking.client(str(store))
    experiment = tracker.create_experiment("forecasting")
    config = load_config(None, [f"tracking.uri={store}", "tracking.experiment=forecasting",
                                f"output.path={tmp_path / 'out'}"])
    output = str(tmp_path / "out")

    def ran(run_date, start, **tags):
        run = tracker.create_run(experiment, start_time=start, tags={
            tracking.JOB_TAG: "train_forecast", tracking.RUN_DATE_TAG: run_date, tracking.OUTPUT_PATH_TAG: output,
            **tags})
        tracker.set_terminated(run.info.run_id)
        return run.info.run_id

    ran("2025-12-16", 1000)
    later = ran("2025-12-30", 2000, compared_run_date="2025-12-16")
    result = pd.Series({"job_run_id": later, "run_date": "2025-12-30"})

    def compared(result):
        return lookup._compared(lookup._job_run(config, result))

    assert compared(result) == ("2025-12-16", False)
    ran("2025-12-16", 3000, **{tracking.OUTPUT_PATH_TAG: "/elsewhere"})  # another output's: not this one's rerun
    assert compared(result) == ("2025-12-16", False)
    ran("2025-12-16", 4000)  # the date run again since
    assert compared(result) == ("2025-12-16", True)
    untagged = ran("2025-12-23", 5000)  # no comparison made (or a run from before the tag): nothing said
    assert compared(pd.Series({"job_run_id": untagged, "run_date": "2025-12-23"})) is None
    assert compared(pd.Series({"job_run_id": "no-such-run", "run_date": "2025-12-23"})) is None


def test_the_runs_table_lines_its_columns_up_under_a_header_wider_than_their_values():
    runs = pd.DataFrame([["2024-03-31", "train_forecast", "FINISHED", "2024-04-01 02:00", "4", "ok 4", "0.812", "abc"]],
                        columns=run_listing.RUN_COLUMNS)
    header, row = run_listing.format_runs(runs).splitlines()
    starts = [match.start() for match in re.finditer(r"\S+(?: \S+)?", header)]
    assert [match.start() for match in re.finditer(r"\S+(?: \S+)?", row)] == starts


def test_a_child_run_not_found_on_a_server_says_where_without_its_password(monkeypatch, caplog):
    from mlflow.exceptions import MlflowException

    class Server:
        def get_run(self, run_id):
            raise MlflowException(f"run {run_id} not found")

    monkeypatch.setattr(lookup.tracking, "client", lambda uri: Server())
    config = load_config(None, ["tracking.uri=https://ana:hunter2@mlflow.example.com"])
    status, where = lookup._child_run(config, "abc")
    assert status == "not found at https://ana:(redacted)@mlflow.example.com" and where == []


@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_a_series_not_found_names_the_ones_a_typo_or_another_case_most_likely_meant(tmp_path, monkeypatch, caplog,
                                                                                    fmt):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake import write_deltalake

    results = pa.table({"airport": ["JFK", "LGA", "EWR", None, "Hub/A", "Hub", "East "],
                        "terminal": ["1", "1", "2", "1", "B", "A/B", " T 3"], "status": ["ok"] * 7})
    folder = tmp_path / "out" / "series_results"
    if fmt == "delta":
        write_deltalake(str(folder), results)
    else:
        (folder / "run_date=2024-01-01").mkdir(parents=True)
        pq.write_table(results, folder / "run_date=2024-01-01" / "part-0.parquet")
    monkeypatch.chdir(tmp_path)
    settings = ["--set", f"output.path={tmp_path / 'out'}", "--set", "input.key_columns=[airport, terminal]",
                "--set", f"output.format={fmt}"]
    assert forecasting_main(["series", *settings, "airport=jfk", "terminal=1"]) == 1
    assert "no series airport=jfk terminal=1 in" in caplog.text and "; did you mean airport=JFK terminal=1?" in caplog.text
    caplog.clear()
    assert forecasting_main(["series", *settings, "airport=EWR", "terminal=3"]) == 1
    assert "; did you mean airport=EWR terminal=2?" in caplog.text
    caplog.clear()
    assert forecasting_main(["series", *settings, "airport=SFO", "terminal=9"]) == 1
    assert "no series airport=SFO terminal=9 in" in caplog.text and "did you mean" not in caplog.text
    caplog.clear()  # a '/' within a key value: ("Hub/A", "B") is not ("Hub", "A/B"), which reads alike joined
    assert forecasting_main(["series", *settings, "airport=hub/a", "terminal=B"]) == 1
    assert "; did you mean airport=Hub/A terminal=B?" in caplog.text
    caplog.clear()  # spaces around a value shown, quoted as a command line takes them (a walk-through of 12-07)
    assert forecasting_main(["series", *settings, "airport=East", "terminal=T 3"]) == 1
    assert "no series airport=East 'terminal=T 3' in" in caplog.text
    assert "; did you mean 'airport=East ' 'terminal= T 3'?" in caplog.text


def test_a_series_looked_up_in_another_folder_than_the_jobs_says_where_its_runs_wrote(tmp_path, monkeypatch, caplog):
    # trial 36: "no delta table at /tmp/output/series_results" asked from /tmp, the job having run in /tmp/trial36
    from forecasting import tracking

    store = tmp_path / "mlruns"
    tracker = tracking.client(str(store))
    experiment = tracker.create_experiment("forecasting")
    tags = {tracking.JOB_TAG: "train_forecast", tracking.RUN_DATE_TAG: "2024-03-31",
            tracking.OUTPUT_PATH_TAG: "/srv/forecasting/output"}
    tracker.set_terminated(tracker.create_run(experiment, tags=tags).info.run_id)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = ["--set", f"tracking.uri={store}", "--set", "tracking.experiment=forecasting"]
    assert forecasting_main(["series", *settings, "store=east", "item=apples"]) == 1
    assert (f"no delta table at {elsewhere}/output/series_results" in caplog.text and "The newest training runs of "
            "experiment 'forecasting' wrote their tables to /srv/forecasting/output: run this in the folder the job "
            "ran in, or give --set output.path=<that folder>") in caplog.text
    caplog.clear()  # asked for that output: nothing to add to its own not-found
    assert forecasting_main(["series", *settings, "--set", "output.path=/srv/forecasting/output", "store=east",
                             "item=apples"]) == 1
    assert "no delta table at /srv/forecasting/output" in caplog.text and "newest training runs" not in caplog.text
    caplog.clear()  # the newest run wrote here, as parquet, an older one elsewhere: the format, not the folder
    tracker.set_terminated(tracker.create_run(experiment, tags={**tags, tracking.OUTPUT_PATH_TAG: str(elsewhere)}
                                              ).info.run_id)
    newest = tracker.create_run(experiment, tags={**tags, tracking.OUTPUT_PATH_TAG: "/srv/forecasting/output"})
    tracker.log_param(newest.info.run_id, "output.format", "parquet")
    tracker.set_terminated(newest.info.run_id)
    assert forecasting_main(["series", *settings, "--set", "output.path=/srv/forecasting/output", "store=east",
                             "item=apples"]) == 1
    assert (". The newest training run that wrote to /srv/forecasting/output wrote parquet tables: give "
            "--set output.format=parquet") in caplog.text and "newest training runs" not in caplog.text
    caplog.clear()  # the default relative store, not in this folder either: that said, with the way out
    assert forecasting_main(["series", "store=east", "item=apples"]) == 1
    assert (f"no delta table at {elsewhere}/output/series_results" in caplog.text and f"; and no MLflow store at "
            f"{elsewhere}/mlruns: run this in the folder the job ran in") in caplog.text


def test_a_series_looked_up_in_an_evaluation_jobs_output_says_that_job_wrote_no_series_results(tmp_path):
    # "has a job written there with this config? (for a job writing parquet...)" had misled after an evaluation
    from deltalake import write_deltalake

    output = tmp_path / "output"
    write_deltalake(str(output / "evaluation"), pd.DataFrame({"store": ["east"], "candidate": ["prophet"]}))
    with pytest.raises(lookup.NotFound, match=r"that output holds the evaluation job's table only, and this reads the "
                                              r"training job's\. Run jobs/train_forecast.py with this config"):
        lookup._read(str(output / "series_results"), {"store": "east"}, "delta")
    with pytest.raises(lookup.NotFound, match="has a job written there with this config"):  # an empty output
        lookup._read(str(tmp_path / "elsewhere" / "series_results"), {"store": "east"}, "delta")


def test_runs_of_configs_sharing_an_experiment_show_which_output_each_wrote(tmp_path, monkeypatch, capsys):
    from forecasting import tracking

    monkeypatch.chdir(tmp_path)
    store = tmp_path / "mlruns"
    tracker = tracking.client(str(store))
    experiment = tracker.create_experiment("forecasting")
    settings = ["--set", f"tracking.uri={store}", "--set", "tracking.experiment=forecasting"]

    def ran(output):
        tags = {tracking.JOB_TAG: "train_forecast", tracking.RUN_DATE_TAG: "2024-03-31",
                **({tracking.OUTPUT_PATH_TAG: output} if output else {})}
        tracker.set_terminated(tracker.create_run(experiment, tags=tags).info.run_id)
        time.sleep(0.01)  # listed newest first, by their start in milliseconds

    ran("/data/sales/output")
    ran("")  # a run from before runs were tagged with their output: not an output of its own
    assert forecasting_main(["runs", *settings]) == 0
    assert "output" not in capsys.readouterr().out.splitlines()[0].split()  # one output: nothing to tell apart
    ran("/data/weekly/output")
    assert forecasting_main(["runs", *settings]) == 0
    header, newest, untagged, oldest = capsys.readouterr().out.splitlines()
    assert header.split()[-1] == "output"
    assert newest.endswith("/data/weekly/output") and oldest.endswith("/data/sales/output")
    # a run stopped by a signal says so, and one a later run of its date found killed
    stopped, killed = (tracker.create_run(experiment, tags={tracking.JOB_TAG: "train_forecast",
                                                            tracking.RUN_DATE_TAG: "2024-03-31",
                                                            tracking.ENDED_BY_TAG: why}).info.run_id
                       for why in ("SIGINT", "a later train_forecast run of 2024-03-31"))
    for run_id in (stopped, killed):
        tracker.set_terminated(run_id, "FAILED")
    assert forecasting_main(["runs", *settings]) == 0
    shown = capsys.readouterr().out
    assert "FAILED, stopped by SIGINT" in shown and "FAILED, ended by a later train_forecast run of 2024-03-31" in shown
    # a run that failed once it had written rows says so: the tables hold them (on-call's first question)
    for written in ("true", "partly: forecasts, models"):
        tracker.set_terminated(tracker.create_run(experiment, tags={
            tracking.JOB_TAG: "train_forecast", tracking.RUN_DATE_TAG: "2024-03-31", tracking.ENDED_BY_TAG: "SIGTERM",
            tracking.FAILED_AFTER_WRITING_TAG: written}).info.run_id, "FAILED")
    assert forecasting_main(["runs", *settings]) == 0
    shown = capsys.readouterr().out
    assert "FAILED, stopped by SIGTERM, after writing forecasts, models only" in shown
    assert "FAILED, stopped by SIGTERM, after writing its rows" in shown
    # a run left RUNNING by a kill, its heartbeat 20 minutes old, says it is not going; one beating elsewhere is
    # plain RUNNING (a walk-through of 12-07: a SIGKILLed run looked alive to monitoring)
    import datetime as dt

    from forecasting import heartbeat

    for minutes, host in ((20, "gone-host"), (1, "other-host")):
        beat = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes)).isoformat(timespec="seconds")
        tracker.create_run(experiment, tags={tracking.JOB_TAG: "train_forecast", tracking.RUN_DATE_TAG: "2024-04-07",
                                             heartbeat.HEARTBEAT_TAG: beat, heartbeat.HOST_TAG: host,
                                             heartbeat.PID_TAG: "12345"})
        time.sleep(0.01)
    assert forecasting_main(["runs", *settings, "--run-date", "2024-04-07"]) == 0
    alive, killed = [line for line in capsys.readouterr().out.splitlines() if "2024-04-07" in line]
    # or a run whose server was lost once its tables were written (a walk-through of 12-07: "killed?" alone)
    assert "RUNNING, not going: last heartbeat " in killed and ("(killed, or cut off from its tracking server, maybe "
                                                                "after writing its rows: its summary says; a rerun of "
                                                                "its date ends it)") in killed
    assert "RUNNING" in alive and "not going" not in alive


def test_a_series_report_shows_the_forecasts_first_steps_and_counts_the_rest():
    forecast = pd.DataFrame({"ds": pd.date_range("2024-04-01", periods=48, freq="30min"),
                             "yhat": [float(v) for v in range(48)], "yhat_lower": 0.0, "yhat_upper": 50.0})
    shown = lookup_text.format_series(report_with(forecast), steps=3).splitlines()
    assert shown[-1] == "... 45 more steps, to 2024-04-01 23:30 (--steps shows more)"
    assert [line.split()[:3] for line in shown[-4:-1]] == [["2024-04-01", time, f"{v}.000"]
                                                           for v, time in enumerate(("00:00", "00:30", "01:00"))]
    assert "more steps" not in lookup_text.format_series(report_with(forecast), steps=48)
    everything = lookup_text.format_series(report_with(forecast)).splitlines()
    assert everything[:-49] == shown[:-5] and everything[-1].split()[:2] == ["2024-04-01", "23:30"]


def test_the_config_command_checks_a_config_as_the_jobs_do_and_prints_it_resolved(tmp_path, capsys, caplog):
    import yaml

    (tmp_path / "job.yaml").write_text("tuning:\n  search_space:\n    changepoint_prior_scale: {distribution: uniform,"
                                       " low: 0.01, high: 0.3}\n")
    assert forecasting_main(["config", "--config", str(tmp_path / "job.yaml"), "--set", "forecast.horizon=14",
                             "--set", "spark.conf.spark.hadoop.fs.s3a.secret.key=XYZ"]) == 0
    printed = capsys.readouterr().out
    resolved = yaml.safe_load(printed)
    assert resolved["forecast"]["horizon"] == 14  # the file, then each --set, over the defaults
    # the search space as the run will search it: the file's entry beside the defaults' others
    assert resolved["tuning"]["search_space"]["changepoint_prior_scale"]["high"] == 0.3
    assert len(resolved["tuning"]["search_space"]) > 1
    assert "XYZ" not in printed  # a secret is not shown
    # where the config leaves them null, the values a run works out, as comments that load back as nothing
    assert resolved["cross_validation"]["horizon"] is None and resolved["forecast"]["min_history"] is None
    assert ("# worked out where null above, as this run did:\n#   cross_validation.horizon: 14  (forecast.horizon)\n"
            "#   cross_validation.step: 14  (the cross-validation horizon)\n#   forecast.min_history: 70  (3 folds 14 "
            "periods apart, each scoring 14 periods after 28 to train on)") in printed
    assert forecasting_main(["config", "--set", "cross_validation.horizon=7", "--set", "cross_validation.step=7",
                             "--set", "forecast.min_history=50"]) == 0
    assert "worked out" not in capsys.readouterr().out  # nothing left to work out
    # what it prints loads back to the same config, a default search parameter removed with it (review of
    # 12-06: the airports config's holidays_prior_scale came back from the defaults, so would any)
    for setting in ("tuning.search_space.seasonality_mode=null", "tuning.search_space={}"):
        assert forecasting_main(["config", "--config", str(ROOT / "conf" / "airports.yaml"), "--set", setting]) == 0
        printed = capsys.readouterr().out
        (tmp_path / "resolved.yaml").write_text(printed)
        again = load_config(tmp_path / "resolved.yaml")
        # a null entry is said to be no search (the docs walk-through of 12-07: "holidays_prior_scale: null" read as
        # a parameter searched with no range)
        if setting.endswith("=null"):
            assert printed.splitlines()[-1] == ("# not searched (null removes a parameter from the default search "
                                                "space): holidays_prior_scale, seasonality_mode")
        assert again == load_config(ROOT / "conf" / "airports.yaml", [setting]), setting
        assert "seasonality_mode" not in again.tuning.search_space
    with pytest.raises(SystemExit) as refused:
        forecasting_main(["config", "--set", "tuning.max_evalz=3"])
    assert refused.value.code == 2
    assert "unknown config key 'tuning.max_evalz' (did you mean 'tuning.max_evals'?)" in caplog.text
    assert forecasting_main(["config", "--set", "output.path=file:///proc/forecast_out"]) == 2  # as a job refuses it
    # without a scheme it may be on HDFS (YARN): a job checks it once Spark says where it is
    assert forecasting_main(["config", "--set", "output.path=/proc/forecast_out"]) == 0
    assert forecasting_main(["config", "--set", "forecast.horizon=1000000"]) == 2  # past 2262, as a job refuses it
    assert "reach past" in caplog.text


def test_the_series_report_ranks_the_candidates_and_lists_the_tuned_parameters():
    scores = {"naive": {"mase": 1.31, "smape": 9.0}, "prophet": {"mase": 0.84, "smape": 12.0},
              "drift": {"mase": float("nan"), "smape": 30.0}, "seasonal_naive": {"mase": 0.97, "smape": 10.0}}
    assert lookup_text._candidates(json.dumps(scores), "prophet", "mase") == (
        "cv MASE prophet 0.840 (chosen), seasonal_naive 0.970, naive 1.310, drift -")
    # by the metric the job chose by (sMAPE by default), not MASE's order (the review of 12-06)
    assert lookup_text._candidates(json.dumps(scores), "naive", "smape") == (
        "cv sMAPE naive 9.000 (chosen), seasonal_naive 10.000, prophet 12.000, drift 30.000")
    # MASE undefined for every candidate: the metric the job fell back to
    flat = {name: {"mase": float("inf"), "smape": value} for name, value in (("naive", 3.0), ("drift", 2.0))}
    assert lookup_text._candidates(json.dumps(flat), "drift", "mase") == "cv sMAPE drift 2.000 (chosen), naive 3.000"
    assert lookup_text._candidates(None, "naive", "smape") == "-"  # a skipped series' fallback was never scored
    # a series of zeros, which every candidate forecast exactly: the tie said, the chosen one first (a walk-through)
    zeros = {name: {"mase": float("nan"), "smape": 0.0} for name in ("drift", "naive", "prophet", "seasonal_naive")}
    assert lookup_text._candidates(json.dumps(zeros), "prophet", "smape") == (
        "cv sMAPE prophet 0.000 (chosen: tied, the first of selection.candidates among them), drift 0.000, "
        "naive 0.000, seasonal_naive 0.000")
    params = {"changepoint_prior_scale": 0.0123456, "seasonality_mode": "additive", "n_changepoints": 25}
    assert lookup_text._parameters(json.dumps(params), "prophet") == lookup_text._parameters(json.dumps(params)) == (
        "changepoint_prior_scale=0.01235, seasonality_mode=additive, n_changepoints=25")
    # where a baseline won, an auditor is told these played no part in its forecast (the walk-through of 12-07)
    assert lookup_text._parameters(json.dumps(params), "seasonal_naive") == (
        "changepoint_prior_scale=0.01235, seasonality_mode=additive, n_changepoints=25 (the tuned Prophet's, not "
        "used: seasonal_naive forecast)")
    assert not lookup_text._parameters(json.dumps(params), "ensemble").endswith("forecast)")


def test_the_metric_a_series_was_chosen_by_is_its_job_runs_own(tmp_path):
    store = str(tmp_path / "mlruns")
    tracker = tracking.client(store)
    experiment = tracker.create_experiment("forecasting")
    config = load_config(None, [])  # the lookup's config: selection.metric null, tuning.metric smape
    for params, metric in (({"selection.metric": "None", "tuning.metric": "mase"}, "mase"),
                           ({"selection.metric": "rmse", "tuning.metric": "mase"}, "rmse"),
                           ({"tuning.metric": "mase"}, "mase")):  # a run from before selection.metric: its own
        run = tracker.create_run(experiment)
        for key, value in params.items():
            tracker.log_param(run.info.run_id, key, value)
        assert lookup._ranked_by(config, TrackedRun(tracker, tracker.get_run(run.info.run_id))) == metric
    assert lookup._ranked_by(config, None) == "smape"  # MLflow out of reach: the config's


def test_a_series_report_ranks_its_candidates_by_its_job_runs_metric(tmp_path, monkeypatch):
    # the lookup's config says nothing of it (sMAPE by default); the run that chose was tuned by MASE
    store = tmp_path / "mlruns"
    config = load_config(None, ["input.key_columns=[store]", f"tracking.uri={store}"])
    tracker = tracking.client(str(store))
    run_id = tracker.create_run(tracker.create_experiment(config.tracking.experiment)).info.run_id
    tracker.log_param(run_id, "selection.metric", "None")
    tracker.log_param(run_id, "tuning.metric", "mase")
    scores = {"prophet": {"mase": 0.9, "smape": 10.0}, "naive": {"mase": 0.8, "smape": 12.0}}
    results = pd.DataFrame({"store": ["s1"], "run_date": ["2024-03-31"], "status": "ok", "child_run_id": None,
                            "model": "naive", "job_run_id": run_id, "candidate_scores": json.dumps(scores)})
    paths = tables.table_paths(config)
    by_path = {paths[tables.SERIES_RESULTS]: results, paths[tables.FORECASTS]: pd.DataFrame()}
    monkeypatch.setattr(lookup, "_read", lambda path, keys, fmt: by_path[path])
    said = lookup_text.format_series(lookup.series_report(config, {"store": "s1"}))
    assert "  candidates  cv MASE naive 0.800 (chosen), prophet 0.900\n" in said


def test_a_series_report_of_a_rerun_says_what_changed_since_the_run_it_replaced():
    # a walk-through of 12-07: a date run again with other settings on corrected data; only the rerun's printed
    # summary had said why its forecasts moved
    forecast = pd.DataFrame({"ds": pd.date_range("2024-04-01", periods=2), "yhat": [1.0, 2.0],
                             "yhat_lower": 0.0, "yhat_upper": 3.0})
    report = report_with(forecast)
    report.replaced_runs, report.rerun_changes = ["5c37c925"], "settings tuning.max_evals 4 -> 8"
    shown = lookup_text.format_series(report)
    assert "\n  replaced    earlier runs of this date: 5c37c925 (" in shown
    assert "\n  changed     since the run replaced: settings tuning.max_evals 4 -> 8\n" in shown
    report.rerun_changes = ""
    assert "changed " not in lookup_text.format_series(report)
    # a weekly run with other settings than the week before's, as its tags keep them
    tags = {tracking.SETTINGS_SINCE_TAG: "cross_validation.step 6 -> 3",
            tracking.CODE_SINCE_TAG: "version.prophet 1 -> 2"}
    tagged = TrackedRun(None, types.SimpleNamespace(data=types.SimpleNamespace(tags=tags)))
    report.changes_since = lookup._changes_since(tagged)
    assert ("\n  since       the run date before's run: settings cross_validation.step 6 -> 3; code version.prophet "
            "1 -> 2\n") in lookup_text.format_series(report)


def _write_slice(folder: Path, frame: pd.DataFrame, **partition: str) -> None:
    """One slice of a parquet output table, as the job lays it out (hive folders)."""
    target = folder.joinpath(*(f"{name}={value}" for name, value in partition.items()))
    target.mkdir(parents=True)
    frame.to_parquet(target / "part-0.parquet", index=False)


def test_a_date_whose_tables_hold_different_job_runs_is_said_in_the_series_report(tmp_path, monkeypatch):
    """A run stopped between its three table writes leaves its rows in some tables and an earlier run's
    of the date in the others: the lookup had said the date gave a series no forecast, or that there
    was no such series, where the forecasts table a dashboard reads held it (a walk-through of 12-07)."""
    config = load_config(None, ["input.key_columns=[store]", f"output.path={tmp_path}", "output.format=parquet"])
    day = "2024-03-31"
    results = pd.DataFrame({"store": ["s1"], "status": ["ok"], "reason": [None], "model": ["naive"],
                            "job_run_id": ["finished"], "child_run_id": [None]})
    _write_slice(tmp_path / tables.SERIES_RESULTS, results, run_date=day)
    _write_slice(tmp_path / tables.MODELS, results[["store", "model", "job_run_id", "child_run_id"]], run_date=day)
    forecasts = pd.DataFrame({"store": ["s1", "s2"], "ds": pd.to_datetime(["2024-04-01"] * 2), "yhat": [1.0, 2.0],
                              "yhat_lower": [0.0] * 2, "yhat_upper": [3.0] * 2, "model": ["naive"] * 2,
                              "model_run_date": pd.to_datetime([day] * 2).date, "job_run_id": ["stopped"] * 2,
                              "child_run_id": [None] * 2})
    _write_slice(tmp_path / tables.FORECASTS, forecasts, run_date=day, source="trained")
    monkeypatch.setattr(lookup, "_child_run", lambda config, run_id: (None, []))
    monkeypatch.setattr(lookup, "_job_run", lambda config, result: None)
    said = lookup_text.format_series(lookup.series_report(config, {"store": "s1"}))
    assert (f"warning     run date {day}'s tables hold rows of different job runs (forecasts stopped; "
            "series_results finished; models finished): a run stopped between its table writes") in said
    with pytest.raises(lookup.NotFound, match=r"no series store=s2 in .*; the forecasts table has rows of it \(run "
                                              rf"dates {day}\): run date {day}'s tables hold rows of different"):
        lookup.series_report(config, {"store": "s2"})
    # one run's rows in all three: nothing to say
    _write_slice(tmp_path / "again", forecasts.assign(job_run_id="finished"), run_date=day, source="trained")
    (tmp_path / tables.FORECASTS / f"run_date={day}" / "source=trained" / "part-0.parquet").unlink()
    (tmp_path / "again" / f"run_date={day}" / "source=trained" / "part-0.parquet").rename(
        tmp_path / tables.FORECASTS / f"run_date={day}" / "source=trained" / "part-0.parquet")
    assert lookup.mixed_writes(config, day) == ""


def test_a_job_run_asked_for_is_shown_as_it_wrote_its_series_though_a_rerun_dropped_or_skipped_them(tmp_path):
    """--job-run: the rows of a run a rerun of its date replaced, read from the versions it wrote; a series
    it skipped (no forecast) or that the rerun left out is shown too, and the next date's scores, made of the
    rerun's forecast, are not credited to it (a review of 12-07)."""
    from deltalake import CommitProperties, write_deltalake

    from forecasting.replaced_runs import FAILED_AFTER_WRITING_SINCE

    store, output = tmp_path / "mlruns", tmp_path / "out"
    config = load_config(None, ["input.key_columns=[store]", f"output.path={output}", f"tracking.uri={store}"])
    client = tracking.client(str(store))
    experiment = client.create_experiment(config.tracking.experiment)

    def job(run_date, minute, **tags):
        run_id = client.create_run(experiment, start_time=FAILED_AFTER_WRITING_SINCE + minute * 60_000, tags={
            "job": "train_forecast", "run_date": run_date, "output_path": str(output), **tags}).info.run_id
        client.set_terminated(run_id)
        return run_id

    def wrote(run_id, run_date, statuses: dict, level, realized=float("nan")):
        commit = CommitProperties(custom_metadata={"userMetadata": json.dumps({"job_run_id": run_id})})
        results = pd.DataFrame({"store": list(statuses), "status": list(statuses.values()), "model": "naive",
                                "run_date": run_date, "job_run_id": run_id, "child_run_id": "c",
                                "realized_points": pd.Series(realized, index=range(len(statuses)), dtype="float64")})
        forecasts = pd.DataFrame({"store": [s for s, status in statuses.items() if status == "ok"], "yhat": level,
                                  "ds": pd.Timestamp("2024-04-01"), "yhat_lower": 0.0, "yhat_upper": 9.0,
                                  "run_date": run_date, "source": "trained", "job_run_id": run_id, "child_run_id": "c"})
        for name, rows in (("series_results", results), ("forecasts", forecasts)):
            write_deltalake(str(output / name), rows, mode="overwrite", predicate=f"run_date = '{run_date}'",
                            commit_properties=commit)

    first = job("2024-03-24", 1)
    wrote(first, "2024-03-24", {"s1": "ok", "s2": "skipped", "s3": "ok"}, 1.0)
    rerun = job("2024-03-24", 2)
    client.set_tag(first, tracking.SUPERSEDED_TAG, rerun)
    wrote(rerun, "2024-03-24", {"s1": "ok", "s2": "ok"}, 2.0)  # s3 gone from the input since
    wrote(job("2024-03-31", 3, compared_run_date="2024-03-24"), "2024-03-31", {"s1": "ok", "s2": "ok"}, 3.0,
          realized=1.0)  # scored the rerun's forecast

    shown = lookup.series_report(config, {"store": "s1"}, job_run=first)
    assert shown.forecast["yhat"].tolist() == [1.0] and shown.result["job_run_id"] == first
    text = lookup_text.format_series(shown)
    assert f"the later run {rerun} of run date 2024-03-24 replaced these rows of job run {first}" in text
    assert "scored " not in text and "\n  replaced " not in text  # the rerun's scores; no earlier run of its date
    assert "scored " in lookup_text.format_series(lookup.series_report(config, {"store": "s1"}, job_run=rerun))
    skipped = lookup.series_report(config, {"store": "s2"}, job_run=first)
    assert skipped.result["status"] == "skipped" and skipped.forecast.empty
    left_out = lookup.series_report(config, {"store": "s3"}, job_run=first)
    assert left_out.forecast["yhat"].tolist() == [1.0]
    with pytest.raises(lookup.NotFound, match="no series store=s3"):  # the current rows hold none
        lookup.series_report(config, {"store": "s3"})
    with pytest.raises(lookup.NotFound, match=f"job run {rerun} of 2024-03-24 wrote no row of series s3"):
        lookup.series_report(config, {"store": "s3"}, job_run=rerun)
    # rerun twice: the warning names the run whose rows are current too, not only the first that replaced them
    third = job("2024-03-24", 4)
    client.set_tag(rerun, tracking.SUPERSEDED_TAG, third)
    wrote(third, "2024-03-24", {"s1": "ok", "s2": "ok"}, 4.0)
    text = lookup_text.format_series(lookup.series_report(config, {"store": "s1"}, job_run=first))
    assert (f"the later run {rerun} (its own rows replaced since by {third}) of run date 2024-03-24 replaced these "
            f"rows of job run {first}") in text
    client.set_tag(third, tracking.SUPERSEDED_TAG, first)  # a loop of tags set by hand ends where it began
    assert lookup_job_run.replacers(client, client.get_run(first)) == [rerun, third]
    assert lookup_job_run.replacers(client, client.get_run(rerun)) == [third, first]
    client.set_tag(third, tracking.SUPERSEDED_TAG, "0123abcd")  # a run MLflow no longer has: named, not followed
    assert lookup_job_run.replacers(client, client.get_run(first)) == [rerun, third, "0123abcd"]
