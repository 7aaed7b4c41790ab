"""The earlier job runs a run's writes replaced: which of them may hold rows in the tables
(so are replaced), tagged superseded with what changed since (settings, how far the input
reached), and the scoring runs whose models the training's rerun replaced."""
from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

import pandas as pd

from forecasting.tracking import (
    CHANGED_CODE_TAG, CHANGED_SETTINGS_TAG, CODE_VERSION_TAG, COMPARED_RUN_DATE_TAG, DATA_VERSION_TAG, ENDED_BY_TAG,
    FAILED_AFTER_WRITING_TAG, INPUT_END_TAG, JOB_TAG, MAX_TAG_CHARACTERS, MODELS_JOB_RUN_TAG, MODELS_REPLACED_TAG,
    MODEL_RUN_DATE_TAG, OUTPUT_PATH_TAG, REPLACED_DATA_VERSION_TAG, RUN_DATE_TAG, SCORE_JOB, SUPERSEDED_TAG, TRAIN_JOB,
    RunContext, client, run_output,
)

logger = logging.getLogger(__name__)
# how end_stale_runs tags the run of a killed job it ends (ENDED_BY_TAG), followed by its job and date
ENDED_AS_STALE = "a later "
# When runs began to tag themselves failed_after_writing, as MLflow times a run's start (ms): an
# earlier failed run may have written its rows without saying so.
FAILED_AFTER_WRITING_SINCE = int(dt.datetime(2026, 12, 2, 17, 20, 4, tzinfo=dt.timezone.utc).timestamp() * 1000)
HORIZON_PARAM = "forecast.horizon"  # a run's param: how many periods it forecast


class Replaced(NamedTuple):
    """What a run's writes replaced: the earlier job runs of its date and output, and the
    run dates of the scoring runs that forecast from the models of its date."""

    runs: list[str]
    rescore: list[str]
    # how far the input reached for the runs replaced, where not as far as for this run (a backfill's data grew)
    other_input_ends: tuple[str, ...] = ()
    # the settings (params) the run whose rows it replaced had otherwise: "tuning.max_evals 2 -> 3"
    changed_settings: tuple[str, ...] = ()
    # of ``runs``, those killed and ended by a later run, which cannot tell whether they wrote any rows
    killed: tuple[str, ...] = ()
    # the input's version (data_version) the run whose rows it replaced read, and this run's, where they differ
    other_data: tuple[str, str] | None = None
    # the code and package versions that run had otherwise: "version.prophet 1.1.6 -> 1.1.7"
    changed_code: tuple[str, ...] = ()


def same_output(tagged: str | None, output: str | None) -> bool:
    """Whether a run's output_path tag names ``output`` (resolved): runs tagged before
    the tag was resolved hold the path as configured, taken from this folder as then."""
    if tagged is None or output is None:
        return tagged == output
    if tagged == output:
        return True
    return not urlparse(tagged).scheme and not Path(tagged).is_absolute() and (
        str(Path(tagged).expanduser().resolve()) == output)


def other_outputs(runs: list, output: str | None) -> list[str]:
    """The outputs ``runs`` wrote to (their output_path tags) other than ``output``, sorted."""
    return sorted({tag for run in runs if (tag := run.data.tags.get(OUTPUT_PATH_TAG))
                   and not same_output(tag, output)})


def mark_superseded(tracker, context: RunContext) -> Replaced:
    """Tag the earlier runs of this job, run date and output, whose rows in the tables
    this run has just replaced, with this run's id: their child runs still look
    current to a search by series. Those that failed after or among their writes, or
    were killed, count too (may_hold_rows); one that failed before writing had none.
    A training run also tags the scoring runs
    (finished, failed after writing, or still running on models they read) that forecast
    from the models of its date, which it has just replaced, unless a later scoring run of
    their date replaced their rows: those forecasts stay in the table until those dates are
    scored again. It names their dates again where an earlier rerun tagged them (their rows
    are still there); the tag keeps the rerun that replaced the models they read."""
    earlier = runs_of_same_output(tracker, context, f"tags.{JOB_TAG} = '{context.job}' and "
                                                    f"tags.{RUN_DATE_TAG} = '{context.run_date}'")
    replacing = [run for run in earlier if SUPERSEDED_TAG not in run.data.tags and may_hold_rows(run)]
    replaced = [run.info.run_id for run in replacing]
    for run_id in replaced:
        tracker.set_tag(run_id, SUPERSEDED_TAG, context.parent_run_id)
    ends = tuple(sorted({run.data.tags[INPUT_END_TAG] for run in replacing if run.data.tags.get(INPUT_END_TAG)
                         and not same_time(run.data.tags[INPUT_END_TAG], context.input_end)}))
    changed, other_data, code = (), None, ()
    if replacing:  # compared with the run whose rows it replaced
        this, before = tracker.get_run(context.parent_run_id), _latest_with_rows(replacing)  # read once
        changed, other_data, code = (changed_settings(this, before), changed_data(this, before),
                                     changed_code(this, before))
    if code:  # a fix or an upgrade between the two: forecasts may move with settings and data the same
        tracker.set_tag(context.parent_run_id, CHANGED_CODE_TAG, "; ".join(code)[:MAX_TAG_CHARACTERS])
    if changed:  # the summary's line, kept on the run for whoever explains its forecasts later
        tracker.set_tag(context.parent_run_id, CHANGED_SETTINGS_TAG, "; ".join(changed)[:MAX_TAG_CHARACTERS])
    if other_data:
        tracker.set_tag(context.parent_run_id, REPLACED_DATA_VERSION_TAG, other_data[0])
    killed = tuple(run.info.run_id for run in replacing if _killed(run))
    if context.job != TRAIN_JOB:
        return Replaced(replaced, [], ends, changed, killed, other_data, code)
    scored = runs_of_same_output(tracker, context, f"tags.{JOB_TAG} = '{SCORE_JOB}' and "
                                                   f"tags.{MODEL_RUN_DATE_TAG} = '{context.run_date}'", running=True)
    # a superseded one's rows are gone already; a failed one wrote none unless it says so; one
    # still running (or killed) that read the models before this run replaced them writes, or
    # wrote, forecasts from them; one that read this run's models (it names the training run
    # it read) is current
    stale = [run for run in scored if (run.info.status == "FINISHED" or FAILED_AFTER_WRITING_TAG in run.data.tags
                                       or (run.info.status == "RUNNING" and MODELS_JOB_RUN_TAG in run.data.tags))
             and SUPERSEDED_TAG not in run.data.tags and run.data.tags.get(MODELS_JOB_RUN_TAG) != context.parent_run_id]
    for run in stale:  # the tag names the run that replaced the models they read, not a later rerun
        if MODELS_REPLACED_TAG not in run.data.tags:
            tracker.set_tag(run.info.run_id, MODELS_REPLACED_TAG, context.parent_run_id)
    dates = sorted({run.data.tags.get(RUN_DATE_TAG, "?") for run in stale})
    if dates:
        logger.warning("the scored forecasts of run dates %s came from models of %s that this run or an earlier rerun "
                       "replaced (their scoring runs are tagged %s): score those dates again", ", ".join(dates),
                       context.run_date, MODELS_REPLACED_TAG)
    return Replaced(replaced, dates, ends, changed, killed, other_data, code)


# Params in which a run and the runs it replaces differ only as written (mlruns, file:///.../mlruns):
# those runs were found in its store, as runs of its output
SAME_BY_SEARCH = ("tracking.uri", "output.path")
RUN_DATE_PARAM = "run_date"  # a run's date, a param beside its config's keys: another date's run differs in it


def _killed(run) -> bool:
    """Whether a run was killed and ended by a later one, without saying it had written."""
    tags = run.data.tags
    return tags.get(ENDED_BY_TAG, "").startswith(ENDED_AS_STALE) and FAILED_AFTER_WRITING_TAG not in tags


def _latest_with_rows(replacing: list):
    """The latest of the runs ``replacing`` known to have written the date's rows (finished,
    or failed after writing), else the latest: a run killed after it may have written none,
    and compared with it, a rerun names settings no row was made with."""
    return max([run for run in replacing if not _killed(run)] or replacing, key=lambda run: run.info.start_time)


def changed_settings(this, before) -> tuple[str, ...]:
    """The params (every config key) in which run ``this`` differs from run ``before``, whose
    rows it replaced (_latest_with_rows), as "key old -> new": a rerun of a date with another
    config changes forecasts that readers already used, and only the params told."""
    return param_changes(before.data.params, this.data.params, SAME_BY_SEARCH)


# How param_changes names the keys only one of two runs has: a rerun's, after an upgrade
ONLY_ONE_HAS = ("settings the earlier run's code did not have", "settings this run's code does not have")


def param_changes(before: dict[str, str], now: dict[str, str], left_out: tuple[str, ...] = (),
                  only: tuple[str, str] = ONLY_ONE_HAS, nulls: bool = True) -> tuple[str, ...]:
    """The params that differ between two runs' ``before`` and ``now``, as "key old -> new" in
    the config's YAML words, but those whose key starts with one of ``left_out``. Keys only one
    run has (settings code of another version did not have) are named last, in one entry each
    way, led by ``only``'s words for those only ``now`` has, then only ``before``: after an
    upgrade, fifteen "(none) -> ..." had hidden the one setting changed. Without ``nulls``,
    those of them that are null are left out (a search space's parameter of one run only: its
    unset fields)."""
    keys = [key for key in sorted(set(before) | set(now)) if not key.startswith(left_out)]
    changed = tuple(f"{key} {_as_yaml(before[key])} -> {_as_yaml(now[key])}"
                    for key in keys if key in before and key in now and before[key] != now[key])
    shown = (lambda value: True) if nulls else (lambda value: value != "None")
    added = [f"{key} {_as_yaml(now[key])}" for key in keys if key not in before and shown(now[key])]
    gone = [f"{key} {_as_yaml(before[key])}" for key in keys if key not in now and shown(before[key])]
    return (changed + ((f"{only[0]}: {', '.join(added)}",) if added else ())
            + ((f"{only[1]}: {', '.join(gone)}",) if gone else ()))


def changed_code(this, before) -> tuple[str, ...]:
    """The code_version and package version (version.*) tags in which run ``this`` differs
    from run ``before``, whose rows it replaced, as "key old -> new": the params do not tell a
    rerun on fixed or upgraded code from one on the same."""
    code_tags = (CODE_VERSION_TAG, "version.")

    def code(run) -> dict[str, str]:
        return {key: value for key, value in run.data.tags.items() if key.startswith(code_tags)}
    return param_changes(code(before), code(this),
                         only=("packages the earlier run did not record", "packages this run does not record"))


def changed_data(this, before) -> tuple[str, str] | None:
    """The data_version tags of run ``before``, whose rows ``this`` replaced, and of ``this``,
    where both name one and they differ: a rerun of a date on input files changed since (a
    value corrected upstream) changes forecasts that readers already used, and its config
    need not tell."""
    before, now = before.data.tags.get(DATA_VERSION_TAG), this.data.tags.get(DATA_VERSION_TAG)
    known = before not in (None, "None") and now not in (None, "None")
    return (before, now) if known and before != now else None


def _as_yaml(param: str) -> str:
    """A param's text as the config's YAML writes the value: MLflow keeps Python's None, True, False."""
    return {"None": "null", "True": "true", "False": "false"}.get(param, param)


def input_end_of(context: RunContext, run_date: str) -> str | None:
    """How far the input reached (its input_end tag) for the current training run of
    ``run_date`` on this run's output: the latest one that may hold the date's rows and
    that no rerun replaced; None where none says."""
    latest = _current_training_run(context, run_date, lambda run: run.data.tags.get(INPUT_END_TAG))
    return latest.data.tags[INPUT_END_TAG] if latest is not None else None


def horizon_of(context: RunContext, run_date: str) -> int | None:
    """The forecast.horizon of the current training run of ``run_date`` on this run's
    output (as input_end_of finds it); None where no such run says."""
    latest = _current_training_run(context, run_date, lambda run: run.data.params.get(HORIZON_PARAM, "").isdigit())
    return int(latest.data.params[HORIZON_PARAM]) if latest is not None else None


def changed_since(context: RunContext, run_date: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The settings and the code in which this training run differs from the current
    training run of ``run_date`` on its output (the run date before, as input_end_of
    finds its run), as changed_settings and changed_code say them; empty where none says."""
    before = _current_training_run(context, run_date, lambda run: bool(run.data.params))
    if before is None:
        return (), ()
    this = client(context.tracking_uri).get_run(context.parent_run_id)
    settings = param_changes(before.data.params, this.data.params, (*SAME_BY_SEARCH, RUN_DATE_PARAM))
    return settings, changed_code(this, before)


def _current_training_run(context: RunContext, run_date: str, telling):
    """The latest training run of ``run_date`` on this run's output that may hold the date's
    rows, that no rerun replaced and for which ``telling(run)`` holds; None where none."""
    runs = [run for run in _training_runs_of(context, run_date)
            if SUPERSEDED_TAG not in run.data.tags and may_hold_rows(run) and telling(run)]
    return max(runs, key=lambda run: run.info.start_time, default=None)


# the last job run's search for one run date's training runs: a job asks of the date before three
# times (its horizon at the start, how far its input reached, its settings and code at the end)
_searched: dict[tuple[str, str], list] = {}


def _training_runs_of(context: RunContext, run_date: str) -> list:
    """The ended training runs of ``run_date`` on this run's output, searched once a job run."""
    key = (context.parent_run_id, run_date)
    if key not in _searched:
        runs = runs_of_same_output(client(context.tracking_uri), context,
                                   f"tags.{JOB_TAG} = '{TRAIN_JOB}' and tags.{RUN_DATE_TAG} = '{run_date}'")
        _searched.clear()  # one job run's at a time: a process may run many (tests, notebooks)
        _searched[key] = runs
    return _searched[key]


def same_time(tag: str, other: str | None) -> bool:
    """Whether two input_end tags name one time (an older run tagged a date alone)."""
    try:
        return other is not None and pd.Timestamp(tag) == pd.Timestamp(other)
    except ValueError:
        return tag == other


def may_hold_rows(run) -> bool:
    """Whether an ended job run may have written rows to its tables: it finished, failed
    after or among its writes (it tags itself so as it fails), or was killed and ended
    by a later run of its date, which cannot tell how far it got, or failed before runs
    said so. A run that failed on its own before writing wrote nothing."""
    tags = run.data.tags
    return (run.info.status == "FINISHED" or FAILED_AFTER_WRITING_TAG in tags
            or tags.get(ENDED_BY_TAG, "").startswith(ENDED_AS_STALE)
            or run.info.start_time < FAILED_AFTER_WRITING_SINCE)


def runs_of_same_output(tracker, context: RunContext, filter_string: str, running: bool = False) -> list:
    """The other ended runs of the search that wrote to this run's output (RUNNING
    ones are another job going on, or ended by end_stale_runs at the start), and
    with ``running`` the RUNNING ones too."""
    runs = tracker.search_runs([context.experiment_id], filter_string=filter_string)
    # the path compared here: it may hold quotes, which a filter string cannot escape
    return [run for run in runs if run.info.run_id != context.parent_run_id
            and (running or run.info.status != "RUNNING")
            and same_output(run_output(run), context.output_path)]


def compared_since(tracker, run) -> tuple[str, bool] | None:
    """The run date a training job ``run`` compared its forecasts with (its tag), and
    whether a training run of that date and output that may have written its rows
    (may_hold_rows) started after it (a rerun, whose forecasts its forecast_change and
    realized_ columns do not speak of); None where untold (no comparison, a run from
    before the tag, MLflow out of reach)."""
    from mlflow.exceptions import MlflowException

    date = run.data.tags.get(COMPARED_RUN_DATE_TAG)
    if date is None:
        return None
    try:
        later = tracker.search_runs([run.info.experiment_id], filter_string=(
            f"tags.{JOB_TAG} = '{TRAIN_JOB}' and tags.{RUN_DATE_TAG} = '{date}' and "
            f"attributes.start_time > {run.info.start_time}"))
    except MlflowException:
        return None
    output = run_output(run)  # one that failed after writing replaced the date's rows too
    return date, any(same_output(run_output(other), output) and may_hold_rows(other) for other in later)
