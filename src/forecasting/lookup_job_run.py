"""One series as a given training job run wrote it, for the series lookup's --job-run: the
forecast sent out on a date that was run again since, read from the table versions that
run wrote (``table_reads.job_rows``), where the lookup otherwise shows the current rows."""
from __future__ import annotations

from typing import Any, NamedTuple

import pandas as pd

from forecasting import series_identity, tables, tracking
from forecasting.redaction import first_line
from forecasting.table_reads import job_rows, series_condition


class JobRunNotFound(LookupError):
    """No training job run of that id, or none of its rows of the series."""


class TrackedRun(NamedTuple):
    """A job run's MLflow run, and the client that read it (to read the runs it names)."""
    tracker: Any
    run: Any


# MLflow's error codes for a run id no run has: unknown, or no run id at all ("no such run!")
NO_SUCH_RUN = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def training_run(tracker, job_run_id: str):
    """The MLflow parent run of the training job run ``job_run_id`` (JobRunNotFound otherwise)."""
    from mlflow.exceptions import MlflowException

    try:
        job = tracker.get_run(job_run_id)
    except MlflowException as err:
        if err.error_code not in NO_SUCH_RUN:  # a server refusing or failing is not "no such run"
            raise tracking.TrackingUnavailable(_not_given(job_run_id, err)) from err
        raise JobRunNotFound(f"no run {job_run_id} in the MLflow store (python -m forecasting runs --run-date "
                             "YYYY-MM-DD lists a date's job runs, the replaced ones among them)") from None
    if job.data.tags.get(tracking.JOB_TAG) != tracking.TRAIN_JOB:
        raise JobRunNotFound(f"run {job_run_id} is no training job run (its job tag: "
                             f"{job.data.tags.get(tracking.JOB_TAG, 'none')}): --job-run takes a train_forecast run")
    return job


def _not_given(job_run_id: str, err) -> str:
    """Why the store did not give the run: the credentials may not read it, or the server failed."""
    why = ("the credentials may not read that run's experiment: ask its owner for READ permission"
           if err.error_code == "PERMISSION_DENIED" else "asking again once the server works may find it")
    return f"the MLflow store did not give run {job_run_id}: {first_line(err)}; {why}"


def with_rows_of(job, config, keys: dict[str, str], results: pd.DataFrame,
                 forecasts: pd.DataFrame) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """The job run's date, and the series' ``results`` and ``forecasts`` (run dates as text)
    with that date's rows those the job run wrote, in place of the current ones (a series
    the rerun left out too; one skipped then has no forecast)."""
    import pyarrow.dataset as ds

    run_date = job.data.tags[tracking.RUN_DATE_TAG]
    paths, fmt = tables.table_paths(config), config.output.format
    own = []
    for name, current in ((tables.SERIES_RESULTS, results), (tables.FORECASTS, forecasts)):
        # the series' rows of the run's date alone, not every series' the run wrote
        dated = ds.field("run_date").cast("string") == run_date
        try:
            rows = job_rows(paths[name], job, fmt, where=series_condition(paths[name], keys, fmt) & dated)
        except LookupError:  # none of the series': one it skipped has no forecast
            if name == tables.FORECASTS:
                rows = current.iloc[:0]
            else:
                raise JobRunNotFound(_no_rows(job, run_date, keys, paths[name], fmt, dated)) from None
        rows = rows.assign(run_date=rows["run_date"].astype(str)) if not rows.empty else rows
        others = current
        if not current.empty:  # of the date, the rows of the run that replaced it; a scoring run's stay
            replaced = current["run_date"] == run_date
            others = current[~(replaced & (current["source"] == tables.TRAINED))] if name == tables.FORECASTS else (
                current[~replaced])
        own.append(pd.concat([others, rows], ignore_index=True) if not rows.empty else others.reset_index(drop=True))
    return run_date, own[0].sort_values("run_date", kind="stable"), own[1]


def _no_rows(job, run_date: str, keys: dict[str, str], path: str, fmt: str, dated) -> str:
    """Why the job run has no result row of the series: none of its rows here (job_rows says
    why: another output, a version vacuumed), or none of this series'."""
    try:
        job_rows(path, job, fmt, where=dated, columns=["job_run_id"])
    except LookupError as err:
        return f"job run {job.info.run_id} of {run_date}: {err}"
    return f"job run {job.info.run_id} of {run_date} wrote no row of series {series_identity.series_id(keys)} to {path}"


def replacers(tracker, job, most: int = 20) -> list[str]:
    """The later runs of the job run's date that replaced its rows, each the one before's:
    the last holds the current rows (the first only, where MLflow no longer gives the next)."""
    from mlflow.exceptions import MlflowException

    chain = []
    following = job.data.tags.get(tracking.SUPERSEDED_TAG)
    while following and following not in (job.info.run_id, *chain) and len(chain) < most:  # tags set by hand may loop
        chain.append(following)
        try:
            following = tracker.get_run(following).data.tags.get(tracking.SUPERSEDED_TAG)
        except MlflowException:  # deleted since: the runs named so far are what is known
            break
    return chain


def scored_its_forecast(next_job: TrackedRun, job) -> bool:
    """Whether the next run date's training run (``next_job``) scored
    the forecast training run ``job`` wrote, not that of the rerun that replaced it: it
    started before that rerun did."""
    from mlflow.exceptions import MlflowException

    tracker, following = next_job
    replacer = job.data.tags.get(tracking.SUPERSEDED_TAG)
    if not replacer:
        return True
    try:
        return following.info.start_time < tracker.get_run(replacer).info.start_time
    except MlflowException:  # untold: no scores said rather than another forecast's
        return False
