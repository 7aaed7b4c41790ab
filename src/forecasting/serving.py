"""One MLflow model per training run that answers "forecast series X for h periods".

The registered pyfunc holds no per-series model itself: it points at the run's
rows of the ``models`` table and loads them when the server starts, so
registering costs the same for ten series as for ten thousand. A Delta table is
read at the version the run wrote, so a version keeps answering with its run's
models after a rerun of that date replaced them; a parquet table has no versions
and is read as it is now.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import numbers
import os
import tempfile
import threading
import time
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from mlflow.pyfunc import PythonModel

from forecasting import delta_files, lineage, model, model_store, run_artifacts, tracking
from forecasting.redaction import redact_url_password

logger = logging.getLogger(__name__)

ARTIFACT_PATH = "forecaster"
KEY_COLUMNS_TAG = "key_columns"  # on each registered version: the series it can answer for
# The alias on the version of the latest run date: a backfill's version, numbered after
# the versions of later dates, must not become what "the newest version" serves.
SERVED_ALIAS = "current"
POINTER = "models_pointer.json"
# The most steps a request may ask for: more is a mistake (a horizon of 10 million took
# pandas past its last time with a stack trace), and its sampled interval would fill memory.
MAX_HORIZON = 10_000


class ManyModelForecaster(PythonModel):
    """``mlflow.pyfunc`` model. Input: one row per request with the key columns,
    ``horizon`` and optionally ``as_of`` (forecast after this date instead of after
    the series' history). Output: one row per series and step."""

    def load_context(self, context) -> None:
        pointer = json.loads(Path(context.artifacts["pointer"]).read_text())
        self.key_columns = pointer["key_columns"]
        self.horizon = pointer.get("horizon", 0)
        if getattr(_saving, "active", False):  # MLflow loads a model while saving it: every model, for nothing
            self.models = {}
            return
        rows = read_models(pointer, [*self.key_columns, "model", "model_json", "frequency", "interval_width"])
        self.models = {series_key(r, self.key_columns): r for r in rows.to_dict("records")}

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        answers = []
        for request in model_input.to_dict("records"):
            keys = {k: request[k] for k in self.key_columns}
            stored = self.models.get(series_key(keys, self.key_columns))
            if stored is None:
                raise _bad_request(f"no model for series {tracking.series_id(keys)} in this version"
                                   f"{_similar(keys, self.key_columns, self.models)}")
            steps = _horizon_steps(request["horizon"])
            if steps is None:
                given = request["horizon"]
                # a flag is a Real to Python: shown as written, not as 1
                shown = f"{given:.15g}" if isinstance(given, numbers.Real) and not isinstance(given, bool) else repr(given)
                raise _bad_request(f"horizon must be a positive whole number up to {MAX_HORIZON}, got {shown} "
                                   f"for series {tracking.series_id(keys)}")
            last = pd.Timestamp(request["as_of"]) if pd.notna(request.get("as_of")) else None
            # seeded by the keys as training and scoring saw them (a date, not a request's timestamp)
            series = tracking.series_id({k: stored[k] for k in self.key_columns})
            try:
                forecast = model_store.forecast_stored(stored, series, last, steps, self.horizon)
            except (pd.errors.OutOfBoundsDatetime, OverflowError) as err:
                raise _bad_request(f"the forecast of series {tracking.series_id(keys)} would run past the times "
                                   f"pandas can hold (2262-04-11): {err}") from None
            answers.append(forecast.assign(**keys, model=stored["model"]))
        columns = [*self.key_columns, *model.FORECAST_COLUMNS, "model"]
        return pd.concat(answers, ignore_index=True)[columns] if answers else pd.DataFrame(columns=columns)


def _horizon_steps(value) -> int | None:
    """A request's horizon as a whole number of steps from 1 to MAX_HORIZON (given
    as an integer, a float or their text, as MLflow's server once took "7"), or None."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or pd.isna(value):
        return None
    return int(value) if 1 <= value <= MAX_HORIZON and value == int(value) else None


def _similar(keys: dict, key_columns: list[str], models: dict) -> str:
    """The series of ``models`` a mistyped request most likely meant (another case, a letter
    off), as the refusal's end, as the series lookup suggests; "" where none is close."""
    asked = "/".join(series_key(keys, key_columns))
    known = {"/".join(key): key for key in models}
    named = [tracking.series_id(dict(zip(key_columns, known[text])))
             for text in tracking.closest_series(asked, known)]
    return f" (did you mean {' or '.join(named)}?)" if named else ""


def series_key(values: dict, key_columns: list[str]) -> tuple[str, ...]:
    """The key values as text that a request and a stored row agree on: a date key
    is read from the table as a date and comes in a request as a timestamp, so a date
    is taken as its midnight."""
    def text(value) -> str:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime.combine(value, dt.time())
        return tracking.key_text(value)

    return tuple(text(values[k]) for k in key_columns)


def _bad_request(message: str):
    """An error the scoring server answers with status 400 and this message."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


_saving = threading.local()  # .active while register saves a model in this thread


def read_models(pointer: dict, columns: list[str]) -> pd.DataFrame:
    """The models of the pointer's run date, without Spark."""
    if pointer.get("format", "delta") == "delta":
        from deltalake import DeltaTable

        unreadable = f"cannot read version {pointer.get('version')} of the models table {pointer['models_table']}"
        if pointer.get("version") is None:
            logger.warning("this model version was registered before versions named the models table's version "
                           "they serve (2026-11-30): it serves the table's current models of run date %s, those of "
                           "its latest rerun where the date was trained again", pointer["run_date"])
        try:
            table = DeltaTable(pointer["models_table"], version=pointer.get("version"))
        except Exception as err:  # deltalake's own words ("no log files") do not say why
            raise RuntimeError(
                f"{unreadable}: {err}. A Delta table forgets versions older than its delta.logRetentionDuration "
                "(the job creates its tables with ten years; 30 days for one made before), and VACUUM removes "
                "their files"
            ) from err
        try:
            import pyarrow.dataset as ds

            on_date = ds.field("run_date").cast("string") == pointer["run_date"]  # a date, or text in an older table
            return delta_files.dataset(table).to_table(filter=on_date, columns=columns).to_pandas()
        except FileNotFoundError as err:  # its log is there, its files are not
            raise RuntimeError(
                f"{unreadable}: {err}. VACUUM removed the files of that version (a rerun of its run date replaced "
                "them): serve a later version of the registered model, or VACUUM with a retention that keeps "
                "the versions still served"
            ) from err
    import pyarrow.dataset as ds

    wanted = [c for c in columns if c != "run_date"]
    own = pointer.get("job_run_id")  # versions registered before it was in the pointer are not checked
    rows = _parquet_dataset(pointer).to_table(columns=[*wanted, "job_run_id"] if own else wanted,
                                              filter=ds.field("run_date").cast("string") == pointer["run_date"])
    models = rows.to_pandas()
    if own:
        others = sorted(set(models.pop("job_run_id")) - {own})
        if others or models.empty:  # a parquet table keeps no old versions: the rows would be another run's models
            by = (f"were replaced by job run {', '.join(others)}, a rerun of that date" if others else
                  "are not there (a rerun of that date removed them, or the run wrote none)")
            raise RuntimeError(
                f"the models of job run {own} (run date {pointer['run_date']}) in {pointer['models_table']} {by}: "
                "a parquet table keeps no earlier versions. Serve the registered model's latest version, or write "
                "output.format: delta, whose versions keep their own models"
            )
    return models


def package_source(spare_folder: Path) -> Path:
    """The folder of this package's source; where it runs from a zip (``--py-files``),
    the package is unpacked into ``spare_folder`` first."""
    import forecasting

    source = Path(forecasting.__file__).parent
    if source.is_dir():
        return source
    archive = Path(forecasting.__spec__.loader.archive)  # zipimport's loader names its zip
    with zipfile.ZipFile(archive) as packed:
        packed.extractall(spare_folder, [name for name in packed.namelist() if name.startswith("forecasting/")])
    return spare_folder / "forecasting"


@dataclass(frozen=True)
class ModelsTable:
    """What registering needs to know of a run's models table: its key columns'
    types (MLflow's names, in key order) and, for Delta, the version the run wrote."""

    path: str
    format: str
    key_types: dict[str, str]
    version: int | None = None


def models_table(spark, path: str, table_format: str, key_columns: list[str]) -> ModelsTable:
    """The models table as Spark sees it, right after the run wrote it: a Delta
    table's latest version is then the run's own. Through Spark, since the driver's
    deltalake cannot open every file system the job writes to (dbfs:/, abfss://, or
    hdfs:// without HADOOP_CONF_DIR)."""
    schema = spark.read.format(table_format).load(path).schema
    key_types = {k: _spark_column_type(schema[k].dataType) for k in key_columns}
    return ModelsTable(path, table_format, key_types, lineage.latest_version(spark, path, table_format))


def _check_same_keys(tracker, name: str, key_columns: list[str]) -> None:
    """Refuse to add a version for series keyed otherwise than the model's latest
    (another data set's config naming the same registered model): a consumer of the
    latest version would be handed a model that knows none of its series. A latest
    version registered before the tag existed is compared by its forecaster's pointer;
    one registered by hand is not compared, nor are two runs registering at the very
    same moment."""
    from mlflow.exceptions import MlflowException

    try:  # config_checks refuses names with quotes, so the name can go in a filter string
        latest = tracker.search_model_versions(f"name = '{name}'", max_results=1, order_by=["version_number DESC"])
    except MlflowException as err:  # a registry that cannot order its search: registered unchecked
        logger.warning("could not read the latest version of %s to compare its key columns: %s", name, err)
        return
    if not latest:
        return
    tagged = latest[0].tags.get(KEY_COLUMNS_TAG)
    theirs = json.loads(tagged) if tagged is not None else _pointed_keys(latest[0])
    if theirs is not None and sorted(theirs) != sorted(key_columns):  # the same columns in another order ask for the same series
        raise ValueError(
            f"registered model {name} serves series keyed by {', '.join(theirs)} (version {latest[0].version}, "
            f"{latest[0].tags.get('models_table', 'another models table')}), but this run's are keyed by "
            f"{', '.join(key_columns)}: give this data set a tracking.registered_model of its own"
        )


def _pointed_keys(version) -> list[str] | None:
    """The key columns in a registered version's forecaster pointer; None where it has
    none to read (not this package's forecaster, or its run's artifacts are gone)."""
    import mlflow.artifacts

    try:  # from the version's own source: the run may hold a later forecaster
        with tempfile.TemporaryDirectory() as folder:
            path = mlflow.artifacts.download_artifacts(f"{version.source}/artifacts/{POINTER}", dst_path=folder)
            return list(json.loads(Path(path).read_text())["key_columns"])
    except Exception as err:  # the check is a safeguard: without the pointer, the version registers
        logger.info("version %s of %s has no forecaster pointer to compare key columns with: %s",
                    version.version, version.name, err)
        return None


def register(context: tracking.RunContext, name: str, table: ModelsTable, run_date: str, horizon: int = 0) -> int:
    """Log the forecaster on the parent run and register it as a new version of
    ``name``, pointing at ``table``'s rows of ``run_date``. ``horizon``: the run's own."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST, ErrorCode

    started = time.perf_counter()
    tracker = tracking.client(context.tracking_uri)
    target = {"models_table": table.path, "run_date": run_date, "key_columns": list(table.key_types),
              "format": table.format, "horizon": horizon, "job_run_id": context.parent_run_id}
    if table.format == "delta":
        target["version"] = table.version
    # looked up by name, not searched: a filter string cannot hold every name
    try:
        tracker.get_registered_model(name)
    except MlflowException as err:
        if err.error_code != ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            raise
        try:
            tracker.create_registered_model(name)
        except MlflowException as race:  # another run created it since
            if race.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                raise
    _check_same_keys(tracker, name, list(table.key_types))  # before anything is logged
    # no progress bars of MLflow's file copies in the job's log
    with tempfile.TemporaryDirectory() as folder, _environment(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false"):
        saved = _save(Path(folder), target, table.key_types)
        tracker.log_artifacts(context.parent_run_id, str(saved), ARTIFACT_PATH)
    source = f"{tracker.get_run(context.parent_run_id).info.artifact_uri}/{ARTIFACT_PATH}"
    tags = {KEY_COLUMNS_TAG: json.dumps(list(table.key_types)), "models_table": redact_url_password(table.path),
            "run_date": run_date}
    version = tracker.create_model_version(name, source, run_id=context.parent_run_id, tags=tags)
    logger.info("registered model %s version %s in %.1fs", name, version.version, time.perf_counter() - started)
    return int(version.version)


def point_alias(context: tracking.RunContext, name: str, version: int, run_date: str, models_path: str) -> str:
    """Move SERVED_ALIAS to ``version`` unless another version of the model has a later run
    date (a backfill's version comes last); the summary's lines saying where it is. A
    failure only warns: the version is registered."""
    from mlflow.exceptions import MlflowException

    tracker = tracking.client(context.tracking_uri)
    try:
        # every version, not only the alias's: versions from before the alias, or the aliased one deleted
        others = [v for v in tracker.search_model_versions(f"name = '{name}'") if int(v.version) != version]
        later = max(others, key=lambda v: (v.tags.get("run_date", ""), int(v.version)), default=None)
        try:
            before = tracker.get_model_version_by_alias(name, SERVED_ALIAS)
        except MlflowException as err:
            if "not found" not in str(err).lower():  # only a missing alias is "none yet"
                raise
            before = None
        if later is not None and later.tags.get("run_date", "") > run_date:
            backfill = (f"version {later.version} has the later run date {later.tags['run_date']} (this run's date "
                        f"is earlier: a backfill); serve version {version} by its number if meant\n")
            if before is not None:
                return f"  alias @{SERVED_ALIAS} not moved: {backfill}"
            # versions registered before the alias: it goes where it would have been
            tracker.set_registered_model_alias(name, SERVED_ALIAS, str(later.version))
            return f"  alias @{SERVED_ALIAS} set on version {later.version}: {backfill}"
        tracker.set_registered_model_alias(name, SERVED_ALIAS, str(version))
    except Exception as err:
        logger.warning("could not set alias @%s of %s on version %s: %s", SERVED_ALIAS, name, version, err)
        return f"  alias @{SERVED_ALIAS} of {name} NOT moved to version {version}: {str(err).splitlines()[0]}\n"
    said = f"  alias @{SERVED_ALIAS} on version {version}: serve models:/{name}@{SERVED_ALIAS}\n"
    table, now = before.tags.get("models_table") if before is not None else None, redact_url_password(models_path)
    if table is not None and table != now:
        logger.warning("registered model %s now serves the models table %s; its version %s served %s: another "
                       "data set naming the same tracking.registered_model?", name, now, before.version, table)
        said += (f"  WARNING: version {before.version} served another models table ({table}): another data set "
                 "naming the same tracking.registered_model? Give each its own\n")
    return said


def _save(folder: Path, target: dict, key_types: dict[str, str]) -> Path:
    """The forecaster saved in ``folder``, pointing at ``target``; its folder."""
    import mlflow.pyfunc

    pointer = folder / POINTER
    pointer.write_text(json.dumps(target))
    saved = folder / ARTIFACT_PATH
    # The pins are the installed versions: MLflow's check that they are installed
    # would map every installed distribution's files first (0.5 s). An example
    # request would need a real series' keys, and MLflow would run it.
    with run_artifacts.installed_requirements_unchecked(), warnings.catch_warnings(), _saving_model():
        warnings.filterwarnings("ignore", message=".*input example was not provided")
        mlflow.pyfunc.save_model(
            str(saved), python_model=ManyModelForecaster(), artifacts={"pointer": str(pointer)},
            signature=signature(key_types),
            # the server imports this package from the model itself, wherever it runs
            code_paths=[str(package_source(folder / "code"))],
            pip_requirements=[f"{name}=={version}" for name, version in _requirements().items()],
        )
    return saved


@contextmanager
def _saving_model():
    _saving.active = True
    try:
        yield
    finally:
        _saving.active = False


def signature(key_types: dict[str, str]):
    """What the served model takes and answers, the key columns typed as the
    models table holds them; the server checks requests against it."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema
    from mlflow.types.schema import AnyType

    keys = [ColSpec(kind, k) for k, kind in key_types.items()]
    # the horizon of any type, checked by predict: declared long, MLflow's server cut 2.5 to 2 unsaid,
    # and declared double, it refused a client's integers
    inputs = [*keys, ColSpec(AnyType(), "horizon"), ColSpec("datetime", "as_of", required=False)]
    outputs = [*keys, ColSpec("datetime", "ds"), *[ColSpec("double", c) for c in ("yhat", "yhat_lower", "yhat_upper")],
               ColSpec("string", "model")]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))


def _parquet_dataset(pointer: dict):
    import pyarrow.dataset as ds

    return ds.dataset(pointer["models_table"], format="parquet", partitioning="hive")


def _spark_column_type(kind) -> str:
    """MLflow's name for a column of Spark type ``kind``."""
    from pyspark.sql import types as T

    # every whole-number key as long: a request's JSON numbers reach the schema check as int64,
    # which MLflow would not narrow to a column declared integer
    if isinstance(kind, (T.ByteType, T.ShortType, T.IntegerType, T.LongType)):
        return "long"
    if isinstance(kind, (T.FloatType, T.DoubleType)):
        return "double"
    if isinstance(kind, T.BooleanType):
        return "boolean"
    if isinstance(kind, (T.DateType, T.TimestampType, T.TimestampNTZType)):
        return "datetime"
    return "string"


@contextmanager
def _environment(**values: str):
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _requirements() -> dict[str, str]:
    versions = lineage.package_versions()
    return {name: versions[name] for name in ("prophet", "pandas", "deltalake", "cmdstanpy")}
