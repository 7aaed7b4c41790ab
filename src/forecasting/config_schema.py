"""The job configuration's schema: its sections as typed dataclasses and the
allowed values (forecasting.config_checks checks what types alone cannot)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

SAMPLE_INPUT = "sample"
# Delta's reader options that choose a table version (compared in lower case).
TIME_TRAVEL_OPTIONS = ("versionasof", "timestampasof")
INPUT_FORMATS = ("csv", "parquet", "delta", "table")
DELTA_AS_OF = ("run_date", "latest")
KEY_CASES = ("lower", "upper")  # input.key_case besides null (as written)
OUTPUT_FORMATS = ("parquet", "delta")
METRICS = ("mae", "rmse", "smape", "mase")
CANDIDATES = ("prophet", "naive", "seasonal_naive", "weekly_naive", "drift", "recent_mean", "ensemble")
FALLBACKS = ("naive", "seasonal_naive", "weekly_naive", "drift", "recent_mean")
CLEANING_CHOICES = {
    "missing_values": ("drop", "interpolate", "zero", "reject"),
    "negative_values": ("allow", "clip", "drop", "reject"),
    "off_grid": ("align", "reject"),
    "duplicates": ("sum", "mean", "last", "reject"),
    "gaps": ("keep", "interpolate", "zero", "reject"),
    "open_period": ("keep", "drop"),
    "closed_times": ("leave_out", "forecast"),
    "spikes": ("keep", "leave_out"),
}
# Names the job gives its own columns (series frame, output tables, evaluation) and
# child-run tags; a key column of the same name would clash with them
# (tests/test_pipeline.py checks the written tables and runs against this list).
RESERVED_KEY_NAMES = frozenset({
    "ds", "y", "point", "rank", "last_ds", "forecast", "holdout_scores", "recent",
    "yhat", "yhat_lower", "yhat_upper", "model", "run_date", "source", "model_run_date", "job_run_id",
    "child_run_id", "status", "reason", "history_length", "data_notes", "cv_mae", "cv_rmse", "cv_smape",
    "cv_mase", "candidate_scores", "best_params", "evaluations", "fit_seconds", "tracking_seconds",
    "history_end", "model_json", "frequency", "interval_width", "candidate", "selected", "mae", "rmse",
    "smape", "mase", "coverage", "scores", "series_id", "series_hash", "job", "from_job", "ended_by",
    "_task", "_slot", "_rows",  # forecasting.balancing's, while series are dealt to tasks
    "_payload",  # forecasting.result_row's, while a result row leaves its task
    "_has_model",  # forecasting.scoring's, while the models are matched to the input
    "forecast_change", "_previous", "_moved", "_level",  # forecasting.forecast_change's
    "realized_points", "realized_mase", "realized_coverage", "arrived", "_scale", "_previous_lower",
    "_previous_upper", "_actual", "_error",  # forecasting.realized's
    "horizon", "as_of",  # a request's own fields, beside the keys, in the served model's signature
})
# How a Prophet model is fitted: forecasting.prophet_map in this process, or Prophet's Stan.
OPTIMIZERS = ("in_process", "stan")
DISTRIBUTIONS = ("uniform", "loguniform", "quniform", "choice")
# Model settings the search space may also choose among (choice only); a tuned
# value replaces the model.* setting of the same name. Logistic growth, which
# needs a cap column, is not among the growths allowed.
MODEL_SETTINGS = ("growth", "yearly_seasonality", "weekly_seasonality", "daily_seasonality")
# Prophet constructor arguments that can be tuned without extra inputs.
TUNABLE_PARAMS = (
    "changepoint_prior_scale",
    "seasonality_prior_scale",
    "holidays_prior_scale",
    "changepoint_range",
    "seasonality_mode",
    "n_changepoints",
    *MODEL_SETTINGS,
)
GROWTHS = ("linear", "flat")
# Tuned parameters that take one of a few names (a choice only).
PARAM_VALUES = {"seasonality_mode": ("additive", "multiplicative")}


class ConfigError(ValueError):
    """A configuration problem, reported before any Spark work."""


def require(condition: bool, key: str, message: str) -> None:
    """Refuse the config, naming ``key``, unless ``condition`` holds."""
    if not condition:
        raise ConfigError(f"config key '{key}' {message}")


@dataclass(frozen=True)
class InputConfig:
    path: str
    format: str
    key_columns: list[str]
    time_column: str
    target_column: str
    options: dict[str, Any]
    rename_columns: dict[str, str]  # an input column's name: the name the job gives it
    time_format: str | None  # a Spark datetime pattern for times in another form than ISO 8601
    decimal_separator: str  # of a target written as text: "." or ","
    delta_as_of: str  # a Delta input's version without a pin: as it stood at the run date's end, or the latest
    trim_keys: bool  # text key values read without the spaces around them (a database's CHAR columns pad them)
    key_case: str | None = None  # text key values read in lower or upper case (DC1, dc1 one series); None: as written


@dataclass(frozen=True)
class ForecastConfig:
    horizon: int
    frequency: str
    interval_width: float
    min_history: int | None
    floor: float | str | None  # "auto": 0 for a series with no value below it


@dataclass(frozen=True)
class CleaningConfig:
    missing_values: str
    negative_values: str
    off_grid: str
    duplicates: str
    gaps: str
    open_period: str  # a last period not over by the run date's end, its rows on the grid: keep | drop
    stale_after: int | None  # periods a series' data may stop before the run date and it is still forecast
    unsettled_periods: int  # the run date's period and this many before it are left out of fits and scores
    closed_times: str = "leave_out"  # times of the week a sub-daily series never has a row: leave_out | forecast
    spikes: str = "keep"  # values far above those around them, back to the level after: keep | leave_out


@dataclass(frozen=True)
class ModelConfig:
    growth: str
    yearly_seasonality: str | bool | int
    weekly_seasonality: str | bool | int
    daily_seasonality: str | bool | int
    country_holidays: str | None
    # a key column naming each series' country, whose holidays it gets (country_holidays where null)
    country_holidays_column: str | None
    # days before and after a named holiday that are its too: {"Eid al-Fitr": [-5, 2]}
    holiday_windows: dict[str, list[int]]
    uncertainty_samples: int
    optimizer: str


@dataclass(frozen=True)
class ParamSpace:
    distribution: str
    low: float | None = None
    high: float | None = None
    q: float | None = None
    values: list[Any] | None = None


@dataclass(frozen=True)
class TuningConfig:
    max_evals: int
    seed: int
    metric: str
    search_space: dict[str, ParamSpace]
    patience: int | None
    warm_start: bool


@dataclass(frozen=True)
class SelectionConfig:
    candidates: list[str]
    metric: str | None  # None: tuning.metric


@dataclass(frozen=True)
class CrossValidationConfig:
    folds: int
    horizon: int | None
    step: int | None


@dataclass(frozen=True)
class TrackingConfig:
    uri: str
    experiment: str
    log_models: bool
    log_plots: bool
    registered_model: str | None
    max_retries: int
    backoff_seconds: int  # MLflow reads its retry settings as whole seconds
    timeout_seconds: int


@dataclass(frozen=True)
class ReliabilityConfig:
    fallback: str | None
    max_failed_share: float
    kill_worker_on_series: str | None
    fail_series: str | None


@dataclass(frozen=True)
class OutputConfig:
    path: str
    format: str
    table_prefix: str | None


@dataclass(frozen=True)
class SparkConfig:
    shuffle_partitions: int
    conf: dict[str, Any]


@dataclass(frozen=True)
class JobConfig:
    input: InputConfig
    forecast: ForecastConfig
    cleaning: CleaningConfig
    model: ModelConfig
    tuning: TuningConfig
    selection: SelectionConfig
    cross_validation: CrossValidationConfig
    tracking: TrackingConfig
    reliability: ReliabilityConfig
    output: OutputConfig
    spark: SparkConfig

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def effective_model_settings(model: ModelConfig, params: dict[str, Any]) -> dict[str, Any]:
    """Growth and seasonalities of a model with tuned ``params``: a tuned value, else the model.* setting."""
    return {name: params.get(name, getattr(model, name)) for name in MODEL_SETTINGS}


# The first fold must train on at least this many CV horizons of history.
MIN_TRAIN_HORIZONS = 2


def cv_horizon(config: JobConfig) -> int:
    return config.cross_validation.horizon or config.forecast.horizon


def cv_step(config: JobConfig) -> int:
    return config.cross_validation.step or cv_horizon(config)


def min_history(config: JobConfig) -> int:
    """Rows a series needs: the configured minimum, else what the folds need."""
    if config.forecast.min_history is not None:
        return config.forecast.min_history
    folds = config.cross_validation.folds
    return (folds - 1) * cv_step(config) + (1 + MIN_TRAIN_HORIZONS) * cv_horizon(config)
