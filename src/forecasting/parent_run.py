"""The job's parent run in MLflow: started with the run's config and lineage (ending
the runs a killed job left RUNNING), and finished with its counts (tagging the runs
whose rows it replaced: forecasting.replaced_runs). The client, a series' identity in tags and the run context
the tasks log under are forecasting.tracking's; each series' child run is
forecasting.child_runs'."""
from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time
from typing import Sequence
from urllib.parse import urlparse

from forecasting import heartbeat, lineage, signals
from forecasting.config import JobConfig, resolved, resolved_yaml
from forecasting.config_stores import is_databricks_uri
from forecasting.redaction import cause_line, first_line, redact_secrets, redact_url_password
from forecasting.replaced_runs import ENDED_AS_STALE, Replaced, mark_superseded, runs_of_same_output, same_output
from forecasting.series_identity import SERIES_HASH_TAG
from forecasting.tracking import (
    CODE_VERSION_TAG, DATA_VERSION_TAG, ENDED_BY_TAG, FAILED_AFTER_WRITING_TAG, FAILED_WITH_TAG, INPUT_END_TAG, JOB_TAG,
    OUTPUT_PATH_TAG, PARENT_TAG, RUN_DATE_TAG, TRAIN_JOB, WORKING_FOLDER_TAG,
    RunContext, TrackingUnavailable, client, credentials_from_environment, end_run, flatten, http_settings,
    is_tracking_failure, param_value, prepare_server, run_output, sqlite_artifact_root,
)

logger = logging.getLogger(__name__)
FAILURE_CHARACTERS = 500  # of the error a failed run is tagged with (FAILED_WITH_TAG)


def start_parent_run(
    config: JobConfig, run_date: str, data_version: dict, job: str = TRAIN_JOB, extra_tags: dict | None = None,
    input_end: str | None = None,
) -> RunContext:
    """The job's parent run, tagged and given its config and lineage, and what the
    tasks need to log under it. ``input_end``: the input's latest time on or before
    the run date, a tag and, for cleaning's zero gaps, part of the context. TrackingUnavailable
    (exit 4) where the server refuses it."""
    signals.forget_signals()  # an earlier job's stop in this process (a notebook's, a test's) is not this one's
    uri = prepare_server(config)
    try:
        return _started(config, uri, run_date, data_version, job, extra_tags, input_end)
    except Exception as err:
        refused = _refusal(uri, err)
        if refused is None:
            raise
        raise TrackingUnavailable(f"MLflow tracking server {redact_url_password(uri)} refused to start the job's "
                                  f"run: {redact_url_password(first_line(err))}; {refused}") from err


def _refusal(uri: str, err: Exception) -> str | None:
    """Why a tracking server refused to start the job's run, where the server is at fault or
    the credentials only read (its check passed on a read): exit 4, not a failure of the job's
    own. None for any other error, a local store's among them."""
    from mlflow.exceptions import MlflowException

    if not _server(uri) or isinstance(err, TrackingUnavailable) or not is_tracking_failure(err):
        return None
    text = first_line(err)
    if "403" in text or "PERMISSION_DENIED" in text:
        return "the credentials may read this experiment but not write it: ask its owner for EDIT permission"
    if not (re.search(r"error code 5\d\d|HTTP 5\d\d", text) or not isinstance(err, MlflowException)):
        return None  # the server took the request and refused what it asked: no retry mends it
    if "artifact" in text.lower():
        return ("storing the run's files failed: the server's artifact store (its --artifacts-destination or "
                "--default-artifact-root) may be full, gone or not writable")
    return "a rerun once the server works is safe"


def _server(uri: str) -> bool:
    """Whether the tracking URI names a server, whose requests may time out and fail apart."""
    return urlparse(uri).scheme in ("http", "https") or is_databricks_uri(uri)


def _started(config: JobConfig, uri: str, run_date: str, data_version: dict, job: str, extra_tags: dict | None,
             input_end: str | None) -> RunContext:
    from forecasting.tables import output_root

    tracker = client(uri)
    experiment = tracker.get_experiment_by_name(config.tracking.experiment)
    # a database store's artifacts go to ./mlruns of whatever folder the job runs in unless
    # told otherwise; a sqlite file's beside it
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else tracker.create_experiment(config.tracking.experiment, artifact_location=sqlite_artifact_root(uri))
    )
    versions = lineage.package_versions()
    tags = {
        JOB_TAG: job,
        RUN_DATE_TAG: run_date,
        "input_path": redact_url_password(config.input.path),
        WORKING_FOLDER_TAG: os.getcwd(),  # what a relative input path is relative to
        # resolved: "output", "./output" and its absolute path are one folder, and two
        # machines' "output" are not
        OUTPUT_PATH_TAG: redact_url_password(output_root(config)),
        DATA_VERSION_TAG: data_version.get("content_sha256") or str(data_version.get("delta_version")),
        CODE_VERSION_TAG: lineage.code_version(),
        **{f"version.{name}": version for name, version in versions.items()},
        **({INPUT_END_TAG: input_end} if input_end else {}),
        **heartbeat.start_tags(),  # where it runs, and that it does: a rerun of its date tells it from a killed one
        **(extra_tags or {}),
    }
    end_stale_runs(tracker, experiment_id, job, run_date, tags[OUTPUT_PATH_TAG])
    started_ms = int(time.time() * 1000)  # the run's own start time, which cleaning cuts at on its run date
    started = dt.datetime.fromtimestamp(started_ms / 1000, dt.timezone.utc).replace(tzinfo=None)
    held = signals.SigtermHeld()
    with held:  # a scheduler's stop while the run is created ends it FAILED below, not RUNNING
        run = tracker.create_run(experiment_id, start_time=started_ms, tags=tags, run_name=f"{job} {run_date}")
        context = _context(run.info.run_id, uri, experiment_id, run_date, config, input_end, started, job,
                           tags[OUTPUT_PATH_TAG])
    try:  # the job's own end (job_summary.finishing) starts after these
        held.raise_held()
        _refuse_beside_another(tracker, context)
        heartbeat.start(uri, context.parent_run_id)
        _record_start(tracker, context.parent_run_id, config, run_date, data_version, versions)
        logger.info("MLflow parent run %s in experiment %s at %s", context.parent_run_id, experiment_id, uri)
    except BaseException as err:
        fail_parent_run(context, err)
        raise
    return context


def _context(run_id: str, uri: str, experiment_id: str, run_date: str, config: JobConfig, input_end: str | None,
             started: dt.datetime, job: str, output_path: str) -> RunContext:
    return RunContext(
        tracking_uri=uri,
        experiment_id=experiment_id,
        parent_run_id=run_id,
        run_date=run_date,
        log_models=config.tracking.log_models,
        log_plots=config.tracking.log_plots,
        http_settings=http_settings(config),
        credentials=credentials_from_environment(),
        input_end=input_end,
        known_until=started.isoformat(timespec="milliseconds") if started.date().isoformat() == run_date else None,
        job=job,
        output_path=output_path,
    )


def fail_parent_run(context: RunContext, err: BaseException, counts: dict[str, int] | None = None,
                    wall_seconds: float = 0.0, wrote: bool = False, partly: Sequence[str] = (),
                    untracked: int = 0) -> None:
    """End the run FAILED after ``err`` (tagged with the signal, if one stopped it), or say
    that tracking, failing too, left it RUNNING: ``err`` is the one the job raises."""
    stop = signals.stopped_by(err)
    jvm_gone = False
    try:  # asked only where no signal of the job's own stopped it: the question may wait for the JVM to go
        jvm_gone = stop is None and signals.jvm_gone(err)
    except Exception as unknown:  # only a tag: the run is ended FAILED all the same
        logger.debug("could not tell whether the JVM had gone: %s", unknown)
    try:
        finish_parent_run(context, counts or {}, wall_seconds, failed=True, wrote=wrote,
                          ended_by=stop or (signals.JVM_GONE if jvm_gone else None),
                          partly=partly, untracked=untracked,
                          # its ended_by says what ended it: the error, a refused gateway, names only the symptom
                          failed_with=None if stop or jvm_gone else failure_line(err))
    except Exception as end_err:
        logger.error("could not mark MLflow run %s FAILED (%s): it stays RUNNING until a rerun of the date ends it",
                     context.parent_run_id, first_line(end_err))


def failure_line(err: BaseException) -> str:
    """What ended a failed run, in a line for its tag (redaction.cause_line), cut to
    FAILURE_CHARACTERS."""
    said = cause_line(err, typed=True)
    return said if len(said) <= FAILURE_CHARACTERS else said[:FAILURE_CHARACTERS - 3] + "..."


def _record_start(tracker, run_id: str, config: JobConfig, run_date: str, data_version: dict,
                  versions: dict[str, str]) -> None:
    """A parent run's config (every key a param, and the resolved file) and lineage."""
    from mlflow.entities import Param

    recorded = redact_secrets(resolved(config))
    params = [Param(key, param_value(value)) for key, value in flatten(recorded).items()]
    params.append(Param("run_date", run_date))
    for start in range(0, len(params), 100):  # MLflow takes at most 100 params a call
        tracker.log_batch(run_id, params=params[start : start + 100])
    tracker.log_text(run_id, resolved_yaml(config, recorded), "config/resolved.yaml")
    tracker.log_text(run_id, redact_url_password(lineage.to_json(data_version)), "lineage/data_version.json")
    tracker.log_text(run_id, lineage.to_json(versions), "lineage/packages.json")


def end_stale_runs(tracker, experiment_id: str, job: str, run_date: str, output_path: str | None = None) -> None:
    """A job killed midway leaves its runs RUNNING; the rerun of its date ends them.
    (A job that failed ended its own: fail_parent_run.) With ``output_path``, only
    the runs of that output (told by their output.path param where they have no tag; any
    run with neither): another config's run
    of the same job and date may be going on in the same experiment."""
    stale = _running(tracker, experiment_id, job, run_date, output_path)
    _refuse_beside_going(stale, job, run_date, output_path)  # all checked before any is ended
    ended_by = f"{ENDED_AS_STALE}{job} run of {run_date}"
    for parent in stale:
        heartbeat.stop(parent.info.run_id)  # this process's own, where a job in it stopped without ending it
        children = end_running_children(tracker, experiment_id, parent.info.run_id, ended_by)
        tracker.set_tag(parent.info.run_id, ENDED_BY_TAG, ended_by)
        end_run(tracker, parent.info.run_id, "FAILED")
        logger.warning("marked %s run %s of %s and %d children FAILED: it never finished",
                       job, parent.info.run_id, run_date, children)


def _refuse_beside_going(runs: list, job: str, run_date: str, output_path: str | None) -> None:
    """StillRunning where any of ``runs`` (RUNNING runs of this job, date and output) is
    still going (heartbeat.still_going)."""
    for run in runs:
        going = heartbeat.still_going(run.data.tags)
        if going:
            raise heartbeat.StillRunning(
                f"another {job} run of {run_date} writing {output_path or 'this output'} is still going (MLflow run "
                f"{run.info.run_id}, {going}): two runs of one date would replace each other's rows and staged "
                f"results. Retry once it ends; a run killed on another machine (or container) is taken for ended "
                f"{heartbeat.DEAD_AFTER_SECONDS // 60} minutes after its last heartbeat, when a rerun ends it")


def _running(tracker, experiment_id: str, job: str, run_date: str, output_path: str | None) -> list:
    """The RUNNING parent runs of ``job`` and ``run_date`` in the experiment; with
    ``output_path``, only those of that output (told by their output.path param where they
    have no tag; any run with neither)."""
    running = tracker.search_runs(
        [experiment_id],
        filter_string=f"tags.{JOB_TAG} = '{job}' and tags.{RUN_DATE_TAG} = '{run_date}' and attributes.status = 'RUNNING'",
    )
    if output_path is None:  # compared here: a path may hold quotes, which a filter string cannot escape
        return running
    return [run for run in running if same_output(run_output(run) or output_path, output_path)]


def _refuse_beside_another(tracker, context: RunContext) -> None:
    """StillRunning where another run of this job, date and output is going, looked for
    again once this job's own run is made: two jobs started at once both find none before
    they make theirs (end_stale_runs). Whichever started first by the clocks, each stops
    where it sees the other (no clock of two machines orders them); both may, and a retry
    goes on alone."""
    others = [run for run in _running(tracker, context.experiment_id, context.job, context.run_date,
                                      context.output_path) if run.info.run_id != context.parent_run_id]
    _refuse_beside_going(others, context.job, context.run_date, context.output_path)


def unfinished_dates(context: RunContext) -> list[tuple[str, str]]:
    """The other run dates of this job and output whose latest run a kill left RUNNING (its
    heartbeat stopped): (run date, run id), the oldest date first. Nothing ends them but a
    rerun of their date, which the next scheduled date's run does not do."""
    tracker = client(context.tracking_uri)
    running = runs_of_same_output(tracker, context, f"tags.{JOB_TAG} = '{context.job}' and "
                                                    "attributes.status = 'RUNNING'", running=True)
    left = {}
    for run in sorted(running, key=lambda run: run.info.start_time):
        date = run.data.tags.get(RUN_DATE_TAG)
        if date and date != context.run_date and not heartbeat.still_going(run.data.tags):
            left[date] = run.info.run_id
    return sorted(left.items())


def end_running_children(tracker, experiment_id: str, parent_run_id: str, ended_by: str) -> int:
    """Mark the parent's child runs still RUNNING as FAILED; how many there were."""
    children = _all_runs(tracker, experiment_id,
                         f"tags.{PARENT_TAG} = '{parent_run_id}' and attributes.status = 'RUNNING'")
    for run in children:
        tracker.set_tag(run.info.run_id, ENDED_BY_TAG, ended_by)
        end_run(tracker, run.info.run_id, "FAILED")
    return len(children)


# On a child run ended as a duplicate (end_duplicate_children): the series' run the tables name
DUPLICATE_OF_TAG = "duplicate_of"
TRAINED_AGAIN = "its series trained again as a Spark stage or task ran again"
RETRIED_REQUEST = "its job run ending: a child run created by a request sent again"


def end_duplicate_children(context: RunContext, staged) -> int:
    """After a training stage some of whose Spark stages or tasks ran again, end FAILED the
    child runs of a series other than the one its ``staged`` result names (child_run_id),
    tagged duplicate_of that one; how many. A resubmitted stage (an executor lost, its
    shuffle output with it) counts its tasks as first attempts, which log a series anew
    where a task's retry finds its earlier run."""
    from pyspark.sql import functions as F

    tracker = client(context.tracking_uri)
    by_series: dict[str, list] = {}
    for run in _all_runs(tracker, context.experiment_id, f"tags.{PARENT_TAG} = '{context.parent_run_id}'"):
        if DUPLICATE_OF_TAG not in run.data.tags:  # not ended as one already
            by_series.setdefault(run.data.tags.get(SERIES_HASH_TAG), []).append(run.info.run_id)
    doubled = [runs for series, runs in by_series.items() if series and len(runs) > 1]
    if not doubled:
        return 0
    named = {row[0] for row in staged.where(F.col("child_run_id").isin([run for runs in doubled for run in runs]))
             .select("child_run_id").collect()}
    ended = 0
    for runs in doubled:
        kept = next((run for run in runs if run in named), None)
        for run in runs if kept else ():  # none named (its tracking failed): nothing to tell them by
            if run != kept:
                tracker.set_tag(run, DUPLICATE_OF_TAG, kept)
                tracker.set_tag(run, ENDED_BY_TAG, TRAINED_AGAIN)
                end_run(tracker, run, "FAILED")
                ended += 1
    return ended


def _all_runs(tracker, experiment_id: str, filter_string: str) -> list:
    """Every run the search finds, page after page."""
    runs, token = [], None
    while True:
        page = tracker.search_runs([experiment_id], filter_string=filter_string, max_results=1000, page_token=token)
        runs += page
        token = page.token
        if not token:
            return runs


def finish_parent_run(context: RunContext, counts: dict[str, int], wall_seconds: float, failed: bool = False,
                      wrote: bool | None = None, ended_by: str | None = None, partly: Sequence[str] = (),
                      untracked: int = 0, failed_with: str | None = None) -> Replaced:
    """Log the counts and end the run, tagging the earlier runs whose rows it replaced
    where it wrote its tables (``wrote``, by default: it did not fail) (``mark_superseded``),
    what stopped it (``ended_by``: a signal) or failed it (``failed_with``), if anything
    did, and the tables it wrote where it failed among its writes (``partly``). With series whose tracking failed
    (``untracked``), their child runs that tracking could not end are ended FAILED; with a tracking
    server, any child run still RUNNING (a create request sent again, which the server carried out twice)."""
    from mlflow.entities import Metric

    heartbeat.stop(context.parent_run_id)
    tracker = client(context.tracking_uri)
    now = int(time.time() * 1000)
    values = {f"series_{status}": count for status, count in counts.items()}
    if counts or not failed:  # a run that failed before its series were counted has no total, not 0
        values["series_total"] = sum(counts.values())
    values["wall_seconds"] = wall_seconds
    metrics = [Metric(key, float(value), now, 0) for key, value in values.items()]
    tracker.log_batch(context.parent_run_id, metrics=metrics)
    if ended_by:
        tracker.set_tag(context.parent_run_id, ENDED_BY_TAG, ended_by)
    if failed_with:  # why, where the run is looked at later: the job's log may be gone by then
        tracker.set_tag(context.parent_run_id, FAILED_WITH_TAG, failed_with)
    # the series in flight when it failed, or whose end tracking lost: their runs would stay RUNNING for good
    if failed:
        end_running_children(tracker, context.experiment_id, context.parent_run_id, "its job run failing")
    elif untracked:
        end_running_children(tracker, context.experiment_id, context.parent_run_id, "tracking failing as it ended")
    elif _server(context.tracking_uri):
        # a create request timed out and sent again, which the slow server then carried out twice: a
        # second run with only its series' hash, RUNNING for good (a server's search: one query)
        end_running_children(tracker, context.experiment_id, context.parent_run_id, RETRIED_REQUEST)
    if failed and wrote:  # its rows are in the tables: a FAILED run had otherwise written none
        tracker.set_tag(context.parent_run_id, FAILED_AFTER_WRITING_TAG, "true")
    elif failed and partly:  # in some of them only: the others hold an earlier run's rows of its date
        tracker.set_tag(context.parent_run_id, FAILED_AFTER_WRITING_TAG, f"partly: {', '.join(partly)}")
    replaced = mark_superseded(tracker, context) if (not failed if wrote is None else wrote) else Replaced([], [])
    end_run(tracker, context.parent_run_id, "FAILED" if failed else "FINISHED")
    return replaced
