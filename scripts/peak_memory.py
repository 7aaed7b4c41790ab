"""Peak memory and driver CPU of a benchmarked program's process tree, read from /proc."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path


FULL_READ_SECONDS = 3.0


class PeakMemory:
    """Peak memory of a process tree, sampled: the JVM with the Python driver, and
    the Python workers (executors) with the fits they start apart; also the CPU
    time the driver side used, which the fits could not. Memory is the
    proportional set size: a page shared by several processes (the modules that
    forked Python workers inherit from their daemon) is split among them, so the
    sums count it once, where resident sizes would count it in every process.

    The sampler shares the cores with what it measures, and reading a JVM's
    proportional size costs about 11 ms (the kernel walks all its pages): it is
    read again only when the process's resident size, which costs next to
    nothing to read, has moved by 2% or more since, when a process of the tree
    started or ended (which changes who shares which pages), and every few seconds
    (a forked process writing to a page it shares moves no resident size)."""

    def __init__(self, pid: int, interval: float = 0.5, count_root: bool = True, children_work: bool = False):
        # children_work: the root's child processes are its workers (a multiprocessing pool)
        self.pid, self.interval, self.count_root, self.children_work = pid, interval, count_root, children_work
        self.driver = self.workers = self.jvm = 0
        self.jvm_peak_at = 0.0  # seconds after the start, when the JVM's peak was seen
        self._driver_cpu: dict[int, float] = {}
        self._pss: dict[int, tuple[int, int]] = {}  # pid: (resident size when read, proportional size)
        self._pids: set[int] = set()
        self._all_read = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        started = time.perf_counter()
        while not self._stop.wait(self.interval):
            driver = workers = jvm = 0
            tree = self._tree(self.pid)
            pids = {pid for pid, _ in tree}
            # a fork shares pages anew, an exit hands its share back, and a forked process
            # writing a shared page copies it without its resident size moving: all read again
            # when the tree changes, and every few seconds
            if pids != self._pids or time.perf_counter() - self._all_read >= FULL_READ_SECONDS:
                self._pss.clear()
                self._pids, self._all_read = pids, time.perf_counter()
            for pid, in_worker in tree:
                if pid == self.pid and not self.count_root:
                    continue
                memory = self._proportional(pid)
                if in_worker:  # a Python worker, or what it started (the cmdstan fits)
                    workers += memory
                else:
                    driver += memory
                    self._driver_cpu[pid] = max(self._driver_cpu.get(pid, 0.0), self._cpu_seconds(pid))
                    jvm += memory if self._is_jvm(self._command(pid)) else 0
            if jvm > self.jvm:
                self.jvm, self.jvm_peak_at = jvm, time.perf_counter() - started
            self.driver, self.workers = max(self.driver, driver), max(self.workers, workers)

    def _tree(self, root: int) -> list[tuple[int, bool]]:
        found, todo = [], [(root, False, None)]
        while todo:
            pid, in_worker, parent_command = todo.pop()
            command = self._command(pid)
            if command == parent_command and self._is_jvm(command):
                # A JVM starting a process (Hadoop's local file system runs chmod and
                # readlink for every file it writes): until the child execs, it shows the
                # JVM's command and counts the JVM's pages a second time.
                continue
            in_worker = in_worker or any(
                mark in command for mark in ("pyspark.daemon", "forecasting.worker_daemon", "pyspark/worker", "pyspark.worker")
            )
            found.append((pid, in_worker))
            try:  # a process may end while it is being read
                for task in Path(f"/proc/{pid}/task").glob("*/children"):
                    below = in_worker or (pid == root and self.children_work)
                    todo += [(int(c), below, command) for c in task.read_text().split()]
            except OSError:
                pass
        return found

    @property
    def driver_cpu(self) -> float:
        return sum(self._driver_cpu.values())

    @staticmethod
    def _cpu_seconds(pid: int) -> float:
        try:  # utime and stime, the 14th and 15th fields; the command name may hold spaces
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0

    def _proportional(self, pid: int) -> int:
        resident = self._resident(pid)
        if resident == 0:
            return 0  # gone
        then, pss = self._pss.get(pid, (0, 0))
        if abs(resident - then) >= 0.02 * then or not then:
            pss = self._memory(pid)
            self._pss[pid] = (resident, pss)
        return pss

    @staticmethod
    def _resident(pid: int) -> int:
        try:  # pages, the second field
            return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            return 0

    @staticmethod
    def _memory(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    @staticmethod
    def _is_jvm(command: str) -> bool:
        return Path(command.split(" ", 1)[0]).name == "java"

    @staticmethod
    def _command(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return ""
