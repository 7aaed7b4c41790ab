"""One series as a given training job run wrote it, for the series lookup's --job-run: the
forecast sent out on a date that was run again since, read from the table versions that
run wrote (``table_reads.job_rows``), where the lookup otherwise shows the current rows."""
from __future__ import annotations

import pandas as pd

from forecasting import tables, tracking
from forecasting.explore import series_rows
from forecasting.table_reads import job_rows


class JobRunNotFound(LookupError):
    """No training job run of that id, or none of its rows of the series."""


def training_run(tracker, job_run_id: str):
    """The MLflow parent run of the training job run ``job_run_id`` (JobRunNotFound otherwise)."""
    from mlflow.exceptions import MlflowException

    try:
        job = tracker.get_run(job_run_id)
    except MlflowException:
        raise JobRunNotFound(f"no run {job_run_id} in the MLflow store (python -m forecasting runs --run-date "
                             "YYYY-MM-DD lists a date's job runs, the replaced ones among them)") from None
    if job.data.tags.get(tracking.JOB_TAG) != tracking.TRAIN_JOB:
        raise JobRunNotFound(f"run {job_run_id} is no training job run (its job tag: "
                             f"{job.data.tags.get(tracking.JOB_TAG, 'none')}): --job-run takes a train_forecast run")
    return job


def with_rows_of(job, config, keys: dict[str, str], results: pd.DataFrame,
                 forecasts: pd.DataFrame) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """The job run's date, and the series' ``results`` and ``forecasts`` (run dates as text)
    with that date's rows those the job run wrote, in place of the current ones."""
    run_date = job.data.tags[tracking.RUN_DATE_TAG]
    paths, fmt = tables.table_paths(config), config.output.format
    own = []
    for name, current in ((tables.SERIES_RESULTS, results), (tables.FORECASTS, forecasts)):
        try:
            rows = series_rows(job_rows(paths[name], job, fmt), keys)
        except LookupError as err:  # none of the run's rows, or none of this series
            raise JobRunNotFound(f"job run {job.info.run_id} of {run_date}: {err}") from None
        rows = rows.assign(run_date=rows["run_date"].astype(str))
        others = current
        if not current.empty:  # of the date, the rows of the run that replaced it; a scoring run's stay
            replaced = current["run_date"] == run_date
            others = current[~(replaced & (current["source"] == tables.TRAINED))] if name == tables.FORECASTS else (
                current[~replaced])
        own.append(pd.concat([others, rows], ignore_index=True) if not others.empty else rows.reset_index(drop=True))
    return run_date, own[0].sort_values("run_date", kind="stable"), own[1]
