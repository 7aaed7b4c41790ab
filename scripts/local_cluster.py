"""A Spark standalone cluster on localhost: a master and one worker, each its own JVM.

Used by the cluster tests and by benchmark_scale.py --standalone, where the
driver must be a process of its own (on local[N] the executor runs inside the
driver's JVM, so the driver's memory would include the executor's work).
``python scripts/local_cluster.py`` runs one until interrupted, to try the job
with ``--master spark://...`` on one machine.
"""
from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_worker(ui_port: int, timeout: float = 120, processes: dict | None = None) -> None:
    """Until the master lists a live worker; RuntimeError naming its log where one of
    ``processes`` (name: (process, log)) exits first, as a JVM that cannot start does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, (process, log) in (processes or {}).items():
            if process.poll() is not None:
                last = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
                raise RuntimeError(f"the standalone {name} exited with code {process.returncode} as it started: see "
                                   f"{log}" + "".join(f"\n  {line}" for line in last))
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as answer:
                if any(w["state"] == "ALIVE" for w in json.load(answer)["workers"]):
                    return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError("the standalone worker did not register with the master")


@contextmanager
def standalone_cluster(folder: Path, cores: int = 2, memory: str = "2g", env: dict | None = None) -> Iterator[dict]:
    """Yields the master's URL, the worker's and master's processes and the folder that holds
    the logs (``work/`` there has each executor's stdout and stderr)."""
    port, ui_port = free_port(), free_port()
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", **(env or {})}
    # spark-class finds Spark's jars through pyspark, with the python3 on PATH unless SPARK_HOME says where:
    # this Python's, which has pyspark, not a system one run without the environment activated
    env.setdefault("SPARK_HOME", str(Path(importlib.util.find_spec("pyspark").origin).parent))
    spark_class = str(BIN / "spark-class")
    master = subprocess.Popen(
        [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
         "--webui-port", str(ui_port)],
        stdout=open(folder / "master.log", "w"), stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    worker = subprocess.Popen(
        [spark_class, "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}", "--cores", str(cores),
         "--memory", memory, "--work-dir", str(folder / "work"), "--webui-port", str(free_port())],
        stdout=open(folder / "worker.log", "w"), stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    try:
        wait_for_worker(ui_port, processes={"master": (master, folder / "master.log"),
                                            "worker": (worker, folder / "worker.log")})
        yield {"master": f"spark://127.0.0.1:{port}", "logs": folder, "worker": worker, "master_process": master}
    finally:
        for process in (worker, master):
            try:
                os.killpg(process.pid, 15)
            except ProcessLookupError:  # it had stopped already
                pass
            process.wait(timeout=60)


def main(argv: list[str] | None = None) -> int:
    """Run a master and a worker until interrupted, to try ``--master spark://...``
    on one machine."""
    import argparse
    import logging
    import signal
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2, help="the worker's cores (default: all)")
    parser.add_argument("--memory", default="2g", help="the worker's memory for executors (default: 2g)")
    parser.add_argument("--folder", type=Path,
                        help="where the logs and the executors' work go (default: a new temporary folder)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folder = args.folder or Path(tempfile.mkdtemp(prefix="local-cluster-"))
    folder.mkdir(parents=True, exist_ok=True)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    with standalone_cluster(folder, args.cores, args.memory) as running:
        logging.info("master %s, a worker of %d cores; logs in %s", running["master"], args.cores, folder)
        # the executors' Python: this one, which has the job's packages
        logging.info("try: spark-submit --master %s --conf spark.pyspark.python=%s jobs/train_forecast.py",
                     running["master"], sys.executable)
        logging.info("or with the job packed as for a cluster (scripts/package_job.sh): add --py-files "
                     "dist/forecasting.zip")
        logging.info("Ctrl-C stops both")
        processes = {"worker": running["worker"], "master": running["master_process"]}
        try:
            while not stop["now"] and all(process.poll() is None for process in processes.values()):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        died = [name for name, process in processes.items() if process.poll() is not None]
    if died:
        logging.error("the %s stopped by itself: see %s", " and ".join(died), folder)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
