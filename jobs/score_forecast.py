"""Forecast again from stored models, in parallel, without retraining.

    spark-submit jobs/score_forecast.py                                   # latest models, as of today
    spark-submit jobs/score_forecast.py --config conf/airports.yaml --model-run-date 2026-11-02
    spark-submit jobs/score_forecast.py --set forecast.horizon=56 --run-date 2026-11-23

Takes the models of --model-run-date (default: the latest on or before --run-date)
from the models table, forecasts forecast.horizon periods after the end of each series'
history as training would clean it on --run-date, and writes them to the forecasts table with
source = 'scored'. Pass the same --config as the training run (cleaning policies that
differ from the training run's are named in the log and the summary).
Exit codes: 0 done, 1 job failed, 2 configuration error, 3 unusable input or no models,
4 tracking server unreachable or refusing, 5 more failed series than reliability.max_failed_share,
6 another run of the same job, date and output still going (retry later),
130 or 143 stopped by Ctrl-C or SIGTERM (its MLflow run ends FAILED).
"""
import logging

try:
    from forecasting import cli, scoring
except ImportError as missing:  # the driver's Python lacks the job's packages: exit 2, in --summary-file too
    from driver_python import exit_unimportable  # beside this file, the standard library's alone

    exit_unimportable("score_forecast", missing)

logger = logging.getLogger("score_forecast")


def main(argv=None) -> int:
    parser = cli.job_parser(__doc__)
    parser.add_argument("--model-run-date", type=cli.run_date, action=cli.GivenOnce,
                        help="run date of the models to use, on or before --run-date")
    args = parser.parse_args(argv)
    if args.model_run_date is not None and args.model_run_date > args.run_date:
        # its models saw data from after the run date: forecasts filed under it would not be what was known then
        parser.error(f"--model-run-date {args.model_run_date} is after --run-date {args.run_date}")
    cli.configure_logging(args.log_level)
    return cli.run_job(
        lambda spark, config: scoring.run_scoring(spark, config, args.run_date, args.model_run_date),
        args, "score_forecast", logger,
    )


if __name__ == "__main__":
    cli.exit_process(main())
