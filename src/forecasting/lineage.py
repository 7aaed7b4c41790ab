"""What a run was made from: data version, code version and package versions; and the
Delta version and catalog name of an output table, which scoring and serving read."""
from __future__ import annotations

import hashlib
import json
import logging
import platform
import subprocess
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd

import forecasting
from forecasting.config import SAMPLE_INPUT, JobConfig
from forecasting.config_schema import TIME_TRAVEL_OPTIONS
from forecasting.periods import end_of_day
from forecasting.tracking import COMMIT_RUN_KEY

logger = logging.getLogger(__name__)

# holidays: a country's holidays in a new release move the forecasts of models with model.country_holidays
PACKAGES = ("forecasting", "pyspark", "pandas", "numpy", "pyarrow", "prophet", "cmdstanpy", "hyperopt", "mlflow",
            "deltalake", "holidays")
HASH_CHUNK = 1 << 20
# Written into dist/forecasting.zip by scripts/package_job.sh: the commit it was built from.
BUILD_FILE = "BUILD"


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a forecast (read once per process: the
    model logging of every series asks)."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def code_version() -> str:
    """The git commit of the package source (with ``-dirty`` and a hash of the package's
    source for local edits, which the commit alone does not name); from
    a zip (``--py-files``), the commit scripts/package_job.sh recorded in it; else
    the installed package's version and a hash of the source imported, which the
    version alone does not name (an edited copy, another folder on PYTHONPATH)."""
    source = Path(forecasting.__file__).resolve().parent
    try:
        commit = _git(source, "rev-parse", "HEAD")
        # a file git does not track in the package's own folder is code that ran, which no commit holds
        dirty = (_git(source, "status", "--porcelain", "--untracked-files=no")
                 or _git(source, "status", "--porcelain", "--", "."))
    except (OSError, subprocess.CalledProcessError):
        return _packaged_version(source)
    return f"{commit}-dirty, source sha256 {source_digest(source)[:16]}" if dirty else commit


def _packaged_version(source: Path) -> str:
    try:
        return resources.files("forecasting").joinpath(BUILD_FILE).read_text().strip()
    except OSError:  # not a packed build
        pass
    digest = f"source sha256 {source_digest(source)[:16]}"
    try:
        return f"forecasting=={metadata.version('forecasting')}, {digest}"
    except metadata.PackageNotFoundError:
        return digest


def source_digest(source: Path) -> str:
    """A hash of the package's files (names and content), compiled caches left out."""
    digest = hashlib.sha256()
    for path in sorted(found for found in source.rglob("*") if found.is_file() and "__pycache__" not in found.parts):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=10
    )
    return done.stdout.strip()


def sample_version(frame: pd.DataFrame) -> dict:
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return {"source": SAMPLE_INPUT, "rows": len(frame), "content_sha256": digest.hexdigest()}


def files_version(spark, config: JobConfig, input_files: list[str]) -> dict:
    """Each input file with its size; one hash over the contents of all of them
    (``files_digest``)."""
    entries, digest = files_digest(spark, input_files)
    return {"source": config.input.path, "format": config.input.format, "files": entries, "content_sha256": digest}


def files_digest(spark, input_files: list[str]) -> tuple[list[dict], str]:
    """The files (URIs) with their sizes, and one hash over all of them in path order.

    Local files are hashed by content; files on a cluster file system by their
    path, size and modification time, read through Hadoop (reading terabytes on
    the driver to hash them would cost more than the job). Local files need no
    ``spark``: a notebook checks a run's data version with it.
    """
    entries = []
    digest = hashlib.sha256()
    for uri in sorted(input_files, key=unquote):  # as written or percent-encoded, the same order
        parsed = urlparse(uri)
        if parsed.scheme in ("", "file"):
            path = Path(unquote(parsed.path))  # Spark's URIs are percent-encoded: "my%20sales"
            size = path.stat().st_size
            with path.open("rb") as handle:
                while chunk := handle.read(HASH_CHUNK):
                    digest.update(chunk)
        else:
            from forecasting.tables import on_file_system  # here: serving imports this module without Spark

            hadoop_path, file_system = on_file_system(spark, uri)
            status = file_system.getFileStatus(hadoop_path)
            size = status.getLen()
            digest.update(f"{uri}|{size}|{status.getModificationTime()}".encode())
        entries.append({"path": uri, "bytes": size})
    return entries, digest.hexdigest()


def time_travel(config: JobConfig) -> dict:
    """The Delta time travel options input.options sets, by lower-case key (Spark's
    options ignore case)."""
    return {k.lower(): v for k, v in config.input.options.items() if k.lower() in TIME_TRAVEL_OPTIONS}


def delta_table_name(path: str) -> str:
    """The Delta table at ``path`` as Spark SQL names it: a backquote in the path doubled,
    since one would end the name."""
    return "delta.`{}`".format(path.replace("`", "``"))


def qualified(spark, path: str) -> str:
    """``path`` as the readers resolve it (a relative one against Hadoop's working
    folder: the driver's on local disk, the user's home on HDFS): Spark 4's SQL takes
    no relative path in delta.`...`."""
    if urlparse(path).scheme or path.startswith("/"):  # as given: Spark's SQL reads it as it is
        return path
    from forecasting.tables import on_file_system  # here: serving imports this module without Spark

    hadoop_path, file_system = on_file_system(spark, path)
    return str(file_system.makeQualified(hadoop_path).toString())


def latest_version(spark, path: str, table_format: str) -> int | None:
    """A Delta table's latest version (None for parquet, which has none)."""
    if table_format != "delta":
        return None
    return spark.sql(f"DESCRIBE HISTORY {delta_table_name(path)} LIMIT 1").first()["version"]


def committed_by(user_metadata: str | None, job_run_id: str) -> bool:
    """Whether a Delta commit's userMetadata names job run ``job_run_id`` as the one it
    wrote for (tracking.COMMIT_RUN_KEY); not where another writer left text of its own."""
    try:
        metadata = json.loads(user_metadata or "{}")
    except ValueError:
        return False
    return isinstance(metadata, dict) and metadata.get(COMMIT_RUN_KEY) == job_run_id


# The newest commits looked through for a job run's own: writers of other run dates committing
# between its write and the look (a backfill beside a scheduled run) are a few at most
OWN_COMMIT_SEARCH = 20


def version_written(spark, path: str, table_format: str, job_run_id: str) -> int | None:
    """The version of a Delta table that job run ``job_run_id`` committed last (its commit's
    userMetadata names it, tables.write_slice), not whichever is latest: another run date's
    job may have committed since. The latest, with a warning, where none of the newest
    OWN_COMMIT_SEARCH commits is its. None for parquet, which has no versions."""
    if table_format != "delta":
        return None
    commits = spark.sql(f"DESCRIBE HISTORY {delta_table_name(path)} LIMIT {OWN_COMMIT_SEARCH}").select(
        "version", "userMetadata").collect()
    for commit in commits:  # newest first
        if committed_by(commit["userMetadata"], job_run_id):
            return commit["version"]
    logger.warning("none of the newest %d commits of %s is job run %s's: its latest version %s taken as this run's",
                   len(commits), path, job_run_id, commits[0]["version"])
    return commits[0]["version"]


def delta_version(spark, config: JobConfig, run_date: str | None = None, now: pd.Timestamp | None = None) -> dict:
    """The Delta version the job reads (forecasting.io reads exactly this one): the one
    input.options pins with versionAsOf, the last at or before its timestampAsOf; else,
    for a run date that has ended (a backfill) and input.delta_as_of run_date, the last
    committed before its end, ``as_of`` that end and ``latest_version`` the latest
    (the latest where the table has no version that old); else the latest. None when
    timestampAsOf is before the table's first version."""
    from pyspark.sql import functions as F  # here: serving imports this module without Spark

    target = config.input.path
    name = target if config.input.format == "table" else delta_table_name(qualified(spark, target))
    pinned = time_travel(config)
    described = {"source": target, "format": config.input.format}
    if "versionasof" in pinned:
        return {**described, "delta_version": int(pinned["versionasof"])}
    if "timestampasof" in pinned:
        at = F.lit(str(pinned["timestampasof"])).cast("timestamp")
        return {**described, "delta_version": _last_version(spark, name, F.col("timestamp") <= at)}
    latest = spark.sql(f"DESCRIBE HISTORY {name} LIMIT 1").select("version").first()["version"]
    end = None if run_date is None else end_of_day(run_date)
    now = pd.Timestamp.now(tz="UTC").tz_localize(None) if now is None else now
    if config.input.delta_as_of != "run_date" or end is None or end > now:  # today's run: the latest
        return {**described, "delta_version": latest}
    # the session's times are UTC, as the run date's end is
    then = _last_version(spark, name, F.col("timestamp") < F.lit(end.isoformat()).cast("timestamp"))
    return {**described, "delta_version": latest if then is None else then, "latest_version": latest,
            "as_of": end.isoformat(), "as_of_found": then is not None}


def _last_version(spark, name: str, committed) -> int | None:
    """The latest version of the Delta table ``name`` whose commit meets ``committed`` (a
    condition on DESCRIBE HISTORY's timestamp), None where none does."""
    from pyspark.sql import functions as F

    found = spark.sql(f"DESCRIBE HISTORY {name}").where(committed).agg(F.max("version")).first()[0]
    return None if found is None else int(found)


def to_json(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)
