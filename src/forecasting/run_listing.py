"""The job runs of a config's experiment, newest first, as ``python -m forecasting runs``
lists them: one line each, with what became of its series and what replaced or stopped it."""
from __future__ import annotations

import pandas as pd

from forecasting import explore, heartbeat, tracking
from forecasting.config import JobConfig
from forecasting.lookup import NotFound, existing_store
from forecasting.run_overview import MEDIAN_CV_MASE
from forecasting.series import STATUSES

RUN_COLUMNS = ["run_date", "job", "status", "started_utc", "series", "by_status", "median_cv_mase", "parent_run_id"]
HOLDOUT_COLUMN, HOLDOUT_METRIC = "holdout_mase", "eval_mase_selection"  # shown where an evaluation is listed
FAILURE_SHOWN = 60  # characters of a failed run's error a line shows, in place of its counts


def job_runs(config: JobConfig, limit: int = 10, job: str | None = None, run_date: str | None = None) -> pd.DataFrame:
    """The newest job runs of the config's experiment (of ``run_date`` only, where given),
    newest first, one row each."""
    uri = existing_store(config)
    try:
        runs = explore.job_runs(uri, config.tracking.experiment, job, max_results=limit, run_date=run_date)
    except LookupError as err:
        raise NotFound(str(err)) from None
    rows = [
        {
            "run_date": run.data.tags.get(tracking.RUN_DATE_TAG, ""),
            "job": run.data.tags.get(tracking.JOB_TAG, ""),
            # a later run of its date replaced its rows in the tables; a scoring run's models were replaced
            "status": run.info.status + (", replaced" if tracking.SUPERSEDED_TAG in run.data.tags else "")
            + (", models replaced" if tracking.MODELS_REPLACED_TAG in run.data.tags else "")
            + _ended_by(run.data.tags.get(tracking.ENDED_BY_TAG)) + _no_heartbeat(run)
            + _written(run.data.tags.get(tracking.FAILED_AFTER_WRITING_TAG)),
            "started_utc": pd.Timestamp(run.info.start_time, unit="ms").strftime("%Y-%m-%d %H:%M"),
            "series": _count_text(run.data.metrics.get("series_total")),
            "by_status": _by_status(run.data.metrics, run.data.tags.get(tracking.FAILED_WITH_TAG)),
            # training's accuracy run by run; "-" for scoring, and for runs before the metric (2026-12-05)
            "median_cv_mase": _mase_text(run.data.metrics.get(MEDIAN_CV_MASE)),
            # an evaluation's held-out MASE of what the job forecast: CV scores say less (the winner's, optimistic)
            HOLDOUT_COLUMN: _mase_text(run.data.metrics.get(HOLDOUT_METRIC)),
            "parent_run_id": run.info.run_id,
            "output": run.data.tags.get(tracking.OUTPUT_PATH_TAG, ""),
        }
        for run in runs
    ]
    listed = pd.DataFrame(rows, columns=[*RUN_COLUMNS, HOLDOUT_COLUMN, "output"])
    shown = [*RUN_COLUMNS[:-1], *([HOLDOUT_COLUMN] if (listed[HOLDOUT_COLUMN] != "-").any() else []), RUN_COLUMNS[-1]]
    # configs sharing an experiment (its default name) list each other's runs: which wrote where
    # (runs from before the tag have none: not an output of their own)
    return listed[[*shown, "output"]] if listed["output"].replace("", None).nunique() > 1 else listed[shown]


def _count_text(value: float | None) -> str:
    return "-" if value is None else str(int(value))


def _mase_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _ended_by(tag: str | None) -> str:
    """What stopped a run, after its status: a signal (Ctrl-C, a scheduler's SIGTERM), or a
    later run of its date that found it killed; a failure of its own says nothing."""
    if not tag:
        return ""
    return f", stopped by {tag}" if tag.startswith("SIG") else f", ended by {tag}"


def _written(tag: str | None) -> str:
    """After FAILED, where the run had written rows: the tables hold them (all three, or
    some, beside an earlier run's rows of its date in the others), which on-call must know."""
    if not tag:
        return ""
    return ", after writing its rows" if tag == "true" else f", after writing {tag.removeprefix('partly: ')} only"


def _no_heartbeat(run) -> str:
    """After RUNNING, where the run is no longer going: its heartbeat stopped, or its process
    is gone from this host (a kill, a lost machine), though nothing could end it yet."""
    tags = run.data.tags
    if run.info.status != "RUNNING" or heartbeat.HEARTBEAT_TAG not in tags or heartbeat.still_going(tags):
        return ""
    try:
        since = pd.Timestamp(tags[heartbeat.HEARTBEAT_TAG]).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        since = tags[heartbeat.HEARTBEAT_TAG]
    # a job that lost its server once the tables were written cannot end its run either (exit 4): rows may be in
    return (f", not going: last heartbeat {since} (killed, or cut off from its tracking server, maybe after writing "
            "its rows: its summary says; a rerun of its date ends it)")


def _by_status(metrics: dict[str, float], failed_with: str | None) -> str:
    """The series' counts, or where a run failed before it counted them, what failed it
    (cut to FAILURE_SHOWN characters: the tag holds the line)."""
    counted = status_counts(metrics)
    if counted != "-" or not failed_with:
        return counted
    shown = failed_with if len(failed_with) <= FAILURE_SHOWN else failed_with[:FAILURE_SHOWN - 3] + "..."
    return f"failed with {shown}"


def status_counts(metrics: dict[str, float]) -> str:
    """'ok 22, skipped 1, failed 1' from a parent run's series_<status> metrics."""
    counts = {
        name.removeprefix("series_"): int(value)
        for name, value in metrics.items()
        if name.startswith("series_") and name != "series_total"
    }
    order = [*(s for s in STATUSES if s in counts), *sorted(s for s in counts if s not in STATUSES)]
    return ", ".join(f"{status} {counts[status]}" for status in order) or "-"


def format_runs(runs: pd.DataFrame, job: str | None = None, run_date: str | None = None) -> str:
    """A left-aligned text table, one line per run; ``job`` and ``run_date``: what they were
    looked up for."""
    if runs.empty:
        return f"no {job + ' ' if job else 'job '}runs {f'of run date {run_date}' if run_date else 'yet'}"
    cells = [list(runs.columns), *([str(value) for value in row] for row in runs.itertuples(index=False))]
    widths = [max(len(row[i]) for row in cells) for i in range(len(runs.columns))]
    return "\n".join("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in cells)
