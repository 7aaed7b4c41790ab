"""The straightforward version of the job, as the benchmark's point of comparison.

The product's search space, folds and budget, written the way it usually is at
first: Hyperopt's TPE with its own defaults (its first 20 suggestions random),
a nested MLflow run per series (tagged with it, holding its best parameters, score
and model, as the job's child runs do) and under it one per Hyperopt evaluation,
Prophet's default 1000 uncertainty samples in every cross-validation fit, and
Spark's default shuffle partitions with adaptive execution left to merge them.

    spark-submit scripts/benchmark_naive_job.py INPUT.parquet OUTPUT.parquet MLRUNS_URI CONFIG.yaml
"""
import sys
from functools import partial

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession


def train_one(group: pd.DataFrame, config_path: str, tracking_uri: str, parent_id: str,
              experiment_id: str) -> pd.DataFrame:
    import mlflow
    import mlflow.prophet
    from hyperopt import Trials, fmin, space_eval, tpe
    from prophet import Prophet

    from forecasting import metrics, tuning
    from forecasting.config import load_config

    config = load_config(config_path)
    mlflow.set_tracking_uri(tracking_uri)
    history = group[["ds", "y"]].sort_values("ds").reset_index(drop=True)
    horizon = tuning.cv_horizon(config)
    sizes = tuning.cutoffs(len(history), config.cross_validation.folds, horizon, tuning.cv_step(config))

    series = str(group["series"].iloc[0])

    def objective(params):
        with mlflow.start_run(nested=True, parent_run_id=series_run.info.run_id, experiment_id=experiment_id):
            mlflow.log_params(params)
            losses = []
            for size in sizes:
                train, test = history.iloc[:size], history.iloc[size : size + horizon]
                fitted = Prophet(**params).fit(train)  # default: 1000 uncertainty samples
                predicted = fitted.predict(test[["ds"]])["yhat"]
                losses.append(metrics.mase(test["y"], predicted, train["y"], 24))
            loss = float(np.mean(losses))
            mlflow.log_metric("mase", loss)
        return loss

    space = tuning.hyperopt_space(tuning.searched_space(config, history))
    with mlflow.start_run(run_name=series, nested=True, parent_run_id=parent_id, experiment_id=experiment_id,
                          tags={"series": series}) as series_run:
        trials = Trials()
        best = fmin(objective, space, algo=tpe.suggest, max_evals=config.tuning.max_evals, trials=trials,
                    rstate=np.random.default_rng(config.tuning.seed), show_progressbar=False)
        params = space_eval(space, best)
        fitted = Prophet(**params).fit(history)
        future = fitted.make_future_dataframe(config.forecast.horizon, freq=config.forecast.frequency,
                                              include_history=False)
        forecast = fitted.predict(future)[["ds", "yhat"]]
        mlflow.log_params(params)
        mlflow.log_metric("cv_mase", min(trials.losses()))
        mlflow.prophet.log_model(fitted, "model")
    return forecast.assign(series=series)[["series", "ds", "yhat"]]


def main() -> None:
    input_path, output_path, tracking_uri, config_path = sys.argv[1:5]
    import mlflow

    # UTC, as the input's times are: in the machine's zone the forecasts' times would shift
    spark = SparkSession.builder.appName("naive_forecast").config("spark.sql.session.timeZone", "UTC").getOrCreate()
    mlflow.set_tracking_uri(tracking_uri)
    experiment = mlflow.set_experiment("naive")
    with mlflow.start_run() as parent:
        df = spark.read.parquet(input_path)
        work = partial(train_one, config_path=config_path, tracking_uri=tracking_uri, parent_id=parent.info.run_id,
                       experiment_id=experiment.experiment_id)
        df.groupBy("series").applyInPandas(work, "series string, ds timestamp, yhat double").write.mode(
            "overwrite"
        ).parquet(output_path)
    spark.stop()


if __name__ == "__main__":
    main()
