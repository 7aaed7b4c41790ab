"""Helpers for looking at a finished run from a notebook, without Spark.

They read the Delta tables with the ``deltalake`` package and MLflow with its
client, so an analyst's laptop needs neither a JVM nor a cluster.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pandas as pd
import yaml

from forecasting import delta_files, lineage, run_overview, tracking
from forecasting.periods import end_of_day
from forecasting.config import SAMPLE_INPUT
from forecasting.sample_data import make_sample_sales

logger = logging.getLogger(__name__)


def missing_store(tracking_uri: str) -> str | None:
    """The path of a local MLflow store (a ``file:`` folder, a ``sqlite:`` file) that is
    not there: MLflow would create an empty one, in whatever folder this was run in."""
    parsed = urlparse(tracking_uri)
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
        return None if path.is_dir() else str(path)
    database = tracking.sqlite_file(tracking_uri)  # sqlite:///a.db is a.db, here; sqlite:////srv/a.db is /srv/a.db
    if database is not None:
        return None if database.is_file() else str(database)
    return None


def job_runs(
    tracking_uri: str, experiment: str, job: str | None = None, finished_only: bool = False, max_results: int = 10
) -> list:
    """The newest parent runs (one per job run) in ``experiment``, newest first: of ``job``,
    or of every job (training, scoring, evaluation) when it is None."""
    missing = missing_store(tracking_uri)
    if missing:
        raise LookupError(f"no MLflow store at {missing}: run this in the folder the job ran in, "
                          "or set MLFLOW_TRACKING_URI (and, in the notebook, FORECAST_OUTPUT for the tables)")
    client = tracking.client(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise LookupError(f"no experiment {experiment!r} at {tracking_uri}")
    # child runs carry no job tag, so "any job tag" picks the parent runs
    conditions = [f"tags.{tracking.JOB_TAG} = '{job}'" if job else f"tags.{tracking.JOB_TAG} LIKE '%'"]
    if finished_only:
        conditions.append("attributes.status = 'FINISHED'")
    return client.search_runs(
        [found.experiment_id],
        filter_string=" and ".join(conditions),
        order_by=["attributes.start_time DESC"],
        max_results=max_results,
    )


def latest_job_run(tracking_uri: str, experiment: str, job: str = tracking.TRAIN_JOB, output: str | None = None):
    """The newest finished parent run of ``job`` in ``experiment``; given ``output`` (an
    absolute folder), the newest that wrote its tables there, where configs share an
    experiment (a run from before the output_path tag, 2026-12-02, may be any's)."""
    runs = job_runs(tracking_uri, experiment, job, finished_only=True, max_results=1 if output is None else 500)
    if not runs:
        raise LookupError(f"no finished {job} run in experiment {experiment!r}")
    if output is None:
        return runs[0]
    mine = [run for run in runs if run.data.tags.get(tracking.OUTPUT_PATH_TAG, output) == output]
    if not mine:
        raise LookupError(f"no finished {job} run in experiment {experiment!r} wrote its tables to {output}: the "
                          f"latest wrote to {tracking.run_output(runs[0])} (in the notebook: set FORECAST_OUTPUT to "
                          "that folder)")
    return mine[0]


def series_runs(tracking_uri: str, experiment_id: str, keys: dict[str, Any], output: str | None = None) -> pd.DataFrame:
    """Every child run of one series, newest first, as a frame of runs; ``replaced_by``
    names the later job run that replaced its job run's rows (a rerun of its date), else
    None, and ``output`` the tables its job run wrote. Given ``output`` (a job run's
    output_path tag), only the runs of job runs that wrote there: configs sharing an
    experiment name the same series."""
    import mlflow

    client = tracking.client(tracking_uri)
    runs = mlflow.search_runs(experiment_ids=[experiment_id], filter_string=tracking.series_filter(keys),
                              order_by=["attributes.start_time DESC"])
    parent = f"tags.{tracking.PARENT_TAG}"
    parents = runs[parent].dropna().unique() if parent in runs else []
    tags = {run_id: client.get_run(run_id).data.tags for run_id in parents}
    of_parent = runs[parent] if parent in runs else pd.Series(None, index=runs.index, dtype=object)
    runs = runs.assign(replaced_by=of_parent.map(lambda run_id: tags.get(run_id, {}).get(tracking.SUPERSEDED_TAG)),
                       output=of_parent.map(lambda run_id: tags.get(run_id, {}).get(tracking.OUTPUT_PATH_TAG)))
    return runs if output is None else runs[runs["output"] == output].reset_index(drop=True)


def job_rows(path: str | Path, job) -> pd.DataFrame:
    """The rows of a Delta table that the job run ``job`` (its MLflow parent run) wrote,
    read as ``read_table`` reads them. A run date alone is no run: two configs sharing
    an experiment and a date write to different folders. Rows a later run of the date
    replaced are read from the version that wrote them (``version_written_by``), with a
    warning. LookupError when the run has no rows here."""
    import pyarrow.dataset as ds
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    run_id = job.info.run_id
    try:
        table, found = DeltaTable(str(path)), "no rows"
        frame = _from_arrow(delta_files.dataset(table).to_table(filter=ds.field("job_run_id") == run_id))
    except TableNotFoundError:  # a wrong folder: answered as a table without the run's rows, with where it wrote
        table, frame, found = None, pd.DataFrame(), "no table, so no rows"
    tags = job.data.tags
    written = version_written_by(table, run_id) if frame.empty and table is not None else None
    gone = ""
    if written is not None:
        try:
            table.load_as_version(written)
            frame = _from_arrow(delta_files.dataset(table).to_table(filter=ds.field("job_run_id") == run_id))
        except (OSError, DeltaError) as err:  # VACUUM removed that version's files
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__  # deltalake's run on
            gone = f" (version {written}, which it wrote, cannot be read: {first}; VACUUM removes old versions' files)"
        else:
            logger.warning("the rows of job run %s in %s were replaced%s: these are from version %d, which it wrote",
                           run_id, path, f" by the later run {tags[tracking.SUPERSEDED_TAG]}"
                           if tags.get(tracking.SUPERSEDED_TAG) else "", written)
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
        raise LookupError(f"{found} of job run {run_id} (run date {tags.get(tracking.RUN_DATE_TAG)}) in {path}: "
                          f"{why}{gone}")
    return frame


def version_written_by(table, job_run_id: str) -> int | None:
    """The version of a Delta table (a path or a ``DeltaTable``) that job run
    ``job_run_id`` committed, from the run id each commit of the job records
    (``tables.write_slice``); None when no commit says so (a table written before
    the job recorded it, or by another run)."""
    from deltalake import DeltaTable

    table = table if isinstance(table, DeltaTable) else DeltaTable(str(table))
    for commit in table.history():  # newest first
        try:
            metadata = json.loads(commit.get("userMetadata") or "{}")
        except ValueError:  # another writer's own text
            continue
        if isinstance(metadata, dict) and metadata.get(tracking.COMMIT_RUN_KEY) == job_run_id:
            return commit["version"]
    return None


def read_table(path: str | Path, version: int | None = None, timestamp: str | None = None) -> pd.DataFrame:
    """A Delta table's rows (as of ``version``, or of the last version committed at or
    before ``timestamp``, as Spark's timestampAsOf; a time without a zone is UTC, as
    the job's session reads it), its times in UTC without a zone and in nanoseconds, as
    Spark gives them: deltalake gives zoned microseconds, which Prophet refuses (a
    zone) or silently misreads (microseconds)."""
    from deltalake import DeltaTable

    table = DeltaTable(str(path), version=version)
    if timestamp is not None:
        at = pd.Timestamp(timestamp)
        table.load_as_version((at if at.tzinfo else at.tz_localize("UTC")).to_pydatetime())
    return _from_arrow(delta_files.dataset(table).to_table())


def _from_arrow(table) -> pd.DataFrame:
    """An Arrow table of an output table as ``read_table`` gives it: integers as in
    ``_to_pandas``, times in UTC without a zone, in nanoseconds."""
    frame = _to_pandas(table)
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert(None)
        if pd.api.types.is_datetime64_dtype(frame[column]):
            frame[column] = frame[column].astype("datetime64[ns]")
    return frame


def _to_pandas(table) -> pd.DataFrame:
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


_NULLABLE_INTEGERS = {"int8": "Int8", "int16": "Int16", "int32": "Int32", "int64": "Int64",
                      "uint8": "UInt8", "uint16": "UInt16", "uint32": "UInt32", "uint64": "UInt64"}


def read_series(path: str | Path, keys: dict[str, str], fmt: str = "delta") -> pd.DataFrame:
    """One series' rows of an output table (``output.format`` ``delta`` or ``parquet``).

    ``keys`` holds each key column's value as text, as typed on a command line or stored
    in the MLflow tags (``tracking.key_text``: a null key is ``<null>``); the values are
    converted to the columns' types and the filter is pushed down to the files.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    dataset = _dataset(path, fmt)
    missing = [column for column in keys if column not in dataset.schema.names]
    if missing:
        raise LookupError(f"{path} has no column {', '.join(missing)}; it has {', '.join(dataset.schema.names)}")
    condition = None
    for column, text in keys.items():
        field = ds.field(column)
        if text == tracking.NULL_KEY:
            match = field.is_null()
        else:
            try:
                match = field == _typed(text, dataset.schema.field(column).type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return _from_arrow(dataset.schema.empty_table())  # no value of the column's type reads so
        condition = match if condition is None else condition & match
    table = dataset.to_table(filter=condition)
    at = table.schema.get_field_index("run_date")
    if at >= 0 and (pa.types.is_string(table.schema.field(at).type)
                    or pa.types.is_large_string(table.schema.field(at).type)):
        # a parquet table's partition folder (run_date=2025-12-23) reads as text: a date, as Delta gives it
        table = table.set_column(at, "run_date", table["run_date"].cast(pa.date32()))
    # times as read_table gives them, whichever way a file stored them (a parquet table's
    # older dates as INT96, its newer in UTC)
    return _from_arrow(table)


def _dataset(path: str | Path, fmt: str):
    """An output table as a pyarrow dataset, every column any of its files has."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    if fmt == "delta":
        from deltalake import DeltaTable

        return delta_files.dataset(DeltaTable(str(path)))
    dataset = ds.dataset(str(path), format="parquet", partitioning="hive")
    # pyarrow takes one file's columns: the files of run dates an older version wrote lack newer ones
    added = {}
    for fragment in dataset.get_fragments():
        added.update({f.name: f for f in fragment.physical_schema if f.name not in dataset.schema.names})
    if added:
        dataset = ds.dataset(str(path), format="parquet", partitioning="hive",
                             schema=pa.schema([*dataset.schema, *added.values()]))
    return dataset


def series_keys(path: str | Path, key_columns: list[str], fmt: str = "delta") -> list[dict[str, str]]:
    """Every series of an output table, each its key columns' values as text (tracking.key_text)."""
    table = _dataset(path, fmt).to_table(columns=list(key_columns)).group_by(list(key_columns)).aggregate([])
    return [{column: tracking.key_text(value) for column, value in row.items()} for row in table.to_pylist()]


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


def _warn_if_changed(path: str, data_version: str) -> None:
    """Warn when local input files no longer hash to the run's ``data_version``
    (``lineage.files_digest``, over the files Spark reads: none whose name starts
    with _ or .)."""
    if urlparse(path).scheme not in ("", "file"):
        return  # hashed by path, size and modification time, through Hadoop
    root = Path(unquote(urlparse(path).path)).expanduser()
    files = [root] if root.is_file() else sorted(
        found for found in root.rglob("*")
        if found.is_file() and not any(part.startswith(("_", ".")) for part in found.relative_to(root).parts))
    _, digest = lineage.files_digest(None, [found.resolve().as_uri() for found in files])
    if digest != data_version:
        logger.warning("input %s has changed since the run read it (its content hash is now %s, the run's "
                       "data_version is %s): these rows are the input as it is now; the history a run's models "
                       "were fitted on is in its models table (model_store.fitted_history)", path, digest, data_version)


# Spark's datetime pattern letters (their run's length counts) as strftime's
STRFTIME = {"y": "%Y", "yyyy": "%Y", "M": "%m", "MM": "%m", "d": "%d", "dd": "%d", "H": "%H", "HH": "%H",
            "mm": "%M", "ss": "%S"}


def strftime_format(pattern: str) -> str | None:
    """Spark's datetime ``pattern`` as a strftime format, or None where it holds a
    letter run STRFTIME lacks (month names, zones, fractions)."""
    parts, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":  # quoted text; '' is a quote
            end = pattern.find("'", i + 1)
            if end < 0:
                return None
            if end + 1 < len(pattern) and pattern[end + 1] == "'" and end > i + 1:
                return None  # a quote doubled inside quoted text
            parts.append((pattern[i + 1:end] or "'").replace("%", "%%"))
            i = end + 1
        elif char in "[]#{}":  # optional sections and reserved characters: no strftime for them
            return None
        elif char.isalpha():
            run = len(pattern[i:]) - len(pattern[i:].lstrip(char))
            letters = pattern[i:i + run]
            if letters not in STRFTIME:
                return None
            parts.append(STRFTIME[letters])
            i += run
        else:
            parts.append(char.replace("%", "%%"))
            i += 1
    return "".join(parts)


def _matches(column: pd.Series, value: Any) -> pd.Series:
    """Which rows hold the key value, compared as text the way the tags show it
    (``tracking.key_text``): a CSV's 1 is "1", a null is "<null>", a time is in UTC."""
    distinct = column.drop_duplicates()
    # not Series.map, which hands a nullable integer column's values over as floats ("2.0");
    # and isin matches no pandas NA, so a null is matched by isna
    wanted = distinct[[tracking.key_text(item) == tracking.key_text(value) for item in distinct]]
    return column.isin(wanted.dropna()) | (column.isna() & wanted.isna().any())


def run_config(tracking_uri: str, run_id: str) -> dict:
    """The resolved configuration a job run used."""
    import mlflow

    tracking.client(tracking_uri)
    return yaml.safe_load(mlflow.artifacts.load_text(f"runs:/{run_id}/config/resolved.yaml"))


def job_overview(tracking_uri: str, run_id: str) -> str | None:
    """The overview picture (SVG text, ``run_overview``) a training or evaluation run
    logged on its parent run; None for a run from before the job drew one."""
    import mlflow

    client = tracking.client(tracking_uri)
    if run_overview.ARTIFACT not in {item.path for item in client.list_artifacts(run_id)}:
        return None
    return mlflow.artifacts.load_text(f"runs:/{run_id}/{run_overview.ARTIFACT}")


def load_history(
    config: dict, keys: dict[str, Any], data_version: str | None = None, run_date: str | None = None,
    folder: str | Path | None = None,
) -> pd.DataFrame:
    """One series' input rows as ``ds``/``y``, read the way the job read them: a
    CSV's columns as text (so a key 1 is "1", as in the tables), keys compared as text.
    ``data_version``, the run's tag of that name: for a Delta input the version it
    read (else the one ``versionAsOf`` or ``timestampAsOf`` pins, else the latest).
    ``run_date``, the run's tag of that name: only the rows the job knew on it, those
    before the end of that day (a backfill's history stops where its forecast starts).
    ``folder``: the one the job ran in, which a relative input path is relative to.
    For local CSV or parquet files, ``data_version`` is their content's hash: a warning
    says when they changed since the run read them."""
    source = dict(config["input"])
    if folder is not None and source["path"] != SAMPLE_INPUT and not urlparse(source["path"]).scheme:
        source["path"] = str(Path(folder) / Path(source["path"]).expanduser())
    options = {name.lower(): value for name, value in source.get("options", {}).items()}  # Spark's, not pandas'
    if source["path"] == SAMPLE_INPUT:
        frame = make_sample_sales()
    elif source["format"] == "csv":
        escape = options.get("escape", '"')  # as forecasting.io reads it
        frame = pd.read_csv(source["path"], dtype=str, sep=options.get("sep", options.get("delimiter", ",")),
                            quotechar=options.get("quote", '"'), doublequote=escape == '"',
                            escapechar=None if escape == '"' else escape)
    elif source["format"] == "delta":
        pinned = data_version if data_version and data_version.isdigit() else options.get("versionasof")
        frame = read_table(source["path"], version=None if pinned is None else int(pinned),
                           timestamp=options.get("timestampasof") if pinned is None else None)
    elif source["format"] == "parquet":
        import pyarrow.parquet as pq

        frame = _to_pandas(pq.read_table(source["path"]))  # a Spark-written file has no pandas metadata
    else:
        raise ValueError(f"the input is the catalog table {source['path']}: read its rows with Spark")
    if data_version and source["path"] != SAMPLE_INPUT and source["format"] in ("csv", "parquet"):
        _warn_if_changed(source["path"], data_version)
    for column, value in keys.items():
        frame = frame[_matches(frame[column], value)]
    history = frame.rename(columns={source["time_column"]: "ds", source["target_column"]: "y"})[["ds", "y"]]
    kind = pd.api.types.infer_dtype(history["ds"], skipna=True)
    times = history["ds"].str.strip() if kind == "string" else history["ds"]
    pattern = source.get("time_format")
    if pattern and kind in ("string", "integer"):  # as validation.parsed_time reads them
        translated = strftime_format(pattern)
        if translated is None:
            raise ValueError(f"input.time_format {pattern!r} has letters this reader does not translate "
                             "(it takes y, M, d, H, m, s and quoted text): read the history with Spark")
        texts = times.astype("string")
        ds = pd.to_datetime(texts.where(texts.str.len() > 0), format=translated)  # blank: no time
    else:
        # as the job reads times: any ISO 8601 form, an offset converted to UTC, whose wall-clock times it models
        ds = pd.to_datetime(times, utc=True, format="ISO8601").dt.tz_convert(None)
    y = history["y"]
    if pd.api.types.infer_dtype(y, skipna=True) == "string":  # as validation.parsed_target reads it
        y = y.str.strip().replace("", None)
        if source.get("decimal_separator") == ",":
            y = y.str.replace(",", ".", regex=False)
    history = history.assign(ds=ds, y=pd.to_numeric(y).astype("float64"))  # the job models doubles
    history = history[history["ds"].notna()]  # a row without a time: the job leaves it out
    if run_date is not None:
        history = history[history["ds"] < end_of_day(run_date)]  # the job's cut: pipeline.as_of_cut
    return history.sort_values("ds")
