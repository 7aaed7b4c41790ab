"""The checks of a configuration's values that types alone cannot express: each
error names the key to fix, before Spark starts."""
from __future__ import annotations

import datetime as dt
import difflib
import math
import os
import posixpath
import re
from typing import Any

from forecasting.config_schema import (
    CANDIDATES,
    CLEANING_CHOICES,
    DELTA_AS_OF,
    FALLBACKS,
    INPUT_FORMATS,
    KEY_CASES,
    METRICS,
    MODEL_SETTINGS,
    OPTIMIZERS,
    OUTPUT_FORMATS,
    RESERVED_KEY_NAMES,
    SAMPLE_INPUT,
    JobConfig,
    cv_horizon,
)
from forecasting.config_schema import require as _require
from forecasting.config_frequency import frequency_problem
from forecasting.config_reader_options import check_input_options
from forecasting.config_stores import check_file_uri, check_output_folder, check_tracking_uri, is_databricks_uri
from forecasting.config_space import validate_model_setting, validate_space
from forecasting.redaction import SECRET_NAME

# Prophet fits no fewer rows than this.
MIN_FOLD_TRAIN_ROWS = 2
# Characters Delta refuses in a column name (without column mapping, which the job does not turn on).
DELTA_REFUSED_CHARACTERS = " ,;{}()\n\t="
# A catalog table's name as Spark reads it (table, database.table, catalog.database.table or
# deeper namespaces; a part in backquotes when it holds other characters than ASCII letters,
# digits and _, a backquote in it doubled): the job puts input.path into SQL text (DESCRIBE)
# when input.format is table.
TABLE_NAME = re.compile(r"([A-Za-z0-9_]*[A-Za-z_][A-Za-z0-9_]*|`(?:[^`]|``)+`)"
                        r"(\.([A-Za-z0-9_]*[A-Za-z_][A-Za-z0-9_]*|`(?:[^`]|``)+`))*")  # digits alone: a number
# What MLflow accepts as a tag name: each key column names a tag of its series' run.
TAG_NAME = re.compile(r"[\w.\- :/]+")
# Characters of a registered model's name that MLflow cannot look up or serve: quotes
# (its filter strings have no escape), path separators and % (its file store refuses
# them; / splits a models:/ URI) and ? (starts a models:/ URI's query).
MODEL_NAME_REFUSED_CHARACTERS = "'\"/\\%?"
MLFLOW_MAX_RETRIES_LIMIT, MLFLOW_MAX_BACKOFF_LIMIT = 10, 120  # MLflow's defaults of its limits
MAX_TIMEOUT_SECONDS = 86_400  # a day for one call to the tracking server is a typo; far more overflowed Python's clock
# MLflow's file store keeps a registered model in a folder of its name
MAX_MODEL_NAME_BYTES = 255


def validate(config: JobConfig) -> None:
    """Checks of values that types alone cannot express, section by section."""
    _check_input(config)
    check_input_options(config)
    _check_setting_values(config)
    _check_forecast(config)
    _check_model(config)
    _check_tuning(config)
    _check_tracking(config)
    _check_output(config)


def _check_input(config: JobConfig) -> None:
    inp = config.input
    for old, new in inp.rename_columns.items():
        _require(bool(old.strip()) and bool(new.strip()), f"input.rename_columns.{old}",
                 f"renames {old!r} to {new!r}: both must name a column")
        _require(new not in inp.rename_columns, f"input.rename_columns.{old}",
                 f"renames {old!r} to {new!r}, which is renamed too: give each column its final name")
    news = [new.lower() for new in inp.rename_columns.values()]  # Spark's column names ignore case
    twice = sorted({new for new in inp.rename_columns.values() if news.count(new.lower()) > 1})
    _require(not twice, "input.rename_columns", f"gives two columns the name {', '.join(map(repr, twice))}")
    _require(bool(inp.path.strip()), "input.path", "must not be empty")
    check_file_uri("input.path", inp.path)
    _require(inp.format in INPUT_FORMATS, "input.format", f"must be one of {INPUT_FORMATS}")
    _require(inp.path != SAMPLE_INPUT or inp.format == "csv", "input.path",
             f"is {SAMPLE_INPUT!r}, the embedded sample's name, which input.format {inp.format} does not read: "
             f"write a folder or file of that name as ./{SAMPLE_INPUT}, a table as database.{SAMPLE_INPUT}")
    _require(inp.format != "table" or TABLE_NAME.fullmatch(inp.path) is not None, "input.path",
             f"is {inp.path!r}, not a table name: write [catalog.][database.]table, a part in backquotes "
             "where it holds characters other than letters, digits and _ (`my-db`.sales)")
    _require(inp.time_format is None or (bool(inp.time_format.strip()) and inp.time_format == inp.time_format.strip()),
             "input.time_format", "must be null (ISO 8601 times) or a Spark datetime pattern without spaces around "
             "it, e.g. dd/MM/yyyy (each value's own spaces are stripped)")
    # Spark reads yy as 2000-2099: 85 would be 2085, cut off as after the run date without a word
    _require(inp.time_format is None or re.search(r"(?<![y'])yy(?!y)", inp.time_format) is None, "input.time_format",
             f"is {inp.time_format!r}: a two-digit year (yy) reads as 2000-2099; write yyyy, or convert the years")
    _require(inp.delta_as_of in DELTA_AS_OF, "input.delta_as_of", f"is {inp.delta_as_of!r}: it must be one of "
             f"{DELTA_AS_OF} (a Delta input as it stood at the end of the run date, or its latest version)")
    _require(inp.key_case is None or inp.key_case in KEY_CASES, "input.key_case", f"is {inp.key_case!r}: it must be "
             f"null (key values as written) or one of {KEY_CASES}")
    _require(inp.decimal_separator in (".", ","), "input.decimal_separator",
             f"is {inp.decimal_separator!r}: a target's text has its decimals after '.' or ','")
    _require(len(inp.key_columns) > 0, "input.key_columns", "needs at least one column")
    # Spark matches column names whatever their letter case: Store and store are one column
    keys = [name.lower() for name in inp.key_columns]
    _require(len(set(keys)) == len(keys), "input.key_columns",
             f"has duplicates ({inp.key_columns}: Spark reads column names whatever their letter case)")
    for key, column in (("input.time_column", inp.time_column), ("input.target_column", inp.target_column)):
        # either may be the one just changed: both named
        _require(column.lower() not in keys, "input.key_columns", f"and {key} both name {column!r}: a column is "
                 "a key, the time or the target, not two of them (whatever the letter case)")
    _require(inp.time_column.lower() != inp.target_column.lower(), "input.target_column",
             "must differ from time_column (whatever the letter case)")
    for key, names in (("input.key_columns", inp.key_columns), ("input.time_column", [inp.time_column]),
                       ("input.target_column", [inp.target_column])):
        for name in names:
            _require(bool(name.strip()), key, "must name a column, not be blank")
            _check_column_name(key, name, is_key=key == "input.key_columns",
                               delta_output=config.output.format == "delta")


def _check_setting_values(config: JobConfig) -> None:
    """input.options and spark.conf hand each value to Spark as text: a YAML mapping
    there is a dotted name nested by mistake."""
    for section, entries in (("input.options", config.input.options), ("spark.conf", config.spark.conf)):
        for name, value in entries.items():
            full, inner = name, value
            while isinstance(inner, dict) and inner:  # YAML nested a dotted name: spark: {executor: ...}
                full, inner = f"{full}.{next(iter(inner))}", next(iter(inner.values()))
            how = f"write each setting's full name as one key, e.g. '{full}'" if full != name else "quote it"
            shown = "a secret's value" if _holds_secret(name, value) else repr(value)  # for the log and summary file
            _require(isinstance(value, (str, int, float, bool, dt.date)), f"{section}.{name}",
                     f"is {shown}, not text, a number, a time or true/false: {how}")


def _holds_secret(name: str, value: Any) -> bool:
    """Whether a setting's name, or a key of a mapping nested in it at any depth, looks like a
    secret's (spark.hadoop: {fs.s3a.endpoint: ..., fs.s3a.secret.key: ...})."""
    return SECRET_NAME.search(str(name)) is not None or (
        isinstance(value, dict) and any(_holds_secret(key, inner) for key, inner in value.items()))


# Prophet's cycles shorter than a year: a model of periods as long as one or longer fits it to
# nothing the data can show (months start on other weekdays: a weekly part fitted to noise)
SHORT_CYCLES = {"daily_seasonality": ("daily", 1, "a day"), "weekly_seasonality": ("weekly", 7, "a week")}


def _cycle_unseen(name: str, value: Any, frequency: str) -> str:
    """What to say where ``value`` turns on (true, an order) a cycle that ``frequency``'s
    periods are too long to show; "" where it does not."""
    if name not in SHORT_CYCLES or value is False or value == "auto":
        return ""
    import pandas as pd
    from forecasting.periods import frequency_offset

    cycle, days, length = SHORT_CYCLES[name]
    shortest = pd.Series(pd.date_range("2001-01-01", periods=60, freq=frequency_offset(frequency))).diff().min()
    if shortest < pd.Timedelta(days=days):
        return ""
    shown = str(value).lower() if isinstance(value, bool) else value
    return (f"is {shown}, a {cycle} cycle, which forecast.frequency {frequency!r} cannot show (its periods are "
            f"{length} or longer): use auto, which leaves it out, or false")


def _limit(variable: str, default: int) -> int:
    """One of MLflow's limits: its environment variable's, where that is a whole number, else its default."""
    given = os.environ.get(variable, "").strip()
    return int(given) if given.isdigit() else default


def _check_forecast(config: JobConfig) -> None:
    """Forecast and cleaning: what a series' periods and forecasts are."""
    fc = config.forecast
    _require(fc.horizon > 0, "forecast.horizon", "must be a positive integer")
    problem = frequency_problem(fc.frequency)
    _require(problem is None, "forecast.frequency", str(problem))
    _require(0 < fc.interval_width < 1, "forecast.interval_width", "must be between 0 and 1")
    _require(fc.floor in ("auto", None) or (isinstance(fc.floor, float) and math.isfinite(fc.floor)),
             "forecast.floor", f"is {fc.floor!r}: must be auto, a number or null (none)")
    for name, choices in CLEANING_CHOICES.items():
        _require(getattr(config.cleaning, name) in choices, f"cleaning.{name}", f"must be one of {choices}")
    _require(config.cleaning.unsettled_periods >= 0, "cleaning.unsettled_periods",
             f"is {config.cleaning.unsettled_periods}: a number of periods, 0 or more")
    stale_after = config.cleaning.stale_after
    _require(stale_after is None or stale_after >= 1, "cleaning.stale_after",
             f"is {stale_after}: a number of periods, 1 or more (null: forecast every series wherever its data stop)")


MAX_WINDOW_DAYS = 60  # a holiday's window: a month of Ramadan before Eid, not a season


def _check_model(config: JobConfig) -> None:
    md = config.model
    for name in MODEL_SETTINGS:
        validate_model_setting(f"model.{name}", name, getattr(md, name))
        unseen = _cycle_unseen(name, getattr(md, name), config.forecast.frequency)
        _require(not unseen, f"model.{name}", unseen)
    _require(md.uncertainty_samples >= 0, "model.uncertainty_samples", "must be 0 or more")
    _require(md.optimizer in OPTIMIZERS, "model.optimizer", f"must be one of {OPTIMIZERS}")
    if md.country_holidays is not None:
        from forecasting.holiday_periods import canonical, unknown

        problem, spelled = unknown(md.country_holidays), canonical(md.country_holidays)
        hint = f" (did you mean {spelled!r}?)" if spelled != md.country_holidays and not unknown(spelled) else ""
        _require(problem is None, "model.country_holidays", f"is {md.country_holidays!r}, which {problem}{hint}")
    if md.holiday_windows and md.country_holidays_column is None:  # with a column, the run checks its codes' names
        from forecasting.holiday_periods import holiday_names, unmatched_windows

        code = md.country_holidays
        _require(code is not None, "model.holiday_windows", "is set, but no holidays are modelled "
                 "(model.country_holidays and model.country_holidays_column are null)")
        missing = unmatched_windows(md.holiday_windows, [code])
        close = difflib.get_close_matches(missing[0], sorted(holiday_names(code)), n=1) if missing else []
        _require(not missing, f"model.holiday_windows.{missing[0] if missing else ''}",
                 f"is no holiday of {code}{f' (did you mean {close[0]!r}?)' if close else ''}: "
                 f"python -m forecasting holidays {code} lists them")
    for name, span in md.holiday_windows.items():
        _require(len(span) == 2 and span[0] <= 0 <= span[1] and span[1] - span[0] <= MAX_WINDOW_DAYS,
                 f"model.holiday_windows.{name}", f"is {span}: [days before, days after] the holiday, such as [-5, 2] "
                 f"(the first 0 or less, the second 0 or more, {MAX_WINDOW_DAYS} days in all at most)")
    column = md.country_holidays_column
    if column is not None:  # a key's value is the same on every row of a series; another column could differ
        keys = list(config.input.key_columns)
        close = difflib.get_close_matches(column, keys, n=1, cutoff=0.6)
        _require(column in keys, "model.country_holidays_column",
                 f"is {column!r}, not one of input.key_columns {keys}"
                 f"{f' (did you mean {close[0]!r}?)' if close else ''}: a column holding each series' country "
                 "code that is not a key belongs in input.key_columns too (it does not split a series)")


def _check_tuning(config: JobConfig) -> None:
    """Tuning, selection and cross-validation: the last also against forecast.min_history."""
    fc = config.forecast
    tu = config.tuning
    _require(tu.max_evals >= 1, "tuning.max_evals", "must be at least 1")
    _require(tu.seed >= 0, "tuning.seed", "must be 0 or more")
    _require(tu.metric in METRICS, "tuning.metric", f"must be one of {METRICS}")
    _require(tu.patience is None or tu.patience >= 1, "tuning.patience", "must be at least 1, or null")
    for name, space in tu.search_space.items():
        validate_space(name, space)
        for i, value in enumerate(space.values or ()):
            unseen = _cycle_unseen(name, value, config.forecast.frequency)
            _require(not unseen, f"tuning.search_space.{name}.values[{i}]", unseen)

    chosen = config.selection.candidates
    _require(bool(chosen), "selection.candidates", "needs at least one model")
    unknown = [c for c in chosen if c not in CANDIDATES]
    _require(not unknown, "selection.candidates", f"has unknown models {unknown}; known: {CANDIDATES}")
    _require(len(set(chosen)) == len(chosen), "selection.candidates",
             f"names a model twice ({chosen}): each is scored once")
    metric = config.selection.metric
    _require(metric is None or metric in METRICS, "selection.metric", f"must be null or one of {METRICS}")

    cv = config.cross_validation
    _require(cv.folds >= 1, "cross_validation.folds", "must be at least 1")
    _require(cv.horizon is None or cv.horizon > 0, "cross_validation.horizon", "must be positive")
    _require(cv.step is None or cv.step > 0, "cross_validation.step", "must be positive")
    # below this a series passes the check but leaves tuning no fold to score, and fails
    fold_rows = cv_horizon(config) + MIN_FOLD_TRAIN_ROWS
    _require(fc.min_history is None or fc.min_history >= fold_rows, "forecast.min_history",
             f"is {fc.min_history}, below the {fold_rows} rows one cross-validation fold needs "
             f"({fold_rows - MIN_FOLD_TRAIN_ROWS} to score, {MIN_FOLD_TRAIN_ROWS} to train on): raise it, "
             "or shorten cross_validation.horizon")


def _check_tracking(config: JobConfig) -> None:
    """Tracking, and reliability (what a failed series or tracking call does)."""
    _require(bool(config.tracking.uri.strip()), "tracking.uri", "must not be empty")
    check_file_uri("tracking.uri", config.tracking.uri)
    check_tracking_uri(config.tracking.uri)
    _require(not is_databricks_uri(config.tracking.uri) or config.tracking.experiment.startswith("/"),
             "tracking.experiment",
             f"is {config.tracking.experiment!r}: Databricks names an experiment by its absolute workspace path, "
             "such as /Shared/many-model-forecasting or /Users/<you>/many-model-forecasting")
    name = config.tracking.registered_model
    _require(name is None or bool(name.strip()), "tracking.registered_model",
             "must be a name, or null to register nothing")
    refused = sorted(set(name or "") & set(MODEL_NAME_REFUSED_CHARACTERS))
    _require(not refused, "tracking.registered_model",
             f"has {name!r}: MLflow cannot look up, store or serve a registered model whose name holds "
             f"{' or '.join(refused)}; use letters, digits, spaces, '-', '_' and '.'")
    _require(name is None or name.isprintable(), "tracking.registered_model",
             f"has {name!r}: a line break or other control character cannot name a model")
    _require(name is None or len(name.encode()) <= MAX_MODEL_NAME_BYTES, "tracking.registered_model",
             f"is {len(name.encode()) if name else 0} bytes long: at most {MAX_MODEL_NAME_BYTES}, the longest file "
             "name a file system takes (MLflow's file store keeps a model in a folder of its name)")
    # MLflow refuses its client's settings at these limits (its _MLFLOW_HTTP_REQUEST_MAX_* variables), at the
    # first request to a server: after Spark has started, with a traceback
    retries = _limit("_MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT", MLFLOW_MAX_RETRIES_LIMIT)
    backoff = _limit("_MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT", MLFLOW_MAX_BACKOFF_LIMIT)
    _require(0 <= config.tracking.max_retries < retries, "tracking.max_retries",
             f"must be 0 or more and under {retries}, MLflow's limit")
    _require(0 <= config.tracking.backoff_seconds < backoff, "tracking.backoff_seconds",
             f"must be 0 or more and under {backoff}, MLflow's limit")
    _require(0 < config.tracking.timeout_seconds <= MAX_TIMEOUT_SECONDS, "tracking.timeout_seconds",
             f"must be positive and at most {MAX_TIMEOUT_SECONDS} (a day)")
    rel = config.reliability
    _require(rel.fallback is None or rel.fallback in FALLBACKS, "reliability.fallback", f"must be null or one of {FALLBACKS}")
    _require(0 <= rel.max_failed_share <= 1, "reliability.max_failed_share", "must be between 0 and 1")
    experiment = config.tracking.experiment
    _require(bool(experiment.strip()), "tracking.experiment", "must not be empty")
    _require(experiment == experiment.strip(), "tracking.experiment",
             f"is {experiment!r}: spaces around a name make it another experiment than the name alone")


def _check_output(config: JobConfig) -> None:
    """Output, and the Spark settings the job sets itself."""
    _require(bool(config.output.path.strip()), "output.path", "must not be empty")
    check_file_uri("output.path", config.output.path)
    check_output_folder(config.output.path)
    _require(
        config.output.format in OUTPUT_FORMATS, "output.format", f"must be one of {OUTPUT_FORMATS}"
    )
    prefix = config.output.table_prefix
    _require(
        prefix is None or re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z0-9_]*", prefix) is not None,
        "output.table_prefix",
        "must be letters, digits and underscores, optionally after 'database.'",
    )
    _require(config.spark.shuffle_partitions >= 0, "spark.shuffle_partitions", "must be 0 or more")
    _require("spark.sql.shuffle.partitions" not in config.spark.conf, "spark.conf.spark.sql.shuffle.partitions",
             "is set by the job for its training and scoring stages, from spark.shuffle_partitions (0: chosen "
             "from the series and cores): set that instead")


def horizon_problem(config: JobConfig, run_date: str) -> str | None:
    """Why ``forecast.horizon`` periods from ``run_date`` cannot be forecast: they would
    reach past April 2262, where pandas' times end, and every series would fail after
    its tuning. None where they fit."""
    import pandas as pd

    from forecasting.periods import frequency_offset  # here: pandas only once a config is checked

    horizon, frequency = config.forecast.horizon, config.forecast.frequency
    try:  # a series' data end on the run date at the latest
        end = pd.Timestamp(run_date) + frequency_offset(frequency) * (horizon + 1)
        fits = end <= pd.Timestamp.max
    except (OverflowError, ValueError):  # pandas' OutOfBoundsDatetime is a ValueError
        fits = False
    return None if fits else (f"config key 'forecast.horizon' is {horizon}: {horizon} periods of {frequency!r} from the "
                              f"run date {run_date} reach past April 2262, where pandas' times end")


def _check_column_name(key: str, name: str, is_key: bool, delta_output: bool) -> None:
    """A name Spark reads as a column's; a key column's also names the output tables'
    columns and a tag of its series' child run."""
    _require("." not in name, key, f"has {name!r}: Spark reads a dot in a column name as a struct's field; "
             f"{_rename_hint(name)}")
    if not is_key:
        return
    # a name with a slash is a path below the run's tags folder: not below one of the run's own tag files
    _require(name.lower() not in RESERVED_KEY_NAMES and name.lower().split("/")[0] not in RESERVED_KEY_NAMES, key,
             f"has {name!r}, which the job names its own columns or run tags: "
             f"{_rename_hint(name, None if '/' in name else name + '_key')}")
    _require(_is_tag_name(name), key,
             f"has {name!r}, which cannot name an MLflow tag (letters, digits, spaces and _ - . : / only): "
             f"{_rename_hint(name)}")
    _require(not (delta_output and set(name) & set(DELTA_REFUSED_CHARACTERS)), key,
             f"has {name!r}: Delta tables refuse a space or any of {DELTA_REFUSED_CHARACTERS.strip()!r} in a "
             f"column name: {_rename_hint(name)}, or set output.format: parquet")


def _rename_hint(name: str, suggested: str | None = None) -> str:
    """How to give an input column a name the job takes, without touching the input."""
    suggested = suggested or re.sub(r"\W+", "_", name).strip("_").lower() or "column"
    return f"rename it with input.rename_columns: {{{name!r}: {suggested!r}}}, and use {suggested!r} here"


def _is_tag_name(name: str) -> bool:
    """What MLflow takes as a tag name of its own: its characters, a plain relative
    path (no "a/", "./a" or "/a"), and not one of MLflow's system tags."""
    return bool(TAG_NAME.fullmatch(name)) and posixpath.normpath(name) == name and not name.startswith(("/", "mlflow."))


