"""A parent run's heartbeat: where a job runs (host, process) and a tag it renews while it
runs, so that a rerun of its date can tell a run still going from one a kill left RUNNING.

A rerun ends the runs a killed job left RUNNING and removes their staging folders; a run
still going (a manual rerun beside the scheduled one, two Airflow workers, a second
checkout with its own lock) lost its staged results to that and wrote a partial date.
Now a run whose heartbeat is recent, and whose process is alive where it is on this
host, stops the rerun instead (exit 6).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading

logger = logging.getLogger(__name__)

HEARTBEAT_TAG, HOST_TAG, PID_TAG = "heartbeat", "job_host", "job_pid"
# which processes the pid names: containers sharing a host name (host networking) number their own
PROCESS_SPACE_TAG = "job_process_space"
BEAT_SECONDS = 60  # how often a running job renews its heartbeat
# a run whose last heartbeat is older is taken for dead (a kill, a lost machine): beats missed to a
# tracking server retrying for minutes, a long garbage collection or clocks a few minutes apart are no death
DEAD_AFTER_SECONDS = 600

_beating: dict[str, threading.Event] = {}  # per parent run beating in this process, what stops it


class StillRunning(RuntimeError):
    """Another run of this job, date and output is going: this one stops before it starts."""


def now_text() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def start_tags() -> dict[str, str]:
    """The tags a parent run starts with: where it runs, and its first heartbeat."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid()), PROCESS_SPACE_TAG: process_space(),
            HEARTBEAT_TAG: now_text()}


def process_space() -> str:
    """This process's machine boot and pid namespace (Linux): two containers with one host
    name have their own pids, and the same pid may be another process in each. Empty elsewhere."""
    try:
        boot = open("/proc/sys/kernel/random/boot_id", encoding="ascii").read().strip()
        return f"{boot} {os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return ""


def start(tracking_uri: str, run_id: str) -> None:
    """Renew ``run_id``'s heartbeat every BEAT_SECONDS until ``stop``; a beat that fails
    (the server down a moment) is tried again at the next."""
    from forecasting.tracking import client

    stopped = _beating.setdefault(run_id, threading.Event())

    def beat() -> None:
        tracker = client(tracking_uri)
        while not stopped.wait(BEAT_SECONDS):
            try:
                tracker.set_tag(run_id, HEARTBEAT_TAG, now_text())
            except Exception as err:  # the run's own end says whether tracking is gone
                logger.debug("heartbeat of MLflow run %s not renewed: %s", run_id, err)

    threading.Thread(target=beat, name=f"heartbeat-{run_id}", daemon=True).start()


def stop(run_id: str) -> None:
    """Stop renewing ``run_id``'s heartbeat, as its run ends."""
    stopped = _beating.pop(run_id, None)
    if stopped is not None:
        stopped.set()


def still_going(tags: dict[str, str], now: dt.datetime | None = None) -> str | None:
    """Where a RUNNING run (its ``tags``) is still going, how it is told: its host and
    process, and how long ago it last beat; None where it is taken for dead: no heartbeat
    (a run from before them), its last one over DEAD_AFTER_SECONDS ago, its process gone
    from this host, or this very process."""
    beat = tags.get(HEARTBEAT_TAG)
    try:
        age = ((now or dt.datetime.now(dt.timezone.utc)) - dt.datetime.fromisoformat(beat)).total_seconds()
    except (TypeError, ValueError):
        return None
    if age > DEAD_AFTER_SECONDS:
        return None
    host, pid = tags.get(HOST_TAG), tags.get(PID_TAG, "")
    # among this process's own (this host, its pid namespace), its process gone, or this one (a notebook's
    # job that stopped without ending its run); elsewhere its heartbeat alone tells
    here = host == socket.gethostname() and tags.get(PROCESS_SPACE_TAG, "") == process_space()
    if here and pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))):
        return None
    return f"on {host} (process {pid}), its last heartbeat {max(age, 0):.0f} s ago"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process of that number
        return True
    return True
