"""Progress of long Spark stages, logged by the driver at a steady pace."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeriesCounters:
    """Two Spark accumulators the training tasks add each series to: done, and
    failed among them. Their values reach the driver as tasks end."""

    done: object
    failed: object

    @classmethod
    def create(cls, spark) -> "SeriesCounters":
        return cls(spark.sparkContext.accumulator(0), spark.sparkContext.accumulator(0))

    def add(self, failed: bool) -> None:
        """In a task: one more series done, ``failed`` or not."""
        self.done.add(1)
        if failed:
            self.failed.add(1)


class StageProgress:
    """While active, log progress every ``interval`` seconds, with elapsed time
    and a linear estimate of the time left: series done and failed / total when
    given ``series`` (SeriesCounters), else tasks done / total of the running
    stages. Failed task attempts (a lost worker, retried) are counted apart."""

    def __init__(self, spark, label: str, interval: float = 15.0, series: SeriesCounters | None = None,
                 total: int = 0):
        self._tracker = spark.sparkContext.statusTracker()
        self._series, self._total = series, total
        self._label = label
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"progress-{label}", daemon=True)
        self._started = 0.0

    def __enter__(self) -> "StageProgress":
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, error_type, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if error_type is None:  # the stage's wall time, also for a stage shorter than the interval
            elapsed = time.monotonic() - self._started
            if self._series is not None:
                logger.info("%s: %d/%d series done in %.1fs, %d failed", self._label, self._series.done.value,
                            self._total, elapsed, self._series.failed.value)
            else:
                logger.info("%s: finished in %.1fs", self._label, elapsed)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.report()
            except Exception as err:  # progress must never break the job
                logger.debug("progress report failed: %s", err)

    def report(self) -> None:
        done = total = failed = 0
        for stage_id in self._tracker.getActiveStageIds():
            info = self._tracker.getStageInfo(stage_id)
            if info is None:
                continue
            done += info.numCompletedTasks
            total += info.numTasks
            failed += info.numFailedTasks
        if not total:
            return
        what = "tasks done"
        if self._series is not None:
            done, total = self._series.done.value, self._total
            what = f"series done, {self._series.failed.value} failed"
        elapsed = time.monotonic() - self._started
        left = f"about {elapsed / done * (total - done):.0f}s left" if done else "time left not known yet"
        logger.info(
            "%s: %d/%d %s, %d failed task attempts, %.0fs elapsed, %s",
            self._label, done, total, what, failed, elapsed, left,
        )
