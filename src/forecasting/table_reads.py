"""Tables read without Spark, as Spark's readers would give them: the job's output
tables (a Delta table as of a version or a time, the rows one job run wrote, one
series' rows of a Delta or parquet table), and a Delta or parquet input for
``input_history``.

Delta tables are read with the ``deltalake`` package (its log) and pyarrow (its files),
parquet with pyarrow alone. ``version_written_by`` reads Delta; the others either
(``fmt``), a parquet table at its one version.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from forecasting import delta_files, lineage, series_identity, tracking
from forecasting.config_stores import local_path
from forecasting.redaction import first_line

logger = logging.getLogger(__name__)

PARQUET_FILES = ("*.parquet", "*/*.parquet", "*/*/*.parquet")  # a table's, in up to two levels of partitions

# pandas' nullable integer type for each of Arrow's integer types
_NULLABLE_INTEGERS = {"int8": "Int8", "int16": "Int16", "int32": "Int32", "int64": "Int64",
                      "uint8": "UInt8", "uint16": "UInt16", "uint32": "UInt32", "uint64": "UInt64"}


def job_rows(path: str | Path, job, fmt: str = "delta", where=None, columns: list[str] | None = None) -> pd.DataFrame:
    """The rows of an output table (``output.format`` ``delta`` or ``parquet``) that the
    job run ``job`` (its MLflow parent run) wrote, read as ``read_table`` reads them
    (narrowed by ``where``, a pyarrow expression, to ``columns``, as ``rows_of_run``). A
    run date alone is no run: two configs sharing an experiment and a date write to
    different folders. In a Delta table, rows a later run of the date replaced are read
    from the version that wrote them (``version_written_by``), with a warning; a parquet
    table keeps no older versions. LookupError when the run has no rows here."""
    from deltalake.exceptions import TableNotFoundError

    run_id, tags = job.info.run_id, job.data.tags
    absence, gone = "no rows", ""
    try:
        rows, written = rows_of_run(path, run_id, fmt, where=where, columns=columns)
        frame = _as_spark_reads(rows)
    except (FileNotFoundError, TableNotFoundError) as err:  # a wrong folder: a table without the run's rows
        if isinstance(err, FileNotFoundError) and fmt != "parquet":  # a Delta table's file gone: its own error
            raise
        frame, absence = pd.DataFrame(), "no table, so no rows"
    except OlderVersionGone as err:
        frame = pd.DataFrame()
        gone = (f" (version {err.version}, which it wrote, cannot be read: {err.reason}; VACUUM removes old "
                "versions' files)")
    else:
        if written is not None:
            by = tags.get(tracking.SUPERSEDED_TAG)  # else deleted (a run date removed), or replaced by older code
            logger.warning("the rows of job run %s in %s %s: these are from version %d, which it wrote", run_id, path,
                           f"were replaced by the later run {by}" if by else
                           "are no longer in the table's current version (deleted, or replaced)", written)
    if frame.empty and fmt == "parquet" and tags.get(tracking.SUPERSEDED_TAG):
        gone = " (a parquet table keeps no older versions)"
    if frame.empty:
        written_to, replaced_by = tracking.run_output(job), tags.get(tracking.SUPERSEDED_TAG)
        if replaced_by:
            why = f"the later run {replaced_by} of that date replaced them"
        elif written_to is None:
            why = "it did not tag where it wrote its tables"
        else:
            relative = not (Path(written_to).is_absolute() or "://" in written_to)
            why = (f"it wrote its tables to {written_to}{', relative to the folder it ran in' if relative else ''}. "
                   "Read the tables there (in the notebook: set FORECAST_OUTPUT to that folder)")
        raise LookupError(f"{absence} of job run {run_id} (run date {tags.get(tracking.RUN_DATE_TAG)}) in {path}: "
                          f"{why}{gone}")
    return frame


class OlderVersionGone(Exception):
    """The Delta version a job run wrote, which ``rows_of_run`` reads where a later run
    of its date replaced its rows, can no longer be read (VACUUM removed its files)."""

    def __init__(self, version: int, err: Exception):
        self.version, self.reason = version, first_line(err)  # deltalake's messages run on for lines
        super().__init__(f"version {version} cannot be read: {self.reason}")


def rows_of_run(path: str | Path, job_run_id: str, fmt: str = "delta", where=None, columns=None):
    """The rows job run ``job_run_id`` wrote to an output table, as Arrow, narrowed by
    ``where`` (a pyarrow expression, such as a run date, which spares the other dates'
    files) to ``columns``; and the Delta version they were read from where a later run
    of their date replaced them in the current one (None where they were current, and
    for parquet, which keeps no older versions). FileNotFoundError or deltalake's
    TableNotFoundError where there is no table; OlderVersionGone where the version the
    run wrote was vacuumed."""
    import pyarrow.dataset as ds
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError

    own = ds.field("job_run_id") == job_run_id
    own = own if where is None else own & where
    if fmt == "parquet":  # a path or a URI (file://, s3://); no other run date's files opened
        return _dataset(path, fmt, own).to_table(filter=own, columns=columns), None
    table = DeltaTable(str(path))
    rows = delta_files.dataset(table).to_table(filter=own, columns=columns)
    written = version_written_by(table, job_run_id) if rows.num_rows == 0 else None
    if written is None:
        return rows, None
    try:
        table.load_as_version(written)
        return delta_files.dataset(table).to_table(filter=own, columns=columns), written
    except (OSError, DeltaError) as err:
        raise OlderVersionGone(written, err) from None


def version_written_by(table, job_run_id: str) -> int | None:
    """The version of a Delta table (a path or a ``DeltaTable``) that job run
    ``job_run_id`` committed, from the run id each commit of the job records
    (``tables.write_slice``); None when no commit says so (a table written before
    the job recorded it, or by another run)."""
    from deltalake import DeltaTable

    table = table if isinstance(table, DeltaTable) else DeltaTable(str(table))
    for commit in table.history():  # newest first
        if lineage.committed_by(commit.get("userMetadata"), job_run_id):
            return commit["version"]
    return None


def read_table(path: str | Path, version: int | None = None, timestamp: str | None = None,
               fmt: str = "delta") -> pd.DataFrame:
    """A Delta table's rows (as of ``version``, or of the last version committed at or
    before ``timestamp``, as Spark's timestampAsOf; a time without a zone is UTC, as
    the job's session reads it), or a parquet table's (``fmt``), its times in UTC
    without a zone and in nanoseconds, as Spark gives them: deltalake gives zoned
    microseconds, which Prophet refuses (a zone) or silently misreads (microseconds).
    ValueError for a table deltalake cannot read (column mapping): Spark reads it."""
    if fmt == "parquet":
        if version is not None or timestamp is not None:
            raise ValueError(f"{path} is a parquet table, which keeps no versions: read it without version or "
                             "timestamp")
        return _as_spark_reads(_dataset(path, fmt).to_table())
    table = _delta_table(path, version)
    if timestamp is not None:
        at = pd.Timestamp(timestamp)
        at = at if at.tzinfo else at.tz_localize("UTC")
        kept = [commit["timestamp"] for commit in table.history() if commit.get("timestamp") is not None]
        first = min(kept, default=None)  # ms since the epoch; none where no commit says when (then unchecked)
        if first is not None and at < pd.Timestamp(first, unit="ms", tz="UTC"):  # deltalake would give its first
            raise ValueError(f"{path} has no version as of {at}: its first version that is kept was committed at "
                             f"{pd.Timestamp(first, unit='ms', tz='UTC')} (Spark's timestampAsOf refuses it too)")
        table.load_as_version(at.to_pydatetime())
    return _as_spark_reads(delta_files.dataset(table).to_table())


def _delta_table(path: str | Path, version: int | None = None):
    """A ``deltalake.DeltaTable``; ValueError where its protocol asks for a reader
    feature deltalake lacks (column mapping, which a column name with a space needs);
    TableNotFoundError naming ``fmt="parquet"`` where a local folder holds parquet
    files without a Delta log (an ``output.format: parquet`` table)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    try:
        return DeltaTable(str(path), version=version)
    except TableNotFoundError:
        folder = Path(local_path(str(path)))
        # a parquet output's files lie in its partition folders (run_date=..., source=...)
        if folder.is_dir() and any(next(folder.glob(files), None) for files in PARQUET_FILES):
            raise TableNotFoundError(f"{path} holds parquet files but no Delta log (_delta_log): a table written "
                                     "with output.format: parquet, which reads with fmt='parquet'") from None
        raise
    except DeltaError as err:
        if "Unsupported reader features" not in str(err):
            raise
        raise ValueError(f"the Delta table {path} cannot be read without Spark: {str(err).strip()} (the deltalake "
                         "package lacks them). Read it with Spark: spark.read.format('delta').load(path), with "
                         "option('versionAsOf', ...) for a version") from None


def _as_spark_reads(table) -> pd.DataFrame:
    """An Arrow table of an output table as ``read_table`` gives it: integers as in
    ``arrow_to_pandas``, times in UTC without a zone, in nanoseconds, a parquet table's
    run_date (a partition folder's text) a date, as Delta gives it."""
    import pyarrow as pa

    at = table.schema.get_field_index("run_date")
    if at >= 0 and (pa.types.is_string(table.schema.field(at).type)
                    or pa.types.is_large_string(table.schema.field(at).type)):
        table = table.set_column(at, "run_date", table["run_date"].cast(pa.date32()))
    frame = arrow_to_pandas(table)
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert(None)
        if pd.api.types.is_datetime64_dtype(frame[column]):
            frame[column] = frame[column].astype("datetime64[ns]")
    return frame


def arrow_to_pandas(table) -> pd.DataFrame:
    """An Arrow table as pandas, an integer column holding a null as a nullable integer:
    pyarrow makes it float, where a key 2 reads "2.0", neither the tags' text nor the
    job's value. Columns without a null keep numpy's integers."""
    import pyarrow as pa

    frame = table.to_pandas()
    for index, field in enumerate(table.schema):
        column = table.column(index)
        if pa.types.is_integer(field.type) and column.null_count:
            nullable = pd.api.types.pandas_dtype(_NULLABLE_INTEGERS[str(field.type)])
            # from Arrow, not from the floats, which lose integers above 2**53; by position,
            # as the frame may have an index of its own (a parquet file written by pandas)
            frame[field.name] = column.to_pandas(types_mapper={field.type: nullable}.get).array
    return frame


def read_series(path: str | Path, keys: dict[str, str], fmt: str = "delta") -> pd.DataFrame:
    """One series' rows of an output table (``output.format`` ``delta`` or ``parquet``).

    ``keys`` holds each key column's value as text, as typed on a command line or stored
    in the MLflow tags (``series_identity.key_text``: a null key is ``<null>``); the values are
    converted to the columns' types and the filter is pushed down to the files.
    """
    dataset = _dataset(path, fmt)
    table = dataset.to_table(filter=_series_condition(path, dataset.schema, keys))
    # times as read_table gives them, whichever way a file stored them (a parquet table's
    # older dates as INT96, its newer in UTC)
    return _as_spark_reads(table)


def series_condition(path: str | Path, keys: dict[str, str], fmt: str = "delta"):
    """The pyarrow filter of one series' rows in an output table, ``keys`` as read_series
    takes them, for job_rows' ``where``."""
    return _series_condition(path, _dataset(path, fmt).schema, keys)


def _series_condition(path, schema, keys: dict[str, str]):
    """The filter of the rows whose keys read as ``keys``' texts in the table's ``schema``
    (a literal false where a text is no value of its column's type)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    missing = [column for column in keys if column not in schema.names]
    if missing:
        raise LookupError(f"{path} has no column {', '.join(missing)}; it has {', '.join(schema.names)}")
    condition = ds.scalar(True)
    for column, text in keys.items():
        field = ds.field(column)
        if text == series_identity.NULL_KEY:
            condition &= field.is_null()
            continue
        try:
            condition &= field == _typed(text, schema.field(column).type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return ds.scalar(False)  # no value of the column's type reads so
    return condition


def _dataset(path: str | Path, fmt: str, where=None):
    """An output table as a pyarrow dataset, every column any of its files has (of the
    files whose partition may hold rows meeting ``where``, a pyarrow expression)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    if fmt == "delta":
        return delta_files.dataset(_delta_table(path))
    dataset = ds.dataset(str(path), format="parquet", partitioning="hive")
    # pyarrow takes one file's columns: the files of run dates an older version wrote lack newer ones
    added = {}
    for fragment in dataset.get_fragments(filter=where):
        added.update({f.name: f for f in fragment.physical_schema if f.name not in dataset.schema.names})
    if added:
        dataset = ds.dataset(str(path), format="parquet", partitioning="hive",
                             schema=pa.schema([*dataset.schema, *added.values()]))
    return dataset


def run_dates(path: str | Path, fmt: str = "delta") -> list[str]:
    """The run dates an output table holds rows of, oldest first, from its files'
    partition values alone (the Delta log's, a parquet table's folder names): no file read."""
    import pyarrow.dataset as ds

    dates = set()
    for fragment in _dataset(path, fmt).get_fragments():
        value = ds.get_partition_keys(fragment.partition_expression).get("run_date")
        if value is not None:
            dates.add(str(value))
    return sorted(dates)


def date_job_runs(path: str | Path, run_date: str, fmt: str = "delta", source: str | None = None) -> set[str]:
    """The job runs whose rows a table holds for ``run_date`` (of ``source`` only, where given):
    one, but where a run stopped between its three writes left some tables with its rows and
    the others with an earlier run's of the date. Reads the job_run_id column of that slice's files."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    runs = set()
    # a parquet table's files listed by their folders alone: _dataset would read every file's footer
    tables = _dataset(path, fmt) if fmt == "delta" else ds.dataset(str(path), format="parquet", partitioning="hive")
    for fragment in tables.get_fragments():
        values = {name: str(value) for name, value in ds.get_partition_keys(fragment.partition_expression).items()}
        if values.get("run_date") == run_date and source in (None, values.get("source")):
            runs.update(pc.unique(fragment.to_table(columns=["job_run_id"]).column("job_run_id")).to_pylist())
    return {run for run in runs if run}


def series_keys(path: str | Path, key_columns: list[str], fmt: str = "delta") -> list[dict[str, str]]:
    """Every series of an output table, each its key columns' values as text (series_identity.key_text)."""
    table = _dataset(path, fmt).to_table(columns=list(key_columns)).group_by(list(key_columns)).aggregate([])
    return [{column: series_identity.key_text(value) for column, value in row.items()} for row in table.to_pylist()]


def _typed(text: str, column_type):
    """The text as a value of the column's type. A time without an offset, as the
    tags show one, is in UTC."""
    import pyarrow as pa

    try:
        return pa.scalar(text).cast(column_type)
    except pa.ArrowInvalid:
        if not (pa.types.is_timestamp(column_type) and column_type.tz):
            raise
        return pa.scalar(text).cast(pa.timestamp(column_type.unit)).cast(column_type)
