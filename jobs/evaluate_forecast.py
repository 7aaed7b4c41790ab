"""Measure forecast accuracy: hold out the last horizon of every series and score it.

    spark-submit jobs/evaluate_forecast.py --config conf/m4_hourly.yaml --run-date 2015-02-12
    spark-submit jobs/evaluate_forecast.py --config conf/airports.yaml --run-date 2016-01-01 --set selection.candidates=[prophet]

Runs the full pipeline (cleaning, tuning, model selection) on each series without
its last forecast.horizon periods, scores every candidate's forecast of them (MASE,
sMAPE, MAE, RMSE, interval coverage and width) into the evaluation table, and logs
the means and a report with plots (evaluation/report.md) to the MLflow parent run.
The forecasts, series_results and models tables are not touched.
Exit codes: as train_forecast.py.
"""
import logging

try:
    from forecasting import cli, pipeline
except ImportError as missing:  # the driver's Python lacks the job's packages: exit 2, in --summary-file too
    from driver_python import exit_unimportable  # beside this file, the standard library's alone

    exit_unimportable("evaluate_forecast", missing)

logger = logging.getLogger("evaluate_forecast")


def main(argv=None) -> int:
    args = cli.job_parser(__doc__).parse_args(argv)
    cli.configure_logging(args.log_level)
    return cli.run_job(
        lambda spark, config: pipeline.run_job(spark, config, args.run_date, evaluate=True),
        args, "evaluate_forecast", logger,
    )


if __name__ == "__main__":
    cli.exit_process(main())
