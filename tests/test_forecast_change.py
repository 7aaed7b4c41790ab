"""A training run's forecasts compared with those of the run date before."""
import datetime as dt

import mlflow
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from conftest import daily_series, job_settings
from forecasting import forecast_change, pipeline, tables
from forecasting.config import load_config


def day(n: int) -> dt.datetime:
    return dt.datetime(2024, 4, n)


def test_the_change_is_the_summed_absolute_move_over_the_earlier_forecasts_level_where_both_cover_a_time(spark):
    point = "struct<ds: timestamp, yhat: double, yhat_lower: double, yhat_upper: double>"
    staged = spark.createDataFrame([
        ("moved", [(day(1), 12.0, None, None), (day(2), 6.0, None, None), (day(3), 50.0, None, None)]),
        ("same", [(day(1), 5.0, None, None)]),
        ("after", [(day(9), 5.0, None, None)]),  # no earlier forecast of its times
        ("was-zero", [(day(1), 5.0, None, None)]),  # nothing to measure the move by
        ("new", [(day(1), 5.0, None, None)]),  # no earlier forecast at all
        (None, None),  # a null key's skipped series
        ("skipped", None),  # no forecast
    ], f"shop string, forecast array<{point}>")
    previous = spark.createDataFrame([
        ("moved", day(1), 10.0), ("moved", day(2), -10.0), ("moved", day(5), 99.0),
        ("same", day(1), 5.0), ("after", day(1), 5.0), ("was-zero", day(1), 0.0),
    ], f"shop string, ds timestamp, {forecast_change.PREVIOUS} double")
    changed = forecast_change.with_change(staged, previous, ["shop"]).select("shop", forecast_change.CHANGE)
    # moved: |12 - 10| + |6 - -10| over |10| + |-10|; day 3 has no earlier forecast, day 5 no later one
    expected = spark.createDataFrame([("moved", 18 / 20), ("same", 0.0), ("after", None), ("was-zero", None),
                                      ("new", None), (None, None), ("skipped", None)],
                                     f"shop string, {forecast_change.CHANGE} double")
    assert_df_equality(changed, expected, ignore_row_order=True, ignore_nullable=True)
    # a first run: the column is there, null
    first = forecast_change.with_change(staged, None, ["shop"])
    assert first.where(F.col(forecast_change.CHANGE).isNotNull()).count() == 0 and first.count() == 7


@pytest.mark.parametrize("output_format", ["delta", "parquet"])
def test_a_run_says_how_far_its_forecasts_moved_from_the_run_date_before(spark, tmp_path, output_format):
    first_date, second_date = "2024-03-24", "2024-03-31"
    steady = daily_series(91, level=50, seed=5).assign(shop="a")
    tripled = daily_series(91, level=80, seed=6).assign(shop="b")
    tripled.loc[tripled["ds"] > first_date, "y"] *= 3  # after the first run date: a new unit, say
    pd.concat([steady, tripled]).to_parquet(tmp_path / "input.parquet", index=False, coerce_timestamps="us")
    # naive forecasts the last value: 14 days from each date, the second run's first 7 cover the first's last 7
    config = load_config(None, job_settings(tmp_path / "input.parquet", tmp_path, ["shop"], "ds", "y",
                                            "selection.candidates=[naive]", "forecast.horizon=14",
                                            f"output.format={output_format}"))
    first = pipeline.run_job(spark, config, first_date)
    assert "compared with the forecasts" not in first.format()
    results_path = tables.table_paths(config)[tables.SERIES_RESULTS]
    if output_format == "parquet":  # as an earlier version of the job wrote it: without the column
        for part in (tmp_path / "out" / "series_results" / f"run_date={first_date}").glob("*.parquet"):
            pq.write_table(pq.read_table(part).drop_columns([forecast_change.CHANGE]), part)
            part.with_name(f".{part.name}.crc").unlink()  # Hadoop's checksum of the file as Spark wrote it
    second = pipeline.run_job(spark, config, second_date)

    def last(frame, date):
        return frame.loc[frame["ds"] == date, "y"].item()

    expected = {shop: abs(last(frame, second_date) - last(frame, first_date)) / last(frame, first_date)
                for shop, frame in (("a", steady), ("b", tripled))}
    assert expected["a"] < forecast_change.LARGE_CHANGE < expected["b"]
    results = tables.read_table(spark, config, tables.SERIES_RESULTS).toPandas()
    by_date = {str(date): dict(zip(rows["shop"], rows[forecast_change.CHANGE]))
               for date, rows in results.groupby("run_date")}
    assert all(pd.isna(change) for change in by_date[first_date].values())  # nothing before it
    assert by_date[second_date] == pytest.approx(expected)
    said = second.format()
    assert (f"compared with the forecasts of run date {first_date} over the times both cover, the median series' "
            f"forecast moved {min(expected.values()):.0%} (2 series; series_results.forecast_change); 1 moved more "
            f"than 50%, the most first: b: {expected['b']:.0%}") in said
    # docs/results.md's query of the series that moved most
    moved = spark.sql(f"SELECT shop, forecast_change FROM {output_format}.`{results_path}` WHERE run_date = "
                      f"'{second_date}' AND forecast_change > 0.5 ORDER BY forecast_change DESC").collect()
    assert [row["shop"] for row in moved] == ["b"]
    parent = mlflow.MlflowClient(second.tracking_uri).get_run(second.job_run_id)
    assert parent.data.metrics["median_forecast_change"] == pytest.approx(min(expected.values()))


def test_a_parquet_tables_column_that_only_later_run_dates_have_is_read(spark, tmp_path, fast_config):
    # an earlier version of the job wrote run_date=2024-03-24 without forecast_change: Spark's
    # parquet reader takes one file's schema unless told to merge them all, as Delta does
    folder = tmp_path / "out" / tables.SERIES_RESULTS
    for date, columns in (("2024-03-24", {}), ("2024-03-31", {forecast_change.CHANGE: [0.5]})):
        (folder / f"run_date={date}").mkdir(parents=True)
        pq.write_table(pa.table({"shop": ["a"], **columns}), folder / f"run_date={date}" / "part-0.parquet")
    config = fast_config("output.format=parquet", f"output.path={tmp_path / 'out'}")
    rows = tables.read_table(spark, config, tables.SERIES_RESULTS).orderBy("run_date").toPandas()
    assert rows[forecast_change.CHANGE].tolist()[1] == 0.5 and pd.isna(rows[forecast_change.CHANGE].tolist()[0])
