"""A deliberately dirty input: every key comes out exactly once, good series as usual."""
import datetime as dt
import json
import re

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from conftest import FAST_OVERRIDES, daily_series
from forecasting import pipeline, series_identity, tables, tracking
from forecasting.series import train_series
from forecasting.config import load_config

RUN_DATE = "2024-02-29"  # the last day of the 60-day series from 1 January
LONG_KEY = "a-very-long-store-name-" * 40
ODD_KEYS = ["O'Brien's", 'say "cheese"', "a/b/../../etc", "with space.and.dots", "Zürich ☃", LONG_KEY]


def tag_filter(column: str, value) -> str:
    """The filter docs/results.md tells a user to write for ``tags.<column> = value``:
    a value holding a single quote in double quotes, a column name that is not a
    plain word in backquotes (MLflow's filters have no escape character)."""
    text = series_identity.key_text(value)
    name = f"tags.`{column}`" if re.search(r"[^A-Za-z0-9_]", column) else f"tags.{column}"
    return f"{name} = '{text}'" if "'" not in text else f'{name} = "{text}"'


def dirty_series() -> dict[str, pd.DataFrame]:
    good = daily_series(60, seed=11)
    with_gaps = daily_series(60, seed=12).drop(index=range(20, 25))
    off_grid = daily_series(60, seed=13)
    off_grid.loc[10, "ds"] += pd.Timedelta(hours=13)
    series = {
        "good": good,
        "too-short": daily_series(5, seed=14),
        "single-row": daily_series(1, seed=15),
        "nan-and-inf": daily_series(60, seed=16).assign(y=lambda f: f["y"].where(f.index % 9 != 0, np.nan)),
        "all-missing": daily_series(60, seed=17).assign(y=np.nan),
        "duplicates": pd.concat([daily_series(60, seed=18), daily_series(60, seed=18).tail(3)]),
        "gaps": with_gaps,
        "off-grid": off_grid,
        "constant": daily_series(60).assign(y=7.0),
        "stale": daily_series(60, seed=40, start="2023-12-01"),  # stopped a month before the run date
        "not-yet": daily_series(10, seed=41, start="2024-03-05"),  # begins after the run date
        "negative": daily_series(60, seed=19).assign(y=lambda f: f["y"] - 150),
        "sentinel": daily_series(60, seed=42).assign(y=lambda f: f["y"].where(f.index != 30, 999999.0)),
        **{key: daily_series(60, seed=20 + i) for i, key in enumerate(ODD_KEYS)},
    }
    series["nan-and-inf"].loc[3, "y"] = np.inf
    return series


@pytest.fixture(scope="module")
def dirty(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("dirty")
    parts = [s.assign(store=name) for name, s in dirty_series().items()]
    parts.append(daily_series(60, seed=30).assign(store=None))  # a null key
    parts.append(pd.DataFrame({"store": ["good"], "ds": [pd.NaT], "y": [1.0]}))  # a row with no time
    parts.append(pd.DataFrame({"store": ["no-time"] * 3, "ds": [pd.NaT] * 3, "y": [1.0, 2.0, 3.0]}))  # none with one
    parts.append(pd.DataFrame({"store": [None], "ds": [pd.NaT], "y": [4.0]}))  # nor the null key's only other row
    source = pd.concat(parts)[["store", "ds", "y"]]
    table = pa.Table.from_pandas(source, preserve_index=False).cast(
        pa.schema([("store", pa.string()), ("ds", pa.timestamp("us")), ("y", pa.float64())]), safe=False)
    # a series dated past the times pandas can hold (a placeholder): cut by the run date, never handed to pandas
    placeholder = pa.table({"store": ["placeholder"], "ds": pa.array([dt.datetime(9999, 12, 31)], pa.timestamp("us")),
                            "y": [1.0]})
    pq.write_table(pa.concat_tables([table, placeholder]), root / "input.parquet")
    source = pd.concat([source, pd.DataFrame({"store": ["placeholder"], "ds": [pd.NaT], "y": [1.0]})])  # its key
    config = load_config(
        None,
        [
            *FAST_OVERRIDES,
            f"input.path={root / 'input.parquet'}",
            "input.format=parquet",
            "input.key_columns=[store]",
            "input.time_column=ds",
            "input.target_column=y",
            "cleaning.negative_values=reject",
            f"tracking.uri={root / 'mlruns'}",
            "tracking.experiment=dirty",
            f"output.path={root / 'out'}",
        ],
    )
    summary = pipeline.run_job(spark, config, RUN_DATE)
    results = tables.read_table(spark, config, tables.SERIES_RESULTS).toPandas().set_index("store", drop=False)
    return {"config": config, "source": source, "summary": summary, "results": results}


def test_a_row_without_a_time_is_left_out_and_counted_in_the_runs_lineage(dirty):
    assert dirty["results"].loc["good", "history_length"] == 60
    # said of the series too, not of the input alone: its history is one row shorter than its input
    assert dirty["results"].loc["good", "data_notes"] == "1 row without a time in column 'ds' left out"
    lineage = mlflow.artifacts.load_text(
        f"{mlflow.MlflowClient(dirty['summary'].tracking_uri).get_run(dirty['summary'].job_run_id).info.artifact_uri}"
        "/lineage/data_version.json"
    )
    assert json.loads(lineage)["rows_without_time"] == 5


def test_a_series_without_any_time_is_skipped_and_named_not_dropped_unseen(dirty):
    row = dirty["results"].loc["no-time"]
    assert (row["status"], row["reason"], row["history_length"]) == ("skipped", "no row has a time in column 'ds'", 0)
    assert "1 series has no row with a time in column 'ds': skipped, e.g. no-time\n" in dirty["summary"].format()


def test_a_series_whose_rows_all_come_after_the_run_date_is_skipped_and_named_not_dropped_unseen(dirty):
    assert dirty["results"].loc["not-yet", "history_length"] == 0
    assert ("2 series have rows only after the run date 2024-02-29 (a run date before they began?): skipped, e.g. "
            "not-yet, placeholder\n") in dirty["summary"].format()  # ids as every other line gives them
    assert dirty["results"].loc["placeholder", "reason"] == ("no row up to the run date 2024-02-29: its rows are dated "
                                                             "after 2262-04-11, the latest time pandas can hold")
    assert pd.isna(dirty["results"].loc["not-yet", "history_end"])  # none up to the run date


def test_every_input_key_appears_exactly_once(spark, dirty):
    keys = dirty["source"]["store"].drop_duplicates(keep="first")
    results = dirty["results"]
    assert len(results) == len(keys)
    assert sorted(results["store"].fillna("<null>")) == sorted(keys.fillna("<null>"))
    assert dirty["summary"].total == len(keys)
    parent = mlflow.MlflowClient(dirty["summary"].tracking_uri).get_run(dirty["summary"].job_run_id)
    assert {k: parent.data.metrics.get(f"series_{k}", 0) for k in dirty["summary"].counts} == dirty["summary"].counts


@pytest.mark.parametrize(
    "store, status, reason",
    [
        ("too-short", "skipped", "too little history: 5 periods, needs at least 28 (what 2 cross-validation folds need; "
         "forecast.min_history sets it); fallback forecast: naive"),
        ("single-row", "skipped", "too little history: 1 period, needs at least 28 (what 2 cross-validation folds need; "
         "forecast.min_history sets it); fallback forecast: naive"),
        ("all-missing", "skipped", "no values: all 60 are missing or infinite"),
        ("constant", "skipped", "constant series: every value is 7; fallback forecast: seasonal_naive"),
        ("negative", "skipped", "60 negative values (the first 2024-01-01; cleaning.negative_values = reject)"),
        ("not-yet", "skipped", "no row up to the run date 2024-02-29: its first is at 2024-03-05 00:00:00"),
    ],
)
def test_unusable_series_say_why(dirty, store, status, reason):
    row = dirty["results"].loc[store]
    assert (row["status"], row["reason"]) == (status, reason)


def test_a_series_of_missing_values_alone_has_no_history():
    """history_length counts the periods with a value cleaning kept: none here, not its 60 rows."""
    history = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=60, freq="D"), "y": np.nan})
    outcome = train_series(history, load_config(None, ["tuning.max_evals=1"]), seed=0)
    assert (outcome.status, outcome.history_length, outcome.history_end) == ("skipped", 0, None)


@pytest.mark.parametrize(
    "store, note",
    [
        # 7 NaN and 1 inf; the first row is among them, so the history starts a day later
        ("nan-and-inf", "8 missing or infinite values dropped; 7 of 59 periods missing, left out"),
        ("duplicates", "3 duplicate timestamps merged (sum); 3 rows repeated exactly (the same time and value as "
                       "another), added up: the same rows read twice?"),
        ("gaps", "5 of 60 periods missing, left out, the longest 5 from 2024-01-21"),  # an outage: when
        ("off-grid", "1 timestamps aligned to the 'D' grid"),
        # the run date reaches each series' task: its forecast would start in the past
        ("stale", "last observation 2024-01-29, {behind} periods before the run date 2024-02-29"),
        # noted, not changed (cleaning.spikes: keep): a placeholder for a missing value is the input's to mend
        ("sentinel", "1 value far above the values around it (above their median by over 10 times the width of "
                     "the series' middle 90% of values), 999,999 at 2024-01-31: kept (cleaning.spikes: keep), and a model "
                     "may repeat it. Where it will not recur (a viral day, a glitch, a bulk order), cleaning.spikes: "
                     "leave_out leaves it out of the fit"),
    ],
)
def test_repaired_series_are_forecast_and_say_what_was_repaired(dirty, store, note):
    row = dirty["results"].loc[store]
    behind = (pd.Timestamp(RUN_DATE) - dirty_series()["stale"]["ds"].max()).days
    notes = row["data_notes"]
    if store == "sentinel":  # the spike may pull Prophet's forecast below 0: the floor's note then follows
        notes, *after = notes.split("; ")
        assert all(note.endswith("(forecast.floor auto: the history has no value below 0)") for note in after)
    assert row["status"] == "ok" and row["model"] == "prophet" and notes == note.format(behind=behind)


def test_the_summary_and_log_name_the_series_trained_on_data_that_stop_well_before_the_run_date(dirty):
    # a data note alone went unseen: the summary said "ok" for forecasts starting in the past
    notes = dirty["results"]["data_notes"].fillna("")
    stale = notes[notes.str.contains("last observation ")]
    assert "stale" in stale.index and "good" not in stale.index and len(stale) <= 3  # all named
    summary = dirty["summary"].format()
    assert (f"{len(stale)} series forecast from data that stop more than a period before the time the run forecasts "
            "from (their forecasts start in the past; cleaning.stale_after skips series that ended: an event held, a "
            "unit closed), e.g. ") in summary
    for store, note in stale.items():  # the stale note only, not the series' other notes
        said = next(part for part in note.split("; ") if part.startswith("last observation "))
        assert f"{store}: {said}" in summary


def test_the_summary_counts_the_series_with_a_spike(dirty):
    assert ("1 modelled series (e.g. sentinel) has values far above the values around them (their data_notes name the "
            "highest), kept: a model may repeat them") in dirty["summary"].format()


def test_null_key_series_is_kept_and_reported(dirty):
    [row] = dirty["results"][dirty["results"]["store"].isna()].to_dict("records")  # one, its row without a time too
    assert row["status"] == "skipped" and row["reason"].startswith("null key in ['store']")
    assert row["history_length"] == 60


def test_good_and_odd_keyed_series_are_forecast_as_usual(spark, dirty):
    horizon = dirty["config"].forecast.horizon
    forecasts = tables.read_table(spark, dirty["config"], tables.FORECASTS)
    for store in ["good", *ODD_KEYS]:
        assert dirty["results"].loc[store, "status"] == "ok", store
        rows = forecasts.where(F.col("store") == store)
        assert rows.count() == horizon and rows.where("model = 'prophet'").count() == horizon


def test_odd_keys_are_found_in_mlflow_by_tag_and_by_hash(dirty):
    client = mlflow.MlflowClient(dirty["summary"].tracking_uri)
    experiment = client.get_experiment_by_name("dirty").experiment_id
    for store in ODD_KEYS:
        expected = dirty["results"].loc[store, "child_run_id"]
        by_hash = client.search_runs([experiment], filter_string=series_identity.series_filter({"store": store}))
        assert [r.info.run_id for r in by_hash] == [expected]
        if not ("'" in store and '"' in store):
            by_tag = client.search_runs([experiment], filter_string=tag_filter("store", store))
            assert [r.info.run_id for r in by_tag] == [expected], store
        run = client.get_run(expected)
        assert run.data.tags["store"] == store[: tracking.MAX_TAG_VALUE]
        # its id, a long one keeping its start and end, where series sharing a long first key differ
        named = series_identity.series_id({"store": store})
        assert run.info.run_name == series_identity.shortened(named, tracking.MAX_RUN_NAME)
        # artifacts live under the run's own folder, whatever the key holds
        assert [a.path for a in client.list_artifacts(expected, "plots")] == ["plots/forecast.svg"]


def test_odd_keys_in_a_csv_written_as_pandas_and_spreadsheets_write_it_are_read_as_they_are(spark, tmp_path):
    from forecasting import explore, io

    keys = [*ODD_KEYS, "comma, inside", 'ends with a quote"']
    source = pd.concat([daily_series(3, seed=i).assign(store=key) for i, key in enumerate(keys)])
    source.to_csv(tmp_path / "input.csv", index=False)  # a quote in a value doubled, the value quoted
    config = load_config(None, [*FAST_OVERRIDES, f"input.path={tmp_path / 'input.csv'}", "input.key_columns=[store]",
                                "input.time_column=ds", "input.target_column=y"])
    df, _ = io.read_input(spark, config)
    assert sorted(row["store"] for row in df.select("store").distinct().collect()) == sorted(keys)
    for key in keys:  # the notebook's helper reads the same rows for each
        assert len(explore.load_history(config.to_dict(), {"store": key})) == 3, key


def test_the_summary_counts_the_series_whose_missing_target_values_were_left_out(dirty):
    # a data note alone: the rows without a time were warned of, empty values were not
    assert ("1 series (e.g. nan-and-inf) had target values null, NaN or infinite, left out by "
            "cleaning.missing_values (drop; their data_notes say how many)") in " ".join(dirty["summary"].format().split())
