"""Everyday questions about past runs, answered from MLflow and the output tables.

``python -m forecasting`` prints these answers: here one series' (its result, forecast
and child run), in ``run_listing`` the job runs, and ``command_keys`` reads which series
a command line names. They read MLflow with its client and the tables through
``forecasting.table_reads``, as the notebook does: no Spark session, no JVM.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd

from forecasting import lookup_job_run, series_identity, table_reads, tables, tracking
from forecasting.config import JobConfig
from forecasting.config_stores import is_databricks_uri, local_path
from forecasting.lookup_job_run import TrackedRun
from forecasting.lookup_text import dates_text, describe, shown
from forecasting.model import FORECAST_COLUMNS
from forecasting.redaction import redact_url_password

logger = logging.getLogger(__name__)

LOCAL_UI = "http://127.0.0.1:5000"  # where `mlflow ui` serves by default


class NotFound(LookupError):
    """What was asked for is not in the tables or not in MLflow."""


# --------------------------------------------------------------------------- the tracking store


def existing_store(config: JobConfig) -> str:
    """The config's tracking URI. A local store that is not there is not found: MLflow
    would create an empty one, in whatever folder this was run in."""
    uri = tracking.resolve_uri(config.tracking.uri)
    missing = tracking.missing_store(uri)
    if missing:
        raise NotFound(
            f"no MLflow store at {missing}: run this in the folder the job ran in, "
            "or give the job's --config or --set tracking.uri=... (or set MLFLOW_TRACKING_URI, which a config "
            "without tracking.uri takes)"
        )
    return uri


# --------------------------------------------------------------------------- one series


@dataclass
class SeriesReport:
    """What the tables and MLflow say about one series."""

    keys: dict[str, str]
    result: pd.Series  # the newest series_results row, or the asked run date's
    run_dates: list[str]  # every run date series_results or forecasts hold for the series, oldest first
    forecast: pd.DataFrame  # the newest forecast, FORECAST_COLUMNS; empty when there is none
    forecast_run_date: str | None
    forecast_source: str | None
    forecast_model_run_date: str | None
    forecast_runs: tuple[str, str] | None  # the forecast's own job run and child run (the model's)
    child_run_status: str | None
    child_run_where: list[str]  # lines saying where to open the child run
    asked_run_date: str | None = None  # the run date asked for, if any (else the latest)
    replaced_runs: list[str] = field(default_factory=list)  # earlier job runs of its date, which its job run replaced
    output_format: str = "delta"  # whose tables keep the replaced runs' rows
    previous_model: tuple[str, str] | None = None  # (run date, model) of the run date before, where another model won
    # the run date whose forecasts the job run compared with (change, realized), and whether that date was
    # run again since: its current forecasts are not those the columns speak of
    compared: tuple[str, bool] | None = None
    latest_run_date: str | None = None  # the table's latest run date, any series': a later one than its has no row for it
    ranked_by: str = "smape"  # the metric the job run chose its models by (selection.metric, else tuning.metric)
    # of an asked training run date: the next training run date's result row, where its realized_ columns score
    # this date's forecast (how a past forecast did is on the row of the date after it), and whether this date was
    # run again since (the scores are of its forecast as it was then)
    scored_later: tuple[pd.Series, bool] | None = None
    # what differed from the latest of the replaced runs: its settings and the input's data_version (the job run's
    # tags)
    rerun_changes: str = ""
    # where the date's three tables hold rows of different job runs: a run stopped between its writes
    mixed_writes: str = ""
    # the later runs of its date that replaced the shown job run's rows, each the one before's (--job-run)
    replaced_by: tuple[str, ...] = ()
    changes_since: str = ""  # the settings and code in which the job run differed from the run date before's run


def series_report(config: JobConfig, keys: dict[str, str], run_date: str | None = None,
                  job_run: str | None = None) -> SeriesReport:
    """One series' newest result row and forecast (or those of ``run_date``, or as the
    training ``job_run`` wrote them, where its date was run again since), and where its
    MLflow child run is."""
    paths = tables.table_paths(config)
    try:
        results = _read(paths[tables.SERIES_RESULTS], keys, config.output.format)
    except NotFound as err:
        raise NotFound(f"{err}{_written_elsewhere(config)}") from None
    if results.empty and job_run is None:  # a series a rerun left out is the job run's to find
        hint = _forecast_only(config, keys) or _similar(paths[tables.SERIES_RESULTS], keys, config.output.format)
        raise NotFound(f"no series {describe(keys)} in {paths[tables.SERIES_RESULTS]}{hint}")
    results = results.assign(run_date=results["run_date"].astype(str)).sort_values("run_date")
    forecasts = _read(paths[tables.FORECASTS], keys, config.output.format)
    forecasts = forecasts.assign(run_date=forecasts["run_date"].astype(str)) if not forecasts.empty else forecasts
    asked = None  # the job run asked for, as _job_run gives one
    if job_run is not None:
        try:
            tracker = tracking.client(existing_store(config))
            asked = TrackedRun(tracker, lookup_job_run.training_run(tracker, job_run))
            run_date, results, forecasts = lookup_job_run.with_rows_of(asked.run, config, keys, results, forecasts)
        except lookup_job_run.JobRunNotFound as err:
            raise NotFound(str(err)) from None
    # a scoring run writes forecasts only: its dates are the series' run dates too
    run_dates = sorted({*results["run_date"], *(forecasts["run_date"] if not forecasts.empty else [])})
    later = results.iloc[:0]  # of an asked run date: the training rows after it
    if run_date is not None:
        forecasts = forecasts[forecasts["run_date"] == run_date] if not forecasts.empty else forecasts
        if run_date not in set(results["run_date"]) and forecasts.empty:
            raise NotFound(f"no run date {run_date} for series {describe(keys)} in {paths[tables.SERIES_RESULTS]} "
                           f"or {paths[tables.FORECASTS]}; its run dates: {dates_text(run_dates)}")
        later = results[results["run_date"] > run_date]
        results = results[results["run_date"] <= run_date]  # a scoring date's: the training's before it
        if results.empty:
            raise NotFound(f"no training result for series {describe(keys)} on or before {run_date}")
    result = results.iloc[-1]
    scored_later = None
    # not a scoring date's: the forecast shown is then its own, not the training's the next date scored
    if run_date == str(result["run_date"]) and not later.empty and not pd.isna(later.iloc[0].get("realized_points")):
        following = later.iloc[0]
        next_job = _job_run(config, following)
        compared = _compared(next_job)
        if compared is not None and compared[0] == run_date and (
                asked is None or lookup_job_run.scored_its_forecast(next_job, asked.run)):
            scored_later = (following, compared[1])

    forecast_date = source = model_run_date = runs = None
    forecast = pd.DataFrame(columns=FORECAST_COLUMNS)
    if not forecasts.empty:
        # the rule of tables.latest_forecasts: newest run date, 'trained' before 'scored' on a tie
        forecast_date, source = max(zip(forecasts["run_date"], forecasts["source"]))
        newest = forecasts[(forecasts["run_date"] == forecast_date) & (forecasts["source"] == source)]
        forecast = newest.sort_values("ds")[FORECAST_COLUMNS].reset_index(drop=True)
        model_run_date = str(newest["model_run_date"].iloc[0]) if "model_run_date" in newest else None
        forecast_date = str(forecast_date)
        # another run's than the result row's where it was scored, or the series left out of a later run
        runs = (shown(newest["job_run_id"].iloc[0]), shown(newest["child_run_id"].iloc[0]))
        trained_on = results[results["run_date"] == model_run_date]
        if run_date is not None and source == tables.SCORED and not trained_on.empty:
            result = trained_on.iloc[-1]  # the training whose model that scoring run forecast from

    status, where = _child_run(config, result.get("child_run_id"))
    before = results[results["run_date"] < result["run_date"]]
    # another model's forecast on the date before: none to compare where either date has no forecast (skipped)
    previous = before["model"].iloc[-1] if "model" in before and not before.empty else None
    model = result.get("model")
    switched = (None if pd.isna(previous) or pd.isna(model) or previous == model
                else (before["run_date"].iloc[-1], shown(previous)))
    # asked once, for the replaced runs and the compared date's rerun (the run --job-run read, as it is)
    job = asked if asked is not None else _job_run(config, result)
    return SeriesReport(keys, result, run_dates, forecast, forecast_date, source, model_run_date, runs, status, where,
                        run_date, _replaced_runs(config, job, str(result["run_date"])), config.output.format,
                        switched, latest_run_date=_latest_run_date(paths[tables.SERIES_RESULTS], config.output.format),
                        compared=_compared(job), ranked_by=_ranked_by(config, job), scored_later=scored_later,
                        rerun_changes=_rerun_changes(job), mixed_writes=mixed_writes(config, str(result["run_date"])),
                        replaced_by=tuple(lookup_job_run.replacers(*job)) if job else (),
                        changes_since=_changes_since(job))


def mixed_writes(config: JobConfig, run_date: str) -> str:
    """What to say where ``run_date``'s three tables hold rows of different job runs (a run
    stopped between its table writes left its rows in some, an earlier run's in the others),
    whose lines would otherwise contradict each other; "" where they hold one run's."""
    paths = tables.table_paths(config)
    try:
        held = {name: table_reads.date_job_runs(paths[name], run_date, config.output.format,
                                                tables.TRAINED if name == tables.FORECASTS else None)
                for name in tables.TRAINING_TABLES}
    except Exception as err:  # only a warning: the answer stands without it
        logger.debug("could not read the job runs of run date %s: %s", run_date, err)
        return ""
    if len(set().union(*held.values())) <= 1:
        return ""
    said = "; ".join(f"{name} {', '.join(sorted(runs)) or 'none'}" for name, runs in held.items())
    return (f"run date {run_date}'s tables hold rows of different job runs ({said}): a run stopped between its "
            "table writes (python -m forecasting runs says which failed after writing). Run the date again; until "
            "then this series' lines may come from either run")


def _forecast_only(config: JobConfig, keys: dict[str, str]) -> str:
    """Where the forecasts table has a series that series_results lacks, which and why, as the
    not-found message's end: a run stopped between its writes; "" where it has none either."""
    try:
        forecasts = _read(tables.table_paths(config)[tables.FORECASTS], keys, config.output.format)
    except NotFound:
        return ""
    if forecasts.empty:
        return ""
    dates = sorted({str(day) for day in forecasts["run_date"]})
    said = mixed_writes(config, dates[-1])
    return f"; the forecasts table has rows of it (run dates {dates_text(dates)})" + (f": {said}" if said else "")


def _job_run(config: JobConfig, result: pd.Series) -> TrackedRun | None:
    """A client of the config's tracking store and the result's job run (its MLflow parent
    run); None where untold (a row without one, MLflow out of reach: the child run's line
    says where MLflow is not)."""
    from mlflow.exceptions import MlflowException

    job_run_id = result.get("job_run_id")
    if not isinstance(job_run_id, str) or not job_run_id:
        return None
    try:
        tracker = tracking.client(existing_store(config))
        return TrackedRun(tracker, tracker.get_run(job_run_id))
    except (NotFound, MlflowException):
        return None


def _ranked_by(config: JobConfig, job: TrackedRun | None) -> str:
    """The metric the job run (``_job_run``) chose its models by, from its params; the
    config's where untold (MLflow out of reach)."""
    params = job.run.data.params if job is not None else {}
    if not params:
        return config.selection.metric or config.tuning.metric
    chosen = params.get("selection.metric", "None")
    return params.get("tuning.metric", config.tuning.metric) if chosen in ("None", "") else chosen


def _compared(job: TrackedRun | None) -> tuple[str, bool] | None:
    """The run date the job run (``_job_run``) compared its forecasts with, and whether
    that date was run again since (replaced_runs.compared_since); None where untold."""
    from forecasting.replaced_runs import compared_since

    return None if job is None else compared_since(*job)


def _training_runs(tracker, config: JobConfig, experiment_id: str, run_date: str, condition: str = "") -> list:
    """The training runs of ``run_date`` (and ``condition``, a filter's further clause) that
    wrote to the config's output, oldest first."""
    from forecasting.replaced_runs import same_output

    runs = tracker.search_runs([experiment_id], order_by=["attributes.start_time ASC"],
                               filter_string=f"tags.{tracking.JOB_TAG} = '{tracking.TRAIN_JOB}' and "
                                             f"tags.{tracking.RUN_DATE_TAG} = '{run_date}'{condition}")
    output = redact_url_password(tables.output_root(config))  # as the runs' tags and params hold it
    return [run for run in runs if same_output(tracking.run_output(run), output)]


def _latest_run_date(path: str, fmt: str) -> str | None:
    """The table's latest training run date, whichever series it holds; None where its
    files cannot be listed (only a hint is lost)."""
    try:
        return (table_reads.run_dates(path, fmt) or [None])[-1]
    except Exception as err:
        logger.debug("could not list the run dates of %s: %s", path, err)
        return None


def _rerun_changes(job: TrackedRun | None) -> str:
    """What the job run's rerun changed from the run of its date it replaced, as its tags keep it:
    the settings that differed, the input's data_version where it read other data, and the code
    and package versions; "" where nothing or nothing told."""
    if job is None:
        return ""
    tags, said = job.run.data.tags, []
    if tags.get(tracking.CHANGED_SETTINGS_TAG):
        said.append(f"settings {tags[tracking.CHANGED_SETTINGS_TAG]}")
    if tags.get(tracking.REPLACED_DATA_VERSION_TAG):
        said.append(f"input data_version {tags[tracking.REPLACED_DATA_VERSION_TAG]} -> "
                    f"{tags.get(tracking.DATA_VERSION_TAG, '?')}")
    if tags.get(tracking.CHANGED_CODE_TAG):
        said.append(f"code {tags[tracking.CHANGED_CODE_TAG]}")
    return "; ".join(said)


def _changes_since(job: TrackedRun | None) -> str:
    """The settings and code in which the job run differed from the run of the run date
    before, as its tags keep them; "" where none or untold."""
    tags = job.run.data.tags if job is not None else {}
    return "; ".join(f"{what} {tags[tag]}" for what, tag in (("settings", tracking.SETTINGS_SINCE_TAG),
                                                               ("code", tracking.CODE_SINCE_TAG)) if tags.get(tag))


def _replaced_runs(config: JobConfig, job: TrackedRun | None, run_date: str) -> list[str]:
    """The earlier training runs of ``run_date`` and the config's output that the job run
    (``_job_run``), or one between, replaced: a date run again looks, in the tables, as if
    run once."""
    from mlflow.exceptions import MlflowException

    if job is None:
        return []
    tracker, own = job
    try:
        runs = _training_runs(tracker, config, own.info.experiment_id, run_date)
    except MlflowException:
        return []
    return [run.info.run_id for run in runs  # before it: a job run --job-run shows was replaced by later ones
            if run.info.start_time < own.info.start_time and tracking.SUPERSEDED_TAG in run.data.tags]


def _written_elsewhere(config: JobConfig) -> str:
    """Where the newest training runs of the config's experiment wrote their tables, where
    that is not the config's output (a relative output.path, asked in another folder), as
    a not-found message's end; "" where there is nothing to add."""
    from forecasting import explore
    from forecasting.replaced_runs import other_outputs, same_output

    try:
        runs = explore.job_runs(existing_store(config), config.tracking.experiment, tracking.TRAIN_JOB, max_results=10)
    except LookupError as err:  # the store is relative too (mlruns, the default), or has only other configs' runs
        return f"; and {err}"
    except Exception as err:  # only a hint: the answer stays "not found"
        logger.debug("could not look up where the runs wrote: %s", err)
        return ""
    here = redact_url_password(tables.output_root(config))
    mine = [run for run in runs if same_output(run.data.tags.get(tracking.OUTPUT_PATH_TAG), here)]  # newest first
    if mine:  # the right output: where the tables are is no question, but maybe in what format
        written_as = mine[0].data.params.get("output.format")
        return (f". The newest training run that wrote to {here} wrote {written_as} tables: give "
                f"--set output.format={written_as}" if written_as and written_as != config.output.format else "")
    written = other_outputs(runs, here)
    if not written:
        return ""
    return (f". The newest training runs of experiment '{config.tracking.experiment}' wrote their tables to "
            f"{', '.join(written)}: run this in the folder the job ran in, or give --set output.path=<that folder>")


def _read(path: str, keys: dict[str, str], fmt: str) -> pd.DataFrame:
    from deltalake.exceptions import TableNotFoundError

    try:
        rows = table_reads.read_series(path, keys, fmt)
    except (TableNotFoundError, FileNotFoundError):
        if (Path(local_path(path)).parent / tables.EVALUATION).is_dir():  # the evaluation job's output only
            raise NotFound(f"no {fmt} table at {path}: that output holds the evaluation job's table only, and this "
                           "reads the training job's. Run jobs/train_forecast.py with this config; an evaluation's "
                           "results are its table and parent run (python -m forecasting runs, compare)") from None
        other = "parquet" if fmt == "delta" else "delta"
        raise NotFound(f"no {fmt} table at {path}: has a job written there with this config? (for a job writing "
                       f"{other}, give its --config, or --set output.format={other}, here too)") from None
    except LookupError as err:  # the table lacks a key column: another job's table
        raise NotFound(str(err)) from None
    # keyed by more columns than the config names: the rows of several series would be mixed
    others = [column for column in tables.key_columns_of(rows.columns) if column not in keys]
    if others:
        raise NotFound(f"{path} holds series keyed by {', '.join([*keys, *others])}, but the config's key columns "
                       f"are {', '.join(keys)}: give the --config of the job that wrote it")
    return rows


def _similar(path: str, keys: dict[str, str], fmt: str) -> str:
    """The table's series a mistyped one most likely meant (another case, a letter off), as
    the not-found message's end; "" where none is close."""
    try:  # compared by their values alone: the column names they share would make any two alike
        known = {series_identity.series_id(series): describe(series)
                 for series in table_reads.series_keys(path, list(keys), fmt)}
    except Exception as err:  # only a hint: the answer stays "not found"
        logger.debug("could not list the series of %s: %s", path, err)
        return ""
    close = series_identity.closest_series(series_identity.series_id(keys), known)
    return f"; did you mean {' or '.join(known[values] for values in close)}?" if close else ""


def _child_run(config: JobConfig, run_id) -> tuple[str | None, list[str]]:
    if not isinstance(run_id, str) or not run_id:
        return None, []
    from mlflow.exceptions import MlflowException

    try:
        uri = existing_store(config)
    except NotFound as err:
        logger.warning("child run %s: %s", run_id, err)
        return "no MLflow store here", []
    try:
        run = tracking.client(uri).get_run(run_id)
    except MlflowException as err:
        logger.warning("child run %s not found at %s: %s", run_id, uri, err)
        return f"not found at {redact_url_password(uri)}", []
    return run.info.status, run_location(uri, run.info.experiment_id, run_id)


def run_location(uri: str, experiment_id: str, run_id: str) -> list[str]:
    """Where to open a run: its page on a tracking server, or its folder and the local UI
    (a password in the URI left out; a page's link without the user, which a browser asks for)."""
    page = f"#/experiments/{experiment_id}/runs/{run_id}"
    uri = redact_url_password(uri)  # first: urlparse misreads a password holding a / or a #
    if urlparse(uri).scheme in ("http", "https"):
        link = urlparse(uri)._replace(netloc=urlparse(uri).netloc.rpartition("@")[2]).geturl()
        return [f"{link.rstrip('/')}/{page}"]
    if is_databricks_uri(uri):
        where = "the workspace" if uri == "databricks" else f"the workspace of profile {urlparse(uri).netloc}"
        return [f"in {where}: #mlflow/experiments/{experiment_id}/runs/{run_id}"]
    lines = []
    if urlparse(uri).scheme == "file":
        lines.append(str(Path(unquote(urlparse(uri).path)) / experiment_id / run_id))  # a space is %20 in the URI
    lines.append(f"mlflow ui --backend-store-uri {uri}, then {LOCAL_UI}/{page}")
    return lines
