"""Series spread over the training tasks by size (forecasting.balancing)."""
from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import functions as F

from forecasting.balancing import SLOT_COLUMN, TASK_COLUMN, balanced, landing_values


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
    spread = balanced(df, ["store", "item"], partitions=3)
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
    tasks = _tasks(balanced(_long_table(spark, sizes), ["store", "item"], partitions=4))
    assert sorted(tasks.index) == [0, 1, 2, 3]
    assert list(tasks["series"]) == [6] * 4
    total = sum(sizes.values())
    # snake order: every pair of laps adds the same to each task, so tasks differ by under one series' size
    assert tasks["rows"].max() - tasks["rows"].min() < max(sizes.values())
    assert tasks["rows"].max() < 1.1 * total / 4


def test_a_landing_value_for_every_task_sends_its_rows_to_that_task(spark):
    landing = landing_values(spark, 7)
    placed = landing.repartition(7, TASK_COLUMN).select(SLOT_COLUMN, F.spark_partition_id().alias("task")).collect()
    assert sorted((r[SLOT_COLUMN], r["task"]) for r in placed) == [(slot, slot) for slot in range(7)]
