"""Command-line front of the jobs: arguments, logging set-up, exit codes."""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import importlib
import logging
import os
import re
import sys
import threading
import traceback
from pathlib import Path

from forecasting import heartbeat, python_worker, signals, tables
from forecasting.config import TRACKING_URI_VARIABLE, ConfigError, JobConfig, load_config
from forecasting.config_checks import horizon_problem
from forecasting.config_stores import cluster_path_warnings, output_write_problem
from forecasting.io import InputError
from forecasting.spark_session import MissingDeltaError, build_session
from forecasting.redaction import (LOG_FORMAT, RedactingFormatter, cause_line, first_line, quiet_retries,
                                   redact_url_password)
from forecasting.tracking import TrackingUnavailable, password_warning, prepare_server

EXIT_OK = 0
EXIT_FAILED = 1  # any other error: Python's own exit code for an uncaught exception
EXIT_CONFIG = 2
EXIT_INPUT = 3
EXIT_TRACKING = 4
EXIT_TOO_MANY_FAILED = 5
EXIT_STILL_RUNNING = 6  # another run of the job, date and output is going (as scripts/run_scheduled.sh's lock)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM

# pandas' nanosecond times end on 2262-04-11: a run date in 2261 or later could fail
# every series in cleaning (the end of its period, or the next period's), after
# Spark had started.
LATEST_RUN_DATE = dt.date(2260, 12, 31)


def run_date(text: str) -> str:
    try:
        # as scripts/run_scheduled.sh takes it: Python also reads 20261201 and 2026-W49-1
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a date written YYYY-MM-DD, got {text!r}") from None
    if day > LATEST_RUN_DATE:
        raise argparse.ArgumentTypeError(f"{text} is after {LATEST_RUN_DATE}: pandas' times end in April 2262 "
                                         "(a mistyped year?)")
    return day.isoformat()


def summary_file(text: str) -> Path:
    """A file in a folder that exists: found out before the job, not after its work."""
    path = Path(text)
    if not text.strip() or path.is_dir():
        raise argparse.ArgumentTypeError(f"--summary-file {text!r}: a file's path, not a folder's")
    if not path.resolve().parent.is_dir():
        raise argparse.ArgumentTypeError(f"--summary-file {text}: no folder {path.resolve().parent}")
    return path


# what to do instead of giving an option twice, per option given once only
GIVEN_ONCE_HINTS = {
    "config": "one file is read; put the keys of one in the other, or give them with --set",
    "run_date": "one date is run; run each date as a job of its own (README, Run dates and scheduling)",
    "model_run_date": "one date's models are scored; score with another date's models in a run of its own",
}


class GivenOnce(argparse.Action):
    """An option given once: argparse would keep only the last of several, and a base
    file meant to go under another, or the date a scheduler added, silently left out."""

    def __call__(self, parser, namespace, value, option_string=None):
        given = f"_given_{self.dest}"  # a default (today's date) is no earlier value
        if getattr(namespace, given, False):
            parser.error(f"{self.option_strings[0]} given twice ({getattr(namespace, self.dest)}, {value}): "
                         f"{GIVEN_ONCE_HINTS[self.dest]}")
        setattr(namespace, given, True)
        setattr(namespace, self.dest, value)


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """--config and --set, as the jobs and ``python -m forecasting`` take them."""
    parser.add_argument("--config", action=GivenOnce, help="YAML file layered over the embedded defaults")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
        help="override one config key (repeatable); the value is read as YAML",
    )


def job_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every job takes; a job adds its own before parsing."""
    # no abbreviations: --summary-f would slip past scripts/run_scheduled.sh's own --summary-file
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    add_config_arguments(parser)
    # UTC, the session's time zone (spark_session) and scripts/run_scheduled.sh's: a
    # machine's local date would name a different run near midnight.
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    parser.add_argument("--run-date", type=run_date, default=today, action=GivenOnce,
                        help="YYYY-MM-DD, default today in UTC")
    # spark-submit sends a Python driver's standard error to its standard output: the
    # summary cannot be told from the log by the stream it is printed to
    parser.add_argument("--summary-file", metavar="PATH", type=summary_file,
                        help="also write the end-of-job summary to this file")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def print_redacted_traceback(kind, error, trace) -> None:
    """``sys.excepthook`` for a job's process: the traceback of an error nothing
    caught, which Python prints past the log's formatter, redacted the same way."""
    sys.stderr.write(redact_url_password("".join(traceback.format_exception(kind, error, trace))))


def print_redacted_thread_traceback(hook) -> None:
    """``threading.excepthook`` as Python's own (the thread named, SystemExit silent), redacted."""
    if hook.exc_type is SystemExit:
        return
    sys.stderr.write(f"Exception in thread {hook.thread.name if hook.thread else '?'}:\n")
    print_redacted_traceback(hook.exc_type, hook.exc_value, hook.exc_traceback)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(LOG_FORMAT))
    handler.addFilter(signals.py4j_after_stop)
    logging.basicConfig(level=level, handlers=[handler])
    sys.excepthook = print_redacted_traceback
    threading.excepthook = print_redacted_thread_traceback
    # py4j logs every gateway call at DEBUG and INFO; Spark's own log covers it
    logging.getLogger("py4j").setLevel(logging.WARNING)
    quiet_retries()


def _import_in_background(module: str) -> None:
    """Import ``module`` on a thread while the JVM builds the session: MLflow's
    import takes seconds of the driver's CPU, the session seconds of the JVM's,
    and neither needs the other. A later import waits for this one to finish."""
    threading.Thread(target=importlib.import_module, args=(module,), name=f"import-{module}", daemon=True).start()


def run_job(job, args: argparse.Namespace, app_name: str, logger: logging.Logger) -> int:
    """Config, session, ``job(spark, config)``, summary; errors become exit codes. The
    ``--summary-file`` says from the start that the run has not finished, so a scheduler
    reading it after a failure finds no earlier run's success there."""
    main_thread = threading.current_thread() is threading.main_thread()  # only there can a handler be set
    signals.forget_signals()  # an earlier job's stop in this process is not this one's
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    ended = f"{app_name} {args.run_date}: started {started} UTC, ended with exit code"
    _write_summary(args, logger, f"{app_name} {args.run_date}: started {started} UTC, not finished (this file "
                                 "holds the run's summary once it ends)")
    try:
        with signals.sigterm_raised() if main_thread else contextlib.nullcontext():
            code, report, reason = _run_job(job, args, app_name, logger)
    except BaseException as err:  # SIGINT (PySpark's handler cancels the Spark jobs first), or SIGTERM
        stop = signals.stopped_by(err)
        if isinstance(err, SystemExit):  # a config error's exit 2, said in the log; Python's own codes
            code = 0 if err.code is None else err.code if isinstance(err.code, int) else EXIT_FAILED
            why = "the log above says why"
        else:
            code = EXIT_FAILED if stop is None else EXIT_TERMINATED if stop == "SIGTERM" else EXIT_INTERRUPTED
            why = first_line(err) if stop is None else f"stopped by {stop}"
            if stop is None and _jvm_gone(err):  # "[Errno 111] Connection refused" names the driver's gateway
                why = f"{signals.JVM_GONE}: its MLflow run ended FAILED"
        _write_summary(args, logger, f"{ended} {code} ({why})")
        if stop is None:
            raise
        logger.error("stopped by %s: a run it had started in MLflow ends FAILED (tagged ended_by); rerunning the "
                     "date replaces what it wrote", stop)
        return code
    if report:
        print(report)  # the job's final report, for the person who started it
    _write_summary(args, logger, report or f"{ended} {code} ({reason})")
    return code


def _jvm_gone(err: BaseException) -> bool:
    """signals.jvm_gone, False where it cannot tell (it asks no more of a failing job)."""
    try:
        return signals.jvm_gone(err)
    except Exception:
        return False


def warn_of_exposed_password(config: JobConfig, logger: logging.Logger) -> None:
    """Warn where tracking.uri holds a password that the config, not the environment, gave:
    the environment is where a secret belongs."""
    exposed = password_warning(config.tracking.uri)
    if exposed and config.tracking.uri != os.environ.get(TRACKING_URI_VARIABLE, "").strip():
        logger.warning("%s", exposed)


def _write_summary(args: argparse.Namespace, logger: logging.Logger, text: str) -> None:
    path = getattr(args, "summary_file", None)  # a caller's own parser may have none
    if path:
        try:
            path.write_text(text + "\n")
        except OSError as err:  # the job's exit code stands
            logger.error("cannot write the summary to %s: %s", path, err)


def _run_job(job, args: argparse.Namespace, app_name: str,
             logger: logging.Logger) -> tuple[int, str | None, str | None]:
    """The exit code, and the summary where the job got as far as one, else why not (the
    error's first line, logged in full: for the summary file, read without the log)."""
    config, reason = config_or_reason(args, logger)
    if config is None:  # its reason for the summary file
        return EXIT_CONFIG, None, reason
    warn_of_exposed_password(config, logger)
    problem = horizon_problem(config, args.run_date)
    if problem:
        logger.error("configuration error: %s", problem)
        return EXIT_CONFIG, None, f"configuration error: {problem}"
    try:  # a server down or mistyped, found before Spark starts and the input is read
        prepare_server(config)
    except TrackingUnavailable as err:
        logger.error("tracking error: %s", err)
        return EXIT_TRACKING, None, f"tracking error: {first_line(err)}"
    _import_in_background("mlflow")
    try:
        spark = build_session(app_name, config)
    except MissingDeltaError as err:
        logger.error("%s", err)
        return EXIT_CONFIG, None, f"configuration error: {first_line(err)}"
    except Exception as err:  # an unreachable master, a setting Spark refuses: Spark's log above has the rest
        missing = re.search(r"java\.io\.FileNotFoundException: (?:File )?(\S+) does not exist", str(err))
        if missing:  # a mistyped argument: no retry mends it
            reason = (f"Spark was given a file or folder that is not there: {redact_url_password(missing.group(1))} "
                      "(spark-submit's --py-files, --files, --archives or --jars, or a folder spark.conf names, "
                      "such as spark.eventLog.dir)")
            logger.error("configuration error: %s", reason)
            return EXIT_CONFIG, None, f"configuration error: {reason}"
        cause = cause_line(err)  # the Java exception's line, not Py4J's "an error occurred while calling"
        if "Cannot call methods on a stopped SparkContext" in cause:  # Spark's own words name a symptom
            cause += (" (Spark stopped as it started: a master that never answered, or that refused the "
                      "application; Spark's log above says which, e.g. 'All masters are unresponsive')")
        logger.error("cannot start Spark: %s (check spark-submit's --master and spark.conf; a master that "
                     "was down is worth a retry)", cause)
        return EXIT_FAILED, None, f"cannot start Spark: {cause}"
    signals.note_sigint()  # around PySpark's handler, set as the session started
    # No spark.stop(): the JVM stops the SparkContext itself when the driver process
    # exits (a shutdown hook), while PySpark's stop() also waits up to a second for
    # its accumulator server's polling thread. And a session the job found already
    # running (Databricks) is not the job's to stop.
    config = tables.on_default_file_system(spark, config)
    for warning in cluster_path_warnings(spark.sparkContext.master, config.output.path, config.tracking.uri):
        logger.warning("%s", warning)
    # a local output, now that Hadoop said the path is one (HDFS on YARN, DBFS), before the input is read
    problem = output_write_problem(config.output.path)
    if problem:
        logger.error("configuration error: %s", problem)
        return EXIT_CONFIG, None, f"configuration error: {problem}"
    try:
        summary = job(spark, config)
    except InputError as err:
        logger.error("input error: %s", err)
        python_worker.wait_for_early_workers()
        return EXIT_INPUT, None, f"input error: {first_line(err)}"
    except heartbeat.StillRunning as err:
        logger.error("%s", err)
        python_worker.wait_for_early_workers()
        return EXIT_STILL_RUNNING, None, f"still running: {first_line(err)}"
    except TrackingUnavailable as err:
        logger.error("tracking error: %s", err)
        python_worker.wait_for_early_workers()
        if err.summary is None:
            return EXIT_TRACKING, None, f"tracking error: {first_line(err)}"
        # the tables are written: what the run did, with why it exits 4
        return EXIT_TRACKING, err.summary.format(exit_line=f"exit code {EXIT_TRACKING}: {err}"), None
    except Exception as err:
        reason = python_worker.executor_python_problem(err)
        if reason is None:
            raise
        # a setting, not a failure of the job's code: Spark's log above repeats it for every task
        logger.error("configuration error: %s", reason)
        return EXIT_CONFIG, None, f"configuration error: {reason}"
    report = summary.format()
    if summary.exits_5:  # written, but a look is needed: said in the log too, where alerts are read
        logger.warning("exit code %d: %s", EXIT_TOO_MANY_FAILED,
                       f"{summary.counts.get('failed', 0)} of {summary.total} series failed, more than "
                       "reliability.max_failed_share" if summary.too_many_failed else "no series was modelled")
    return EXIT_TOO_MANY_FAILED if summary.exits_5 else EXIT_OK, report, None


def exit_process(code: int) -> None:
    """End a job's process with ``code``. Its heap is frozen first: the interpreter's
    final garbage collection then skips it, 0.4 s of the driver's exit otherwise
    (Spark, pandas and MLflow loaded), while spark-submit's JVM waits. Finalizers
    run as before; only cycles left as garbage are not collected, with the process gone."""
    gc.freeze()
    sys.exit(code)


def load_or_exit(args: argparse.Namespace) -> JobConfig:
    """The validated config, or exit with a message naming the bad key."""
    config, _ = config_or_reason(args, logging.getLogger("forecasting"))
    if config is None:
        sys.exit(EXIT_CONFIG)
    return config


def config_or_reason(args: argparse.Namespace, logger: logging.Logger) -> tuple[JobConfig | None, str | None]:
    """The validated config, or None and the error's first line, the whole error logged."""
    try:
        return load_config(args.config, args.overrides), None
    except ConfigError as err:
        logger.error("configuration error: %s", err)
        return None, f"configuration error: {first_line(err)}"
