"""Each training run's models as one registered MLflow model, served over HTTP for real."""
import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from mlflow.exceptions import MlflowException
from pyspark.sql import functions as F

from conftest import FAST_OVERRIDES, daily_series
from forecasting import (job_summary, lookup, lookup_text, model, model_store, parent_run, pipeline, registration, series_identity,
                         serving, tables, tracking)
from forecasting.config import load_config

RUN_DATE = "2024-03-31"
NAME = "store-forecaster"


def train(spark, root: Path, *overrides: str, seed: int = 50):
    data = pd.concat([daily_series(60, seed=seed + i).assign(store=f"s{i}") for i in range(2)])
    data.to_csv(root / "input.csv", index=False, date_format="%Y-%m-%d")
    config = load_config(None, [
        *FAST_OVERRIDES, f"input.path={root / 'input.csv'}", "input.key_columns=[store]",
        "input.time_column=ds", "input.target_column=y", f"tracking.uri={root / 'mlruns'}",
        f"output.path={root / 'out'}", "selection.candidates=[prophet, seasonal_naive]", *overrides,
    ])
    return config, pipeline.run_job(spark, config, RUN_DATE)


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("serving")
    config, summary = train(spark, root, f"tracking.registered_model={NAME}")
    return {"config": config, "summary": summary, "root": root}


def served_in_process(summary, name: str, version: int, horizon: int = 5) -> pd.DataFrame:
    """The registered version loaded as the server loads it, asked for both series."""
    import mlflow.pyfunc

    mlflow.set_tracking_uri(summary.tracking_uri)
    forecaster = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    return forecaster.predict(pd.DataFrame({"store": ["s0", "s1"], "horizon": [horizon, horizon]}))


def trained_forecasts(spark, config, horizon: int = 5) -> pd.DataFrame:
    stored = tables.read_table(spark, config, tables.FORECASTS).where(F.col("source") == "trained").toPandas()
    return stored.sort_values(["store", "ds"]).groupby("store").head(horizon).reset_index(drop=True)


def models_table(spark, summary) -> "registration.ModelsTable":
    return registration.models_table(spark, summary.tables[tables.MODELS], "delta", ["store"], summary.job_run_id)


def test_registering_does_not_load_every_series_model(spark, trained, monkeypatch):
    # MLflow loads a python model while saving it; the forecaster then skips its models
    def refuse(*args):
        raise AssertionError("the models table was read while registering")

    table = models_table(spark, trained["summary"])
    monkeypatch.setattr(serving, "read_models", refuse)
    context = parent_run.start_parent_run(trained["config"], RUN_DATE, {})  # a run of its own: its artifacts too
    assert registration.register(context, "unread-forecaster", table, RUN_DATE) == 1


def test_the_models_tables_version_and_key_types_come_from_spark(spark, trained, monkeypatch):
    import deltalake

    # the driver's deltalake cannot open every file system Spark writes to (dbfs:/, abfss://)
    def unreadable(*args, **kwargs):
        raise OSError("no such file system")

    monkeypatch.setattr(deltalake, "DeltaTable", unreadable)
    path = trained["summary"].tables[tables.MODELS]
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").select("version").collect()
    table = models_table(spark, trained["summary"])
    assert table.version == max(row["version"] for row in history) and table.key_types == {"store": "string"}
    # another writer's commit since (a backfill of another date): the version is still the run's own
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('comment.by' = 'another writer')")
    assert models_table(spark, trained["summary"]).version == table.version


def test_a_failed_registration_is_recorded_and_the_job_run_still_finishes(spark, trained, tmp_path, monkeypatch,
                                                                         caplog):
    # a registry that cannot be opened (here: a file where its folder should be), after every table was written
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", (tmp_path / "not-a-folder" / "registry").as_uri())
    config, summary = trained["config"], trained["summary"]
    context = parent_run.start_parent_run(config, RUN_DATE, {})
    job = job_summary.JobSummary(RUN_DATE, context.parent_run_id, context.experiment_id, context.tracking_uri,
                              summary.tables, counts={"ok": 2})
    with job_summary.finishing(context, job, time.monotonic()):  # as run_job ends its parent run
        job.note = pipeline.register_model(spark, config, context, summary.tables[tables.MODELS], RUN_DATE)
    parent = tracking.client(context.tracking_uri).get_run(context.parent_run_id)
    assert parent.info.status == "FINISHED" and not job.too_many_failed  # exit code 0
    error = parent.data.tags[pipeline.REGISTRATION_ERROR_TAG]
    assert error.startswith(("NotADirectoryError", "FileExistsError")), error
    assert f"registering model {NAME} FAILED (the tables are written): {error.splitlines()[0]}" in job.format()
    assert f"the parent run's tag {pipeline.REGISTRATION_ERROR_TAG} and the log say why" in job.format()
    assert f"registering model {NAME} failed" in caplog.text
    # the tracking store itself gone: no tag to point at (the ops walk-through of 12-06), and said in lines, not in
    # MLflow's chained tracebacks (some 200 lines in a walk-through of 12-08)
    import requests

    def unreachable(uri):
        raise requests.exceptions.ConnectionError("server down")

    monkeypatch.setattr(pipeline.tracking, "client", unreachable)
    caplog.clear()
    said = pipeline.register_model(spark, config, context, summary.tables[tables.MODELS], RUN_DATE)
    assert "registering model" in said and "FAILED" in said
    assert "  the log says why (the parent run could not be tagged); a rerun of this date registers again" in said
    assert f"registering model {NAME} failed; the run's tables are written all the same: server down" in caplog.text
    assert "could not tag the parent run" in caplog.text and "Traceback" not in caplog.text


def test_a_run_without_any_model_registers_no_version_that_could_answer_nothing(spark, tmp_path):
    from mlflow import MlflowClient

    # both series too short to model, and no fallback: no model written
    _, summary = train(spark, tmp_path, "tracking.registered_model=empty-forecaster", "forecast.min_history=100",
                       "reliability.fallback=null")
    assert summary.counts == {"skipped": 2}
    assert ("model empty-forecaster not registered: the run wrote no models (no series was modelled, and no "
            "fallback forecast any)") in summary.format()
    assert MlflowClient(summary.tracking_uri).search_registered_models("name = 'empty-forecaster'") == []


def test_a_run_that_modelled_no_series_registers_its_fallbacks_but_leaves_the_served_alias(spark, tmp_path):
    from mlflow import MlflowClient

    _, first = train(spark, tmp_path, "tracking.registered_model=held-forecaster")
    client = MlflowClient(first.tracking_uri)
    assert str(client.get_model_version_by_alias("held-forecaster", "current").version) == "1"
    # a rerun whose series are all too short to model (a mistyped min_history): fallbacks only, exit 5
    config, second = train(spark, tmp_path, "tracking.registered_model=held-forecaster", "forecast.min_history=100")
    assert second.counts == {"skipped": 2} and second.exits_5
    assert ("alias @current not moved: no series was modelled (exit 5); serve version 2 by its number if meant"
            in second.format())
    # a rerun of the date: the version it replaced says so, for whoever holds that version's answers
    assert ("registered model held-forecaster version 2 (replacing version 1 of this date, now tagged "
            "replaced_by_version)") in second.format()
    assert client.get_model_version("held-forecaster", "1").tags["replaced_by_version"] == "2"
    assert str(client.get_model_version_by_alias("held-forecaster", "current").version) == "1"


def test_the_signature_names_the_keys_with_their_types(trained):
    import mlflow.models

    mlflow.set_tracking_uri(trained["summary"].tracking_uri)
    info = mlflow.models.get_model_info(f"models:/{NAME}/1")
    inputs = {spec.name: (spec.to_dict()["type"], spec.required) for spec in info.signature.inputs.inputs}
    assert inputs == {"store": ("string", True), "horizon": ("any", True), "as_of": ("any", False)}
    outputs = [spec.name for spec in info.signature.outputs.inputs]
    assert outputs == ["store", "ds", "yhat", "yhat_lower", "yhat_upper", "model", "model_run_date", "child_run_id"]


def test_a_requests_own_fields_are_names_no_key_column_may_take():
    from forecasting.config_schema import RESERVED_KEY_NAMES, ConfigError

    own = {spec.name for spec in registration.signature({"store": "string"}).inputs.inputs} - {"store"}
    assert own == {"horizon", "as_of"} and own <= RESERVED_KEY_NAMES
    for name in sorted(own):  # a key named so had registered a model no request could reach
        with pytest.raises(ConfigError, match=f"'{name}'"):
            load_config(None, [f"input.key_columns=[{name}, item]"])


def test_a_version_answers_with_its_own_run_after_a_rerun_replaced_the_models(spark, tmp_path):
    config, first = train(spark, tmp_path, "tracking.registered_model=rerun-forecaster")
    before = trained_forecasts(spark, config)
    config, second = train(spark, tmp_path, "tracking.registered_model=rerun-forecaster", seed=80)  # other data
    after = trained_forecasts(spark, config)
    assert "version 2" in second.format()
    assert not np.allclose(before["yhat"], after["yhat"])
    for version, expected in ((1, before), (2, after)):
        served = served_in_process(second, "rerun-forecaster", version)
        for column in ("yhat", "yhat_lower", "yhat_upper"):
            assert served[column].tolist() == pytest.approx(expected[column].tolist(), rel=1e-9), (version, column)
    # its refusals read its own run's series_results rows, from the version that run wrote
    import mlflow.pyfunc

    with pytest.raises(MlflowException, match=r": s9: not in that run's input\. A request"):
        mlflow.pyfunc.load_model("models:/rerun-forecaster/1").predict(pd.DataFrame({"store": ["s9"], "horizon": [3]}))


def test_a_parquet_models_table_is_served_as_it_is_and_a_version_a_rerun_replaced_says_so(spark, tmp_path):
    config, summary = train(spark, tmp_path, "tracking.registered_model=parquet-forecaster", "output.format=parquet")
    served = served_in_process(summary, "parquet-forecaster", 1)
    expected = trained_forecasts(spark, config)
    assert served["yhat"].tolist() == pytest.approx(expected["yhat"].tolist(), rel=1e-9)
    assert list(pd.to_datetime(served["ds"])) == list(expected["ds"])
    # a rerun of the date overwrites the parquet rows: version 1 would answer with version 2's models
    config, rerun = train(spark, tmp_path, "tracking.registered_model=parquet-forecaster", "output.format=parquet",
                          seed=80)
    # the rerun, and the series' lookup, say the replaced rows are gone: no time travel in parquet
    replaced = f"replaced the rows of the earlier run(s) of this date {summary.job_run_id} (tagged superseded_by; "
    assert replaced + "a parquet table keeps no earlier rows)" in rerun.format()
    shown = lookup_text.format_series(lookup.series_report(config, {"store": "s0"}))
    assert f"earlier runs of this date: {summary.job_run_id} (a parquet table keeps no earlier rows)" in shown
    assert served_in_process(rerun, "parquet-forecaster", 2)["yhat"].tolist() == pytest.approx(
        trained_forecasts(spark, config)["yhat"].tolist(), rel=1e-9)
    with pytest.raises(Exception, match=f"models of job run {summary.job_run_id} .* were replaced by job run "
                                        f"{rerun.job_run_id}, a rerun of that date"):
        served_in_process(rerun, "parquet-forecaster", 1)


def test_a_parquet_version_whose_rows_a_rerun_removed_refuses_to_load_rather_than_answer_nothing(tmp_path):
    other_date = tmp_path / "models" / "run_date=2024-03-30"
    other_date.mkdir(parents=True)
    pd.DataFrame({"store": ["s0"], "model": ["naive"], "job_run_id": ["R0"]}).to_parquet(other_date / "part.parquet")
    pointer = {"models_table": str(tmp_path / "models"), "run_date": RUN_DATE, "format": "parquet", "job_run_id": "R1"}
    with pytest.raises(RuntimeError, match="the models of job run R1 .* are not there \\(a rerun of that date removed them"):
        serving.read_models(pointer, ["store", "model", "run_date"])


def test_a_mistyped_series_with_a_slash_in_a_key_value_is_told_the_series_it_meant():
    models = {("Hub/A", "B"): None, ("Hub", "A/B"): None}  # the same text, joined by '/'
    assert serving._similar({"site": "hub/a", "gate": "B"}, ["site", "gate"], models) == " (did you mean Hub\\/A/B?)"


def test_a_request_for_an_unknown_series_or_a_bad_horizon_is_refused_saying_why(trained):
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(trained["summary"].tracking_uri)
    forecaster = mlflow.pyfunc.load_model(f"models:/{NAME}/1")
    with pytest.raises(MlflowException, match=f"no model for 1 series in this version of run date {RUN_DATE}: "
                                              "nowhere: ") as unknown:
        forecaster.predict(pd.DataFrame({"store": ["s0", "nowhere"], "horizon": [3, 3]}))
    assert unknown.value.get_http_status_code() == 400
    # the run's series_results rows say that its series were all modelled: "nowhere" was not in its input
    assert str(unknown.value).endswith(": nowhere: not in that run's input. A request naming one answers no series: "
                                       "ask for the others alone")
    with pytest.raises(MlflowException, match=r"no model for 1 series in this version of run date [0-9-]+: S1 \(did "
                                              r"you mean s1\?\)"):
        forecaster.predict(pd.DataFrame({"store": ["S1"], "horizon": [3]}))  # another case, as the lookup suggests
    with pytest.raises(MlflowException, match="a positive whole number up to 10000, got -2 for series s1"):
        forecaster.predict(pd.DataFrame({"store": ["s0", "s1"], "horizon": [3, -2]}))  # head(-2) gave 3 rows
    with pytest.raises(MlflowException, match="got 2.5 for series s0"):
        forecaster.predict(pd.DataFrame({"store": ["s0"], "horizon": [2.5]}))
    with pytest.raises(MlflowException, match="got 'seven' for series s0"):
        forecaster.predict(pd.DataFrame({"store": ["s0"], "horizon": ["seven"]}))
    with pytest.raises(MlflowException, match="got True for series s0"):  # not "got 1"
        forecaster.predict(pd.DataFrame({"store": ["s0"], "horizon": [True]}))
    # whole numbers as text, as MLflow's server took them while the horizon was declared long; not "1e3"
    assert len(forecaster.predict(pd.DataFrame({"store": ["s0", "s1"], "horizon": ["2", " 3.0 "]}))) == 5
    with pytest.raises(MlflowException, match="got '1e3' for series s0"):
        forecaster.predict(pd.DataFrame({"store": ["s0"], "horizon": ["1e3"]}))  # had forecast 1,000 steps
    with pytest.raises(MlflowException, match=f"up to {serving.MAX_HORIZON}, got 1000000000 for series s0"):
        forecaster.predict(pd.DataFrame({"store": ["s0"], "horizon": [10**9]}))  # past pandas' last time
    with pytest.raises(MlflowException, match="would run past the times pandas can hold") as late:
        forecaster.predict(pd.DataFrame({"store": ["s0"], "horizon": [3], "as_of": [pd.Timestamp("2262-04-10")]}))
    assert late.value.get_http_status_code() == 400


def test_as_of_forecasts_the_periods_not_over_by_then_as_scoring_would(spark, trained):
    import mlflow.pyfunc

    from forecasting import model, model_store

    mlflow.set_tracking_uri(trained["summary"].tracking_uri)
    forecaster = mlflow.pyfunc.load_model(f"models:/{NAME}/1")
    row = (tables.read_table(spark, trained["config"], tables.MODELS).where(F.col("store") == "s0")
           .select("model", "model_json").first())
    history_end = trained_forecasts(spark, trained["config"]).query("store == 's0'")["ds"].min() - pd.Timedelta(days=1)
    as_of = history_end + pd.Timedelta(days=3, hours=6)  # that day is not over: it is forecast
    answer = forecaster.predict(pd.DataFrame({"store": ["s0"], "horizon": [4], "as_of": [as_of]}))
    assert answer["ds"].tolist() == list(pd.date_range(history_end + pd.Timedelta(days=3), periods=4))
    # the interval is sampled over the run's own horizon at least, as the forecasts table's was; scoring
    # on that date, with the day before it the last in the series' data, forecasts the same
    fc = trained["config"].forecast
    last_day = history_end + pd.Timedelta(days=2)
    expected = model_store.forecast(row["model"], row["model_json"], last_day, max(4, fc.horizon), fc.frequency,
                                    fc.interval_width,
                                    model.series_seed(series_identity.series_id({"store": "s0"}))).head(4)
    pd.testing.assert_frame_equal(answer[["ds", "yhat", "yhat_lower", "yhat_upper"]], expected)


def test_a_models_table_version_gone_from_the_log_says_why(trained, tmp_path):
    pointer = {"models_table": trained["summary"].tables[tables.MODELS], "version": 999, "run_date": RUN_DATE}
    with pytest.raises(RuntimeError, match="cannot read version 999 of the models table .*logRetentionDuration"):
        serving.read_models(pointer, ["store", "model"])
    moved = {**pointer, "models_table": pointer["models_table"] + "-moved", "version": 1}  # no table there at all
    with pytest.raises(RuntimeError, match="there is no Delta table there: was output.path moved"):
        serving.read_models(moved, ["store", "model"])
    # a parquet one too, in the same words, not pyarrow's FileNotFoundError
    for gone in (tmp_path / "gone", tmp_path):  # no folder; a folder without the table's files
        with pytest.raises(RuntimeError, match="there is no parquet table there: was output.path moved"):
            serving.read_models({"models_table": str(gone), "format": "parquet", "job_run_id": "abc",
                                 "run_date": RUN_DATE}, ["store", "model"])


def test_a_version_registered_before_its_table_version_was_named_says_it_serves_the_current_models(trained, caplog):
    pointer = {"models_table": trained["summary"].tables[tables.MODELS], "run_date": RUN_DATE}  # as then
    assert not serving.read_models(pointer, ["store", "model"]).empty
    assert f"it serves the table's current models of run date {RUN_DATE}" in caplog.text


def test_a_date_key_stored_as_a_date_is_found_from_a_requests_timestamp(fast_config):
    import datetime as dt

    from forecasting import model, model_store, serving

    history = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=30), "y": np.arange(30.0) % 7})
    fitted = model.fit(history, fast_config(), {}, uncertainty_samples=50)
    stored = {"cohort": dt.date(2024, 1, 1), "model": "prophet", "model_json": model_store.dump("prophet", fitted),
              "frequency": "D", "interval_width": 0.8}  # a row as deltalake reads it
    forecaster = serving.ManyModelForecaster()
    forecaster.key_columns, forecaster.horizon = ["cohort"], 3
    forecaster.models = {serving.series_key(stored, ["cohort"]): stored}
    request = pd.DataFrame({"cohort": [pd.Timestamp("2024-01-01")], "horizon": [2]})  # as the signature makes it
    answer = forecaster.predict(None, request)
    # the interval sampled with the seed training and scoring use: the key as the task saw it
    seed = model.series_seed(series_identity.series_id({"cohort": dt.date(2024, 1, 1)}))
    table = model_store.forecast("prophet", stored["model_json"], None, 3, "D", 0.8, seed).head(2)
    assert answer["ds"].tolist() == list(pd.date_range("2024-01-31", periods=2))
    pd.testing.assert_frame_equal(answer[["ds", "yhat", "yhat_lower", "yhat_upper"]], table)
    # the key answered as requested, in the signature's type: an answer joins its request by key
    assert answer["cohort"].dtype == request["cohort"].dtype and len(answer.merge(request, on="cohort")) == 2


def test_every_series_without_a_model_is_named_in_one_refusal_and_no_request_answers_typed_columns():
    from mlflow.exceptions import MlflowException

    from forecasting import model, serving

    forecaster = serving.ManyModelForecaster()
    forecaster.key_columns, forecaster.horizon, forecaster.run_date = ["store"], 3, RUN_DATE
    forecaster.models = {("s0",): {"store": "s0"}, ("west",): {"store": "west"}}
    # trial 39: only the first was named, so a client learnt of the others one round trip at a time
    asked = pd.DataFrame({"store": ["s0", "mars", "venus", "mars", "east"], "horizon": [3] * 5})
    with pytest.raises(MlflowException, match=f"no model for 3 series in this version of run date {RUN_DATE}: mars, "
                                              "venus, east: not in") as refused:
        forecaster.predict(None, asked)
    assert "did you mean" not in str(refused.value)  # a list reads as a list, not as one typo
    many = pd.DataFrame({"store": [f"x{i}" for i in range(25)], "horizon": [3] * 25})
    with pytest.raises(MlflowException, match="no model for 25 series .*x19 and 5 more: not in"):
        forecaster.predict(None, many)
    # no request: no rows, in the output signature's types (a typed client had object columns)
    answer = forecaster.predict(None, pd.DataFrame({"store": pd.Series([], dtype=object), "horizon": []}))
    assert answer.empty and list(answer.columns) == ["store", *model.FORECAST_COLUMNS, *serving.ANSWER_SOURCE]
    assert str(answer["ds"].dtype) == "datetime64[ns]" and (answer[model.FORECAST_COLUMNS[1:]].dtypes == "float64").all()


def _write_results(path, rows: pd.DataFrame, fmt: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake import write_deltalake

    if fmt == "delta":
        write_deltalake(str(path), rows, mode="append")
    else:
        pq.write_to_dataset(pa.Table.from_pandas(rows, preserve_index=False), str(path), partition_cols=["run_date"])


def _forecaster_of_run(models_table, fmt: str, key: str = "store", known=("s0",)):
    forecaster = serving.ManyModelForecaster()
    forecaster.key_columns, forecaster.horizon, forecaster.run_date = [key], 3, RUN_DATE
    forecaster.models = {(str(k),): {key: k} for k in known}
    forecaster.pointer = {"models_table": str(models_table), "format": fmt, "job_run_id": "run-a", "run_date": RUN_DATE}
    return forecaster


@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_a_refusal_says_what_the_versions_run_did_with_each_series_it_has_no_model_of(tmp_path, fmt, caplog):
    """From the run's rows of series_results beside the models table, not another run's."""
    rows = pd.DataFrame({"store": ["s0", "s1", "s2", "s3"], "status": ["ok", "skipped", "failed", "failed"],
                         "reason": [None, "too little history: 3 of 14 periods", "ValueError: " + "x" * 300, "late"],
                         "job_run_id": ["run-a", "run-a", "run-a", "run-b"], "run_date": RUN_DATE})
    # a refusal before the table is there: what the lookup would say, why in the log, and read again later
    forecaster = _forecaster_of_run(tmp_path / "models", fmt)
    with pytest.raises(MlflowException, match=": s1: not in that run's input, or skipped or failed there without a "
                                              r"fallback \(python -m forecasting series says which\)"):
        forecaster.predict(None, pd.DataFrame({"store": ["s1"], "horizon": [3]}))
    assert "cannot read what run run-a did with the series it has no model of" in caplog.text
    _write_results(tmp_path / "series_results", rows, fmt)
    caplog.clear()
    with pytest.raises(MlflowException, match=": s1: not in that run's input, or skipped"):  # not read again at once
        forecaster.predict(None, pd.DataFrame({"store": ["s1"], "horizon": [3]}))
    assert "cannot read" not in caplog.text  # nor logged again
    forecaster._read_again_at -= serving.OUTCOMES_RETRY_SECONDS  # a minute later
    if fmt == "parquet":  # another run date's file, unreadable: not opened (on S3, a request a file)
        other_date = tmp_path / "series_results" / "run_date=2030-01-07"
        other_date.mkdir()
        (other_date / "part-0.parquet").write_bytes(b"not parquet")
    asked = pd.DataFrame({"store": ["s0", "s1", "mars", "s2", "s3"], "horizon": [3] * 5})
    with pytest.raises(MlflowException) as refused:
        forecaster.predict(None, asked)
    assert str(refused.value) == (
        f"no model for 4 series in this version of run date {RUN_DATE}: s1, mars, s2, s3: s1 was skipped in that run "
        f"(too little history: 3 of 14 periods); s2 failed in that run (ValueError: {'x' * 185}...); the others were "
        "not in that run's input. A request naming one answers no series: ask for the others alone")
    with pytest.raises(MlflowException, match=r": s1: was skipped in that run \(too little history: 3 of 14 periods\)\. "
                                              "A request"):
        forecaster.predict(None, pd.DataFrame({"store": ["s1"], "horizon": [3]}))  # no typo suggested: it is the run's
    # more than a refusal names: only those named were looked up
    many = pd.DataFrame({"store": [f"x{i}" for i in range(25)], "horizon": [3] * 25})
    with pytest.raises(MlflowException, match=r"x19 and 5 more: those named were not in that run's input\. A request"):
        forecaster.predict(None, many)


def test_a_refusal_finds_a_whole_number_keyed_series_beside_a_null_key_and_says_its_reason_on_one_line(tmp_path):
    # a null key makes pandas read the column as floats: 7 as 7.0, which no request's 7 matched
    rows = pd.DataFrame({"shop": pd.array([1, 7, None], dtype="Int64"), "status": ["ok", "failed", "skipped"],
                         "reason": [None, "RuntimeError: Stan failed\n  at line 3", "null key in ['shop']"],
                         "job_run_id": "run-a", "run_date": RUN_DATE})
    _write_results(tmp_path / "series_results", rows, "delta")
    forecaster = _forecaster_of_run(tmp_path / "models", "delta", key="shop", known=(1,))
    with pytest.raises(MlflowException, match=r": 7: failed in that run \(RuntimeError: Stan failed at line 3\)\."):
        forecaster.predict(None, pd.DataFrame({"shop": [7], "horizon": [3]}))


def test_each_run_registers_a_new_version(spark, trained):
    from mlflow import MlflowClient

    summary = trained["summary"]
    assert f"registered model {NAME} version 1" in summary.format()
    registry = MlflowClient(summary.tracking_uri)
    first = registry.get_model_version(NAME, "1")
    assert first.run_id == summary.job_run_id and first.source.endswith(registration.ARTIFACT_PATH)
    # what the next run's registration does: a new version, the first one kept
    context = parent_run.start_parent_run(trained["config"], RUN_DATE, {})
    assert registration.register(context, NAME, models_table(spark, summary), RUN_DATE, horizon=7) == 2
    assert sorted(int(v.version) for v in registry.search_model_versions(f"name = '{NAME}'")) == [1, 2]


def test_the_served_alias_stays_on_the_latest_run_date_and_says_when_another_table_takes_it(spark, trained):
    from mlflow import MlflowClient

    summary, name = trained["summary"], "aliased-forecaster"
    assert f"alias @current on version 1: serve models:/{NAME}@current" in summary.format()  # the job's own
    registry = MlflowClient(summary.tracking_uri)
    assert int(registry.get_model_version_by_alias(NAME, "current").version) == 1
    import mlflow.pyfunc

    mlflow.set_tracking_uri(summary.tracking_uri)  # loaded by its alias, as the README serves it
    served = mlflow.pyfunc.load_model(f"models:/{NAME}@current").predict(pd.DataFrame({"store": ["s0"], "horizon": [2]}))
    pd.testing.assert_frame_equal(served.reset_index(drop=True), served_in_process(summary, NAME, 1, 2).head(2))
    context = parent_run.start_parent_run(trained["config"], RUN_DATE, {})
    table = models_table(spark, summary)

    def registered(run_date, models=table):
        version = registration.register(context, name, models, run_date)
        return version, registration.point_alias(context, name, version, run_date, models.path)

    assert registered("2024-03-31")[1] == (f"  alias @current on version 1: serve models:/{name}@current (a server "
                                           "running keeps the version it loaded: restart it)\n")
    # a backfill's version is numbered last, but the alias stays on the later date's
    version, said = registered("2024-03-24")
    assert version == 2 and said.startswith("  alias @current not moved: version 1 has the later run date 2024-03-31")
    assert "WARNING" not in said  # the same models table
    assert int(registry.get_model_version_by_alias(name, "current").version) == 1
    # a rerun of the latest date, and a later date, move it
    assert registered("2024-03-31")[0] == 3 and int(registry.get_model_version_by_alias(name, "current").version) == 3
    # the version of the date it replaced says so, once
    assert registration.mark_replaced(context, name, 3, "2024-03-31", table.path) == [1]
    assert registry.get_model_version(name, "1").tags[registration.REPLACED_BY_TAG] == "3"
    assert registration.mark_replaced(context, name, 3, "2024-03-31", table.path) == []
    other = registration.ModelsTable(str(trained["root"] / "another" / "models"), "delta", table.key_types, 0)
    version, said = registered("2024-04-07", other)
    assert int(registry.get_model_version_by_alias(name, "current").version) == version == 4
    assert f"WARNING: version 3 served another models table ({table.path})" in said
    # a backfill from the first table: the alias stays on the other table's version, said as well (a walk-through
    # of 12-08: said only once a later run moved the alias)
    version, said = registered("2024-03-20")
    assert int(registry.get_model_version_by_alias(name, "current").version) == 4
    assert said.startswith("  alias @current not moved: version 4 has the later run date 2024-04-07")
    assert f"WARNING: version 4, which the alias stays on, serves another models table ({other.path})" in said
    # what it serves is the version's own run date's
    assert registry.get_model_version_by_alias(name, "current").tags["run_date"] == "2024-04-07"
    # versions from before the alias, the latest date's among them: a backfill sets it there, not on itself
    registry.delete_registered_model_alias(name, "current")
    version, said = registered("2024-03-17")
    assert said.startswith("  alias @current set on version 4: version 4 has the later run date 2024-04-07")
    assert int(registry.get_model_version_by_alias(name, "current").version) == 4
    # the aliased version deleted: the next backfill compares with every version left, not with the alias
    registry.delete_model_version(name, "4")
    version, said = registered("2024-03-10")
    assert int(registry.get_model_version_by_alias(name, "current").version) == 3  # 2024-03-31, the latest left
    # a registry that fails to set it: said, and the version stays registered
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(MlflowClient, "set_registered_model_alias",
                      lambda *args: (_ for _ in ()).throw(MlflowException("HTTP 503")))
        version, said = registered("2024-05-01")
    assert said == f"  alias @current of {name} NOT moved to version {version}: HTTP 503\n"
    assert int(registry.get_model_version_by_alias(name, "current").version) == 3
    # a mistyped year: its version takes no alias, nor keeps the next real run's from it (it stayed for years,
    # every run after it a "backfill")
    version, said = registered("2030-01-01")
    assert said == (f"  alias @current not moved: the run date 2030-01-01 is after tomorrow (UTC): a mistyped date? "
                    f"Serve version {version} by its number, or point the alias at it by hand, if meant\n")
    assert int(registry.get_model_version_by_alias(name, "current").version) == 3
    version, said = registered("2024-05-08")
    assert int(registry.get_model_version_by_alias(name, "current").version) == version


def test_a_registered_model_refuses_a_version_for_series_keyed_otherwise(spark, trained):
    # another data set's config naming the same model: its latest version would know none of the series asked for
    from mlflow import MlflowClient

    name, table = "keyed-forecaster", models_table(spark, trained["summary"])
    context = parent_run.start_parent_run(trained["config"], RUN_DATE, {})
    assert registration.register(context, name, table, RUN_DATE) == 1
    registry = MlflowClient(context.tracking_uri)
    assert registry.get_model_version(name, "1").tags[registration.KEY_COLUMNS_TAG] == '["store"]'
    other = registration.ModelsTable("s3a://KEY:SECRET@bucket/models", "delta", {"region": "string", "store": "string"},
                                     0)
    with pytest.raises(ValueError, match=f"registered model {name} serves series keyed by store .* but this run's "
                                         "are keyed by region, store: give this data set a tracking.registered_model"):
        registration.register(context, name, other, RUN_DATE)
    assert [int(v.version) for v in registry.search_model_versions(f"name = '{name}'")] == [1]
    # another job created the model between this one's lookup and its creating it: checked all the same
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST

    def not_yet(self, model_name):
        raise MlflowException("not there yet", error_code=RESOURCE_DOES_NOT_EXIST)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(MlflowClient, "get_registered_model", not_yet)
        with pytest.raises(ValueError, match="serves series keyed by store"):
            registration.register(context, name, other, RUN_DATE)
    assert registration.register(context, name, table, RUN_DATE) == 2  # the same keys: a new version as ever
    # a version registered before the tag existed: its forecaster's pointer says what it serves
    registry.delete_model_version_tag(name, "2", registration.KEY_COLUMNS_TAG)
    with pytest.raises(ValueError, match=f"registered model {name} serves series keyed by store"):
        registration.register(context, name, other, RUN_DATE)
    # one registered by hand, with no pointer to read, is not compared
    registry.create_model_version(name, str(trained["root"] / "elsewhere"), run_id=context.parent_run_id)
    assert registration.register(context, name, other, RUN_DATE) == 4
    # the same columns in another order ask for the same series
    two = registration.ModelsTable("s3a://KEY:SECRET@bucket/models", "delta", {"region": "string", "store": "string"},
                                   0)
    assert registration.register(context, "two-keys", two, RUN_DATE) == 1
    assert "SECRET" not in registry.get_model_version("two-keys", "1").tags["models_table"]  # a key in the path
    reordered = registration.ModelsTable("/m", "delta", {"store": "string", "region": "string"}, 0)
    assert registration.register(context, "two-keys", reordered, RUN_DATE) == 2


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
        # a fractional horizon is refused, not cut to a whole number on its way in
        fractional = {"dataframe_split": {"columns": ["store", "horizon"], "data": [["s0", 2.5]]}}
        refused = requests.post(f"{url}/invocations", json=fractional, timeout=120)
        assert refused.status_code == 400 and "a positive whole number" in refused.text, refused.text
        for horizon in ("2", None, True, [2]):  # text as before; no horizon, a flag or a list: refused, saying so
            answer = requests.post(f"{url}/invocations", json={
                "dataframe_split": {"columns": ["store", "horizon"], "data": [["s0", horizon]]}}, timeout=120)
            assert answer.status_code == (200 if horizon == "2" else 400), (horizon, answer.text)
        # an as_of given as a number, or before the history's end: refused, where it was answered from that end
        for as_of in (20240331, "2023-06-30"):
            answer = requests.post(f"{url}/invocations", json={"dataframe_split": {
                "columns": ["store", "horizon", "as_of"], "data": [["s0", 2, as_of]]}}, timeout=120)
            assert answer.status_code == 400 and "leave as_of out" in answer.text, (as_of, answer.text)
        # a time with an offset is answered (MLflow's check of a datetime column had refused it); one that is no time
        # is refused, saying so
        for as_of, status, said in (("2024-04-01T00:00:00Z", 200, "predictions"), ("soon", 400, "is not a time")):
            answer = requests.post(f"{url}/invocations", json={"dataframe_split": {
                "columns": ["store", "horizon", "as_of"], "data": [["s0", 2, as_of]]}}, timeout=120)
            assert answer.status_code == status and said in answer.text, (as_of, answer.text)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)
    assert served.groupby("store").size().to_dict() == {"s0": 7, "s1": 3}
    stored = tables.read_table(spark, trained["config"], tables.FORECASTS).where(F.col("source") == "trained").toPandas()
    for store, rows in served.groupby("store"):
        expected = stored[stored["store"] == store].sort_values("ds").head(len(rows))
        assert list(pd.to_datetime(rows["ds"])) == list(expected["ds"])
        for column in ("yhat", "yhat_lower", "yhat_upper"):  # the interval too: the same seed per series
            assert rows[column].tolist() == pytest.approx(expected[column].tolist(), rel=1e-9), column
        assert set(rows["model"]) == set(expected["model"])
        # what answered, to explain a stored answer later: the training's date and the series' child run
        assert set(rows["model_run_date"]) == {RUN_DATE}
        assert set(rows["child_run_id"]) == set(expected["child_run_id"]) and None not in set(rows["child_run_id"])


def test_a_served_version_whose_files_vacuum_removed_says_so(tmp_path):
    from deltalake import DeltaTable, write_deltalake

    path = str(tmp_path / "models")
    rows = pd.DataFrame({"store": ["s0"], "model": ["naive"], "model_json": ["{}"], "run_date": ["2024-01-31"]})
    write_deltalake(path, rows, partition_by=["run_date"])  # version 0, which a registered version points at
    write_deltalake(path, rows.assign(model="drift"), partition_by=["run_date"], mode="overwrite")  # a rerun
    DeltaTable(path).vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    pointer = {"models_table": path, "version": 0, "run_date": "2024-01-31", "format": "delta"}
    with pytest.raises(RuntimeError, match="(?s)cannot read version 0 of the models table .*VACUUM removed the files"):
        serving.read_models(pointer, ["store", "model"])
    assert serving.read_models({**pointer, "version": 1}, ["store", "model"])["model"].tolist() == ["drift"]


COLUMNS = ["ds", "yhat", "yhat_lower", "yhat_upper"]


def forecaster_of(stored: dict, key_columns: list[str], horizon: int = 3) -> serving.ManyModelForecaster:
    """A loaded forecaster holding one series' row of the models table."""
    forecaster = serving.ManyModelForecaster()
    forecaster.key_columns, forecaster.horizon = key_columns, horizon
    forecaster.models = {serving.series_key(stored, key_columns): stored}
    return forecaster


def naive_forecaster(history: pd.DataFrame) -> serving.ManyModelForecaster:
    return forecaster_of({"store": "s0", "model": "naive", "model_json": model_store.dump("naive", history),
                          "frequency": "D", "interval_width": 0.8}, ["store"])


def test_a_horizon_of_zero_is_refused_and_the_largest_allowed_is_answered():
    forecaster = naive_forecaster(daily_series(30))
    for horizon in (0, serving.MAX_HORIZON + 1):
        with pytest.raises(MlflowException, match=f"up to {serving.MAX_HORIZON}, got {horizon} for series s0"):
            forecaster.predict(None, pd.DataFrame({"store": ["s0"], "horizon": [horizon]}))
    answer = forecaster.predict(None, pd.DataFrame({"store": ["s0"], "horizon": [serving.MAX_HORIZON]}))
    assert len(answer) == serving.MAX_HORIZON


def test_an_empty_request_is_answered_with_no_rows():
    answer = naive_forecaster(daily_series(30)).predict(
        None, pd.DataFrame({"store": pd.Series(dtype=str), "horizon": pd.Series(dtype="int64")}))
    assert answer.empty and list(answer.columns) == ["store", *COLUMNS, "model", "model_run_date", "child_run_id"]


def test_the_interval_is_seeded_by_the_key_as_stored_not_as_the_request_gives_it(fast_config):
    fitted = model.fit(daily_series(40, seed=3), fast_config(), {}, uncertainty_samples=50)
    stored = {"cohort": dt.date(2024, 1, 1), "model": "prophet", "model_json": model_store.dump("prophet", fitted),
              "frequency": "D", "interval_width": 0.8}  # a date key, as deltalake reads it
    answer = forecaster_of(stored, ["cohort"]).predict(
        None, pd.DataFrame({"cohort": [pd.Timestamp("2024-01-01")], "horizon": [3]}))  # a timestamp, as requested
    as_trained, as_requested = (
        model_store.forecast("prophet", stored["model_json"], None, 3, "D", 0.8,
                             model.series_seed(series_identity.series_id({"cohort": key})))
        for key in (dt.date(2024, 1, 1), pd.Timestamp("2024-01-01")))
    assert not np.allclose(as_trained["yhat_lower"], as_requested["yhat_lower"])  # the seed shows in the interval
    pd.testing.assert_frame_equal(answer[COLUMNS], as_trained)


@pytest.mark.parametrize("kind", ["IntegerType", "LongType", "ShortType"])
def test_a_whole_number_key_column_is_declared_so_that_integer_requests_pass_the_servers_check(kind):
    from mlflow.models.utils import _enforce_schema  # what pyfunc's predict checks a request with
    from pyspark.sql import types as T

    inputs = registration.signature({"store": registration._spark_column_type(getattr(T, kind)())}).inputs
    # JSON numbers arrive as int64: an int key column declared "integer" refused them
    checked = _enforce_schema(pd.DataFrame({"store": [7, 2**40], "horizon": [3, 3]}), inputs)
    assert checked["store"].tolist() == [7, 2**40]


def test_an_as_of_before_the_last_period_the_model_saw_is_refused_not_answered_from_the_history_end():
    forecaster = naive_forecaster(daily_series(30))  # 1 to 30 January 2024
    for as_of in ("2024-01-30 18:00", "2024-02-02"):  # in the last period, or after it: from the first day not over
        answer = forecaster.predict(None, pd.DataFrame({"store": ["s0"], "horizon": [2], "as_of": [pd.Timestamp(as_of)]}))
        assert answer["ds"].iloc[0] == pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    with pytest.raises(MlflowException, match=r"as_of 2024-01-29 23:00:00 falls before the last period of series "
                                              r"s0's history, 2024-01-30 00:00:00: its model forecasts only after "
                                              r"that; leave as_of out") as early:
        forecaster.predict(None, pd.DataFrame({"store": ["s0"], "horizon": [2], "as_of": [pd.Timestamp("2024-01-29 23:00")]}))
    assert early.value.get_http_status_code() == 400 and "1970" not in str(early.value)
    with pytest.raises(MlflowException, match="a number is read as nanoseconds since 1970: give a date as text"):
        forecaster.predict(None, pd.DataFrame({"store": ["s0"], "horizon": [2], "as_of": [pd.Timestamp(20240131)]}))


def test_a_request_with_a_null_country_finds_the_series_stored_with_a_blank_one():
    stored = {"store": "s0", "country": "", "model": "naive", "model_json": model_store.dump("naive", daily_series(30)),
              "frequency": "D", "interval_width": 0.8}  # the job stores a null country as blank text
    forecaster = forecaster_of(stored, ["store", "country"])
    for country in (None, ""):
        answer = forecaster.predict(None, pd.DataFrame({"store": ["s0"], "country": [country], "horizon": [2]}))
        assert answer["ds"].tolist() == [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-01")]
        assert answer["country"].tolist() == ["", ""]  # as the tables hold it: a stored answer joins them by keys


def test_a_series_keyed_by_the_text_null_and_one_by_blank_text_are_each_answered_with_their_own_model(
        tmp_path, monkeypatch):
    # both were loaded under one key, the later row answering for both with its forecast and child run
    rows = pd.DataFrame([{"region": region, "item": 3, "model": "naive", "frequency": "D", "interval_width": 0.8,
                          "model_json": model_store.dump("naive", daily_series(30).assign(y=level)),
                          "child_run_id": run} for region, level, run in (("", 10.0, "r1"), ("<null>", 20.0, "r2"))])
    monkeypatch.setattr(serving, "read_models", lambda pointer, columns: rows[columns])
    (tmp_path / "pointer.json").write_text(json.dumps({"key_columns": ["region", "item"], "horizon": 3}))
    forecaster = serving.ManyModelForecaster()
    forecaster.load_context(types.SimpleNamespace(artifacts={"pointer": str(tmp_path / "pointer.json")}))
    answer = forecaster.predict(None, pd.DataFrame({"region": ["", "<null>"], "item": [3, 3], "horizon": [1, 1]}))
    assert answer[["region", "yhat", "child_run_id"]].values.tolist() == [["", 10.0, "r1"], ["<null>", 20.0, "r2"]]


def test_an_as_of_with_an_offset_is_read_in_utc_and_one_that_is_no_time_is_refused_saying_so():
    forecaster = naive_forecaster(daily_series(30))  # 1 to 30 January 2024

    def first(as_of) -> pd.Timestamp:
        return forecaster.predict(None, pd.DataFrame({"store": ["s0"], "horizon": [1], "as_of": [as_of]}))["ds"].iloc[0]

    # 23:30 UTC on the 1st, as the job reads an input time with an offset: the 1st is not over
    assert first("2024-02-02T00:30:00+01:00") == pd.Timestamp("2024-02-01")
    # a moment, even at midnight UTC: the 2nd has begun, not ended (as "2024-02-02", a date, would have)
    assert first("2024-02-02T00:00:00Z") == first("2024-02-02T01:00:00+01:00") == pd.Timestamp("2024-02-02")
    assert first("2024-02-02") == pd.Timestamp("2024-02-03")
    # a time of day spelt out is a moment without an offset too: midnight's day has begun, as at 00:30
    assert first("2024-02-02T00:00") == first("2024-02-02 00:00:00") == first("2024-02-02T00:30") \
        == pd.Timestamp("2024-02-02")
    assert first("") == first(None) == pd.Timestamp("2024-01-31")  # not given: after the history
    # ISO 8601 from a whole date on: not the server's clock, nor text a looser parser reads otherwise than meant
    # (JavaScript's Date as text "GMT+0100" an hour behind UTC, 07/12/2026 as July, 2027 as its 1 January)
    for given in ("soon", "now", "today", "Fri Feb 02 2024 00:00:00 GMT+0100", "02/01/2024", "2024", "20240202"):
        with pytest.raises(MlflowException, match=rf"as_of '{re.escape(given)}' of series s0 is not a time: give a date "
                                                  r"or a time as ISO 8601 text, e.g. 2024-03-31") as refused:
            first(given)
        assert refused.value.get_http_status_code() == 400
    with pytest.raises(MlflowException, match=r"as_of '1600-01-01' of series s0 is outside the times pandas can hold"):
        first("1600-01-01")


def test_as_of_is_read_as_a_run_date_the_periods_not_over_by_then_forecast(fast_config):
    def first_forecast(frequency: str, history: pd.DataFrame, as_of: str) -> pd.Timestamp:
        stored = {"store": "s0", "model": "naive", "model_json": model_store.dump("naive", history),
                  "frequency": frequency, "interval_width": 0.8}
        request = pd.DataFrame({"store": ["s0"], "horizon": [1], "as_of": [pd.Timestamp(as_of)]})
        return forecaster_of(stored, ["store"]).predict(None, request)["ds"].iloc[0]

    def series_of(frequency: str, start: str, periods: int) -> pd.DataFrame:
        return pd.DataFrame({"ds": pd.date_range(start, periods=periods, freq=frequency), "y": np.arange(periods, dtype=float)})

    weeks = series_of("W-SUN", "2026-06-07", 20)  # weeks ending on Sunday, to 2026-10-18
    assert first_forecast("W-SUN", weeks, "2026-12-07") == pd.Timestamp("2026-12-13")  # a Monday: its week is open
    assert first_forecast("W-SUN", weeks, "2026-12-13") == pd.Timestamp("2026-12-20")  # a Sunday: its week is over
    months = series_of("MS", "2025-01-01", 20)
    assert first_forecast("MS", months, "2026-12-15") == pd.Timestamp("2026-12-01")
    assert first_forecast("ME", series_of("ME", "2025-01-31", 20), "2026-12-31") == pd.Timestamp("2027-01-31")
    hours = series_of("h", "2026-12-01", 48)
    assert first_forecast("h", hours, "2026-12-05 18:30") == pd.Timestamp("2026-12-05 18:00")  # the hour still open
    assert first_forecast("h", hours, "2026-12-05") == pd.Timestamp("2026-12-06")  # a date: known to its end
    assert first_forecast("7D", series_of("7D", "2026-01-01", 30), "2026-12-05") == pd.Timestamp("2026-12-03")
    # a date on the history's last day, at hours: known to its end, so after the history, not before it
    assert first_forecast("h", hours, "2026-12-02") == pd.Timestamp("2026-12-03")


def test_a_version_registered_without_a_run_date_tag_is_dated_by_its_training_run(spark, trained):
    # an upgrade's walk-through (12-07): versions of 11-30's code had no run_date tag, read as the earliest date, so
    # the upgraded job's backfill of an earlier date took the served alias from the later date's version
    from mlflow import MlflowClient

    registry, name = MlflowClient(trained["summary"].tracking_uri), "untagged-forecaster"
    context = parent_run.start_parent_run(trained["config"], "2024-04-14", {})
    table = models_table(spark, trained["summary"])
    later = registration.register(context, name, table, "2024-04-14")
    registration.point_alias(context, name, later, "2024-04-14", table.path)
    registry.delete_model_version_tag(name, str(later), "run_date")  # as the older code registered it
    backfill = registration.register(context, name, table, "2024-04-07")
    said = registration.point_alias(context, name, backfill, "2024-04-07", table.path)
    assert said.startswith(f"  alias @current not moved: version {later} has the later run date 2024-04-14")
    assert int(registry.get_model_version_by_alias(name, "current").version) == later


def test_a_failure_to_tag_the_replaced_versions_leaves_the_registration_and_the_alias(spark, trained, monkeypatch):
    from forecasting import pipeline

    monkeypatch.setattr(registration, "models_table", lambda *args: registration.ModelsTable("/m", "delta", {}, 0))
    monkeypatch.setattr(registration, "register", lambda *args: 6)
    monkeypatch.setattr(registration, "mark_replaced", lambda *args: (_ for _ in ()).throw(
        RuntimeError("PERMISSION_DENIED: cannot set tag on version 4")))
    aliased = []
    monkeypatch.setattr(registration, "point_alias", lambda *args: aliased.append(args[2]) or "  alias moved\n")
    context = parent_run.start_parent_run(trained["config"], RUN_DATE, {})
    said = pipeline.register_model(spark, trained["config"], context, "/m", RUN_DATE)
    assert aliased == [6] and said == (
        f"  registered model {NAME} version 6\n  could not tag the earlier versions of this date replaced_by_version: "
        "PERMISSION_DENIED: cannot set tag on version 4\n  alias moved\n")


def test_an_as_of_further_after_the_history_than_the_interval_can_be_sampled_over_is_refused(fast_config, monkeypatch):
    fitted = model.fit(daily_series(40, seed=3), fast_config(), {}, uncertainty_samples=50)
    stored = {"store": "s0", "model": "prophet", "model_json": model_store.dump("prophet", fitted), "frequency": "D",
              "interval_width": 0.8}
    forecaster = forecaster_of(stored, ["store"])
    end = fitted.history["ds"].max()
    asked = pd.DataFrame({"store": ["s0"], "horizon": [2], "as_of": [(end + pd.Timedelta(days=30)).date().isoformat()]})
    assert len(forecaster.predict(None, asked)) == 2
    monkeypatch.setattr(model, "MAX_LEAD_PERIODS", 29)
    with pytest.raises(MlflowException, match=f"of series s0 is 30 periods of 'D' after the model's history end {end}, "
                                              "more than 29 .*: ask with an earlier as_of, or serve a version trained "
                                              "on newer data") as refused:
        forecaster.predict(None, asked)
    assert refused.value.get_http_status_code() == 400
