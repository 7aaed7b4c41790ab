"""Tracking helpers: URIs, stores, credentials, and what a run records or loses."""
import io
import json
import logging
import os
import types

import pandas as pd
import pytest

from forecasting import heartbeat, parent_run, redaction, replaced_runs, result_row, run_listing, tracking
from forecasting.lookup_job_run import TrackedRun


def test_paths_become_absolute_file_uris_and_servers_stay(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert tracking.resolve_uri("mlruns") == (tmp_path / "mlruns").as_uri()
    assert tracking.resolve_uri(f"file:{tmp_path}/x") == (tmp_path / "x").as_uri()
    assert tracking.resolve_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert tracking.resolve_uri("databricks") == "databricks"
    spaced = (tmp_path / "my runs").as_uri()  # file:///.../my%20runs, as Path writes it
    assert tracking.resolve_uri(spaced) == spaced and tracking.resolve_uri(str(tmp_path / "my runs")) == spaced


def test_a_home_relative_output_path_lands_in_the_home_folder_as_the_tracking_store_does(tmp_path, monkeypatch):
    from forecasting import tables
    from forecasting.config import load_config

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # it wrote to ./~/forecasts
    for path in ("~/forecasts", "file:~/forecasts"):
        config = load_config(None, [f"output.path={path}", "tracking.uri=~/mlruns"])
        assert tables.output_root(config) == str(tmp_path / "home" / "forecasts")
    assert tracking.resolve_uri(config.tracking.uri) == (tmp_path / "home" / "mlruns").as_uri()


def test_credentials_never_show_in_the_run_context_repr():
    context = tracking.RunContext("u", "1", "p", "2024-01-01", True, True, credentials={"MLFLOW_TRACKING_PASSWORD": "x" * 20})
    assert "x" * 20 not in repr(context)


def test_tls_settings_and_proxies_travel_with_the_credentials_and_stay_out_of_the_repr(monkeypatch):
    proxy = "http://ana:proxy-hunter2@proxy.example.com:3128"
    driver = {"MLFLOW_TRACKING_PASSWORD": "tracking-hunter2", "MLFLOW_TRACKING_SERVER_CERT_PATH": "/etc/ca/private.pem",
              "MLFLOW_TRACKING_CLIENT_CERT_PATH": "/etc/ca/client.pem", "MLFLOW_TRACKING_INSECURE_TLS": "false",
              "REQUESTS_CA_BUNDLE": "/etc/ca/bundle.pem", "HTTPS_PROXY": proxy, "https_proxy": proxy,
              "NO_PROXY": "localhost,.internal", "no_proxy": "localhost,.internal",
              # a server that leaves artifacts to its clients (s3://...): each executor writes there itself
              "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "aws-hunter2",
              "MLFLOW_S3_ENDPOINT_URL": "https://minio.internal:9000", "DATABRICKS_TOKEN": "dapi-hunter2"}
    for name in (*tracking.FORWARDED_VARIABLES, "AWS_PROFILE"):  # set then removed: monkeypatch restores each
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    for name, value in driver.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_PROFILE", "analyst")  # names a file of the driver's: a node without it would fail
    context = tracking.RunContext("https://mlflow.example.com", "1", "p", "2024-01-01", True, True,
                                  credentials=tracking.credentials_from_environment())
    assert context.credentials == driver
    assert "hunter2" not in repr(context) and "/etc/ca" not in repr(context)

    for name in driver:  # an executor's worker, started without them
        monkeypatch.delenv(name)
    tracking.use_context_environment(context)
    assert {name: os.environ.get(name) for name in driver} == driver


@pytest.fixture
def dead_tracking(monkeypatch):
    """A run context whose tracking server is not there, and MLflow told to give up at once."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    settings = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "2"}
    for name, value in settings.items():  # the task body sets them; monkeypatch undoes it afterwards
        monkeypatch.setenv(name, value)
    return lambda run_date="2024-01-01", **more: tracking.RunContext(
        dead, "1", "parent", run_date, True, True, http_settings=settings, **more)


def test_a_series_whose_run_cannot_be_logged_keeps_its_forecast(fast_config, dead_tracking):
    """The per-series task body, called directly: tracking down mid-run loses only the run."""
    from conftest import daily_series
    from forecasting.spark_training import train_group

    group = daily_series(60).assign(store="north")
    row = json.loads(train_group(group, fast_config(), ["store"], dead_tracking()).iloc[0][result_row.PAYLOAD])
    assert row["status"] == "ok" and len(row["forecast"]) == fast_config().forecast.horizon
    assert row["reason"].startswith("tracking failed: ") and row["child_run_id"] is None


def test_after_a_few_series_in_a_row_whose_runs_failed_a_worker_pauses_tracking(fast_config, dead_tracking,
                                                                                 monkeypatch):
    """A server gone mid-run: each series would wait out its retries, the run hours longer at scale."""
    from conftest import daily_series
    from forecasting import child_runs
    from forecasting.spark_training import train_group

    clock = [1000.0]
    monkeypatch.setattr(child_runs.time, "monotonic", lambda: clock[0])
    context, tried = dead_tracking(), []
    real = child_runs.log_series_run

    def counted(*args, **kwargs):
        tried.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(child_runs, "log_series_run", counted)
    config = fast_config("selection.candidates=[naive]")

    def reason() -> str:
        row = train_group(daily_series(30).assign(store="north"), config, ["store"], context).iloc[0]
        return json.loads(row[result_row.PAYLOAD])["reason"]

    reasons = [reason() for _ in range(child_runs.FAILURES_BEFORE_PAUSE + 1)]
    assert len(tried) == child_runs.FAILURES_BEFORE_PAUSE  # the last series did not wait on the server
    assert reasons[-1] == ("tracking failed: not tried: the child runs of the last 3 series in this worker failed "
                           "(tried again in 60 s)")
    clock[0] += child_runs.PAUSE_SECONDS  # a minute on: one series tries again
    assert reason().startswith("tracking failed: ") and len(tried) == child_runs.FAILURES_BEFORE_PAUSE + 1
    assert child_runs.tracking_paused("http://another-server") is None  # per tracking URI
    child_runs.record_tracking(context.tracking_uri, logged=True)  # the server back: no pause
    assert child_runs.tracking_paused(context.tracking_uri) is None


def test_a_tracking_failures_reason_and_log_line_leave_out_the_uris_password(fast_config, dead_tracking, caplog):
    """MLflow's error quotes the URL it called; an executor logs without the job's redacting formatter."""
    from dataclasses import replace

    from conftest import daily_series
    from forecasting.spark_training import train_group

    context = dead_tracking()
    with_password = replace(context, tracking_uri=context.tracking_uri.replace("http://", "http://ana:hunter2@"))
    with caplog.at_level(logging.WARNING, logger="forecasting.spark_training"):
        row = json.loads(train_group(daily_series(60).assign(store="north"), fast_config(), ["store"],
                                     with_password).iloc[0][result_row.PAYLOAD])
    assert row["reason"].startswith("tracking failed: ") and "ana:(redacted)@127.0.0.1" in row["reason"]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "ana:(redacted)@" in logged and "hunter2" not in logged + row["reason"]


def test_each_series_gets_the_holidays_of_the_country_its_key_column_names(fast_config, dead_tracking):
    from conftest import daily_series
    from forecasting.spark_training import train_group

    config = fast_config("input.key_columns=[store, country]", "model.country_holidays=US",
                         "model.country_holidays_column=country")
    holidays_of = {}
    # any case; a region; blank: model.country_holidays. December to January: each country's own holidays
    for country in ("de", "GB", "gb-sct", "", "Atlantis"):
        group = daily_series(60, start="2023-12-01").assign(store="north", country=country)
        [result] = train_group(group, config, ["store", "country"], dead_tracking()).to_dict("records")
        row = json.loads(result[result_row.PAYLOAD])
        stored = json.loads(result["model_json"]) if result["model_json"] else None
        holidays_of[country] = (row["status"], set(pd.read_json(io.StringIO(stored["holidays"]), orient="table")["holiday"])
                                if stored else row["reason"].split("; tracking failed")[0])
    assert holidays_of["de"] == ("ok", {"Christmas Day", "Second Day of Christmas", "New Year's Day"})
    assert holidays_of["GB"] == ("ok", {"Christmas Day", "Boxing Day", "New Year's Day"})
    assert holidays_of["gb-sct"][1] - holidays_of["GB"][1] == {"New Year Holiday"}  # Scotland's 2 January
    assert holidays_of[""] == ("ok", {"Christmas Day", "New Year's Day", "Martin Luther King Jr. Day"})
    assert holidays_of["Atlantis"] == ("skipped", "no holidays known for country 'Atlantis' (key column country, "
                                       "model.country_holidays_column): it is not a known country; give a country "
                                       "code such as US, DE or GB, or a country and region such as GB-ENG")


def test_the_task_body_hands_cleaning_the_run_date_and_how_far_the_input_reaches(fast_config, dead_tracking):
    from conftest import daily_series
    from forecasting.spark_training import train_group

    group = daily_series(60).assign(store="north")  # 1 January to 29 February
    context = dead_tracking("2024-03-10", input_end="2024-03-05T00:00:00")  # other series' rows reach 5 March
    row = json.loads(train_group(group, fast_config("cleaning.gaps=zero"), ["store"], context).iloc[0][result_row.PAYLOAD])
    # cleaning's notes first; the forecast's own may follow (five zeros at its end: forecast 0?)
    assert row["data_notes"].startswith(
        "5 periods after the last row, before the run date 2024-03-10, filled (zero); last observation 2024-03-05 "
        "(a zero cleaning.gaps filled, the last row 2024-02-29), 5 periods before the run date 2024-03-10")
    assert row["history_length"] == 60 + 5


def test_the_task_body_hands_cleaning_the_runs_start_on_its_run_date(fast_config, dead_tracking):
    from forecasting.spark_training import train_group

    minutes = pd.date_range("2024-03-08", "2024-03-10 10:19", freq="min")
    group = pd.DataFrame({"ds": minutes, "y": 1.0, "store": "north"})
    config = fast_config("forecast.frequency=h", "selection.candidates=[naive]")
    context = dead_tracking("2024-03-10", known_until="2024-03-10T10:20:00.000")
    row = json.loads(train_group(group, config, ["store"], context).iloc[0][result_row.PAYLOAD])
    assert "the last period 2024-03-10 10:00 is still open at 2024-03-10 10:20: its 20 rows left out" in row["data_notes"]
    assert row["forecast"][0]["ds"].startswith("2024-03-10T10:00")


def test_a_series_without_a_time_counts_no_history_whatever_its_key(fast_config, dead_tracking):
    from forecasting.spark_training import train_group

    for store, reason in (("north", "no row has a time in column 'date'"), (None, "null key in ['store']")):
        group = pd.DataFrame({"store": [store], "ds": [pd.NaT], "y": [None]})  # validation.series_without_history's row
        row = json.loads(train_group(group, fast_config(), ["store"], dead_tracking()).iloc[0][result_row.PAYLOAD])
        assert (row["status"], row["history_length"]) == ("skipped", 0) and row["reason"].startswith(reason)


def test_a_null_keys_reason_says_a_csvs_blank_or_quoted_empty_value_is_read_as_null(fast_config, dead_tracking):
    from conftest import daily_series
    from forecasting.spark_training import train_group

    group = daily_series(30).assign(store=None)
    for input_format, said in (("csv", True), ("parquet", False)):  # a parquet null is written as one
        config = fast_config(f"input.path=sales.{input_format}", f"input.format={input_format}")
        row = json.loads(train_group(group, config, ["store"], dead_tracking()).iloc[0][result_row.PAYLOAD])
        assert row["reason"].startswith("null key in ['store']: the series has no identity")
        assert ('a CSV\'s blank or "" value is read as null' in row["reason"]) is said


def test_the_evaluations_recent_values_are_the_series_as_modelled_not_its_rows(fast_config, dead_tracking):
    from conftest import daily_series
    from forecasting.spark_training import train_group

    days = daily_series(40)
    group = pd.concat([days, days]).assign(store="north")  # every day twice: merged by summing
    config = fast_config("selection.candidates=[naive]")
    row = json.loads(train_group(group, config, ["store"], dead_tracking(), holdout=7).iloc[0][result_row.PAYLOAD])
    recent = pd.DataFrame(row["recent"])
    assert len(recent) == min(40, 6 * config.forecast.horizon)  # one value a day, held-out days too
    assert recent["y"].tolist() == (2 * days["y"]).tail(len(recent)).tolist()


def test_secrets_given_in_the_config_are_not_recorded_in_the_parent_run(tmp_path, fast_config, caplog):
    import mlflow

    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}",
                         "input.options={user: ana, password: hunter2-secret, url: 'jdbc:postgresql://ana:hunter2@db/x'}",
                         "spark.conf={spark.hadoop.fs.s3a.secret.key: s3-hunter2, spark.executor.memory: 1g}")
    source = "ftp://ana:hunter2@files.example.com/sales.csv"  # Hadoop's FTP file system reads them from the URL
    lineage = {"source": source, "files": [{"path": source, "bytes": 1}], "content_sha256": "0" * 64}
    context = parent_run.start_parent_run(config, "2024-03-31", lineage)
    run = mlflow.MlflowClient(context.tracking_uri).get_run(context.parent_run_id)
    resolved = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/config/resolved.yaml")
    recorded = resolved + str(run.data.params) + mlflow.artifacts.load_text(
        f"{run.info.artifact_uri}/lineage/data_version.json"
    )
    assert "hunter2" not in recorded and "ftp://ana:(redacted)@files.example.com/sales.csv" in recorded
    assert run.data.params["input.options.password"] == redaction.REDACTED
    assert run.data.params["input.options.user"] == "ana" and "spark.executor.memory: 1g" in resolved
    assert run.data.params["input.options.url"] == f"jdbc:postgresql://ana:{redaction.REDACTED}@db/x"
    assert "input.options.password looks like a secret" in caplog.text


def test_a_failed_job_run_ends_its_children_in_flight_and_a_rerun_those_of_a_killed_one(tmp_path):
    uri = (tmp_path / "mlruns").as_uri()
    client = tracking.client(uri)
    experiment = client.create_experiment("e")

    def job_run(date):
        tags = {tracking.JOB_TAG: "train_forecast", tracking.RUN_DATE_TAG: date}
        parent = client.create_run(experiment, tags=tags).info.run_id
        children = [client.create_run(experiment, tags={tracking.PARENT_TAG: parent}).info.run_id for _ in range(2)]
        client.set_terminated(children[0])  # a series that finished before the failure
        return parent, children

    parent, (done, in_flight) = job_run("2024-03-31")
    context = tracking.RunContext(uri, experiment, parent, "2024-03-31", log_models=False, log_plots=False)
    parent_run.finish_parent_run(context, {"ok": 1}, 1.0, failed=True)
    status = lambda run_id: client.get_run(run_id).info.status  # noqa: E731
    assert (status(parent), status(done), status(in_flight)) == ("FAILED", "FINISHED", "FAILED")
    assert client.get_run(in_flight).data.tags["ended_by"] == "its job run failing"

    # a finished job whose tracking failed as a series' run ended (its series counted untracked)
    # ends that run, left RUNNING under a FINISHED parent; without any such series it searches none
    for untracked in (0, 1):
        parent, (done, lost) = job_run("2024-04-14")
        context = tracking.RunContext(uri, experiment, parent, "2024-04-14", log_models=False, log_plots=False)
        parent_run.finish_parent_run(context, {"ok": 2}, 1.0, untracked=untracked)
        assert (status(parent), status(done), status(lost)) == ("FINISHED", "FINISHED", ("RUNNING", "FAILED")[untracked])
    assert client.get_run(lost).data.tags["ended_by"] == "tracking failing as it ended"

    # a killed job ended nothing: the rerun of its date ends its parent and the children in flight
    killed, (_, in_flight) = job_run("2024-04-07")
    parent_run.end_stale_runs(client, experiment, "train_forecast", "2024-04-07")
    assert (status(killed), status(in_flight)) == ("FAILED", "FAILED")
    assert client.get_run(in_flight).data.tags["ended_by"] == "a later train_forecast run of 2024-04-07"


def test_a_finished_run_marks_the_runs_of_its_date_and_output_it_replaced_and_only_those(tmp_path, fast_config):
    uri = (tmp_path / "mlruns").as_uri()
    client = tracking.client(uri)
    experiment = client.create_experiment("reruns")

    def job_run(date="2024-03-31", output="out", job="train_forecast", status="FINISHED", configured=None,
                started=None, **more):
        tags = {tracking.JOB_TAG: job, tracking.RUN_DATE_TAG: date, **more}
        if output is not None:
            tags[tracking.OUTPUT_PATH_TAG] = output
        run_id = client.create_run(experiment, tags=tags, start_time=started).info.run_id
        if configured is not None:  # a run from before the output_path tag: its config's output.path
            client.log_param(run_id, "output.path", configured)
        if status != "RUNNING":
            client.set_terminated(run_id, status)
        return run_id

    # a run that failed among or after its writes may have rows in the tables too, and one killed
    # (then ended by a later run of its date), but not one that failed before its writes
    replaced = [job_run(), job_run(status="FAILED", failed_after_writing="partly: forecasts"),
                job_run(status="FAILED", ended_by="a later train_forecast run of 2024-03-31"),
                job_run(output=None, configured="out/"),
                # one from before runs tagged themselves failed_after_writing: it may have written its rows
                job_run(status="FAILED", started=replaced_runs.FAILED_AFTER_WRITING_SINCE - 1)]
    others = [job_run(output="elsewhere"), job_run(date="2024-03-30"), job_run(job="evaluate_forecast"),
              job_run(status="RUNNING"), job_run(status="FAILED"), job_run(status="FAILED", ended_by="SIGTERM"),
              job_run(output=None, configured="elsewhere"), job_run(output=None, configured="file:out-of-it")]
    # scoring runs that forecast from this date's models, which the rerun replaces, and others
    scored = [job_run(job="score_forecast", date=date, model_run_date="2024-03-31") for date in ("2024-04-02", "2024-03-31")]
    scored_others = [job_run(job="score_forecast", date="2024-04-02", model_run_date="2024-03-30"),
                     job_run(job="score_forecast", date="2024-04-03", output="elsewhere", model_run_date="2024-03-31"),
                     job_run(job="score_forecast", date="2024-04-04", model_run_date="2024-03-31", status="FAILED")]
    # one that failed after writing its rows: they are there
    scored.append(job_run(job="score_forecast", date="2024-04-06", model_run_date="2024-03-31", status="FAILED",
                          failed_after_writing="true"))
    # one still running (or killed) that read the models the rerun replaces: its rows are, or will be, theirs
    scored.append(job_run(job="score_forecast", date="2024-04-07", model_run_date="2024-03-31", status="RUNNING",
                          models_job_run_id="the-first-training"))
    rerun = client.create_run(experiment, tags={tracking.JOB_TAG: "train_forecast"}).info.run_id
    # one just started, before it read any models, and one running on the rerun's
    running_others = [job_run(job="score_forecast", date="2024-04-08", model_run_date="2024-03-31", status="RUNNING"),
                      job_run(job="score_forecast", date="2024-04-09", model_run_date="2024-03-31", status="RUNNING",
                              models_job_run_id=rerun)]
    # a scoring run that read the rerun's own models, between its writes and its end
    scored_others.append(job_run(job="score_forecast", date="2024-04-05", model_run_date="2024-03-31",
                                 models_job_run_id=rerun))
    context = tracking.RunContext(uri, experiment, rerun, "2024-03-31", False, False, job="train_forecast",
                                  output_path="out")
    done = parent_run.finish_parent_run(context, {"ok": 1}, 1.0)
    assert sorted(done.runs) == sorted(replaced)
    assert done.killed == (replaced[2],)  # it cannot tell whether it wrote: the summary says so (ops walk of 12-06)
    assert done.rescore == ["2024-03-31", "2024-04-02", "2024-04-06", "2024-04-07"]
    tags = lambda run_id: client.get_run(run_id).data.tags  # noqa: E731
    assert [tags(run_id)[tracking.SUPERSEDED_TAG] for run_id in replaced] == [rerun] * 5
    assert not [run_id for run_id in [*others, *scored, rerun] if tracking.SUPERSEDED_TAG in tags(run_id)]
    assert [tags(run_id)[tracking.MODELS_REPLACED_TAG] for run_id in scored] == [rerun] * 4
    assert not [run_id for run_id in [*scored_others, *running_others, *replaced]
                if tracking.MODELS_REPLACED_TAG in tags(run_id)]
    # a second rerun names the same dates again (their forecasts are still those of the first models),
    # and that of the scoring run that read the first rerun's; each tag names the run that replaced
    # the models its scoring run read
    again = client.create_run(experiment, tags={tracking.JOB_TAG: "train_forecast"}).info.run_id
    context = tracking.RunContext(uri, experiment, again, "2024-03-31", False, False, job="train_forecast",
                                  output_path="out")
    assert parent_run.finish_parent_run(context, {"ok": 1}, 1.0).rescore == ["2024-03-31", "2024-04-02", "2024-04-05",
                                                                             "2024-04-06", "2024-04-07", "2024-04-09"]
    assert [tags(run_id)[tracking.MODELS_REPLACED_TAG] for run_id in [*scored, scored_others[-1], running_others[-1]]
            ] == [rerun] * 4 + [again] * 2
    listed = run_listing.job_runs(fast_config(f"tracking.uri={uri}", "tracking.experiment=reruns"), limit=50)
    shown = dict(zip(listed["parent_run_id"], listed["status"]))  # python -m forecasting runs
    assert (shown[replaced[0]], shown[scored[0]]) == ("FINISHED, replaced", "FINISHED, models replaced")

    # a run that failed after its writes replaced the rows too; one that failed before them did not
    for wrote in (False, True):
        earlier = job_run(date="2024-04-07")
        failed = client.create_run(experiment, tags={tracking.JOB_TAG: "train_forecast"}).info.run_id
        context = tracking.RunContext(uri, experiment, failed, "2024-04-07", False, False, job="train_forecast",
                                      output_path="out")
        parent_run.finish_parent_run(context, {"ok": 1}, 1.0, failed=True, wrote=wrote)
        assert tags(earlier).get(tracking.SUPERSEDED_TAG) == (failed if wrote else None)
        assert tags(failed).get(tracking.FAILED_AFTER_WRITING_TAG) == ("true" if wrote else None)
        client.set_tag(earlier, tracking.SUPERSEDED_TAG, "done")  # out of the next round's way


def test_a_run_from_before_the_output_tag_is_told_by_its_configured_output(tmp_path):
    from types import SimpleNamespace

    def run(tags, params):
        return SimpleNamespace(data=SimpleNamespace(tags=tags, params=params))

    assert tracking.run_output(run({tracking.OUTPUT_PATH_TAG: "/a/out"}, {"output.path": "x"})) == "/a/out"
    assert tracking.run_output(run({}, {"output.path": "file:///a/out/"})) == "/a/out"  # as output_root has it
    assert tracking.run_output(run({}, {"output.path": "s3a://b/out/"})) == "s3a://b/out"
    assert tracking.run_output(run({}, {})) is None
    # a killed run of that output is ended by the rerun; one of another config's output may be going on
    client = tracking.client((tmp_path / "mlruns").as_uri())
    experiment = client.create_experiment("before-the-tag")
    killed, other = (client.create_run(experiment, tags={tracking.JOB_TAG: "train_forecast",
                                                          tracking.RUN_DATE_TAG: "2024-03-31"}).info.run_id
                     for _ in range(2))
    client.log_param(killed, "output.path", f"file://{tmp_path}/out/")
    client.log_param(other, "output.path", f"{tmp_path}/other")
    parent_run.end_stale_runs(client, experiment, "train_forecast", "2024-03-31", f"{tmp_path}/out")
    assert (client.get_run(killed).info.status, client.get_run(other).info.status) == ("FAILED", "RUNNING")


def test_a_run_that_failed_before_counting_its_series_records_no_total(tmp_path):
    uri = (tmp_path / "mlruns").as_uri()
    client = tracking.client(uri)
    experiment = client.create_experiment("early failure")
    parent = client.create_run(experiment).info.run_id
    context = tracking.RunContext(uri, experiment, parent, "2024-03-31", False, False)
    parent_run.finish_parent_run(context, {}, 3.0, failed=True)
    metrics = client.get_run(parent).data.metrics
    assert "series_total" not in metrics and metrics["wall_seconds"] == 3.0


def test_a_failure_from_spark_submits_jvm_ending_under_the_driver_is_tagged_so(tmp_path, monkeypatch):
    """kill <pid> of spark-submit (or docker stop, where it is a container's main process) stops the JVM
    alone: the driver, signalled by nothing, fails against a SparkContext shut down or a gateway gone.
    Its run had ended FAILED with that error alone, read as a crash of the job's own."""
    from forecasting import signals

    class Captured(Exception):  # as PySpark keeps a Java error's message: str() of it asks the JVM
        __module__ = "pyspark.errors.exceptions.captured"
        _desc = "Job 19 cancelled because SparkContext was shut down"

        def __str__(self):
            raise AssertionError("asked the JVM")

    class GatewayGone(Exception):  # Py4J's call failing as the JVM goes
        __module__ = "py4j.protocol"

    monkeypatch.setattr(signals, "_launcher", [os.getppid()])  # under spark-submit, the JVM its parent
    monkeypatch.setattr(signals, "JVM_EXIT_WAIT", 0.3)
    assert signals.jvm_gone(Captured())
    try:
        raise GatewayGone("An error occurred while calling o851.parquet") from ConnectionRefusedError(111, "refused")
    except GatewayGone as err:
        assert signals.jvm_gone(err)
    try:  # a tracking server down refuses connections too: no JVM's end
        raise RuntimeError("logging the run failed") from ConnectionRefusedError(111, "Connection refused")
    except RuntimeError as err:
        assert not signals.jvm_gone(err)
    assert not signals.jvm_gone(ValueError("a failure of the job's own"))
    own = ValueError("a failure of the job's own")
    assert not signals.jvm_gone(own)
    monkeypatch.setattr(signals, "_launcher", [os.getppid() + 1])  # its parent gone: reparented
    # the job's error asked again as it reaches the CLI: the first answer, without a second wait for the JVM
    assert not signals.jvm_gone(own)
    assert signals.jvm_gone(ValueError("whatever it says"))
    monkeypatch.setattr(signals, "_launcher", [])  # not under spark-submit: nothing to tell
    assert not signals.jvm_gone(ConnectionRefusedError())
    monkeypatch.setattr(signals, "_launcher", [os.getppid()])
    uri = (tmp_path / "mlruns").as_uri()
    client = tracking.client(uri)
    experiment = client.create_experiment("jvm gone")
    parent = client.create_run(experiment).info.run_id
    parent_run.fail_parent_run(tracking.RunContext(uri, experiment, parent, "2024-03-31", False, False), Captured())
    run = client.get_run(parent)
    assert run.info.status == "FAILED" and run.data.tags[tracking.ENDED_BY_TAG] == signals.JVM_GONE
    assert run_listing._ended_by(run.data.tags[tracking.ENDED_BY_TAG]) == f", ended by {signals.JVM_GONE}"


def test_a_sqlite_store_is_found_from_any_folder_and_keeps_its_artifacts_beside_it(tmp_path, monkeypatch):
    from forecasting.config import load_config

    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    config = load_config(None, ["tracking.uri=sqlite:///mlflow.db", "tracking.experiment=in a database"])
    context = parent_run.start_parent_run(config, "2024-03-31", {"content_sha256": "abc"})
    assert context.tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"  # four slashes: absolute
    assert tracking.resolve_uri("sqlite:///mlflow.db?timeout=20") == f"sqlite:///{tmp_path / 'mlflow.db'}?timeout=20"
    monkeypatch.chdir(tmp_path / "elsewhere")  # as an executor started in another folder
    client = tracking.client(context.tracking_uri)
    assert client.get_experiment(context.experiment_id).artifact_location == (tmp_path / "mlartifacts").as_uri()
    assert (tmp_path / "mlartifacts" / context.parent_run_id / "artifacts" / "config" / "resolved.yaml").is_file()
    assert not (tmp_path / "elsewhere" / "mlflow.db").exists()
    # MLflow's own SQL store makes ./mlruns wherever it runs, which reads as a broken file store
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "elsewhere" / "mlruns").exists()


def test_a_users_own_relative_or_driver_sqlite_uri_keeps_its_artifacts_beside_the_database(tmp_path, monkeypatch):
    # explore and the notebook pass MLFLOW_TRACKING_URI on as the user wrote it
    monkeypatch.chdir(tmp_path)
    for uri, database in (("sqlite:///relative.db", "relative.db"), ("sqlite+pysqlite:///driver.db", "driver.db")):
        client = tracking.client(uri)
        experiment = client.create_experiment(f"from {database}")
        assert client.get_experiment(experiment).artifact_location == f"{(tmp_path / 'mlartifacts').as_uri()}/{experiment}"
        assert (tmp_path / database).is_file()
    assert not (tmp_path / "mlruns").exists()


def test_the_output_a_run_is_tagged_with_is_its_resolved_folder(tmp_path, monkeypatch):
    from forecasting.config import load_config

    monkeypatch.chdir(tmp_path)
    tags = []
    for path in ("output", "./output", str(tmp_path / "output")):  # one folder, written three ways
        config = load_config(None, [f"output.path={path}", f"tracking.uri={tmp_path / 'mlruns'}"])
        context = parent_run.start_parent_run(config, "2024-03-31", {"content_sha256": "abc"})
        run = tracking.client(context.tracking_uri).get_run(context.parent_run_id)
        tags.append(run.data.tags[parent_run.OUTPUT_PATH_TAG])
        assert context.output_path == tags[-1]  # what the run compares with others' tags
    assert tags == [str(tmp_path / "output")] * 3
    # runs tagged before the tag was resolved hold the path as configured, from the folder they ran in
    assert replaced_runs.same_output("output", tags[0]) and replaced_runs.same_output("./output", tags[0])
    assert not replaced_runs.same_output("elsewhere", tags[0])
    assert not replaced_runs.same_output("s3a://b/output", tags[0])


def test_a_job_stopped_while_its_parent_run_records_its_config_ends_that_run(tmp_path, fast_config, monkeypatch):
    # between the run's creation and the job's own end (finishing), a SIGTERM had left it RUNNING
    from forecasting import signals

    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", "tracking.experiment=stopped early")

    def stopped(*args):
        raise signals.Terminated("SIGTERM")

    monkeypatch.setattr(parent_run, "_record_start", stopped)
    with pytest.raises(signals.Terminated):
        parent_run.start_parent_run(config, "2024-03-31", {"content_sha256": "abc"})
    client = tracking.client((tmp_path / "mlruns").as_uri())
    [run] = client.search_runs([client.get_experiment_by_name("stopped early").experiment_id])
    assert run.info.status == "FAILED" and run.data.tags["ended_by"] == "SIGTERM"


def test_a_sigterm_while_the_parent_run_is_created_ends_that_run_failed(tmp_path, fast_config, monkeypatch):
    # the file store writes a run's tags one by one: a scheduler's stop among them (the run already
    # found by a search) raised inside create_run, with no run id yet to end it by
    import signal

    from mlflow.tracking import MlflowClient

    from forecasting import signals

    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", "tracking.experiment=stopped at once")
    create_run = MlflowClient.create_run

    def stopped_inside(self, *args, **kwargs):
        run = create_run(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)  # its handler runs before create_run returns
        return run

    monkeypatch.setattr(MlflowClient, "create_run", stopped_inside)
    with pytest.raises(signals.Terminated), signals.sigterm_raised():
        parent_run.start_parent_run(config, "2024-03-31", {"content_sha256": "abc"})
    client = tracking.client((tmp_path / "mlruns").as_uri())
    [run] = client.search_runs([client.get_experiment_by_name("stopped at once").experiment_id])
    assert run.info.status == "FAILED" and run.data.tags["ended_by"] == "SIGTERM"
    # held only while the run is created: the handler that raises is back
    assert signal.getsignal(signal.SIGTERM) is not signals._raise_terminated  # sigterm_raised restored its own


def test_the_task_marks_the_series_fail_series_names_by_its_escaped_id_even_one_skipped_first(fast_config,
                                                                                              dead_tracking):
    from conftest import daily_series
    from forecasting.spark_training import FAIL_SERIES_NOTE, train_group

    def notes(length: int, fail_series: str) -> tuple[str, str]:
        group = daily_series(length).assign(region="south/east", product="rye\\seed")
        config = fast_config("input.key_columns=[region, product]", "selection.candidates=[naive]",
                             f"reliability.fail_series={fail_series}")
        row = json.loads(train_group(group, config, ["region", "product"], dead_tracking()).iloc[0][result_row.PAYLOAD])
        return row["status"], row["data_notes"] or ""

    escaped = r"south\/east/rye\\seed"
    assert notes(30, escaped)[0] == "failed" and FAIL_SERIES_NOTE in notes(30, escaped)[1]
    assert notes(2, escaped)[0] == "skipped" and FAIL_SERIES_NOTE in notes(2, escaped)[1]  # too short to fail
    assert FAIL_SERIES_NOTE not in notes(30, "south/east/rye\\seed")[1]  # a '/' unescaped names another series


def _finished_run(config, run_date: str, input_end: str | None = None, data_version: dict | None = None):
    """A job run of ``run_date`` that wrote its tables and ended, as run_job ends it: its
    context and summary."""
    import time

    from forecasting import job_summary

    context = parent_run.start_parent_run(config, run_date, data_version or {}, input_end=input_end)
    summary = job_summary.JobSummary(run_date, context.parent_run_id, context.experiment_id, context.tracking_uri, {})
    with job_summary.finishing(context, summary, time.monotonic()):
        summary.wrote = True
    return context, summary


def test_a_rerun_whose_input_reached_elsewhere_than_the_run_it_replaced_says_so(tmp_path, fast_config):
    # a Monday's run backfilled once the Monday's own rows were in the input: its forecasts start a day later
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'out'}")
    # the third's tag as an older run wrote a date's: the same time, nothing to say
    said = [_finished_run(config, "2026-11-23", input_end)[1].note
            for input_end in ("2026-11-22T00:00:00", "2026-11-23", "2026-11-23T00:00:00")]
    assert "the input reached" not in said[0]  # nothing replaced
    assert ("the input reached 2026-11-23 00:00 for this run, 2026-11-22 00:00 for a run it replaced: the same run "
            "date read other data, so its forecasts may start at another time") in said[1]
    assert "replaced the rows of the earlier run(s)" in said[2] and "the input reached" not in said[2]  # as far
    assert "its config differed" not in "".join(said)  # the same config throughout


def test_a_rerun_with_another_config_names_the_settings_it_changed(tmp_path, fast_config):
    # trial 36: a date rerun with max_evals 3 changed 8 of 24 forecasts; only a diff of the params told why
    said = []
    # the last run names the same store and output otherwise (a cron run's config, a manual run's variable)
    stores = [tmp_path / "mlruns"] * 3 + [(tmp_path / "mlruns").as_uri()]
    outputs = [tmp_path / "out"] * 3 + [f"{tmp_path}/./out/"]
    for store, output, settings in zip(stores, outputs, (
            ["tuning.max_evals=2"], ["tuning.max_evals=3"], ["tuning.max_evals=3", "reliability.fallback=null"],
            ["tuning.max_evals=3", "reliability.fallback=null"])):
        config = fast_config(f"tracking.uri={store}", f"output.path={output}", *settings)
        said.append(_finished_run(config, "2026-11-23")[1].note)
    assert "its config differed" not in said[0]
    assert "  its config differed from the run it replaced: tuning.max_evals 2 -> 3\n" in said[1]
    tracker = tracking.client(str(tmp_path / "mlruns"))
    runs = tracker.search_runs([tracker.get_experiment_by_name(config.tracking.experiment).experiment_id],
                               order_by=["attributes.start_time"])
    assert [run.data.tags.get(tracking.CHANGED_SETTINGS_TAG) for run in runs][:2] == [None, "tuning.max_evals 2 -> 3"]
    assert " -> null\n" in said[2] and "None" not in said[2]  # as the config's YAML writes it
    assert "replaced the rows" in said[3] and "its config differed" not in said[3]  # the same store and output


def test_a_rerun_compares_its_config_with_the_run_whose_rows_it_replaced_not_a_killed_run_after_it(
        tmp_path, fast_config):
    # an auditor's walk-through (12-07): max_evals 6 wrote the date's rows, a run at 30 was killed in its training,
    # the rerun at 6 said "tuning.max_evals 30 -> 6", settings no row had been made with
    def config(evals):
        return fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'out'}",
                           f"tuning.max_evals={evals}")

    _finished_run(config(6), "2026-11-23")
    killed = parent_run.start_parent_run(config(30), "2026-11-23", {})
    heartbeat.stop(killed.parent_run_id)  # a kill -9: the run stays RUNNING, its heartbeats stop
    context, summary = _finished_run(config(6), "2026-11-23")
    assert "replaced the rows" in summary.note and "its config differed" not in summary.note
    tags = tracking.client(str(tmp_path / "mlruns")).get_run(context.parent_run_id).data.tags
    assert tracking.CHANGED_SETTINGS_TAG not in tags
    # where the killed run is all it replaced, it is the one compared with
    killed = parent_run.start_parent_run(config(30), "2026-11-30", {})
    heartbeat.stop(killed.parent_run_id)
    assert "its config differed from the run it replaced: tuning.max_evals 30 -> 6" in (
        _finished_run(config(6), "2026-11-30")[1].note)


def test_a_series_child_runs_beside_the_one_its_result_names_are_ended_as_duplicates(spark, tmp_path, fast_config):
    # a walk-through of 12-07: an executor killed mid-training, its stage resubmitted as first attempts, which found
    # no earlier run: 28 FINISHED child runs for 24 series, nothing to tell them apart
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'out'}")
    context = parent_run.start_parent_run(config, "2026-11-23", {})
    client = tracking.client(context.tracking_uri)

    def child(series: str) -> str:
        run = client.create_run(context.experiment_id, tags={"mlflow.parentRunId": context.parent_run_id,
                                                             "series_hash": series})
        tracking.end_run(client, run.info.run_id)
        return run.info.run_id

    lost, kept, alone, untracked = child("a"), child("a"), child("b"), [child("c"), child("c")]
    staged = spark.createDataFrame([("a", kept), ("b", alone), ("c", None)], "series string, child_run_id string")
    assert parent_run.end_duplicate_children(context, staged) == 1
    ended = client.get_run(lost)
    assert ended.info.status == "FAILED" and ended.data.tags[parent_run.DUPLICATE_OF_TAG] == kept
    assert ended.data.tags["ended_by"] == parent_run.TRAINED_AGAIN
    # the run the tables name, a series' only run, and two that no result names (its tracking failed): as they were
    assert {client.get_run(run).info.status for run in (kept, alone, *untracked)} == {"FINISHED"}
    assert parent_run.end_duplicate_children(context, staged) == 0  # ended once
    parent_run.finish_parent_run(context, {"ok": 3}, 1.0)


def test_a_servers_refusal_to_start_the_run_is_a_tracking_error_and_any_other_failure_is_not():
    from mlflow.exceptions import MlflowException
    from requests.exceptions import ConnectionError

    server = "http://tracking:5000"
    upload = MlflowException("API request to endpoint /api/2.0/mlflow-artifacts/artifacts/1/x/config/resolved.yaml "
                             "failed with error code 500 != 200. Response body: ''")
    assert "artifact store" in parent_run._refusal(server, upload)
    assert "EDIT permission" in parent_run._refusal(server, MlflowException("error code 403 != 200: Permission denied"))
    assert "rerun once the server works" in parent_run._refusal(server, ConnectionError("reset"))
    assert "rerun once the server works" in parent_run._refusal("databricks", MlflowException("HTTP 503"))
    # the server refused what the request asked (a deleted experiment, a value too long): no retry mends it
    assert parent_run._refusal(server, MlflowException("error code 400 != 200: non-active experiment")) is None
    assert parent_run._refusal("file:///tmp/mlruns", upload) is None  # a local store: no server to wait for
    assert parent_run._refusal(server, RuntimeError("a bug")) is None


def test_settings_only_one_run_has_are_named_after_the_changed_ones_in_one_entry_each_way():
    # an upgrade's walk-through (12-07): fifteen "cleaning.closed_times (none) -> leave_out" of settings the older
    # code lacked had buried the one setting the rerun changed
    before = {"tuning.max_evals": "2", "forecast.floor": "None", "old.setting": "7"}
    now = {"tuning.max_evals": "3", "forecast.floor": "None", "cleaning.closed_times": "leave_out",
           "input.key_case": "None"}
    assert replaced_runs.param_changes(before, now) == (
        "tuning.max_evals 2 -> 3",
        "settings the earlier run's code did not have: cleaning.closed_times leave_out, input.key_case null",
        "settings this run's code does not have: old.setting 7")
    assert replaced_runs.param_changes(before, before) == ()


def test_a_rerun_on_other_code_or_packages_says_what_differed(tmp_path, fast_config, monkeypatch):
    # an auditor's walk-through (12-07): a rerun on the clean commit replaced a run of local edits ("-dirty"); the
    # summary, tags and lookup named settings and data, never the code that changed the forecasts
    from forecasting import lineage, lookup

    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'out'}")
    versions = dict(lineage.package_versions())
    monkeypatch.setattr(lineage, "code_version", lambda: "f8744a6-dirty, source sha256 9969922e")
    monkeypatch.setattr(lineage, "package_versions", lambda: {**versions, "prophet": "1.1.6"})
    assert "its code differed" not in _finished_run(config, "2026-11-23")[1].note  # nothing replaced
    monkeypatch.setattr(lineage, "code_version", lambda: "f8744a6")
    monkeypatch.setattr(lineage, "package_versions", lambda: {**versions, "prophet": "1.1.7"})
    context, summary = _finished_run(config, "2026-11-23")
    assert ("  its code differed from the run it replaced: code_version f8744a6-dirty, source sha256 9969922e -> "
            "f8744a6; version.prophet 1.1.6 -> 1.1.7\n") in summary.note
    tags = tracking.client(str(tmp_path / "mlruns")).get_run(context.parent_run_id).data.tags
    assert lookup._rerun_changes(TrackedRun(None, types.SimpleNamespace(data=types.SimpleNamespace(tags=tags)))) == (
        "code code_version f8744a6-dirty, source sha256 9969922e -> f8744a6; version.prophet 1.1.6 -> 1.1.7")
    assert "its code differed" not in _finished_run(config, "2026-11-23")[1].note  # the same code again
    # the holidays package too: a release that moves a country's holidays moves the forecasts (the review of 12-07)
    from importlib import metadata

    assert versions["holidays"] == metadata.version("holidays")


def test_a_rerun_on_input_files_changed_since_says_its_input_differed(tmp_path, fast_config):
    # a walk-through of 12-07: one airport's March corrected upstream, the date run again; only the two runs'
    # data_version tags told why its forecasts moved
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'out'}")
    runs = [_finished_run(config, "2026-11-23", data_version={"content_sha256": digest})
            for digest in ("e884e93d", "221ef729", "221ef729")]
    said = [summary.note for _, summary in runs]
    # kept on the run too, for whoever explains its forecasts later (`python -m forecasting series`)
    tags = [tracking.client(str(tmp_path / "mlruns")).get_run(context.parent_run_id).data.tags for context, _ in runs]
    assert [run_tags.get(tracking.REPLACED_DATA_VERSION_TAG) for run_tags in tags] == [None, "e884e93d", None]
    from forecasting import lookup

    assert lookup._rerun_changes(TrackedRun(None, types.SimpleNamespace(data=types.SimpleNamespace(tags=tags[1])))) == (
        "input data_version e884e93d -> 221ef729")
    assert "its input differed" not in said[0]  # nothing replaced
    assert "  its input differed from the run it replaced: data_version e884e93d -> 221ef729 (" in said[1]
    assert "replaced the rows" in said[2] and "its input differed" not in said[2]  # the same files again
    # a run without a version (the embedded sample's tag reads None) says nothing of one
    assert "its input differed" not in _finished_run(config, "2026-11-23")[1].note


def test_a_run_whose_input_reaches_no_further_than_the_run_date_befores_says_a_feed_may_have_stopped(
        tmp_path, fast_config):
    # a weekly export that failed upstream: the next Monday's run forecast again from the same rows, unsaid
    from forecasting import forecast_change

    run = _finished_run
    daily = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'out'}")
    run(daily, "2026-11-16", "2026-11-16T00:00:00")
    context, summary = run(daily, "2026-11-23", "2026-11-16")  # a date alone, as older runs tagged it
    forecast_change.say_input_not_grown(daily, context, summary, "2026-11-16")
    assert ("the input reaches 2026-11-16 00:00, no further than for run date 2026-11-16: no newer rows in the 7 days "
            "since its last period ended, and this run forecast from the same data") in summary.note
    # business days run daily: Sunday's input ends on Friday, as Saturday's did; a weekend is no feed stopped,
    # four days without rows are, daily runs each compared with the day before
    run(daily, "2026-11-28", "2026-11-27T00:00:00")
    for run_date, said in (("2026-11-29", False), ("2026-11-30", False), ("2026-12-01", True), ("2026-12-02", True)):
        context, summary = run(daily, run_date, "2026-11-27T00:00:00")
        before = (pd.Timestamp(run_date) - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
        forecast_change.say_input_not_grown(daily, context, summary, before)
        assert ("no further than" in summary.note) == said, run_date
    grown, said = run(daily, "2026-11-30", "2026-11-29T00:00:00")
    forecast_change.say_input_not_grown(daily, grown, said, "2026-11-23")
    assert "no further than" not in said.note
    # monthly data run weekly: November's row is not due until November is over
    monthly = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'monthly'}",
                          "forecast.frequency=MS", "forecast.horizon=3")
    run(monthly, "2026-11-09", "2026-10-01T00:00:00")
    context, summary = run(monthly, "2026-11-16", "2026-10-01T00:00:00")
    forecast_change.say_input_not_grown(monthly, context, summary, "2026-11-09")
    assert "no further than" not in summary.note
    context, summary = run(monthly, "2026-12-07", "2026-10-01T00:00:00")  # November over, its row still missing
    forecast_change.say_input_not_grown(monthly, context, summary, "2026-11-16")
    assert "no newer rows in the 37 days since its last period ended" in summary.note
    # January's row the last: said once February is over, on its 28th, whatever January's 31 days (a review)
    january = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'january'}",
                          "forecast.frequency=MS", "forecast.horizon=3")
    run(january, "2026-02-20", "2026-01-01T00:00:00")
    for run_date, said in (("2026-02-27", False), ("2026-02-28", True)):
        context, summary = run(january, run_date, "2026-01-01T00:00:00")
        forecast_change.say_input_not_grown(january, context, summary, "2026-02-20")
        assert ("no newer rows in the 28 days" in summary.note) == said, run_date
    # weekly data run weekly: the one week that closed is said
    weekly = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'weekly'}",
                         "forecast.frequency=W-SUN", "forecast.horizon=4")
    run(weekly, "2026-11-23", "2026-11-22T00:00:00")
    context, summary = run(weekly, "2026-11-30", "2026-11-22T00:00:00")
    forecast_change.say_input_not_grown(weekly, context, summary, "2026-11-23")
    assert "no newer rows in the 8 days since its last period ended" in summary.note
    # another output's run of that date says nothing of this one's input
    other = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'other'}")
    context, summary = run(other, "2026-11-23", "2026-11-16T00:00:00")
    forecast_change.say_input_not_grown(other, context, summary, "2026-11-16")
    assert "no further than" not in summary.note


def test_a_run_says_and_tags_the_settings_and_code_it_changed_since_the_run_date_before(tmp_path, fast_config,
                                                                                        monkeypatch):
    # a walk-through of 12-07: cross_validation.step 6 -> 3 between two weekly runs was nowhere said, as only a
    # rerun of one date compared its settings with the run it replaced
    from forecasting import forecast_change, lineage

    settings = [f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'out'}"]
    tracker = tracking.client(str(tmp_path / "mlruns"))
    _finished_run(fast_config(*settings), "2026-11-16")
    context, summary = _finished_run(fast_config(*settings), "2026-11-23")
    forecast_change.say_changed_since(context, summary, "2026-11-16")
    assert "differed from run date" not in summary.note  # the same config and code
    assert not {tracking.SETTINGS_SINCE_TAG, tracking.CODE_SINCE_TAG} & set(
        tracker.get_run(context.parent_run_id).data.tags)
    monkeypatch.setattr(lineage, "package_versions", lambda: {"prophet": "9.9.9"})  # an upgrade since
    context, summary = _finished_run(fast_config(*settings, "cross_validation.step=3"), "2026-11-30")
    forecast_change.say_changed_since(context, summary, "2026-11-23")
    tags = tracker.get_run(context.parent_run_id).data.tags
    assert tags[tracking.SETTINGS_SINCE_TAG] == "cross_validation.step null -> 3"
    assert "version.prophet" in tags[tracking.CODE_SINCE_TAG] and "-> 9.9.9" in tags[tracking.CODE_SINCE_TAG]
    assert "its config differed from run date 2026-11-23's run: cross_validation.step null -> 3" in summary.note
    assert "its code differed from run date 2026-11-23's run: " in summary.note
    # another output's run of the date before is not this one's
    other = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'other'}",
                        "tuning.max_evals=9")
    context, summary = _finished_run(other, "2026-12-07")
    forecast_change.say_changed_since(context, summary, "2026-11-30")
    assert "differed from run date" not in summary.note


def test_a_jobs_three_questions_of_the_run_date_before_search_mlflow_once(tmp_path, fast_config, monkeypatch):
    # its horizon (at the start), how far its input reached and its settings (at the end) each searched the
    # experiment for that date's runs: a request each to a tracking server
    import mlflow

    settings = [f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'out'}"]
    _finished_run(fast_config(*settings, "tuning.max_evals=9"), "2026-11-16", "2026-11-15T00:00:00")
    context, _ = _finished_run(fast_config(*settings), "2026-11-23", "2026-11-22T00:00:00")
    searched = []
    search_runs = mlflow.MlflowClient.search_runs
    monkeypatch.setattr(mlflow.MlflowClient, "search_runs",
                        lambda self, *args, **kwargs: searched.append(kwargs) or search_runs(self, *args, **kwargs))
    asked = (replaced_runs.horizon_of(context, "2026-11-16"), replaced_runs.input_end_of(context, "2026-11-16"),
             replaced_runs.changed_since(context, "2026-11-16")[0])
    config = fast_config(*settings)
    changed = f"tuning.max_evals 9 -> {config.tuning.max_evals}"
    assert asked == (config.forecast.horizon, "2026-11-15T00:00:00", (changed,))
    assert len(searched) == 1
    assert replaced_runs.horizon_of(context, "2026-11-09") is None and len(searched) == 2  # another date: its own
    context, _ = _finished_run(config, "2026-11-30")  # another job run: its own, as runs may have ended since
    searched.clear()
    assert replaced_runs.input_end_of(context, "2026-11-16") == "2026-11-15T00:00:00" and len(searched) == 1


def test_settings_whose_keys_mlflow_refuses_in_a_params_name_are_one_param_of_json(tmp_path, fast_config):
    # trial 40: a Delta column "Units (net)" renamed crashed the run (exit 1, retried for ever); so did a
    # holiday_windows entry for New Year's Day, whose apostrophe MLflow refuses in a name
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'out'}",
                         "input.rename_columns={'Units (net)': sales}", "model.holiday_windows={\"New Year's Day\": [-1, 1]}",
                         "model.country_holidays=US", "input.options.sep=;")
    context = parent_run.start_parent_run(config, "2026-11-23", {})
    params = tracking.client(str(tmp_path / "mlruns")).get_run(context.parent_run_id).data.params
    assert json.loads(params["input.rename_columns"]) == {"Units (net)": "sales"}
    assert json.loads(params["model.holiday_windows"]) == {"New Year's Day": [-1, 1]}
    assert params["input.options.sep"] == ";"  # a key MLflow takes stays a param of its own
    parent_run.finish_parent_run(context, {}, 1.0)
    assert not tracking.param_name_ok("a//b") and not tracking.param_name_ok("x" * 251)


def test_a_rerun_says_a_killed_run_it_replaced_may_have_written_nothing(tmp_path, fast_config):
    # the ops walk-through of 12-06: a run killed in training (no rows) was named as one whose rows were replaced
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'out'}")
    killed = parent_run.start_parent_run(config, "2026-11-23", {})  # never ended: SIGKILL
    # the rerun, which ends the killed run at its start, then a rerun of that one
    (first, said_first), (_, said_second) = (_finished_run(config, "2026-11-23") for _ in range(2))
    said, runs = [said_first.note, said_second.note], [first.parent_run_id]
    # nor was it killed where its tracking server was lost instead (the walk-through of 12-07): either may be
    assert (f"  replaced the rows of any of {killed.parent_run_id}, ended unfinished (killed, or cut off from its "
            "tracking server) before it could say whether it wrote (tagged superseded_by;") in said[0]
    assert f"  replaced the rows of the earlier run(s) of this date {runs[0]} (tagged superseded_by;" in said[1]
    assert "ended unfinished" not in said[1]


def test_a_sigterm_while_the_parent_run_is_ended_still_ends_it(tmp_path, fast_config, monkeypatch, caplog):
    # the review of 12-06: a scheduler's stop inside the end left the run RUNNING, where the log said FAILED
    import os
    import signal
    import time

    from forecasting import job_summary, signals

    finish = parent_run.finish_parent_run

    def stopped_midway(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # handled before the next bytecode: here, inside the end
        return finish(*args, **kwargs)

    monkeypatch.setattr(parent_run, "finish_parent_run", stopped_midway)
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'out'}")
    store = tracking.client((tmp_path / "mlruns").as_uri())
    with signals.sigterm_raised():
        done, _ = _finished_run(config, "2026-11-23")  # its work done: it ends FINISHED, the stop said
        assert store.get_run(done.parent_run_id).info.status == "FINISHED"
        assert "SIGTERM came as MLflow run" in caplog.text
        context = parent_run.start_parent_run(config, "2026-11-24", {})
        summary = job_summary.JobSummary("2026-11-24", context.parent_run_id, context.experiment_id,
                                         context.tracking_uri, {})
        with pytest.raises(RuntimeError, match="broken fit"):
            with job_summary.finishing(context, summary, time.monotonic()):
                raise RuntimeError("broken fit")
        # not with a tracking server, whose requests may hang for minutes: the stop stops the job there
        from dataclasses import replace

        with pytest.raises(signals.Terminated):
            with job_summary._held_while_ending(replace(context, tracking_uri="http://127.0.0.1:5000")):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)
    assert store.get_run(context.parent_run_id).info.status == "FAILED"
