"""One series' input rows read without Spark, as the job read them (``input_history``)."""
import time

import numpy as np
import pandas as pd
import pytest

from forecasting import input_history
from forecasting.config import load_config


def test_a_series_history_is_found_by_its_keys_as_the_tables_hold_them(tmp_path):
    # Spark reads a CSV as text, so series_results holds store "1": pandas would read 1
    (tmp_path / "input.csv").write_text("store;day;sales\n1;2024-01-02;5\n1;2024-01-01;4\n2;2024-01-01;9\n")
    config = load_config(None, [f"input.path={tmp_path / 'input.csv'}", "input.key_columns=[store]",
                                "input.time_column=day", "input.target_column=sales", "input.options={sep: ';'}"])
    history = input_history.load_history(config.to_dict(), {"store": "1"})
    assert history["ds"].tolist() == list(pd.to_datetime(["2024-01-01", "2024-01-02"]))
    assert history["y"].tolist() == [4, 5]


def test_a_null_key_is_found_by_its_tag(tmp_path):
    (tmp_path / "input.csv").write_text("store,day,sales\n,2024-01-01,4\n2,2024-01-01,9\n,2024-01-02,5\n")
    config = load_config(None, [f"input.path={tmp_path / 'input.csv'}", "input.key_columns=[store]",
                                "input.time_column=day", "input.target_column=sales"])
    for key in (None, "<null>"):
        assert input_history.load_history(config.to_dict(), {"store": key})["y"].tolist() == [4, 5]


def test_a_catalog_table_input_is_refused_with_what_to_do_instead():
    # the notebook then shows the forecast without the history
    config = load_config(None, ["input.format=table", "input.path=sales.daily"])
    with pytest.raises(ValueError, match="the input is the catalog table sales.daily: read its rows with Spark"):
        input_history.load_history(config.to_dict(), {"store": "1"})


def test_times_with_offsets_across_daylight_saving_are_read_as_the_job_reads_them_in_utc(tmp_path):
    (tmp_path / "input.csv").write_text(
        "store,hour,sales\n"
        "a,2024-03-31T00:00:00+01:00,1\na,2024-03-31T01:00:00+01:00,2\n"
        "a,2024-03-31T03:00:00+02:00,3\na,2024-03-31T04:00:00+02:00,4\n"
    )  # the clocks go forward at 02:00 local: four hours in a row, in UTC
    config = load_config(None, [f"input.path={tmp_path / 'input.csv'}", "input.key_columns=[store]",
                                "input.time_column=hour", "input.target_column=sales"])
    history = input_history.load_history(config.to_dict(), {"store": "a"})
    assert history["ds"].tolist() == list(pd.date_range("2024-03-30 23:00", periods=4, freq="h"))


def test_times_written_in_the_several_iso_forms_the_job_reads_are_read_alike(tmp_path):
    # the job takes dates, times with or without seconds or a zone, and whitespace around them,
    # in one column; pandas guessed one format from the first row and failed on the others
    (tmp_path / "input.csv").write_text(
        "store,day,sales\n"
        "a,2024-01-01,1\na,2024-01-02T00:00:00,2\na, 2024-01-03 00:00 ,3\na,2024-01-04T01:00+01:00,4\n"
        "a,2024-01-05 00:00:00Z,5\na,,6\n"
    )
    config = load_config(None, [f"input.path={tmp_path / 'input.csv'}", "input.key_columns=[store]",
                                "input.time_column=day", "input.target_column=sales"])
    history = input_history.load_history(config.to_dict(), {"store": "a"})
    assert history["ds"].tolist() == list(pd.date_range("2024-01-01", periods=5, freq="D"))
    assert history["y"].tolist() == [1, 2, 3, 4, 5]  # a row without a time is left out, as the job leaves it


def test_quarter_labels_are_read_as_the_quarters_first_day_as_the_job_reads_them(tmp_path):
    (tmp_path / "input.csv").write_text("region,quarter,sales\na,2019Q3,1\na, 2019-q4 ,2\na,Q1 2020,3\n"
                                        "a,2020-04-01,4\na,,5\n")
    config = load_config(None, [f"input.path={tmp_path / 'input.csv'}", "input.key_columns=[region]",
                                "input.time_column=quarter", "input.target_column=sales", "forecast.frequency=QS"])
    history = input_history.load_history(config.to_dict(), {"region": "a"})
    assert history["ds"].tolist() == list(pd.date_range("2019-07-01", periods=4, freq="QS"))
    assert history["y"].tolist() == [1, 2, 3, 4]
    # ISO weeks as their Mondays, across a year's end
    (tmp_path / "input.csv").write_text("region,quarter,sales\na,2026-W52,1\na,2026-W53,2\na,2027-W01,3\n"
                                        "a,2027-01-11,4\n")
    weeks = input_history.load_history(config.to_dict(), {"region": "a"})
    assert weeks["ds"].tolist() == list(pd.date_range("2026-12-21", periods=4, freq="7D"))


def test_times_in_another_form_are_read_with_the_configured_pattern_as_the_job_reads_them(tmp_path):
    (tmp_path / "input.csv").write_text("store,day,sales\na,31/03/2024,1\na, 01/04/2024 ,2\na,,3\n")
    config = load_config(None, [f"input.path={tmp_path / 'input.csv'}", "input.key_columns=[store]",
                                "input.time_column=day", "input.target_column=sales", "input.time_format=dd/MM/yyyy"])
    history = input_history.load_history(config.to_dict(), {"store": "a"})
    assert history["ds"].tolist() == list(pd.to_datetime(["2024-03-31", "2024-04-01"])) and history["y"].tolist() == [1, 2]
    # whole numbers in a parquet file
    pd.DataFrame({"store": ["a"], "day": [20240331], "sales": [1.0]}).to_parquet(tmp_path / "input.parquet")
    numbers = load_config(None, [f"input.path={tmp_path / 'input.parquet'}", "input.format=parquet",
                                 "input.key_columns=[store]", "input.time_column=day", "input.target_column=sales",
                                 "input.time_format=yyyyMMdd"])
    assert input_history.load_history(numbers.to_dict(), {"store": "a"})["ds"].tolist() == [pd.Timestamp("2024-03-31")]
    assert input_history.strftime_format("yyyy-MM-dd'T'HH:mm") == "%Y-%m-%dT%H:%M"
    # optional sections and doubled quotes inside quoted text have no strftime: refused, not read as nothing
    assert input_history.strftime_format("yyyy-MM-dd[ HH:mm]") is None and input_history.strftime_format("H 'o''clock'") is None
    with pytest.raises(ValueError, match="input.time_format 'dd MMM yyyy' has letters this reader does not translate"):
        input_history.load_history({**config.to_dict(), "input": {**config.to_dict()["input"], "time_format": "dd MMM yyyy"}},
                             {"store": "a"})


def test_targets_with_a_decimal_comma_are_read_as_the_job_reads_them(tmp_path):
    (tmp_path / "input.csv").write_text("store;day;sales\na;2024-01-01;96,54\na;2024-01-02; 7 \na;2024-01-03; \n")
    config = load_config(None, [f"input.path={tmp_path / 'input.csv'}", "input.key_columns=[store]",
                                "input.time_column=day", "input.target_column=sales", "input.options={sep: ';'}",
                                "input.decimal_separator=,"])
    history = input_history.load_history(config.to_dict(), {"store": "a"})
    assert history["y"].tolist()[:2] == [96.54, 7.0] and pd.isna(history["y"].iloc[2])  # blank: missing, as the job
    point = load_config(None, [f"input.path={tmp_path / 'input.csv'}", "input.key_columns=[store]",
                               "input.time_column=day", "input.target_column=sales", "input.options={sep: ';'}"])
    (tmp_path / "input.csv").write_text("store;day;sales\na;2024-01-01;1.5\na;2024-01-02; \n")
    assert pd.isna(input_history.load_history(point.to_dict(), {"store": "a"})["y"].iloc[1])  # it raised on " "


def test_a_time_column_typed_as_dates_is_read_as_midnights(tmp_path):
    import datetime as dt

    # parquet and Delta give a date column to pandas as date objects, not text
    pd.DataFrame({"store": ["a", "a"], "day": [dt.date(2024, 1, 2), dt.date(2024, 1, 1)], "sales": [2.0, 1.0]}
                 ).to_parquet(tmp_path / "input.parquet")
    config = load_config(None, [f"input.path={tmp_path / 'input.parquet'}", "input.format=parquet",
                                "input.key_columns=[store]", "input.time_column=day", "input.target_column=sales"])
    history = input_history.load_history(config.to_dict(), {"store": "a"})
    assert history["ds"].tolist() == list(pd.date_range("2024-01-01", periods=2, freq="D"))
    assert history["y"].tolist() == [1.0, 2.0]


def test_local_input_files_changed_since_the_run_are_warned_about(tmp_path, caplog):
    import hashlib

    path = tmp_path / "input.csv"
    path.write_text("store,day,sales\na,2024-01-01,1\na,2024-01-02,2\n")
    config = load_config(None, [f"input.path={path}", "input.key_columns=[store]", "input.time_column=day",
                                "input.target_column=sales"]).to_dict()
    as_run = hashlib.sha256(path.read_bytes()).hexdigest()  # the run's data_version: the file's content hash
    input_history.load_history(config, {"store": "a"}, data_version=as_run)
    assert "has changed" not in caplog.text
    path.write_text("store,day,sales\na,2024-01-01,1\na,2024-01-02,20\n")
    assert input_history.load_history(config, {"store": "a"}, data_version=as_run)["y"].tolist() == [1, 20]
    assert f"input {path} has changed since the run read it" in caplog.text and as_run in caplog.text

    # a folder: its data files in order, not the ones Spark leaves out (_SUCCESS, .crc, _temporary)
    folder = tmp_path / "parts"
    for name, shop in (("part-1.parquet", "b"), ("part-0.parquet", "a")):
        (folder / "day=2024-01-01").mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"store": [shop], "sales": [1.0]}).to_parquet(folder / "day=2024-01-01" / name)
    (folder / "_SUCCESS").write_text("")
    (folder / "day=2024-01-01" / ".part-0.parquet.crc").write_text("x")
    (folder / "_temporary").mkdir()
    (folder / "_temporary" / "part-9.parquet").write_text("x")
    parts = sorted((folder / "day=2024-01-01").glob("part-*"))
    as_run = hashlib.sha256(b"".join(part.read_bytes() for part in parts)).hexdigest()
    config = load_config(None, [f"input.path={folder}", "input.format=parquet", "input.key_columns=[store]",
                                "input.time_column=day", "input.target_column=sales"]).to_dict()
    caplog.clear()
    assert input_history.load_history(config, {"store": "a"}, data_version=as_run)["y"].tolist() == [1.0]
    assert "has changed" not in caplog.text
    pd.DataFrame({"store": ["a"], "sales": [2.0]}).to_parquet(parts[0])  # one data file rewritten
    assert input_history.load_history(config, {"store": "a"}, data_version=as_run)["y"].tolist() == [2.0]
    assert f"input {folder} has changed since the run read it" in caplog.text


def test_a_delta_input_history_is_read_at_the_version_the_run_read(tmp_path):
    from deltalake import DeltaTable, write_deltalake

    path = tmp_path / "sales"
    rows = pd.DataFrame({"store": ["a"], "day": ["2024-01-01"], "sales": [1.0]})
    write_deltalake(str(path), rows)
    time.sleep(1.0)  # the commits a second apart: two in one millisecond made timestampAsOf find the second, and a
    # loaded machine's clock and file times differ by milliseconds
    write_deltalake(str(path), rows.assign(sales=99.0), mode="overwrite")  # version 1, written after the run
    settings = [f"input.path={path}", "input.format=delta", "input.key_columns=[store]", "input.time_column=day",
                "input.target_column=sales"]
    config = load_config(None, settings).to_dict()
    assert input_history.load_history(config, {"store": "a"}, data_version="0")["y"].tolist() == [1.0]  # the run's tag
    assert input_history.load_history(config, {"store": "a"})["y"].tolist() == [99.0]  # no run: the latest
    pinned = load_config(None, [*settings, "input.options.versionAsOf=0"]).to_dict()
    assert input_history.load_history(pinned, {"store": "a"})["y"].tolist() == [1.0]
    first_commit = DeltaTable(str(path)).history()[-1]["timestamp"]  # ms since the epoch, UTC
    at = (pd.Timestamp(first_commit, unit="ms") + pd.Timedelta(milliseconds=500)).strftime(
        "%Y-%m-%d %H:%M:%S.%f")  # as a config writes it
    by_time = load_config(None, [*settings, f"input.options.timestampAsOf={at}"]).to_dict()
    assert input_history.load_history(by_time, {"store": "a"})["y"].tolist() == [1.0]
    # a file input's data_version is a content hash, not a Delta version
    assert input_history.load_history(config, {"store": "a"}, data_version="3f2a9c")["y"].tolist() == [99.0]


def test_the_history_stops_at_the_end_of_the_run_date_as_the_jobs_did(tmp_path):
    # a backfill: the input has grown since the run date, which the job's history ended with
    (tmp_path / "input.csv").write_text(
        "store,hour,sales\n"
        "a,2024-01-02T23:00:00Z,1\n"
        "a,2024-01-03T00:30:00+01:00,2\n"  # 23:30 UTC on the run date: the job's session reads UTC
        "a,2024-01-03T00:00:00Z,3\n"
        "a,2024-01-05T00:00:00Z,4\n"
    )
    config = load_config(None, [f"input.path={tmp_path / 'input.csv'}", "input.key_columns=[store]",
                                "input.time_column=hour", "input.target_column=sales"]).to_dict()
    assert input_history.load_history(config, {"store": "a"}, run_date="2024-01-02")["y"].tolist() == [1, 2]
    assert input_history.load_history(config, {"store": "a"})["y"].tolist() == [1, 2, 3, 4]


def test_a_relative_input_path_is_read_from_the_folder_the_job_ran_in(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sales.csv").write_text("store,day,sales\na,2024-01-01,5\n")
    config = load_config(None, ["input.path=data/sales.csv", "input.key_columns=[store]", "input.time_column=day",
                                "input.target_column=sales"]).to_dict()
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # where Jupyter starts the notebook
    assert input_history.load_history(config, {"store": "a"}, folder=tmp_path)["y"].tolist() == [5]


def csv_config(path, *extra):
    return load_config(None, [f"input.path={path}", "input.key_columns=[store]", "input.time_column=day",
                              "input.target_column=sales", *extra]).to_dict()


def test_an_input_path_given_as_a_file_uri_is_read_there_whatever_the_folder_the_job_ran_in(tmp_path):
    (tmp_path / "input.csv").write_text("store,day,sales\na,2024-01-01,4\n")
    config = csv_config((tmp_path / "input.csv").as_uri())
    history = input_history.load_history(config, {"store": "a"}, folder=tmp_path / "elsewhere")
    assert history["y"].tolist() == [4.0]


def test_a_key_with_doubled_quotes_and_a_delimiter_option_are_read_as_spark_reads_them(tmp_path):
    (tmp_path / "quoted.csv").write_text('store,day,sales\n"say ""cheese""",2024-01-01,4\nb,2024-01-01,9\n')
    history = input_history.load_history(csv_config(tmp_path / "quoted.csv"), {"store": 'say "cheese"'})
    assert history["y"].tolist() == [4.0]
    (tmp_path / "semicolons.csv").write_text("store;day;sales\na;2024-01-01;4\n")
    config = csv_config(tmp_path / "semicolons.csv", "input.options={delimiter: ';'}")  # Spark's other name of sep
    assert input_history.load_history(config, {"store": "a"})["y"].tolist() == [4.0]


def test_a_csv_folders_files_are_read_with_sparks_null_text_and_encoding_as_the_job_reads_them(spark, tmp_path):
    from forecasting import io

    folder = tmp_path / "input"
    folder.mkdir()
    # a key "NA" (Namibia) is text to Spark, where pandas' own list of null words would make it a null
    (folder / "part-1.csv").write_bytes("store,day,sales\nNA,2024-01-01,4\nZürich,2024-01-01,n/a\n".encode("latin-1"))
    (folder / "part-2.csv").write_bytes("store,day,sales\nNA,2024-01-02,-\n".encode("latin-1"))
    (folder / "_SUCCESS").write_text("")  # Spark's marker files: no rows
    (folder / ".part-1.csv.crc").write_bytes(b"\x00\x01")
    config = csv_config(folder, "input.options={encoding: ISO-8859-1, nullValue: '-'}")
    df, _ = io.read_input(spark, load_config(None, [f"{name}={value}" for name, value in {
        "input.path": folder, "input.key_columns": "[store]", "input.time_column": "day",
        "input.target_column": "sales", "input.options": "{encoding: ISO-8859-1, nullValue: '-'}"}.items()]))
    spark_rows = sorted((row["store"], str(row["sales"])) for row in df.collect())
    assert spark_rows == [("NA", "4"), ("NA", "None"), ("Zürich", "n/a")]
    assert input_history.load_history(config, {"store": "NA"})["y"].tolist()[:1] == [4.0]
    assert input_history.load_history(config, {"store": "NA"})["y"].isna().tolist() == [False, True]  # '-': null
    # text that is no number: a missing value, as the job reads it (input_parsing.parsed_target)
    assert input_history.load_history(config, {"store": "Zürich"})["y"].isna().tolist() == [True]


def test_the_history_stops_where_the_jobs_did_with_unsettled_periods(tmp_path):
    from forecasting.cleaning import clean_history

    days = pd.date_range("2024-01-01", "2024-01-20", freq="D")
    pd.DataFrame({"store": "a", "day": days.strftime("%Y-%m-%d"), "sales": range(1, 21)}).to_csv(
        tmp_path / "input.csv", index=False)
    config = csv_config(tmp_path / "input.csv", "cleaning.unsettled_periods=2")
    history = input_history.load_history(config, {"store": "a"}, run_date="2024-01-20")
    fitted = clean_history(pd.DataFrame({"ds": days, "y": range(1, 21)}),
                           "D", load_config(None, ["cleaning.unsettled_periods=2"]).cleaning, "2024-01-20").history
    assert history["ds"].max() == fitted["ds"].max() == pd.Timestamp("2024-01-17")


def test_weekend_rows_of_a_business_day_series_stay_with_their_friday_under_unsettled_periods(tmp_path):
    # the job sums Saturday's and Sunday's rows into Friday's period, then cuts at the last settled one;
    # the lookup cut the raw times, and so left out the weekend rows the job had kept
    from forecasting.cleaning import clean_history

    days = pd.date_range("2024-02-01", "2024-03-31", freq="D")
    pd.DataFrame({"store": "a", "day": days.strftime("%Y-%m-%d"), "sales": 1}).to_csv(tmp_path / "input.csv",
                                                                                     index=False)
    config = csv_config(tmp_path / "input.csv", "forecast.frequency=B", "cleaning.unsettled_periods=1")
    history = input_history.load_history(config, {"store": "a"}, run_date="2024-04-02")
    fitted = clean_history(pd.DataFrame({"ds": days, "y": 1.0}), "B",
                           load_config(None, ["cleaning.unsettled_periods=1"]).cleaning, "2024-04-02").history
    assert fitted["ds"].max() == pd.Timestamp("2024-03-29") and fitted["y"].iloc[-1] == 3.0
    assert history["ds"].max() == pd.Timestamp("2024-03-31") and history["y"].sum() == fitted["y"].sum()


def test_weeks_of_seven_days_under_unsettled_periods_count_from_the_first_row_after_stray_ones(tmp_path):
    # a 1923 row (a placeholder date) is left out as a stray by cleaning, whose 7D weeks then count from
    # 2024-01-01: the lookup's weeks counted from 1923 and cut elsewhere than the job had
    from forecasting.cleaning import clean_history

    days = pd.DatetimeIndex([pd.Timestamp("1923-01-04"), *pd.date_range("2024-01-01", "2024-03-20", freq="D")])
    sales = [5.0, *(10.0 + np.arange(len(days) - 1) % 5)]
    pd.DataFrame({"store": "a", "day": days.strftime("%Y-%m-%d"), "sales": sales}).to_csv(tmp_path / "input.csv",
                                                                                         index=False)
    config = csv_config(tmp_path / "input.csv", "forecast.frequency=7D", "cleaning.unsettled_periods=1")
    history = input_history.load_history(config, {"store": "a"}, run_date="2024-03-20")
    fitted = clean_history(pd.DataFrame({"ds": days, "y": sales}), "7D",
                           load_config(None, ["cleaning.unsettled_periods=1"]).cleaning, "2024-03-20").history
    assert fitted["ds"].max() == pd.Timestamp("2024-03-04")  # the weeks of 03-11 and 03-18 unsettled
    assert history["ds"].max() == pd.Timestamp("2024-03-10") and history["y"].sum() == fitted["y"].sum() + 5.0


@pytest.mark.parametrize("files, options", [
    # partition folders give a column; Spark's marker files have no rows
    ({"store=a/part-0.csv": "day,sales\n2024-01-01,1\n", "store=b/part-0.csv": "day,sales\n2024-01-01,2\n",
      "_SUCCESS": ""}, {}),
    # a folder beside the files is not the input's
    ({"f.csv": "store,day,sales\na,2024-01-01,1\n", "archive/old.csv": "store,day,sales\na,2023-01-01,7\n"}, {}),
    ({"f.csv": "store,day,sales\na,2024-01-01,1\n", "x.txt": "store,day,sales\na,2024-01-02,5\n"},
     {"pathGlobFilter": "'*.csv'"}),
    ({"f.csv": "store,day,sales\n a ,2024-01-01 ,1\n"},
     {"ignoreLeadingWhiteSpace": "true", "ignoreTrailingWhiteSpace": "true"}),
    ({"f.csv": "store\tday\tsales\na\t2024-01-01\t1\n"}, {"sep": "'\\t'"}),
    ({"f.csv": "store||day||sales\na||2024-01-01||1\n"}, {"sep": "'||'"}),
    ({"f.csv": "store,day,sales\nNULL,2024-01-01,1\n,2024-01-02,2\n"}, {"nullValue": "NULL"}),
])
def test_a_csv_input_is_read_as_sparks_reader_reads_it(spark, tmp_path, files, options):
    from forecasting import io

    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    settings = [f"input.path={tmp_path}", "input.key_columns=[store]", "input.time_column=day",
                "input.target_column=sales", *(f"input.options.{name}={value}" for name, value in options.items())]
    df, _ = io.read_input(spark, load_config(None, settings))
    spark_rows = sorted((row["store"] or "-", row["day"], row["sales"]) for row in df.collect())
    read = input_history._read_csv(str(tmp_path), {name.lower(): value for name, value in
                                                    load_config(None, settings).input.options.items()})
    pandas_rows = sorted((store if isinstance(store, str) else "-", day, sales)
                         for store, day, sales in read[["store", "day", "sales"]].itertuples(index=False))
    assert pandas_rows == spark_rows


def test_a_csv_option_this_reader_does_not_follow_is_refused_with_what_to_do(tmp_path):
    (tmp_path / "f.csv").write_text("store,day,sales\n#a,2024-01-01,9\na,2024-01-02,1\n")
    with pytest.raises(ValueError, match="input.options comment: this reader does not follow them; read the history "
                                         "with Spark"):
        input_history.load_history(csv_config(tmp_path / "f.csv", "input.options={comment: '#'}"), {"store": "a"})


def test_input_columns_renamed_by_the_config_are_read_by_their_new_names(spark, tmp_path):
    from forecasting import io

    (tmp_path / "arrivals.csv").write_text("Hospital Name,Dept,arrival_date,arrivals\nSt. Mary's,ED,2024-01-01,4\n")
    settings = [f"input.path={tmp_path / 'arrivals.csv'}", "input.key_columns=[hospital, department]",
                "input.time_column=day", "input.target_column=arrivals",
                "input.rename_columns={Hospital Name: hospital, Dept: department, arrival_date: day}"]
    config = load_config(None, settings)  # the new names pass Delta's and MLflow's checks
    df, _ = io.read_input(spark, config)
    assert df.columns[:4] == ["hospital", "department", "day", "arrivals"]
    history = input_history.load_history(config.to_dict(), {"hospital": "St. Mary's", "department": "ED"})
    assert history["y"].tolist() == [4.0]
    # a column the input lacks: said with the columns it has, not ignored as Spark's rename would
    wrong = load_config(None, [*settings[:-1], "input.rename_columns={Hospital: hospital, Dept: department, "
                                               "arrival_date: day}"])
    with pytest.raises(io.InputError, match=r"input.rename_columns names 'Hospital', which the input lacks: it has "
                                            r"'Hospital Name', 'Dept', 'arrival_date', 'arrivals'$"):
        io.read_input(spark, wrong)
    # onto a name the input has already, in any case: refused, not two columns of one name
    (tmp_path / "noted.csv").write_text("Hospital Name,Dept,arrival_date,arrivals,note\nSt. Mary's,ED,2024-01-01,4,x\n")
    onto = load_config(None, [*settings[:-1], f"input.path={tmp_path / 'noted.csv'}",
                              "input.rename_columns={Hospital Name: NOTE, Dept: department, arrival_date: day}",
                              "input.key_columns=[NOTE, department]"])
    with pytest.raises(io.InputError, match=r"renames 'Hospital Name' to 'NOTE', but the input has a column "
                                            r"'note' already"):
        io.read_input(spark, onto)


def test_a_key_column_name_delta_refuses_is_refused_with_a_rename_to_give():
    from forecasting.config import ConfigError

    with pytest.raises(ConfigError, match=r"has 'Hospital Name': Delta tables refuse a space .* rename it with "
                                          r"input.rename_columns: \{'Hospital Name': 'hospital_name'\}, and use "
                                          r"'hospital_name' here, or set output.format: parquet"):
        load_config(None, ["input.key_columns=[Hospital Name]"])
    for renames, message in (("{a: b, b: c}", "renames 'a' to 'b', which is renamed too"),
                             ("{a: x, b: x}", "gives two columns the name 'x'"),
                             ("{a: x, b: X}", "gives two columns the name 'X', 'x'"),
                             ("{a: ' '}", "both must name a column")):
        with pytest.raises(ConfigError, match=message):
            load_config(None, [f"input.rename_columns={renames}"])


def test_the_history_stops_where_the_jobs_did_with_unsettled_hours_and_a_past_run_date(tmp_path):
    from forecasting.cleaning import clean_history

    hours = pd.date_range("2024-01-01", "2024-01-03 23:00", freq="h")  # the input has grown past the run date
    pd.DataFrame({"store": "a", "day": hours.strftime("%Y-%m-%dT%H:%M:%S"), "sales": range(len(hours))}).to_csv(
        tmp_path / "input.csv", index=False)
    config = csv_config(tmp_path / "input.csv", "forecast.frequency=h", "cleaning.unsettled_periods=2")
    history = input_history.load_history(config, {"store": "a"}, run_date="2024-01-02")
    known = hours[hours < pd.Timestamp("2024-01-03")]
    fitted = clean_history(pd.DataFrame({"ds": known, "y": range(len(known))}), "h",
                           load_config(None, ["cleaning.unsettled_periods=2"]).cleaning, "2024-01-02").history
    assert history["ds"].max() == fitted["ds"].max()


def test_a_series_without_any_time_has_an_empty_history_with_unsettled_periods(tmp_path):
    # validation.series_without_history's series: its row in series_results, its history looked up
    (tmp_path / "input.csv").write_text("store,day,sales\na,,1\nb,2024-01-01,2\n")
    config = csv_config(tmp_path / "input.csv", "cleaning.unsettled_periods=2")
    assert input_history.load_history(config, {"store": "a"}, run_date="2024-01-02").empty


def test_a_partition_folder_of_a_null_key_is_read_as_a_null_as_spark_reads_it(spark, tmp_path):
    from forecasting import io

    for store, sales in (("__HIVE_DEFAULT_PARTITION__", 1), ("b", 2)):
        (tmp_path / f"store={store}").mkdir()
        (tmp_path / f"store={store}" / "part-0.csv").write_text(f"day,sales\n2024-01-01,{sales}\n")
    config = load_config(None, [f"input.path={tmp_path}", "input.key_columns=[store]", "input.time_column=day",
                                "input.target_column=sales"])
    df, _ = io.read_input(spark, config)
    assert sorted((row["store"] or "-", row["sales"]) for row in df.collect()) == [("-", "1"), ("b", "2")]
    assert input_history.load_history(config.to_dict(), {"store": None})["y"].tolist() == [1.0]
