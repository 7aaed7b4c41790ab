"""Spark's Python worker daemon, with the training's modules imported before it
forks any worker: each worker then starts with them loaded (pages shared
copy-on-write) instead of importing them itself, some 2.3 s of CPU a worker.

Spark starts it as ``python -m forecasting.worker_daemon`` where
``spark.python.daemon.module`` names it (spark_session sets that only where the
workers' Python can import this package)."""
import gc
import os
import sys

from pyspark import daemon

from forecasting import python_worker


def preload() -> None:
    # The daemon tells Spark its port on stdout, so nothing imported may write there.
    stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        python_worker.load_training_modules()
    except Exception as err:  # the workers import for themselves and report it there
        print(f"forecasting.worker_daemon: preloading failed: {err!r}", file=sys.stderr)
    finally:
        sys.stdout.flush()
        os.dup2(stdout, 1)
        os.close(stdout)


if __name__ == "__main__":
    preload()
    gc.freeze()  # the workers' collections then leave the loaded modules' pages shared
    daemon.manager()
