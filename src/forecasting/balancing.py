"""Series spread over the training tasks by size, so that no task is a straggler.

Spark's hash partitioning gives each task a random number of series: with about
eight series a task, some tasks get three and others fifteen, and the stage waits
for the last big one. Here every series is ranked by its number of rows, biggest
first, and dealt to the tasks in a snake order (0, 1, ... n-1, n-1, ... 0, ...),
which gives every task about the same number of rows and of series.
"""
from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

# The column that routes a series to its task: a value that Spark's hash
# partitioner sends to that task (see landing_values).
TASK_COLUMN = "_task"
SLOT_COLUMN = "_slot"  # the task's number
SIZE_COLUMN = "_rows"
# Above this many series the assignment (one row per series) is no longer small
# enough to broadcast to every task, and with that many series each task holds
# enough of them for hash partitioning to even out on its own.
MAX_BALANCED_SERIES = 200_000


def balanced(series_df: DataFrame, key_columns: list[str], partitions: int) -> DataFrame:
    """``series_df`` with TASK_COLUMN, hash-partitioned on it into ``partitions``
    tasks of about equal size. The task of a series depends on the input alone."""
    sizes = series_df.groupBy(*key_columns).agg(F.count(F.lit(1)).alias(SIZE_COLUMN))
    # Left joins, so that a row never goes missing: a series without a value
    # (the input changed since it was counted) still trains, where 0 sends it.
    assignment = (
        task_slots(sizes, key_columns, partitions, SIZE_COLUMN)
        .join(F.broadcast(landing_values(series_df.sparkSession, partitions)), SLOT_COLUMN, "left")
        .select(*key_columns, F.coalesce(TASK_COLUMN, SLOT_COLUMN).alias(TASK_COLUMN))
    )
    same_series = reduce(lambda a, b: a & b, [series_df[k].eqNullSafe(assignment[k]) for k in key_columns])
    joined = series_df.join(F.broadcast(assignment), same_series, "left").select(
        series_df["*"], F.coalesce(assignment[TASK_COLUMN], F.lit(0)).alias(TASK_COLUMN)
    )
    return joined.repartition(partitions, TASK_COLUMN)


def task_slots(sizes: DataFrame, key_columns: list[str], partitions: int, size_column: str) -> DataFrame:
    """The keys and SLOT_COLUMN, the task (0 to partitions - 1) of each series in
    ``sizes`` (one row per series): biggest first, dealt in a snake order."""
    # One window over all series (one row each): the rank needs every size. A
    # literal partition keeps Spark from warning about a window without one.
    everything = Window.partitionBy(F.lit(0)).orderBy(
        F.desc(size_column), *[F.asc_nulls_first(k) for k in key_columns]
    )
    rank = F.row_number().over(everything) - 1
    lap, place = F.floor(rank / partitions), F.pmod(rank, F.lit(partitions))
    slot = F.when(lap % 2 == 0, place).otherwise(partitions - 1 - place)
    return sizes.select(*key_columns, slot.alias(SLOT_COLUMN))


def landing_values(spark, partitions: int) -> DataFrame:
    """For each task number (SLOT_COLUMN), the smallest integer (TASK_COLUMN) that
    Spark's hash partitioning (Murmur3 of the value, modulo the partitions) sends
    to that task."""
    candidates = spark.range(0, 64 * partitions)
    return (
        candidates.select(F.pmod(F.hash("id"), F.lit(partitions)).alias(SLOT_COLUMN), F.col("id"))
        .groupBy(SLOT_COLUMN)
        .agg(F.min("id").alias(TASK_COLUMN))
    )
