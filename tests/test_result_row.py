"""A result row through its JSON text and back, and the training input's times, against
what PySpark's typed conversion of the same pandas values gives."""
import datetime as dt
import json
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from forecasting import result_row
from forecasting.result_row import PAYLOAD, RowFormat
from forecasting.config import load_config
from forecasting.config_schema import ConfigError
from forecasting.spark_training import RESULT_FIELDS, RESULT_ROW, training_input

KEY_FIELDS = [T.StructField("store", T.StringType()), T.StructField("item", T.IntegerType())]


@contextmanager
def session_time_zone(spark, zone: str):
    before = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", zone)
    try:
        yield
    finally:
        spark.conf.set("spark.sql.session.timeZone", before)


def forecast_points() -> pd.DataFrame:
    return pd.DataFrame({
        "ds": [pd.Timestamp("2024-03-10 01:00:00.123456"), pd.Timestamp("2024-03-10 03:30:00")],
        "yhat": [np.nan, 2.5], "yhat_lower": [1.0, -np.inf], "yhat_upper": [np.float64(1 / 3), np.inf],
    })


def values(**changes) -> dict:
    row = {f.name: None for f in RESULT_FIELDS}
    row.update(status="ok", reason="zähler: ☂ \"quoted\"\nnew line", history_length=np.int64(90), evaluations=6,
               cv_mae=np.float64(0.1 + 0.2), cv_rmse=float("nan"), cv_mase=1e-300, fit_seconds=np.float32(0.25),
               history_end=pd.Timestamp("2024-03-10 00:59:59.999999"), forecast=forecast_points(),
               model_json='{"a": [1, 2]}', best_params='{"x": 0.5}', child_run_id="abc")
    row.update(changes)
    return row


def typed(spark, keys: dict, row: dict):
    """The same row as PySpark makes it from typed pandas columns (NaN is null there)."""
    frame = {**keys, **row}
    for name in ("forecast", "recent"):
        frame[name] = None if row[name] is None else row[name].to_dict("records")
    schema = T.StructType(KEY_FIELDS + RESULT_FIELDS)
    return spark.createDataFrame(pd.DataFrame({k: [v] for k, v in frame.items()}), schema)


def through_json(spark, keys: dict, row: dict):
    wired = spark.createDataFrame(RESULT_ROW.to_frame(keys, row), RESULT_ROW.wire_schema(KEY_FIELDS))
    return RESULT_ROW.expand(wired, ["store", "item"])


def test_a_row_through_its_json_text_is_the_typed_row(spark):
    keys = {"store": "north", "item": 7}
    rows = [values(), values(status="failed", forecast=None, history_end=pd.NaT, cv_mae=None,
                             recent=pd.DataFrame({"ds": pd.to_datetime(["2024-01-01"]), "y": [np.nan]}))]
    for row in rows:
        parsed = through_json(spark, keys, row)
        assert parsed.columns == ["store", "item", *[f.name for f in RESULT_FIELDS]]
        assert_df_equality(parsed, typed(spark, keys, row), ignore_nullable=True, allow_nan_equality=True)
    first = through_json(spark, keys, rows[0]).first()
    assert first["cv_rmse"] is None and first["forecast"][0]["yhat"] is None  # NaN: null, as in the typed row
    assert first["forecast"][1]["yhat_lower"] == -np.inf and first["cv_mae"] == 0.1 + 0.2


def test_times_read_back_in_the_session_time_zone_as_pyspark_reads_naive_pandas_times(spark):
    keys = {"store": "north", "item": 7}
    with session_time_zone(spark, "America/New_York"):  # on the day its clocks went forward
        assert_df_equality(through_json(spark, keys, values()), typed(spark, keys, values()),
                           ignore_nullable=True, allow_nan_equality=True)


def test_the_payload_is_json_that_other_readers_can_parse():
    frame = RESULT_ROW.to_frame({"store": "n", "item": 1}, values())
    assert list(frame.columns) == ["store", "item", result_row.PAYLOAD, "model_json"]
    payload = json.loads(frame[result_row.PAYLOAD][0])
    assert payload["history_end"] == "2024-03-10T00:59:59.999999" and "model_json" not in payload
    assert payload["forecast"][0] == {"ds": "2024-03-10T01:00:00.123456", "yhat": None, "yhat_lower": 1.0,
                                      "yhat_upper": 1 / 3}


def test_the_training_input_hands_pandas_the_same_times_as_a_timestamp_column(spark):
    rows = [("a", dt.datetime(2024, 3, 10, 1, 30)), ("a", dt.datetime(2024, 11, 3, 1, 15)), ("b", None)]
    series = spark.createDataFrame([(*row, 1.0) for row in rows], "store string, ds timestamp, y double")

    def seen(group: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"store": group["store"], "seen": group["ds"].astype(str), "dtype": str(group["ds"].dtype)})

    schema = "store string, seen string, dtype string"
    for zone in ("UTC", "Europe/Paris"):
        with session_time_zone(spark, zone):
            before = series.groupBy("store").applyInPandas(seen, schema)
            after = training_input(series).groupBy("store").applyInPandas(seen, schema)
            assert training_input(series).schema["ds"].dataType == T.TimestampNTZType()
            assert_df_equality(after, before, ignore_row_order=True)


def test_a_key_column_cannot_take_the_name_of_the_json_text():
    with pytest.raises(ConfigError, match=result_row.PAYLOAD):
        load_config(None, [f"input.key_columns=[{result_row.PAYLOAD}]"])


def test_a_payload_that_does_not_parse_as_its_fields_stops_the_stage_not_reads_as_nulls(spark):
    row_format = RowFormat((T.StructField("score", T.DoubleType()), T.StructField("status", T.StringType())))
    key = [T.StructField("store", T.StringType())]
    wired = spark.createDataFrame([("a", '{"score": "not a number", "status": "ok"}')], row_format.wire_schema(key))
    assert wired.columns == ["store", PAYLOAD]
    with pytest.raises(Exception, match="(?i)malformed"):
        row_format.expand(wired, ["store"]).collect()
