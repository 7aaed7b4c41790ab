"""Registering a training run's forecaster (forecasting.serving) in the MLflow model
registry: one version per run, pointing at the run's rows of the ``models`` table, and
the alias consumers serve, moved to the version of the latest run date."""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
import time
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from forecasting import lineage, run_artifacts, serving, tracking
from forecasting.redaction import redact_url_password

logger = logging.getLogger(__name__)

ARTIFACT_PATH = "forecaster"
KEY_COLUMNS_TAG = "key_columns"  # on each registered version: the series it can answer for
# The alias on the version of the latest run date: a backfill's version, numbered after
# the versions of later dates, must not become what "the newest version" serves.
SERVED_ALIAS = "current"


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


def models_table(spark, path: str, table_format: str, key_columns: list[str], job_run_id: str) -> ModelsTable:
    """The models table as Spark sees it, right after job run ``job_run_id`` wrote it, at
    the Delta version that run committed (another run date's job may have committed
    since). Through Spark, since the driver's deltalake cannot open every file system the
    job writes to (dbfs:/, abfss://, or hdfs:// without HADOOP_CONF_DIR)."""
    schema = spark.read.format(table_format).load(path).schema
    key_types = {k: _spark_column_type(schema[k].dataType) for k in key_columns}
    return ModelsTable(path, table_format, key_types, lineage.version_written(spark, path, table_format, job_run_id))


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
    # the same columns in another order ask for the same series
    if theirs is not None and sorted(theirs) != sorted(key_columns):
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
            path = mlflow.artifacts.download_artifacts(f"{version.source}/artifacts/{serving.POINTER}", dst_path=folder)
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


REPLACED_BY_TAG = "replaced_by_version"


def mark_replaced(context: tracking.RunContext, name: str, version: int, run_date: str, models_path: str) -> list[int]:
    """Tag the earlier versions of ``name`` for the same run date and models table with
    ``version``, whose run replaced their rows (a rerun, a backfill): with Delta such a
    version keeps serving its own run's models (a parquet one refuses to load), and an
    auditor holding one of its answers sees it was replaced. The versions tagged, oldest first."""
    tracker = tracking.client(context.tracking_uri)
    table = redact_url_password(models_path)
    earlier = [v for v in tracker.search_model_versions(f"name = '{name}'")
               if int(v.version) < version and v.tags.get("run_date") == run_date
               and v.tags.get("models_table") == table and REPLACED_BY_TAG not in v.tags]
    for replaced in earlier:
        tracker.set_model_version_tag(name, replaced.version, REPLACED_BY_TAG, str(version))
    return sorted(int(v.version) for v in earlier)


def _version_run_date(tracker, version) -> str:
    """A model version's run date: its tag, or where it has none (registered by code from before
    2026-12-01, say) its training run's; "" where neither tells (read as the earliest)."""
    from mlflow.exceptions import MlflowException

    if "run_date" in version.tags:
        return version.tags["run_date"]
    try:
        return tracker.get_run(version.run_id).data.tags.get(tracking.RUN_DATE_TAG, "") if version.run_id else ""
    except MlflowException:  # its run deleted
        return ""


def point_alias(context: tracking.RunContext, name: str, version: int, run_date: str, models_path: str,
                today: dt.date | None = None) -> str:
    """Move SERVED_ALIAS to ``version`` unless another version of the model has a later run
    date (a backfill's version comes last); the summary's lines saying where it is. A
    failure only warns: the version is registered. A run date after tomorrow (UTC; a
    mistyped year, say) neither takes the alias nor keeps later runs from it: its
    version would have stayed the latest for years, every real run then a backfill."""
    from mlflow.exceptions import MlflowException

    tomorrow = ((today or dt.datetime.now(dt.timezone.utc).date()) + dt.timedelta(days=1)).isoformat()
    if run_date > tomorrow:
        return (f"  alias @{SERVED_ALIAS} not moved: the run date {run_date} is after tomorrow (UTC): a mistyped date? "
                f"Serve version {version} by its number, or point the alias at it by hand, if meant\n")
    tracker = tracking.client(context.tracking_uri)
    try:
        # every version, not only the alias's: versions from before the alias, or the aliased one deleted
        dated = [(_version_run_date(tracker, v), v) for v in tracker.search_model_versions(f"name = '{name}'")
                 if int(v.version) != version]
        later_date, later = max(((date, v) for date, v in dated if date <= tomorrow),
                                key=lambda pair: (pair[0], int(pair[1].version)), default=("", None))
        try:
            before = tracker.get_model_version_by_alias(name, SERVED_ALIAS)
        except MlflowException as err:
            if "not found" not in str(err).lower():  # only a missing alias is "none yet"
                raise
            before = None
        if later is not None and later_date > run_date:
            backfill = (f"version {later.version} has the later run date {later_date} (this run's date "
                        f"is earlier: a backfill); serve version {version} by its number if meant\n")
            if before is not None:
                return f"  alias @{SERVED_ALIAS} not moved: {backfill}" + _other_table(name, before, models_path, False)
            # versions registered before the alias: it goes where it would have been
            tracker.set_registered_model_alias(name, SERVED_ALIAS, str(later.version))
            return f"  alias @{SERVED_ALIAS} set on version {later.version}: {backfill}"
        tracker.set_registered_model_alias(name, SERVED_ALIAS, str(version))
    except Exception as err:
        logger.warning("could not set alias @%s of %s on version %s: %s", SERVED_ALIAS, name, version, err)
        return f"  alias @{SERVED_ALIAS} of {name} NOT moved to version {version}: {str(err).splitlines()[0]}\n"
    return (f"  alias @{SERVED_ALIAS} on version {version}: serve models:/{name}@{SERVED_ALIAS} (a server running "
            "keeps the version it loaded: restart it)\n") + _other_table(name, before, models_path, True)


def _other_table(name: str, aliased, models_path: str, moved: bool) -> str:
    """The summary's warning where the version the alias was on (``aliased``) read another
    models table than this run wrote: two data sets (or a moved output.path) sharing one
    registered model, whether or not the alias moved to this run's version; "" otherwise."""
    table, now = aliased.tags.get("models_table") if aliased is not None else None, redact_url_password(models_path)
    if table is None or table == now:
        return ""
    if moved:
        logger.warning("registered model %s now serves the models table %s; its version %s served %s: another "
                       "data set naming the same tracking.registered_model?", name, now, aliased.version, table)
    else:
        logger.warning("registered model %s's alias stays on version %s, which serves the models table %s; this "
                       "run's version reads %s: another data set naming the same tracking.registered_model?", name,
                       aliased.version, table, now)
    return (f"  WARNING: version {aliased.version}{' served' if moved else ', which the alias stays on, serves'} "
            f"another models table ({table}): another data set naming the same tracking.registered_model? Give each "
            "its own\n")


def _save(folder: Path, target: dict, key_types: dict[str, str]) -> Path:
    """The forecaster saved in ``folder``, pointing at ``target``; its folder."""
    import mlflow.pyfunc

    pointer = folder / serving.POINTER
    pointer.write_text(json.dumps(target))
    saved = folder / ARTIFACT_PATH
    # The pins are the installed versions: MLflow's check that they are installed
    # would map every installed distribution's files first (0.5 s). An example
    # request would need a real series' keys, and MLflow would run it.
    with run_artifacts.installed_requirements_unchecked(), warnings.catch_warnings(), serving.saving_model():
        warnings.filterwarnings("ignore", message=".*input example was not provided")
        mlflow.pyfunc.save_model(
            str(saved), python_model=serving.ManyModelForecaster(), artifacts={"pointer": str(pointer)},
            signature=signature(key_types),
            # the server imports this package from the model itself, wherever it runs
            code_paths=[str(package_source(folder / "code"))],
            pip_requirements=[f"{name}=={version}" for name, version in _requirements().items()],
        )
    return saved


def signature(key_types: dict[str, str]):
    """What the served model takes and answers, the key columns typed as the
    models table holds them; the server checks requests against it."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema
    from mlflow.types.schema import AnyType

    keys = [ColSpec(kind, k) for k, kind in key_types.items()]
    # the horizon of any type, checked by predict: declared long, MLflow's server cut 2.5 to 2 unsaid,
    # and declared double, it refused a client's integers; as_of too: declared datetime, a time with
    # an offset ("2027-01-04T00:00:00Z") was refused with MLflow's "Failed to convert column as_of"
    inputs = [*keys, ColSpec(AnyType(), "horizon"), ColSpec(AnyType(), "as_of", required=False)]
    outputs = [*keys, ColSpec("datetime", "ds"), *[ColSpec("double", c) for c in ("yhat", "yhat_lower", "yhat_upper")],
               *[ColSpec("string", c) for c in serving.ANSWER_SOURCE]]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))


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
