"""A local input's files checked before Spark reads them: what Spark would misread without a
word (a parquet file lacking a column, folder keys read as one number) or refuse with a stack
trace (nanosecond times, untyped empty columns) becomes an InputError that says what to fix."""
from __future__ import annotations

import logging
import os
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlparse

from pyspark.sql import DataFrame
from pyspark.sql import types as T

from forecasting.config_stores import local_path

logger = logging.getLogger(__name__)

# Spark's typing of the values in Hive-style folder names (store=007): a session setting
PARTITION_INFERENCE = "spark.sql.sources.partitionColumnTypeInference.enabled"
MAX_CHECKED_FILES = 5000  # a local parquet input's files whose footers are checked before Spark reads them


class InputError(ValueError):
    """The input as a whole cannot be used; raised before any training."""


def check_parquet_files(path: str, options: dict, required: list[str]) -> None:
    """Raise InputError where a local parquet input's files (each file's footer, as pyarrow
    reads it) would be misread or refused with Spark's stack traces: a file without one of
    the ``required`` columns (Spark reads it as nulls: an upstream rename had the job forecast
    from the other files' weeks without a word), a required column of another type than in
    the first file, one of pandas' untyped empty columns, or nanosecond timestamps (pandas'
    default; Hive's INT96 times are Spark's own, and read). Where pyarrow cannot tell (a
    pattern, a remote store, reader options that pick files), Spark reads as ever."""
    if urlparse(path).scheme not in ("", "file") or options:
        return
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        dataset = ds.dataset(local_path(path), format="parquet", partitioning="hive")
        fragments = list(dataset.get_fragments())[:MAX_CHECKED_FILES]
        files = [(fragment.path, fragment.physical_schema, _int96_columns(fragment)) for fragment in fragments]
    except Exception as err:  # not found, not parquet: Spark's reading says it
        logger.debug("pyarrow could not read the schema of %s: %s", path, err)
        return
    # Spark matches a parquet file's column names whatever their case, and fills a folder key's
    # (store=a/) into files without it
    def names(file: str, schema) -> dict[str, str]:
        folders = [part.partition("=")[0] for part in Path(file).parts if "=" in part]
        return {name.lower(): name for name in [*folders, *schema.names]}

    named = [names(file, schema) for file, schema, _ in files]
    # a column no file has is the column check's to name, with its advice (a header's other spelling)
    somewhere = [column for column in required if any(column.lower() in each for each in named)]
    first_types = {}
    for (file, schema, int96), has in zip(files, named):
        name = Path(file).name
        lacking = [column for column in somewhere if column.lower() not in has]
        if lacking:
            raise InputError(f"input parquet file '{file}' lacks column(s) {lacking}, which the others have: Spark "
                             "would read them as empty there (a column renamed upstream?). Rewrite the file, or move "
                             "it out of the input's folder")
        nanos = [f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.unit == "ns"
                 and f.name not in int96]
        if nanos:
            raise InputError(f"cannot read input parquet '{path}' ({name}): column(s) {nanos} hold nanosecond "
                             "timestamps (pandas' default), which Spark cannot read: write the file with pandas' "
                             "to_parquet(..., coerce_timestamps='us')")
        written = {field.lower(): field for field in schema.names}
        for column in (column for column in required if column.lower() in written):
            field = written[column.lower()]
            kind = _as_spark_reads(pa.timestamp("us", tz="UTC") if field in int96 else schema.field(field).type)
            if pa.types.is_null(kind):
                rows = _row_count(file)
                if rows:  # a day's values all missing, written by pandas from a column of None
                    raise InputError(f"input parquet file '{file}' holds only nulls in column '{column}' ({rows} "
                                     "rows), written without a type (pandas writes a column of None so), which "
                                     "Spark cannot read: write it with its type, e.g. astype('float64') for numbers "
                                     "or astype('string') for text")
                raise InputError(f"input parquet file '{file}' has no rows and no type for column '{column}' (an "
                                 "empty pandas frame written as it was): leave the file out, or write its columns "
                                 "with their types")
            first_types.setdefault(column, (kind, name))
            if kind != first_types[column][0]:
                raise InputError(f"column '{column}' is {kind} in input parquet file '{file}' but "
                                 f"{first_types[column][0]} in {first_types[column][1]}: Spark reads one type per "
                                 "column. Rewrite the files with one type (pandas' astype, or a cast in the job that "
                                 "writes them)")


def _row_count(file: str) -> int | None:
    """The rows a local parquet file's footer counts; None where it cannot be read."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(file).metadata.num_rows
    except Exception as err:  # gone since, or unreadable: the other message stands
        logger.debug("could not count the rows of %s: %s", file, err)
        return None


def refuse_merged_folder_keys(df: DataFrame, path: str, keys: list[str]) -> None:
    """Raise InputError where a parquet folder's key folders of other names were read as one
    number (store=007 and store=7 as 7: Spark types folder keys by their names), which would
    sum two series into one; a CSV input reads its folder keys as text already."""
    typed = [key for key in keys if key in df.columns and not isinstance(df.schema[key].dataType, T.StringType)]
    if not typed:
        return
    names: dict[str, set[str]] = {key: set() for key in typed}
    # the folders below the input's own path: a path that is itself store=007/ gives no folder key
    below = len(_segments(path if urlparse(path).scheme not in ("", "file") else
                          os.path.abspath(os.path.expanduser(local_path(path)))))  # as Hadoop: links kept
    for file in df.inputFiles():  # the files Spark listed: no read
        for segment in _segments(file)[below:-1]:
            key, _, value = segment.partition("=")
            if key in names:
                names[key].add(unquote(value))
    for key, written in names.items():
        # as Spark holds them: a long or a decimal exactly (18-digit ids stay apart), a double as a float
        exact = not isinstance(df.schema[key].dataType, (T.DoubleType, T.FloatType))
        by_value: dict[object, list[str]] = {}
        for text in written:
            try:
                by_value.setdefault(Decimal(text) if exact else float(text), []).append(text)
            except (ValueError, ArithmeticError):
                continue
        merged = [sorted(texts) for texts in by_value.values() if len(texts) > 1]
        kind = df.schema[key].dataType.simpleString()
        if merged:
            raise InputError(f"input '{path}' has folders {key}={' and '.join(merged[0])}, which Spark reads as one "
                             f"{key} ({kind}): their series would be summed into one. "
                             f"Set spark.conf {PARTITION_INFERENCE}: false to read folder keys as text")
        # store=007 alone read as 7: keys the tables, lookups and requests would give otherwise than the input
        changed = sorted((text, _number_text(value)) for value, (text,) in by_value.items()
                         if _number_text(value) != text)
        if changed:
            said = ", ".join(f"{key}={text} as {number}" for text, number in changed[:3])
            raise InputError(f"input '{path}' has folders whose names Spark reads as numbers written otherwise "
                             f"({said}; {len(changed)} in all, {kind}). Set spark.conf {PARTITION_INFERENCE}: false "
                             "to read folder keys as written (text), or true to take Spark's numbers")


def _segments(location: str) -> list[str]:
    """A path's or URI's folder and file names, percent-decoding aside."""
    return [segment for segment in urlparse(location).path.split("/") if segment]


def _number_text(value: Decimal | float) -> str:
    """A folder key's value as Spark shows the number it read: 7 for 007, 1000 for 1e3, 1.5 for a
    double's 1.50."""
    return repr(value) if isinstance(value, float) else format(value, "f")


def _as_spark_reads(kind):
    """A parquet column's Arrow type as far as Spark tells types apart: a dictionary's values
    (pandas' categorical), string for large_string, a timestamp's zone as any zone."""
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_large_string(kind):
        return pa.string()
    if pa.types.is_timestamp(kind):  # milliseconds and microseconds alike; with a zone or without
        return pa.timestamp("us", tz="UTC" if kind.tz else None)
    return kind


def _int96_columns(fragment) -> set[str]:
    """The columns of a parquet file stored as INT96 times (Hive's, Impala's, older Spark's),
    which pyarrow shows as nanoseconds but Spark reads."""
    schema = fragment.metadata.schema
    return {schema.column(i).name for i in range(len(schema)) if schema.column(i).physical_type == "INT96"}


def no_files_hint(path: str, fmt: str) -> str:
    """Why Spark found no files to read at ``path``: a local folder with none (an export not
    landed yet, a _SUCCESS file alone), or files only in subfolders that name no key=value."""
    folder = Path(local_path(path)).expanduser() if urlparse(path).scheme in ("", "file") else None
    if folder is not None and folder.is_dir() and not any(
            sub.is_dir() and "=" not in sub.name and any(f.is_file() for f in sub.rglob("*"))
            for sub in folder.iterdir()):
        return " (the folder holds no data files Spark reads: an export not landed yet?)"
    return (" (Spark reads the files in the folder and in key=value subfolders: for files in other subfolders give "
            f"a pattern, folder/*/*.{fmt if fmt in ('csv', 'parquet') else '*'}, or "
            "input.options.recursiveFileLookup: true)")
