"""The Spark stage and MLflow tracking, run for real on a small inline input;
``python -m forecasting`` answering questions about that run."""
import datetime as dt
import io
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import mlflow
import mlflow.prophet
import numpy as np
import pandas as pd
import pyspark
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from conftest import daily_series, job_settings
from forecasting import (explore, job_summary, lookup, lookup_text, pipeline, python_worker, run_overview, run_report,
                         series_identity, spark_training, staged_counts, tables, tracking)
from forecasting.__main__ import main as forecasting_main
from forecasting.cleaning import clean_history
from forecasting.config import load_config
from forecasting.config_schema import RESERVED_KEY_NAMES
from forecasting.io import InputError

RUN_DATE, OTHER_DATE = "2024-03-31", "2024-04-07"


# With forecast.min_history lowered to what one fold needs (7 + 2), a 2-row series is
# skipped as too short, and a 10-row one is modelled, but reliability.fail_series makes
# its training raise: a per-series failure (the fallback: naive, under two weeks).
MIN_HISTORY = 9
FAILING = "east/tea"
SVG = "{http://www.w3.org/2000/svg}"


def mixed_input() -> pd.DataFrame:
    """Two good series, one too short to model, one that fails in tuning."""
    parts = {
        ("north", "tea"): daily_series(60, level=100, seed=1),
        ("south", "tea"): daily_series(60, level=40, seed=2),
        ("south", "cake"): daily_series(2, level=10, seed=3),
        ("east", "tea"): daily_series(10, seed=4),
    }
    frames = [s.assign(region=r, product=p) for (r, p), s in parts.items()]
    return pd.concat(frames).rename(columns={"ds": "day", "y": "units"})[["region", "product", "day", "units"]]


@pytest.fixture(scope="module")
def job(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("job")
    source = mixed_input()
    source.to_csv(root / "input.csv", index=False, date_format="%Y-%m-%d")
    settings = job_settings(
        root / "input.csv", root, ["region", "product"], "day", "units",
        "tracking.experiment=pipeline-test", f"forecast.min_history={MIN_HISTORY}",
        f"reliability.fail_series={FAILING}",
    )
    config = load_config(None, settings)
    progress, progress_logger = ProgressLines(), logging.getLogger("forecasting.progress")
    level = progress_logger.level
    progress_logger.addHandler(progress)
    progress_logger.setLevel(logging.INFO)
    try:
        first = pipeline.run_job(spark, config, RUN_DATE)
    finally:
        progress_logger.removeHandler(progress)
        progress_logger.setLevel(level)
    mlflow.set_tracking_uri(first.tracking_uri)
    return {"config": config, "source": source, "summary": first, "root": root, "settings": settings,
            "progress": progress.lines}


class ProgressLines(logging.Handler):
    """What the driver logs about the training stage's progress."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def read(spark, job, table):
    return tables.read_table(spark, job["config"], table)


def of_the_job(job) -> str:
    """A run search's filter for the child runs of the fixture's job run."""
    return f"tags.mlflow.parentRunId = '{job['summary'].job_run_id}'"


def test_every_series_gets_one_result_row_with_its_status(spark, job):
    source = job["source"]
    lengths = source.groupby(["region", "product"]).size().rename("history_length").reset_index()
    ids = lengths["region"] + "/" + lengths["product"]
    lengths["status"] = np.select([lengths["history_length"] < MIN_HISTORY, ids == FAILING], ["skipped", "failed"], "ok")
    expected = spark.createDataFrame(lengths[["region", "product", "status", "history_length"]]).withColumn(
        "history_length", F.col("history_length").cast("int")
    )
    actual = read(spark, job, "series_results").select("region", "product", "status", "history_length")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    assert job["summary"].counts == {"ok": 2, "skipped": 1, "failed": 1}


def test_progress_counts_the_failed_series_apart_from_failed_task_attempts(job):
    # the accumulators' totals reach the driver; the one failed series is no failed task
    [last] = [line for line in job["progress"] if " rows) in " in line]
    # every input row reached the counters: the estimate of the time left is made from their share
    assert re.fullmatch(rf"train and forecast every series: 4/4 series done \({len(job['source']):,} rows\) in "
                        r"[0-9.]+s, 1 failed", last)


def test_failed_and_skipped_rows_say_why(spark, job):
    rows = {r["status"]: r for r in read(spark, job, "series_results").where("status != 'ok'").collect()}
    assert "    skipped: too little history (1)\n    failed: RuntimeError (1)" in job["summary"].format()
    assert rows["skipped"]["reason"] == ("too little history: 2 periods, needs at least 9 (forecast.min_history); fallback "
                                         "forecast: naive")
    assert rows["failed"]["reason"] == "RuntimeError: fault injection (reliability.fail_series); fallback forecast: naive"
    assert rows["failed"]["child_run_id"]  # failures are tracked too
    assert {rows[s]["model"] for s in rows} == {"naive"}
    # which series failed, named in the summary: the on-call's first question
    assert ("1 series failed, e.g. east/tea: RuntimeError: fault injection (reliability.fail_series); fallback "
            "forecast: naive") in job["summary"].format()
    assert "named no series of the input" not in job["summary"].format()  # the injected failure happened


def test_forecasts_continue_each_good_series_over_the_horizon(spark, job):
    horizon = job["config"].forecast.horizon
    forecasts = read(spark, job, "forecasts")
    last_day = job["source"].groupby(["region", "product"])["day"].max()
    for (region, product), group in forecasts.toPandas().groupby(["region", "product"]):
        start = pd.Timestamp(last_day[(region, product)])
        assert list(group.sort_values("ds")["ds"]) == list(pd.date_range(start, periods=horizon + 1, freq="D")[1:])
        prophet = group["model"] == "prophet"
        assert (group.loc[prophet, "yhat_lower"] <= group.loc[prophet, "yhat_upper"]).all()
        assert group.loc[~prophet, "yhat"].notna().all()
        if (region, product) == ("south", "cake"):  # a naive fallback on two rows: no spread to size an interval
            assert group[["yhat_lower", "yhat_upper"]].isna().all().all()
    assert forecasts.select("region", "product").distinct().count() == 4  # the fallback forecasts too
    models = {r["model"]: r["n"] for r in forecasts.groupBy("model").agg(F.countDistinct("region", "product").alias("n")).collect()}
    assert models == {"prophet": 2, "naive": 2}
    assert forecasts.select("run_date").distinct().first()[0].isoformat() == RUN_DATE
    assert {r[0] for r in forecasts.select("job_run_id").distinct().collect()} == {job["summary"].job_run_id}


def test_child_run_is_found_by_its_key_tags_and_holds_params_metrics_plot_model(spark, job):
    runs = mlflow.search_runs(  # the fixture's job run's: later tests add runs of their own
        experiment_names=["pipeline-test"],
        filter_string=f"tags.region = 'south' and tags.product = 'tea' and {of_the_job(job)}",
    )
    assert len(runs) == 1
    run = runs.iloc[0]
    row = read(spark, job, "series_results").where("region = 'south' and product = 'tea'").first()
    assert run["run_id"] == row["child_run_id"]
    assert run["tags.mlflow.parentRunId"] == job["summary"].job_run_id
    assert run["tags.series_id"] == "south/tea"
    assert run["tags.run_date"] == RUN_DATE and run["tags.status"] == "ok" and run["status"] == "FINISHED"
    assert run["tags.from_job"] == "train_forecast"  # an evaluation's child runs say evaluate_forecast
    best = json.loads(row["best_params"])
    assert {k: run[f"params.{k}"] for k in best} == {k: str(v) for k, v in best.items()}
    assert run["metrics.cv_smape"] == pytest.approx(row["cv_smape"])

    artifacts = mlflow.artifacts.list_artifacts(run_id=run["run_id"], artifact_path="plots")
    assert [a.path for a in artifacts] == ["plots/forecast.svg"]
    model = mlflow.prophet.load_model(f"runs:/{run['run_id']}/model")
    forecast = read(spark, job, "forecasts").where("region = 'south' and product = 'tea'").orderBy("ds").toPandas()
    refit = model.predict(forecast[["ds"]])
    np.testing.assert_allclose(refit["yhat"], forecast["yhat"], rtol=1e-9)


def test_every_column_and_run_tag_the_job_adds_is_a_name_no_key_column_may_take(spark, job):
    keys = set(job["config"].input.key_columns)
    added = set()
    for table in ("forecasts", "series_results", "models"):
        added |= set(read(spark, job, table).columns) - keys
    children = mlflow.search_runs(experiment_names=["pipeline-test"], filter_string=of_the_job(job))
    added |= {c.removeprefix("tags.") for c in children.columns if c.startswith("tags.") and "mlflow." not in c} - keys
    assert {"yhat", "status", "series_hash", "reason"} <= added  # columns and tags were read
    assert added <= RESERVED_KEY_NAMES, sorted(added - RESERVED_KEY_NAMES)


def test_failed_series_run_ends_failed_with_its_reason(job):
    runs = mlflow.search_runs(
        experiment_names=["pipeline-test"], filter_string=f"tags.region = 'east' and {of_the_job(job)}"
    )
    assert len(runs) == 1 and runs.iloc[0]["status"] == "FAILED" and runs.iloc[0]["tags.status"] == "failed"
    assert runs.iloc[0]["tags.reason"].startswith("RuntimeError: fault injection (reliability.fail_series)")


def test_parent_run_records_counts_config_and_lineage(spark, job):
    parent = mlflow.get_run(job["summary"].job_run_id)
    metrics = parent.data.metrics
    assert (metrics["series_ok"], metrics["series_skipped"], metrics["series_failed"], metrics["series_total"]) == (2, 1, 1, 4)
    assert metrics["untracked_series"] == 0  # every series' child run was logged
    # the run's accuracy in one number: the median of its modelled series' CV MASE
    modelled = read(spark, job, "series_results").where("status = 'ok'").toPandas()
    assert len(modelled) == 2 and metrics["median_cv_mase"] == pytest.approx(modelled["cv_mase"].median(), rel=1e-12)
    assert parent.data.tags["run_date"] == RUN_DATE
    assert parent.data.params["input.key_columns"] == '["region", "product"]'
    resolved = mlflow.artifacts.load_text(f"runs:/{parent.info.run_id}/config/resolved.yaml")
    assert "target_column: units" in resolved
    # the cross-validation the run did, where the config left it null (min_history is set here)
    horizon = job["config"].forecast.horizon
    assert f"#   cross_validation.horizon: {horizon}  (forecast.horizon)\n" in resolved
    assert "forecast.min_history:" not in resolved.split("# worked out")[1]
    (job["root"] / "resolved.yaml").write_text(resolved)  # as docs/results.md trains a past run again from it
    assert load_config(job["root"] / "resolved.yaml") == job["config"]
    lineage = json.loads(mlflow.artifacts.load_text(f"runs:/{parent.info.run_id}/lineage/data_version.json"))
    input_file = job["root"] / "input.csv"
    assert [f["bytes"] for f in lineage["files"]] == [input_file.stat().st_size]
    assert parent.data.tags["data_version"] == lineage["content_sha256"]
    known = pd.to_datetime(job["source"]["day"])
    known = known[known < pd.Timestamp(RUN_DATE) + pd.Timedelta(days=1)]
    assert parent.data.tags["input_end"] == known.max().isoformat()  # how far the data reach on the run date
    assert parent.data.tags["working_folder"] == os.getcwd()  # what a relative input path is relative to
    children = mlflow.search_runs(
        experiment_names=["pipeline-test"], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert len(children) == 4  # a skipped series was never modelled, but its run says why


def test_parent_run_shows_the_runs_overview_with_its_modelled_series(job, spark):
    overview = ElementTree.fromstring(mlflow.artifacts.load_text(f"runs:/{job['summary'].job_run_id}/overview.svg"))
    said = {element.get("class"): [] for element in overview.iter()}
    for element in overview.iter():  # a bar's tooltip says what it counts; a worst series' text names it
        said[element.get("class")].append(element.findtext(f"{SVG}title") or element.text)
    results = read(spark, job, "series_results").toPandas()
    modelled = results[results["status"] == "ok"]
    # each modelled series in one bar of the histogram, by its CV MASE
    assert sum(int(title.split(": ")[1].split()[0]) for title in said["bin"]) == len(modelled) == 2
    won = [f"{model}: {count} series" for model, count in modelled["model"].value_counts().items()]
    assert said["outcome"] == [*won, "skipped: 1 series", "failed: 1 series"]
    worst = modelled.sort_values("cv_mase", ascending=False)
    assert said["worst"] == [f"{row.region}/{row.product}" for row in worst.itertuples()]


# python -m forecasting on the job's output, before the rerun below adds runs to it


def settings_args(job) -> list[str]:
    """The job's configuration as ``--set`` arguments, as the jobs take it."""
    return [arg for setting in job["settings"] for arg in ("--set", setting)]


def test_python_m_forecasting_shows_one_series_status_forecast_and_child_run(spark, job):
    done = subprocess.run(
        [sys.executable, "-m", "forecasting", "series", *settings_args(job), "region=south", "product=tea"],
        cwd=job["root"], capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    row = read(spark, job, "series_results").where("region = 'south' and product = 'tea'").first()
    forecast = read(spark, job, "forecasts").where("region = 'south' and product = 'tea'").orderBy("ds").toPandas()
    lines = done.stdout.splitlines()
    assert lines[0] == "series region=south product=tea"
    assert "  status      ok" in lines and f"  run date    {RUN_DATE}" in lines
    assert f"  child run   {row['child_run_id']} (FINISHED)" in lines
    assert f"  job run     {job['summary'].job_run_id}" in lines
    [folder] = [line.split(maxsplit=1)[1] for line in lines if line.startswith("  open")]
    assert Path(folder).is_dir() and Path(folder).name == row["child_run_id"]  # the run's folder in mlruns
    assert f"latest forecast: run date {RUN_DATE} (trained), 7 steps" in lines
    made_by = lines.index(f"latest forecast: run date {RUN_DATE} (trained), 7 steps") + 1
    assert lines[made_by] == (f"  made by job run {job['summary'].job_run_id}, from the model of child run "
                              f"{row['child_run_id']}")
    first_step = lines[made_by + 2].split()
    expected = [f"{forecast[column][0]:.3f}" for column in ("yhat", "yhat_lower", "yhat_upper")]
    assert first_step == [forecast["ds"][0].strftime("%Y-%m-%d"), *expected]


def test_python_m_forecasting_says_why_a_series_failed_or_was_skipped(job, capsys):
    assert forecasting_main(["series", *settings_args(job), "region=east", "product=tea"]) == 0
    failed = capsys.readouterr().out
    assert "  status      failed" in failed and "  reason      RuntimeError: fault injection" in failed
    assert "  model       naive" in failed and "(FAILED)" in failed  # the fallback's forecast, the run ended FAILED
    assert "(trained), 7 steps" in failed
    assert forecasting_main(["series", *settings_args(job), "product=cake", "region=south"]) == 0
    skipped = capsys.readouterr().out
    assert skipped.startswith("series region=south product=cake") and "  status      skipped" in skipped
    assert "  reason      too little history: 2 periods, needs at least 9" in skipped


def test_python_m_forecasting_shows_a_series_without_creating_a_missing_store(job, tmp_path, capsys):
    nowhere = tmp_path / "mlruns"  # e.g. the job's relative tracking.uri, resolved in another folder
    assert forecasting_main(["series", *settings_args(job), "--set", f"tracking.uri={nowhere}",
                             "region=south", "product=tea"]) == 0
    assert "(no MLflow store here)" in capsys.readouterr().out and not nowhere.exists()


def test_python_m_forecasting_exit_codes_name_the_problem(job, caplog, tmp_path, monkeypatch):
    assert forecasting_main(["series", *settings_args(job), "region=north", "product=coffee"]) == 1
    assert "no series region=north product=coffee in" in caplog.text
    assert forecasting_main(["series", *settings_args(job), "region=north", "item=tea"]) == 2
    assert "'item' is not a key column; the key columns are region, product" in caplog.text
    assert "embedded defaults" not in caplog.text  # the job's settings were given
    monkeypatch.chdir(tmp_path)  # without them: the defaults' key columns, which the job did not have
    assert forecasting_main(["series", "region=north", "product=tea"]) == 2
    assert ("'region' is not a key column; the key columns are store, item (read with the embedded defaults "
            "only: give the job's --config") in caplog.text
    # some key columns named: the one series that agrees is shown; where several do, they are named
    assert forecasting_main(["series", *settings_args(job), "region=south"]) == 2
    assert "name every key column: product=... missing: 2 series agree, south/cake, south/tea" in caplog.text
    assert forecasting_main(["series", *settings_args(job), "region=nowhere"]) == 2
    assert "name every key column: product=... missing: no series has region=nowhere\n" in caplog.text + "\n"
    # a value mistyped: the values it most likely meant (ticker=0700 for ticker=700, the walk-through of 12-06)
    assert forecasting_main(["series", *settings_args(job), "region=west"]) == 2
    assert "no series has region=west (did you mean region=east?)" in caplog.text
    assert forecasting_main(["series", *settings_args(job), "product=Tea"]) == 2
    assert "region=... missing: no series has product=Tea (did you mean product=tea?)" in caplog.text


def test_python_m_forecasting_shows_the_one_series_that_agrees_with_the_keys_named(job, capsys):
    assert forecasting_main(["series", *settings_args(job), "region=north"]) == 0  # the country of a store, say
    said = capsys.readouterr().out
    assert said.startswith("series region=north product=tea")
    # why its forecast looks as it does: the candidates' scores and the tuned parameters (the walk-through of 12-06)
    lines = {line[2:13].strip(): line[14:] for line in said.splitlines() if line.startswith("  ")}
    assert re.fullmatch(r"cv sMAPE prophet \d+\.\d{3} \(chosen\)", lines["candidates"])  # what the job chose by
    assert re.fullmatch(r"changepoint_prior_scale=\S+, seasonality_mode=\w+, seasonality_prior_scale=\S+",
                        lines["parameters"])


def test_python_m_forecasting_lists_the_job_runs(job, capsys):
    assert forecasting_main(["runs", *settings_args(job)]) == 0
    header, *runs = capsys.readouterr().out.splitlines()
    assert header.split() == ["run_date", "job", "status", "started_utc", "series", "by_status", "median_cv_mase",
                              "parent_run_id"]
    [run] = runs
    assert run.split()[:3] == [RUN_DATE, "train_forecast", "FINISHED"]
    assert "  4  " in run and "ok 2, skipped 1, failed 1" in run and run.endswith(job["summary"].job_run_id)
    median = mlflow.get_run(job["summary"].job_run_id).data.metrics["median_cv_mase"]
    assert f"  {median:.3f}  " in run


def test_rerunning_a_run_date_replaces_its_rows_and_keeps_other_dates(spark, job, tmp_path):
    # on a copy of the fixture's tables, which the other tests read as one run left them
    shutil.copytree(Path(job["config"].output.path), tmp_path / "out")
    config = load_config(None, [*job["settings"], f"output.path={tmp_path / 'out'}", "tracking.experiment=pipeline-rerun"])
    before = tables.read_table(spark, config, "forecasts")
    rows = before.count()
    assert rows == read(spark, job, "forecasts").count() > 0
    first_run = {r[0] for r in before.select("job_run_id").distinct().collect()}
    # a scoring run that forecast from this date's models, which the rerun replaces
    tracker = tracking.client(tracking.resolve_uri(config.tracking.uri))
    scoring_run = tracker.create_run(tracker.create_experiment("pipeline-rerun"), tags={
        tracking.JOB_TAG: "score_forecast", tracking.RUN_DATE_TAG: OTHER_DATE, tracking.MODEL_RUN_DATE_TAG: RUN_DATE,
        tracking.OUTPUT_PATH_TAG: tables.output_root(config)}).info.run_id
    tracker.set_terminated(scoring_run)
    again = pipeline.run_job(spark, config, RUN_DATE)
    forecasts = tables.read_table(spark, config, "forecasts")
    assert forecasts.count() == rows
    assert {r[0] for r in forecasts.select("job_run_id").distinct().collect()} == {again.job_run_id} != first_run
    assert tracker.get_run(scoring_run).data.tags[tracking.MODELS_REPLACED_TAG] == again.job_run_id
    assert (f"the scored forecasts of {OTHER_DATE} came from models of this date that this run or an earlier rerun "
            "replaced: score those dates again") in again.format()
    # what the first run sent out, as the series lookup shows it with --job-run: its rows, from the version it wrote
    [replaced] = first_run
    keys = {"region": "south", "product": "tea"}
    assert lookup.series_report(config, keys).forecast_runs[0] == again.job_run_id
    # as a rerun in its own experiment tags it (taken off below: the fixture's run, which later tests read)
    tracker.set_tag(replaced, tracking.SUPERSEDED_TAG, again.job_run_id)
    shown = lookup.series_report(config, keys, job_run=replaced)
    assert shown.result["job_run_id"] == shown.forecast_runs[0] == replaced and len(shown.forecast) > 0
    assert (f"the later run {again.job_run_id} of run date {RUN_DATE} replaced these rows of job run {replaced}: "
            "shown as it wrote them") in lookup_text.format_series(shown)
    here = [*settings_args(job), "--set", f"output.path={tmp_path / 'out'}", "region=south", "product=tea"]
    assert forecasting_main(["series", *here, "--job-run", replaced]) == 0
    assert forecasting_main(["series", *here, "--job-run", "no-such-run"]) == 1
    with pytest.raises(SystemExit):  # one or the other
        forecasting_main(["series", *here, "--job-run", replaced, "--run-date", RUN_DATE])
    with pytest.raises(lookup.NotFound, match="no run no-such-run in the MLflow store"):
        lookup.series_report(config, keys, job_run="no-such-run")
    with pytest.raises(lookup.NotFound, match="is no training job run"):
        lookup.series_report(config, keys, job_run=scoring_run)
    tracker.delete_tag(replaced, tracking.SUPERSEDED_TAG)
    # the next date with a setting changed: said, and kept on its run, as what may have moved its forecasts
    changed = load_config(None, [*job["settings"], f"output.path={tmp_path / 'out'}",
                                 "tracking.experiment=pipeline-rerun", "tuning.max_evals=3"])
    following = pipeline.run_job(spark, changed, OTHER_DATE)
    assert f"its config differed from run date {RUN_DATE}'s run: tuning.max_evals 2 -> 3" in following.format()
    assert tracker.get_run(following.job_run_id).data.tags[tracking.SETTINGS_SINCE_TAG] == "tuning.max_evals 2 -> 3"
    results = tables.read_table(spark, config, "series_results")
    per_date = {r[0].isoformat(): r[1] for r in results.groupBy("run_date").count().collect()}
    assert per_date == {RUN_DATE: 4, OTHER_DATE: 4}
    # docs/results.md's removal of a (mistyped) run date: the one before it is the latest again
    for table in ("forecasts", "series_results", "models"):
        spark.sql(f"DELETE FROM delta.`{tables.table_paths(config)[table]}` WHERE run_date = '{OTHER_DATE}'")
    for table in ("forecasts", "series_results", "models"):
        dates = tables.read_table(spark, config, table).select("run_date").distinct().collect()
        assert [row[0].isoformat() for row in dates] == [RUN_DATE]
    # and its runs in MLflow, which the notebook and the runs listing would still take for the latest
    uri = tracking.resolve_uri(config.tracking.uri)
    assert explore.latest_job_run(uri, "pipeline-rerun").data.tags[tracking.RUN_DATE_TAG] == OTHER_DATE
    experiment = tracker.get_experiment_by_name("pipeline-rerun").experiment_id
    for tag in ("job", "from_job"):  # as docs/results.md does it
        found = f"tags.run_date = '{OTHER_DATE}' and tags.{tag} = 'train_forecast'"
        while runs := tracker.search_runs([experiment], found, max_results=3):  # pages of 3: 4 series
            for run in runs:
                tracker.delete_run(run.info.run_id)
    assert explore.latest_job_run(uri, "pipeline-rerun").info.run_id == again.job_run_id
    left = tracker.search_runs([experiment], f"tags.run_date = '{OTHER_DATE}'")
    assert [run.data.tags[tracking.JOB_TAG] for run in left] == ["score_forecast"]  # the training's alone
    assert len(tracker.search_runs([experiment], f"tags.run_date = '{RUN_DATE}'")) == 1 + 4  # the rerun's kept


def test_series_behind_on_business_days_are_told_that_an_exchanges_holidays_count_as_periods(spark):
    # London's closes on a Monday run date after Good Friday and Easter Monday: two periods behind, and current
    rows = spark.createDataFrame([("LSE", "AZN", "last observation 2026-04-02, 2 periods before the run date 2026-04-06"),
                                  ("LSE", "BP", "last observation 2026-03-27, 6 periods before the run date 2026-04-06")],
                                 "exchange string, ticker string, reason string")

    def said(frequency: str) -> str:
        summary = job_summary.JobSummary("2026-04-06", "r", "e", "file:///m", {})
        run_report.say_stale(rows, ["exchange", "ticker"], summary, 2, "forecast", frequency)
        return summary.note

    assert ("held, a unit closed; business days count an exchange's holidays as periods (Good Friday and Easter "
            "Monday: 2), so a series a holiday or two behind may be up to date, and cleaning.stale_after needs room "
            "for them), e.g. LSE/BP: last observation 2026-03-27, 6 periods") in said("B")
    assert "an exchange's holidays" not in said("D") and "an exchange's holidays" in said("C") + said("b")


def test_a_run_date_after_tomorrow_is_warned_of_since_readers_take_it_as_the_latest():
    today = dt.date(2026, 12, 4)
    assert run_report.future_run_date_warning("2026-12-05", today) is None  # a zone ahead of UTC is on it
    assert run_report.future_run_date_warning("2026-11-01", today) is None
    said = run_report.future_run_date_warning("2027-06-01", today)
    assert said.startswith("the run date 2027-06-01 is 179 days after today (2026-12-04 UTC): from now on")
    assert "docs/results.md, Removing a run date" in said


def test_a_job_puts_the_sessions_query_settings_back_as_they_were(spark, job, tmp_path, monkeypatch, caplog):
    from forecasting import balancing

    monkeypatch.setattr(balancing, "MAX_BALANCED_SERIES", 1)  # the training then sets the shuffle's own settings
    config = load_config(None, [*job["settings"], f"output.path={tmp_path / 'out'}", "tracking.experiment=settings"])
    partitions, coalesce = "spark.sql.shuffle.partitions", "spark.sql.adaptive.coalescePartitions.enabled"
    before = {partitions: spark.conf.get(partitions), coalesce: spark.conf.get(coalesce, None)}
    spark.conf.set(partitions, "7")  # a notebook's own setting
    try:
        with caplog.at_level(logging.INFO, logger="forecasting.spark_training"):
            summary = pipeline.run_job(spark, config, RUN_DATE)
        assert spark.conf.get(partitions) == "7" and spark.conf.get(coalesce, None) == before[coalesce]
    finally:
        spark.conf.set(partitions, before[partitions])
    assert re.search(r"training 4 series in \d+ partitions", caplog.text)  # the settings were set meanwhile
    assert summary.counts == job["summary"].counts


def test_a_failed_table_write_fails_the_job_and_its_run_after_the_other_writes_end(spark, job, tmp_path, monkeypatch):
    config = load_config(
        None, [*job["settings"], f"output.path={tmp_path / 'out'}", "tracking.experiment=pipeline-write-failure"]
    )
    real_write = tables.write_slice

    def write_slice(df, name, *args, **kwargs):
        if name == tables.FORECASTS:  # the first of the three
            raise OSError("no space left on device")
        real_write(df, name, *args, **kwargs)

    monkeypatch.setattr(tables, "write_slice", write_slice)
    with pytest.raises(OSError, match="no space left"):
        pipeline.run_job(spark, config, RUN_DATE)
    for name in (tables.SERIES_RESULTS, tables.MODELS):  # written side by side, not cut short
        assert tables.read_table(spark, config, name).count() > 0
    runs = mlflow.search_runs(experiment_names=["pipeline-write-failure"], filter_string="tags.job = 'train_forecast'")
    assert list(runs["status"]) == ["FAILED"]
    assert list(runs["tags.failed_with"]) == ["OSError: no space left on device"]  # why, for a look later
    # its staged results, of no use to a later run, are gone: _staging stays empty between runs
    assert not list((tmp_path / "out" / "_staging").iterdir())
    # which tables hold its rows, the others an earlier run's (none here)
    written = runs[f"tags.{tracking.FAILED_AFTER_WRITING_TAG}"].iloc[0]
    assert written in ("partly: series_results, models", "partly: models, series_results")


def test_a_tracking_store_lost_by_the_end_of_a_run_is_said_and_the_runs_own_failure_raised(tmp_path, caplog):
    def started(store: Path) -> tuple[tracking.RunContext, job_summary.JobSummary]:
        client = tracking.client(store.as_uri())
        experiment = client.create_experiment("lost")
        run_id = client.create_run(experiment).info.run_id
        context = tracking.RunContext(store.as_uri(), experiment, run_id, RUN_DATE, False, False)
        return context, job_summary.JobSummary(RUN_DATE, run_id, experiment, store.as_uri(), {"forecasts": "out"},
                                            counts={"ok": 1})

    def lose_the_store():
        shutil.rmtree(store)
        store.write_text("")  # a file where the store's folder was: every MLflow call fails

    # a failure after the writes: said first, then that failure raised, not ending the run's
    store = tmp_path / "mlruns"
    context, summary = started(store)
    with pytest.raises(RuntimeError, match="the job's own failure"):
        with job_summary.finishing(context, summary, time.monotonic()):
            summary.wrote = True
            lose_the_store()
            raise RuntimeError("the job's own failure")
    assert "the run failed after writing its tables (forecasts)" in caplog.text
    assert f"could not mark MLflow run {context.parent_run_id} FAILED (" in caplog.text
    # a run that ended well, but not its MLflow run: a tracking error (exit 4), the tables named written
    store = tmp_path / "another-mlruns"
    context, summary = started(store)
    with pytest.raises(tracking.TrackingUnavailable, match=f"the tables are written, but MLflow run "
                                                           f"{context.parent_run_id} could not be ended") as lost:
        with job_summary.finishing(context, summary, time.monotonic()):
            lose_the_store()
    assert lost.value.summary is summary  # for the summary the job prints with its exit 4
    # a tracking call that fails after the writes (the server gone mid-run): exit 4 too, not 1
    from mlflow.exceptions import MlflowException

    store = tmp_path / "third-mlruns"
    context, summary = started(store)
    with pytest.raises(tracking.TrackingUnavailable, match=r"the tables are written, but the tracking server failed "
                                                           r"\(Connection refused\)") as lost:
        with job_summary.finishing(context, summary, time.monotonic()):
            summary.wrote = True
            raise MlflowException("Connection refused")
    assert lost.value.summary is summary and summary.wall_seconds > 0  # its summary says how long it ran
    assert "the run failed after writing its tables (forecasts): their rows of run date" in caplog.text
    with pytest.raises(MlflowException):  # before the writes: the job's failure, exit 1, as ever
        with job_summary.finishing(*started(tmp_path / "fourth-mlruns"), time.monotonic()):
            raise MlflowException("Connection refused")


def two_tickers_read_as_daily() -> list[str]:
    """Cleaning's notes on the closes of one ticker on two exchanges, under one key, read as 'D', split on the last day."""
    days = pd.bdate_range("2024-01-01", "2024-06-28")
    exchanges = [pd.DataFrame({"ds": days, "y": level + np.sin(np.arange(len(days)))}) for level in (50.0, 68.0)]
    exchanges[0].loc[len(days) - 1, "y"] = 25.0  # and a split on the last day
    closes = pd.concat(exchanges)
    return clean_history(closes.sort_values("ds", kind="stable"), "D", load_config(None, []).cleaning,
                         "2024-06-28").notes


def weekly_sales_that_stopped() -> list[str]:
    """Cleaning's notes on weekly sales that stopped in August, zeros filled up to November (cleaning.gaps: zero)."""
    weeks = pd.DataFrame({"ds": pd.date_range("2025-01-05", "2026-08-30", freq="W-SUN"), "y": 9.0})
    return clean_history(weeks, "W-SUN", load_config(None, ["cleaning.gaps=zero"]).cleaning, "2026-11-22",
                         input_end="2026-11-22").notes


def a_day_given_twice() -> pd.DataFrame:
    """A month of daily balances, one day's given again with another value (a correction row)."""
    days = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=30), "y": 100.0 + np.arange(30)})
    return pd.concat([days, pd.DataFrame({"ds": [pd.Timestamp("2024-01-05")], "y": [123.0]})]).sort_values(["ds", "y"])


def weeks_loaded_twice() -> pd.DataFrame:
    """Two years of weekly totals, two weeks' rows loaded twice (the walk-through of 12-07: summed, doubled)."""
    weeks = pd.DataFrame({"ds": pd.date_range("2024-01-07", periods=104, freq="W-SUN"), "y": 100.0 + np.arange(104)})
    return pd.concat([weeks, weeks.iloc[[20, 70]]]).sort_values(["ds", "y"])


def weekly_with_gaps(rows: int) -> pd.DataFrame:
    """``rows`` weekly rows over a span of 50 weeks, the others missing (an ERP's weeks without sales)."""
    weeks = pd.date_range("2024-01-07", periods=50, freq="W-SUN")
    return pd.DataFrame({"ds": weeks[np.r_[0:rows - 1, 49]], "y": 3.0})


def berlin_hours() -> pd.DataFrame:
    """A week of hourly rows timed by Berlin's clock, 02:00 twice as its clocks go back."""
    utc = pd.date_range("2026-10-21", "2026-10-28", freq="h", tz="UTC")
    return pd.DataFrame({"ds": utc.tz_convert("Europe/Berlin").tz_localize(None), "y": 10.0 + np.arange(len(utc)) % 24})


def test_series_whose_child_run_could_not_be_logged_are_counted_and_said(spark):
    from forecasting.forecast_notes import zero_forecast_notes

    zero_forecast = zero_forecast_notes(pd.Series([0.0] * 7), pd.Series([0.0, 1.0, 0.0, 2.0]), "smape",
                                         {"seasonal_naive": {"mase": 0.7}, "prophet": {"mase": 0.6}}, "seasonal_naive")
    stale = "last observation 2024-01-10, 80 periods before the run date 2024-03-31"
    staged = spark.createDataFrame([
        ("ok", None, "{}", "96 duplicate timestamps merged (sum); several rows a period merged (24 on average) "
         "into 'D' periods", "prophet", 0.8),
        ("ok", "tracking failed: HTTP 503", "{}",
         f"rows regularly 30 periods apart: is forecast.frequency 'D' the data's?; {stale}", "naive", 1.0),
        ("failed", "ValueError: x; tracking failed: connection refused", "{}", stale, "naive", None),
        ("skipped", "too little history", None, "a last observation 2024-01-10 named in another note", None, None),
        ("ok", None, "{}", "2 values far outside the rest (over 100 times ...), the farthest 1e+12 at 2024-01-03: "
         "data errors, or a new level? Modelled as they are", "prophet", 9.0),
        ("skipped", "too little history", "{}", "1 value far outside the rest (...)", "naive", None),  # not modelled
        ("ok", None, "{}", "1 value far above the values around it (over 10 times ...), 200,150 at 2026-11-19: "
         "kept (cleaning.spikes: keep), and a model may repeat it. ...", "prophet", 1.2),  # a page's viral day
        ("failed", "x", None, "1 value far above the values around it (...)", None, None),  # not modelled
        ("ok", None, "{}", "the last 168 values are all 19.8 (since 2026-11-23), where no value of the 1272 before "
         "came over 4 times in a row: a stuck sensor, or a feed repeating its last value? ...", "naive", 0.0),
        ("skipped", "x", "{}", "the last 168 values are all 19.8 (...): a stuck sensor, or a feed repeating its last "
         "value? ...", "naive", None),  # not modelled: not counted
        # Berlin's midnights read in UTC: every row a day early
        ("ok", None, "{}", "; ".join(clean_history(pd.DataFrame({"ds": pd.date_range(
            "2026-01-01 23:00", periods=30), "y": 1.0 + np.arange(30) % 2}), "D", load_config(None, []).cleaning).notes),
         "naive", 0.5),
        # 1923 typed for 2023: left out and counted, modelled or not
        ("skipped", "too little history", None, "; ".join(clean_history(pd.DataFrame({
            "ds": pd.to_datetime(["1923-01-01", *pd.date_range("2023-01-01", periods=30)]), "y": 1.0}), "D",
            load_config(None, []).cleaning).notes), None, None),
        # a winter temperature's forecast held at 0 for most of its horizon; a sales series' few raised points are not
        *[("ok", None, "{}", f"{raised} of 48 forecast points raised to stay at or above 0 (forecast.floor auto: the "
           "history has no value below 0)", "prophet", 0.5) for raised in (27, 3)],
        ("ok", None, "{}", "all 8 timestamps moved to other dates on the 'D' grid (...): ...; the last period "
         "2024-03-31 is still open on the run date 2024-03-31, its value kept as the whole period's: ...; 2 duplicate "
         "timestamps merged (sum); 2 rows repeated exactly (the same time and value as another), added up: ...",
         "naive", 1.0),
        ("ok", None, "{}", "; ".join(two_tickers_read_as_daily()), "prophet", 0.5),
        ("ok", None, "{}", "; ".join(clean_history(berlin_hours(), "h", load_config(None, []).cleaning).notes),
         "prophet", 0.5),
        ("ok", None, "{}", "; ".join(clean_history(berlin_hours(), "h", load_config(None, []).cleaning, "2026-10-27",
                                                   now="2026-10-27 22:30").notes[:1]), "prophet", 0.5),
        ("ok", None, "{}", "5 of 1681 values negative, kept (cleaning.negative_values: allow; forecast.floor auto then "
         "sets no floor at 0)", "prophet", 0.5),
        ("ok", None, "{}", "the last 7 values are 0, where none of the 113 before were (since 2026-12-05 17:00): an "
         "outage, or a feed that stopped sending (zeros for no data)? Modelled as they are", "prophet", 0.5),
        ("ok", None, "{}", "; ".join(zero_forecast), "seasonal_naive", 0.7),
        ("ok", None, "{}", "; ".join(weekly_sales_that_stopped()), "seasonal_naive", 0.5),
        ("ok", None, "{}", "; ".join(clean_history(a_day_given_twice(), "D", load_config(None, []).cleaning).notes),
         "prophet", 0.5),
        ("ok", None, "{}", "; ".join(clean_history(weeks_loaded_twice(), "W-SUN", load_config(None, []).cleaning).notes),
         "prophet", 0.5),
        ("failed", "x", None, "; ".join(zero_forecast), None, None),  # not modelled: not counted
        # two fifths of its span without rows, and one fifth exactly: counted; a few, or monthly rows read as
        # daily (asked about in a line of its own): not
        *[("skipped", "too little history", None, "; ".join(clean_history(
            weekly_with_gaps(rows), "W-SUN", load_config(None, []).cleaning).notes), None, None) for rows in (30, 40)],
        *[("ok", None, "{}", "; ".join(clean_history(history, frequency, load_config(None, []).cleaning).notes),
           "prophet", 0.5) for history, frequency in ((weekly_with_gaps(41), "W-SUN"), (weekly_with_gaps(50), "D"))],
        ("ok", None, "{}", "values never fall over 30 values, rising at 93% of the steps: ...", "drift", 0.1),
        *[(status, None, "{}", "forecast over Christmas Day (2026-12-25), on which the history's values stood out and "
           "which no cross-validation fold held: its cross-validation scores do not speak for those periods", model, 0.5)
          for status, model in (("ok", "prophet"), ("failed", None))],  # a failed series' forecast is the fallback's
        ("ok", None, "{}", "the last period 2024-03-01 goes on past the input's last day 2024-03-27 by 2 days of the week "
         "the series has rows on: its 27 rows left out, a part summed is no whole period (forecast instead)", "naive", 1.0),
        # eight weeks of a plant's load: its May bank holiday forecast as a Monday (the walk-through of 12-06)
        *[(status, None, "{}", "forecast over May Day (2025-05-05), which the history never held: no effect of them "
           "was learnt, and they are forecast as usual days", "prophet", 0.5) for status in ("ok", "skipped")],
        # a ticker split 10:1 halfway: its naive interval counted the jump (the walk-through of 12-06)
        ("ok", None, "{}", "; ".join(clean_history(pd.DataFrame({"ds": pd.bdate_range("2026-01-05", periods=80), "y": np.r_[
            np.full(40, 1000.0), np.full(40, 100.0)] + np.arange(80) % 3}), "B", load_config(None, []).cleaning).notes),
         "naive", 0.2),
        # three weeks of a stock-out in a sku selling some 20 a day (a walk-through of 12-08)
        ("ok", None, "{}", "; ".join(clean_history(pd.DataFrame({
            "ds": pd.date_range("2026-05-01", periods=200),
            "y": np.r_[np.full(100, 20.0), np.zeros(20), np.full(80, 21.0)]}), "D",
            load_config(None, []).cleaning).notes), "prophet", 0.6),
        # a price's exchange holidays filled with zeros (gaps: zero): the models fit them as crashes
        ("ok", None, "{}", "; ".join(clean_history(pd.DataFrame({
            "ds": pd.bdate_range("2026-01-05", periods=60).delete([10, 30]), "y": 100.5 + np.arange(58) % 4}), "B",
            load_config(None, ["cleaning.gaps=zero"]).cleaning).notes), "prophet", 0.9),
        # Prophet failed on every parameter set: forecast by a baseline (a failed series' fallback is not counted)
        *[(status, None, "{}", "Prophet failed in every tuning evaluation (6, e.g. FloatingPointError('x')): chosen "
           "among naive", "naive", 0.5) for status in ("ok", "failed")],
    ], "status string, reason string, model_json string, data_notes string, model string, cv_mase double")
    counted = staged_counts.status_counts(staged)
    assert counted.gappy == 2 and counted.prophet_failed == 1
    assert (counted.shifted, counted.open_kept, counted.repeated) == (1, 1, 1)  # from cleaning's notes, as written
    assert (counted.several_series, counted.no_weekday, counted.breaks, counted.clock_changes) == (1, 1, 1, 1)
    assert counted.level_shifts == 1 and counted.never_held_holidays == 1  # modelled series only
    assert counted.ahead == 1 and counted.negative_kept == 1 and counted.zero_runs == 1 and counted.zero_forecasts == 1
    assert counted.other_duplicates == 1  # not the rows merged for a reason a note names: finer, repeated, clocks
    assert counted.same_value_duplicates == 1
    assert counted.unseen_holidays == 1 and counted.past_input == 1 and counted.stopped == 1
    assert counted.zeros_into_levels == 1 and counted.zero_stretches == 1
    noted = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {})
    run_report.say_data_notes(counted, load_config(None, []), noted)
    zeros = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {})
    run_report.say_data_notes(counted, load_config(None, ["cleaning.gaps=zero"]), zeros)
    assert ("2 series have rows regularly several periods apart (their data_notes say how far): is forecast.frequency "
            "'D' the data's? cleaning.gaps zero filled the periods between (with 0), which their models and forecasts "
            "follow\n") in zeros.note  # weekly data run as daily had forecasts of 0 six days a week, said no louder
    assert [line.strip() for line in noted.note.splitlines()] == [
        "2 series have rows regularly several periods apart (their data_notes say how far): is forecast.frequency "
        "'D' the data's?",
        "2 series have no row in a fifth of their periods or more, left out (cleaning.gaps: keep; their data_notes "
        "say how many): where no row means nothing happened (no sales), cleaning.gaps: zero counts those periods as "
        "0, and a series' history spans them",
        "1 series had several rows a period merged into 'D' periods by cleaning.duplicates (sum; their data_notes "
        "say how many): added up, as amounts are (sales, kWh), where levels (kW, °C, prices) take "
        "cleaning.duplicates: mean",
        "1 series has times given twice where daylight saving time ends (their data_notes name it), merged by "
        "cleaning.duplicates (sum): local times? Times with their UTC offset, or in UTC, keep both hours apart",
        "1 series has rows repeated exactly (the same time and value) that cleaning.duplicates sum added up (their "
        "data_notes say how many): an input read twice, or exports that overlap? cleaning.duplicates: last keeps one "
        "of each",
        "1 series has times given more than once with other values, merged by cleaning.duplicates (sum; their "
        "data_notes say how many): added up, as amounts are (several sales, or a sale and a return, at one time); "
        "for levels (balances, prices), cleaning.duplicates: mean, or last (the largest, not the latest row); a value given again "
        "corrected belongs out of the input",
        "1 series has times given twice with one value, their other times a row each, that cleaning.duplicates sum "
        "added up (their data_notes name the first): rows loaded twice? cleaning.duplicates: last keeps one of each",
        "1 series had every timestamp moved to another date on the 'D' grid (their data_notes show the first): their "
        "forecasts are dated as that grid dates periods, not as the input. Is forecast.frequency the data's?",
        "1 series has rows after the run's start on its run date, left out as not known yet (their data_notes say "
        "how many)",
        "1 series ends in a period still open on the run date 2024-03-31, modelled as a whole period (their "
        "data_notes name it): if those rows hold only a part of it, or values known only later (a backfill from "
        "files), cleaning.open_period: drop leaves them out and forecasts the period",
        "1 series ends in a period that goes on past the input's last day (their data_notes name it), a part of it: "
        "left out and forecast, so their forecasts start there, before the run date 2024-03-31. An export cut short? "
        "Their data_notes name the input's last day",
        "1 series has the same number of rows at nearly every time, merged by cleaning.duplicates (sum; their "
        "data_notes say how many): as meant, or several series under one key (a column that tells them apart "
        "belongs in input.key_columns)?",
        "1 series has no row on some days of the week in their weeks of daily rows (their data_notes name them), "
        "yet 'D' forecasts every day: business days (forecast.frequency: B forecasts weekdays only), or days closed "
        "(cleaning.gaps: zero)?",
        "1 modelled series has values far outside the rest (their data_notes name the farthest): data errors, or a "
        "new level? They were modelled as they are",
        "1 modelled series has values far above the values around them (their data_notes name the highest), kept: a "
        "model may repeat them, Prophet in its trend and seasonality, and they widen a baseline's interval (made "
        "from its errors) and shrink the series' MASE (scaled by its changes, their jumps among them). Where they "
        "will not recur (a viral day, a glitch, a bulk order), cleaning.spikes: leave_out leaves them out of the fits "
        "and scores",
        "1 series has values that never fall (their data_notes say over how many): running totals (a meter's "
        "register, sales to date) where amounts per period were meant, or levels growing steadily? A running total's "
        "differences are the amounts; they were modelled as they are",
        "1 series has a few values negative, kept (cleaning.negative_values: allow; their data_notes say how many): "
        "returns or corrections, or faults? forecast.floor auto sets no floor at 0 for them (forecast.floor: 0 "
        "would); cleaning.negative_values: drop leaves such values out",
        "1 series ends in a run of zeros where their history has nearly none (their data_notes say since when): "
        "outages, or feeds that stopped sending? They were modelled as they are",
        "1 series had a few first rows long before the rest of their history, five years or more before it and "
        "longer than all the rest spans (their data_notes say when), left out: mistyped years? Correct them in the "
        "input",
        "1 modelled series ends in one value repeated far longer than any value before (their data_notes say since "
        "when): a stuck sensor, or a feed repeating its last value? Their forecasts follow it, and cross-validation "
        "scores a flat forecast of a flat stretch well. They were modelled as they are",
        "1 modelled series had half or more of their forecast points raised to the floor (their data_notes say how "
        "many; forecast.floor auto: 0 where a series' history has no value below it; forecast.floor: null keeps the "
        "models' own, a signed level's): a level falling towards it, or a model's trend run past it?",
        "1 series has had no rows for over twice their longest run of zeros before, filled with zeros up to the run "
        "date by cleaning.gaps: zero (their data_notes say since when): discontinued? Their forecasts follow from "
        "those zeros, a seasonal model's from last year's values. cleaning.stale_after skips series whose rows stop "
        "that long before the run date",
        "1 series had periods without a row filled with zeros by cleaning.gaps: zero, though their own values never "
        "come near 0 (their data_notes say how many): prices, levels or stocks, where a period without a row is a "
        "holiday or a gap in the feed? The models fit those zeros as crashes; cleaning.gaps: keep or interpolate suits "
        "such series",
        "1 modelled series is forecast 0 throughout, though their recent values are not (their data_notes say how "
        "much they were): ranked by sMAPE, which favours a forecast of zeros in series with zeros; tuning.metric: mase "
        "ranks by the scale of each series' changes",
        "1 modelled series is forecast over holidays on which their history's values stood out and which no "
        "cross-validation fold held (their data_notes name them): their cross-validation scores do not speak for "
        "those periods, nor did the tuning or the choice of model see them. Folds that span a year "
        "(cross_validation.folds and step) would hold them",
        "1 modelled series is forecast over holidays which the history never held (their data_notes name them): no "
        "effect of them was learnt, and they are forecast as usual days. A history of a year spans each yearly one "
        "once; a day observed in a weekend holiday's stead, or a one-off, only where one came before",
        "1 series ends in values far outside the recent range of their history (their data_notes name them): a break "
        "in the data (a stock split, a new unit), a last period loaded only in part (one value below the range: its "
        "note says how to leave it out), or values to check? They were modelled as they are",
        "1 series has a change of level inside their history (their data_notes say when, from what to what): a stock "
        "split, a new unit, a store resized, a season's start or end, or two series joined? They were modelled across it, a baseline's "
        "interval counting the jump as one of its errors: adjust the values before it, or start the input after it",
        "1 series has runs of zeros inside a history that has nearly none (their data_notes say when): stock-outs, "
        "outages or closures? They were modelled as real values; given as missing values (empty) instead, they are "
        "not fitted as zeros",
        "1 modelled series is forecast by another candidate, Prophet failed in every tuning evaluation (their "
        "data_notes quote an error; the log at DEBUG has each one): values Prophet cannot fit, or a broken "
        "installation?"]
    hourly = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {})
    run_report.say_data_notes(counted, load_config(None, ["forecast.frequency=h"]), hourly)
    local = ("; times in a zone ahead of UTC look so too (the job reads times as UTC): give them with their offset, "
             "or in UTC")
    said = [line for line in hourly.note.splitlines() if "run's start" in line or "still open" in line]
    assert len(said) == 2 and all(line.endswith(local) for line in said)  # hours: local times?
    zoned = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {}, zoned_times=True)
    run_report.say_data_notes(counted, load_config(None, ["forecast.frequency=h"]), zoned)
    said = [line for line in zoned.note.splitlines() if "run's start" in line or "still open" in line]
    assert len(said) == 2 and not [line for line in said if "zone ahead of UTC" in line]  # times with offsets
    # Berlin's midnights read in UTC, said where the input's times carry a zone (naive evenings may be meant)
    assert ("1 series has every time late in a UTC day, at one or two times of day (their data_notes say which), each "
            "dated the day it falls in: local midnights of a zone ahead of UTC, each a day early? The input's times "
            "carry a zone: a date column, or local times without one, keep the dates as written") in zoned.note
    assert "every time late in a UTC day" not in noted.note
    assert not [line for line in noted.note.splitlines() if line.endswith(local)]  # not for days
    by_mase = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {})
    run_report.say_data_notes(counted, load_config(None, ["tuning.metric=mase"]), by_mase)
    assert [line for line in by_mase.note.splitlines() if "forecast 0 throughout" in line][0].endswith(
        "(their data_notes say how much they were): series mostly of zeros, whose likeliest value is 0? For their "
        "rate instead (to replenish), recent_mean among selection.candidates, ranked by selection.metric: rmse")
    for frequency, hint in (("W-SUN", "(weeks dated by their first day: 7D)"),
                            ("MS", "(periods dated by their last day: ME, QE, YE; by their first: MS, QS, YS)")):
        dated = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {})  # the grid's own kind of hint
        run_report.say_data_notes(counted, load_config(None, [f"forecast.frequency={frequency}"]), dated)
        assert [line for line in dated.note.splitlines() if "moved to another date" in line][0].endswith(hint)
    for floor, said in (("0", "forecast.floor 0 keeps their forecasts at or above it; cleaning"),
                        ("null", "faults? cleaning")):
        floored = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {})  # the floor the user set, said
        run_report.say_data_notes(counted, load_config(None, [f"forecast.floor={floor}"]), floored)
        assert said in [line for line in floored.note.splitlines() if "negative" in line][0]
    left_out = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {})
    run_report.say_data_notes(counted, load_config(None, ["cleaning.spikes=leave_out"]), left_out)
    assert [line.strip() for line in left_out.note.splitlines() if "far above" in line] == [
        "1 modelled series had values far above the values around them left out of their fits (cleaning.spikes: "
        "leave_out; their data_notes name the highest)"]
    by_last = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {})
    run_report.say_data_notes(counted, load_config(None, ["cleaning.duplicates=last"]), by_last)
    assert "(sales, kWh)" not in by_last.note  # the advice on levels is for a sum
    assert [line.strip() for line in by_last.note.splitlines() if "other values" in line] == [
        "1 series has times given more than once with other values, merged by cleaning.duplicates (last; their "
        "data_notes say how many)"]  # the advice is for a sum
    staged = staged.limit(6)
    counted = staged_counts.status_counts(staged)
    assert counted.statuses == {"ok": 3, "failed": 1, "skipped": 2} and counted.untracked == 2
    assert counted.models == 5  # the first skipped series had no fallback forecast
    assert counted.stale == 2  # cleaning's note, first or after another; not the words inside another note
    assert counted.sparse == 1  # said once for the run: is forecast.frequency the data's?
    assert counted.outlying == 1  # as is a count of the modelled series with values far outside the rest
    assert counted.merged == 1 and counted.merged_not_ok == 0  # and of those with several rows a period merged
    kinds = staged_counts.reason_kinds(staged)
    assert kinds == {"skipped": [("too little history", 2)], "failed": [("ValueError", 1)]}
    # a leading count is not part of the kind, and the summary shows the commonest few
    many = spark.createDataFrame([("skipped", f"{n} missing periods") for n in (3, 12)]
                                 + [("failed", f"Error{k}: x") for k in range(7)], "status string, reason string")
    assert staged_counts.reason_kinds(many)["skipped"] == [("missing periods", 2)]
    countries = spark.createDataFrame([("skipped", f"no holidays known for country '{c}' (key column country, ...)")
                                       for c in ("ZZ", "QQ")] + [("skipped", "null key in ['shop']: no identity")],
                                      "status string, reason string")
    # the word leading into a value that was cut is not part of the kind either
    assert staged_counts.reason_kinds(countries)["skipped"] == [("no holidays known for country", 2), ("null key", 1)]
    shown = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {}, counts={"failed": 7},
                                   reason_kinds=staged_counts.reason_kinds(many)).format()
    assert "    failed: Error0 (1); Error1 (1); Error2 (1); Error3 (1); Error4 (1); 2 other reasons (2 series)" in shown
    one_more = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {}, counts={"failed": 9}, reason_kinds={
        "failed": [*[(f"Error{k}", 1) for k in range(5)], ("OSError", 4)]}).format()
    assert "Error4 (1); 1 other reason (4 series)" in one_more
    summary = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {}, counts=counted.statuses,
                                     untracked=counted.untracked, reason_kinds=kinds)
    said = summary.format()
    assert "2 of 6 series have no complete child run: tracking failed for them" in said
    assert "  why series failed or were skipped: the status and reason columns of series_results\n" \
           "    skipped: too little history (2)\n    failed: ValueError (1)\n" in said


def test_a_series_without_a_time_is_named_by_its_time_key_as_its_tasks_name_it(spark, fast_config, monkeypatch):
    frame = spark.sql("SELECT TIMESTAMP'2024-01-01 00:00:00' AS week, CAST(NULL AS TIMESTAMP) AS ds, 1.0D AS y")
    config = fast_config("input.key_columns=[week]")
    monkeypatch.setenv("TZ", "America/New_York")  # the driver's zone; the session's is UTC
    time.tzset()
    try:
        _, count, said = pipeline._add_series_without_history(frame.limit(0), frame, config, "2024-06-30")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert count == 1 and "e.g. 2024-01-01 00:00:00\n" in said  # not 2023-12-31 19:00:00


def test_an_overview_that_cannot_be_drawn_only_warns_the_tables_being_written(spark, fast_config, monkeypatch, caplog):
    def broken(staged, keys):
        raise OSError("disk full")

    monkeypatch.setattr(run_overview, "worst_series", broken)
    run_report.log_overview(spark, None, run_overview.Overview(), fast_config(), None, "Forecast run 2024-03-31")
    assert "could not log the run's overview picture (disk full): its tables are written" in caplog.text


def test_the_overviews_cv_mase_bins_hold_each_modelled_series_once_and_its_worst_are_finite(spark):
    values = [0.0, 0.09, 0.1, 0.99, 1.0, 9.99, 10.0, 250.0, float("inf"), float("nan"), None]
    staged = spark.createDataFrame(
        [("ok", "prophet", value, f"s{i}") for i, value in enumerate(values)] + [("failed", "naive", 5.0, "f")],
        "status string, model string, cv_mase double, store string")
    counted = staged_counts.status_counts(staged.withColumns(
        {"reason": F.lit(None).cast("string"), "model_json": F.lit("{}"), "data_notes": F.lit(None).cast("string")}))
    edges = run_overview.MASE_EDGES
    expected = [0] * (len(edges) + 1)
    # a missing or NaN MASE is in no bin, nor a flat history's infinite one: no forecast ten times off (the plots'
    # review of 12-07)
    for value in values[:-3]:
        expected[sum(value >= edge for edge in edges)] += 1
    assert counted.overview.histogram() == {"prophet": expected}  # the failed series' fallback is not modelled
    assert expected[0] == 2 and expected[edges.index(1.0) + 1] == 1 and expected[-1] == 2  # 1.0 and 10 start bins
    worst = run_overview.worst_series(staged, ["store"])
    assert worst[:3] == [("s7", 250.0, "prophet"), ("s6", 10.0, "prophet"), ("s5", 9.99, "prophet")]
    assert len(worst) == run_overview.WORST and all(math.isfinite(mase) for _, mase, _ in worst)
    # the run's accuracy in one number: the median of the finite ones, 0.99 and 1.0 in the middle
    assert run_overview.median_cv_mase(staged) == pytest.approx(0.995)
    # over 10 (250, not 10 itself nor infinity's flat history): named in the summary
    assert counted.far_off_cv == 1
    summary = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {})
    counted.overview.worst = worst  # as log_overview finds them
    run_report.say_far_off_cv(counted, summary)
    assert summary.note.strip() == ("1 modelled series has a CV MASE over 10, the worst first: s7: 250.0 (their "
                                    "cv_mase): their cross-validation forecasts missed by over ten times a seasonal "
                                    "naive step. A break in the data, a unit slip, or a model to look at")


def test_quarter_hours_left_at_the_daily_default_and_a_future_run_date_are_each_said_in_the_summary(spark, tmp_path):
    # a new user's first run: 15-minute readings, the default daily frequency, a mistyped year
    today = dt.datetime.now(dt.timezone.utc).date()
    times = pd.date_range(pd.Timestamp(today) - pd.Timedelta(days=3), periods=4 * 24 * 3, freq="15min")
    source = pd.concat([pd.DataFrame({"meter": meter, "ds": times, "y": 1.0}) for meter in ("m1", "m2")])
    source.to_csv(tmp_path / "input.csv", index=False, date_format="%Y-%m-%d %H:%M")
    config = load_config(None, job_settings(tmp_path / "input.csv", tmp_path, ["meter"]))
    run_date = (today + dt.timedelta(days=365)).isoformat()
    said = pipeline.run_job(spark, config, run_date).format()
    assert f"the run date {run_date} is 365 days after today ({today} UTC)" in said
    assert ("2 series (e.g. m1, m2) had several rows a period merged into 'D' periods by cleaning.duplicates (sum; "
            "their data_notes say how many), 2 of them then skipped or failed (their reason says why): is "
            "forecast.frequency 'D' the data's?") in said
    assert "    skipped: too little history (2)" in said


def test_daily_rows_summed_into_weeks_ask_about_the_frequency_only_where_most_are_then_skipped(spark, caplog):
    merged = "70 duplicate timestamps merged (sum); several rows a period merged (7 on average) into 'W-SUN' periods"
    rows = [("ok", None, merged), ("ok", None, merged), ("ok", None, merged),
            ("skipped", "too little history: 3 periods, needs at least 52", merged)]  # a product new this month
    line = ("{} series had several rows a period merged into 'W-SUN' periods by cleaning.duplicates (sum; their "
            "data_notes say how many), {} of them then skipped or failed (their reason says why)")
    question = ": is forecast.frequency 'W-SUN' the data's?"
    levels = ": added up, as amounts are (sales, kWh), where levels (kW, °C, prices) take cleaning.duplicates: mean"
    for staged, expected, warned in ((rows, line.format(4, 1) + levels, False),
                                     (rows[:1] + rows[3:] * 2, line.format(3, 2) + question, True)):
        caplog.clear()
        summary = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {})
        counted = staged_counts.status_counts(spark.createDataFrame(staged, "status string, reason string, data_notes "
                                                                    "string").withColumns(
            {"model_json": F.lit(None).cast("string"), "model": F.lit(None).cast("string"),
             "cv_mase": F.lit(None).cast("double")}))
        run_report.say_data_notes(counted, load_config(None, ["forecast.frequency=W-SUN"]), summary)
        assert summary.note.strip() == expected
        assert any(r.levelname == "WARNING" for r in caplog.records) == warned  # asked only where most were lost


def test_a_partial_week_on_the_run_date_is_modelled_but_said_in_the_summary(spark, tmp_path):
    # weekly sales dated by their Monday, exported on a Monday with that day's sales as the new week's
    mondays = pd.date_range("2024-01-01", "2024-12-30", freq="7D")
    rows = [pd.DataFrame({"store": store, "ds": mondays, "y": np.where(mondays == mondays[-1], 15.0, 100.0)})
            for store in ("a", "b")]
    pd.concat(rows).to_csv(tmp_path / "input.csv", index=False, date_format="%Y-%m-%d")
    config = load_config(None, job_settings(tmp_path / "input.csv", tmp_path, ["store"], "ds", "y",
                                            "forecast.frequency=7D", "forecast.horizon=4"))
    said = pipeline.run_job(spark, config, "2024-12-30").format()
    assert ("2 series (e.g. a, b) end in a period still open on the run date 2024-12-30, modelled as a whole period "
            "(their data_notes name it): if those rows hold only a part of it, or values known only later (a backfill "
            "from files), cleaning.open_period: drop leaves them out and forecasts the period") in said
    notes = spark.read.format("delta").load(str(tmp_path / "out" / "series_results")).select("data_notes").collect()
    assert all("the last period 2024-12-30 is still open on the run date 2024-12-30" in row[0] for row in notes)
    assert "no series was modelled" not in said  # both modelled


def test_each_series_gets_its_countrys_holidays_and_a_run_that_modelled_none_says_so(spark, tmp_path):
    shops = (("berlin", "de"), ("atlantis", "XX"), ("nowhere", ""), ("limbo", None))  # None: an empty CSV field
    source = pd.concat([daily_series(60, seed=s, start="2023-12-01").assign(shop=shop, country=country)
                        for s, (shop, country) in enumerate(shops)])
    source.loc[(source["shop"] == "limbo") & (source["ds"] >= "2024-01-15"), "country"] = ""  # null, then blank
    source.to_parquet(tmp_path / "input.parquet", index=False, coerce_timestamps="us")  # "": not a null, as CSV reads it
    settings = job_settings(tmp_path / "input.parquet", tmp_path, ["shop", "country"], "ds", "y",
                            "model.country_holidays_column=country", "model.country_holidays=US")
    summary = pipeline.run_job(spark, load_config(None, settings), "2024-01-29")
    # a null country is a blank one: modelled with model.country_holidays, not skipped as a series with a null key,
    # its null and blank rows one series
    assert summary.counts == {"ok": 3, "skipped": 1} and not summary.nothing_modelled
    models = spark.read.format("delta").load(str(tmp_path / "out" / "models")).toPandas().set_index("shop")
    holidays = {shop: set(pd.read_json(io.StringIO(json.loads(models.loc[shop, "model_json"])["holidays"]),
                                       orient="table")["holiday"]) for shop in ("berlin", "nowhere", "limbo")}
    assert "Second Day of Christmas" in holidays["berlin"] and "Martin Luther King Jr. Day" in holidays["nowhere"]
    assert "Martin Luther King Jr. Day" in holidays["limbo"] and models.loc["limbo", "country"] == ""
    said = " ".join(summary.format().split())  # the codes and the blank said before any series is looked at
    assert ("column country (model.country_holidays_column) holds codes the holidays package does not know, whose "
            "series are skipped: 'XX' (1 series: is not a known country)") in said
    assert "2 series have a blank country (model.country_holidays_column) and got the holidays of " \
           "model.country_holidays, US" in said
    # a run whose every series is skipped for another reason than too little history exits 5 too
    alone = source[source["shop"] == "atlantis"]
    alone.to_parquet(tmp_path / "input.parquet", index=False, coerce_timestamps="us")
    said = pipeline.run_job(spark, load_config(None, settings), "2024-01-30")
    assert said.nothing_modelled and "    skipped: no holidays known for country (1)\n" in said.format()


def test_a_run_that_modelled_no_series_for_too_little_history_says_what_the_rows_needed_come_from(spark, tmp_path):
    # a horizon given in days to weekly data, say: every series too short for its folds
    source = pd.concat([daily_series(20, seed=s).assign(shop=shop) for s, shop in enumerate(("a", "b"))])
    source.to_csv(tmp_path / "input.csv", index=False, date_format="%Y-%m-%d")
    config = load_config(None, job_settings(tmp_path / "input.csv", tmp_path, ["shop"]))
    summary = pipeline.run_job(spark, config, "2024-01-20")
    said = summary.format()
    assert summary.nothing_modelled and "no series was modelled (their reasons above): exit code 5" in said
    assert ("no series was modelled: after cleaning, the longest of the series too short has 20 periods, against the 28 "
            "needed (cross-validation's 2 folds, 7 periods apart, each scoring 7 periods after 14 to train on). Is "
            "forecast.horizon 7 counted in periods of 'D'? Or lower forecast.min_history / cross_validation.folds; "
            "the fallback forecasts were written") in said
    assert "(forecast.min_history)" in run_report.nothing_modelled(
        load_config(None, ["forecast.min_history=40"]), "20 rows")
    assert run_report.nothing_modelled(load_config(None, ["reliability.fallback=null"]), "20 rows").endswith(
        "; no forecasts were written")


def test_a_run_date_before_all_the_input_is_an_input_error_before_any_run_is_tracked(spark, tmp_path):
    run_date = "2024-02-29"
    first_day = pd.Timestamp(run_date) + pd.Timedelta(days=1)  # the day after: not yet known on the run date
    source = pd.concat([daily_series(5, seed=s, start=first_day.isoformat()).assign(shop=shop)
                        for s, shop in enumerate(("a", "b"))])
    source.to_csv(tmp_path / "input.csv", index=False, date_format="%Y-%m-%d")
    config = load_config(None, job_settings(tmp_path / "input.csv", tmp_path, ["shop"]))
    with pytest.raises(InputError, match=f"^no input rows on or before the run date {run_date}: all 10 rows with a "
                                         "time are after it, up to 2024-03-05"):
        pipeline.run_job(spark, config, run_date)
    assert not (tmp_path / "mlruns").exists()  # no experiment, no parent run
    assert not (tmp_path / "out").exists()  # no table, no staging folder


def test_no_rows_known_on_the_run_date_says_where_they_are_and_years_far_ahead_are_dates_as_numbers():
    # the inputs walk-through of 12-07: 240101 (yyMMdd) read as the year 240101, said only as "no input rows"
    from forecasting import input_hints, validation

    said = input_hints.no_rows_known(validation.InputCounts(210, 0, after_run_date=210,
                                                            after_run_date_last="+240310-01-01"),
                                     "2024-03-10", validation.LATEST_TIME)
    assert said == ("no input rows on or before the run date 2024-03-10: all 210 rows with a time are after it, up "
                    "to +240310-01-01 (times read as years far ahead: dates written as numbers, yyMMdd? "
                    "input.time_format reads other forms)")
    assert input_hints.no_rows_known(validation.InputCounts(3, 0), "2024-03-10", validation.LATEST_TIME) == (
        "no input rows on or before the run date 2024-03-10")  # every row without a time: said apart


def test_training_tasks_hold_several_series_but_every_core_gets_several_tasks_in_whole_rounds():
    from forecasting.spark_training import shuffle_partitions

    config = load_config()
    assert shuffle_partitions(config, 400, cores=2) == 20  # about 20 series a task
    assert shuffle_partitions(config, 24, cores=2) == 8  # at least 4 tasks per core
    assert shuffle_partitions(config, 400, cores=16) == 64
    assert shuffle_partitions(config, 3, cores=16) == 3  # never an empty task by design
    assert shuffle_partitions(config, 1000, cores=8) == 56  # 50 would leave 6 of 8 cores idle in the last round
    assert shuffle_partitions(config, 10**6, cores=2) == 2000
    assert shuffle_partitions(config, 10**6, cores=48) == 1968  # at most 2000, in whole rounds
    assert shuffle_partitions(load_config(overrides=["spark.shuffle_partitions=7"]), 400, cores=2) == 7


def test_with_dynamic_allocation_tasks_are_planned_for_the_executors_it_may_add():
    from types import SimpleNamespace

    from forecasting.spark_training import available_cores

    def session(**conf):  # a cluster's settings as spark-submit gives them; two cores up when the job starts
        settings = {f"spark.{key.replace('_', '.')}": value for key, value in conf.items()}
        context = SimpleNamespace(defaultParallelism=2, getConf=lambda: SimpleNamespace(get=settings.get))
        return SimpleNamespace(sparkContext=context)

    assert available_cores(session()) == 2
    assert available_cores(session(dynamicAllocation_enabled="true", dynamicAllocation_maxExecutors="25",
                                   executor_cores="4")) == 100
    assert available_cores(session(dynamicAllocation_enabled="true", dynamicAllocation_maxExecutors="25",
                                   executor_cores="4", task_cpus="2")) == 50
    assert available_cores(session(dynamicAllocation_enabled="true")) == 2  # no bound given: the cores there are
    assert available_cores(session(dynamicAllocation_enabled="false", dynamicAllocation_maxExecutors="25",
                                   executor_cores="4")) == 2


def test_the_driver_jvm_runs_with_two_malloc_arenas_the_quick_compiler_a_serial_collector_and_the_class_archive(
    spark,
):
    # scripts/setup.sh writes pyspark's conf/spark-env.sh; an exported value wins
    if "MALLOC_ARENA_MAX" in os.environ or "SPARK_SUBMIT_OPTS" in os.environ:
        pytest.skip("MALLOC_ARENA_MAX or SPARK_SUBMIT_OPTS exported here: they replace what setup.sh set")
    archive = Path(pyspark.__file__).parent / "jvm-classes.jsa"
    launched = subprocess.run([str(Path(sys.executable).parent / "spark-submit"), "--version"], capture_output=True,
                              text=True, timeout=120, env={**os.environ, "SPARK_PRINT_LAUNCH_COMMAND": "1"})
    command = next(line for line in launched.stderr.splitlines() if line.startswith("Spark Command:")).split()
    assert {"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", f"-XX:SharedArchiveFile={archive}"} <= set(command)
    # the tests' own session (conftest) has both compilers, and the arenas and archive as a job's driver
    jvm = spark.sparkContext._jvm
    pid = jvm.java.lang.ProcessHandle.current().pid()
    environment = dict(
        entry.split("=", 1) for entry in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in entry
    )
    assert environment.get("MALLOC_ARENA_MAX") == "2"
    options = list(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert f"-XX:SharedArchiveFile={archive}" in options and "-XX:TieredStopAtLevel=1" not in options
    # the JVM keeps an archive it accepted mapped; one it refused (other jars,
    # a folder with files on the class path) it unmaps, with a warning
    assert str(archive) in Path(f"/proc/{pid}/maps").read_text()


def test_python_workers_fork_from_a_daemon_that_loaded_the_training_modules(spark):
    def worker_and_daemon(batches):  # defined here, so that Spark ships it by value
        daemon = os.getppid()
        for batch in batches:
            yield batch.assign(
                daemon=Path(f"/proc/{daemon}/cmdline").read_text().replace("\0", " "),
                daemon_maps=Path(f"/proc/{daemon}/maps").read_text(),
            )

    rows = spark.range(1).mapInPandas(worker_and_daemon, "id long, daemon string, daemon_maps string").collect()
    assert "-m forecasting.worker_daemon" in rows[0]["daemon"]
    # Spark's own daemon loads no pandas, whose compiled code shows in its memory map
    assert "/pandas/_libs/" in rows[0]["daemon_maps"]


def test_python_workers_are_started_with_the_training_modules_and_kept_for_the_training(spark):
    early = python_worker.start_workers_early(spark)
    early.join(timeout=120)
    assert not early.is_alive()
    assert len(early.worker_pids) == spark.sparkContext.defaultParallelism - 1  # a core left to the driver
    assert os.getpid() not in early.worker_pids  # Spark Python workers, not the driver
    assert early.loaded

    def worker(batch):  # defined here, so that Spark ships it by value
        return batch.assign(pid=os.getpid())

    # A grouped pandas task as the training runs. Spark hands out the idle workers of
    # a pool first come, first served, and earlier tests may have left some ahead of
    # the early ones: more tasks than the pool holds take every one of them.
    tasks = 16
    pids = {
        row["pid"] for row in spark.range(4 * tasks).repartition(tasks, "id").groupBy("id")
        .applyInPandas(worker, "id long, pid long").select("pid").collect()
    }
    assert early.worker_pids <= pids  # went back to the pool the training takes workers from


def test_series_skipped_by_stale_after_are_not_counted_as_forecast_from_old_data(spark):
    from forecasting.run_date_cut import STALE_SKIPPED

    note = "last observation 2024-01-10, 21 periods before the run date 2024-01-31"
    staged = spark.createDataFrame([
        ("ok", None, "{}", note, "prophet", 0.8),
        ("skipped", f"{STALE_SKIPPED} (20 periods): {note}", None, note, None, None),
    ], "status string, reason string, model_json string, data_notes string, model string, cv_mase double")
    assert staged_counts.status_counts(staged).stale == 1
    assert staged_counts.reason_kinds(staged) == {"skipped": [(STALE_SKIPPED, 1)]}  # one kind, whatever the dates


def read_input(version: dict) -> pipeline.CheckedInput:
    """What a run read, as say_input takes it: a data version, nothing else of note."""
    from forecasting import validation

    return pipeline.CheckedInput(version, validation.InputCounts(1, 1), None, None)


def test_a_run_says_which_periods_it_left_out_as_unsettled():
    said = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {})
    pipeline.say_input(said, read_input({"source": "x", "format": "csv"}),
                       load_config(None, ["cleaning.unsettled_periods=2"]))
    assert said.note == ("  the run date's period and the 2 before it were left out of every series' fit and scores "
                         "as still growing (cleaning.unsettled_periods), and forecast\n")
    quiet = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {})
    pipeline.say_input(quiet, read_input({"source": "x", "format": "csv"}), load_config(None, []))
    assert quiet.note == ""


def test_the_first_run_to_write_to_an_output_where_the_experiments_runs_wrote_elsewhere_says_so(spark, tmp_path):
    # a mistyped output.path (bi/sale for bi/sales) made fresh tables without a word (the walk-through of 12-07)
    from forecasting import tracking

    store = str(tmp_path / "mlruns")
    tracker = tracking.client(store)
    experiment = tracker.create_experiment("sales")
    earlier = tracker.create_run(experiment, tags={tracking.JOB_TAG: tracking.TRAIN_JOB,
                                                    tracking.OUTPUT_PATH_TAG: str(tmp_path / "bi" / "sales")})
    tracker.set_terminated(earlier.info.run_id)
    config = load_config(None, [f"tracking.uri={store}", "tracking.experiment=sales",
                                f"output.path={tmp_path / 'bi' / 'sale'}"])
    context = tracking.RunContext(store, experiment, "this-run", "2026-12-07", False, False,
                                  output_path=str(tmp_path / "bi" / "sale"))
    said = job_summary.JobSummary("2026-12-07", "r", "e", "file:///m", {})
    run_report.say_first_output(spark, config, context, said)
    assert said.note == (f"  the first run to write tables to {tmp_path / 'bi' / 'sale'}, where the newest training "
                         f"runs of experiment 'sales' wrote to {tmp_path / 'bi' / 'sales'}: a new output, or a "
                         "mistyped output.path?\n")
    (tmp_path / "bi" / "sale" / "forecasts").mkdir(parents=True)  # tables there already: nothing to ask
    quiet = job_summary.JobSummary("2026-12-07", "r", "e", "file:///m", {})
    run_report.say_first_output(spark, config, context, quiet)
    assert quiet.note == ""


def test_a_run_says_how_many_input_rows_it_left_out_as_after_its_run_date():
    # said only in the log, at INFO, which a scheduler reading the summary file never saw (the walk-through of 12-07)
    from forecasting import validation

    said = job_summary.JobSummary("2026-06-30", "r", "e", "file:///m", {})
    later = pipeline.CheckedInput({"source": "x", "format": "csv"}, validation.InputCounts(
        1210, 18, after_run_date=10, after_run_date_last="2026-07-10 00:00:00"), None, None)
    pipeline.say_input(said, later, load_config(None, []))
    assert said.note == ("  10 of 1210 input rows are after the run date 2026-06-30, up to 2026-07-10 00:00:00: left "
                         "out, not known on that date\n")


def test_a_backfill_read_at_the_latest_version_is_a_warning_and_one_read_as_it_stood_is_not(caplog):
    config = load_config(None, [])
    delta = {"source": "t", "format": "delta", "latest_version": 7, "as_of": "2024-04-01T00:00:00"}
    for read, level in (({"delta_version": 7, "as_of_found": False}, "WARNING"),
                        ({"delta_version": 3, "as_of_found": True}, "INFO")):
        caplog.clear()
        with caplog.at_level("INFO", logger="forecasting.job_summary"):
            pipeline.say_input(job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {}),
                               read_input({**delta, **read}), config)
        assert [record.levelname for record in caplog.records] == [level]


def test_the_summary_says_how_many_series_the_forecasts_and_models_tables_hold(spark, tmp_path):
    store = (tmp_path / "mlruns").as_uri()
    staged = spark.createDataFrame([
        ("ok", None, "{}", None, "prophet", 0.8, "north"),
        ("skipped", "too little history", "{}", None, "naive", None, "south"),  # forecast by the fallback
        ("skipped", "null key in ['shop']", None, None, None, None, None),  # no forecast at all
    ], "status string, reason string, model_json string, data_notes string, model string, cv_mase double, shop string")
    config = load_config(None, ["input.key_columns=[shop]"])
    said = job_summary.JobSummary(RUN_DATE, "run", "0", store, {})
    run_report.say_results(spark, staged, config, tracking.RunContext(store, "0", "run", RUN_DATE, False, False),
                           said, None, None)
    assert ("forecasts and models were written for 2 of the 3 series: the 1 ok and 1 skipped or failed forecast by "
            "the fallback (reliability.fallback); series_results has a row for each") in said.note
    without = job_summary.JobSummary(RUN_DATE, "run", "0", store, {})  # no fallback forecast
    run_report.say_results(spark, staged.where("status = 'ok' or model_json is null"), config,
                           tracking.RunContext(store, "0", "run", RUN_DATE, False, False), without, None, None)
    assert ("forecasts and models were written for 1 of the 2 series: the 1 ok; series_results has a row for each"
            in without.note)
    # nothing modelled (every series constant), each forecast by the fallback: the tables hold them all, said
    fallen_back = job_summary.JobSummary(RUN_DATE, "run", "0", store, {})
    constant = F.lit("constant series: every value is 7; fallback forecast: naive")
    run_report.say_results(spark, staged.where("status = 'skipped' and model_json is not null").withColumn(
                               "reason", constant), config,
                           tracking.RunContext(store, "0", "run", RUN_DATE, False, False), fallen_back, None, None)
    assert ("forecasts and models were written for 1 of the 1 series: the 0 ok and 1 skipped or failed forecast by "
            "the fallback (reliability.fallback)") in fallen_back.note
    evaluated = job_summary.JobSummary(RUN_DATE, "run", "0", store, {})  # an evaluation writes neither table
    run_report.say_results(spark, staged, config, tracking.RunContext(store, "0", "run", RUN_DATE, False, False,
                                                                      job=tracking.EVALUATE_JOB), evaluated, None, None)
    assert "forecasts and models were written" not in evaluated.note


def test_input_columns_the_job_does_not_use_are_named_in_the_log(spark, tmp_path, caplog):
    (tmp_path / "input.csv").write_text("store,day,sales,promo,price\na,2024-01-01,1,0,2.5\n")
    config = load_config(None, job_settings(tmp_path / "input.csv", tmp_path, ["store"], "day", "sales"))
    with caplog.at_level("INFO", logger="forecasting.pipeline"):
        pipeline.read_checked_input(spark, config, "2024-01-31")
    assert [record.getMessage() for record in caplog.records if "not used" in record.getMessage()] == [
        "input columns not used (only input.key_columns, time_column and target_column are): promo, price"]


def test_a_fault_injection_that_names_no_series_is_said_to_have_tested_nothing(spark, tmp_path):
    store = (tmp_path / "mlruns").as_uri()
    schema = ("status string, reason string, model_json string, data_notes string, model string, cv_mase double, "
              "region string, product string")
    unnamed = [("ok", None, "{}", None, "prophet", 0.8, "north", "bread")]
    context = tracking.RunContext(store, "0", "run", RUN_DATE, False, False)
    config = load_config(None, ["input.key_columns=[region, product]", "reliability.fail_series=north/bred"])
    said = job_summary.JobSummary(RUN_DATE, "run", "0", store, {})
    run_report.say_results(spark, spark.createDataFrame(unnamed, schema), config, context, said, None, None)
    assert ("reliability.fail_series 'north/bred' named no series of the input, so none was made to fail: a series' "
            "id is its key values joined by '/' (north/bread), a '/' within a value written '\\/'") in said.note
    # the task marks the series it names, failed or skipped before its training could fail: named all the same
    for status in ("failed", "skipped"):
        named = [*unnamed, (status, "x", None, spark_training.FAIL_SERIES_NOTE, None, None, "north", "bred")]
        found = job_summary.JobSummary(RUN_DATE, "run", "0", store, {})
        run_report.say_results(spark, spark.createDataFrame(named, schema), config, context, found, None, None)
        assert "named no series" not in found.note
    quiet = job_summary.JobSummary(RUN_DATE, "run", "0", store, {})  # no fault injected: nothing to say
    run_report.say_results(spark, spark.createDataFrame(unnamed, schema),
                           load_config(None, ["input.key_columns=[region, product]"]), context, quiet, None, None)
    assert "fail_series" not in quiet.note


def test_the_summarys_counts_agree_with_their_verbs():
    assert job_summary.series_that(1, "have") == "1 series has"
    assert job_summary.series_that(2, "have") == "2 series have"
    assert job_summary.series_that(1, "are", "modelled series") == "1 modelled series is"
    assert [job_summary.agreeing(1, verb) for verb in ("were", "end", "had")] == ["was", "ends", "had"]
    assert job_summary.agreeing(0, "end") == "end"  # no series end


def test_series_whose_keys_differ_only_in_letter_case_are_said_to_be_modelled_apart(spark, tmp_path):
    store = (tmp_path / "mlruns").as_uri()
    schema = ("status string, reason string, model_json string, data_notes string, model string, cv_mase double, "
              "part string, warehouse string, day date")
    day = dt.date(2024, 1, 1)
    rows = [("ok", None, "{}", None, "naive", 0.8, part, warehouse, day)
            for part, warehouse in (("000200", "DC1"), ("000200", "dc1"), ("000201", "DC1"), ("000202", "Dc2"),
                                    ("000202", "dC2"), ("000202", "DC2"), ("000203", "ÖST"), ("000203", "öst"))]
    rows.append(("ok", None, "{}", None, "naive", 0.8, "000201", "dc1", dt.date(2024, 1, 2)))  # another day: apart
    rows += [("skipped", "null key", None, None, None, None, None, warehouse, day) for warehouse in ("X", "x")]
    context = tracking.RunContext(store, "0", "run", RUN_DATE, False, False)
    said = job_summary.JobSummary(RUN_DATE, "run", "0", store, {})
    config = load_config(None, ["input.key_columns=[part, warehouse, day]"])
    icu = spark.conf.get(run_report.ICU_CASE_MAPPINGS)
    run_report.say_results(spark, spark.createDataFrame(rows, schema), config, context, said, None, None)
    # letters beyond ASCII folded too (by the JVM's case mappings, ICU's costing the job seconds to load)
    assert ("7 series have keys that differ from another series' only in letter case, e.g. 000200/DC1/2024-01-01, "
            "000200/dc1/2024-01-01, 000202/DC2/2024-01-01, 000202/Dc2/2024-01-01, 000202/dC2/2024-01-01, "
            "000203/ÖST/2024-01-01: each was "
            "kept apart, on its own rows. If they are one series, write their keys one way in the input") in said.note
    assert spark.conf.get(run_report.ICU_CASE_MAPPINGS) == icu  # a notebook's session keeps its own setting
    quiet = job_summary.JobSummary(RUN_DATE, "run", "0", store, {})
    run_report.say_results(spark, spark.createDataFrame(rows[:1] + rows[2:4], schema), config, context, quiet,
                           None, None)
    assert "letter case" not in quiet.note


def test_the_summarys_count_lines_name_a_few_of_their_series(spark):
    # an on-call's first question, which only the stale and failed lines had answered
    sparse = "rows regularly 30 periods apart: is forecast.frequency 'D' the data's?"
    staged = spark.createDataFrame([
        ("ok", None, "{}", sparse, "prophet", 0.5, store, dt.datetime(2024, 1, 1, 6)) for store in ("c", "a", "d", "b")
    ] + [("ok", None, "{}", None, "prophet", 0.5, "e", dt.datetime(2024, 1, 1))],
        "status string, reason string, model_json string, data_notes string, model string, cv_mase double, "
        "store string, opened timestamp")
    counted = staged_counts.status_counts(staged, ["store", "opened"])
    # the first and last by key, a time key as the tasks name it
    assert counted.examples["sparse"] == ["a/2024-01-01 06:00:00", "d/2024-01-01 06:00:00"]
    assert series_identity.key_text(pd.Timestamp("2024-01-01 06:00")) == "2024-01-01 06:00:00"
    said = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {})
    run_report.say_data_notes(counted, load_config(None, []), said)
    assert said.note.strip().startswith("4 series (e.g. a/2024-01-01 06:00:00, d/2024-01-01 06:00:00) have rows "
                                        "regularly several periods apart")
    assert staged_counts.status_counts(staged).examples == {}  # without keys, as the counts' own tests give them


def test_the_summarys_examples_are_asked_for_only_where_a_line_names_them(spark, monkeypatch):
    # a clean run's counts are one query: every condition's examples in it cost the job's end seconds
    stale = "last observation 2024-01-10, 21 periods before the run date 2024-01-31"
    sparse = "rows regularly 30 periods apart: is forecast.frequency 'D' the data's?"
    schema = "status string, reason string, model_json string, data_notes string, model string, cv_mase double, store string"
    asked = []
    examples = staged_counts._examples
    monkeypatch.setattr(staged_counts, "_examples", lambda *args: asked.append(sorted(args[2])) or examples(*args))
    # stale and far off: named by queries of their own (the stale ones' furthest behind, the overview's worst)
    unnamed = [("ok", None, "{}", stale, "prophet", 40.0, "a"), ("ok", None, "{}", None, "prophet", 0.5, "b")]
    quiet = staged_counts.status_counts(spark.createDataFrame(unnamed, schema), ["store"])
    assert (quiet.stale, quiet.far_off_cv, quiet.models, quiet.examples, asked) == (1, 1, 2, {}, [])
    noted = staged_counts.status_counts(
        spark.createDataFrame(unnamed + [("ok", None, "{}", sparse, "prophet", 0.5, "c")], schema), ["store"])
    assert noted.examples == {"sparse": ["c"]} and noted.stale == 1
    assert asked == [["sparse"]]  # the examples' query, only here, for the condition a line names


def test_a_fifth_of_the_series_too_short_for_the_folds_is_met_with_what_lets_them_be_modelled(spark, tmp_path):
    # events on sale for a few weeks: the fallback's flat line for each, and no word on why before
    store = (tmp_path / "mlruns").as_uri()
    schema = "status string, reason string, model_json string, data_notes string, model string, cv_mase double, " \
             "event string"
    short = "too little history: 22 periods, needs at least 112 (what 2 cross-validation folds need; ...)"
    rows = [("ok", None, "{}", None, "naive", 0.8, f"e{i}") for i in range(8)]
    rows += [("skipped", f"{short}; fallback forecast: naive", "{}", None, "naive", None, f"n{i}") for i in range(2)]
    context = tracking.RunContext(store, "0", "run", RUN_DATE, False, False)
    config = load_config(None, ["input.key_columns=[event]", "forecast.horizon=28"])
    said = job_summary.JobSummary(RUN_DATE, "run", "0", store, {})
    run_report.say_results(spark, spark.createDataFrame(rows, schema), config, context, said, None, None)
    assert ("2 series (e.g. n0, n1) had too little history for cross-validation (which needs 140 periods: 3 folds, "
            "28 periods "
            "apart, each scoring 28) and got the fallback's forecast: a shorter cross_validation.horizon, fewer folds "
            "or a smaller step let shorter series be modelled") in said.note
    one = job_summary.JobSummary(RUN_DATE, "run", "0", store, {})
    run_report.say_results(spark, spark.createDataFrame(rows[:9], schema), config, context, one, None, None)
    assert "too little history for" not in one.note  # 1 of 9: under a fifth, named without the advice
    assert "  1 series was skipped for too little history (e.g. n0; their reason says how long they are)\n" in one.note
    two = job_summary.JobSummary(RUN_DATE, "run", "0", store, {})
    more = [("ok", None, "{}", None, "naive", 0.8, f"f{i}") for i in range(4)]
    run_report.say_results(spark, spark.createDataFrame(rows + more, schema), config, context, two, None, None)
    assert "  2 series were skipped for too little history (e.g. n0, n1; " in two.note  # had read "2 series was"
    without = load_config(None, ["input.key_columns=[event]", "forecast.horizon=28", "reliability.fallback=null"])
    assert "and got no forecast (reliability.fallback): a shorter" in run_report.too_short_line(without, 2, "n0, n1")


def test_a_statistics_offices_quarter_labels_are_forecast_on_quarter_starts_and_a_91_day_step_is_warned_of(
        spark, tmp_path):
    quarters = pd.period_range("2016Q1", "2026Q3", freq="Q")
    rng = np.random.default_rng(7)
    source = pd.concat([pd.DataFrame({
        "region": region, "quarter": [f"{q.year}-Q{q.quarter}" for q in quarters],
        "turnover": 2e9 * level + 1e8 * np.tile([1, 3, 2, 5], 11)[:len(quarters)] + rng.normal(0, 1e7, len(quarters)),
    }) for region, level in (("east", 1.0), ("west", 1.5))])
    source.to_csv(tmp_path / "input.csv", index=False)
    settings = job_settings(tmp_path / "input.csv", tmp_path, ["region"], "quarter", "turnover",
                            "forecast.frequency=QS", "forecast.horizon=4", "selection.candidates=[seasonal_naive]",
                            "cross_validation.horizon=4")
    summary = pipeline.run_job(spark, load_config(None, settings), "2026-12-05")
    assert summary.counts == {"ok": 2}, summary.format()
    forecasts = spark.read.format("delta").load(str(tmp_path / "out" / "forecasts")).toPandas()
    assert sorted(set(forecasts["ds"])) == list(pd.date_range("2026-10-01", periods=4, freq="QS"))
    assert "fixed step" not in summary.format()
    # the child runs' plots: no run date drawn in the quarter still open, the values in billions
    plot = next((tmp_path / "mlruns").rglob("forecast.svg")).read_text()
    values = re.findall(r'text-anchor="end"[^>]*>([^<]*)<', plot)
    assert 'class="run-date"' not in plot and values[-1].endswith("B"), values
    # 91 days is no quarter: the grid drifts, rows move and two may merge; said once for the run
    drifting = pipeline.run_job(spark, load_config(None, [*settings, "forecast.frequency=91D",
                                                          f"output.path={tmp_path / 'days'}"]), "2026-12-05")
    assert ("forecast.frequency '91D' is a fixed step of 91 days, which drifts against calendar quarters (90 to 92 "
            "days): rows move to the dates of its grid and two may fall in one period, merged by cleaning.duplicates. "
            "Calendar quarters are QS or QE") in " ".join(drifting.format().split())


def test_the_summary_counts_the_series_whose_repeated_cycle_holds_an_outage(spark, tmp_path):
    series = {shop: daily_series(120, level=3e6, seed=s) for s, shop in enumerate(("login", "home"))}
    series["login"].loc[115, "y"] = 0.0  # an outage in the last week
    pd.concat([frame.assign(shop=shop) for shop, frame in series.items()]).to_csv(
        tmp_path / "input.csv", index=False, date_format="%Y-%m-%d")
    settings = job_settings(tmp_path / "input.csv", tmp_path, ["shop"], "ds", "y",
                            "selection.candidates=[seasonal_naive]")
    said = " ".join(pipeline.run_job(spark, load_config(None, settings), "2024-04-30").format().split())
    assert ("1 modelled series (e.g. login) is forecast repeating a last cycle that holds a value far from that "
            "time's in the cycles before (their data_notes name it): an outage's 0 or a one-off spike, forecast as "
            "if it recurred?") in said


def test_staged_results_that_lost_files_are_refused_before_any_table_is_written(spark, tmp_path, monkeypatch):
    # a second run of the date had removed the first's staging folder as stale: the first published 2 of 24 series
    source = pd.concat([daily_series(60, seed=s).assign(shop=shop) for s, shop in enumerate("abcd")])
    source.to_csv(tmp_path / "input.csv", index=False, date_format="%Y-%m-%d")
    config = load_config(None, job_settings(tmp_path / "input.csv", tmp_path, ["shop"], "ds", "y",
                                            "selection.candidates=[naive]", "spark.shuffle_partitions=4"))
    staged_by = pipeline.stage

    def staged_then_lost(*args, **kwargs):
        path = staged_by(*args, **kwargs)
        parts = sorted(Path(path.removeprefix("file:")).glob("part-*.parquet"))
        if len(parts) > 1:
            parts[0].unlink()
        return path

    monkeypatch.setattr(pipeline, "stage", staged_then_lost)
    with pytest.raises(RuntimeError, match=r"4 series in the input but [0-3] staged results: their folder .* lost "
                                           r"files \(removed by another run of this date\?\); nothing was written"):
        pipeline.run_job(spark, config, "2024-02-29")
    assert not (tmp_path / "out" / "forecasts").exists()
    monkeypatch.undo()
    pipeline.run_job(spark, config, "2024-02-29")
    from forecasting import scoring

    monkeypatch.setattr(scoring, "stage", staged_then_lost)  # scoring's staged forecasts, as training's
    with pytest.raises(RuntimeError, match=r"4 models to score but [0-3] staged results: .* nothing was written"):
        scoring.run_scoring(spark, config, "2024-03-02")
    written = tables.read_table(spark, config, tables.FORECASTS)
    assert written.where(F.col("source") == tables.SCORED).count() == 0


def test_a_failure_before_training_ends_the_run_failed_and_its_heartbeat(spark, tmp_path, monkeypatch):
    # between the parent run's start and training: a notebook's process had kept beating for a dead run
    from forecasting import heartbeat

    source = pd.concat([daily_series(60, seed=s).assign(shop=shop) for s, shop in enumerate("ab")])
    source.to_csv(tmp_path / "input.csv", index=False, date_format="%Y-%m-%d")
    config = load_config(None, job_settings(tmp_path / "input.csv", tmp_path, ["shop"], "ds", "y",
                                            "selection.candidates=[naive]"))

    def broken(*args):
        raise RuntimeError("the catalog is down")

    monkeypatch.setattr(run_report, "say_unfinished", broken)
    with pytest.raises(RuntimeError, match="the catalog is down"):
        pipeline.run_job(spark, config, "2024-02-29")
    [run] = mlflow.MlflowClient(config.tracking.uri).search_runs(
        [mlflow.MlflowClient(config.tracking.uri).get_experiment_by_name(config.tracking.experiment).experiment_id])
    assert run.info.status == "FAILED" and run.info.run_id not in heartbeat._beating
