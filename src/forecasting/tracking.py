"""MLflow tracking: the client and its settings, the run tags the job searches by, and
the context the tasks log under. A series' identity is forecasting.series_identity's, the
job's parent run forecasting.parent_run's, each series' child run forecasting.child_runs'."""
from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from forecasting import child_run_names, mlflow_file_store
from forecasting.config import TRACKING_URI_VARIABLE, JobConfig
from forecasting.config_stores import local_path

logger = logging.getLogger(__name__)

CREDENTIAL_VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")
# How MLflow and requests reach the server: TLS settings, CA bundles and proxies (whose
# URLs may hold a password). Forwarded to the executors with the credentials, and as secret.
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY")
CONNECTION_VARIABLES = (
    "MLFLOW_TRACKING_SERVER_CERT_PATH", "MLFLOW_TRACKING_CLIENT_CERT_PATH", "MLFLOW_TRACKING_INSECURE_TLS",
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    *PROXY_VARIABLES, *(name.lower() for name in PROXY_VARIABLES),
)
# Where a server leaves artifacts to its clients (--default-artifact-root s3://...) or the
# tracking is a Databricks workspace's, each executor's MLflow writes there itself, with the
# driver's keys: on a cluster the executors' environment has none of them. Variables that
# name a file of the driver's (AWS_PROFILE, GOOGLE_APPLICATION_CREDENTIALS) stay: a node
# without that file would fail, where it would otherwise use its own machine's credentials.
ARTIFACT_STORE_VARIABLES = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_CA_BUNDLE", "MLFLOW_S3_ENDPOINT_URL", "MLFLOW_S3_IGNORE_TLS", "MLFLOW_TRACKING_AWS_SIGV4",
    "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCESS_KEY", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET",
)
FORWARDED_VARIABLES = CREDENTIAL_VARIABLES + CONNECTION_VARIABLES + ARTIFACT_STORE_VARIABLES
MAX_TAG_VALUE = 5000
PARAM_NAME = re.compile(r"[/\w.\- :]*")  # the characters MLflow takes in a param's name (Windows: no colon)
MAX_PARAM_NAME = 250
MAX_RUN_NAME = 200
PARENT_TAG = "mlflow.parentRunId"
RUN_DATE_TAG = "run_date"
STATUS_TAG = "status"
# on parent runs only: "any job tag" picks them out (explore.job_runs), and a local store's
# searches for it pass child runs over by name (child_run_names)
JOB_TAG = child_run_names.JOB_TAG
# The jobs, as JOB_TAG and FROM_JOB_TAG name them
TRAIN_JOB, SCORE_JOB, EVALUATE_JOB = "train_forecast", "score_forecast", "evaluate_forecast"
FROM_JOB_TAG = "from_job"  # a child run's job: an evaluation's runs are not the forecasts'
OUTPUT_PATH_TAG = "output_path"  # which config's run it is, where configs share an experiment
WORKING_FOLDER_TAG = "working_folder"  # the driver's, where the run started
SUPERSEDED_TAG = "superseded_by"  # on a job run whose tables' rows a later run of its date replaced
# on a scoring run whose forecasts came from models that a later training run of their date replaced
MODELS_REPLACED_TAG = "models_replaced_by"
MODEL_RUN_DATE_TAG = "model_run_date"  # on a scoring run: the run date of the models it forecast from
MODELS_JOB_RUN_TAG = "models_job_run_id"  # on a scoring run: the training run whose models it read
FAILED_AFTER_WRITING_TAG = "failed_after_writing"  # on a job run that failed once its tables' rows were written
INPUT_END_TAG = "input_end"  # how far the input's data reach on the run date
DATA_VERSION_TAG = "data_version"  # the input files' content hash, or a Delta input's version
# on a job run that replaced an earlier run of its date: the settings that differed ("key old -> new; ...")
# and the data_version that run read, where it read other data: what changed its forecasts, kept for later
CHANGED_SETTINGS_TAG, REPLACED_DATA_VERSION_TAG = "changed_settings", "replaced_data_version"
CODE_VERSION_TAG = "code_version"  # the git commit of the package (-dirty and a hash of local edits), or its version
# on such a rerun: its code_version and version.* tags (packages) that differed ("key old -> new; ...")
CHANGED_CODE_TAG = "changed_code"
MAX_TAG_CHARACTERS = 5000  # MLflow's limit on a tag's value
COMPARED_RUN_DATE_TAG = "compared_run_date"  # on a training run: the run date whose forecasts it compared its own with
# on a training run: the settings and code in which it differs from the current run of the run date before
# ("key old -> new; ..."): what may have moved its forecasts besides the new data
SETTINGS_SINCE_TAG, CODE_SINCE_TAG = "changed_settings_since_date_before", "changed_code_since_date_before"
FAILED_WITH_TAG = "failed_with"  # on a run that failed: the error that ended it, in a line
ENDED_BY_TAG = "ended_by"  # on a run ended by a signal, or by another run (a killed run's, ended by its rerun)
COMMIT_RUN_KEY = "job_run_id"  # in a Delta commit's userMetadata (tables.write_slice): the job run it wrote for


@dataclass(frozen=True)
class RunContext:
    """What an executor needs to log a child run; small, so it ships with the task.

    Credentials travel inside the task, read from the driver's environment: never
    in the config, a log line, a run's params or tags, or Spark's environment page.
    """

    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    run_date: str
    log_models: bool
    log_plots: bool
    http_settings: dict[str, str] = field(default_factory=dict)
    # FORWARDED_VARIABLES set on the driver: the credentials and how to reach the server
    credentials: dict[str, str] = field(default_factory=dict, repr=False)
    # the input's latest time on or before the run date (ISO): how far its data reach
    input_end: str | None = None
    # the parent run's start (ISO, UTC) when it falls on the run date: nothing later is known yet
    known_until: str | None = None
    job: str = TRAIN_JOB  # the child runs' FROM_JOB_TAG
    output_path: str | None = None  # as tagged (redacted)
    # the latest earlier run date with trained forecasts: the tasks hand on what arrived since (realized)
    earlier_run_date: str | None = None
    # the forecast.horizon of that date's run, where it says: its forecasts may reach further than this run's
    earlier_horizon: int | None = None


class TrackingUnavailable(RuntimeError):
    """The tracking server cannot be reached or refuses us: before training, or once the
    tables are written, when the run cannot be ended (exit 4: retry later). ``summary``:
    the run's JobSummary, where its tables were written."""

    def __init__(self, message: str, summary=None):
        super().__init__(message)
        self.summary = summary


def password_warning(uri: str) -> str | None:
    """What to say of a tracking URI holding a password: a config file or ``--set`` keeps
    it in plain text, where the docs keep secrets in the environment."""
    try:
        parsed = urlparse(uri)
        if not parsed.password:
            return None
    except ValueError:  # a port that is no number: the config check's to say
        return None
    where = ("a server's credentials go in MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or "
             "MLFLOW_TRACKING_TOKEN) instead" if parsed.scheme in ("http", "https") else
             "keep such a config in conf/local/, which git ignores, readable by the job's user alone")
    return (f"tracking.uri holds a password, which a config file or --set keeps in plain text (and --set shows in "
            f"the process list): {where}; what the run records leaves it out")


def is_tracking_failure(err: BaseException) -> bool:
    """An error of MLflow's client or of its HTTP calls: the tracking server gone or refusing."""
    from mlflow.exceptions import MlflowException
    from requests.exceptions import RequestException

    return isinstance(err, (MlflowException, RequestException, TrackingUnavailable))


def http_settings(config: JobConfig) -> dict[str, str]:
    """MLflow's own retry settings (it retries timeouts, 429 and 5xx with backoff)."""
    tracking = config.tracking
    return {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(tracking.max_retries),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": str(tracking.backoff_seconds),
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(tracking.timeout_seconds),
    }


def prepare_server(config: JobConfig) -> str:
    """The config's tracking URI, resolved, once MLflow's retry settings are in the
    environment and the server (if any) has answered: a quick TrackingUnavailable
    when it is down, where MLflow's own retries would spend minutes before a traceback."""
    from forecasting.server_check import check_server

    uri = resolve_uri(config.tracking.uri)
    os.environ.update(http_settings(config))
    check_server(uri, config.tracking.timeout_seconds)
    return uri


def credentials_from_environment(names: tuple[str, ...] = FORWARDED_VARIABLES) -> dict[str, str]:
    """The driver's values of ``names`` (by default what the executors need to reach
    the server and its artifact store: credentials, TLS settings, CA bundles, proxies,
    cloud storage keys)."""
    return {name: os.environ[name] for name in names if os.environ.get(name)}


def use_context_environment(context: RunContext) -> None:
    """Executors: MLflow and requests read retry settings, credentials, TLS settings
    and proxies from the environment."""
    os.environ.update(context.http_settings)
    os.environ.update(context.credentials)


def tls_settings() -> dict[str, Any]:
    """requests' ``verify`` and ``cert`` as MLflow derives them from its variables
    (mlflow.utils.rest_utils.MlflowHostCreds), so the pre-check trusts what MLflow
    trusts. ``verify=True`` still lets requests use REQUESTS_CA_BUNDLE, as MLflow's does."""
    insecure_text = os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "false")
    if insecure_text.lower() not in ("true", "false", "1", "0"):
        raise TrackingUnavailable(
            f"MLFLOW_TRACKING_INSECURE_TLS is {insecure_text!r}: MLflow takes true, false, 1 or 0"
        )
    insecure = insecure_text.lower() in ("true", "1")
    server_cert = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH")
    if insecure and server_cert is not None:
        raise TrackingUnavailable(
            "MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH are both set, which MLflow "
            "refuses: unset one of them"
        )
    settings: dict[str, Any] = {"verify": server_cert if server_cert is not None else not insecure}
    client_cert = os.environ.get("MLFLOW_TRACKING_CLIENT_CERT_PATH")
    if client_cert is not None:
        settings["cert"] = client_cert
    return settings


def sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:`` tracking URI (``sqlite:///relative.db``,
    ``sqlite:////absolute.db``), None for other stores and an in-memory one."""
    parsed = urlparse(uri)
    if parsed.scheme.split("+")[0] != "sqlite" or parsed.path in ("", "/", "/:memory:"):
        return None
    return Path(unquote(parsed.path[1:]))


def missing_store(tracking_uri: str) -> str | None:
    """The path of a local MLflow store (a ``file:`` folder, a ``sqlite:`` file) that is
    not there: MLflow would create an empty one, in whatever folder this was run in."""
    parsed = urlparse(tracking_uri)
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
        return None if path.is_dir() else str(path)
    database = sqlite_file(tracking_uri)  # sqlite:///a.db is a.db, here; sqlite:////srv/a.db is /srv/a.db
    if database is not None:
        return None if database.is_file() else str(database)
    return None


def sqlite_artifact_root(uri: str) -> str | None:
    """Where a sqlite store keeps its runs' artifacts: ``mlartifacts`` beside the
    database (a relative one's too); None for other stores and an in-memory one."""
    database = sqlite_file(uri)
    return None if database is None else (database.expanduser().resolve().parent / "mlartifacts").as_uri()


def resolve_uri(uri: str) -> str:
    """A bare path becomes an absolute ``file:`` URI, and a ``sqlite:`` file an absolute
    path, so executors started in other working directories write to the same store."""
    if uri == "databricks":  # the workspace's own tracking, not a folder
        return uri
    database = sqlite_file(uri)
    if database is not None:
        query = urlparse(uri).query  # SQLAlchemy's options (timeout=20, ...)
        return f"{urlparse(uri).scheme}:///{database.expanduser().resolve()}" + (f"?{query}" if query else "")
    if urlparse(uri).scheme in ("", "file"):
        return Path(local_path(uri)).expanduser().resolve().as_uri()
    return uri


# Per tracking URI, the model registry's URI as MLflow last resolved it in this process
_REGISTRY_URIS: dict[str, str] = {}


def client(uri: str):
    import mlflow
    from mlflow.tracking import MlflowClient

    # Artifacts served by a tracking server (mlflow-artifacts:/ URIs) are
    # resolved against the global tracking URI, not the client's own. MLflow exports it
    # as MLFLOW_TRACKING_URI too, which a later config naming no store would take for the
    # user's own (a second job in a notebook): the environment stays as the user set it.
    exported = os.environ.get(TRACKING_URI_VARIABLE)
    mlflow.set_tracking_uri(uri)
    if exported is None:
        os.environ.pop(TRACKING_URI_VARIABLE, None)
    else:
        os.environ[TRACKING_URI_VARIABLE] = exported
    if urlparse(uri).scheme in ("", "file"):
        mlflow_file_store.patch_file_store()
    if sqlite_file(uri) is not None:
        _store_artifacts_beside_database()
    # MLflow reads the registry's URI from the active Spark session's settings on every new
    # client (spark.mlflow.modelRegistryUri, on Databricks): a driver whose JVM was stopped under
    # it (a kill during the table writes) takes the one resolved before, and still ends its run
    try:
        made = MlflowClient(tracking_uri=uri)
    except Exception as err:  # py4j's connection refused, or its network error
        logger.debug("MLflow could not resolve the registry's URI (%s): the one resolved before", err)
        made = MlflowClient(tracking_uri=uri, registry_uri=_REGISTRY_URIS.get(uri, uri))
    _REGISTRY_URIS[uri] = made._registry_uri
    return made


def _store_artifacts_beside_database() -> None:
    """MLflow builds a SQL store with ``./mlruns`` as its artifact root, and makes that
    folder wherever the process happens to run: an empty folder in the user's working
    folder, that reads as a broken file store. A sqlite store's root is ``mlartifacts``
    beside its database instead, where the job's experiments keep their artifacts."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.tracking._tracking_service import utils

    def build(store_uri: str, artifact_uri: str | None = None):
        return SqlAlchemyStore(store_uri, artifact_uri or sqlite_artifact_root(store_uri) or "./mlruns")

    # MLflow picks a store by the scheme without its driver: sqlite+pysqlite is sqlite
    utils._tracking_store_registry.register("sqlite", build)


def end_run(tracker, run_id: str, status: str = "FINISHED") -> None:
    """``tracker.set_terminated``, without what it adds against a tracking server:
    it reads the run back and writes "View run ... at: URL" lines to standard output,
    two for every run it ends (a password in the URL included, past the log's
    redaction, and ahead of the job's summary)."""
    from mlflow.entities import RunStatus

    store = getattr(getattr(tracker, "_tracking_client", None), "store", None)
    if store is None:  # another MLflow's client: its own way, prints and all
        tracker.set_terminated(run_id, status=status)
        return
    store.update_run_info(run_id, run_status=RunStatus.from_string(status), end_time=int(time.time() * 1000),
                          run_name=None)


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """Nested settings as the parent run's params name them: ``{"a": {"b": 1}}`` as ``{"a.b": 1}``;
    a mapping with a key MLflow refuses in a param's name (``model.holiday_windows.New Year's
    Day``, ``input.rename_columns.Units (net)``) as one param, its entries as JSON."""
    flat = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and all(param_name_ok(f"{name}.{entry}") for entry in value):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def param_name_ok(name: str) -> bool:
    """Whether MLflow takes ``name`` as a param's: letters, digits, ``_ . - / : `` and spaces,
    a normal path (no ``//``, ``./`` or leading ``/``), 250 characters at most."""
    return (bool(PARAM_NAME.fullmatch(name)) and len(name) <= MAX_PARAM_NAME and posixpath.normpath(name) == name
            and not name.startswith(("/", "..")))


def run_output(run) -> str | None:
    """Where a job run wrote its tables: its output_path tag, or for a run from before
    the tag (2026-12-02) its output.path param, as configured (relative to the folder
    it ran in, without a file: scheme or a trailing slash, as the tag has it); None for neither."""
    tagged, configured = run.data.tags.get(OUTPUT_PATH_TAG), run.data.params.get("output.path")
    if tagged or not configured:
        return tagged or None
    configured = local_path(configured)
    return configured.rstrip("/") or configured


def param_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)

