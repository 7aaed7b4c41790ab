"""Per-series model selection through Spark: every candidate's cross-validated
score and the winner, in ``series_results``, the ``models`` table and each child run."""
import json

import mlflow
import numpy as np
import pandas as pd
import pytest

from conftest import FAST_OVERRIDES
from forecasting import model_store, pipeline, tables
from forecasting.config import load_config

CANDIDATES = ["prophet", "seasonal_naive", "naive", "drift"]
METRICS = {"mae", "rmse", "smape", "mase"}


def shapes(days: int = 70) -> pd.DataFrame:
    """Series that different candidates should win: an exact weekly pattern, a
    random walk, a straight line with noise."""
    rng = np.random.default_rng(5)
    ds = pd.date_range("2024-01-01", periods=days, freq="D")
    series = {
        "weekly": 10.0 + (ds.dayofweek * 3) % 7,
        "walk": 50.0 + np.cumsum(rng.normal(0, 3, days)),
        "line": 5.0 + 2.0 * np.arange(days) + rng.normal(0, 0.5, days),
    }
    return pd.concat([pd.DataFrame({"shape": name, "ds": ds, "y": y}) for name, y in series.items()])


@pytest.fixture(scope="module")
def selected(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("selection")
    shapes().to_csv(root / "input.csv", index=False, date_format="%Y-%m-%d")
    config = load_config(None, [
        *FAST_OVERRIDES, f"input.path={root / 'input.csv'}", "input.key_columns=[shape]",
        "input.time_column=ds", "input.target_column=y", f"tracking.uri={root / 'mlruns'}",
        f"output.path={root / 'out'}", f"selection.candidates=[{', '.join(CANDIDATES)}]", "tuning.metric=mase",
        "tracking.registered_model=null",
    ])
    summary = pipeline.run_job(spark, config, "2024-03-31")
    results = tables.read_table(spark, config, tables.SERIES_RESULTS).toPandas().set_index("shape")
    models = tables.read_table(spark, config, tables.MODELS).toPandas().set_index("shape")
    forecasts = tables.read_table(spark, config, tables.FORECASTS).toPandas()
    runs = mlflow.MlflowClient(summary.tracking_uri).search_runs(
        [summary.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{summary.job_run_id}'"
    )
    return {"results": results, "models": models, "forecasts": forecasts, "config": config,
            "runs": {run.data.tags["shape"]: run for run in runs}}


def test_series_results_hold_every_candidates_score_and_the_winner(selected):
    results = selected["results"]
    assert (results["status"] == "ok").all()
    for shape, row in results.iterrows():
        scores = json.loads(row["candidate_scores"])
        assert set(scores) == set(CANDIDATES) and all(set(s) == METRICS for s in scores.values()), shape
        assert row["model"] == min(scores, key=lambda name: scores[name]["mase"]), shape
        assert row["cv_mase"] == pytest.approx(scores[row["model"]]["mase"]), shape
    assert results.loc["weekly", "model"] == "seasonal_naive"  # exact there
    assert results["model"].nunique() >= 2  # the shapes are won by different models


def test_each_child_run_records_every_candidates_score_and_the_winner(selected):
    results, runs = selected["results"], selected["runs"]
    assert set(runs) == set(results.index)
    for shape, run in runs.items():
        scores = json.loads(results.loc[shape, "candidate_scores"])
        assert run.data.tags["model"] == results.loc[shape, "model"]
        for candidate, values in scores.items():
            for metric, value in values.items():
                assert run.data.metrics[f"cv_{metric}_{candidate}"] == pytest.approx(value), (shape, candidate)
        assert run.data.metrics["cv_mase"] == pytest.approx(scores[results.loc[shape, "model"]]["mase"])


def test_the_models_table_keeps_each_series_winner(selected):
    results, models = selected["results"], selected["models"]
    assert models["model"].sort_index().tolist() == results["model"].sort_index().tolist()
    # and each stored model is that winner: it forecasts what the forecasts table holds
    horizon = selected["config"].forecast.horizon
    for shape, row in models.iterrows():
        again = model_store.forecast(row["model"], row["model_json"], None, horizon, row["frequency"],
                                     row["interval_width"], seed=0)
        written = selected["forecasts"].query("shape == @shape").sort_values("ds")
        np.testing.assert_allclose(again["yhat"], written["yhat"], rtol=1e-9, err_msg=shape)
