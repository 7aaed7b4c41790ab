"""The checks of where a run reads and writes that look at this machine: the tracking
URI (a store MLflow has, a server's host, a database's driver, a SQLite file's folder) and
the output folder. Each error names its key, before Spark starts."""
from __future__ import annotations

import importlib.util
import os
import re
from urllib.parse import unquote, urlparse

from forecasting.config_schema import require as _require

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


def check_output_folder(path: str) -> None:
    """A local output.path whose nearest existing part is a file, not a folder: Spark
    would fail its first write, after the input was read and the parent run opened.
    A path with a scheme (hdfs:, s3a:, dbfs:) is the cluster's to check."""
    if urlparse(path).scheme not in ("", "file"):  # as tables.output_root tells them apart
        return
    folder = os.path.abspath(os.path.expanduser(local_path(path)))
    while not os.path.exists(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    _require(os.path.isdir(folder), "output.path", f"is {path!r}, but {folder} is a file, not a folder")


def check_tracking_uri(uri: str) -> None:
    """A scheme MLflow has no tracking store for (a typo such as htps:) would fail the
    job only after Spark started and the input was read; so would a server URI
    without a host, or a database whose driver is not installed."""
    _require(uri.split(":")[0].lower() not in UNITY_CATALOG_URIS, "tracking.uri",
             f"is {uri!r}, a Unity Catalog model registry, where MLflow cannot track runs: use databricks")
    scheme = urlparse(uri).scheme
    _require(scheme not in ("http", "https") or bool(urlparse(uri).hostname), "tracking.uri",
             "names no host: write http://host:port")
    from forecasting.tracking import sqlite_file  # tracking imports the config: not at the top

    database, sqlite = DATABASE_SCHEME.fullmatch(scheme), sqlite_file(uri)
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
