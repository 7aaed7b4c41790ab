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

from pyspark import daemon

from forecasting import python_worker

# No handler is configured here: a warning reaches stderr, the executor's log, as is.
logger = logging.getLogger("forecasting.worker_daemon")


def preload() -> None:
    # The daemon tells Spark its port on stdout, so nothing imported may write there.
    sys.stdout.flush()
    stdout = os.dup(1)
    os.dup2(2, 1)  # for compiled code; redirect_stdout for Python's
    try:
        with contextlib.redirect_stdout(sys.stderr):
            python_worker.load_training_modules()
    except Exception as err:  # the workers import for themselves and report it there
        logger.warning("preloading the training's modules failed: %r", err)
    finally:
        os.dup2(stdout, 1)
        os.close(stdout)


if __name__ == "__main__":
    preload()
    gc.freeze()  # the workers' collections then leave the loaded modules' pages shared
    daemon.manager()
