"""Signals that stop a job. SIGTERM (a scheduler's timeout, YARN or Kubernetes
stopping the driver, ``kill``) is raised in the main thread as Ctrl-C's
KeyboardInterrupt is, so that the job's MLflow run ends FAILED, where Python's
default, an exit on the spot, left it RUNNING."""
from __future__ import annotations

import signal
import threading
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


class SigtermHeld:
    """SIGTERM noted, not raised, inside ``with`` (a run being created: stopped half-way, it
    would stay RUNNING with no id to end it by), and raised by ``raise_held`` once the
    caller can end what it made. Only where ``sigterm_raised`` holds, in the main thread."""

    def __init__(self) -> None:
        self.held = False
        self._active = False

    def __enter__(self) -> "SigtermHeld":
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGTERM) is _raise_terminated:
            signal.signal(signal.SIGTERM, self._note)
            self._active = True
        return self

    def _note(self, signum, frame) -> None:
        self.held = True

    def __exit__(self, *exc) -> None:
        if self._active:
            signal.signal(signal.SIGTERM, _raise_terminated)

    def raise_held(self) -> None:
        if self.held:
            self.held = False
            raise Terminated("SIGTERM")


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
