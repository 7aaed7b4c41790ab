"""The notebook's helpers, without Spark."""
import pandas as pd
import pytest

from forecasting import explore
from forecasting.config import load_config


def test_a_series_history_is_found_by_its_keys_as_the_tables_hold_them(tmp_path):
    # Spark reads a CSV as text, so series_results holds store "1": pandas would read 1
    (tmp_path / "input.csv").write_text("store;day;sales\n1;2024-01-02;5\n1;2024-01-01;4\n2;2024-01-01;9\n")
    config = load_config(None, [f"input.path={tmp_path / 'input.csv'}", "input.key_columns=[store]",
                                "input.time_column=day", "input.target_column=sales", "input.options={sep: ';'}"])
    history = explore.load_history(config.to_dict(), {"store": "1"})
    assert history["ds"].tolist() == list(pd.to_datetime(["2024-01-01", "2024-01-02"]))
    assert history["y"].tolist() == [4, 5]


def test_a_time_key_is_found_by_the_text_its_tags_show(tmp_path):
    # the tasks see times in UTC without a zone, so the tags say "2024-01-01 00:00:00"
    # where a Delta table gives the time back with its zone (and a parquet file may too)
    from forecasting import tracking

    stamps = pd.to_datetime(["2024-01-01 01:00+01:00", "2024-01-01 00:00Z", "2024-02-01 00:00Z"], utc=True)
    table = pd.DataFrame({"cohort": stamps, "day": ["2024-01-05", "2024-01-06", "2024-01-05"], "sales": [1, 2, 9]})
    table.to_parquet(tmp_path / "input.parquet")
    tag = tracking.key_text(pd.Timestamp("2024-01-01"))  # as a task's pandas group has it
    assert tag == tracking.key_text(stamps[0]) == "2024-01-01 00:00:00"

    found = explore.read_series(tmp_path / "input.parquet", {"cohort": tag}, fmt="parquet")
    assert found["sales"].tolist() == [1, 2]
    config = load_config(None, [f"input.path={tmp_path / 'input.parquet'}", "input.format=parquet",
                                "input.key_columns=[cohort]", "input.time_column=day", "input.target_column=sales"])
    assert explore.load_history(config.to_dict(), {"cohort": tag})["y"].tolist() == [1, 2]


def test_a_null_key_is_found_by_its_tag(tmp_path):
    (tmp_path / "input.csv").write_text("store,day,sales\n,2024-01-01,4\n2,2024-01-01,9\n,2024-01-02,5\n")
    config = load_config(None, [f"input.path={tmp_path / 'input.csv'}", "input.key_columns=[store]",
                                "input.time_column=day", "input.target_column=sales"])
    for key in (None, "<null>"):
        assert explore.load_history(config.to_dict(), {"store": key})["y"].tolist() == [4, 5]


def test_a_catalog_table_input_is_refused_with_what_to_do_instead():
    # the notebook then shows the forecast without the history
    config = load_config(None, ["input.format=table", "input.path=sales.daily"])
    with pytest.raises(ValueError, match="the input is the catalog table sales.daily: read its rows with Spark"):
        explore.load_history(config.to_dict(), {"store": "1"})


def test_times_with_offsets_across_daylight_saving_are_read_as_the_job_reads_them_in_utc(tmp_path):
    (tmp_path / "input.csv").write_text(
        "store,hour,sales\n"
        "a,2024-03-31T00:00:00+01:00,1\na,2024-03-31T01:00:00+01:00,2\n"
        "a,2024-03-31T03:00:00+02:00,3\na,2024-03-31T04:00:00+02:00,4\n"
    )  # the clocks go forward at 02:00 local: four hours in a row, in UTC
    config = load_config(None, [f"input.path={tmp_path / 'input.csv'}", "input.key_columns=[store]",
                                "input.time_column=hour", "input.target_column=sales"])
    history = explore.load_history(config.to_dict(), {"store": "a"})
    assert history["ds"].tolist() == list(pd.date_range("2024-03-30 23:00", periods=4, freq="h"))


def test_a_missing_file_store_is_not_found_and_not_created(tmp_path):
    store = tmp_path / "mlruns"
    with pytest.raises(LookupError, match=f"no MLflow store at {store}"):
        explore.latest_job_run(store.as_uri(), "many-model-forecasting")
    assert not store.exists()


def test_a_delta_input_history_is_read_at_the_version_the_run_read(tmp_path):
    from deltalake import DeltaTable, write_deltalake

    path = tmp_path / "sales"
    rows = pd.DataFrame({"store": ["a"], "day": ["2024-01-01"], "sales": [1.0]})
    write_deltalake(str(path), rows)
    write_deltalake(str(path), rows.assign(sales=99.0), mode="overwrite")  # version 1, written after the run
    settings = [f"input.path={path}", "input.format=delta", "input.key_columns=[store]", "input.time_column=day",
                "input.target_column=sales"]
    config = load_config(None, settings).to_dict()
    assert explore.load_history(config, {"store": "a"}, data_version="0")["y"].tolist() == [1.0]  # the run's tag
    assert explore.load_history(config, {"store": "a"})["y"].tolist() == [99.0]  # no run: the latest
    pinned = load_config(None, [*settings, "input.options.versionAsOf=0"]).to_dict()
    assert explore.load_history(pinned, {"store": "a"})["y"].tolist() == [1.0]
    first_commit = DeltaTable(str(path)).history()[-1]["timestamp"]  # ms since the epoch, UTC
    at = pd.Timestamp(first_commit, unit="ms").strftime("%Y-%m-%d %H:%M:%S.%f")  # as a config writes it
    by_time = load_config(None, [*settings, f"input.options.timestampAsOf={at}"]).to_dict()
    assert explore.load_history(by_time, {"store": "a"})["y"].tolist() == [1.0]
    # a file input's data_version is a content hash, not a Delta version
    assert explore.load_history(config, {"store": "a"}, data_version="3f2a9c")["y"].tolist() == [99.0]
