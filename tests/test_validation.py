"""Whole-input checks and the projection to series columns, on small inline data."""
import datetime as dt
import logging
import re
import unicodedata
from decimal import Decimal

import pandas as pd
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from forecasting import input_hints, io
from forecasting.io import InputError
from forecasting.validation import InputCounts, check_input, to_series_frame


def text_input(spark, rows):
    schema = "store string, item string, date string, sales string"
    return spark.createDataFrame(rows, schema)


def test_text_columns_are_parsed_to_timestamp_and_double(spark, fast_config):
    config = fast_config()
    raw = text_input(spark, [("a", "x", "2024-01-01", "1.5"), ("a", "x", " 2024-01-02 ", " 2 ")])
    assert check_input(raw, config).rows == 2
    expected = spark.createDataFrame(
        [("a", "x", dt.datetime(2024, 1, 1), 1.5), ("a", "x", dt.datetime(2024, 1, 2), 2.0)],
        "store string, item string, ds timestamp, y double",
    )
    assert_df_equality(to_series_frame(raw, config), expected, ignore_nullable=True)


def test_iso_times_with_a_zone_and_without_seconds_or_minutes_are_read_as_with_them(spark, fast_config):
    config = fast_config()
    forms = [("2024-01-01T14:00+02:00", "2024-01-01T14:00:00+02:00"), ("2024-01-01T14:00Z", "2024-01-01T14:00:00Z"),
             ("2024-01-01 14:00-0530", "2024-01-01 14:00:00-05:30"), ("2024-01-01T09Z", "2024-01-01T09:00:00Z"),
             ("2024-01-01T20+01:00", "2024-01-01T20:00:00+01:00")]
    short = text_input(spark, [("a", "x", given, "1") for given, _ in forms])
    full = text_input(spark, [("a", "x", written, "1") for _, written in forms])
    assert check_input(short, config).rows == 5  # none refused as not a time
    times = [[row["ds"] for row in to_series_frame(frame, config).collect()] for frame in (short, full)]
    assert times[0] == times[1] and None not in times[0] and len(set(times[0])) == 5


def test_targets_written_with_a_decimal_comma_are_read_when_configured(spark, fast_config):
    rows = [("a", "x", "2024-01-01", "96,54"), ("a", "x", "2024-01-02", " -1,5e2 "), ("a", "x", "2024-01-03", "7")]
    config = fast_config("input.decimal_separator=,")
    assert check_input(text_input(spark, rows), config).rows == 3
    assert [row["y"] for row in to_series_frame(text_input(spark, rows), config).orderBy("ds").collect()] == \
        [96.54, -150.0, 7.0]
    # a point is no separator of thousands there: 1.234,5 could be read two ways
    with pytest.raises(InputError, match=r"values that are not numbers with a decimal comma .*\['1.234,5'\]"):
        check_input(text_input(spark, [("a", "x", "2024-01-01", "1.234,5")]), config)
    # without the setting, the error says how to read a decimal comma
    with pytest.raises(InputError, match=r"not numbers \(a decimal comma, 96,5, needs input.decimal_separator: ','\)"):
        check_input(text_input(spark, rows), fast_config())
    # but not for a thousands separator, which the setting would read a thousand times smaller: said so
    for written in ("1,234", "12,345,678.90", "12.345.678"):
        with pytest.raises(InputError, match=r"not numbers \(thousands separators, 12,345,678.90, are not read: write "
                                             rf"the numbers without them\), e.g. \['{re.escape(written)}'\]"):
            check_input(text_input(spark, [("a", "x", "2024-01-01", written)]), fast_config())


def test_times_in_another_form_are_read_with_the_configured_pattern(spark, fast_config):
    config = fast_config("input.time_format=dd/MM/yyyy")
    raw = text_input(spark, [("a", "x", "31/03/2024", "1"), ("a", "x", " 01/04/2024 ", "2"), ("a", "x", "", "3")])
    assert check_input(raw, config).rows == 3  # the blank one a row without a time, as ever
    times = [row["ds"] for row in to_series_frame(raw, config).orderBy("y").collect()]
    assert times == [dt.datetime(2024, 3, 31), dt.datetime(2024, 4, 1), None]
    # whole numbers, as a parquet file or a database export gives yyyymmdd
    numbers = spark.createDataFrame([("a", "x", 20240331, 1.0)], "store string, item string, date int, sales double")
    assert to_series_frame(numbers, fast_config("input.time_format=yyyyMMdd")).first()["ds"] == dt.datetime(2024, 3, 31)
    with pytest.raises(InputError, match=r"time column 'date' has type int; .* read with input.time_format: yyyyMMdd"):
        check_input(numbers, fast_config())
    from decimal import Decimal

    exported = spark.createDataFrame([("a", "x", Decimal(20240331), 1.0)], "store string, item string, date decimal(8,0), "
                                                                  "sales double")  # a database export's
    assert to_series_frame(exported, fast_config("input.time_format=yyyyMMdd")).first()["ds"] == \
        dt.datetime(2024, 3, 31)


def test_quarter_labels_as_statistics_offices_write_them_are_read_as_the_quarters_first_day(spark, fast_config):
    written = ["2019Q3", "2019-q4", " 2020 Q1 ", "Q2 2020", "Q3-2020", "2020-10-01", "2020Q5", ""]
    raw = text_input(spark, [("a", "x", text, str(i)) for i, text in enumerate(written)])
    times = [row["ds"] for row in to_series_frame(raw, fast_config()).orderBy("y").collect()]
    assert times == [dt.datetime(2019, 7, 1), dt.datetime(2019, 10, 1), dt.datetime(2020, 1, 1),
                     dt.datetime(2020, 4, 1), dt.datetime(2020, 7, 1), dt.datetime(2020, 10, 1), None, None]
    # no quarter 5: the input check names it, as it names any time it cannot read
    with pytest.raises(InputError, match=r"1 of 8 values that are not dates .*, or quarter labels \(2024Q1\).*"
                                         r"\['2020Q5'\]"):
        check_input(raw, fast_config())
    # a pattern with Spark's quarter letter, which it does not parse, is told they need none
    with pytest.raises(InputError, match=r"is not a datetime pattern Spark can use: .*\(quarter labels, 2019Q3, "
                                         r"2019-Q3 or Q3 2019, are read without input.time_format\)"):
        check_input(text_input(spark, [("a", "x", "2019Q3", "1")]), fast_config("input.time_format=yyyy'Q'q"))


def test_iso_week_labels_are_read_as_their_monday_as_the_history_reader_reads_them(spark, fast_config):
    from forecasting.periods import iso_week_starts

    # every week of 2015-2030, 53-week years among them, and weeks some years lack
    labels = [f"{year}-W{week:02d}" for year in range(2015, 2031) for week in range(1, 54)]
    labels += ["2024w05", " 2024-W5 ", "2024W05", "2024-W00", "2024-W54", "W05-2024"]
    raw = text_input(spark, [("a", "x", text, str(i)) for i, text in enumerate(labels)])
    read = pd.Series([row["ds"] for row in to_series_frame(raw, fast_config()).orderBy(F.col("y").cast("int"))
                      .collect()], dtype="datetime64[ns]")
    expected = iso_week_starts(pd.Series(labels))
    pd.testing.assert_series_equal(read, expected, check_names=False)
    assert expected.iloc[labels.index("2026-W48")] == pd.Timestamp("2026-11-23")  # a Monday
    assert expected.iloc[labels.index("2027-W01")] == pd.Timestamp("2027-01-04")  # 4 January's week
    assert pd.isna(expected.iloc[labels.index("2021-W53")]) and expected.iloc[labels.index("2020-W53")] == \
        pd.Timestamp("2020-12-28")  # 2020 has 53 weeks, 2021 has 52
    assert list(expected.iloc[-6:-3]) == [pd.Timestamp("2024-01-29")] * 3 and expected.iloc[-3:].isna().all()
    # a pattern with Spark's week letters, which it no longer parses, is told they need none
    with pytest.raises(InputError, match=r"\(ISO week labels, 2024-W05, are read without input.time_format\)"):
        check_input(text_input(spark, [("a", "x", "2024-W05", "1")]), fast_config("input.time_format=YYYY-'W'ww"))


def test_a_few_times_among_many_that_read_are_named_to_fix_not_read_by_another_pattern(spark, fast_config):
    """2025-02-30 among 240 ISO dates: a time_format suggested for it (d/M/yyyy) would refuse the 238 others."""
    days = [f"2025-{month:02d}-{day:02d}" for month in (1, 3, 4, 5, 6, 7, 8, 9) for day in range(1, 31)]
    raw = text_input(spark, [("a", "x", day, "1") for day in [*days, "2025-02-30", "31/01/2025"]])
    with pytest.raises(InputError, match=r"has 2 of 242 values that are not dates or timestamps, where the others read "
                                         r"as ISO 8601: fix those rows \(a date the calendar lacks, or another form "
                                         r"mixed in\), e.g. \['2025-02-30', '31/01/2025'\]") as refused:
        check_input(raw, fast_config())
    assert "time_format" not in str(refused.value)


def test_times_the_pattern_does_not_read_and_a_pattern_spark_cannot_use_are_input_errors(spark, fast_config):
    raw = text_input(spark, [("a", "x", "2024-03-31", "1")])
    with pytest.raises(InputError, match=r"values that are not dates or timestamps as input.time_format 'dd/MM/yyyy' "
                                         r"reads them, e.g. \['2024-03-31'\]"):
        check_input(raw, fast_config("input.time_format=dd/MM/yyyy"))
    with pytest.raises(InputError, match=r"not dates or timestamps as ISO 8601 reads them .*: set input.time_format"):
        check_input(text_input(spark, [("a", "x", "31/03/2024", "1")]), fast_config())
    for pattern in ("yyyy-bb", "YYYY-MM-dd"):  # an unknown letter; week-based years, which Spark 3 refuses
        with pytest.raises(InputError, match=f"input.time_format '{pattern}' is not a datetime pattern Spark can use"):
            check_input(raw, fast_config(f"input.time_format={pattern}"))


def test_a_csv_inputs_folder_keys_are_text_as_written_not_merged_by_type_inference(spark, fast_config, tmp_path):
    # Hive-style folders: Spark's inference read 007 and 7 as the number 7, one series
    for store, value in (("007", 1), ("7", 2), ("7", 3)):
        folder = tmp_path / "sales" / f"store={store}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"part-{value}.csv").write_text(f"date,sales\n2024-01-0{value},{value}\n")
    config = fast_config(f"input.path={tmp_path / 'sales'}", "input.format=csv", "input.key_columns=[store]")
    raw, _ = io.read_input(spark, config)
    assert raw.schema["store"].dataType == T.StringType()
    assert sorted((r["store"], r["n"]) for r in raw.groupBy("store").count().withColumnRenamed("count", "n").collect()) \
        == [("007", 1), ("7", 2)]
    assert spark.conf.get(io.PARTITION_INFERENCE) == "true"  # the session's own setting, for other reads
    # a setting the config gives wins
    typed, _ = io.read_input(spark, fast_config(f"input.path={tmp_path / 'sales'}", "input.format=csv",
                                                "input.key_columns=[store]", f"spark.conf.{io.PARTITION_INFERENCE}=true"))
    assert typed.schema["store"].dataType == T.IntegerType()


def test_a_parquet_folders_files_are_checked_for_the_jobs_columns_and_their_types_before_spark_reads_them(
        spark, fast_config, tmp_path):
    # trial 40: a month's file with the target renamed upstream was read as nulls, and forecast from the months before
    import pyarrow as pa
    import pyarrow.parquet as pq

    days = pd.date_range("2024-01-01", periods=4).date
    month = pd.DataFrame({"store": "a", "date": days, "sales": [1.0, 2.0, 3.0, 4.0]})
    folder = tmp_path / "months"
    folder.mkdir()
    month.to_parquet(folder / "2024-01.parquet", index=False)
    month.rename(columns={"sales": "qty"}).to_parquet(folder / "2024-02.parquet", index=False)
    config = fast_config(f"input.path={folder}", "input.format=parquet", "input.key_columns=[store]")
    with pytest.raises(InputError, match=r"input parquet file '.*2024-02.parquet' lacks column\(s\) \['sales'\], "
                                         "which the others have"):
        io.read_input(spark, config)
    # the names the files have, before input.rename_columns: 'qty' everywhere is read as sales
    (folder / "2024-01.parquet").unlink()
    raw, _ = io.read_input(spark, fast_config(f"input.path={folder}", "input.format=parquet",
                                              "input.key_columns=[store]", "input.rename_columns={qty: sales}"))
    assert raw.count() == 4
    # a target of another type in one file, and pandas' empty frame with untyped columns
    month.to_parquet(folder / "2024-01.parquet", index=False)
    month.assign(sales=[1, 2, 3, 4]).to_parquet(folder / "2024-03.parquet", index=False)
    (folder / "2024-02.parquet").unlink()
    with pytest.raises(InputError, match=r"column 'sales' is int64 in input parquet file '.*2024-03.parquet' but "
                                         r"double in 2024-01.parquet: Spark reads one type per column"):
        io.read_input(spark, config)
    # types Spark reads alike are no clash: pandas' categorical, a large string
    month.assign(sales=[5.0] * 4, store=pd.Categorical(["a"] * 4)).to_parquet(folder / "2024-03.parquet", index=False)
    pq.write_table(pa.table({"store": pa.array(["a"] * 4, pa.large_string()), "date": pa.array(days),
                             "sales": [6.0] * 4}), folder / "2024-04.parquet")
    assert io.read_input(spark, config)[0].count() == 12
    for name in ("2024-03", "2024-04"):
        (folder / f"{name}.parquet").unlink()
    pd.DataFrame({"store": [], "date": [], "sales": []}).astype(object).to_parquet(folder / "2023-12.parquet")
    with pytest.raises(InputError, match=r"'.*2023-12.parquet' has no rows and no type for column 'store'"):
        io.read_input(spark, config)
    # a day of rows whose values are all missing, as pandas writes a column of None: no "no rows" said
    month.assign(sales=None).to_parquet(folder / "2023-12.parquet", index=False)
    with pytest.raises(InputError, match=r"'.*2023-12.parquet' holds only nulls in column 'sales' \(4 rows\), written "
                                         r"without a type .*astype\('float64'\)"):
        io.read_input(spark, config)
    # a key that is a folder's name (store=b/) is no column of its files: not lacking
    hive = tmp_path / "hive" / "store=b"
    hive.mkdir(parents=True)
    month.drop(columns="store").to_parquet(hive / "part-0.parquet", index=False)
    raw, _ = io.read_input(spark, fast_config(f"input.path={tmp_path / 'hive'}", "input.format=parquet",
                                              "input.key_columns=[store]"))
    assert [row["store"] for row in raw.select("store").distinct().collect()] == ["b"]
    # what Spark reads as one table all the same (the review of 12-06): a name in another case, milliseconds
    # beside microseconds, INT96 times beside zoned microseconds, a folder key that some files also hold
    from forecasting.input_files import check_parquet_files

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    times = pd.to_datetime(["2024-01-01", "2024-01-02"])
    pq.write_table(pa.table({"store": ["a"] * 2, "date": pa.array(times, pa.timestamp("ns")), "sales": [1.0, 2.0]}),
                   mixed / "a.parquet", use_deprecated_int96_timestamps=True)
    pq.write_table(pa.table({"Store": ["b"] * 2, "date": pa.array(times.tz_localize("UTC"), pa.timestamp("us", "UTC")),
                             "sales": [1.0, 2.0]}), mixed / "b.parquet")
    pq.write_table(pa.table({"store": ["c"] * 2, "date": pa.array(times, pa.timestamp("ms", "UTC")),
                             "sales": [1.0, 2.0]}), mixed / "c.parquet")
    check_parquet_files(str(mixed), {}, ["store", "date", "sales"])
    keyed = tmp_path / "keyed"
    for name, with_column in (("a", True), ("b", False)):
        (keyed / f"store={name}").mkdir(parents=True)
        month.drop(columns=[] if with_column else ["store"]).to_parquet(keyed / f"store={name}" / "p.parquet",
                                                                         index=False)
    check_parquet_files(str(keyed), {}, ["store", "date", "sales"])
    # Hive's INT96 times, which pyarrow shows as nanoseconds: Spark reads them, so does the job
    int96 = pa.table({"store": ["c", "c"], "date": pa.array(pd.to_datetime(["2024-01-01", "2024-01-02"])),
                      "sales": [1.0, 2.0]})
    pq.write_table(int96, tmp_path / "int96.parquet", use_deprecated_int96_timestamps=True)
    raw, _ = io.read_input(spark, fast_config(f"input.path={tmp_path / 'int96.parquet'}", "input.format=parquet",
                                              "input.key_columns=[store]"))
    assert sorted(str(row["date"]) for row in raw.collect()) == ["2024-01-01 00:00:00", "2024-01-02 00:00:00"]


def test_parquet_key_folders_spark_would_read_as_one_number_are_refused(spark, fast_config, tmp_path):
    # trial 40: region=007 and region=7 became one series 7, their values summed
    frame = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=3).date, "sales": [1.0, 2.0, 3.0]})
    for name in ("007", "7", "8"):
        (tmp_path / "sales" / f"store={name}").mkdir(parents=True)
        frame.to_parquet(tmp_path / "sales" / f"store={name}" / "part-0.parquet", index=False)
    settings = [f"input.path={tmp_path / 'sales'}", "input.format=parquet", "input.key_columns=[store]"]
    with pytest.raises(InputError, match="has folders store=007 and 7, which Spark reads as one store \\(int\\): their "
                                         "series would be summed into one. Set spark.conf "
                                         "spark.sql.sources.partitionColumnTypeInference.enabled: false"):
        io.read_input(spark, fast_config(*settings))
    # the same where input.rename_columns names the folders' key otherwise (the review of 12-06)
    with pytest.raises(InputError, match="has folders store=007 and 7"):
        io.read_input(spark, fast_config(*settings[:2], "input.key_columns=[shop]", "input.rename_columns={store: shop}"))
    spark.conf.set(io.PARTITION_INFERENCE, "false")  # as the job's session takes the config's spark.conf
    try:
        raw, _ = io.read_input(spark, fast_config(*settings, f"spark.conf.{io.PARTITION_INFERENCE}=false"))
        assert sorted(row["store"] for row in raw.select("store").distinct().collect()) == ["007", "7", "8"]
    finally:
        spark.conf.set(io.PARTITION_INFERENCE, "true")
    (tmp_path / "sales" / "store=007" / "part-0.parquet").unlink()
    (tmp_path / "sales" / "store=007").rmdir()
    raw, _ = io.read_input(spark, fast_config(*settings))  # one name per number: read as Spark types them
    assert sorted(row["store"] for row in raw.select("store").distinct().collect()) == [7, 8]
    # ids of 18 digits or more are longs Spark keeps apart, where a float would merge them (the review of 12-06)
    ids = tmp_path / "ids"
    for name in ("123456789012345678", "123456789012345679"):
        (ids / f"store={name}").mkdir(parents=True)
        frame.to_parquet(ids / f"store={name}" / "part-0.parquet", index=False)
    raw, _ = io.read_input(spark, fast_config(f"input.path={ids}", "input.format=parquet", "input.key_columns=[store]"))
    assert raw.select("store").distinct().count() == 2


def test_parquet_key_folders_spark_would_read_as_other_numbers_are_refused_unless_the_typing_is_chosen(
        spark, fast_config, tmp_path):
    # the inputs walk-through of 12-07: store=007 and 012 alone became 7 and 12 without a word, and a later
    # folder store=A1 made Spark read them all as text, the rerun then refused as keyed otherwise
    frame = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=3).date, "sales": [1.0, 2.0, 3.0]})
    for name in ("007", "012", "100"):
        (tmp_path / "sales" / f"store={name}").mkdir(parents=True)
        frame.to_parquet(tmp_path / "sales" / f"store={name}" / "part-0.parquet", index=False)
    settings = [f"input.path={tmp_path / 'sales'}", "input.format=parquet", "input.key_columns=[store]"]
    with pytest.raises(InputError, match=r"has folders whose names Spark reads as numbers written otherwise "
                                         r"\(store=007 as 7, store=012 as 12; 2 in all, int\)\. Set spark.conf "
                                         r"spark.sql.sources.partitionColumnTypeInference.enabled: false to read "
                                         r"folder keys as written \(text\), or true to take Spark's numbers"):
        io.read_input(spark, fast_config(*settings))
    for chosen, stores in (("false", ["007", "012", "100"]), ("true", [7, 12, 100])):
        spark.conf.set(io.PARTITION_INFERENCE, chosen)  # as the job's session takes the config's spark.conf
        try:
            raw, _ = io.read_input(spark, fast_config(*settings, f"spark.conf.{io.PARTITION_INFERENCE}={chosen}"))
            assert sorted(row["store"] for row in raw.select("store").distinct().collect()) == stores
        finally:
            spark.conf.set(io.PARTITION_INFERENCE, "true")
    # the input's own path named store=007, its files holding the column: no folder key to refuse (the review)
    own = tmp_path / "export" / "store=007"
    own.mkdir(parents=True)
    frame.assign(store=7).to_parquet(own / "part-0.parquet", index=False)
    raw, _ = io.read_input(spark, fast_config(f"input.path={own}", "input.format=parquet", "input.key_columns=[store]"))
    assert [row["store"] for row in raw.select("store").distinct().collect()] == [7]


def test_a_delta_tables_folder_given_as_parquet_is_refused_not_read_with_its_older_versions_files(spark, fast_config,
                                                                                                   tmp_path):
    # a day corrected upstream (a second version): read as parquet, both versions' rows were summed, said only as
    # rows repeated
    from deltalake import write_deltalake

    day = pd.DataFrame({"store": ["a"], "item": ["x"], "date": ["2024-01-01"], "sales": [1.0]})
    write_deltalake(str(tmp_path / "sales"), day)
    write_deltalake(str(tmp_path / "sales"), day.assign(sales=10.0), mode="overwrite")
    settings = [f"input.path={tmp_path / 'sales'}", "input.format=parquet"]
    with pytest.raises(InputError, match=r"is a Delta table \(it has a _delta_log folder\), given as input.format "
                                         r"parquet: .* Set input.format: delta"):
        io.read_input(spark, fast_config(*settings))
    raw, _ = io.read_input(spark, fast_config(f"input.path={tmp_path / 'sales'}", "input.format=delta"))
    assert [row["sales"] for row in raw.collect()] == [10.0]


def test_nanosecond_parquet_times_are_refused_before_spark_reads_them(spark, fast_config, tmp_path):
    # pandas' default: Spark said so only after four attempts' stack traces
    frame = pd.DataFrame({"store": ["a", "b"], "date": pd.to_datetime(["2024-01-01", "2024-01-02"]), "sales": [1.0, 2.0]})
    frame.to_parquet(tmp_path / "nanos.parquet", index=False)
    config = fast_config(f"input.path={tmp_path / 'nanos.parquet'}", "input.format=parquet")
    with pytest.raises(InputError, match=r"\(nanos.parquet\): column\(s\) \['date'\] hold nanosecond timestamps \(pandas' default\), "
                                         r"which Spark cannot read: write the file with pandas' "
                                         r"to_parquet\(..., coerce_timestamps='us'\)"):
        io.read_input(spark, config)
    # reader options that pick files: Spark's reading decides, and says it
    with pytest.raises(InputError, match=r"TIMESTAMP\(NANOS"):
        io.read_input(spark, fast_config(f"input.path={tmp_path}", "input.format=parquet",
                                         "input.options.pathGlobFilter='nanos*'"))
    (tmp_path / "micros").mkdir()
    frame.to_parquet(tmp_path / "micros" / "part-0.parquet", index=False, coerce_timestamps="us")
    raw, _ = io.read_input(spark, fast_config(f"input.path={tmp_path / 'micros'}", "input.format=parquet"))
    assert raw.count() == 2


def test_times_with_a_zone_are_said_to_be_read_as_utc(spark, fast_config, caplog):
    config = fast_config("input.key_columns=[shop]", "input.time_column=at", "input.target_column=units")
    said = "the times in column 'at' are typed instants (a timestamp column, not text): read as UTC times"
    for kind, expected in (("timestamp", True), ("timestamp_ntz", False), ("string", False)):
        caplog.clear()
        raw = spark.sql(f"select 'a' as shop, cast('2024-01-01 06:00:00' as {kind}) as at, 3.0 as units")
        with caplog.at_level(logging.INFO, logger="forecasting.validation"):
            check_input(raw, config)
        assert (said in caplog.text) == expected, kind


def test_a_time_format_for_a_column_already_typed_is_said_to_be_unused(spark, fast_config, caplog):
    # a parquet date column: the pattern a user set for the CSV it came from reads nothing
    config = fast_config("input.key_columns=[shop]", "input.time_column=day", "input.target_column=units",
                         "input.time_format=dd/MM/yyyy")
    for kind, expected in (("date", True), ("timestamp", True), ("timestamp_ntz", True), ("string", False)):
        caplog.clear()
        raw = spark.sql(f"select 'a' as shop, cast('2024-01-01' as {kind}) as day, 3.0 as units")
        if kind == "string":
            raw = raw.withColumn("day", F.lit("01/01/2024"))
        with caplog.at_level(logging.WARNING, logger="forecasting.validation"):
            assert check_input(raw, config).rows == 1
        assert (f"input.time_format 'dd/MM/yyyy' is not used: column 'day' is already a {kind}" in caplog.text) == \
            expected, kind


def test_times_given_with_their_zone_are_told_from_local_ones(spark, fast_config):
    # a historian's offsets: no advice on local clocks ahead of UTC in the summary
    config = fast_config("input.key_columns=[shop]", "input.time_column=at", "input.target_column=units")

    def zoned(times: list[str], kind: str = "string") -> bool:
        rows = ", ".join(f"('a', cast('{time}' as {kind}), 1.0)" for time in times)
        raw = spark.sql(f"select * from values {rows} as t(shop, at, units)")
        return check_input(raw, config, "2026-10-26").zoned_times

    assert zoned(["2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25 03:00Z"])
    assert zoned(["2026-10-25 02:00:00"], "timestamp")  # instants
    assert not zoned(["2026-10-25T02:00:00", "2026-10-25T02:00:00+01:00"])  # one without
    assert not zoned(["2026-10-25", "2026-10-26"])  # dates: 10-25's "-25" is no zone
    assert not zoned(["2026-10-25 02:00:00"], "timestamp_ntz")


def test_times_some_with_a_zone_and_some_without_are_warned_of_naming_their_series(spark, fast_config, caplog):
    config = fast_config("input.key_columns=[meter]", "input.time_column=at", "input.target_column=kwh")

    def warned(rows: list[tuple]) -> tuple[str, ...]:
        values = ", ".join(f"('{meter}', '{time}', 1.0)" for meter, time in rows)
        raw = spark.sql(f"select * from values {values} as t(meter, at, kwh)")
        return check_input(raw, config, "2026-04-10").row_warnings

    # meters of two systems: Berlin's local clock, and offsets read in UTC, an hour or two apart
    (said,) = warned([("m1", "2026-04-08T10:00:00"), ("m1", "2026-04-08T11:00:00"), ("m2", "2026-04-08T10:00:00+02:00"),
                      ("m3", "2026-04-08T10:00:00Z")])
    assert said == ("2 of 4 input rows give their time in column 'at' with a UTC offset or zone, read as UTC, and the "
                    "other 2 without one, read as written: times of two clocks, apart by the zone's offset where the "
                    "others are local times (series m2, m3 give theirs with one, series m1 without). Give every "
                    "time one way: each with its offset, or in UTC, or each as local time")
    assert said in caplog.text
    # an export that began writing offsets: the series that mix both named
    (said,) = warned([("m1", "2026-04-07T10:00:00"), ("m1", "2026-04-08T10:00:00+02:00"), ("m2", "2026-04-08T10:00")])
    assert "(series m1 give both kinds)" in said
    # a row without a time is neither kind: m1 gives its times one way
    timeless, said = warned([("m1", "2026-04-08T10:00:00+02:00"), ("m1", ""), ("m2", "2026-04-08T10:00")])
    assert "have no time" in timeless and "(series m1 give theirs with one, series m2 without)" in said
    assert warned([("m1", "2026-04-08T10:00:00+02:00"), ("m2", "2026-04-08T10:00:00Z")]) == ()  # one way each
    assert warned([("m1", "2026-04-08T10:00:00"), ("m2", "2026-04-08")]) == ()


def test_typed_columns_pass_through(spark, fast_config):
    config = fast_config("input.key_columns=[shop]", "input.time_column=day", "input.target_column=units")
    raw = spark.createDataFrame([(7, dt.date(2024, 1, 1), 3)], "shop int, day date, units long")
    series = to_series_frame(raw, config)
    assert series.schema["shop"].dataType == T.IntegerType()
    assert series.schema["ds"].dataType == T.TimestampType()
    assert series.first()["y"] == 3.0


def test_missing_column_is_named_with_the_available_ones(spark, fast_config):
    raw = spark.createDataFrame([("a", "2024-01-01", "1")], "store string, date string, sales string")
    with pytest.raises(InputError, match=r"\['item'\].*it has \['store', 'date', 'sales'\]"):
        check_input(raw, fast_config())


def test_a_key_column_of_arrays_is_refused_before_any_training(spark, fast_config):
    raw = spark.createDataFrame([(["a", "b"], "x", "2024-01-01", "1")],
                                "store array<string>, item string, date string, sales string")
    with pytest.raises(InputError, match=r"key column\(s\) 'store' \(array<string>\) hold arrays, maps or structs"):
        check_input(raw, fast_config())


def test_non_numeric_target_stops_with_examples(spark, fast_config):
    raw = text_input(spark, [("a", "x", "2024-01-01", "12"), ("a", "x", "2024-01-02", "twelve")])
    with pytest.raises(InputError, match=r"'sales' has 1 of 2 values that are not numbers, e.g. \['twelve'\]"):
        check_input(raw, fast_config())


def test_a_text_for_no_value_in_the_target_is_met_with_the_reader_option_that_reads_it_as_missing(spark, fast_config):
    for written in ("n/a", "---", "NULL"):
        raw = text_input(spark, [("a", "x", "2024-01-01", "12"), ("a", "x", "2024-01-02", written)])
        with pytest.raises(InputError, match=rf"not numbers \(if '{re.escape(written)}' means no value, "
                                             rf"input.options.nullValue: '{re.escape(written)}' reads it as missing; "
                                             r"one text only\), e.g."):
            check_input(raw, fast_config())
    # not for a parquet file's text, whose reader has no such option
    with pytest.raises(InputError, match=r"values that are not numbers, e.g. \['n/a'\]"):
        check_input(text_input(spark, [("a", "x", "2024-01-02", "n/a")]),
                    fast_config("input.format=parquet", "input.path=sales.parquet"))


def test_java_style_number_text_is_not_taken_for_a_number(spark, fast_config):
    raw = text_input(spark, [("a", "x", "2024-01-01", "12d"), ("a", "x", "2024-01-02", "0x1p3"),
                             ("a", "x", "2024-01-03", "5f"), ("a", "x", "2024-01-04", "4")])
    with pytest.raises(InputError, match=r"'sales' has 3 of 4 values that are not numbers, e.g. \['12d', '0x1p3', '5f'\]"):
        check_input(raw, fast_config())


def test_blank_target_text_is_a_missing_value_and_numbers_keep_their_written_forms(spark, fast_config):
    written = ["", " \t", "-1.5e3", "+.5", "7.", "NaN", "-Infinity", "\t42\n"]
    raw = text_input(spark, [("a", "x", f"2024-01-{day + 1:02d}", text) for day, text in enumerate(written)])
    assert check_input(raw, fast_config()).rows == len(written)  # none refused
    values = [row["y"] for row in to_series_frame(raw, fast_config()).orderBy("ds").collect()]
    assert values[:5] == [None, None, -1500.0, 0.5, 7.0] and values[5] != values[5]  # NaN
    assert values[6:] == [float("-inf"), 42.0]


def test_unparseable_time_stops_with_examples(spark, fast_config):
    raw = text_input(spark, [("a", "x", "2024-13-45", "1"), ("a", "x", "2024-01-02", "2")])
    with pytest.raises(InputError, match=r"'date' has 1 of 2 values that are not dates.*2024-13-45") as refused:
        check_input(raw, fast_config())
    assert "series" not in str(refused.value)  # the one series: no other form elsewhere to point at


def test_times_written_otherwise_in_some_series_only_are_said_to_be_in_them(spark, fast_config):
    # one site's export writes 12-hour US times; the others ISO 8601
    rows = [(store, "x", f"2026-11-{day:02d} 09:00", "1") for store in ("nyc", "dal") for day in (2, 3)]
    rows += [("phx", item, f"11/{day:02d}/2026 09:00 AM", "1") for item in ("x", "y") for day in (2, 3)]
    with pytest.raises(InputError) as refused:
        check_input(text_input(spark, rows), fast_config())
    assert str(refused.value).endswith(
        "e.g. ['11/02/2026 09:00 AM', '11/03/2026 09:00 AM', '11/02/2026 09:00 AM']; all in 2 of the 4 series "
        "(phx/x, phx/y): written in another form there (one input setting reads one form: convert those series' "
        "values), or values to check?")


def test_a_time_pandas_cannot_hold_stops_with_examples(spark, fast_config):
    raw = text_input(spark, [("a", "x", "0202-03-01", "1"), ("a", "x", "2024-01-02", "2")])
    with pytest.raises(InputError, match=r"'date' has 1 times before 1677-09-22 .*0202-03-01"):
        check_input(raw, fast_config())
    # a far-future placeholder is cut by the run date before it reaches pandas: no reason to stop
    placeholder = text_input(spark, [("a", "x", "9999-12-31", "1"), ("a", "x", "2024-01-02", "2")])
    counts = check_input(placeholder, fast_config(), run_date="2024-01-31")
    assert counts == InputCounts(rows=2, series=1, latest=dt.datetime(2024, 1, 2), after_run_date=1,
                                 after_run_date_last="9999-12-31 00:00:00")


def test_rows_after_the_run_date_are_said_to_be_left_out_and_a_year_past_pandas_is_warned_of(spark, fast_config, caplog):
    later = text_input(spark, [("a", "x", "2024-02-03", "1"), ("a", "x", "2024-01-02", "2"),
                               ("b", "x", "2024-03-01", "3")])
    with caplog.at_level(logging.INFO, logger="forecasting.validation"):
        assert check_input(later, fast_config(), run_date="2024-01-31").series == 1  # b's rows all come later
    [record] = [r for r in caplog.records if "after the run date" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert "2 of 3 input rows are after the run date 2024-01-31, up to 2024-03-01 00:00:00" in record.getMessage()
    caplog.clear()
    typo = text_input(spark, [("a", "x", "20244-01-02", "1"), ("a", "x", "2024-01-02", "2")])  # a five-digit year
    with caplog.at_level(logging.INFO, logger="forecasting.validation"):
        check_input(typo, fast_config(), run_date="2024-01-31")
    [record] = [r for r in caplog.records if "after the run date" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "up to +20244-01-02" in record.getMessage() and "(1 after 2262-04-11: a mistyped year" in record.getMessage()


def test_rows_without_a_time_are_counted_and_said_to_be_left_out(spark, fast_config, caplog):
    raw = text_input(spark, [("a", "x", None, "1"), ("a", "x", "2024-01-02", "2"), ("b", "x", None, "3")])
    counts = check_input(raw, fast_config())
    assert counts.rows_without_time == 2
    # a line of the summary too, naming their series (b/x, with no other row, is skipped as well, and said so)
    said = "2 of 3 input rows have no time in column 'date': they are left out, their values unused (series a/x, b/x)"
    assert counts.row_warnings == (said,)
    assert said in caplog.text


def test_blank_time_text_is_a_row_without_a_time_not_an_unreadable_one(spark, fast_config):
    raw = text_input(spark, [("a", "x", "", "1"), ("a", "x", "\t2024-01-02 ", "2"), ("a", "x", " \t", "3")])
    counts = check_input(raw, fast_config(), run_date="2024-01-31")
    assert (counts.rows_without_time, counts.series, counts.latest) == (2, 1, dt.datetime(2024, 1, 2))


def test_boolean_target_is_not_numeric(spark, fast_config):
    raw = spark.createDataFrame([("a", "x", "2024-01-01", True)], "store string, item string, date string, sales boolean")
    with pytest.raises(InputError, match="target column 'sales' has type boolean"):
        check_input(raw, fast_config())


def test_empty_input_stops(spark, fast_config):
    with pytest.raises(InputError, match="is empty"):
        check_input(text_input(spark, []), fast_config())


def test_the_series_known_on_the_run_date_are_counted_null_keys_too(spark, fast_config):
    raw = text_input(spark, [
        ("a", "x", "2024-01-01", "1"), ("a", "x", "2024-01-02", "2"),
        (None, "x", "2024-01-31 23:00", "3"),  # still on the run date
        ("b", "y", "2024-02-01", "4"),  # after it
    ])
    # and the latest time known then: how far the data reach (zero gaps go no further)
    latest = dt.datetime(2024, 1, 31, 23)
    counts = check_input(raw, fast_config(), run_date="2024-01-31")
    assert counts == InputCounts(rows=4, series=2, latest=latest, after_run_date=1,
                                 after_run_date_last="2024-02-01 00:00:00", key_warnings=counts.key_warnings)
    assert check_input(raw, fast_config()) == InputCounts(rows=4, series=None, key_warnings=counts.key_warnings)
    assert [line.split(",")[0] for line in counts.key_warnings] == ["1 input rows have a null key value"]


def test_a_timestamp_key_pandas_cannot_hold_is_refused_before_the_training(spark, fast_config):
    # a 9999-12-31 "valid until" sentinel had failed the training tasks, and with them the job
    df = spark.createDataFrame(
        [("a", dt.datetime(9999, 12, 31), "2024-01-01", 1.0), ("b", dt.datetime(2024, 1, 1), "2024-01-01", 2.0)],
        "store string, valid_to timestamp, day string, sales double",
    )
    config = fast_config("input.key_columns=[store, valid_to]", "input.time_column=day", "input.target_column=sales")
    with pytest.raises(InputError, match=r"key column 'valid_to' has 1 times outside 1677-09-22 to 2262-04-11"):
        check_input(df, config, "2024-01-31")


def test_an_input_without_any_time_says_so_rather_than_that_none_is_before_the_run_date(spark, fast_config):
    df = spark.createDataFrame([("a", None, 1.0)], "store string, day string, sales double")
    config = fast_config("input.key_columns=[store]", "input.time_column=day", "input.target_column=sales")
    with pytest.raises(InputError, match="column 'day' has no time in any of the 1 rows"):
        check_input(df, config, "2024-01-31")


def test_the_latest_time_is_the_utc_wall_clock_time_whatever_the_drivers_time_zone(spark, fast_config, monkeypatch):
    import time

    monkeypatch.setenv("TZ", "America/New_York")  # collect() turns a timestamp into this zone's local time
    time.tzset()
    try:
        df = spark.createDataFrame([("a", "2024-03-30 23:00:00", 1.0)], "store string, day string, sales double")
        config = fast_config("input.key_columns=[store]", "input.time_column=day", "input.target_column=sales")
        assert check_input(df, config, "2024-03-31").latest == dt.datetime(2024, 3, 30, 23, 0)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_files_that_cannot_be_read_as_one_table_are_an_input_error(spark, fast_config, tmp_path):
    folder = tmp_path / "sales"
    folder.mkdir()
    for name, sales in (("a", "1.5"), ("b", "2")):  # double in one file, int in the other
        frame = pd.DataFrame({"store": [name], "day": ["2024-01-01"], "sales": [float(sales) if "." in sales else 2]})
        frame.to_parquet(folder / f"{name}.parquet")
    settings = [f"input.path={folder}", "input.format=parquet", "input.key_columns=[store]", "input.time_column=day",
                "input.target_column=sales"]
    # a local folder's files are checked before Spark reads them, each file named
    with pytest.raises(InputError, match="column 'sales' is int64 in input parquet file '.*b.parquet' but double"):
        io.read_input(spark, fast_config(*settings))
    # where the job cannot look (reader options that pick files; a remote store), Spark's reading says it
    config = fast_config(*settings, "input.options.mergeSchema=false")
    df, _ = io.read_input(spark, config)
    with pytest.raises(InputError, match=f"input '{folder}' cannot be read as one table: ") as refused:
        check_input(df, config, "2024-01-31")
    said = str(refused.value).split("cannot be read as one table: ")[1]
    assert said.startswith("[") and "Exception" not in said  # Spark's error class first, no Java class before it
    assert said.endswith("(rewrite the files with one type per column: pandas' astype, or a cast in the job that "
                         "writes them; mergeSchema does not widen an int to a double)")


def test_a_reader_option_spark_refuses_is_an_input_error(spark, fast_config, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text("store,day,sales\na,2024-01-01,1\n")
    config = fast_config(f"input.path={path}", "input.key_columns=[store]", "input.time_column=day",
                         "input.target_column=sales", "input.options.sep=''")
    with pytest.raises(InputError, match=f"cannot read input csv '{path}': .*[Dd]elimiter cannot be empty"):
        io.read_input(spark, config)


def test_a_whole_number_written_with_an_exponent_reaches_the_reader_as_a_whole_number(spark, fast_config, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text("store,day,sales\na,2024-01-01,1\n")
    config = fast_config(f"input.path={path}", "input.key_columns=[store]", "input.time_column=day",
                         "input.target_column=sales", "input.options.maxColumns=1e5")
    assert config.input.options["maxColumns"] == "100000"  # as the whole number it is; Spark refused "100000.0"
    df, _ = io.read_input(spark, config)
    assert df.count() == 1


def test_a_csv_file_in_another_encoding_is_refused_before_its_keys_merge(spark, fast_config, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_bytes("region;day;sales\nM\u00fcller;2024-01-01;1\nM\u00f6ller;2024-01-01;50\n".encode("cp1252"))
    settings = [f"input.path={path}", "input.key_columns=[region]", "input.time_column=day",
                "input.target_column=sales", "input.options.sep=';'"]
    df, _ = io.read_input(spark, fast_config(*settings))
    with pytest.raises(InputError, match="2 rows of .* have key values with bytes that are not UTF-8 text .*"
                                         "distinct keys would merge into one series.*input.options.encoding"):
        check_input(df, fast_config(*settings), "2024-01-31")
    latin = fast_config(*settings, "input.options.encoding=ISO-8859-1")
    df, _ = io.read_input(spark, latin)
    assert check_input(df, latin, "2024-01-31").series == 2  # M\u00fcller and M\u00f6ller


def test_csv_files_that_list_their_columns_in_another_order_are_refused_not_swapped(spark, fast_config, tmp_path):
    folder = tmp_path / "sales"
    folder.mkdir()
    (folder / "a.csv").write_text("store,item,day,sales\nwest,milk,2024-01-01,1\n")
    (folder / "b.csv").write_text("item,store,day,sales\nmilk,east,2024-01-01,2\n")  # item first
    config = fast_config(f"input.path={folder}", "input.key_columns=[store, item]", "input.time_column=day",
                         "input.target_column=sales")
    df, _ = io.read_input(spark, config)
    with pytest.raises(InputError, match="cannot be read as one table: .*CSV header does not conform"):
        check_input(df, config, "2024-01-31")


def test_csv_files_with_a_column_more_or_a_readme_among_them_are_an_input_error_not_a_crash(spark, fast_config,
                                                                                             tmp_path):
    # the inputs walk-through of 12-07: exit 1 ("An error occurred while calling o552.collectToPython"), a
    # scheduler's cue to retry what never reads
    for other in ("b.csv", "README.txt"):
        folder = tmp_path / other.replace(".", "_")
        folder.mkdir()
        (folder / "a.csv").write_text("store,item,day,sales\nwest,milk,2024-01-01,1\n")
        (folder / other).write_text("store,item,day,sales,note\nwest,milk,2024-01-02,2,x\n" if other == "b.csv"
                                    else "Sales of every store, exported nightly.\n")
        config = fast_config(f"input.path={folder}", "input.key_columns=[store, item]", "input.time_column=day",
                             "input.target_column=sales")
        df, _ = io.read_input(spark, config)
        with pytest.raises(InputError, match=r"cannot be read as one table: Number of column in CSV header is not "
                                             r"equal to number of fields in the schema.* \(every file of the folder is "
                                             r"read, each with the first file's columns: .*folder/\*\.csv\)"):
            check_input(df, config, "2024-01-31")


def test_a_csv_row_with_more_or_fewer_fields_than_its_header_stops_the_job_naming_it(spark, fast_config, tmp_path):
    # an unquoted thousands separator: Spark kept the 1 and dropped the 008 without a word
    folder = tmp_path / "sales" / "region=007"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("store,day,sales\na,2024-01-01,950\nb,2024-01-01,1,008\nc,2024-01-02\n"
                                  'd,2024-01-03,"1,008"\n')
    settings = [f"input.path={tmp_path / 'sales'}", "input.key_columns=[store]", "input.time_column=day",
                "input.target_column=sales"]
    df, _ = io.read_input(spark, fast_config(*settings))
    with pytest.raises(InputError, match=r"2 of 4 rows of .* have more or fewer fields than the header's 3 "
                                         r"\(store, day, sales\), e\.g\. \['b,2024-01-01,1,008', 'c,2024-01-02'\]"):
        check_input(df, fast_config(*settings), "2024-01-31")
    # the series frame has the configured columns only; the folder's key is still read
    assert io.MALFORMED_ROW not in to_series_frame(df, fast_config(*settings)).columns
    assert df.select("region").distinct().collect()[0][0] == "007"
    # a mode of the user's own: DROPMALFORMED leaves both rows out
    dropping = fast_config(*settings, "input.options.mode=DROPMALFORMED")
    df, _ = io.read_input(spark, dropping)
    with pytest.raises(InputError, match="'sales' has 1 of 2 values that are not numbers"):  # the quoted 1,008
        check_input(df, dropping, "2024-01-31")
    assert sorted(row["store"] for row in to_series_frame(df, dropping).collect()) == ["a", "d"]


def test_a_comment_line_files_in_plain_subfolders_and_names_alike_but_for_case_are_said_how_to_read(
        spark, fast_config, tmp_path):
    # the inputs walk-through of 12-07: each stopped with Spark's bare words or a list of columns
    commented = tmp_path / "commented.csv"
    commented.write_text("# export 2024-03-10 by ERP\nstore,date,sales\na,2024-01-01,1\n")
    settings = [f"input.path={commented}", "input.key_columns=[store]"]
    df, _ = io.read_input(spark, fast_config(*settings))
    with pytest.raises(InputError, match=r"The first line reads as a comment \('# export 2024-03-10 by ERP'\): "
                                         r"input.options.comment: '#' skips the lines that start with it"):
        check_input(df, fast_config(*settings), "2024-01-31")
    df, _ = io.read_input(spark, fast_config(*settings, "input.options.comment=#"))
    assert check_input(df, fast_config(*settings, "input.options.comment=#"), "2024-01-31").series == 1
    from forecasting import input_hints  # a banner of SAP's holding a ';' is no separator's sign (the review)
    assert input_hints.header_names_hint(["; Exported by SAP; 2024"], {}) == (
        " The first line reads as a comment ('; Exported by SAP; 2024'): input.options.comment: ';' skips the lines "
        "that start with it.")

    nested = tmp_path / "exports"
    (nested / "2024 march").mkdir(parents=True)
    (nested / "2024 march" / "a.csv").write_text("store,date,sales\na,2024-01-01,1\n")
    with pytest.raises(InputError, match=r"UNABLE_TO_INFER_SCHEMA.* \(Spark reads the files in the folder and in "
                                         r"key=value subfolders: .*folder/\*/\*\.csv, or "
                                         r"input.options.recursiveFileLookup: true\)"):
        io.read_input(spark, fast_config(f"input.path={nested}", "input.key_columns=[store]"))
    df, _ = io.read_input(spark, fast_config(f"input.path={nested}", "input.key_columns=[store]",
                                             "input.options.recursiveFileLookup=true"))
    assert df.count() == 1
    # a folder holding only _SUCCESS (an export not landed yet) is told so, not sent to subfolders (the review)
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "_SUCCESS").write_text("")
    with pytest.raises(InputError, match=r"UNABLE_TO_INFER_SCHEMA.* \(the folder holds no data files Spark reads: an "
                                         r"export not landed yet\?\)"):
        io.read_input(spark, fast_config(f"input.path={landing}", "input.key_columns=[store]"))

    cased = tmp_path / "cased.parquet"
    pd.DataFrame({"store": ["a"], "date": ["2024-01-01"], "Sales": [1.0], "sales": [2.0]}).to_parquet(cased,
                                                                                                    index=False)
    with pytest.raises(InputError, match=r"COLUMN_ALREADY_EXISTS.*\(Spark takes column names whatever their case: "
                                         r"rename one in the files, or set spark.conf spark.sql.caseSensitive: true\)"):
        io.read_input(spark, fast_config(f"input.path={cased}", "input.format=parquet", "input.key_columns=[store]"))
    spark.conf.set("spark.sql.caseSensitive", "true")  # as the job's session takes the config's spark.conf
    try:
        df, _ = io.read_input(spark, fast_config(f"input.path={cased}", "input.format=parquet",
                                                 "input.key_columns=[store]"))
        assert df.select("sales").first()[0] == 2.0
    finally:
        spark.conf.set("spark.sql.caseSensitive", "false")


def test_a_quoted_value_across_lines_is_said_to_need_multiline_not_quotes(spark, fast_config, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text('store,item,date,sales\na,g,2024-01-01,1\n"line\nbreak",g,2024-01-01,5\nb,g,2024-01-02,3\n')
    settings = [f"input.path={path}"]
    df, _ = io.read_input(spark, fast_config(*settings))
    # Spark read it line by line: the quoted value's first line is the malformed "row"
    with pytest.raises(InputError, match=r"1 of 4 lines of .* have more or fewer fields than the header's 4 .*"
                                         r"e\.g\. \['\"line'\]: a quoted value there spans lines .* the count is of "
                                         r"lines: input\.options\.multiLine: true reads such a value whole$"):
        check_input(df, fast_config(*settings), "2024-01-31")
    whole = fast_config(*settings, "input.options.multiLine=true")
    df, _ = io.read_input(spark, whole)
    assert check_input(df, whole, "2024-01-31").series == 3  # "line\nbreak" one of them


def test_an_empty_csv_file_or_folder_of_them_is_said_to_be_empty(spark, fast_config, tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    folder = tmp_path / "sales"
    folder.mkdir()
    for name in ("a.csv", "b.csv"):
        (folder / name).write_bytes(b"")
    for path in (tmp_path / "empty.csv", folder):  # no header: Spark finds no columns at all
        config = fast_config(f"input.path={path}")
        df, _ = io.read_input(spark, config)
        with pytest.raises(InputError, match=f"^input '{path}' is empty: no header and no rows$"):
            check_input(df, config, "2024-01-31")


def test_rows_dropmalformed_leaves_out_are_counted_and_said(spark, fast_config, tmp_path, caplog):
    path = tmp_path / "sales.csv"
    # a price column the job does not use: Spark's own DROPMALFORMED kept b and c where a query read some columns
    path.write_text("store,day,sales,price\na,2024-01-01,950,1\nb,2024-01-01,1,008,2\nc,2024-01-02,3\n"
                    "d,2024-01-03,4,1\n")
    config = fast_config(f"input.path={path}", "input.key_columns=[store]", "input.time_column=day",
                         "input.target_column=sales", "input.options.mode=DROPMALFORMED")
    pruning = "spark.sql.csv.parser.columnPruning.enabled"
    before = spark.conf.get(pruning)
    df, _ = io.read_input(spark, config)
    with caplog.at_level(logging.WARNING, logger="forecasting.validation"):
        counts = check_input(df, config, "2024-01-31")
    assert [row["y"] for row in to_series_frame(df, config).orderBy("ds").collect()] == [950.0, 4.0]
    assert spark.conf.get(pruning) == before  # the session's setting, which a notebook's other reads keep
    said = (f"2 of 4 rows of '{path}' have more or fewer fields than the header's 4 (store, day, sales, price), e.g. "
            "['b,2024-01-01,1,008,2', 'c,2024-01-02,3']: left out (input.options.mode: DROPMALFORMED)")
    assert (counts.rows, counts.series, counts.row_warnings) == (2, 2, (said,))
    assert said in caplog.text
    from forecasting import job_summary, pipeline

    summary = job_summary.JobSummary("2024-01-31", "run", "0", "file:///m", {})
    pipeline.say_input(summary, pipeline.CheckedInput({}, counts, df, df), config)
    assert summary.note == f"  {said}\n"


def test_key_values_with_spaces_around_them_are_kept_apart_as_written_and_warned_of(spark, fast_config, caplog):
    raw = text_input(spark, [(" north", "x", "2024-01-01", "1"), ("north", "x", "2024-01-01", "2"),
                             ("south", "x ", "2024-01-01", "3")])
    with caplog.at_level(logging.WARNING, logger="forecasting.validation"):
        counts = check_input(raw, fast_config(), run_date="2024-01-31")
    assert counts.series == 3
    [record] = [r for r in caplog.records if "spaces before or after" in r.getMessage()]
    assert record.getMessage().startswith("2 input rows have key values with spaces before or after them")
    assert "e.g. ' north/x', 'south/x ': each" in record.getMessage()  # had been Python's dicts of them
    # a line of the run's summary too, where --summary-file readers see it (logged once, as the input is checked)
    from forecasting import job_summary, pipeline

    assert counts.key_warnings == (record.getMessage(),)
    summary = job_summary.JobSummary("2024-01-31", "run", "0", "file:///m", {})
    pipeline.say_input(summary, pipeline.CheckedInput({}, counts, raw, raw), fast_config())
    assert summary.note == f"  {record.getMessage()}\n"
    assert check_input(raw.where("store = 'north'"), fast_config(), run_date="2024-01-31").key_warnings == ()


def test_examples_of_one_reason_are_named_together_not_the_reason_said_again_for_each(spark):
    from forecasting import job_summary

    rows = spark.createDataFrame([("s1", "last observation 2025-11-30, 10 periods before the run date"),
                                  ("s2", "last observation 2025-11-30, 10 periods before the run date"),
                                  ("s3", "last observation 2025-10-31, 40 periods before the run date")],
                                 "store string, reason string")
    assert job_summary.named_examples(rows.orderBy("store"), ["store"]) == (
        "s1, s2: last observation 2025-11-30, 10 periods before the run date; "
        "s3: last observation 2025-10-31, 40 periods before the run date")


def test_a_key_value_that_reads_like_a_missing_value_is_warned_of(spark, fast_config, caplog):
    """A database's NULL or pandas' None written as text: a series of that name, which the export meant as no key."""
    raw = text_input(spark, [("NULL", "x", "2024-01-01", "1"), (" none ", "x", "2024-01-01", "2"),
                             ("north", "N/A", "2024-01-01", "3"), ("Nancy", "nano", "2024-01-01", "4")])
    with caplog.at_level(logging.WARNING, logger="forecasting.validation"):
        counts = check_input(raw, fast_config(), run_date="2024-01-31")
    [line] = [line for line in counts.key_warnings if "missing value written as text" in line]
    assert line.startswith("3 input rows have key values that read like a missing value written as text (NULL, None, "
                           "nan, N/A), e.g. ' none /x', 'NULL/x', 'north/N\\\\/A': each is modelled as a series")
    assert "Nancy" not in line and line in caplog.text


def test_missing_value_texts_match_in_any_letter_case_and_only_whole(spark):
    """The pattern that stands in for lower() (whose ICU tables cost a cold JVM its load): every
    text in any case, with spaces around, and nothing that merely holds one."""
    from forecasting import key_values

    texts = ["NULL", " none ", "NaN", "n/A", "#N/A", "<Null>", "nullx", "xnone", "n.a", "#na", "null>", "Nancy", None,
             "NULL\n", "none\r\n", "nan\x85"]  # a line break after one is no longer that text alone
    rows = spark.createDataFrame([(text,) for text in texts], "k string")
    matched = rows.where(key_values.null_text(["k"])).collect()
    assert [row.k for row in matched] == ["NULL", " none ", "NaN", "n/A", "#N/A", "<Null>"]


def test_the_input_checks_one_pass_folds_no_letter_case(spark, fast_config, monkeypatch):
    """lower() or upper() in it loads ICU's case tables into the cold JVM, about 1 s of every job's start
    (docs/performance.md, Levers); input.key_case asks for a fold, and pays for it."""
    raw = text_input(spark, [("NULL", "x", "2024-01-01", "1"), (" north ", "x", "2024-01-01", "2")])
    aggregated, frames = [], type(raw)  # Spark 4's classic DataFrame
    agg = frames.agg
    monkeypatch.setattr(frames, "agg", lambda self, *columns: aggregated.append(columns) or agg(self, *columns))
    check_input(raw, fast_config(), run_date="2024-01-31")
    said = " ".join(str(column) for columns in aggregated for column in columns)
    assert "count_if" in said and "RLIKE" in said.upper()  # the key values' conditions among them
    assert not re.search(r"\b(lower|upper|lcase|ucase|initcap)\(", said, re.IGNORECASE)


def test_a_null_key_value_is_warned_of_with_its_series_named(spark, fast_config, caplog):
    """A series with a null key is skipped; where its other keys are a series' too, that series lacks its rows
    (a walk-through's plums: zero sales filled into the keyed series under gaps: zero), which only the summary's
    count of skipped series had hinted at."""
    raw = spark.createDataFrame(
        [("north", 5.0, "2024-01-01", 1.0), (None, 5.0, "2024-01-02", 2.0), ("north", float("nan"), "2024-01-01", 3.0),
         ("south", 6.0, "2024-01-01", 4.0)], "region string, store double, day string, sales double")
    config = fast_config("input.key_columns=[region, store]", "input.time_column=day", "input.target_column=sales")
    with caplog.at_level(logging.WARNING):
        counts = check_input(raw, config, run_date="2024-01-31")
    [line] = [line for line in counts.key_warnings if "null key" in line]
    assert line.startswith("2 input rows have a null key value, e.g. '<null>/5.0', 'north/<null>': a series needs its "
                           "keys, so each such series is skipped; where its other keys are those of a series too")
    assert line in caplog.text
    # a null country is a blank one: its series keeps the country's default holidays, no warning
    by_country = fast_config("input.key_columns=[region, store]", "input.time_column=day",
                             "input.target_column=sales", "model.country_holidays_column=region")
    [line] = [line for line in check_input(raw, by_country, run_date="2024-01-31").key_warnings if "null key" in line]
    assert line.startswith("1 input rows have a null key value, e.g. 'north/<null>'")


def test_a_blank_key_value_is_a_series_of_its_own_and_warned_of(spark, fast_config, caplog):
    # parquet keeps '' apart from null: modelled without a word, and named as nothing in the summary's examples
    raw = text_input(spark, [("", "x", "2024-01-01", "1"), (None, "x", "2024-01-01", "2"),
                             ("south", "", "2024-01-01", "3"), ("south", "y", "2024-01-01", "4")])
    with caplog.at_level(logging.WARNING, logger="forecasting.validation"):
        counts = check_input(raw, fast_config(), run_date="2024-01-31")
    assert counts.series == 4
    [record] = [r for r in caplog.records if "blank key value" in r.getMessage()]
    assert record.getMessage().startswith("2 input rows have a blank key value (empty text, not null), e.g. '/x', "
                                          "'south/': modelled as a series of its own")
    assert record.getMessage() in counts.key_warnings
    # the country column's blank is a null country made blank to be one series with its blank rows: no warning
    by_country = fast_config("model.country_holidays_column=store", "input.key_columns=[store, item]")
    assert not [line for line in check_input(raw, by_country, run_date="2024-01-31").key_warnings
                if "'/x'" in line]
    # the summary's examples of a count quote a blank series' id, which read as nothing ("e.g. , south/y")
    from forecasting import job_summary

    assert job_summary.example_ids(raw.where("store = '' or item = 'y'"), ["store"]) == "'', south"


def test_input_trim_keys_reads_text_keys_without_the_spaces_around_them(spark, tmp_path):
    # a database's CHAR(8) column pads its values: 'S02     ' and 'S02' were two series, the padded one gappy
    from forecasting import input_history, io
    from forecasting.config import ConfigError, load_config

    (tmp_path / "sales.csv").write_text("store,item,day,sales\nS02     ,I06,2024-01-01,1\nS02,I06,2024-01-02,2\n"
                                        "S02, I07 ,2024-01-01,3\n")
    settings = [f"input.path={tmp_path / 'sales.csv'}", "input.key_columns=[store, item]", "input.time_column=day",
                "input.target_column=sales"]
    trimmed = load_config(None, [*settings, "input.trim_keys=true"])
    df, _ = io.read_input(spark, trimmed)
    expected = spark.createDataFrame([("S02", "I06", "2024-01-01", "1"), ("S02", "I06", "2024-01-02", "2"),
                                      ("S02", "I07", "2024-01-01", "3")], "store string, item string, day string, "
                                     "sales string")
    assert_df_equality(df.select(*expected.columns), expected, ignore_row_order=True, ignore_nullable=True)
    counted = check_input(df, trimmed, run_date="2024-01-31")
    assert counted.series == 2 and counted.key_warnings == ()
    as_written = load_config(None, settings)
    assert check_input(io.read_input(spark, as_written)[0], as_written, run_date="2024-01-31").series == 3
    # the lookup reads the series as the job did
    history = input_history.load_history(trimmed.to_dict(), {"store": "S02", "item": "I06"})
    assert history["y"].tolist() == [1.0, 2.0]
    assert input_history.load_history(as_written.to_dict(), {"store": "S02", "item": "I06"})["y"].tolist() == [2.0]
    # letter case folded too, with input.key_case (a walk-through of 12-07: 'Apples' rows split off 'apples')
    (tmp_path / "sales.csv").write_text("store,item,day,sales\nS02,Apples ,2024-01-01,1\ns02,apples,2024-01-02,2\n")
    for case, store, item in (("lower", "s02", "apples"), ("upper", "S02", "APPLES")):
        folded = load_config(None, [*settings, "input.trim_keys=true", f"input.key_case={case}"])
        df, _ = io.read_input(spark, folded)
        assert {tuple(row) for row in df.select("store", "item").collect()} == {(store, item)}
        assert check_input(df, folded, run_date="2024-01-31").series == 1
        assert input_history.load_history(folded.to_dict(), {"store": store, "item": item})["y"].tolist() == [1.0, 2.0]
    with pytest.raises(ConfigError, match="input.key_case.*must be null"):
        load_config(None, [*settings, "input.key_case=title"])


def test_key_values_with_an_accent_written_as_a_mark_of_its_own_are_warned_of(spark, fast_config, caplog):
    decomposed, composed = unicodedata.normalize("NFD", "Zürich"), "Zürich"
    raw = text_input(spark, [(decomposed, "fx", "2024-01-01", "1"), (composed, "fx", "2024-01-01", "2"),
                             ("नई दिल्ली", "fx", "2024-01-01", "3")])  # Hindi's vowel signs are marks as meant
    with caplog.at_level(logging.WARNING, logger="forecasting.validation"):
        assert check_input(raw, fast_config(), run_date="2024-01-31").series == 3  # kept apart, as written
    [record] = [r for r in caplog.records if "Unicode NFD" in r.getMessage()]
    assert record.getMessage().startswith("1 input rows have key values with an accent written as a mark of its own")
    assert check_input(raw, fast_config(), run_date="2024-01-31").key_warnings == (record.getMessage(),)
    assert repr(f"{decomposed}/fx") in record.getMessage() and "दिल्ली" not in record.getMessage()


def test_a_csv_header_naming_a_column_twice_whatever_the_case_is_said_to(spark, fast_config, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text("store,item,date,sales,Sales\na,x,2024-01-01,1,2\n")
    config = fast_config(f"input.path={path}")
    df, _ = io.read_input(spark, config)
    with pytest.raises(InputError, match=r"lacks configured column\(s\) \['sales'\].*The header names \['sales'\] "
                                         r"more than once .*rename all but one"):
        check_input(df, config)
    # a column the config does not name, repeated, or one without a name: Spark's own header check fails
    for header, hint in (("store,item,date,sales,note,Note", "the header names 'note' more than once"),
                         ("store,item,date,sales,", "the header has a column without a name")):
        path.write_text(f"{header}\na,x,2024-01-01,1,p{',q' if 'Note' in header else ''}\n")
        df, _ = io.read_input(spark, config)
        with pytest.raises(InputError, match=f"cannot be read as one table: .*{hint}"):
            check_input(df, config)
    # a column whose name merely ends in digits is no such case
    raw = spark.createDataFrame([("a", "x", "2024-01-01", "1")], "store string, item string, date string, sales2024 string")
    with pytest.raises(InputError) as refused:
        check_input(raw, fast_config("input.format=csv"))
    assert "more than once" not in str(refused.value)


def test_a_file_of_another_format_than_input_format_names_the_setting_not_a_retry(spark, fast_config, tmp_path):
    (tmp_path / "sales.csv").write_text("store,item,date,sales\na,x,2024-01-01,1\n")
    columns = ["input.key_columns=[store, item]", "input.time_column=date", "input.target_column=sales"]
    # a CSV file read as parquet: Spark's footer error, an InputError (exit 3) that names input.format
    as_parquet = fast_config(f"input.path={tmp_path / 'sales.csv'}", "input.format=parquet", *columns)
    with pytest.raises(InputError, match=r"cannot read input parquet .*sales\.csv': \[FAILED_READ_FILE.* \(is input\.format 'parquet' "
                                         r"the files' format\? Text files need input\.format: csv; "
                                         r"input\.options\.ignoreCorruptFiles: true skips a damaged file\)$"):
        df, _ = io.read_input(spark, as_parquet)
        check_input(df, as_parquet, "2024-01-31")
    # a parquet file read as CSV: its bytes as one column's name
    pd.DataFrame({"store": ["a"], "item": ["x"], "date": ["2024-01-01"], "sales": [1.0]}).to_parquet(
        tmp_path / "sales.parquet")
    as_csv = fast_config(f"input.path={tmp_path / 'sales.parquet'}", "input.format=csv", *columns)
    df, _ = io.read_input(spark, as_csv)
    with pytest.raises(InputError, match=r"lacks configured column\(s\).*The header is not text: a parquet file "
                                         r"\(it starts with PAR1\)\? Set input\.format to the files' format\.$"):
        check_input(df, as_csv, "2024-01-31")


def test_a_csv_file_with_another_separator_is_named_with_the_option_that_reads_it(spark, fast_config, tmp_path):
    (tmp_path / "sales.csv").write_text("store;item;date;sales\na;x;2024-01-01;1\n")
    settings = [f"input.path={tmp_path / 'sales.csv'}", "input.key_columns=[store, item]", "input.time_column=date",
                "input.target_column=sales"]
    df, _ = io.read_input(spark, fast_config(*settings))
    with pytest.raises(InputError, match=r"it has \['store;item;date;sales'\]\. The header reads as one column "
                                         r"holding ';': set input\.options\.sep: ';' \(Spark's own default is a comma\)\.$"):
        check_input(df, fast_config(*settings), "2024-01-31")
    df, _ = io.read_input(spark, fast_config(*settings, "input.options.sep=;"))
    assert check_input(df, fast_config(*settings, "input.options.sep=;"), "2024-01-31").rows == 1
    (tmp_path / "sales.csv").write_text("store\titem\tdate\tsales\na\tx\t2024-01-01\t1\n")  # tab-separated
    df, _ = io.read_input(spark, fast_config(*settings))
    with pytest.raises(InputError, match=r"The header reads as one column holding '\\t': set input\.options\.sep"):
        check_input(df, fast_config(*settings), "2024-01-31")
    # a separator given, but not the file's
    wrong = fast_config(*settings, "input.options.sep=;")
    df, _ = io.read_input(spark, wrong)
    with pytest.raises(InputError, match=r"holding '\\t': set input\.options\.sep: '\\t' \(input\.options\.sep is "
                                         r"';'\)\.$"):
        check_input(df, wrong, "2024-01-31")


def test_the_reader_options_the_config_knows_are_the_running_sparks_own(spark):
    from forecasting.config_reader_options import FILE_SOURCE_OPTIONS, READER_OPTIONS
    module = spark._jvm.java.lang.Class.forName
    for fmt, options_class in (("csv", "org.apache.spark.sql.catalyst.csv.CSVOptions$"),
                               ("parquet", "org.apache.spark.sql.execution.datasources.parquet.ParquetOptions$")):
        spark_options = module(options_class).getField("MODULE$").get(None).getAllOptions()
        assert set(READER_OPTIONS[fmt]) - set(FILE_SOURCE_OPTIONS) == set(spark_options.toList().mkString(",").split(","))


def test_a_time_column_of_decimals_with_a_fraction_is_refused_not_cut_to_whole_numbers(spark, fast_config):
    raw = spark.createDataFrame([("a", "x", Decimal("20240331.50"), 1.0)],
                                "store string, item string, date decimal(10,2), sales double")
    with pytest.raises(InputError, match=r"time column 'date' has type decimal\(10,2\); expected a date, timestamp or "
                                         r"text$"):
        check_input(raw, fast_config("input.time_format=yyyyMMdd"))


def test_a_name_ending_in_its_position_is_no_repeated_header_outside_csv(spark, fast_config):
    raw = spark.createDataFrame([("a", "x", "2024-01-01", "1")], "store string, item string, date string, sales3 string")
    with pytest.raises(InputError, match=r"lacks configured column\(s\) \['sales'\]") as refused:
        check_input(raw, fast_config("input.format=parquet", "input.path=sales.parquet"))
    assert "more than once" not in str(refused.value)


def test_a_key_column_of_structs_is_refused_before_any_training(spark, fast_config):
    raw = spark.createDataFrame([(("a", 1), "x", "2024-01-01", "1")],
                                "store struct<name:string,id:int>, item string, date string, sales string")
    with pytest.raises(InputError, match=r"key column\(s\) 'store' \(struct<name:string,id:int>\) hold arrays, maps or "
                                         r"structs"):
        check_input(raw, fast_config())


def test_a_replacement_character_in_a_parquet_key_is_no_encoding_problem(spark, fast_config):
    raw = text_input(spark, [("M\ufffdller", "x", "2024-01-01", "1"), ("a", "x", "2024-01-01", "2")])
    config = fast_config("input.format=parquet", "input.path=sales.parquet")
    assert check_input(raw, config, "2024-01-31").series == 2  # as the file has them: no encoding to set


def test_a_timestamp_key_before_pandas_earliest_time_is_refused_too(spark, fast_config):
    df = spark.createDataFrame(
        [("a", dt.datetime(1000, 1, 1), "2024-01-01", 1.0), ("b", dt.datetime(2024, 1, 1), "2024-01-01", 2.0)],
        "store string, valid_from timestamp, day string, sales double")
    config = fast_config("input.key_columns=[store, valid_from]", "input.time_column=day", "input.target_column=sales")
    with pytest.raises(InputError, match=r"key column 'valid_from' has 1 times outside 1677-09-22 to 2262-04-11"):
        check_input(df, config, "2024-01-31")


def test_the_encoding_given_as_charset_is_the_one_named(spark, fast_config, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_bytes("region;day;sales\nM\u00fcller;2024-01-01;1\n".encode("cp1252"))
    settings = [f"input.path={path}", "input.key_columns=[region]", "input.time_column=day",
                "input.target_column=sales", "input.options.sep=';'", "input.options.charset=US-ASCII"]
    df, _ = io.read_input(spark, fast_config(*settings))
    with pytest.raises(InputError, match="1 rows of .* have key values with bytes that are not US-ASCII text"):
        check_input(df, fast_config(*settings), "2024-01-31")


def test_a_header_name_that_merely_begins_with_another_is_no_repeated_name():
    complaint = "CSV header does not conform to the schema. Expected: sales_total but found: sales"
    assert input_hints.renamed_header_hint(complaint) == ""
    assert "names 'sales' more than once" in input_hints.renamed_header_hint(complaint.replace("sales_total", "sales4"))


def test_a_header_of_several_columns_is_not_said_to_read_as_one_and_a_pipe_is_named(spark, fast_config, tmp_path):
    settings = [f"input.path={tmp_path / 'sales.csv'}", "input.key_columns=[store, item]", "input.time_column=date",
                "input.target_column=sales"]
    (tmp_path / "sales.csv").write_text("store;code,item,date,sales\na;1,x,2024-01-01,1\n")  # a ; in one name
    df, _ = io.read_input(spark, fast_config(*settings))
    with pytest.raises(InputError, match=r"lacks configured column\(s\) \['store'\]") as refused:
        check_input(df, fast_config(*settings), "2024-01-31")
    assert "reads as one column" not in str(refused.value)
    (tmp_path / "sales.csv").write_text("store|item|date|sales\na|x|2024-01-01|1\n")  # pipe-separated
    df, _ = io.read_input(spark, fast_config(*settings))
    with pytest.raises(InputError, match=r"The header reads as one column holding '\|': set input\.options\.sep: '\|'"):
        check_input(df, fast_config(*settings), "2024-01-31")


def test_amounts_with_a_currency_sign_or_code_are_met_with_how_to_write_them(fast_config):
    source = fast_config().input
    for written in (["$33,362.83"], ["-€12"], ["12.50 USD", "3"], ["(CHF 3.20)"]):
        assert input_hints.expected_values(source, "sales", written).startswith("numbers (currency signs or codes")
    for other in (["12d"], ["twelve"], ["12 kWh"], ["12 KWH"], ["SKU 12"], ["JAN 2024"], ["1,234"], ["1e5"]):
        assert "currency" not in input_hints.expected_values(source, "sales", other)


def test_dates_written_otherwise_than_iso_are_met_with_the_pattern_they_are_written_in(fast_config):
    # 05/19/2024 was met with "e.g. dd/MM/yyyy", which then read no date at all (the walk-through of 12-07)
    source = fast_config().input

    def suggested(examples: list) -> str:
        return input_hints.expected_values(source, source.time_column, examples).rsplit("e.g. ", 1)[1]

    assert suggested(["05/19/2024", "6/2/2024"]) == "M/d/yyyy"  # one letter: Spark's MM refuses 6
    assert suggested(["19.05.2024"]) == "d.M.yyyy"
    assert suggested(["05-06-2024"]) == "d-M-yyyy or M-d-yyyy, as the day or the month comes first"
    assert suggested(["yesterday"]) == "dd/MM/yyyy or yyyyMMdd"


def test_numbers_in_the_time_column_are_named_for_what_they_likely_are(spark, fast_config):
    """Epoch times, which no date pattern reads, and yyyyMMdd dates a float column wrote with .0:
    a date pattern suggested for them failed again."""
    source = fast_config().input

    def expected(examples: list) -> str:
        return input_hints.expected_values(source, source.time_column, examples)

    assert "Unix epoch seconds? No date pattern reads them" in expected(["1735689600", "1735776000"])
    assert "pd.to_datetime(column, unit='ms')" in expected(["1735689600000"])
    assert "yyyyMMdd dates written as decimals" in expected(["20250101.0", "20250102.0"])
    assert "e.g. dd/MM/yyyy" in expected(["12", "2025-01-01x"])  # not all such numbers: the usual advice
    for pattern_reads in (["20240331"], ["2024033112"]):  # yyyyMMdd, yyyyMMddHH: a pattern reads them
        assert "epoch" not in expected(pattern_reads) and "decimals" not in expected(pattern_reads)
    floats = spark.createDataFrame([("a", "x", 20240331.0, 1.0)],
                                   "store string, item string, date double, sales double")
    with pytest.raises(InputError, match=r"has type double; .*decimals such as 20240331.0, .* Unix epoch"):
        check_input(floats, fast_config())


def test_advice_on_missing_columns_keeps_the_way_to_name_them_beside_a_repeated_name():
    columns = ["store", "item", "date", "sales3", "Sales4"]
    advice = input_hints.missing_columns_advice(["sales"], columns, columns, {}, csv=True)
    assert advice.startswith(" The header names ['sales'] more than once")
    assert advice.endswith(input_hints.SET_COLUMNS)  # nothing wrong with the header's reading: name the columns
    one_column = ["store;item;date;sales"]
    assert input_hints.missing_columns_advice(["store"], one_column, one_column, {}, csv=True) == (
        " The header reads as one column holding ';': set input.options.sep: ';' (Spark's own default is a comma).")
    assert input_hints.missing_columns_advice(["store"], one_column, one_column, {}, csv=False) == input_hints.SET_COLUMNS
    # a typo, in the config or the file, names the column meant
    header = ["account_id", "Service", "usage_date", "cost_usd"]
    assert input_hints.missing_columns_advice(["servce", "cost"], header, header, {}, csv=False) == (
        " Did you mean 'Service' for 'servce'?" + input_hints.SET_COLUMNS)
    # a header's name with spaces around it: the way to use it, where naming it so is refused by Delta's tables
    padded = ["store ", "date", "sales"]
    assert input_hints.missing_columns_advice(["store"], padded, padded, {}, csv=True) == (
        " The input names it 'store ', with spaces around it: set input.rename_columns: {'store ': 'store'} (Delta "
        "tables refuse a column name with a space)." + input_hints.SET_COLUMNS)
    # not a column another setting takes: the key store is there, a column stores is not; date was written data
    taken = ("store", "stores", "date", "sales")
    header = ["store", "data", "sales"]
    assert input_hints.missing_columns_advice(["stores", "date"], header, header, {}, False, taken) == (
        " Did you mean 'data' for 'date'?" + input_hints.SET_COLUMNS)
