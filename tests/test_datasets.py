import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from chispa import assert_df_equality

from forecasting import io
from forecasting.config import load_config
from forecasting.datasets import airports_to_long
from forecasting.sample_data import make_sample_sales

SHARED_AIRPORTS = Path(__file__).resolve().parents[2] / "shared/data/airports/air_passenger_traffic_monthly.csv"


def test_sample_is_deterministic_and_big_enough():
    first, second = make_sample_sales(), make_sample_sales()
    pd.testing.assert_frame_equal(first, second)
    series = first.groupby(["store", "item"])
    assert series.ngroups >= 20
    assert (series.size() >= 2 * 365).all()
    assert (first["sales"] >= 0).all() and first["sales"].notna().all()


def test_the_sample_reaches_spark_whole_in_slices_small_enough_for_a_task(spark):
    df, version = io.read_input(spark, load_config())
    sample = make_sample_sales()
    rows_per_partition = df.rdd.glom().map(len).collect()
    assert sum(rows_per_partition) == len(sample) and max(rows_per_partition) <= io.ROWS_PER_LOCAL_SLICE
    assert_df_equality(df, spark.createDataFrame(sample), ignore_row_order=True)
    assert version["rows"] == len(sample)


def test_sample_has_weekly_and_yearly_seasonality():
    sample = make_sample_sales()
    ratio = sample["sales"] / sample.groupby(["store", "item"])["sales"].transform("mean")
    weekend = sample["date"].dt.dayofweek >= 5
    assert ratio[weekend].mean() > ratio[~weekend].mean() * 1.05
    by_month = ratio.groupby([sample["store"], sample["item"], sample["date"].dt.month]).mean()
    swing = by_month.groupby(level=[0, 1]).agg(lambda m: m.max() - m.min())
    assert (swing > 0.05).mean() > 0.8  # most series have a visible yearly cycle


def test_airports_raw_table_becomes_long_sorted_and_dated():
    raw = pd.DataFrame(
        {
            "Airport Code": ["JFK", "JFK", "ACY"],
            "Year": [2015, 2014, 2015],
            "Month": ["Feb", "Dec", "Jan"],
            "Domestic Passengers": [10, 11, 12],
            "International Passengers": [1, 2, 3],
            "Total Passengers": [11, 13, 15],
        }
    )
    long = airports_to_long(raw)
    assert list(long.columns) == ["airport", "measure", "month", "passengers"]
    assert len(long) == 3 * len(raw)
    jfk_total = long[(long.airport == "JFK") & (long.measure == "total")]
    assert list(jfk_total["month"]) == [pd.Timestamp("2014-12-01"), pd.Timestamp("2015-02-01")]
    assert list(jfk_total["passengers"]) == [13.0, 11.0]
    assert long.equals(long.sort_values(["airport", "measure", "month"]).reset_index(drop=True))


def test_a_years_total_dated_december_is_left_out_and_said(caplog):
    # SWF's 1994-2005: one December row a year holding the whole year's passengers, twenty times a month's
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    raw = pd.DataFrame({"Airport Code": ["SWF", "SWF"] + ["SWF"] * 12 + ["ACY"],
                        "Year": [2004, 2005] + [2006] * 12 + [2015], "Month": ["Dec", "Dec"] + months + ["Dec"],
                        "Domestic Passengers": [510563, 20000] + [25000] * 12 + [90000],
                        "International Passengers": 0, "Total Passengers": [510563, 20000] + [25000] * 12 + [90000]})
    long = airports_to_long(raw)
    swf = long[(long.airport == "SWF") & (long.measure == "total")]
    # 2005's December is a month's size: kept; ACY's lone December has no whole year to compare with: kept
    assert swf["month"].min() == pd.Timestamp("2005-12-01") and len(swf) == 13
    assert len(long[long.airport == "ACY"]) == 3
    assert "left out 1 row that holds a year's passengers, dated December (SWF 2004)" in caplog.text


def test_the_airports_script_takes_the_raw_tables_folder_and_names_one_it_cannot_take(tmp_path):
    script = Path(__file__).resolve().parents[1] / "scripts" / "prepare_airports.py"
    folder = tmp_path / "airports"
    folder.mkdir()
    pd.DataFrame({"Airport Code": ["JFK"], "Year": [2015], "Month": ["Jan"], "Domestic Passengers": [10],
                  "International Passengers": [1], "Total Passengers": [11]}).to_csv(folder / "raw.csv", index=False)
    run = lambda raw: subprocess.run([sys.executable, str(script), "--raw", str(raw), "--out",  # noqa: E731
                                      str(tmp_path / "long.csv")], capture_output=True, text=True, timeout=60)
    assert run(folder).returncode == 0 and len(pd.read_csv(tmp_path / "long.csv")) == 3
    (folder / "other.csv").write_text("x\n")
    refused = run(folder)
    assert refused.returncode == 2 and "holds 2 CSV files, not one" in refused.stderr


def test_airports_missing_column_is_named():
    with pytest.raises(ValueError, match="Total Passengers"):
        airports_to_long(pd.DataFrame({"Airport Code": ["JFK"], "Year": [2015], "Month": ["Jan"]}))


@pytest.mark.skipif(not SHARED_AIRPORTS.exists(), reason="../shared airports data not present")
def test_real_airports_file_gives_fifteen_series():
    long = airports_to_long(pd.read_csv(SHARED_AIRPORTS))
    assert long.groupby(["airport", "measure"]).ngroups == 15
    assert not long.duplicated(["airport", "measure", "month"]).any()
