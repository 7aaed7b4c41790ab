"""Set-up of the Spark Python worker processes that run the training tasks: started while
the driver still reads the input, prepared once per process."""
from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import tempfile
import threading
import zipimport

from pyspark.sql import SparkSession

from forecasting import model
from forecasting.redaction import LOG_FORMAT, RedactingFormatter, first_line, quiet_retries

logger = logging.getLogger(__name__)

_prepared = False


def prepare() -> None:
    """Called by every training task; only the first call in a process does anything."""
    global _prepared
    if not _prepared:
        _prepared = True
        temporary_files_in_spark_local_dir()
        _reread_zip_directories_only_when_changed()
        _log_as_the_driver_does()
        quiet_retries()


def temporary_files_in_spark_local_dir() -> None:
    """This process's temporary files in a folder of the executor's local directory
    (SPARK_LOCAL_DIRS, which Spark gives its Python workers; TMPDIR notwithstanding),
    which Spark or the cluster manager deletes with the application. cmdstanpy makes
    a folder at import and deletes it only at a clean exit, which a Python worker
    never has (Spark's daemon ends them with os._exit): where each worker imports
    Prophet itself, as on a cluster, every worker had left one in /tmp per
    application. Called before Prophet is imported: by the first task, and by
    forecasting.worker_daemon before it loads anything."""
    local_dirs = os.environ.get("SPARK_LOCAL_DIRS", "")
    if not local_dirs:
        return
    folder = os.path.join(local_dirs.split(",")[0], "python-temp")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        logger.debug("temporary files stay in %s: %s", tempfile.gettempdir(), err)
        return
    if os.access(folder, os.W_OK | os.X_OK):  # else the system's, as before
        tempfile.tempdir = folder


def _log_as_the_driver_does() -> None:
    """An executor's warnings (a series that failed, tracking that failed) in the driver's
    format, with their time and without a URL's password, where Python's last-resort
    handler printed the message alone. A process whose logging is set up keeps it."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(LOG_FORMAT))
    root.addHandler(handler)


def _reread_zip_directories_only_when_changed() -> None:
    """Spark's worker calls importlib.invalidate_caches() before every task. On
    Python 3.10 and 3.11 that makes each zipimporter (one per package folder
    imported from pyspark.zip, py4j's zip or a --py-files zip) read its whole
    archive's directory again, in Python (CPython gh-103200, lazy since 3.12):
    about 10 ms a series here (measured with 8 series a task). The archives do not change
    while a worker lives; an importer now rereads one only when its size or
    modification time did."""
    if sys.version_info >= (3, 12):
        return
    reread = zipimport.zipimporter.invalidate_caches
    if getattr(reread, "checks_archive_stat", False):
        return

    def invalidate_caches(self) -> None:
        seen = _archive_stat(self.archive)
        if seen is None or getattr(self, "_archive_stat", None) != seen:
            reread(self)
            self._archive_stat = seen

    invalidate_caches.checks_archive_stat = True
    zipimport.zipimporter.invalidate_caches = invalidate_caches


def _archive_stat(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _stamp_zip_directories() -> None:
    """Reread each zip importer's directory once now, noting its archive's size and time
    (the patched invalidate_caches): in the daemon, before it forks, so that its workers
    start with nothing to reread. Each worker's first task read them all again (0.35 s
    of a core a worker in a slow stretch of this machine)."""
    for importer in list(sys.path_importer_cache.values()):
        if isinstance(importer, zipimport.zipimporter) and not hasattr(importer, "_archive_stat"):
            importer.invalidate_caches()


# What a series' task imports: Prophet, Hyperopt, MLflow's model flavour and the pyfunc module
# its first saved model loads, and the package's per-series modules.
PRELOADED_MODULES = ("hyperopt", "mlflow.prophet", "mlflow.pyfunc", "forecasting.run_artifacts",
                     "forecasting.child_runs", "prophet")


def load_training_modules() -> None:
    """Import what a worker's first series needs (some 2.3 s of CPU)."""
    prepare()
    model.prophet_class()  # first: it quiets Prophet's import-time logging
    for name in PRELOADED_MODULES:
        importlib.import_module(name)
    if getattr(zipimport.zipimporter.invalidate_caches, "checks_archive_stat", False):
        _stamp_zip_directories()


def _load_training_modules(batches):
    """Load the modules in a Spark worker; say which worker."""
    load_training_modules()
    loaded = all(name in sys.modules for name in PRELOADED_MODULES)
    for batch in batches:
        yield batch.assign(worker=os.getpid(), loaded=loaded)


class EarlyWorkers(threading.Thread):
    """Starts Python workers, one per core but the one the driver needs meanwhile,
    and loads the training's modules into them while the driver reads and checks
    the input; the training's first tasks then find them ready (workers are
    reused). A failure here only loses the head start, and says why at DEBUG."""

    def __init__(self, spark: SparkSession):
        super().__init__(name="start-python-workers", daemon=True)
        self.spark = spark
        self.worker_pids: set[int] = set()
        self.loaded = False

    def run(self) -> None:
        try:
            self.spark.sparkContext.setJobDescription("start Python workers")
            # A warm-up task holds its task slot until the modules are loaded; with
            # every slot held, the input check waited as long as it saved (local[2]).
            workers = max(1, self.spark.sparkContext.defaultParallelism - 1)
            # A SQL task like the training's: Spark keeps RDD and SQL tasks' workers
            # apart. Every row is read: a worker whose output is left unread (first())
            # is killed when its task ends instead of going back to the pool.
            rows = self.spark.range(workers, numPartitions=workers).mapInPandas(
                _load_training_modules, "id long, worker long, loaded boolean"
            ).collect()
            self.worker_pids = {row["worker"] for row in rows}
            self.loaded = all(row["loaded"] for row in rows)
        except Exception as err:  # the training fails the same way where it is a setting: it says what to set
            logger.info("starting Python workers early failed (the training starts them itself): %s",
                        executor_python_problem(err) or first_line(err))
            logger.debug("the warm-up job's error", exc_info=True)


_started: list[EarlyWorkers] = []


def executor_python_problem(err: BaseException) -> str | None:
    """Why the executors' Python cannot run the job, where that is why ``err`` (every task
    failing alike) happened, and what to set: a spark.pyspark.python not there, or one
    without the job's packages; else None. A setting, not a failure a retry mends."""
    text = str(err)
    program = re.search(r'Cannot run program "([^"]+)"', text)
    if program:
        return (f"the executors cannot start Python {program.group(1)!r} (spark.pyspark.python): not at that path on "
                "the nodes; given with --archives, on a local master Spark unpacks the archive elsewhere than the "
                "working folder (README, Running on a cluster), and on a cluster check the archive's name after its "
                "'#'")
    missing = re.search(r"ModuleNotFoundError: No module named '([^']+)'", text)
    if missing:
        module = missing.group(1).split(".")[0]
        how = ("ship the job's package with --py-files dist/forecasting.zip (scripts/package_job.sh)"
               if module == "forecasting" else
               "set spark.pyspark.python to a Python with the job's packages (requirements.txt) on every node, or "
               "ship one with --archives; spark.pyspark.python alone sets the driver's too, unless "
               "spark.pyspark.driver.python is set")
        return f"the executors' Python cannot import {module!r}: {how} (README, Running on a cluster)"
    return None


def start_workers_early(spark: SparkSession) -> EarlyWorkers:
    workers = EarlyWorkers(spark)
    workers.start()
    _started.append(workers)
    return workers


def wait_for_early_workers(timeout: float = 60.0) -> None:
    """Let the warm-up job end before a job that stopped early (a bad input) exits:
    the process leaving mid-task has Spark log a Python worker "crashed" after
    the job's own clean error."""
    for workers in _started:
        workers.join(timeout)
