"""Signals that stop a job. SIGTERM (a scheduler's timeout, YARN or Kubernetes
stopping the driver, ``kill``) is raised in the main thread as Ctrl-C's
KeyboardInterrupt is, so that the job's MLflow run ends FAILED, where Python's
default, an exit on the spot, left it RUNNING."""
from __future__ import annotations

import signal
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated("SIGTERM")


@contextmanager
def sigterm_raised():
    """SIGTERM raises Terminated in the block; the handler before it is restored after."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stopped_by(err: BaseException) -> str | None:
    """The signal that stopped a job, from the exception it left: a KeyboardInterrupt
    (SIGINT) or Terminated (SIGTERM), or one raised while handling it. The JVM dies
    from the same signal, and Py4J's clean-up after the interrupt can fail against it,
    raising a Py4JNetworkError in its place."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, KeyboardInterrupt):
            return str(err) or "SIGINT"
        seen.add(id(err))
        err = err.__context__
    return None
