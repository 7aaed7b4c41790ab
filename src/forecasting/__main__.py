"""Everyday questions about past runs, without Spark.

    python -m forecasting runs                                 # the latest job runs
    python -m forecasting runs --job train_forecast --limit 5
    python -m forecasting runs --run-date 2026-11-23           # that date's runs, reruns among them
    python -m forecasting series store=north item=milk        # status, latest forecast, MLflow run
    python -m forecasting series --config conf/airports.yaml airport=JFK measure=total
    python -m forecasting series --steps 24 site=NYC queue=billing   # the forecast's first 24 steps
    python -m forecasting output --config conf/airports.yaml  # where that config's tables go
    python -m forecasting holidays GB-ENG --year 2027          # a country's holidays, as models name them
    python -m forecasting config --config conf/airports.yaml  # check it as the jobs do; print it resolved
    python -m forecasting compare output/before output/after  # two evaluations' held-out MASE, per series

--config and --set find the tables and the tracking URI as they do for the jobs:
run it in the folder the job ran in, or pass the job's configuration.
Exit codes: 0 answered, 1 not found, 2 configuration error or wrong arguments,
4 tracking server unreachable or refusing.
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys

from forecasting import (cli, command_keys, evaluation_compare, holiday_periods, lookup, lookup_text, run_listing, tables,
                         tracking)
from forecasting.config import resolved_yaml
from forecasting.config_checks import horizon_problem
from forecasting.config_stores import output_write_problem
from forecasting.redaction import redact_url_password

logger = logging.getLogger("forecasting")

EXIT_NOT_FOUND = 1
DEFAULT_RUNS = 10
MAX_RUNS = 50_000  # the most runs one MLflow search returns


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    cli.add_config_arguments(common)  # the job's own, to find its runs and tables
    common.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    main_parser = argparse.ArgumentParser(
        prog="python -m forecasting", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = main_parser.add_subparsers(dest="command", required=True)
    runs = commands.add_parser("runs", parents=[common], help="list the latest job runs from MLflow")
    runs.add_argument("--limit", type=_positive, default=DEFAULT_RUNS, help=f"how many runs, default {DEFAULT_RUNS}")
    runs.add_argument("--job", choices=(tracking.TRAIN_JOB, tracking.SCORE_JOB, tracking.EVALUATE_JOB),
                      help="only this job's runs")
    runs.add_argument("--run-date", type=cli.run_date, action=cli.GivenOnce,
                      help="YYYY-MM-DD: only the runs of that run date (its reruns, and its scoring runs)")
    series = commands.add_parser(
        "series", parents=[common], help="one series: its latest status and forecast, and its MLflow run"
    )
    series.add_argument("keys", nargs="+", metavar="KEY=VALUE", help="every key column's value, or the series' id as the summary names it (north/milk)")
    which = series.add_mutually_exclusive_group()
    which.add_argument("--run-date", type=cli.run_date, action=cli.GivenOnce,
                       help="YYYY-MM-DD: that run date's result and forecast instead of the latest")
    which.add_argument("--job-run", metavar="RUN_ID", action=cli.GivenOnce,
                       help="a training job run's id: the result and forecast as it wrote them, where a rerun of "
                            "its date replaced them since (python -m forecasting runs --run-date lists a date's runs)")
    series.add_argument("--steps", type=_positive, help="show the forecast's first N steps only (default: all)")
    commands.add_parser("output", parents=[common], help="the folder the config's tables go to (output.path, resolved)")
    commands.add_parser("config", parents=[common],
                        help="check the config as the jobs do before Spark starts, and print it resolved (the "
                             "defaults, the file, then each --set; secrets left out)")
    compared = commands.add_parser(
        "compare", parents=[common],
        help="two evaluations (jobs/evaluate_forecast.py's tables) per series: better, worse, by how much")
    compared.add_argument("outputs", nargs=2, metavar="OUTPUT",
                          help="two output folders (or evaluation tables); the same one twice to compare candidates")
    compared.add_argument("--candidates", nargs=2, default=[evaluation_compare.SELECTION] * 2,
                          metavar=("FIRST", "SECOND"),
                          help="the candidate compared on each side (default: selection, what the job forecast)")
    compared.add_argument("--metric", choices=evaluation_compare.METRICS, default="mase", help="default: mase")
    compared.add_argument("--run-date", type=cli.run_date, action=cli.GivenOnce,
                          help="YYYY-MM-DD: that evaluation's, on both sides (default: each table's latest)")
    listed = commands.add_parser("holidays", parents=[common],
                                 help="a country's or region's holidays in a year, named as model.holiday_windows takes them")
    listed.add_argument("code", help="a country (DE) or a country and region (GB-ENG)")
    listed.add_argument("--year", type=int, default=dt.date.today().year, help="default: this year")
    return main_parser


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with a series' KEY=VALUE words on either side of its options
    (argparse stops a positional list at the first option, and cannot intermix subcommands)."""
    main_parser = parser()
    args, extra = main_parser.parse_known_args(argv)
    if args.command == "series" and not any(word.startswith("-") for word in extra):
        args.keys += extra
    elif extra:
        main_parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    cli.configure_logging(args.log_level)
    if args.command == "holidays":  # the holidays package's answer: no config needed, nor one that does not load
        code = holiday_periods.canonical(args.code)
        problem = holiday_periods.unknown(code)
        if problem:
            logger.error("%s %s", args.code, problem)
            return cli.EXIT_CONFIG
        print_answer(holiday_periods.year_listing(code, args.year))
        return cli.EXIT_OK
    config = cli.load_or_exit(args)
    if args.command == "output":  # no tracking needed (scripts/run_scheduled.sh locks on it)
        print_answer(redact_url_password(tables.output_root(config)))
        return cli.EXIT_OK
    if args.command == "config":  # a deployment's check: the jobs' own, without Spark or the tracking server
        cli.warn_of_exposed_password(config, logger)
        # as the jobs check before Spark; a path without a scheme may be on HDFS: a job checks it once Spark says
        problem = horizon_problem(config, dt.date.today().isoformat()) or output_write_problem(config.output.path,
                                                                                                local_only=True)
        if problem:
            logger.error("configuration error: %s", problem)
            return cli.EXIT_CONFIG
        print_answer(resolved_yaml(config).rstrip())
        return cli.EXIT_OK
    if args.command == "compare":  # the tables; the job runs' settings where the tracking store has them
        try:
            first, second = (evaluation_compare.read_side(path, candidate, args.metric, config.output.format,
                                                          args.run_date)
                             for path, candidate in zip(args.outputs, args.candidates))
            compared = evaluation_compare.compare(first, second, args.metric)
        except LookupError as err:
            logger.error("%s", err)
            return EXIT_NOT_FOUND
        runs = evaluation_compare.job_runs(first, second, config.tracking.uri)
        print_answer(evaluation_compare.format_comparison(compared, runs))
        return cli.EXIT_OK
    try:
        tracking.prepare_server(config)
    except tracking.TrackingUnavailable as err:
        logger.error("tracking error: %s", err)
        return cli.EXIT_TRACKING
    try:
        if args.command == "runs":
            listed = run_listing.job_runs(config, args.limit, args.job, args.run_date)
            if listed.empty:  # "no job runs of run date ...": not found, as a series is (a script's check)
                print_answer(run_listing.format_runs(listed, args.job, args.run_date))
                return EXIT_NOT_FOUND
            answer = run_listing.format_runs(listed, args.job, args.run_date)
        else:
            try:
                try:
                    keys = command_keys.parse_keys(config, args.keys)
                except command_keys.KeysMissing as missing:  # store=12 family=dairy, the country a key too: its one series
                    keys = command_keys.completed_keys(config, missing)
            except ValueError as err:
                logger.error("%s%s", err, _defaults_only(args, err))
                return cli.EXIT_CONFIG
            report = lookup.series_report(config, keys, args.run_date, args.job_run)
            answer = lookup_text.format_series(report, args.steps)
    except lookup.NotFound as err:
        logger.error("%s%s", err, _defaults_only(args, err))
        return EXIT_NOT_FOUND
    except tracking.TrackingUnavailable as err:  # the server refused or failed a run it was asked for
        logger.error("tracking error: %s", redact_url_password(str(err)))
        return cli.EXIT_TRACKING
    print_answer(redact_url_password(answer))  # as the log: no password
    return cli.EXIT_OK


def print_answer(text: str) -> None:
    """The answer itself, on standard output. A reader that stops early (``| head``)
    closes the pipe: the rest is not wanted, which is no error to report."""
    try:
        print(text)
    except BrokenPipeError:
        pass


def _defaults_only(args: argparse.Namespace, err: Exception) -> str:
    """Where nothing but the embedded defaults was read, a hint that the job's config
    (its keys, experiment, output and tracking) may be what is missing."""
    said = str(err)  # a hint of its own already naming the job's config; not a format's "give its --config"
    if args.config is None and not args.overrides and "the job's --config" not in said and (
            "--config of the job" not in said):
        return (" (read with the embedded defaults only: give the job's --config, "
                "or run it in the folder the job ran in with the same settings)")
    return ""


def _positive(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_RUNS:
        raise argparse.ArgumentTypeError(f"expects a whole number from 1 to {MAX_RUNS}, got {text!r}")
    return int(text)


def exit_now(code: int) -> None:
    """Leave with ``code`` once the output is flushed, without the interpreter's
    teardown: deltalake's scan threads can outlive it and abort the process
    ("terminate called without an active exception", exit 134 instead of the
    answer's code; delta-io/delta-rs#2184)."""
    logging.shutdown()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped early (print_answer)
        pass
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
