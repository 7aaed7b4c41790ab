"""Tune, train and forecast one Prophet model per series on Spark, tracked in MLflow.

    spark-submit jobs/train_forecast.py                      # embedded sample, local[*]
    spark-submit jobs/train_forecast.py --config conf/airports.yaml --run-date 2026-11-23
    spark-submit --master spark://host:7077 jobs/train_forecast.py --set tuning.max_evals=20

Exit codes: 0 done, 1 job failed, 2 configuration error, 3 unusable input.
"""
import logging
import sys

from forecasting import cli, pipeline
from forecasting.io import InputError
from forecasting.spark_session import build_session

logger = logging.getLogger("train_forecast")


def main(argv=None) -> int:
    args = cli.parse_args(argv, __doc__)
    cli.configure_logging(args.log_level)
    config = cli.load_or_exit(args)
    spark = build_session("train_forecast", config)
    try:
        summary = pipeline.run_job(spark, config, args.run_date)
    except InputError as err:
        logger.error("input error: %s", err)
        return cli.EXIT_INPUT
    finally:
        spark.stop()
    print(summary.format())  # the job's final report, for the person who started it
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
