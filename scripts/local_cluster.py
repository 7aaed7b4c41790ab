"""A Spark standalone cluster on localhost: a master and one worker, each its own JVM.

Used by the cluster tests and by benchmark_scale.py --standalone, where the
driver must be a process of its own (on local[N] the executor runs inside the
driver's JVM, so the driver's memory would include the executor's work).
"""
from __future__ import annotations

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


def wait_for_worker(ui_port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
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
    """Yields the master's URL, the worker's process and the folder that holds
    the logs (``work/`` there has each executor's stdout and stderr)."""
    port, ui_port = free_port(), free_port()
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", **(env or {})}
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
        wait_for_worker(ui_port)
        yield {"master": f"spark://127.0.0.1:{port}", "logs": folder, "worker": worker}
    finally:
        for process in (worker, master):
            os.killpg(process.pid, 15)
            process.wait(timeout=60)
