"""A training run's forecasts compared with those of the run date before."""
import datetime as dt
import logging

import mlflow
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from conftest import daily_series, job_settings
from forecasting import forecast_change, job_summary, metrics, pipeline, realized, tables
from forecasting.baselines import season_length
from forecasting.config import load_config

CHANGE = forecast_change.CHANGE


def day(n: int) -> dt.datetime:
    return dt.datetime(2024, 4, n)


def test_the_change_is_the_summed_absolute_move_over_the_two_forecasts_mean_level_where_both_cover_a_time(spark):
    point = "struct<ds: timestamp, yhat: double, yhat_lower: double, yhat_upper: double>"
    staged = spark.createDataFrame([
        ("moved", [(day(1), 12.0, None, None), (day(2), 6.0, None, None), (day(3), 50.0, None, None)]),
        ("same", [(day(1), 5.0, None, None)]),
        ("after", [(day(9), 5.0, None, None)]),  # no earlier forecast of its times
        ("from-zero", [(day(1), 5.0, None, None)]),  # as far as a forecast moves
        ("zeros", [(day(1), 0.0, None, None)]),  # all zero, then and now: no move
        ("nan", [(day(1), float("nan"), None, None), (day(2), 4.0, None, None)]),  # a NaN point is no time to compare
        ("nan-before", [(day(1), 4.0, None, None), (day(2), 6.0, None, None)]),  # nor a NaN earlier one
        ("new", [(day(1), 5.0, None, None)]),  # no earlier forecast at all
        (None, None),  # a null key's skipped series
        ("skipped", None),  # no forecast
    ], f"shop string, forecast array<{point}>")
    previous = spark.createDataFrame([
        ("moved", day(1), 10.0), ("moved", day(2), -10.0), ("moved", day(5), 99.0), ("same", day(1), 5.0),
        ("after", day(1), 5.0), ("from-zero", day(1), 0.0), ("zeros", day(1), 0.0), ("nan", day(1), 1.0),
        ("nan", day(2), 2.0), ("nan-before", day(1), float("nan")), ("nan-before", day(2), 6.0),
    ], f"shop string, ds timestamp, {forecast_change.PREVIOUS} double")
    changes = forecast_change.changes(staged, previous, ["shop"])
    # moved: |12 - 10| + |6 - -10| over the mean of |12| + |6| and |10| + |-10|; day 3 has no earlier
    # forecast, day 5 no later one
    expected = spark.createDataFrame([("moved", 18 / 19), ("same", 0.0), ("from-zero", 2.0), ("zeros", 0.0),
                                      ("nan", 2 / 3), ("nan-before", 0.0)], f"shop string, {CHANGE} double")
    assert_df_equality(changes, expected, ignore_row_order=True, ignore_nullable=True)

    with_change = forecast_change.with_change(staged, changes, ["shop"]).select("shop", CHANGE)
    others = spark.createDataFrame([("after", None), ("new", None), (None, None), ("skipped", None)],
                                   f"shop string, {CHANGE} double")
    assert_df_equality(with_change, expected.unionByName(others), ignore_row_order=True, ignore_nullable=True)
    first = forecast_change.with_change(staged, None, ["shop"])  # a first run: the column is there, null
    assert first.where(F.col(CHANGE).isNotNull()).count() == 0 and first.count() == 10


def test_changes_above_half_are_counted_and_named_largest_first_and_shown_with_a_decimal_when_small(spark):
    changed = spark.createDataFrame([("a", 0.004), ("b", 0.5), ("c", 0.6), ("d", 1.9), ("e", None)],
                                    f"shop string, {CHANGE} double")
    compared, median, large, named = forecast_change.tally(changed, ["shop"])
    assert (compared, large) == (4, 2) and median == pytest.approx(0.55)  # exactly a half is no large change
    assert [tuple(row) for row in named.collect()] == [("d", "190%"), ("c", "60%")]
    assert [forecast_change.percent(v) for v in (0.004, 0.05, 0.1, 0.6)] == ["0.4%", "5.0%", "10%", "60%"]


def test_a_series_is_scored_on_what_arrived_where_its_forecasts_share_no_time_with_the_earlier_ones(spark):
    point = "struct<ds: timestamp, yhat: double, yhat_lower: double, yhat_upper: double>"
    arrived = "array<struct<ds: timestamp, y: double, scale: double>>"
    staged = spark.createDataFrame([
        ("next-week", [(day(8), 5.0, None, None)], [(day(1), 12.0, 2.0)]),  # scored, not compared
        ("both", [(day(1), 5.0, None, None)], [(day(1), 12.0, 2.0)]),
        ("compared", [(day(2), 5.0, None, None)], None),  # compared, nothing arrived
    ], f"shop string, forecast array<{point}>, {realized.ARRIVED} {arrived}")
    previous = spark.createDataFrame([
        ("next-week", day(1), 10.0, 8.0, 12.0), ("both", day(1), 5.0, 4.0, 6.0), ("compared", day(2), 5.0, 4.0, 6.0),
    ], f"shop string, ds timestamp, {forecast_change.PREVIOUS} double, {realized.LOWER} double, "
       f"{realized.UPPER} double")
    compared = forecast_change.changes_and_scores(staged, previous, ["shop"])
    expected = spark.createDataFrame([
        ("next-week", None, 1, 1.0, 1.0), ("both", 0.0, 1, 3.5, 0.0), ("compared", 0.0, None, None, None),
    ], f"shop string, {CHANGE} double, {realized.POINTS} int, {realized.MASE} double, {realized.COVERAGE} double")
    assert_df_equality(compared, expected, ignore_row_order=True, ignore_nullable=True, ignore_column_order=True)


@pytest.mark.parametrize("output_format", ["delta", "parquet"])
def test_the_run_date_compared_with_is_the_latest_earlier_one_with_trained_forecasts(spark, tmp_path, fast_config,
                                                                                     output_format):
    config = fast_config(f"output.path={tmp_path / 'out'}", f"output.format={output_format}",
                         "input.key_columns=[shop]")
    assert forecast_change.neighbour_run_dates(spark, config, "2024-04-07") == (None, None)  # a first run
    rows = spark.createDataFrame([
        ("a", day(1), 1.0, 0.5, 1.5, dt.date(2024, 3, 17), "trained"),
        ("a", day(1), 1.0, 0.5, 1.5, dt.date(2024, 3, 24), "trained"),
        ("a", day(1), 2.0, 1.5, 2.5, dt.date(2024, 3, 24), "scored"),  # scored on that date too: not compared with
        ("a", day(1), 1.0, 0.5, 1.5, dt.date(2024, 3, 31), "scored"),  # a scoring run's: not the training's forecasts
        ("a", day(1), 1.0, 0.5, 1.5, dt.date(2024, 4, 7), "trained"),  # this run date's own, from an earlier run of it
        ("a", day(1), 1.0, 0.5, 1.5, dt.date(2024, 4, 14), "trained"),  # later: this run is a backfill
    ], "shop string, ds timestamp, yhat double, yhat_lower double, yhat_upper double, run_date date, "
       "source string")
    path = tables.table_paths(config)[tables.FORECASTS]
    rows.write.format(output_format).partitionBy("run_date", "source").save(path)
    # the one after too: a backfill's rerun leaves its comparisons stale
    assert forecast_change.neighbour_run_dates(spark, config, "2024-04-07") == ("2024-03-24", "2024-04-14")
    assert forecast_change.neighbour_run_dates(spark, config, "2024-03-17") == (None, "2024-03-24")
    assert forecast_change.neighbour_run_dates(spark, config, "2024-03-24") == ("2024-03-17", "2024-04-07")
    assert forecast_change.neighbour_run_dates(spark, config, "2024-04-14") == ("2024-04-07", None)
    earlier = forecast_change.forecasts_of(spark, config, "2024-03-24")
    assert [tuple(row) for row in earlier.collect()] == [("a", day(1), 1.0, 0.5, 1.5)]


def test_series_new_or_gone_since_the_run_date_before_are_counted_and_the_gone_named(spark, tmp_path, fast_config):
    config = fast_config(f"output.path={tmp_path / 'out'}", "input.key_columns=[then]")  # a key named as no helper
    rows = [(shop, day(1), 1.0, 0.5, 1.5, dt.date(2024, 3, 24), "trained") for shop in ("a", "b", "c")]
    rows += [(shop, day(1), 1.0, 0.5, 1.5, dt.date(2024, 3, 31), "trained") for shop in ("a", "b", "d", "e")]
    rows.append(("c", day(1), 1.0, 0.5, 1.5, dt.date(2024, 3, 31), "scored"))  # a scoring run's: no training's
    spark.createDataFrame(rows, "then string, ds timestamp, yhat double, yhat_lower double, yhat_upper double, "
                                "run_date date, source string").write.format("delta").partitionBy(
        "run_date", "source").save(tables.table_paths(config)[tables.FORECASTS])
    said = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {})
    forecast_change.say_turnover(spark, config, said, "2024-03-24")
    assert [line.strip() for line in said.note.splitlines()] == [
        "2 series have forecasts of this run date and none of run date 2024-03-24 (e.g. d, e): new in the input, or "
        "back",
        "1 series forecast on run date 2024-03-24 has no forecast of this run date (gone from the input, or skipped "
        "or failed without a fallback), e.g. c: forecast on 2024-03-24: the latest-forecast queries still answer with their "
        "latest forecasts before this run date (of 2024-03-24, or a scoring run's since)"]


def test_a_job_being_stopped_is_not_taken_for_a_comparison_that_failed(spark, fast_config, monkeypatch, caplog):
    # SIGTERM interrupts a Py4J call; the JVM, stopped by the same signal, then fails the next call (the job
    # description's reset), whose error replaces the interrupt: the run must stop, not go on saying "null"
    from py4j.protocol import Py4JError

    from forecasting import signals

    def interrupted(*args):
        try:
            raise signals.Terminated("SIGTERM")
        finally:
            raise Py4JError("Answer from Java side is empty")  # noqa: B012 (as Py4J's own call does)

    monkeypatch.setattr(forecast_change, "neighbour_run_dates", interrupted)
    monkeypatch.setattr(forecast_change, "forecasts_of", interrupted)
    staged = spark.createDataFrame([("a",)], "shop string")
    with caplog.at_level(logging.WARNING, logger="forecasting.forecast_change"):
        with pytest.raises(Py4JError):
            forecast_change.find_neighbour_run_dates(spark, fast_config(), "2024-04-07")
        with pytest.raises(Py4JError):
            forecast_change.stage_changes(staged, fast_config(), "train-2024-04-07", "2024-03-31")
    assert "stay null" not in caplog.text
    # Py4J's own records of its calls failing as the JVM goes, some on the root logger: the job's "stopped by"
    # line says it
    zipped = "/venv/pyspark/python/lib/py4j-0.10.9.9-src.zip/py4j/java_gateway.py"
    interrupted_call = logging.LogRecord("root", logging.ERROR, zipped, 1, "KeyboardInterrupt while sending command.",
                                         (), None)
    broken_pipe = logging.LogRecord("py4j.clientserver", logging.ERROR, "/x/py4j/clientserver.py", 1,
                                    "Exception occurred while shutting down connection", (), None)
    own = logging.LogRecord("root", logging.ERROR, "/x/forecasting/pipeline.py", 1, "a step failed", (), None)
    monkeypatch.setattr(signals, "_received", [])
    assert all(signals.py4j_after_stop(record) for record in (interrupted_call, broken_pipe, own))  # no stop: kept
    monkeypatch.setattr(signals, "_received", ["SIGTERM"])
    assert [signals.py4j_after_stop(record) for record in (interrupted_call, broken_pipe, own)] == [False, False, True]


def test_the_summarys_steps_warn_of_a_failure_and_stop_a_job_being_stopped(spark, fast_config, monkeypatch, tmp_path):
    from forecasting import realized, signals

    config, nowhere = fast_config(f"output.path={tmp_path}"), str(tmp_path / "no-such-staging")

    def unreadable(*args):
        raise OSError("permission denied: forecasts/_delta_log")

    monkeypatch.setattr(tables, "read_table", unreadable)
    steps = {
        "turnover": lambda summary: forecast_change.say_turnover(spark, config, summary, "2024-03-31"),
        "changes": lambda summary: forecast_change.say_changes(spark, config, None, summary, "2024-03-31", nowhere),
        "realized": lambda summary: realized.say(spark, config, None, summary, "2024-03-31", nowhere),
    }
    for name, step in steps.items():
        summary = job_summary.JobSummary("2024-04-07", "r", "e", "file:///m", {})
        step(summary)  # the tables are written: a line of the summary, and the run goes on
        assert summary.note.startswith("  could not "), name
        monkeypatch.setattr(signals, "_received", ["SIGTERM"])  # the same failure, the JVM stopped by a signal
        with pytest.raises(Exception):
            step(job_summary.JobSummary("2024-04-07", "r", "e", "file:///m", {}))
        monkeypatch.setattr(signals, "_received", [])


def test_a_comparison_that_fails_leaves_the_change_null_and_the_run_going(spark, fast_config, monkeypatch, caplog):
    def unreadable(*args):
        raise OSError("permission denied: forecasts/_delta_log")

    monkeypatch.setattr(forecast_change, "neighbour_run_dates", unreadable)
    monkeypatch.setattr(forecast_change, "forecasts_of", unreadable)
    staged = spark.createDataFrame([("a",)], "shop string")
    with caplog.at_level(logging.WARNING, logger="forecasting.forecast_change"):
        assert forecast_change.find_neighbour_run_dates(spark, fast_config(), "2024-04-07") == (None, None)
        assert forecast_change.stage_changes(staged, fast_config(), "train-2024-04-07", "2024-03-31") is None
    assert ("could not find the run date before 2024-04-07 in the forecasts table (permission denied: "
            "forecasts/_delta_log): series_results.forecast_change and the realized_ columns stay null") in caplog.text
    assert ("could not compare the forecasts with those of run date 2024-03-31 (permission denied: "
            "forecasts/_delta_log): series_results.forecast_change and the realized_ columns stay null") in caplog.text
    # what the summary's reader sees of a count that failed: a line, not only the log's
    monkeypatch.setattr(tables, "read_table", unreadable)
    summary = job_summary.JobSummary("2024-04-07", "r", "e", "file:///m", {})
    forecast_change.say_turnover(spark, fast_config(), summary, "2024-03-31")
    assert summary.note == ("  could not count the series new or gone since run date 2024-03-31: permission denied: "
                            "forecasts/_delta_log\n")


def test_a_run_date_trained_at_another_frequency_is_named_when_no_time_is_in_common(spark, tmp_path, fast_config):
    # Sunday-dated weekly forecasts (W) against this run's Monday-dated ones (7D): nothing to compare
    config = fast_config(f"output.path={tmp_path / 'out'}", "input.key_columns=[shop]", "forecast.frequency=7D")
    models = spark.createDataFrame([("a", "W", dt.date(2024, 3, 24)), ("b", "W-SUN", dt.date(2024, 3, 24)),
                                    ("a", "7D", dt.date(2024, 3, 17))], "shop string, frequency string, run_date date")
    models.write.format("delta").partitionBy("run_date").save(tables.table_paths(config)[tables.MODELS])
    compared = str(tmp_path / "compared")
    spark.createDataFrame([], f"shop string, {CHANGE} double").write.parquet(compared)

    summary = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {})
    forecast_change.say_changes(spark, config, None, summary, "2024-03-24", compared)
    assert summary.note == ("  run date 2024-03-24 was trained at forecast.frequency 'W' and 'W-SUN', this run at "
                            "'7D': their forecasts fall on other times, so series_results.forecast_change and the "
                            "realized_ columns stay null\n")
    # the same grid spelt otherwise, or the same frequency: nothing said but the log's line
    for same in ("W-SUN", "7D"):
        quiet = job_summary.JobSummary("2024-03-31", "r", "e", "file:///m", {})
        run_date = "2024-03-24" if same == "W-SUN" else "2024-03-17"
        forecast_change.say_changes(spark, fast_config(f"output.path={tmp_path / 'out'}", "input.key_columns=[shop]",
                                                       f"forecast.frequency={same}"), None, quiet, run_date, compared)
        assert quiet.note == ""


@pytest.mark.parametrize("output_format", ["delta", "parquet"])
def test_a_run_says_how_far_its_forecasts_moved_from_the_run_date_before(spark, tmp_path, output_format):
    first_date, second_date = "2024-03-24", "2024-03-31"
    steady = daily_series(91, level=50, seed=5).assign(shop="a")
    tripled = daily_series(91, level=80, seed=6).assign(shop="b")
    tripled.loc[tripled["ds"] > first_date, "y"] *= 3  # after the first run date: a new unit, say
    pd.concat([steady, tripled]).to_parquet(tmp_path / "input.parquet", index=False, coerce_timestamps="us")
    # naive forecasts the last value: 14 days from each date, the second run's first 7 cover the first's last 7
    prefix = f"change_{output_format}_"  # catalog tables, in the session's catalog that other tests share
    config = load_config(None, job_settings(tmp_path / "input.parquet", tmp_path, ["shop"], "ds", "y",
                                            "selection.candidates=[naive]", "forecast.horizon=14",
                                            f"output.format={output_format}", f"output.table_prefix={prefix}"))
    first = pipeline.run_job(spark, config, first_date)
    assert "compared with the forecasts" not in first.format()
    results_path = tables.table_paths(config)[tables.SERIES_RESULTS]
    if output_format == "parquet":  # as an earlier version of the job wrote and registered it: without the column
        for part in (tmp_path / "out" / "series_results" / f"run_date={first_date}").glob("*.parquet"):
            pq.write_table(pq.read_table(part).drop_columns([CHANGE]), part)
            part.with_name(f".{part.name}.crc").unlink()  # Hadoop's checksum of the file as Spark wrote it
        spark.sql(f"DROP TABLE {prefix}series_results")
        spark.sql(f"CREATE TABLE {prefix}series_results USING parquet LOCATION '{results_path}'")
    second = pipeline.run_job(spark, config, second_date)

    def last(frame, date):
        return frame.loc[frame["ds"] == date, "y"].item()

    def moved(old, new):
        return 2 * abs(new - old) / (abs(new) + abs(old))

    expected = {shop: moved(last(frame, first_date), last(frame, second_date))
                for shop, frame in (("a", steady), ("b", tripled))}
    assert expected["a"] < forecast_change.LARGE_CHANGE < expected["b"]
    results = tables.read_table(spark, config, tables.SERIES_RESULTS).toPandas()
    by_date = {str(date): dict(zip(rows["shop"], rows[CHANGE])) for date, rows in results.groupby("run_date")}
    assert all(pd.isna(change) for change in by_date[first_date].values())  # nothing before it
    assert by_date[second_date] == pytest.approx(expected)
    median = (expected["a"] + expected["b"]) / 2
    assert (f"compared with the forecasts of run date {first_date} over the times both cover, the median series' "
            f"forecast moved {forecast_change.percent(median)} (2 series; series_results.forecast_change); 1 moved "
            f"more than 50%, the most first: b: {expected['b']:.0%}") in second.format()
    parent = mlflow.MlflowClient(second.tracking_uri).get_run(second.job_run_id)
    assert parent.data.metrics["median_forecast_change"] == pytest.approx(median)
    assert parent.data.tags["compared_run_date"] == first_date  # what the change and realized_ columns speak of
    # docs/results.md's query of the series that moved most, on the catalog table
    moved_most = spark.sql(f"SELECT shop, forecast_change FROM {prefix}series_results WHERE run_date = "
                           f"'{second_date}' AND forecast_change > 0.5 ORDER BY forecast_change DESC").collect()
    assert [row["shop"] for row in moved_most] == ["b"]

    # the first run's forecasts scored on the 7 days that arrived by the second: MASE scaled by the
    # history the first run had, and the share inside the first run's intervals
    earlier = tables.read_table(spark, config, tables.FORECASTS).where(f"run_date = '{first_date}'").toPandas()
    season = season_length(config.forecast.frequency)
    realized_expected = {}
    for shop, frame in (("a", steady), ("b", tripled)):
        arrived = frame[(frame["ds"] > first_date) & (frame["ds"] <= second_date)]
        scored = arrived.merge(earlier[earlier["shop"] == shop].assign(ds=lambda f: f["ds"].dt.tz_localize(None)),
                               on="ds")
        assert len(scored) == 7
        known = frame.loc[frame["ds"] <= first_date, "y"]
        realized_expected[shop] = (7, metrics.mase(scored["y"], scored["yhat"], known, season),
                                   metrics.coverage(scored["y"], scored["yhat_lower"], scored["yhat_upper"]))
    second_rows = results[results["run_date"].astype(str) == second_date].set_index("shop")
    for shop, (points, mase, coverage) in realized_expected.items():
        assert second_rows.loc[shop, "realized_points"] == points
        assert second_rows.loc[shop, "realized_mase"] == pytest.approx(mase)
        assert second_rows.loc[shop, "realized_coverage"] == pytest.approx(coverage)
    assert results.loc[results["run_date"].astype(str) == first_date, "realized_mase"].isna().all()
    assert realized_expected["b"][1] > 3 * realized_expected["a"][1]  # the tripled series' forecast was far off
    median_realized = (realized_expected["a"][1] + realized_expected["b"][1]) / 2
    inside = (realized_expected["a"][2] + realized_expected["b"][2]) / 2
    assert (f"the forecasts of run date {first_date}, on the 14 values that have arrived since in 2 series "
            f"(series_results.realized_points and realized_mase): median MASE {median_realized:.2f}, {inside:.0%} of the actual values "
            f"inside their intervals (nominal {config.forecast.interval_width:.0%}); 1 with a MASE over 10, the "
            f"worst first: b: {realized_expected['b'][1]:.1f} (a break in the data") in second.format()
    assert realized_expected["a"][1] < realized.FAR_OFF_MASE < realized_expected["b"][1]
    assert parent.data.metrics["median_realized_mase"] == pytest.approx(median_realized)
    assert parent.data.metrics["realized_coverage"] == pytest.approx(inside)
    # docs/results.md's query of the series that did much worse than cross-validation expected
    worse = spark.sql(f"SELECT shop, realized_mase, cv_mase FROM {prefix}series_results WHERE run_date = "
                      f"'{second_date}' AND realized_mase > 2 * cv_mase ORDER BY realized_mase DESC").toPandas()
    cv = second_rows["cv_mase"]
    assert worse["shop"].tolist() == [shop for shop in ("b", "a") if realized_expected[shop][1] > 2 * cv[shop]]
    assert worse["shop"].tolist()[:1] == ["b"]
    assert not list((tmp_path / "out" / "_staging").iterdir())  # the comparison's staged rows removed too
    assert "no further than" not in second.format()  # a week's rows arrived
    if output_format == "delta":  # a week later the input has not grown: the export stopped upstream, say
        third = " ".join(pipeline.run_job(spark, config, "2024-04-07").format().split())
        assert ("the input reaches 2024-03-31 00:00, no further than for run date 2024-03-31: no newer rows in the 7 "
                "days since its last period ended") in third


def test_a_parquet_tables_column_that_only_later_run_dates_have_is_read(spark, tmp_path, fast_config):
    # an earlier version of the job wrote run_date=2024-03-24 without forecast_change: Spark's
    # parquet reader takes one file's schema unless told to merge them all, as Delta does
    folder = tmp_path / "out" / tables.SERIES_RESULTS
    for date, columns in (("2024-03-24", {}), ("2024-03-31", {CHANGE: [0.5]})):
        (folder / f"run_date={date}").mkdir(parents=True)
        pq.write_table(pa.table({"shop": ["a"], **columns}), folder / f"run_date={date}" / "part-0.parquet")
    config = fast_config("output.format=parquet", f"output.path={tmp_path / 'out'}")
    rows = tables.read_table(spark, config, tables.SERIES_RESULTS).orderBy("run_date").toPandas()
    assert rows[CHANGE].tolist()[1] == 0.5 and pd.isna(rows[CHANGE].tolist()[0])
    # and without Spark, as python -m forecasting series reads it
    from forecasting import explore

    rows = explore.read_series(str(folder), {"shop": "a"}, "parquet").sort_values("run_date")
    assert rows[CHANGE].tolist()[1] == 0.5 and pd.isna(rows[CHANGE].tolist()[0])


def test_a_backfill_of_an_earlier_date_names_the_later_date_whose_comparisons_it_leaves_stale(spark, tmp_path):
    source = pd.concat([daily_series(120, seed=s).assign(shop=shop) for s, shop in enumerate(("a", "b"))])
    source.to_csv(tmp_path / "input.csv", index=False, date_format="%Y-%m-%d")
    config = load_config(None, job_settings(tmp_path / "input.csv", tmp_path, ["shop"], "ds", "y",
                                            "selection.candidates=[naive]"))
    latest = pipeline.run_job(spark, config, "2024-04-21").format()
    assert "the later run date" not in latest  # nothing after it
    backfill = " ".join(pipeline.run_job(spark, config, "2024-04-14").format().split())
    # 2024-04-21 had no date before it when it ran: not said to have compared with one (a walk-through of 12-06)
    assert ("the later run date 2024-04-21 compares its forecasts with those of the run date before it, which this run "
            "now is or has replaced (series_results' forecast_change and realized_ columns, as that run found them): "
            "run 2024-04-21 again to compare them with this run's") in backfill


def test_the_forecasts_of_a_run_date_with_a_longer_horizon_are_scored_on_every_period_that_arrived(spark, tmp_path):
    # a review of 12-07: a run of horizon 7 scored the 14-day forecasts of the date before it on 7 of its 14 days
    daily_series(91, level=50, seed=5).assign(shop="a").to_parquet(tmp_path / "input.parquet", index=False,
                                                                   coerce_timestamps="us")

    def config(horizon):
        return load_config(None, job_settings(tmp_path / "input.parquet", tmp_path, ["shop"], "ds", "y",
                                              "selection.candidates=[naive]", f"forecast.horizon={horizon}"))

    pipeline.run_job(spark, config(14), "2024-03-10")
    pipeline.run_job(spark, config(7), "2024-03-24")
    results = tables.read_table(spark, config(7), tables.SERIES_RESULTS).where("run_date = '2024-03-24'").first()
    assert results["realized_points"] == 14  # 11 to 24 March, every day the earlier forecast covered
