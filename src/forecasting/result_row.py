"""A series' result row on its way out of the Python worker: one JSON text.

PySpark turns each column of a pandas UDF's result into Arrow on its own, at a
fixed cost of a pandas Series and a null mask each (about 0.15 ms a column): a
result row of 22 typed columns took 19.8 million instructions (callgrind). So
the row leaves the worker as its keys, one JSON text of the typed fields and the
model's JSON text (too big to escape once more), 4.5 million instructions, and
Spark parses the text back into the typed columns in the same task (``expand``).

The text keeps what the typed columns held: NaN becomes null (PySpark's null
mask made it so), infinities stay, and times are naive, read in the session's
time zone as PySpark reads naive pandas times.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

PAYLOAD = "_payload"
# Spark's pattern for np.datetime_as_string(..., unit="us")
TIME_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"


@dataclass(frozen=True)
class RowFormat:
    """A result row's typed ``fields``, and the string fields kept ``apart`` from
    its JSON text, as they are."""

    fields: tuple[T.StructField, ...]
    apart: tuple[str, ...] = ()

    def wire_schema(self, key_fields: list[T.StructField]) -> T.StructType:
        """What the Python worker returns: the keys, the JSON text, the fields apart."""
        return T.StructType(
            [*key_fields, T.StructField(PAYLOAD, T.StringType()), *[f for f in self.fields if f.name in self.apart]]
        )

    def to_frame(self, keys: dict[str, Any], values: dict[str, Any]) -> pd.DataFrame:
        """The one-row frame of ``wire_schema``. ``values`` holds every field by name;
        an array of structs is given as a DataFrame with the struct's columns, or None."""
        payload = {f.name: _encoded(values[f.name], f.dataType) for f in self.fields if f.name not in self.apart}
        row = {**keys, PAYLOAD: json.dumps(payload, default=_plain), **{name: values[name] for name in self.apart}}
        return pd.DataFrame({name: [value] for name, value in row.items()})

    def expand(self, wired: DataFrame, key_columns: list[str]) -> DataFrame:
        """``wired`` (as ``wire_schema``) with the JSON text parsed back: the keys,
        then the fields in their order."""
        parsed = T.StructType([f for f in self.fields if f.name not in self.apart])
        row = F.from_json(PAYLOAD, parsed, {"timestampFormat": TIME_FORMAT, "mode": "FAILFAST"})
        return wired.select(*key_columns, row.alias(PAYLOAD), *self.apart).select(
            *key_columns,
            *[F.col(f.name) if f.name in self.apart else F.col(f"{PAYLOAD}.{f.name}") for f in self.fields],
        )


def _encoded(value: Any, data_type: T.DataType) -> Any:
    if value is None:
        return None
    if isinstance(data_type, T.DoubleType):
        return _number(value)
    if isinstance(data_type, T.TimestampType):
        return _times(np.array([pd.Timestamp(value).to_datetime64()], dtype="datetime64[us]"))[0]
    if isinstance(data_type, T.ArrayType) and isinstance(data_type.elementType, T.StructType):
        return _records(value, data_type.elementType)
    return value


def _records(frame: pd.DataFrame, struct: T.StructType) -> list[dict]:
    columns = []
    for field in struct.fields:
        column = frame[field.name]
        if isinstance(field.dataType, T.TimestampType):
            columns.append(_times(column.to_numpy(dtype="datetime64[us]")))
        elif isinstance(field.dataType, T.DoubleType):
            columns.append([_number(v) for v in column.tolist()])
        else:
            columns.append(column.tolist())
    return [dict(zip(struct.names, point)) for point in zip(*columns)]


def _times(values: np.ndarray) -> list[str | None]:
    return [None if text == "NaT" else text for text in np.datetime_as_string(values, unit="us").tolist()]


def _number(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _plain(value):
    """numpy's scalars, which json cannot write, as Python's."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} in a result row cannot be written as JSON")
