"""Building the SparkSession (only entry points call this, never an import), and the
helpers every stage uses on it: naming its Spark jobs, restoring the settings it changes."""
from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Mapping
from contextlib import contextmanager

from pyspark import SparkConf, SparkContext
from pyspark.sql import SparkSession

from forecasting.config import JobConfig, setting_text

logger = logging.getLogger(__name__)

LOG_LEVEL = "spark.log.level"  # read as a context starts; build_session sets a running one's
# Settings the job relies on; config.spark.conf may override any of them. One given to
# spark-submit (--conf, spark-defaults.conf) stays, but for those in REQUIRED (session_conf).
JOB_DEFAULTS = {
    # Prophet and the output tables work in naive timestamps: without a fixed
    # zone, hourly data would shift across daylight-saving changes.
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Python workers are reused across tasks, so Prophet is imported once per worker.
    "spark.python.worker.reuse": "true",
    # The job logs its own progress; Spark's console bar would garble that log.
    "spark.ui.showConsoleProgress": "false",
    # Spark's INFO log drowns the job's own (some 40 lines as a session starts, of which the three
    # it logs before reading this setting remain); its warnings and errors still show. Given
    # (--conf spark.log.level=INFO, to debug Spark), it stays.
    LOG_LEVEL: "WARN",
    # PySpark 4 records the Python call site of every DataFrame and Column call, for its error
    # messages: about 4 ms a call (py4j round trips, an IPython import tried), where a call
    # is 1 ms without; seconds over the job's queries. Given true (to debug a query), it stays.
    "spark.python.sql.dataFrameDebugging.enabled": "false",
    # Bounds glibc's per-thread malloc arenas in cluster executors, as
    # scripts/setup.sh does for the local driver (see there).
    "spark.executorEnv.MALLOC_ARENA_MAX": "2",
    # Parquet output's times as Delta writes them (microseconds, adjusted to UTC), not as
    # the deprecated INT96 that pandas reads without a zone: the same ds from either format.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # The settings Spark's environment page and event log hide (where a key or its value
    # matches): its own default names (secret, password, token, access key), and keys the
    # run's record leaves out too, an Azure account key (spark.hadoop.fs.azure.account.key...)
    # or a SAS token, a bearer or auth value (not auth.type, a name). Not redaction.SECRET_NAME's
    # "credential" or "private": they would hide credentials-provider class names and paths,
    # which help in reading the page.
    "spark.redaction.regex": r"(?i)secret|passw|passphrase|pgpass|pwd|token|bearer|\bauth[._-]?(header|value|key)\b|"
                             r"authori[sz]ation|access[.]?key|(account|api|encryption|storage)[._-]?key|\bsas\b|"
                             r"connection[._-]?string",
}
DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # Before writing to a table that exists, Delta replays its log in this many
    # tasks (50 by default, sized for tables of many thousands of files). These
    # tables gain a few files per run date: with 50, a scheduled run's three writes
    # took 8 s instead of 4 (400 series, 2 cores).
    "spark.databricks.delta.snapshotPartitions": "4",
}
# JOB_DEFAULTS for speed alone that Spark fixes as a session starts: a running session (a notebook's)
# without them keeps its own without a word, where its user may be debugging a query.
UNSAID_WHERE_FIXED = frozenset({"spark.python.sql.dataFrameDebugging.enabled"})
# JOB_DEFAULTS the job's results depend on: a value given to spark-submit is replaced, with a warning.
REQUIRED = {"spark.sql.session.timeZone": "the job reads and writes its times in UTC"}
DELTA_CATALOG_KEY = "spark.sql.catalog.spark_catalog"
# A local master given without a failure count, local[N] or local[*], gives each task one attempt
# (spark.task.maxFailures applies to clusters only): one dead Python worker would fail the job.
LOCAL_WITHOUT_RETRIES = re.compile(r"local(?:\[\s*([0-9]+|\*)\s*\])?")
TASK_ATTEMPTS = 4  # spark.task.maxFailures' default on a cluster
WORKER_DAEMON = "forecasting.worker_daemon"
DELTA_VERSION = "4.0.0"
DELTA_PACKAGE = f"io.delta:delta-spark_2.13:{DELTA_VERSION}"


class MissingDeltaError(RuntimeError):
    """Delta output or input was configured but Spark cannot load Delta Lake."""


def uses_delta(config: JobConfig) -> bool:
    return config.output.format == "delta" or config.input.format == "delta"


def session_conf(config: JobConfig, given: Mapping[str, str],
                 given_by: str = "given to spark-submit") -> tuple[dict[str, str], list[str]]:
    """The settings to build the session with, over ``given``: those spark-submit loaded
    (``--conf``, spark-defaults.conf). Returns them and a warning for each given value
    that was replaced or that leaves one of the job's settings out.

    A given value stays, but for REQUIRED ones; Delta's extension is added to given
    ``spark.sql.extensions``; a given ``spark_catalog`` stays instead of Delta's. The job
    config's ``spark.conf`` wins over all of them."""
    own = {key: setting_text(value) for key, value in config.spark.conf.items()}
    defaults = {**JOB_DEFAULTS, **(DELTA_CONF if uses_delta(config) else {})}
    conf, warnings = {}, []
    for key, value in defaults.items():
        mine = given.get(key)
        if key in own or mine is None or mine == value:
            conf[key] = value
        elif key == "spark.sql.extensions":
            classes = [name.strip() for name in mine.split(",") if name.strip()]
            conf[key] = ",".join(classes if value in classes else [*classes, value])
        elif key == DELTA_CATALOG_KEY:
            conf[key] = mine
            warnings.append(f"{key}={mine} ({given_by}) is kept, so Delta's catalog ({value}) is not set: "
                            "Delta tables read and written by path work, catalog tables' Delta features may not")
        elif key in REQUIRED:
            conf[key] = value
            warnings.append(f"{key}={mine} ({given_by}) is replaced by {value}: {REQUIRED[key]} "
                            "(the job config's spark.conf can set it)")
        else:
            conf[key] = mine
    return {**conf, **own}, warnings


# Settings of the driver's JVM: spark-submit takes them as it starts it, before the job reads its config
DRIVER_LAUNCH_SETTINGS = {"spark.driver.memory": "--driver-memory", "spark.driver.extraJavaOptions":
                          "--driver-java-options", "spark.driver.extraClassPath": "--driver-class-path",
                          "spark.driver.extraLibraryPath": "--driver-library-path", "spark.driver.cores": "--driver-cores"}


def launch_warnings(own: Mapping[str, object], master: str) -> list[str]:
    """A warning for each of the config's spark.conf settings that cannot take effect in
    a driver spark-submit started: those of its JVM, and on a local master the executors'
    memory (they run in the driver's JVM)."""
    warnings = [f"spark.conf.{key} has no effect: spark-submit started the driver's JVM before the job read its "
                f"config; give spark-submit {flag} {setting_text(own[key])}"
                for key, flag in DRIVER_LAUNCH_SETTINGS.items() if key in own]
    if "spark.executor.memory" in own and re.fullmatch(r"local(\[.*\])?", master):  # not local-cluster[...]
        warnings.append(f"spark.conf.spark.executor.memory has no effect on the local master {master}: its executor "
                        "runs in the driver's JVM, which spark-submit --driver-memory sizes")
    return warnings


def with_task_retries(master: str, attempts: int | str = TASK_ATTEMPTS) -> str:
    """``master`` as ``local[N,attempts]`` where it is a local master without a failure
    count (``local``, ``local[N]``, ``local[*]``); any other master as it is."""
    match = LOCAL_WITHOUT_RETRIES.fullmatch(master.strip())
    if not match:
        return master
    return f"local[{match.group(1) or 1},{attempts}]"


def worker_daemon_conf(master: str, worker_python: str) -> dict[str, str]:
    """Spark forks its Python workers from a daemon; ours has the training's
    modules loaded first (forecasting.worker_daemon). Spark starts it with
    ``python -m``, before any task could add a --py-files archive to the path, so
    it is used only where it is sure to be found: on a local master, by a worker
    Python that finds this package in a folder. Elsewhere Spark's own daemon runs."""
    if not master.startswith("local"):
        return {}
    folders = [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if os.path.isdir(path)]
    try:
        found = subprocess.run(
            [worker_python, "-c", f"import importlib.util as u, sys; sys.exit(u.find_spec({WORKER_DAEMON!r}) is None)"],
            env={**os.environ, "PYTHONPATH": os.pathsep.join(folders)}, capture_output=True, timeout=60,
        ).returncode == 0
    except (OSError, subprocess.SubprocessError):
        found = False
    return {"spark.python.daemon.module": WORKER_DAEMON} if found else {}


def build_session(app_name: str, config: JobConfig) -> SparkSession:
    running = SparkContext._active_spark_context
    spark = _new_session(app_name, config) if running is None else _running_session(config, running)
    if running is not None:  # Spark read spark.log.level as the context started: set now, at any time
        level = config.spark.conf.get(LOG_LEVEL) or running.getConf().get(LOG_LEVEL) or JOB_DEFAULTS[LOG_LEVEL]
        spark.sparkContext.setLogLevel(setting_text(level))
    _quiet_harmless_warnings(spark)
    warning = speculation_warning(spark.sparkContext.getConf().get)
    if warning:
        logger.warning("%s", warning)
    for warning in mistyped_settings(spark, config.spark.conf):  # before Delta's check: a typo may be its cause
        logger.warning("%s", warning)
    if uses_delta(config):
        check_delta(spark)
    return spark


# Settings of modules a local session has not loaded (YARN's, Kubernetes'), or free-form by design
UNCHECKED_PREFIXES = ("spark.yarn.", "spark.kubernetes.", "spark.hadoop.", "spark.executorEnv.", "spark.sql.catalog.",
                      "spark.databricks.", "spark.delta.", "spark.mesos.", "spark.history.", "spark.master.",
                      "spark.worker.", "spark.deploy.", "spark.ui.")


def mistyped_settings(spark: SparkSession, own: Mapping[str, object]) -> list[str]:
    """A warning for each of the config's spark.conf keys that Spark does not know and
    that is one or two letters off a key it does (spark.sql.shuffle.partition): Spark
    takes any key, to no effect. A key near none is left alone (a plugin's own)."""
    import difflib

    try:
        jvm = spark.sparkContext._jvm
        registry = jvm.org.apache.spark.internal.config.ConfigEntry
        unknown = [key for key in own if key.startswith("spark.") and not key.startswith(UNCHECKED_PREFIXES)
                   and registry.findEntry(key) is None]
        if not unknown:
            return []
        entries = jvm.java.lang.Class.forName("org.apache.spark.internal.config.ConfigEntry$").getField("MODULE$")
        known = list(entries.get(None).knownConfigs().keySet().toArray())
    except Exception as err:  # Spark Connect, another Spark: not checked
        logger.debug("spark.conf keys not checked: %s", err)
        return []
    warnings = []
    for key in unknown:
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.9)
        if close:  # the config refuses the key the job sets itself: its own key, then
            meant = (f"{CONFIG_KEYS[close[0]]} (the job sets {close[0]} from it)" if close[0] in CONFIG_KEYS
                     else close[0])
            warnings.append(f"spark.conf.{key} is no setting this Spark registers, which it takes to no effect "
                            f"(unless an old name it still reads): did you mean {meant}?")
    return warnings


# Spark settings the job sets from a key of its config, which spark.conf may not name (config_checks)
CONFIG_KEYS = {"spark.sql.shuffle.partitions": "spark.shuffle_partitions"}


# Spark's warnings that say nothing of the job's data or settings, each silenced alone:
QUIETED_LOGGERS = (
    # Reading a path that does not exist, Spark first warns, with 80 lines of Java stack
    # trace, that it found no streaming metadata there; the read then fails, and the job
    # says so in one line.
    "org.apache.spark.sql.execution.streaming.FileStreamSink",
    # Once a process: the text of a query plan made for the web UI was cut at
    # spark.sql.debug.maxToStringFields fields (the series_results table has more).
    "org.apache.spark.sql.catalyst.util.SparkStringUtils",
)


def _quiet_harmless_warnings(spark: SparkSession) -> None:
    """QUIETED_LOGGERS at ERROR (not where no JVM is reachable)."""
    try:
        log4j = spark.sparkContext._jvm.org.apache.logging.log4j
        for name in QUIETED_LOGGERS:
            log4j.core.config.Configurator.setLevel(name, log4j.Level.ERROR)
    except Exception as err:  # Spark Connect, or another logging back end: the warnings stay
        logger.debug("Spark's harmless warnings stay: %s", err)


def _new_session(app_name: str, config: JobConfig) -> SparkSession:
    builder = SparkSession.builder.appName(app_name)
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        # started with plain `python`, not spark-submit: run locally on all cores
        given = SparkConf(loadDefaults=False).setMaster("local[*]")
    else:
        SparkContext._ensure_initialized()  # so that SparkConf() holds spark-submit's settings
        given = SparkConf()
    master = given.get("spark.master", "local[*]")
    retried = with_task_retries(master, given.get("spark.task.maxFailures", str(TASK_ATTEMPTS)))
    if retried != master:
        logger.info("Spark master %s runs as %s: a task whose Python worker dies is retried", master, retried)
    builder = builder.master(retried)
    daemon = {}
    if not given.contains("spark.python.daemon.module"):  # a daemon of the user's own stays
        # PySpark's own choice of the workers' Python (SparkContext.pythonExec)
        daemon = worker_daemon_conf(retried, os.environ.get("PYSPARK_PYTHON", "python3"))
    conf, warnings = session_conf(config, dict(given.getAll()))
    if "PYSPARK_GATEWAY_PORT" in os.environ:  # spark-submit started the driver's JVM before the config was read
        warnings += launch_warnings(config.spark.conf, retried)
    for warning in warnings:
        logger.warning("%s", warning)
    for key, value in {**daemon, **conf}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if spark.sparkContext.master != retried:  # a session made before this one keeps its master
        logger.warning("the session's Spark master is %s, not %s", spark.sparkContext.master, retried)
    if spark.sparkContext.getConf().get("spark.python.daemon.module") == WORKER_DAEMON:
        logger.info("Python workers: forked from %s, which loads the training's modules once", WORKER_DAEMON)
    return spark


def _running_session(config: JobConfig, running: SparkContext) -> SparkSession:
    """The session of a SparkContext already running in this process (a notebook's, a
    platform's such as Databricks'), with the job's settings set on it where Spark still
    takes them. Its master, and the settings Spark fixes when a context or session starts
    (spark.python.*, spark.sql.extensions, ...), stay its own: the job names those of its
    settings that the session lacks."""
    spark = SparkSession.builder.getOrCreate()
    given = dict(running.getConf().getAll())
    conf, warnings = session_conf(config, given, given_by="the running session's")
    for warning in warnings:
        logger.warning("%s", warning)
    fixed = {}
    for key, value in conf.items():
        if key == LOG_LEVEL:  # build_session sets it
            continue
        context_setting = _is_context_setting(key)
        if (given.get(key) if context_setting else spark.conf.get(key, None)) == value:
            continue
        try:
            if context_setting:  # Spark would take one of no name it knows, to no effect
                raise ValueError(key)
            spark.conf.set(key, value)  # a session's setting, a Hadoop or data source's option too
        except Exception:  # Spark refuses to change a static one
            if key not in UNSAID_WHERE_FIXED or key in config.spark.conf:
                fixed[key] = value
    logger.info("using the Spark session already running in this process (master %s)", running.master)
    if fixed:
        logger.warning("the running Spark session was started without these settings of the job, which Spark "
                       "sets only when a session starts: %s; the job runs with the session's own",
                       ", ".join(f"{key}={value}" for key, value in sorted(fixed.items())))
    if with_task_retries(running.master) != running.master:
        logger.warning("the running session's master %s gives each task one attempt: a Python worker that dies "
                       "fails the job (a session started as %s would retry it)", running.master,
                       with_task_retries(running.master))
    return spark


def _is_context_setting(key: str) -> bool:
    """A SparkContext's setting (spark.python.worker.reuse, spark.executorEnv.*), which
    only a new context takes: Spark's, but not a session's SQL or Hadoop settings."""
    return key.startswith("spark.") and not key.startswith(("spark.sql.", "spark.hadoop.", "spark.databricks."))


def speculation_warning(setting) -> str | None:
    """What speculative tasks (``spark.speculation``, as a cluster may set it) do to the
    child runs: two attempts of a task run at once, each logs its series."""
    if str(setting("spark.speculation", "false")).strip().lower() != "true":
        return None
    return ("spark.speculation is on: a task's speculative copy can log its series' child runs a second time "
            "(the tables hold one result each); set spark.speculation=false for this job")


def check_delta(spark: SparkSession) -> None:
    try:
        spark.sparkContext._jvm.java.lang.Class.forName("io.delta.sql.DeltaSparkSessionExtension")
    except Exception as err:
        raise MissingDeltaError(
            "Delta Lake is not on Spark's classpath. Run scripts/setup.sh (it installs the jars), "
            f"or add --packages {DELTA_PACKAGE} to spark-submit, or set output.format=parquet."
        ) from err


@contextmanager
def job_description(spark: SparkSession, text: str):
    """Names the Spark jobs the block starts, as the Spark UI's Jobs page shows
    them. The description is the calling thread's own (PySpark pins threads)."""
    context = spark.sparkContext
    context.setJobDescription(text)
    try:
        yield
    finally:
        context.setJobDescription(None)


@contextmanager
def settings_restored(spark: SparkSession, keys: tuple[str, ...]):
    """Put the session's ``keys`` back as they were when the block ends, so that a
    job run from a notebook's session leaves its own query settings behind it."""
    before = {key: spark.conf.get(key, None) for key in keys}
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


@contextmanager
def settings_while(spark: SparkSession, settings: dict[str, str]):
    """The session's ``settings`` for the block's queries alone, put back as they were
    after it (settings_restored)."""
    with settings_restored(spark, tuple(settings)):
        for key, value in settings.items():
            spark.conf.set(key, value)
        yield
