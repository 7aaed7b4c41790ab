"""Signals that stop a job. SIGTERM (a scheduler's timeout, YARN or Kubernetes
stopping the driver, ``kill``) is raised in the main thread as Ctrl-C's
KeyboardInterrupt is, so that the job's MLflow run ends FAILED, where Python's
default, an exit on the spot, left it RUNNING."""
from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager

from forecasting.redaction import kept_text


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is."""


# The stopping signals the running job got, noted as they came: whatever error then surfaces
# (the JVM, stopped by the same signal, fails Py4J's next call) was theirs. Forgotten as a job
# starts (forget_signals): an earlier job's stop in the process is not this one's.
_received: list[str] = []
_launcher: list[int] = []  # the pid of the JVM that started the driver, under spark-submit
_sigint_before: list = []  # the SIGINT handler note_sigint wrapped, restored as the job ends


def _raise_terminated(signum, frame) -> None:
    _received.append("SIGTERM")
    raise Terminated("SIGTERM")


def forget_signals() -> None:
    """A job starts: the stopping signals noted so far were another's. Under spark-submit
    (which gives its Python driver the gateway's port), the JVM that started it is noted."""
    _received.clear()
    _answered.clear()
    _launcher[:] = [os.getppid()] if os.environ.get("PYSPARK_GATEWAY_PORT") else []


# What ended a job whose JVM went from under it: spark-submit's process is the JVM, whose child
# the Python driver is; a SIGTERM to that process alone (kill <pid>, docker stop) or a kill of the
# JVM ends it, and the driver, signalled by nothing, fails against a SparkContext shut down
JVM_GONE = "spark-submit's JVM ending under it (a signal to that process alone, or the JVM killed?)"
_answered: list = []  # the last error jvm_gone was asked of, and its answer


def jvm_gone(err: BaseException) -> bool:
    """Whether ``err`` came of the driver's JVM ending under it, under spark-submit: the JVM has
    gone (the driver, its child, then has another parent), or its shutdown hook stopped the
    SparkContext or the gateway (Spark's and Py4J's errors say so). A Spark error that says
    neither without asking the JVM waits a few seconds for it to go: its hook may be running."""
    if not _launcher:
        return False
    if _answered and _answered[0] is err:  # asked again as the job's error reaches the CLI: it waited once
        return _answered[1]
    gone = _jvm_gone(err)
    _answered[:] = [err, gone]
    return gone


def _jvm_gone(err: BaseException) -> bool:
    """jvm_gone's answer, worked out (the wait included)."""
    chain, seen = [], set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        chain.append(err)
        err = err.__cause__ or err.__context__
    # Spark's or Py4J's: a tracking server down refuses connections too, and is no JVM's end
    spark_error = any(type(each).__module__.split(".")[0] in ("py4j", "pyspark") for each in chain)
    if spark_error and any(isinstance(each, ConnectionRefusedError) or any(said in kept_text(each)
                                                                           for said in JVM_ENDING_SAID)
                           for each in chain):
        return True
    deadline = time.monotonic() + (JVM_EXIT_WAIT if spark_error else 0)
    while os.getppid() == _launcher[0]:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


# What Spark and Py4J say where the JVM's shutdown hook stopped the SparkContext under a running job
JVM_ENDING_SAID = ("SparkContext was shut down", "SparkContext has been shutdown", "Answer from Java side is empty",
                   "Error while sending or receiving")
JVM_EXIT_WAIT = 5  # seconds: a JVM's shutdown hooks stop Spark in one or two


@contextmanager
def sigterm_raised():
    """SIGTERM raises Terminated in the block; the handler before it is restored after,
    and so is the SIGINT handler note_sigint wrapped in the block."""
    forget_signals()
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if _sigint_before and getattr(signal.getsignal(signal.SIGINT), "notes_sigint", False):
            signal.signal(signal.SIGINT, _sigint_before.pop())


def note_sigint() -> None:
    """Wrap the SIGINT handler in place, PySpark's, set as its context started (it cancels
    the Spark jobs, then raises KeyboardInterrupt): the signal is noted first, and where
    that handler fails, a KeyboardInterrupt is raised in its place. It fails where Ctrl-C
    comes while the main thread waits inside a Py4J call: its own call re-enters the
    socket's reader ("reentrant call"), and the job had exited 1 as if it had failed. A
    handler that returns (a host's own, which stops nothing) is left to do so, and an
    ignored SIGINT stays ignored. Main thread only, as a handler can be set there only;
    ``sigterm_raised`` restores the handler wrapped as the job ends."""
    previous = signal.getsignal(signal.SIGINT)
    if (threading.current_thread() is not threading.main_thread() or not callable(previous)
            or getattr(previous, "notes_sigint", False)):
        return

    def noted(signum, frame) -> None:
        _received.append("SIGINT")
        try:
            previous(signum, frame)
        except KeyboardInterrupt:
            raise
        except Exception as err:
            raise KeyboardInterrupt("SIGINT") from err
        _received.pop()  # it stopped nothing

    noted.notes_sigint = True
    _sigint_before[:] = [previous]
    signal.signal(signal.SIGINT, noted)


class SigtermHeld:
    """SIGTERM noted, not raised, inside ``with`` (a run being created: stopped half-way, it
    would stay RUNNING with no id to end it by), and raised by ``raise_held`` once the
    caller can end what it made. Only where ``sigterm_raised`` holds, in the main thread,
    and ``hold`` is true."""

    def __init__(self, hold: bool = True) -> None:
        self.held = False
        self._active = False
        self._hold = hold

    def __enter__(self) -> "SigtermHeld":
        if self._hold and threading.current_thread() is threading.main_thread() and \
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
    (SIGINT) or Terminated (SIGTERM), or one raised while handling it; else the first
    stopping signal the job got (``_received``). The JVM dies from the same signal, and
    Py4J's calls then fail against it, raising a Py4JError in the interrupt's place or
    before it."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, KeyboardInterrupt):
            return str(err) or "SIGINT"
        seen.add(id(err))
        err = err.__context__
    return _received[0] if _received else None


def py4j_after_stop(record) -> bool:
    """A log handler's filter: False for Py4J's records once a stopping signal came. The
    JVM, stopped by the same signal, drops Py4J's connection, and Py4J logs each failed
    call with its traceback (the interrupted call, broken pipes; some on the root logger),
    where the job's "stopped by" line says it in one."""
    return not (_received and (record.name.startswith("py4j") or f"{os.sep}py4j{os.sep}" in record.pathname))


# What stops a Python worker: the signals to the job's process group, and the SIGHUP
# PySpark's worker daemon sends its workers as it stops
_WORKER_STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def stops_held():
    """The stopping signals noted, not acted on, inside ``with``; then acted on as they
    would have been (the first of them sent again). A Python worker logs a series' child
    run inside: stopped between its creation and its end, the run stayed RUNNING for good,
    its job's parent run having ended its RUNNING child runs already. Main thread only,
    as a handler can be set there only (elsewhere the block runs as it is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    previous = {stop: signal.signal(stop, lambda signum, frame: got.append(signum)) for stop in _WORKER_STOPS}
    try:
        yield
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, signal.SIG_DFL if handler is None else handler)
        if got:
            os.kill(os.getpid(), got[0])
