"""How the child runs written straight into a local file store (file_store_runs) are
named, so that the store's searches (mlflow_file_store) pass them over by name.

Even one tag file read a run is 5-10 microseconds, and a job searches its experiment
for job runs some seven times (running ones, the date's earlier runs, the date before's);
at 10,000 series a week an experiment gains half a million child runs a year, and
100,000 of them added 9 s to a 31 s job. So a child run is named as a version 8 UUID
(RFC 9562's version for custom ones; MLflow names runs as version 4) whose first 12
hex digits are its series_hash's, set as the run is written and never changed. The
job tag is on job runs only: a search that asks for it skips every such folder
without a file-system call, and one that asks for a series_hash (a series' lookup, a
retried task's) skips those of other series. Child runs written before, or through
MLflow's client, are read as before.
"""
from __future__ import annotations

import uuid
from typing import Callable

from forecasting.series_identity import SERIES_HASH_TAG

JOB_TAG = "job"  # tracking.JOB_TAG: on job (parent) runs only, never on a child run
_HASH_DIGITS = 12
_VERSION_AT = 12  # the hex digit a UUID keeps its version in (RFC 9562), here 8


def child_run_id(series_hash: str | None = None) -> str:
    """A new child run's id: a random UUID's 32 hex digits, marked as version 8, the
    first 12 those of ``series_hash`` where it is hex."""
    digits = uuid.uuid4().hex
    if series_hash is not None and _is_hex(series_hash[:_HASH_DIGITS]):
        digits = series_hash[:_HASH_DIGITS] + digits[_HASH_DIGITS:]
    return digits[:_VERSION_AT] + "8" + digits[_VERSION_AT + 1:]


def named_as_child_run(name: str) -> bool:
    """Whether a run folder's name is a child_run_id."""
    return len(name) == 32 and name[_VERSION_AT] == "8"


def passed_over(needed: list[tuple[str, str | None]]) -> Callable[[str], bool]:
    """For a search that needs the tags ``needed`` (key, and value where it must equal
    one): whether a run folder of that name cannot match, told by its name alone."""
    job_runs = any(key == JOB_TAG for key, _ in needed)
    series = {value[:_HASH_DIGITS] for key, value in needed
              if key == SERIES_HASH_TAG and value is not None and _is_hex(value[:_HASH_DIGITS])}
    if not job_runs and not series:
        return lambda name: False
    return lambda name: named_as_child_run(name) and (job_runs or name[:_HASH_DIGITS] not in series)


def _is_hex(text: str) -> bool:
    return len(text) == _HASH_DIGITS and all(char in "0123456789abcdef" for char in text)
