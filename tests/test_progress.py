"""Progress of a running Spark stage, as the driver logs it."""
import logging
import time

import pandas as pd

from forecasting.progress import StageProgress


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
    assert all(line.startswith("slow stage: ") and ", 0 failed attempts, " in line for line in slow)
    assert any(line.endswith("s left") and "about" in line for line in slow)
    done = [int(line.split(": ")[1].split("/")[0]) for line in slow]
    assert done == sorted(done)  # never goes backwards
    assert lines[-1].startswith("slow stage: finished in ") and float(lines[-1].split()[-1][:-1]) >= 0.6


def test_progress_counts_series_with_an_accumulator_as_their_tasks_end(spark, caplog):
    counter = spark.sparkContext.accumulator(0)

    def slow_counted(batches):
        for batch in batches:
            time.sleep(0.4)
            counter.add(len(batch))
            yield batch

    df = spark.createDataFrame(pd.DataFrame({"x": range(12)})).repartition(4)
    with caplog.at_level(logging.INFO, logger="forecasting.progress"):
        with StageProgress(spark, "counted", interval=0.3, counter=counter, total=12):
            assert df.mapInPandas(slow_counted, schema="x long").count() == 12
    lines = [r.getMessage() for r in caplog.records if r.name == "forecasting.progress"]
    assert lines and all("/12 series done" in line for line in lines)
    done = [int(line.split(": ")[1].split("/")[0]) for line in lines]
    assert done == sorted(done) and max(done) <= 12
    assert counter.value == 12
    assert lines[-1].startswith("counted: 12/12 series done in ")
