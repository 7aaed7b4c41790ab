"""Progress of long Spark stages, logged by the driver at a steady pace."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeriesCounters:
    """Spark accumulators the training tasks add each series to: series done,
    failed among them, and their input rows. Their values reach the driver as tasks end."""

    done: object
    failed: object
    rows: object

    @classmethod
    def create(cls, spark) -> "SeriesCounters":
        return cls(*(spark.sparkContext.accumulator(0) for _ in range(3)))

    def add(self, failed: bool, rows: int) -> None:
        """In a task: one more series of ``rows`` input rows done, ``failed`` or not."""
        self.done.add(1)
        self.rows.add(rows)
        if failed:
            self.failed.add(1)


class StageProgress:
    """While active, log progress every ``interval`` seconds, with elapsed time
    and an estimate of the time left (at the pace since the first report that saw work done:
    a task's series count only as it ends, so the share done lags the work, most at the
    start; linear from the start at the first such report): series done and failed / ``total`` when
    given ``series`` (SeriesCounters), the estimate from their share of the ``rows``
    (a series' fits cost about in proportion to its rows, and one long series can
    cost as much as thousands of short ones), else tasks done / total of the running
    stages. Failed task attempts (a lost worker, retried) are counted apart."""

    def __init__(self, spark, label: str, interval: float = 15.0, series: SeriesCounters | None = None,
                 total: int = 0, rows: int = 0):
        self._context = spark.sparkContext
        self._tracker = spark.sparkContext.statusTracker()
        self._series, self._total, self._rows = series, total, rows
        self._label = label
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"progress-{label}", daemon=True)
        self._started = 0.0
        self._first_done: tuple[float, float] | None = None  # (time, share done) of the first report with any
        self._jobs_before: set[int] | None = None
        self.ran_again = False  # once ended: a stage of the block's jobs resubmitted, or a task of one failed

    def __enter__(self) -> "StageProgress":
        self._started = time.monotonic()
        self._jobs_before = self._jobs()
        self._thread.start()
        return self

    def __exit__(self, error_type, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if error_type is None:  # the stage's wall time, also for a stage shorter than the interval
            self.ran_again = self._ran_again()
            elapsed = time.monotonic() - self._started
            if self._series is not None:
                logger.info("%s: %d/%d series done (%s rows) in %.1fs, %d failed", self._label,
                            self._series.done.value, self._total, f"{self._series.rows.value:,}", elapsed,
                            self._series.failed.value)
            else:
                logger.info("%s: finished in %.1fs", self._label, elapsed)

    def _ran_again(self) -> bool:
        """Whether a stage of the jobs the block started ran again (an executor lost with its
        shuffle output: a new attempt of the stage, whose tasks count as first attempts) or
        had a task fail (retried). Asked of the stages Spark still keeps (spark.ui.retainedStages)."""
        jobs = self._jobs()
        if jobs is None or self._jobs_before is None:
            return False
        try:
            for job in jobs - self._jobs_before:
                info = self._tracker.getJobInfo(job)
                for stage_id in info.stageIds if info is not None else ():
                    stage = self._tracker.getStageInfo(stage_id)
                    if stage is not None and (stage.currentAttemptId > 0 or stage.numFailedTasks > 0):
                        return True
        except Exception as err:  # progress must never break the job
            logger.debug("could not tell whether a stage ran again: %s", err)
        return False

    def _jobs(self) -> set[int] | None:
        """The jobs Spark keeps of this thread's job group (Databricks sets one; else none), None where unknown."""
        try:
            return set(self._tracker.getJobIdsForGroup(self._context.getLocalProperty("spark.jobGroup.id")))
        except Exception as err:  # progress must never break the job
            logger.debug("could not list the jobs: %s", err)
            return None

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
        what, share = "tasks done", None  # share: of the work done, from 0 to 1
        if self._series is not None:
            done, total = self._series.done.value, self._total
            what = f"series done, {self._series.failed.value} failed"
            if self._rows and self._series.rows.value:
                share = min(self._series.rows.value / self._rows, 1.0)
                what = f"series done ({share:.0%} of the rows), {self._series.failed.value} failed"
        if share is None and done:
            share = done / total
        now = time.monotonic()
        elapsed = now - self._started
        left = "time left not known yet"
        if share and self._first_done and share > self._first_done[1] and now > self._first_done[0]:
            pace = (share - self._first_done[1]) / (now - self._first_done[0])
            left = f"about {(1 - share) / pace:.0f}s left"
        elif share:
            left = f"about {elapsed / share * (1 - share):.0f}s left"
            self._first_done = self._first_done or (now, share)
        logger.info(
            "%s: %d/%d %s, %d failed task attempts, %.0fs elapsed, %s",
            self._label, done, total, what, failed, elapsed, left,
        )
