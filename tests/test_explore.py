"""The notebook's helpers, without Spark: runs (``explore``) and the output tables (``table_reads``)."""
import datetime as dt
import re
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from forecasting import explore, series_identity, table_reads, tracking
from forecasting.config import load_config


def test_a_time_key_is_found_by_the_text_its_tags_show(tmp_path):
    # the tasks see times in UTC without a zone, so the tags say "2024-01-01 00:00:00"
    # where a Delta table gives the time back with its zone (and a parquet file may too)
    stamps = pd.to_datetime(["2024-01-01 01:00+01:00", "2024-01-01 00:00Z", "2024-02-01 00:00Z"], utc=True)
    table = pd.DataFrame({"cohort": stamps, "day": ["2024-01-05", "2024-01-06", "2024-01-05"], "sales": [1, 2, 9]})
    table.to_parquet(tmp_path / "input.parquet")
    tag = series_identity.key_text(pd.Timestamp("2024-01-01"))  # as a task's pandas group has it
    assert tag == series_identity.key_text(stamps[0]) == "2024-01-01 00:00:00"

    found = table_reads.read_series(tmp_path / "input.parquet", {"cohort": tag}, fmt="parquet")
    assert found["sales"].tolist() == [1, 2]
    config = load_config(None, [f"input.path={tmp_path / 'input.parquet'}", "input.format=parquet",
                                "input.key_columns=[cohort]", "input.time_column=day", "input.target_column=sales"])
    assert explore.load_history(config.to_dict(), {"cohort": tag})["y"].tolist() == [1, 2]


def test_a_parquet_tables_older_int96_times_and_newer_utc_times_read_alike(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    # a parquet output table written before its times became microseconds in UTC, its first date rerun since:
    # pyarrow takes the first file's type for all, which flipped from naive to zoned with that rerun
    midnight = pd.Timestamp("2024-01-02")
    for run_date, kind, int96 in (("2024-01-01", pa.timestamp("us", "UTC"), False),
                                  ("2024-01-08", pa.timestamp("ns"), True)):
        folder = tmp_path / "forecasts" / f"run_date={run_date}"
        folder.mkdir(parents=True)
        stamp = midnight.value if int96 else midnight.value // 1000
        pq.write_table(pa.table({"store": ["a"], "ds": pa.array([stamp], kind)}), folder / "part-0.parquet",
                       use_deprecated_int96_timestamps=int96)
    rows = table_reads.read_series(tmp_path / "forecasts", {"store": "a"}, fmt="parquet")
    assert rows["ds"].dtype == "datetime64[ns]" and rows["ds"].tolist() == [midnight, midnight]
    # the partition folders' run dates as dates, as a Delta table gives them (text matched no date)
    assert sorted(rows["run_date"]) == [dt.date(2024, 1, 1), dt.date(2024, 1, 8)]


def test_a_missing_file_store_is_not_found_and_not_created(tmp_path):
    store = tmp_path / "mlruns"
    with pytest.raises(LookupError, match=f"no MLflow store at {store}"):
        explore.latest_job_run(store.as_uri(), "many-model-forecasting")
    assert not store.exists()


@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_an_integer_key_with_a_null_keeps_the_text_its_tags_show(tmp_path, fmt):
    # pyarrow gives an integer column holding a null as floats: the key 2 would read "2.0",
    # neither the tags' text nor the series hash the job logged ("2")
    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake import write_deltalake

    from forecasting import tracking

    rows = pa.table({"item": pa.array([2, 2, None, 3], pa.int64()),
                     "day": ["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-01"], "sales": [4.0, 5.0, 7.0, 9.0]})
    path = tmp_path / "input"
    if fmt == "delta":
        write_deltalake(str(path), rows)
        table = table_reads.read_table(path)
    else:  # as Spark writes it: no pandas metadata to restore the type from
        pq.write_table(rows, path.with_suffix(".parquet"))
        path = path.with_suffix(".parquet")
        table = table_reads.read_series(path, {"item": "2"}, fmt="parquet")
    item = table.loc[table["day"] == "2024-01-02", "item"].iloc[0]
    assert series_identity.key_text(item) == "2"

    config = load_config(None, [f"input.path={path}", f"input.format={fmt}", "input.key_columns=[item]",
                                "input.time_column=day", "input.target_column=sales"]).to_dict()
    for key in (item, "2"):
        assert explore.load_history(config, {"item": key})["y"].tolist() == [4.0, 5.0]
    for key in (None, "<null>", pd.NA):
        assert explore.load_history(config, {"item": key})["y"].tolist() == [7.0]

    # the child runs as the job tags them: the Spark row's int, a null as None
    uri = (tmp_path / "mlruns").as_uri()
    client = tracking.client(uri)
    experiment_id = client.create_experiment("forecasts")
    hashed = {value: series_identity.series_hash({"item": value}) for value in (2, None)}
    tagged = {value: client.create_run(experiment_id, tags={series_identity.SERIES_HASH_TAG: digest}).info.run_id
              for value, digest in hashed.items()}
    assert explore.series_runs(uri, experiment_id, {"item": item})["run_id"].tolist() == [tagged[2]]
    null_item = pd.array([None], dtype="Int64")[0]  # a nullable column's missing value
    assert explore.series_runs(uri, experiment_id, {"item": null_item})["run_id"].tolist() == [tagged[None]]

    # children of a job run that a rerun of its date replaced say so, the rerun's do not
    replaced = client.create_run(experiment_id, tags={tracking.SUPERSEDED_TAG: "the-rerun"}).info.run_id
    current = client.create_run(experiment_id).info.run_id
    nine = {series_identity.SERIES_HASH_TAG: series_identity.series_hash({"item": "9"})}
    for parent in (replaced, current):
        client.create_run(experiment_id, tags={tracking.PARENT_TAG: parent, **nine})
    runs = explore.series_runs(uri, experiment_id, {"item": "9"})
    assert dict(zip(runs[f"tags.{tracking.PARENT_TAG}"], runs["replaced_by"])) == {replaced: "the-rerun", current: None}
    # another config's job run, sharing the experiment and the series' keys: left out given the output
    other = client.create_run(experiment_id, tags={tracking.OUTPUT_PATH_TAG: "/data/other"}).info.run_id
    client.set_tag(current, tracking.OUTPUT_PATH_TAG, "/data/sales")
    client.create_run(experiment_id, tags={tracking.PARENT_TAG: other, **nine})
    runs = explore.series_runs(uri, experiment_id, {"item": "9"})
    assert sorted(runs["output"].fillna("-")) == ["-", "/data/other", "/data/sales"]
    ours = explore.series_runs(uri, experiment_id, {"item": "9"}, output="/data/sales")
    assert ours[f"tags.{tracking.PARENT_TAG}"].tolist() == [current]
    # a relative folder, as a notebook in the project names it: the tag holds it absolute (it had found none)
    client.set_tag(other, tracking.OUTPUT_PATH_TAG, str(Path("output").resolve()))
    relative = explore.series_runs(uri, experiment_id, {"item": "9"}, output="output")
    assert relative[f"tags.{tracking.PARENT_TAG}"].tolist() == [other]
    # a job run of code from before the output_path tag: its output.path param tells (an upgrade's walk-through of
    # 12-07: the notebook had shown only the series' runs since the upgrade)
    older = client.create_run(experiment_id).info.run_id
    client.log_param(older, "output.path", "/data/sales/")
    older_child = client.create_run(experiment_id, tags={tracking.PARENT_TAG: older, **nine}).info.run_id
    ours = explore.series_runs(uri, experiment_id, {"item": "9"}, output="/data/sales")
    assert sorted(ours[f"tags.{tracking.PARENT_TAG}"]) == sorted([current, older])
    client.delete_run(older_child)
    # a series no run logged: an empty frame of runs, its columns kept (the review of 12-07: none, then KeyError)
    none = explore.series_runs(uri, experiment_id, {"item": "no-such"}, output="/data/sales", job="train_forecast")
    assert none.empty and {"run_id", "job", "output"} <= set(none.columns)
    # an evaluation's run of the same series and output: kept apart by job (a run from before the tag kept)
    evaluated = client.create_run(experiment_id, tags={tracking.PARENT_TAG: current, **nine,
                                                       tracking.FROM_JOB_TAG: "evaluate_forecast"}).info.run_id
    trained = client.create_run(experiment_id, tags={tracking.PARENT_TAG: current, **nine,
                                                     tracking.FROM_JOB_TAG: "train_forecast"}).info.run_id
    both = explore.series_runs(uri, experiment_id, {"item": "9"}, output="/data/sales")
    assert set(both["run_id"]) > {evaluated, trained} and set(both["job"].dropna()) == {"evaluate_forecast",
                                                                                          "train_forecast"}
    training = explore.series_runs(uri, experiment_id, {"item": "9"}, output="/data/sales", job="train_forecast")
    assert evaluated not in set(training["run_id"]) and trained in set(training["run_id"]) and len(training) == 2


def _job_run(run_id: str, output_path: str = "/data/forecasts", **tags):
    tags = {"run_date": "2024-01-02", "output_path": output_path, **tags}
    return SimpleNamespace(info=SimpleNamespace(run_id=run_id), data=SimpleNamespace(tags=tags, params={}))


def test_a_job_runs_rows_are_its_own_not_another_runs_of_the_same_date(tmp_path):
    from deltalake import write_deltalake

    path = tmp_path / "series_results"
    rows = pd.DataFrame({"store": ["a", "b", "a"], "run_date": ["2024-01-02"] * 3, "job_run_id": ["r1", "r1", "r2"],
                         "history_end": pd.to_datetime(["2024-01-02"] * 3, utc=True)})
    write_deltalake(str(path), rows, partition_by=["run_date"])
    mine = table_reads.job_rows(path, _job_run("r2"))
    assert mine["store"].tolist() == ["a"] and mine["job_run_id"].tolist() == ["r2"]
    assert mine["history_end"].dtype == "datetime64[ns]"  # as read_table gives times

    # its tables are elsewhere: another config's run in the same experiment, on the same date
    with pytest.raises(LookupError, match=r"no rows of job run r3 \(run date 2024-01-02\) in .*series_results: "
                                          r"it wrote its tables to /data/forecasts\. Read the tables there"):
        table_reads.job_rows(path, _job_run("r3"))
    with pytest.raises(LookupError, match="it wrote its tables to output, relative to the folder it ran in"):
        table_reads.job_rows(path, _job_run("r3", "output"))
    # an earlier run of the date, whose rows a rerun replaced
    with pytest.raises(LookupError, match=r"no rows of job run r0 .*: the later run r2 of that date replaced them"):
        table_reads.job_rows(path, _job_run("r0", str(tmp_path), superseded_by="r2"))
    # FORECAST_OUTPUT pointing where no table is: the same answer, not deltalake's own error
    with pytest.raises(LookupError, match=r"no table, so no rows of job run r3 .* in .*nowhere/series_results: "
                                          r"it wrote its tables to /data/forecasts\. Read the tables there"):
        table_reads.job_rows(tmp_path / "nowhere" / "series_results", _job_run("r3"))


def _parquet_table(path, rows: pd.DataFrame) -> None:
    """A parquet output table as the job's Spark writes it: run_date folders, a _SUCCESS file."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    ds.write_dataset(pa.Table.from_pandas(rows, preserve_index=False), str(path), format="parquet",
                     partitioning=["run_date"], partitioning_flavor="hive", existing_data_behavior="overwrite_or_ignore",
                     basename_template=f"part-{rows['job_run_id'].iloc[0]}-{{i}}.parquet")
    (path / "_SUCCESS").write_text("")


def test_a_parquet_output_tables_rows_are_read_by_job_run_without_versions(tmp_path):
    path = tmp_path / "series_results"
    _parquet_table(path, pd.DataFrame({"store": ["a", "b"], "run_date": ["2024-01-02"] * 2, "job_run_id": ["r2"] * 2,
                                       "history_end": pd.to_datetime(["2024-01-02"] * 2, utc=True)}))
    _parquet_table(path, pd.DataFrame({"store": ["a"], "run_date": ["2024-01-09"], "job_run_id": ["r3"],
                                       "history_end": pd.to_datetime(["2024-01-09"], utc=True)}))
    mine = table_reads.job_rows(path, _job_run("r2"), "parquet")
    assert sorted(mine["store"]) == ["a", "b"] and set(mine["job_run_id"]) == {"r2"}
    assert mine["run_date"].tolist() == [dt.date(2024, 1, 2)] * 2  # a date, as Delta gives it, not the folder's text
    assert mine["history_end"].dtype == "datetime64[ns]"
    everything = table_reads.read_table(path, fmt="parquet")
    assert sorted(everything["job_run_id"]) == ["r2", "r2", "r3"]
    # read as Delta, the default: deltalake's "no log files" did not say what the folder holds
    from deltalake.exceptions import TableNotFoundError

    spaced = tmp_path / "a folder" / "series_results"
    _parquet_table(spaced, pd.DataFrame({"store": ["a"], "run_date": ["2024-01-02"], "job_run_id": ["r2"]}))
    for given in (path, path.as_uri(), spaced.as_uri(), f"file:{spaced}"):
        with pytest.raises(TableNotFoundError, match=r"holds parquet files but no Delta log .*fmt='parquet'"):
            table_reads.read_table(given)
    with pytest.raises(TableNotFoundError) as nowhere:
        table_reads.read_table(tmp_path / "nowhere")
    assert "fmt=" not in str(nowhere.value)
    for pinned in ({"version": 0}, {"timestamp": "2024-01-03"}):
        with pytest.raises(ValueError, match="a parquet table, which keeps no versions"):
            table_reads.read_table(path, fmt="parquet", **pinned)
    # a run whose rows a rerun replaced: gone, and said why
    with pytest.raises(LookupError, match=r"no rows of job run r1 .*: the later run r2 of that date replaced them "
                                          r"\(a parquet table keeps no older versions\)"):
        table_reads.job_rows(path, _job_run("r1", str(tmp_path), superseded_by="r2"), "parquet")
    with pytest.raises(LookupError, match=r"no table, so no rows of job run r2 .* in .*nowhere"):
        table_reads.job_rows(tmp_path / "nowhere", _job_run("r2"), "parquet")
    assert len(table_reads.job_rows(path.as_uri(), _job_run("r2"), "parquet")) == 2  # a URI, as Delta's take
    # a run of its date's own, nothing replaced: not said to be gone
    with pytest.raises(LookupError) as missing:
        table_reads.job_rows(path, _job_run("r9"), "parquet")
    assert "keeps no older versions" not in str(missing.value)


def test_a_delta_table_with_column_mapping_is_refused_with_how_to_read_it(spark, tmp_path):
    """A column name with a space needs Delta's column mapping, which deltalake cannot read."""
    path = str(tmp_path / "arrivals")
    spark.sql(f"CREATE TABLE delta.`{path}` (`Hospital Name` string, day string, arrivals double) USING delta "
              "TBLPROPERTIES ('delta.columnMapping.mode' = 'name')")
    spark.sql(f"INSERT INTO delta.`{path}` VALUES ('St. Mary', '2024-01-01', 3.0)")
    with pytest.raises(ValueError, match=r"cannot be read without Spark: .*ColumnMapping.*Read it with Spark"):
        table_reads.read_table(path)
    config = load_config(None, [f"input.path={path}", "input.format=delta", "input.key_columns=[Hospital Name]",
                                "input.time_column=day", "input.target_column=arrivals",
                                "output.format=parquet"]).to_dict()
    with pytest.raises(ValueError, match="cannot be read without Spark"):  # the notebook shows the forecast alone
        explore.load_history(config, {"Hospital Name": "St. Mary"})


def test_a_replaced_runs_rows_are_read_from_the_version_its_commit_names(tmp_path, caplog):
    from deltalake import CommitProperties, DeltaTable, write_deltalake

    def write(rows, metadata, mode="append"):
        # as Spark's userMetadata option writes it (tables.write_slice)
        write_deltalake(str(path), rows, mode=mode, commit_properties=CommitProperties(
            custom_metadata={"userMetadata": metadata}))

    path = tmp_path / "series_results"
    write(pd.DataFrame({"store": ["a"], "run_date": ["2024-01-02"], "job_run_id": ["r1"]}), '{"job_run_id": "r1"}')
    write(pd.DataFrame({"store": ["a"], "run_date": ["2024-01-02"], "job_run_id": ["r2"]}), '{"job_run_id": "r2"}',
          mode="overwrite")  # the rerun of the date
    write(pd.DataFrame({"store": ["b"], "run_date": ["2024-01-09"], "job_run_id": ["r3"]}), "another writer's text")
    assert [table_reads.version_written_by(path, run) for run in ("r1", "r2", "r3")] == [0, 1, None]

    replaced = table_reads.job_rows(path, _job_run("r1", str(tmp_path), superseded_by="r2"))
    assert replaced["job_run_id"].tolist() == ["r1"]
    assert "the rows of job run r1 in" in caplog.text and "replaced by the later run r2: these are from version 0" \
        in caplog.text
    assert table_reads.job_rows(path, _job_run("r2"))["job_run_id"].tolist() == ["r2"]
    # rows deleted (a run date removed as docs/results.md says), no rerun: not said to be replaced by one
    DeltaTable(str(path)).delete("job_run_id = 'r2'")
    caplog.clear()
    assert table_reads.job_rows(path, _job_run("r2"))["job_run_id"].tolist() == ["r2"]
    assert "are no longer in the table's current version (deleted, or replaced): these are from version 1" in caplog.text

    DeltaTable(str(path)).vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    with pytest.raises(LookupError, match=r"the later run r2 of that date replaced them \(version 0, which it wrote, "
                                          r"cannot be read: .*VACUUM removes old versions' files\)"):
        table_reads.job_rows(path, _job_run("r1", str(tmp_path), superseded_by="r2"))


def test_a_runs_overview_is_read_from_its_parent_run_and_an_older_run_has_none(tmp_path):
    from forecasting import run_overview, tracking

    client = tracking.client((tmp_path / "mlruns").as_uri())
    experiment_id = client.create_experiment("overviews")
    drawn, older = (client.create_run(experiment_id).info.run_id for _ in range(2))
    client.log_text(drawn, "<svg/>", run_overview.ARTIFACT)
    client.log_text(older, "x: 1", "config/resolved.yaml")
    assert explore.job_overview((tmp_path / "mlruns").as_uri(), drawn) == "<svg/>"
    assert explore.job_overview((tmp_path / "mlruns").as_uri(), older) is None


def test_a_comparison_with_a_date_run_again_since_is_said_to_be_with_its_forecasts_as_they_were(tmp_path):
    # a walk-through of 12-07: the notebook listed changes against a date's replaced forecasts without a word
    from forecasting import replaced_runs, tracking

    uri = (tmp_path / "mlruns").as_uri()
    client = tracking.client(uri)
    experiment_id = client.create_experiment("forecasting")

    def ran(run_date, start, output="/out", status="FINISHED", **tags):
        run_id = client.create_run(experiment_id, start_time=replaced_runs.FAILED_AFTER_WRITING_SINCE + start, tags={
            "job": "train_forecast", "run_date": run_date, "output_path": output, **tags}).info.run_id
        client.set_terminated(run_id, status=status)
        return run_id

    ran("2025-12-16", 1_000)
    later = ran("2025-12-30", 2_000, compared_run_date="2025-12-16")

    def said():
        return explore.stale_comparison(uri, client.get_run(later))

    assert said() is None
    ran("2025-12-16", 3_000, output="/elsewhere")  # another config's output: not this one's date run again
    ran("2025-12-16", 3_500, status="FAILED")  # a rerun that failed before writing replaced nothing
    assert said() is None
    ran("2025-12-16", 4_000, status="FAILED", failed_after_writing="yes")  # one that failed after it did
    assert said() == ("forecast_change and the realized_ columns compare with the forecasts of run date 2025-12-16 "
                      "as they were then: 2025-12-16 was run again since (run 2025-12-30 again to compare with its "
                      "current forecasts)")
    assert explore.stale_comparison(uri, client.get_run(ran("2025-12-23", 5_000))) is None  # no comparison made


def _notebook_namespace() -> dict:
    """The notebook's code cells run in order, as Jupyter would run them; their names."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "notebooks" / "explore_forecasts.ipynb"
    notebook = json.loads(path.read_text())
    import matplotlib.pyplot as plt

    namespace: dict = {}
    try:
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                exec(compile("".join(cell["source"]), "explore_forecasts.ipynb", "exec"), namespace)
    finally:
        plt.close("all")  # Jupyter shows a cell's figures and lets them go; a test run keeps them
    return namespace


@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_the_notebook_shows_the_latest_job_runs_own_rows_and_its_history_up_to_its_run_date(tmp_path, monkeypatch,
                                                                                             fmt):
    import yaml
    from deltalake import write_deltalake

    from forecasting import tracking

    # a backfill of 10 January, the input since grown to the 20th
    days = pd.date_range("2024-01-01", "2024-01-20", freq="D")
    pd.DataFrame({"store": "a", "day": days.strftime("%Y-%m-%d"), "sales": range(1, 21)}).to_csv(
        tmp_path / "input.csv", index=False)
    config = load_config(None, [f"input.path={tmp_path / 'input.csv'}", "input.key_columns=[store]",
                                "input.time_column=day", "input.target_column=sales",
                                f"output.format={fmt}"]).to_dict()
    uri, output, run_date = (tmp_path / "mlruns").as_uri(), tmp_path / "output", "2024-01-10"
    client = tracking.client(uri)
    experiment_id = client.create_experiment("many-model-forecasting")

    def job_run(started: int, output_path) -> str:
        tags = {"job": "train_forecast", "run_date": run_date, "data_version": "3f2a9c",
                "output_path": str(output_path)}
        run_id = client.create_run(experiment_id, start_time=started, tags=tags).info.run_id
        client.log_text(run_id, yaml.safe_dump(config), "config/resolved.yaml")
        client.set_terminated(run_id)
        child = client.create_run(experiment_id, start_time=started, tags={
            tracking.PARENT_TAG: run_id, series_identity.SERIES_HASH_TAG: series_identity.series_hash({"store": "a"}),
            "run_date": run_date, "status": "ok", "model": "prophet"})
        client.log_metric(child.info.run_id, "cv_smape", 10.0)
        client.log_metric(child.info.run_id, "cv_mase", 0.5)
        return run_id

    # two runs of the date whose rows the folder holds (the first's left over, as a failed write leaves them)
    earlier, latest = job_run(1_000, output), job_run(2_000, output)
    ahead = pd.date_range("2024-01-11", periods=3, freq="D")
    for run_id, level in ((earlier, 100.0), (latest, 200.0)):
        common = {"store": "a", "run_date": run_date, "job_run_id": run_id}
        result = {**common, "status": "ok", "model": "prophet", "cv_mae": 1.0, "cv_smape": level, "cv_mase": 0.5}
        forecast = {**common, "ds": ahead, "yhat": level, "yhat_lower": level - 1, "yhat_upper": level + 1,
                    "source": "trained"}
        for name, rows in (("series_results", pd.DataFrame([result])), ("forecasts", pd.DataFrame(forecast))):
            if fmt == "delta":
                write_deltalake(str(output / name), rows, mode="append")
            else:
                _parquet_table(output / name, rows)
    monkeypatch.setenv("FORECAST_OUTPUT", str(output))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MPLBACKEND", "Agg")

    shown = _notebook_namespace()
    assert shown["job"].info.run_id == latest
    assert shown["results"]["job_run_id"].tolist() == [latest]
    assert shown["forecast"]["yhat"].tolist() == [200.0] * 3  # not the earlier run's rows as well
    assert shown["history"]["ds"].max() == pd.Timestamp(run_date)  # where its forecast starts
    assert shown["history"]["y"].tolist() == list(range(1, 11))
    # the input corrected since (3 January's 3 now 99): with the run's models table, the history its model was
    # fitted on, not today's input (a walk-through of 12-07 saw the corrected value drawn under the old forecast)
    from forecasting import model_store

    fitted = pd.DataFrame({"ds": days[:10], "y": [float(n) for n in range(1, 11)]})
    pd.DataFrame({"store": "a", "day": days.strftime("%Y-%m-%d"), "sales": [1, 2, 99, *range(4, 21)]}).to_csv(
        tmp_path / "input.csv", index=False)
    assert _notebook_namespace()["history"]["y"].tolist()[2] == 99  # no models table: the input as it is now
    model_row = pd.DataFrame([{"store": "a", "run_date": run_date, "job_run_id": latest, "model": "naive",
                               "model_json": model_store.dump("naive", fitted)}])
    if fmt == "delta":
        write_deltalake(str(output / "models"), model_row, mode="append")
    else:
        _parquet_table(output / "models", model_row)
    assert _notebook_namespace()["history"]["y"].tolist() == list(range(1, 11))
    # a relative FORECAST_OUTPUT is the project folder's, above notebooks/ where Jupyter starts
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    monkeypatch.setenv("FORECAST_OUTPUT", "output")
    assert _notebook_namespace()["results"]["job_run_id"].tolist() == [latest]

    # the latest run is another config's, sharing the experiment and the date: the output's own is shown
    job_run(3_000, tmp_path / "other-output")
    assert _notebook_namespace()["job"].info.run_id == latest
    # and a folder no run wrote to is said to be so, with where the latest wrote
    monkeypatch.setenv("FORECAST_OUTPUT", "nowhere")
    elsewhere = re.escape(f"wrote its tables to {tmp_path / 'nowhere'}: the latest wrote to {tmp_path / 'other-output'}")
    with pytest.raises(LookupError, match=elsewhere):
        _notebook_namespace()
    # a past run date's forecast, explained: FORECAST_RUN_DATE picks that date's latest run
    monkeypatch.setenv("FORECAST_OUTPUT", str(output))
    monkeypatch.setenv("FORECAST_RUN_DATE", run_date)
    assert _notebook_namespace()["job"].info.run_id == latest
    monkeypatch.setenv("FORECAST_RUN_DATE", "2024-01-03")
    with pytest.raises(LookupError, match="no finished train_forecast run of run date 2024-01-03 in experiment "
                                          "'many-model-forecasting': it has run dates 2024-01-10$"):
        _notebook_namespace()
    monkeypatch.setenv("FORECAST_RUN_DATE", "2024-1-3x")  # no date at all: the latest ones, not pandas' error
    with pytest.raises(LookupError, match="run of run date 2024-1-3x in .*: it has run dates 2024-01-10$"):
        _notebook_namespace()
    # one training run by its id (a replaced one, explained), whichever run the date's latest is
    monkeypatch.setenv("FORECAST_JOB_RUN", earlier)
    monkeypatch.setenv("FORECAST_RUN_DATE", run_date)
    shown = _notebook_namespace()
    assert shown["job"].info.run_id == earlier and shown["forecast"]["yhat"].tolist() == [100.0] * 3
    # asked for by two variables that pick different runs: said, not the id's silently shown
    monkeypatch.setenv("FORECAST_RUN_DATE", "2024-01-03")
    with pytest.raises(LookupError, match=f"job run {earlier} is of run date {run_date}, not 2024-01-03"):
        _notebook_namespace()
    monkeypatch.delenv("FORECAST_RUN_DATE")
    monkeypatch.setenv("FORECAST_EXPERIMENT", "airports")
    with pytest.raises(LookupError, match="is in experiment 'many-model-forecasting', not 'airports'"):
        _notebook_namespace()
    monkeypatch.setenv("FORECAST_EXPERIMENT", "many-model-forecasting")
    assert _notebook_namespace()["job"].info.run_id == earlier
    monkeypatch.delenv("FORECAST_EXPERIMENT")
    # FORECAST_SERIES: a series by its id or its keys, where the notebook showed the highest CV MASE's alone
    for asked in ("a", "store=a"):
        monkeypatch.setenv("FORECAST_SERIES", asked)
        assert _notebook_namespace()["series_keys"] == {"store": "a"}
    monkeypatch.setenv("FORECAST_SERIES", "zz")
    with pytest.raises(LookupError, match="no rows of series zz; the table has e.g. a"):
        _notebook_namespace()
    monkeypatch.delenv("FORECAST_SERIES")
    monkeypatch.setenv("FORECAST_JOB_RUN", "no-such-run")
    with pytest.raises(LookupError, match="no run no-such-run in the MLflow store"):
        _notebook_namespace()
    monkeypatch.delenv("FORECAST_JOB_RUN")
    # the run date the shown run compared its forecasts with, run again since: its change columns are said stale
    assert _notebook_namespace()["stale_comparison"] is None
    client.set_tag(latest, tracking.COMPARED_RUN_DATE_TAG, "2024-01-03")
    client.set_terminated(client.create_run(experiment_id, start_time=4_000, tags={
        "job": "train_forecast", "run_date": "2024-01-03", "output_path": str(output)}).info.run_id)
    assert _notebook_namespace()["stale_comparison"].startswith(
        "forecast_change and the realized_ columns compare with the forecasts of run date 2024-01-03 as they were then")


def test_a_blank_countrys_history_is_read_as_the_job_keyed_it(tmp_path):
    # an empty CSV field: null to pandas, blank text in the tables (validation.with_blank_countries)
    (tmp_path / "input.csv").write_text("store,country,day,sales\n1,,2024-01-01,5\n1,,2024-01-02,6\n2,de,2024-01-01,7\n")
    config = load_config(None, [f"input.path={tmp_path / 'input.csv'}", "input.key_columns=[store, country]",
                                "input.time_column=day", "input.target_column=sales",
                                "model.country_holidays_column=country"]).to_dict()
    assert explore.load_history(config, {"store": "1", "country": ""})["y"].tolist() == [5.0, 6.0]


def test_a_series_history_is_drawn_on_the_forecasts_periods_and_its_rows_found_by_keys_as_text():
    config = load_config(None, ["forecast.frequency=W-MON", "cleaning.gaps=zero"]).to_dict()
    rows = pd.DataFrame({"ds": pd.date_range("2025-06-03", "2025-11-30"), "y": 100.0})  # Tuesday to Sunday
    weeks = explore.modelled_history(config, rows, "2025-12-01", input_end="2025-11-30")
    # weeks ending Monday beside a weekly forecast, not days; the week to Monday 1 December has six days: left out
    assert weeks["ds"].iloc[-1] == pd.Timestamp("2025-11-24") and (weeks["y"] == 700.0).all()
    # the whole input reaching Monday (the run's input_end tag): that week is whole, its Monday sold nothing
    assert explore.modelled_history(config, rows, "2025-12-01", input_end="2025-12-01")["y"].iloc[-1] == 600.0
    # hours summed into days: an older run's input_end tag, a date alone, is that whole day, as the job read it then
    hours = pd.DataFrame({"ds": pd.date_range("2025-11-01", "2025-11-30 23:00", freq="h"), "y": 1.0})
    daily = load_config(None, ["forecast.frequency=D"]).to_dict()
    assert explore.modelled_history(daily, hours, "2025-12-01",
                                    input_end="2025-11-30")["ds"].iloc[-1] == pd.Timestamp("2025-11-30")
    assert explore.modelled_history(daily, hours, "2025-12-01",
                                    input_end="2025-11-30T00:00:00")["ds"].iloc[-1] == pd.Timestamp("2025-11-29")
    refusing = load_config(None, ["forecast.frequency=W-MON", "cleaning.missing_values=reject"]).to_dict()
    gappy = rows.assign(y=[np.nan, *[1.0] * (len(rows) - 1)])
    pd.testing.assert_frame_equal(explore.modelled_history(refusing, gappy, "2025-12-01"), gappy)  # as they are
    table = pd.DataFrame({"store": ["12", "12", "3"], "family": ["dairy"] * 3, "yhat": [1.0, 2.0, 3.0]})
    assert explore.series_rows(table, {"store": 12, "family": "dairy"})["yhat"].tolist() == [1.0, 2.0]  # a CSV's "12"
    with pytest.raises(LookupError, match=r"no rows of series 13/dairy; the table has e\.g\. 12/dairy, 3/dairy"):
        explore.series_rows(table, {"store": 13, "family": "dairy"})


def test_a_series_asked_for_by_its_id_or_keys_is_found_among_a_runs_rows_as_the_table_types_them():
    results = pd.DataFrame({"store": ["north east", "south", "a/b"], "item": [12, 12, 7]})
    assert explore.asked_series("south/12", results, ["store", "item"]) == {"store": "south", "item": 12}
    assert explore.asked_series('store="north east" item=12', results, ["store", "item"]) == {
        "store": "north east", "item": 12}
    assert explore.asked_series("north east/12", results, ["store", "item"])["store"] == "north east"
    assert explore.asked_series("a\\/b/7", results, ["store", "item"]) == {"store": "a/b", "item": 7}
    with pytest.raises(ValueError, match="name every key column: item=... missing"):
        explore.asked_series("store=south", results, ["store", "item"])
    with pytest.raises(LookupError, match="no rows of series south/13; the table has e.g. "):
        explore.asked_series("south/13", results, ["store", "item"])


def test_the_latest_job_run_is_the_latest_finished_one(tmp_path, monkeypatch):
    store = str(tmp_path / "mlruns")
    tracker = tracking.client(store)
    experiment = tracker.create_experiment("forecasting")
    finished, failed = (tracker.create_run(experiment, start_time=start, tags={tracking.JOB_TAG: tracking.TRAIN_JOB})
                        for start in (1_700_000_000_000, 1_700_000_100_000))
    tracker.set_terminated(finished.info.run_id, status="FINISHED")
    tracker.set_terminated(failed.info.run_id, status="FAILED")  # newer, but it failed
    assert explore.latest_job_run(store, "forecasting").info.run_id == finished.info.run_id
    # configs sharing the experiment: the newest run of the output asked for, not of another
    other = tracker.create_run(experiment, start_time=1_700_000_200_000,
                               tags={tracking.JOB_TAG: tracking.TRAIN_JOB, tracking.OUTPUT_PATH_TAG: "/data/other"})
    tracker.set_terminated(other.info.run_id, status="FINISHED")
    tracker.set_tag(finished.info.run_id, tracking.OUTPUT_PATH_TAG, "/data/mine")
    assert explore.latest_job_run(store, "forecasting").info.run_id == other.info.run_id
    assert explore.latest_job_run(store, "forecasting", output="/data/mine").info.run_id == finished.info.run_id
    # the notebook's default experiment where the config names its own: the store's are named, and where to set it
    with pytest.raises(LookupError, match=re.escape(
            f"no experiment 'many-model-forecasting' at {store}: it has 'forecasting' (tracking.experiment in the "
            "job's config; in the notebook, FORECAST_EXPERIMENT)")):
        explore.latest_job_run(store, "many-model-forecasting")
    for i in range(12):  # a shared server's: a few named, not all
        tracker.create_experiment(f"team-{i:02d}")
    with pytest.raises(LookupError) as found:
        explore.latest_job_run(store, "many-model-forecasting")
    named = str(found.value).split(": it has ")[1].split(" (tracking.experiment")[0]
    assert named.endswith(", ...") and named.count("'team-") == 8
    with pytest.raises(LookupError, match="no finished train_forecast run in experiment 'forecasting' wrote its tables to "
                                          "/data/elsewhere: the latest wrote to /data/other"):
        explore.latest_job_run(store, "forecasting", output="/data/elsewhere")
    # a run date's own newest run: last month's forecast, explained (the walk-through of 12-06)
    for run, day in ((finished, "2026-11-02"), (other, "2026-11-09")):
        tracker.set_tag(run.info.run_id, tracking.RUN_DATE_TAG, day)
    assert explore.latest_job_run(store, "forecasting", run_date="2026-11-02").info.run_id == finished.info.run_id
    assert explore.latest_job_run(store, "forecasting", output="/data/other",
                                  run_date="2026-11-09").info.run_id == other.info.run_id
    # a backfill of an earlier date, run since: the latest run date's run stays the one shown
    backfill = tracker.create_run(experiment, start_time=1_700_000_300_000, tags={
        tracking.JOB_TAG: tracking.TRAIN_JOB, tracking.OUTPUT_PATH_TAG: "/data/other",
        tracking.RUN_DATE_TAG: "2026-10-26"})
    tracker.set_terminated(backfill.info.run_id, status="FINISHED")
    assert explore.latest_job_run(store, "forecasting").info.run_id == other.info.run_id
    assert explore.latest_job_run(store, "forecasting", output="/data/other").info.run_id == other.info.run_id
    assert explore.latest_job_run(store, "forecasting", run_date="2026-10-26").info.run_id == backfill.info.run_id
    # an output whose runs are older than those looked through: said, not just "no run"
    monkeypatch.setattr(explore, "OUTPUT_SEARCH_RUNS", 1)
    with pytest.raises(LookupError, match="no finished train_forecast run of the 1 of the latest run dates in "
                                          "experiment 'forecasting' wrote its tables to /data/mine"):
        explore.latest_job_run(store, "forecasting", output="/data/mine")


def test_a_time_without_a_zone_picks_the_delta_version_in_utc_whatever_the_machines_zone(tmp_path, monkeypatch):
    from deltalake import DeltaTable, write_deltalake

    path = tmp_path / "sales"
    rows = pd.DataFrame({"store": ["a"], "day": ["2024-01-01"], "sales": [1.0]})
    write_deltalake(str(path), rows)
    time.sleep(1.0)  # the commits a second apart: a loaded machine's clock and file times differ by milliseconds
    write_deltalake(str(path), rows.assign(sales=99.0), mode="overwrite")
    first_commit = DeltaTable(str(path)).history()[-1]["timestamp"]  # ms since the epoch, UTC
    at = (pd.Timestamp(first_commit, unit="ms") + pd.Timedelta(milliseconds=500)).strftime("%Y-%m-%d %H:%M:%S.%f")
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert table_reads.read_table(path, timestamp=at)["sales"].tolist() == [1.0]
        # before the table existed: no rows to give, as Spark says, not its first version's
        before = (pd.Timestamp(first_commit, unit="ms") - pd.Timedelta(hours=1)).isoformat()
        with pytest.raises(ValueError, match="has no version as of .*its first version that is kept was committed"):
            table_reads.read_table(path, timestamp=before)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_runs_current_rows_are_read_without_saying_they_were_replaced(tmp_path, caplog):
    from deltalake import CommitProperties, write_deltalake

    path = tmp_path / "series_results"
    for store, run_date, run in (("a", "2024-01-02", "r1"), ("b", "2024-01-09", "r2")):  # r2: a later date's run
        write_deltalake(str(path), pd.DataFrame({"store": [store], "run_date": [run_date], "job_run_id": [run]}),
                        mode="append", commit_properties=CommitProperties(
                            custom_metadata={"userMetadata": f'{{"job_run_id": "{run}"}}'}))
    assert table_reads.job_rows(path, _job_run("r1"))["store"].tolist() == ["a"]
    assert "replaced" not in caplog.text


def test_a_run_that_wrote_to_a_cluster_file_system_is_not_said_to_have_written_relative_to_its_folder(tmp_path):
    with pytest.raises(LookupError,
                       match=r"it wrote its tables to s3a://bucket/forecasts\. Read the tables there") as no:
        table_reads.job_rows(tmp_path / "nowhere" / "series_results", _job_run("r3", "s3a://bucket/forecasts"))
    assert "relative" not in str(no.value)


def test_a_delta_tables_files_read_by_pyarrow_give_deltalakes_rows_partitions_and_added_columns(tmp_path):
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    from forecasting import delta_files

    path = str(tmp_path / "out put" / "forecasts")  # a space: the log holds paths as URIs (%20)
    first = pa.table({"store": ["a", "b"], "yhat": [1.0, 2.0], "run_date": pa.array([dt.date(2024, 3, 24)] * 2),
                      "source": ["trained", "scored"]})
    write_deltalake(path, first, partition_by=["run_date", "source"])
    later = pa.table({"store": ["a"], "yhat": [3.0], "run_date": pa.array([dt.date(2024, 3, 31)]),
                      "source": ["trained"], "forecast_change": [0.5]})  # a column the first files lack
    write_deltalake(path, later, partition_by=["run_date", "source"], mode="append", schema_mode="merge")
    table = DeltaTable(path)
    assert table.protocol().min_reader_version == 1
    mine = delta_files.dataset(table).to_table().sort_by([("run_date", "ascending"), ("store", "ascending")])
    assert mine.equals(table.to_pyarrow_table().select(mine.schema.names).sort_by(
        [("run_date", "ascending"), ("store", "ascending")]))
    assert mine["forecast_change"].to_pylist() == [None, None, 0.5] and mine.schema == pa.schema(table.schema().to_arrow())
    # the log's partition values filter the files; an older version is read as it was
    import pyarrow.dataset as ds

    assert delta_files.dataset(table).to_table(filter=ds.field("source") == "scored")["store"].to_pylist() == ["b"]
    assert delta_files.dataset(DeltaTable(path, version=0)).to_table().num_rows == 2


@pytest.mark.parametrize("values", [
    [dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2024, 1, 2, 13, 30, tzinfo=dt.timezone.utc), None],
    ["a b", "x/y:z%20=&?#é", None],  # folders named with escapes, which the log escapes once more
    [1, None, 3],
])
def test_partition_values_of_any_kind_are_read_from_the_files_deltalake_names(tmp_path, values):
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    from forecasting import delta_files

    path = str(tmp_path / "table")
    write_deltalake(path, pa.table({"k": ["r1", "r2", "r3"], "p": pa.array(values), "v": [1.0, 2.0, 3.0]}),
                    partition_by=["p"])
    table = DeltaTable(path)
    assert delta_files.dataset(table).to_table().sort_by("k").equals(table.to_pyarrow_table().sort_by("k"))


def test_tables_are_read_without_deltalakes_scan_whose_threads_can_abort_the_process_at_its_exit(tmp_path,
                                                                                                  monkeypatch):
    # delta-io/delta-rs#2184: "terminate called without an active exception", exit 134, about
    # one process in four that had read a table with it; a downstream job would fail at random
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    from forecasting import serving

    path = str(tmp_path / "models")
    write_deltalake(path, pa.table({"store": ["a"], "model": ["naive"], "run_date": pa.array([dt.date(2024, 3, 31)])}),
                    partition_by=["run_date"])
    for scan in ("to_pyarrow_table", "to_pyarrow_dataset", "to_pandas"):
        monkeypatch.setattr(DeltaTable, scan, lambda *args, **kwargs: pytest.fail("deltalake's scan was used"))
    assert table_reads.read_table(path)["model"].tolist() == ["naive"]
    assert table_reads.read_series(path, {"store": "a"})["model"].tolist() == ["naive"]
    pointer = {"models_table": path, "version": 0, "run_date": "2024-03-31", "format": "delta"}
    assert serving.read_models(pointer, ["store", "model"])["model"].tolist() == ["naive"]
    # a time key without a zone makes a table of Delta's third reader protocol: still its files
    with_times = str(tmp_path / "results")
    write_deltalake(with_times, pa.table({"cohort": pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("us")),
                                          "status": ["ok"]}))
    assert DeltaTable(with_times).protocol().reader_features == ["timestampNtz"]
    assert table_reads.read_table(with_times)["cohort"].tolist() == [pd.Timestamp("2024-01-01")]
