"""The checks of where a run reads and writes that look at this machine: the tracking
URI (a store MLflow has, a server's host, a database's driver, a SQLite file's folder) and
the output folder. Each error names its key, before Spark starts."""
from __future__ import annotations

import importlib.util
import os
import re
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from forecasting.config_schema import ConfigError
from forecasting.config_schema import require as _require
from forecasting.redaction import redact_url_password

# tracking.uri schemes MLflow's tracking stores take (mlflow.tracking._tracking_service.utils):
# none (a path), file, a server, a Databricks workspace, and the databases of
# mlflow.store.db.db_types, with or without a SQLAlchemy driver (postgresql+psycopg2).
TRACKING_SCHEMES = ("file", "http", "https", "databricks")
TRACKING_DATABASES = ("sqlite", "mysql", "postgresql", "mssql")
DATABASE_SCHEME = re.compile(rf"({'|'.join(TRACKING_DATABASES)})(\+\w+)?")
# what MLflow reads as a Unity Catalog registry, which this MLflow cannot track to
UNITY_CATALOG_URIS = ("databricks-uc", "uc")
# The module each database's SQLAlchemy driver imports (the default driver where the URI names
# none), and the package that installs it: none of them is among the requirements.
DATABASE_DRIVERS = {
    "postgresql": ("psycopg2", "psycopg2-binary"), "psycopg2": ("psycopg2", "psycopg2-binary"),
    "psycopg": ("psycopg", "psycopg[binary]"), "pg8000": ("pg8000", "pg8000"),
    "mysql": ("MySQLdb", "mysqlclient"), "mysqldb": ("MySQLdb", "mysqlclient"), "pymysql": ("pymysql", "pymysql"),
    "mysqlconnector": ("mysql.connector", "mysql-connector-python"),
    "mssql": ("pyodbc", "pyodbc"), "pyodbc": ("pyodbc", "pyodbc"), "pymssql": ("pymssql", "pymssql"),
}


def local_path(path: str) -> str:
    """A local path as written: a file: URI's path, percent-decoded (Path.as_uri() writes a
    space as %20); any other text as it is."""
    return unquote(urlparse(path).path) if path.startswith("file:") else path


def resolved_output(path: str) -> str:
    """An output.path as runs tag it: a local one absolute (executors share it), ``~``
    expanded as tracking.resolve_uri does (Hadoop would make ``~`` a folder); no trailing /."""
    if urlparse(path).scheme in ("", "file"):
        path = str(Path(local_path(path)).expanduser().resolve())
    return path.rstrip("/")


def parsed_uri(key: str, value: str):
    """``value`` split by ``urlparse``, or the config refused, naming ``key``, where it cannot be
    (an IPv6 host with a bracket missing) or a server's port is no port (host:abc, 99999): not a
    traceback after Spark started, nor a server "unreachable" that a scheduler retries."""
    try:
        parsed = urlparse(value)
        if parsed.scheme in ("http", "https"):  # not databricks://<scope>:<prefix>, MLflow's profile form
            parsed.port  # noqa: B018 (read, for the error it raises)
    except ValueError as err:  # the value is not shown: it may hold a password
        raise ConfigError(f"config key '{key}' is not a URI urllib can read: {err}") from None
    return parsed


def check_file_uri(key: str, value: str) -> None:
    """A file: URI with a host (file://out, two slashes before a relative path): what
    follows the host is its path, so file://out read as the folder the job starts in, its
    tables written there, and file://host/data as /data, the host dropped (as a tracking
    store, MLflow took the project's own folders for experiments)."""
    parsed = parsed_uri(key, value)
    if parsed.scheme != "file":
        return
    drive = re.fullmatch(r"[A-Za-z]:", parsed.netloc) is not None  # file://C:/out
    host = parsed.netloc.rpartition("@")[2]  # without a user's password, which no message may show
    _require(parsed.netloc.lower() in ("", "localhost"), key,
             f"is {redact_url_password(value)!r}, whose two slashes make {host!r} a host name, not "
             f"{'a drive' if drive else 'a folder'}: write file:///<absolute path> (three slashes), or a plain path "
             "(relative to the folder the job starts in)")
    _require(bool(parsed.path), key, f"is {value!r}, which names no folder: write file:///<absolute path>, or a plain "
             "path")


def check_output_folder(path: str) -> None:
    """A local output.path whose nearest existing part is a file, not a folder: Spark
    would fail its first write, after the input was read and the parent run opened. Nor
    may it lie inside a Delta table (a table's own folder given as the output): the job's
    tables would be written into that table's files, for whatever cleans or removes it to
    take with it. A path with a scheme (hdfs:, s3a:, dbfs:) is the cluster's to check."""
    folder = _nearest_existing(path)
    if folder is None:
        return
    _require(os.path.isdir(folder), "output.path", f"is {path!r}, but {folder} is a file, not a folder")
    table = next((part for part in (folder, *_parents(folder)) if os.path.isdir(os.path.join(part, "_delta_log"))),
                 None)
    _require(table is None, "output.path",
             f"is {path!r}, inside the Delta table {table}: the job writes its tables into a folder of their own "
             "(output.path names that folder, not a table)")


def output_write_problem(path: str, local_only: bool = False) -> str | None:
    """Why a job cannot write in a local output.path (a read-only mount, another user's
    folder), found by making and removing a folder in its nearest existing part; None
    where it can. For the jobs that write, once Hadoop has qualified a path without a
    scheme on its default file system (HDFS on YARN); ``local_only`` (before that is known):
    file: URIs alone. A lookup reads alone."""
    if local_only and urlparse(path).scheme != "file":
        return None
    folder = _nearest_existing(path)
    if folder is None or not os.path.isdir(folder):
        return None
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".write-check-", dir=folder))
    except OSError as err:
        return f"output.path is {path!r}, but this process cannot write in {folder}: {err.strerror}"
    return None


def cluster_path_warnings(master: str, output_path: str, tracking_uri: str) -> list[str]:
    """What a master whose executors run on other machines (spark://, yarn, k8s://) does
    to a local output.path or tracking store written as a bare path: each executor
    writes its part to its own disk, where the driver's Delta log or store never sees
    it. A file: URI says a mount every node shares, and is taken as one; the default
    file system has qualified a bare output.path before, where it is not the local disk."""
    if master.startswith("local"):  # local, local[N], local-cluster[...]: one machine
        return []
    from forecasting.tracking import sqlite_file  # tracking imports the config: not at the top

    shared = "hdfs://, s3a://, abfss:// or dbfs:/, or file:///<path> on a mount every node shares"
    warnings = []
    if not urlparse(output_path).scheme:
        warnings.append(f"output.path {output_path} is on each machine's local disk under the master {master}: "
                        "every executor would write its part of the tables to its own disk; give " + shared)
    if tracking_uri != "databricks" and (not urlparse(tracking_uri).scheme or sqlite_file(tracking_uri)):
        warnings.append(f"tracking.uri {tracking_uri} is a store on each machine's local disk under the master "
                        f"{master}: every executor would log its series' child runs to its own disk; give a "
                        "tracking server (http://...), a database, or a file:/// store on a mount every node shares")
    return warnings


def _nearest_existing(path: str) -> str | None:
    """The nearest existing part of a local path; None for one with a scheme."""
    if urlparse(path).scheme not in ("", "file"):  # as tables.output_root tells them apart
        return None
    folder = os.path.abspath(os.path.expanduser(local_path(path)))
    while not os.path.exists(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return folder


def _parents(folder: str):
    while os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
        yield folder


def check_tracking_uri(uri: str) -> None:
    """A scheme MLflow has no tracking store for (a typo such as htps:) would fail the
    job only after Spark started and the input was read; so would a server URI
    without a host, or a database whose driver is not installed."""
    _require(uri.split(":")[0].lower() not in UNITY_CATALOG_URIS, "tracking.uri",
             f"is {uri!r}, a Unity Catalog model registry, where MLflow cannot track runs: use databricks")
    parsed = parsed_uri("tracking.uri", uri)
    scheme = parsed.scheme
    _require(scheme not in ("http", "https") or bool(parsed.hostname), "tracking.uri",
             "names no host: write http://host:port")
    from forecasting.tracking import sqlite_file  # tracking imports the config: not at the top

    database, sqlite = DATABASE_SCHEME.fullmatch(scheme), sqlite_file(uri)
    local = str(sqlite) if sqlite is not None else local_path(uri) if scheme in ("", "file") else ""
    home = local.split("/")[0]
    _require(not home.startswith("~") or os.path.expanduser(home) != home, "tracking.uri",
             f"is a path under {home!r}, a home folder this machine does not know")
    if sqlite is not None:  # SQLite creates the file, not its folder; MLflow retried opening it for minutes
        folder = sqlite.expanduser().absolute().parent
        _require(folder.is_dir(), "tracking.uri", f"is a SQLite file in {folder}, which is not a folder")
    elif database and database.group(1) != "sqlite":
        driver = (database.group(2) or database.group(1)).lstrip("+").lower()
        module, package = DATABASE_DRIVERS.get(driver, (None, None))
        _require(module is None or _importable(module), "tracking.uri",
                 f"needs the database driver {module}, which is not installed: pip install {package}")
    known = (scheme in ("", *TRACKING_SCHEMES) or DATABASE_SCHEME.fullmatch(scheme) is not None
             or scheme in _plugin_tracking_schemes())
    _require(known, "tracking.uri",
             f"has the scheme {scheme!r}, which MLflow cannot track to: use a path, file:, http: or https:, "
             f"databricks (or databricks://<profile>), or a database "
             f"({', '.join(f'{name}:' for name in TRACKING_DATABASES)}, optionally with +driver)")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing (mysql of mysql.connector)
        return False


def _plugin_tracking_schemes() -> list[str]:
    """Schemes that installed MLflow plugins add as tracking stores (read from their
    entry points, without importing MLflow)."""
    from importlib.metadata import entry_points

    return [point.name for point in entry_points(group="mlflow.tracking_store")]


def is_databricks_uri(uri: str) -> bool:
    """``databricks`` or ``databricks://<profile>``: a Databricks workspace's tracking."""
    return uri == "databricks" or urlparse(uri).scheme == "databricks"
