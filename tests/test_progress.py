"""Progress of a running Spark stage, as the driver logs it."""
import logging
import threading
import time
from types import SimpleNamespace

import pandas as pd

from forecasting.progress import SeriesCounters, StageProgress


def test_progress_reports_tasks_done_elapsed_and_time_left_while_a_stage_runs(spark, caplog):
    def slow_partition(batches):  # nested: pickled by value for the Python workers
        time.sleep(0.6)  # every task, even one whose partition the repartition left empty
        yield from batches

    def passthrough(batches):
        yield from batches

    # Python workers started first: in a fresh session the daemon's start-up
    # (it loads the training's modules) would take longer than the slow stage
    spark.range(2).mapInPandas(passthrough, schema="id long").count()
    df = spark.createDataFrame(pd.DataFrame({"x": range(8)})).repartition(8)
    with caplog.at_level(logging.INFO, logger="forecasting.progress"):
        with StageProgress(spark, "slow stage", interval=0.3):
            assert df.mapInPandas(slow_partition, schema="x long").count() == 8
    lines = [r.getMessage() for r in caplog.records if r.name == "forecasting.progress"]
    # the 8 slow tasks; the count's other, short stages may show up too
    slow = [line for line in lines if "/8 tasks done" in line]
    assert slow, f"the slow stage was never reported: {lines}"
    assert all(line.startswith("slow stage: ") and ", 0 failed task attempts, " in line for line in slow)
    assert any(line.endswith("s left") and "about" in line for line in slow)
    done = [int(line.split(": ")[1].split("/")[0]) for line in slow]
    assert done == sorted(done)  # never goes backwards
    assert lines[-1].startswith("slow stage: finished in ") and float(lines[-1].split()[-1][:-1]) >= 0.6


class StatusTracker:
    """What SparkContext.statusTracker() answers about the running stages."""

    def __init__(self, *stages):
        self.stages = dict(enumerate(stages))

    def getActiveStageIds(self):
        return list(self.stages)

    def getStageInfo(self, stage_id):
        done, total, failed = self.stages[stage_id]
        return SimpleNamespace(numCompletedTasks=done, numTasks=total, numFailedTasks=failed)


def progress_of(tracker, **kwargs):
    spark = SimpleNamespace(sparkContext=SimpleNamespace(statusTracker=lambda: tracker))
    return StageProgress(spark, "training", **kwargs)


def test_a_report_says_done_failed_elapsed_and_time_left_by_a_linear_estimate(monkeypatch, caplog):
    clock = iter([100.0, 110.0, 130.0])
    monkeypatch.setattr("forecasting.progress.time.monotonic", lambda: next(clock))
    progress = progress_of(StatusTracker((2, 8, 1), (0, 2, 0)))
    progress.__enter__()  # started at 100
    progress._stop.set()  # no reports of its own: this test makes them
    with caplog.at_level(logging.INFO, logger="forecasting.progress"):
        progress.report()  # at 110: 2 of 10 tasks in 10 s, so 8 more in about 40 s
        progress._tracker.stages = {}
        progress.report()  # no stage running: nothing to say
    assert [r.getMessage() for r in caplog.records] == [
        "training: 2/10 tasks done, 1 failed task attempts, 10s elapsed, about 40s left"
    ]


class Accumulator(SimpleNamespace):
    def add(self, amount):
        self.value += amount


def test_with_series_counters_the_report_counts_series_and_failures(monkeypatch, caplog):
    clock = iter([0.0, 5.0, 20.0, 21.0])
    monkeypatch.setattr("forecasting.progress.time.monotonic", lambda: next(clock))
    series = SeriesCounters(Accumulator(value=0), Accumulator(value=0), Accumulator(value=0))
    progress = progress_of(StatusTracker((0, 4, 1)), series=series, total=12)
    progress.__enter__()
    progress._stop.set()
    with caplog.at_level(logging.INFO, logger="forecasting.progress"):
        progress.report()  # no series done yet: no estimate
        for status in ["ok"] * 5 + ["failed"] * 2 + ["skipped"]:  # what the tasks of 8 series added
            series.add(failed=status == "failed", rows=10)
        progress.report()  # the series of finished tasks, whatever the tasks' count says
        progress.__exit__(None, None, None)
    assert [r.getMessage() for r in caplog.records] == [
        "training: 0/12 series done, 0 failed, 1 failed task attempts, 5s elapsed, time left not known yet",
        "training: 8/12 series done, 2 failed, 1 failed task attempts, 20s elapsed, about 10s left",
        "training: 8/12 series done (80 rows) in 21.0s, 2 failed",
    ]


def test_the_time_left_is_estimated_from_the_share_of_rows_done_not_of_series(monkeypatch, caplog):
    # 9 short series done, the long one not: most of the work is still ahead
    clock = iter([0.0, 30.0, 40.0])
    monkeypatch.setattr("forecasting.progress.time.monotonic", lambda: next(clock))
    series = SeriesCounters(Accumulator(value=0), Accumulator(value=0), Accumulator(value=0))
    progress = progress_of(StatusTracker((3, 4, 0)), series=series, total=10, rows=9 * 100 + 2700)
    progress.__enter__()
    progress._stop.set()
    with caplog.at_level(logging.INFO, logger="forecasting.progress"):
        for _ in range(9):
            series.add(failed=False, rows=100)
        progress.report()  # 25% of the rows in 30 s: 90 s more, where 9 of 10 series would say about 3 s
        series.add(failed=False, rows=2700)
        progress.report()
    assert [r.getMessage() for r in caplog.records] == [
        "training: 9/10 series done (25% of the rows), 0 failed, 0 failed task attempts, 30s elapsed, about 90s left",
        "training: 10/10 series done (100% of the rows), 0 failed, 0 failed task attempts, 40s elapsed, about 0s left",
    ]


class EndingStage:
    """A stage that ends between Spark listing it and describing it: no info."""

    def getActiveStageIds(self):
        return [0, 1]

    def getStageInfo(self, stage_id):
        return None if stage_id == 0 else SimpleNamespace(numCompletedTasks=1, numTasks=4, numFailedTasks=0)


def test_a_stage_that_ended_while_the_report_was_made_is_left_out_of_it(monkeypatch, caplog):
    clock = iter([100.0, 106.0])
    monkeypatch.setattr("forecasting.progress.time.monotonic", lambda: next(clock))
    progress = progress_of(EndingStage())
    progress.__enter__()
    progress._stop.set()
    with caplog.at_level(logging.INFO, logger="forecasting.progress"):
        progress.report()
    assert [r.getMessage() for r in caplog.records] == [
        "training: 1/4 tasks done, 0 failed task attempts, 6s elapsed, about 18s left"]


class FailingOnce:
    """Spark's status tracker failing once (a Py4J error), then answering."""

    def __init__(self):
        self.calls = 0
        self.answered = threading.Event()

    def getActiveStageIds(self):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("py4j: connection reset")
        self.answered.set()
        return [0]

    def getStageInfo(self, stage_id):
        return SimpleNamespace(numCompletedTasks=1, numTasks=2, numFailedTasks=0)


def test_a_report_that_fails_does_not_end_the_reports_after_it(caplog):
    tracker = FailingOnce()
    with caplog.at_level(logging.INFO, logger="forecasting.progress"):
        with progress_of(tracker, interval=0.01):
            assert tracker.answered.wait(timeout=5), "no report after the failed one"
    assert any("1/2 tasks done" in r.getMessage() for r in caplog.records)


def test_the_time_left_follows_the_pace_since_work_was_first_seen_done(monkeypatch, caplog):
    """A task's series count only as it ends: the first ones end after the workers' start-up and a
    whole task's work, so a linear estimate from the stage's start ran long (86 s said, done in 11)."""
    clock = iter([0.0, 10.0, 20.0])
    monkeypatch.setattr("forecasting.progress.time.monotonic", lambda: next(clock))
    series = SeriesCounters(Accumulator(value=0), Accumulator(value=0), Accumulator(value=0))
    progress = progress_of(StatusTracker((1, 10, 0)), series=series, total=10, rows=1000)
    progress.__enter__()
    progress._stop.set()
    with caplog.at_level(logging.INFO, logger="forecasting.progress"):
        series.add(failed=False, rows=100)
        progress.report()  # 10% at 10 s: linear, 90 s
        for _ in range(3):
            series.add(failed=False, rows=100)
        progress.report()  # 40% at 20 s: 30% in the last 10 s, so the 60% left in 20 s (linear: 30 s)
    assert [r.getMessage().rsplit(", ", 1)[1] for r in caplog.records] == ["about 90s left", "about 20s left"]


class ResubmittingTracker:
    """A status tracker whose one job, started inside the block, ran its stage a second time."""

    def __init__(self, attempt: int, failed: int = 0):
        self.jobs = [[], [7]]
        self.stage = SimpleNamespace(currentAttemptId=attempt, numFailedTasks=failed)

    def getJobIdsForGroup(self, group):
        return self.jobs.pop(0)

    def getJobInfo(self, job):
        return SimpleNamespace(stageIds=[3])

    def getStageInfo(self, stage_id):
        return self.stage

    def getActiveStageIds(self):
        return []


def test_a_stage_run_again_or_a_failed_task_in_the_blocks_jobs_is_told(spark):
    # an executor lost mid-training: the stage ran again as first attempts, the progress said 0 failed task attempts
    # and nothing told the job to look for the series logged twice (a walk-through of 12-07)
    for attempt, failed, told in ((1, 0, True), (0, 2, True), (0, 0, False)):
        context = SimpleNamespace(statusTracker=lambda: ResubmittingTracker(attempt, failed),
                                  getLocalProperty=lambda key: None)
        with StageProgress(SimpleNamespace(sparkContext=context), "training", interval=60) as progress:
            pass
        assert progress.ran_again == told
    with StageProgress(spark, "a job that ran once", interval=60) as progress:  # Spark's own tracker
        spark.range(10).repartition(2).count()
    assert progress.ran_again is False
