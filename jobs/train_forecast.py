"""Tune, train and forecast one model per series on Spark (tuned Prophet, or a baseline that
forecast it better), tracked in MLflow.

    spark-submit jobs/train_forecast.py                      # embedded sample, local[*]
    spark-submit jobs/train_forecast.py --config conf/airports.yaml --run-date 2016-01-01
    spark-submit --master spark://host:7077 jobs/train_forecast.py --set tuning.max_evals=20

--run-date (default today, UTC) names the run and cuts the input: only rows up to that
day are used, so a past date backfills what the job would have made then.
Exit codes: 0 done, 1 job failed, 2 configuration error, 3 unusable input,
4 tracking server unreachable or refusing, 5 more failed series than reliability.max_failed_share
or no series modelled, 6 another run of the same job, date and output still going (retry later),
130 or 143 stopped by Ctrl-C or SIGTERM (its MLflow run ends FAILED).
"""
import logging

try:
    from forecasting import cli, pipeline
except ImportError as missing:  # the driver's Python lacks the job's packages: exit 2, in --summary-file too
    from driver_python import exit_unimportable  # beside this file, the standard library's alone

    exit_unimportable("train_forecast", missing)

logger = logging.getLogger("train_forecast")


def main(argv=None) -> int:
    args = cli.job_parser(__doc__).parse_args(argv)
    cli.configure_logging(args.log_level)
    return cli.run_job(
        lambda spark, config: pipeline.run_job(spark, config, args.run_date), args, "train_forecast", logger
    )


if __name__ == "__main__":
    cli.exit_process(main())
