"""Shared fixtures: one local SparkSession for the whole run, small fast configs."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyspark
import pytest
from pyspark.sql import SparkSession

from forecasting.config import load_config
from forecasting.spark_session import DELTA_CONF, JOB_DEFAULTS, worker_daemon_conf

# a config naming no store takes MLflow's variable (forecasting.config): tests name their own stores, or
# mean the default ./mlruns, whatever the shell they run in points MLflow at; tests that need it set it
os.environ.pop("MLFLOW_TRACKING_URI", None)

# Settings that keep tests fast: short horizon, one quick fold, tiny budgets.
FAST_OVERRIDES = [
    "forecast.horizon=7",
    "cross_validation.folds=2",
    "tuning.max_evals=2",
    "model.country_holidays=null",
    "model.yearly_seasonality=false",
    "model.uncertainty_samples=50",
    "selection.candidates=[prophet]",
]


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    # The in-process session's JVM left its temporary folders (spark-*, blockmgr-*, empty) in
    # the system's temporary folder after every run: under pytest's, they go with its folders.
    scratch = tmp_path_factory.mktemp("spark-session")
    builder = (SparkSession.builder.master("local[2]").appName("forecasting-tests")
               .config("spark.local.dir", str(scratch))
               .config("spark.driver.extraJavaOptions", f"-Djava.io.tmpdir={scratch}"))
    daemon = worker_daemon_conf("local[2]", os.environ.get("PYSPARK_PYTHON", "python3"))
    for key, value in {**JOB_DEFAULTS, **DELTA_CONF, **daemon}.items():
        builder = builder.config(key, value)
    with _optimising_jvm():
        session = (
            builder.config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .getOrCreate()
        )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@contextmanager
def _optimising_jvm():
    """The session's JVM launched with both JIT compilers, unless SPARK_SUBMIT_OPTS is
    exported: the set-up's spark-env.sh stops at the quick one, which suits a job's
    short-lived driver (docs/performance.md), while this JVM runs Spark's code for the
    whole test run (the suite about a fifth faster). The class archive is kept."""
    if "SPARK_SUBMIT_OPTS" in os.environ:
        yield
        return
    archive = Path(pyspark.__file__).parent / "jvm-classes.jsa"
    os.environ["SPARK_SUBMIT_OPTS"] = f"-XX:SharedArchiveFile={archive}" if archive.exists() else ""
    try:
        yield
    finally:  # the tests' own spark-submit runs get the set-up's settings
        del os.environ["SPARK_SUBMIT_OPTS"]


@pytest.fixture(autouse=True)
def no_tracking_uri_variable(monkeypatch):
    """mlflow.set_tracking_uri sets MLFLOW_TRACKING_URI too, which a later test's config (or
    spark-submit's child process) naming no store would take: each test starts without it."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(autouse=True)
def no_stopping_signal_noted():
    """A job forgets the signals an earlier one got as it starts (cli.run_job); a test calling
    the job's steps directly would otherwise take an earlier test's stop for its own."""
    from forecasting import signals

    signals.forget_signals()


@pytest.fixture
def fast_config():
    def make(*overrides: str):
        return load_config(None, [*FAST_OVERRIDES, *overrides])

    return make


def daily_series(days: int, level: float = 100.0, seed: int = 0, start: str = "2024-01-01") -> pd.DataFrame:
    """A daily ``ds``/``y`` series with trend, a weekend bump and noise."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range(start, periods=days, freq="D")
    weekly = np.where(ds.dayofweek >= 5, 0.3, 0.0) * level
    y = level + 0.2 * np.arange(days) + weekly + rng.normal(0, 0.03 * level, days)
    return pd.DataFrame({"ds": ds, "y": y})


def job_settings(input_path, root, keys: list[str], time: str = "ds", target: str = "y", *extra: str) -> list[str]:
    """The fast overrides, plus where a test job reads its input, tracks and writes."""
    input_format = "parquet" if str(input_path).endswith(".parquet") else "csv"
    return [
        *FAST_OVERRIDES,
        f"input.path={input_path}",
        f"input.format={input_format}",
        f"input.key_columns=[{', '.join(keys)}]",
        f"input.time_column={time}",
        f"input.target_column={target}",
        f"tracking.uri={root / 'mlruns'}",
        f"output.path={root / 'out'}",
        *extra,
    ]
