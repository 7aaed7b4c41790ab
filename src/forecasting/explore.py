"""Helpers for looking at a finished run from a notebook, without Spark.

They find runs with MLflow's client; the tables are read by ``table_reads`` and a
series' input by ``input_history``, whose functions are here too, so a notebook or
an analyst's laptop needs neither a JVM nor a cluster.
"""
from __future__ import annotations

import functools
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from forecasting import redaction, run_overview, series_identity, server_check, tracking
from forecasting.input_history import key_matches, load_history
from forecasting.config_stores import resolved_output
from forecasting.redaction import redact_url_password
from forecasting.replaced_runs import same_output
from forecasting.table_reads import job_rows, read_series, read_table, series_keys, version_written_by

# the notebook's and docs' import for runs, tables and a series' input alike
__all__ = ["job_runs", "latest_job_run", "series_runs", "run_config", "job_overview", "series_rows",
           "modelled_history", "fitted_or_input_history", "read_table", "read_series", "series_keys", "job_rows",
           "version_written_by", "load_history"]

SERVER_CHECK_SECONDS = 30  # a tracking server's answer to the check before the first search, as the job's default
SERVER_ANSWER_KEPT_SECONDS = 60  # a server that answered as recently is not checked again (one command's searches)
# How many of an experiment's finished job runs of the latest run dates latest_job_run looks through for one output's
OUTPUT_SEARCH_RUNS = 500


def job_runs(
    tracking_uri: str, experiment: str, job: str | None = None, finished_only: bool = False, max_results: int = 10,
    run_date: str | None = None, latest_date_first: bool = False,
) -> list:
    """The newest parent runs (one per job run) in ``experiment``, newest first: of ``job``,
    or of every job (training, scoring, evaluation) when it is None; of ``run_date`` only,
    where given; with ``latest_date_first``, the latest run date's first (a backfill of an
    earlier date, run since, after them)."""
    client = _store_client(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:  # a config's own experiment (airports), where the notebook looked in the default one
        raise LookupError(f"no experiment {experiment!r} at {redact_url_password(tracking_uri)}: "
                          f"{_experiments_there(client)} (tracking.experiment in the job's config; in the notebook, "
                          "FORECAST_EXPERIMENT)")
    # child runs carry no job tag, so "any job tag" picks the parent runs
    conditions = [f"tags.{tracking.JOB_TAG} = '{job}'" if job else f"tags.{tracking.JOB_TAG} LIKE '%'"]
    if finished_only:
        conditions.append("attributes.status = 'FINISHED'")
    if run_date:
        conditions.append(f"tags.{tracking.RUN_DATE_TAG} = '{run_date}'")
    return client.search_runs(
        [found.experiment_id],
        filter_string=" and ".join(conditions),
        order_by=[*([f"tags.{tracking.RUN_DATE_TAG} DESC"] if latest_date_first else []), "attributes.start_time DESC"],
        max_results=max_results,
    )


def _store_client(tracking_uri: str):
    """A client of the MLflow store, which must exist (none is made) and answer."""
    missing = tracking.missing_store(tracking_uri)
    if missing:
        raise LookupError(f"no MLflow store at {missing}: run this in the folder the job ran in, "
                          "or set MLFLOW_TRACKING_URI (and, in the notebook, FORECAST_OUTPUT for the tables)")
    try:  # a server down or refusing us, said in a line, where MLflow retries for minutes or dumps its request
        server_check.check_server(tracking_uri, SERVER_CHECK_SECONDS, SERVER_ANSWER_KEPT_SECONDS)
    except tracking.TrackingUnavailable as err:  # a notebook shows it: a password in the URI left out
        raise tracking.TrackingUnavailable(redact_url_password(str(err))) from None
    return tracking.client(tracking_uri)


def training_job_run(tracking_uri: str, run_id: str, run_date: str | None = None, experiment: str | None = None):
    """The training job run of that id, whichever date and whether a rerun of its date
    replaced it since (job_rows then reads its rows from the versions it wrote);
    LookupError where there is none, or where it is not of the ``run_date`` or
    ``experiment`` also asked for (the notebook's variables, each a way to pick a run)."""
    from forecasting.lookup_job_run import training_run

    client = _store_client(tracking_uri)
    job = training_run(client, run_id)
    its_date = job.data.tags.get(tracking.RUN_DATE_TAG)
    if run_date and its_date != run_date:
        raise LookupError(f"job run {run_id} is of run date {its_date}, not {run_date}: ask for one or the other "
                          "(in the notebook, FORECAST_JOB_RUN or FORECAST_RUN_DATE)")
    if experiment:
        its_experiment = client.get_experiment(job.info.experiment_id).name
        if its_experiment != experiment:
            raise LookupError(f"job run {run_id} is in experiment {its_experiment!r}, not {experiment!r} (in the "
                              "notebook, FORECAST_EXPERIMENT: unset it to take the run's own)")
    return job


def _experiments_there(client, shown: int = 8) -> str:
    """A few of the experiments a store has, for a name not found (a shared server may have thousands)."""
    try:
        names = [e.name for e in client.search_experiments(max_results=shown + 2) if e.name != "Default"]
    except Exception as err:  # the message it helps with matters more
        return f"its experiments could not be listed ({redaction.first_line(err)})"
    if not names:
        return "it has no experiment but Default"
    more = ", ..." if len(names) > shown else ""
    return f"it has {', '.join(map(repr, names[:shown]))}{more}"


def latest_job_run(tracking_uri: str, experiment: str, job: str = tracking.TRAIN_JOB, output: str | None = None,
                   run_date: str | None = None):
    """The newest finished parent run of ``job`` in ``experiment`` of the latest run date
    (the forecast the tables' latest rows hold and the served alias stays on, not a
    backfill of an earlier date run since), or of ``run_date`` where given (last month's
    forecast, explained); given ``output`` (an absolute folder), the newest that wrote its
    tables there, where configs share an experiment (a run from before the output_path
    tag, 2026-12-02, may be any's), among the experiment's ``OUTPUT_SEARCH_RUNS`` finished
    runs of the job of the latest run dates."""
    runs = job_runs(tracking_uri, experiment, job, finished_only=True,
                    max_results=1 if output is None else OUTPUT_SEARCH_RUNS, run_date=run_date, latest_date_first=True)
    if not runs:
        dated = f" of run date {run_date}" if run_date else ""
        there = _dates_there(tracking_uri, experiment, job, run_date)
        raise LookupError(f"no finished {job} run{dated} in experiment {experiment!r}{there}")
    if output is None:
        return runs[0]
    mine = [run for run in runs if run.data.tags.get(tracking.OUTPUT_PATH_TAG, output) == output]
    if not mine:
        among = f" of the {len(runs)} of the latest run dates" if len(runs) == OUTPUT_SEARCH_RUNS else ""
        among += f" of run date {run_date}" if run_date else ""
        raise LookupError(f"no finished {job} run{among} in experiment {experiment!r} wrote its tables to {output}: "
                          f"the latest wrote to {tracking.run_output(runs[0])} (in the notebook: set FORECAST_OUTPUT "
                          "to that folder)")
    return mine[0]


def _dates_there(tracking_uri: str, experiment: str, job: str, run_date: str | None, shown: int = 8) -> str:
    """The run dates of the experiment's finished ``job`` runs nearest ``run_date``, for its
    error ("": none at all, or no date asked for)."""
    if not run_date:
        return ""
    dates = sorted({run.data.tags.get(tracking.RUN_DATE_TAG) for run in job_runs(
        tracking_uri, experiment, job, finished_only=True, max_results=OUTPUT_SEARCH_RUNS)} - {None})
    try:
        asked = pd.Timestamp(run_date)
    except ValueError:  # no date: the latest ones
        return f": it has run dates {', '.join(dates[-shown:])}" if dates else ": it has none"
    nearest = sorted(sorted(dates, key=lambda date: abs(pd.Timestamp(date) - asked))[:shown])
    return f": it has run dates {', '.join(nearest)}" if nearest else ": it has none"


def series_runs(tracking_uri: str, experiment_id: str, keys: dict[str, Any], output: str | None = None,
                job: str | None = None) -> pd.DataFrame:
    """Every child run of one series, newest first, as a frame of runs; ``replaced_by``
    names the later job run that replaced its job run's rows (a rerun of its date), else
    None, ``output`` the tables its job run wrote and ``job`` its job. Given ``output`` (a
    job run's output_path tag), only the runs of job runs that wrote there: configs sharing an
    experiment name the same series; given ``job`` (train_forecast), only that job's (an
    evaluation's runs score forecasts made without the held-out periods; a run from before
    the from_job tag, 2026-12-02, is kept)."""
    import mlflow

    client = tracking.client(tracking_uri)
    runs = mlflow.search_runs(experiment_ids=[experiment_id], filter_string=series_identity.series_filter(keys),
                              order_by=["attributes.start_time DESC"])
    parent = f"tags.{tracking.PARENT_TAG}"
    parents = runs[parent].dropna().unique() if parent in runs else []
    job_runs = {run_id: client.get_run(run_id) for run_id in parents}
    of_parent = runs[parent] if parent in runs else pd.Series(None, index=runs.index, dtype=object)
    from_job = f"tags.{tracking.FROM_JOB_TAG}"
    runs = runs.assign(
        replaced_by=of_parent.map(lambda run_id: job_runs[run_id].data.tags.get(tracking.SUPERSEDED_TAG)
                                  if run_id in job_runs else None),
        # its output_path tag, or a run's of older code its output.path param
        output=of_parent.map(lambda run_id: tracking.run_output(job_runs[run_id]) if run_id in job_runs else None),
        job=runs[from_job] if from_job in runs else None)
    if output is not None:  # as the tag holds it: "output" too
        wanted = resolved_output(output)
        runs = runs[runs["output"].map(lambda written: same_output(written, wanted)).astype(bool)]
    if job is not None:
        runs = runs[runs["job"].isna() | (runs["job"] == job)]
    return runs.reset_index(drop=True)


def run_config(tracking_uri: str, run_id: str) -> dict:
    """The resolved configuration a job run used."""
    import mlflow

    tracking.client(tracking_uri)  # points MLflow's own calls (load_text) at this store
    return yaml.safe_load(mlflow.artifacts.load_text(f"runs:/{run_id}/config/resolved.yaml"))


def job_overview(tracking_uri: str, run_id: str) -> str | None:
    """The overview picture (SVG text, ``run_overview``) a training or evaluation run
    logged on its parent run; None for a run from before the job drew one."""
    import mlflow

    client = tracking.client(tracking_uri)
    if run_overview.ARTIFACT not in {item.path for item in client.list_artifacts(run_id)}:
        return None
    return mlflow.artifacts.load_text(f"runs:/{run_id}/{run_overview.ARTIFACT}")


def stale_comparison(tracking_uri: str, job) -> str | None:
    """What to say where the run date a training run compared its forecasts with was run
    again since: its forecast_change and realized_ columns speak of that date's forecasts
    as they were then, not of those its tables now hold. None otherwise."""
    from forecasting.replaced_runs import compared_since

    compared = compared_since(tracking.client(tracking_uri), job)
    if compared is None or not compared[1]:
        return None
    return (f"forecast_change and the realized_ columns compare with the forecasts of run date {compared[0]} as they "
            f"were then: {compared[0]} was run again since (run {job.data.tags.get(tracking.RUN_DATE_TAG)} again to "
            "compare with its current forecasts)")


def series_rows(frame: pd.DataFrame, keys: dict[str, Any]) -> pd.DataFrame:
    """One series' rows of a table's ``frame``, its keys compared as text
    (``series_identity.key_text``: 12 finds a CSV's "12"). LookupError where none
    matches, naming a few of the series the frame has."""
    matched = pd.Series(True, index=frame.index)
    for column, value in keys.items():
        matched &= key_matches(frame[column], value)
    if not matched.any():
        known = frame[list(keys)].drop_duplicates().head(5).to_dict("records")
        raise LookupError(f"no rows of series {series_identity.series_id(keys)}; the table has e.g. "
                          f"{', '.join(series_identity.series_id(row) for row in known) or 'no series'}")
    return frame[matched]


def asked_series(asked: str, results: pd.DataFrame, keys: list[str]) -> dict[str, Any]:
    """The series ``asked`` names (its id as the summary names it, ``north/milk``, or
    ``store=north item=milk``) among a run's ``results`` rows, its key values as the table
    holds them; ValueError or LookupError saying why where it names none of them."""
    from forecasting.command_keys import key_values

    # an id whole (its spaces and "\\/" its own); pairs split as a shell would: store="north east"
    pairs = shlex.split(asked) if "=" in asked else [asked.strip()]
    row = series_rows(results, key_values(keys, pairs)).iloc[0]
    return {key: row[key] for key in keys}


def fitted_or_input_history(output: str | Path, job, config: dict, keys: dict[str, Any], fmt: str = "delta",
                            folder: str | Path | None = None) -> pd.DataFrame:
    """The history a series' model of job run ``job`` was fitted on, from the models table
    under ``output`` (model_store.fitted_history: exact, whatever the input has become since);
    for a series without a model (skipped without a fallback), its input rows as the job read
    them on its run date (``load_history`` from ``folder``, where the run started), cleaned as
    the run cleaned them. ValueError where those need Spark (``load_history``)."""
    import pyarrow.dataset as ds

    from forecasting import model_store

    models = Path(output) / "models"
    try:
        # the keys first, then one series' model: a run's every model is some 100 KB a series
        found = series_rows(job_rows(models, job, fmt, columns=list(keys)), keys).iloc[0]
        plain = [ds.field(k) == found[k] for k in keys if isinstance(found[k], (str, int, np.integer))]
        where = functools.reduce(lambda a, b: a & b, plain) if plain else None
        stored = series_rows(job_rows(models, job, fmt, where=where, columns=[*keys, "model", "model_json"]),
                             keys).iloc[0]
    except LookupError:  # no models table there, or no model of this series
        run_date = job.data.tags[tracking.RUN_DATE_TAG]
        rows = load_history(config, keys, job.data.tags.get(tracking.DATA_VERSION_TAG), run_date, folder=folder)
        return modelled_history(config, rows, run_date, job.data.tags.get(tracking.INPUT_END_TAG))
    return model_store.fitted_history(stored["model"], stored["model_json"])


def modelled_history(config: dict, history: pd.DataFrame, run_date: str | None = None,
                     input_end: str | None = None) -> pd.DataFrame:
    """A series' input rows (``load_history``) as its model saw them, on the run's
    forecast.frequency periods: cleaned by the run's cleaning settings (``config``,
    run_config's), so daily rows summed into weeks are drawn as weeks beside a weekly
    forecast, as the child run's plot draws them. ``input_end``: the job run's tag of that
    name, how far the whole input reached (else the series' own last time). The rows as
    they are where cleaning refused the series."""
    from forecasting.cleaning import clean_history
    from forecasting.config import stored_cleaning

    policy = stored_cleaning(config)
    history = history.sort_values("ds")
    if input_end is None and len(history):  # a run from before the tag: the series' own last time
        input_end = history["ds"].max()
    elif isinstance(input_end, str) and len(input_end) == len("2026-12-01"):  # an older run's tag: a date alone,
        input_end = pd.Timestamp(input_end) + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")  # read as the whole day
    cleaned = clean_history(history, config["forecast"]["frequency"], policy, run_date, input_end=input_end)
    return history if cleaned.rejection else cleaned.history
