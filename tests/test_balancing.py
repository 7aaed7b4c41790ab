"""Series spread over the training tasks by size (forecasting.balancing)."""
from __future__ import annotations

import datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from forecasting.balancing import (
    SLOT_COLUMN, TASK_COLUMN, balanced, landing_values, series_slots, slot_values, slots_per_task, spark_hash_long,
    task_of_slot,
)


def _long_table(spark, sizes: dict[tuple, int]):
    rows = [(store, item, day, float(day)) for (store, item), n in sizes.items() for day in range(n)]
    return spark.createDataFrame(rows, "store string, item string, day int, y double")


def _tasks(df):
    """Per task: its series and its rows, from where Spark put each row."""
    return (
        df.withColumn("task", F.spark_partition_id())
        .groupBy("task")
        .agg(F.countDistinct(F.concat_ws("/", "store", "item")).alias("series"), F.count(F.lit(1)).alias("rows"))
        .toPandas()
        .set_index("task")
    )


def test_every_row_is_kept_once_and_each_series_stays_in_one_task(spark):
    sizes = {("s1", "a"): 40, ("s1", "b"): 3, ("s2", "a"): 17, (None, "a"): 5, ("s2", None): 9, ("s3", "c"): 1}
    df = _long_table(spark, sizes)
    spread = balanced(df, ["store", "item"], [2, 1, 1])
    assert spread.rdd.getNumPartitions() == 3
    assert_df_equality(spread.drop(TASK_COLUMN), df, ignore_row_order=True)
    tasks_per_series = spread.withColumn("task", F.spark_partition_id()).groupBy("store", "item").agg(
        F.countDistinct("task").alias("tasks"), F.countDistinct(TASK_COLUMN).alias("values")
    )
    assert [(r.tasks, r["values"]) for r in tasks_per_series.collect()] == [(1, 1)] * len(sizes)


def test_tasks_get_the_same_number_of_series_and_about_the_same_rows(spark):
    # 24 series of 10 to 240 rows: hash partitioning gives 4 tasks anything from
    # a few series to a dozen; dealt biggest first, each gets 6 and close to a
    # quarter of the rows.
    sizes = {(f"s{i:02d}", "x"): 10 * (i + 1) for i in range(24)}
    tasks = _tasks(balanced(_long_table(spark, sizes), ["store", "item"], [1, 1, 1, 1]))
    assert sorted(tasks.index) == [0, 1, 2, 3]
    assert list(tasks["series"]) == [6] * 4
    total = sum(sizes.values())
    # snake order: every pair of laps adds the same to each task, so tasks differ by under one series' size
    assert tasks["rows"].max() - tasks["rows"].min() < max(sizes.values())
    assert tasks["rows"].max() < 1.1 * total / 4


def test_tasks_started_first_hold_more_slots_and_the_last_round_one_each():
    # 400 series, 16 cores, 64 tasks: four rounds; the largest taper (8, 4, 2, 1
    # slots a round) would need 240 slots, more than one for every two series,
    # so the next one is used
    per_task = slots_per_task(400, 64, 16)
    assert [set(r) for r in _rounds(per_task, 16)] == [{4}, {3}, {2}, {1}]
    assert sum(per_task) * 2 <= 400
    # many series: the taper of 8, falling round by round
    many = slots_per_task(10_000, 1250, 2)
    assert many[:2] == [8, 8] and many[-2:] == [1, 1] and many == sorted(many, reverse=True)
    # one more series a slot and the largest taper fits: 240 slots for 480 series
    assert [set(per_task) for per_task in _rounds(slots_per_task(480, 64, 16), 16)] == [{8}, {4}, {2}, {1}]
    # a last round short of a task per core (a set spark.shuffle_partitions), one core
    assert slots_per_task(1000, 17, 16) == [8] * 16 + [1]
    assert slots_per_task(100, 4, 1) == [8, 4, 2, 1]
    # one round, fewer tasks than cores, or too few series for two a slot: equal tasks
    assert slots_per_task(400, 16, 16) == [1] * 16
    assert slots_per_task(400, 3, 16) == [1] * 3
    assert slots_per_task(100, 64, 16) == [1] * 64
    assert task_of_slot([3, 2, 1]) == [0, 0, 0, 1, 1, 2]


def _rounds(per_task: list[int], cores: int) -> list[list[int]]:
    return [per_task[i:i + cores] for i in range(0, len(per_task), cores)]


def test_the_last_partial_lap_of_the_deal_goes_to_the_first_slots(spark):
    # 7 series of 70 down to 10 rows into 3 slots: forward, back, and the odd one
    # out forward again, to slot 0, whose task starts first
    sizes = spark.createDataFrame([(f"s{i}", 70 - 10 * i) for i in range(7)], "store string, _rows long")
    dealt = {r.store: r[SLOT_COLUMN] for r in series_slots(sizes, ["store"], 3, "_rows").collect()}
    assert dealt == {"s0": 0, "s1": 1, "s2": 2, "s3": 2, "s4": 1, "s5": 0, "s6": 0}


def test_series_of_equal_size_are_dealt_in_key_order_nulls_first_without_a_window(spark):
    # a window over all series would make Spark warn, in every run, that it moves all rows to one partition
    sizes = spark.createDataFrame(
        [("b", "x", 10), (None, "x", 10), ("a", None, 10), ("a", "x", 10), ("c", "x", 20)],
        "store string, item string, _rows long",
    )
    slots = series_slots(sizes, ["store", "item"], 5, "_rows")
    dealt = {(r.store, r.item): r[SLOT_COLUMN] for r in slots.collect()}
    assert dealt == {("c", "x"): 0, (None, "x"): 1, ("a", None): 2, ("a", "x"): 3, ("b", "x"): 4}
    assert "Window" not in slots._jdf.queryExecution().executedPlan().toString()


def test_a_task_holding_more_slots_gets_as_many_times_the_series_and_rows(spark):
    # 60 series of 20 to 80 rows into 3 tasks of 3, 2 and 1 slots: 30, 20 and 10 series
    sizes = {(f"s{i:02d}", "x"): 20 + i for i in range(60)}
    tasks = _tasks(balanced(_long_table(spark, sizes), ["store", "item"], [3, 2, 1]))
    assert list(tasks.sort_index()["series"]) == [30, 20, 10]
    share = tasks.sort_index()["rows"] / sum(sizes.values())
    assert all(abs(got - want) < 0.02 for got, want in zip(share, [3 / 6, 2 / 6, 1 / 6]))


def test_each_slot_gets_its_tasks_landing_value_and_the_plan_reads_no_python_rows(spark):
    landing = landing_values(3)
    assert slot_values([3, 2, 1]) == [landing[task] for task in [0, 0, 0, 1, 1, 2]]
    # a table of Python rows would take a Python worker of its own, in a job
    # before the training's (5 s of a 1,000 series run, once)
    series = spark.range(40).select((F.col("id") % 8).cast("string").alias("store"), F.col("id").alias("day"))
    plan = balanced(series, ["store"], [3, 2, 1])._jdf.queryExecution().executedPlan().toString()
    assert "ExistingRDD" not in plan and "LocalTableScan" not in plan


@pytest.mark.parametrize("partitions", [1, 7, 64, 250])
def test_a_landing_value_for_every_task_sends_its_rows_to_that_task_in_spark(spark, partitions):
    landing = landing_values(partitions)
    values = spark.createDataFrame(sorted(landing.items()), f"task_number int, {TASK_COLUMN} bigint")
    placed = values.repartition(partitions, TASK_COLUMN).select("task_number", F.spark_partition_id().alias("task"))
    assert sorted((r.task_number, r.task) for r in placed.collect()) == [(task, task) for task in range(partitions)]
    # and each is the smallest value that lands there
    smaller = spark.range(max(landing.values())).select(
        F.pmod(F.hash("id"), F.lit(partitions)).alias("task"), F.col("id")
    ).groupBy("task").agg(F.min("id").alias("first"))
    assert {r.task: r.first for r in smaller.collect()} == {t: v for t, v in landing.items() if v < max(landing.values())}


def test_spark_hash_long_is_sparks_hash_of_a_bigint(spark):
    values = [0, 1, -1, 42, 2**31 - 1, 2**31, -(2**31), 2**32 + 5, 2**63 - 1, -(2**63), 123456789012345]
    hashed = spark.createDataFrame([(v,) for v in values], "v bigint").select("v", F.hash("v").alias("h")).collect()
    assert {r.v: r.h for r in hashed} == {v: spark_hash_long(v) for v in values}


def _shuffle_under_training(df) -> str:
    """The exchange the groupBy's applyInPandas reads from: the first below it in the plan."""
    plan = df._jdf.queryExecution().executedPlan().toString().splitlines()
    start = next(i for i, line in enumerate(plan) if "FlatMapGroupsInPandas" in line)
    return next(line.strip(" +-:") for line in plan[start:] if "Exchange " in line)


def _training(spark, fast_config, stores=("a", "b", "c"), days=30):
    from forecasting import tracking
    from forecasting.spark_training import train_all

    dates = [datetime.datetime(2024, 1, 1) + datetime.timedelta(days=i) for i in range(days)]
    rows = [(store, day, float(i)) for store in stores for i, day in enumerate(dates)]
    series = spark.createDataFrame(rows, "store string, ds timestamp, y double")
    context = tracking.RunContext("unused", "0", "parent", "2024-01-01", False, False)  # the training itself never runs
    return train_all(series, fast_config("input.key_columns=[store]"), context, series_count=len(stores))


def test_the_training_groups_each_task_where_balancing_put_it_without_a_second_shuffle(spark, fast_config):
    shuffle = _shuffle_under_training(_training(spark, fast_config))
    # balancing's own repartition: groupBy(_task, store) needs no other
    assert shuffle.startswith(f"Exchange hashpartitioning({TASK_COLUMN}#") and "REPARTITION_BY_NUM" in shuffle


def test_above_the_balancing_limit_the_training_hashes_the_keys(spark, fast_config, monkeypatch):
    from forecasting import balancing

    monkeypatch.setattr(balancing, "MAX_BALANCED_SERIES", 2)
    before = {key: spark.conf.get(key) for key in ("spark.sql.shuffle.partitions",
                                                    "spark.sql.adaptive.coalescePartitions.enabled")}
    try:
        shuffle = _shuffle_under_training(_training(spark, fast_config))
    finally:
        for key, value in before.items():
            spark.conf.set(key, value)
    assert shuffle.startswith("Exchange hashpartitioning(store#") and "ENSURE_REQUIREMENTS" in shuffle


def test_the_training_deals_enough_series_into_tapering_tasks(spark, fast_config, monkeypatch):
    from forecasting import balancing

    dealt = []
    real = balancing.balanced

    def recording(df, keys, per_task):
        dealt.append(per_task)
        return real(df, keys, per_task)

    monkeypatch.setattr(balancing, "balanced", recording)
    training = _training(spark, fast_config, stores=[f"s{i:02d}" for i in range(48)], days=3)
    # 48 series on local[2]: 8 tasks in 4 rounds, 20 slots (a taper of 8 would need 30)
    assert dealt == [[4, 4, 3, 3, 2, 2, 1, 1]]
    assert training.rdd.getNumPartitions() == 8
