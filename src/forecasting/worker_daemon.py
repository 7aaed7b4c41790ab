"""Spark's Python worker daemon, with the training's modules imported before it
forks any worker: each worker then starts with them loaded (pages shared
copy-on-write) instead of importing them itself, some 2.3 s of CPU a worker.

Spark starts it as ``python -m forecasting.worker_daemon`` where
``spark.python.daemon.module`` names it (spark_session sets that only where the
workers' Python can import this package)."""
import contextlib
import gc
import logging
import os
import sys
import tempfile
import threading

from pyspark import daemon

from forecasting import python_worker

# No handler is configured here: a warning reaches stderr, the executor's log, as is.
logger = logging.getLogger("forecasting.worker_daemon")


def preload() -> threading.Thread | None:
    """Load the training's modules with what they write held back, and return the
    thread that passes it on to stderr (None when they wrote nothing).

    The daemon tells Spark its port on stdout, so nothing imported may write there.
    Nor straight to stderr: Spark reads the daemon's stderr only once it has the
    port, so more than a pipe's worth of output (64 KB: import-time warnings,
    PYTHONPROFILEIMPORTTIME, PYTHONVERBOSE) would block the daemon before it says
    its port, and the job would wait for its first task forever."""
    python_worker.temporary_files_in_spark_local_dir()  # the held output's file too
    try:
        held = tempfile.TemporaryFile()
    except OSError:  # no writable temporary folder: to stderr straight, as before
        held = None
    with held or contextlib.nullcontext():
        sys.stdout.flush()
        sys.stderr.flush()
        kept = os.dup(1), os.dup(2)
        target = held.fileno() if held else 2
        os.dup2(target, 1)  # for compiled code; redirect_stdout for Python's
        os.dup2(target, 2)
        try:
            with contextlib.redirect_stdout(sys.stderr):
                python_worker.load_training_modules()
        except Exception as err:  # the workers import for themselves and report it there
            logger.warning("preloading the training's modules failed: %r", err)
        finally:
            sys.stderr.flush()
            for fd, saved in zip((1, 2), kept):
                os.dup2(saved, fd)
                os.close(saved)
        if held is None:
            return None
        held.seek(0)
        text = held.read()
    if not text:
        return None
    # Written once the daemon has said its port and Spark reads its stderr; a raw
    # write holds no lock that a worker forked meanwhile could inherit taken.
    passer = threading.Thread(target=_write_all, args=(2, text), name="preload-output", daemon=True)
    passer.start()
    return passer


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


if __name__ == "__main__":
    preload()
    gc.freeze()  # the workers' collections then leave the loaded modules' pages shared
    daemon.manager()
