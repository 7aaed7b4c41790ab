"""Series spread over the training tasks by size, so that no task is a straggler.

Spark's hash partitioning gives each task a random number of series: with about
twenty series a task, some tasks get a dozen and others thirty, and the stage waits
for the last big one. Here every series is ranked by its number of rows, biggest
first, and dealt to equal slots in a snake order (0, 1, ... n-1, n-1, ... 0, ...),
which gives every slot about the same number of rows and of series.

Each task then takes a run of slots: the tasks Spark starts first take several,
those it starts last take one. Which series are slow is partly chance, and the
stage ends when the last task does: small last tasks end close together, while
the cores that finished their big early tasks sooner have already picked up the
next ones (guided self-scheduling). This counts on Spark starting a stage's tasks
in the order of their numbers, as its scheduler does on one machine; on a cluster,
locality preferences, retried and speculative tasks can change the order. The
order only changes how long the stage takes, never which series a task holds.
"""
from __future__ import annotations

import json
import math
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

# The column that routes a series to its task: a value that Spark's hash
# partitioner sends to that task (see landing_values).
TASK_COLUMN = "_task"
SLOT_COLUMN = "_slot"  # the slot a series is dealt to; a task holds one or more
SIZE_COLUMN = "_rows"
# Above this many series the assignment (one row per series) is no longer small
# enough to broadcast to every task, and with that many series each task holds
# enough of them for hash partitioning to even out on its own.
MAX_BALANCED_SERIES = 200_000
# How many times more slots the first round of tasks holds than the last: the
# largest of these that leaves every slot MIN_SERIES_PER_SLOT series on average
# (a slot of one series would make the last tasks as uneven as the series).
TAPERS = (8, 4, 2)
MIN_SERIES_PER_SLOT = 2


def slots_per_task(series_count: int, partitions: int, cores: int) -> list[int]:
    """How many slots each task holds, in the order Spark starts the tasks (by
    number): falling by about the same factor from round to round (a round is
    one task per core), never rising, down to one slot in the last round."""
    rounds = math.ceil(partitions / cores)
    if rounds > 1:
        for taper in TAPERS:
            per_task = [max(1, round(taper ** (1 - (task // cores) / (rounds - 1)))) for task in range(partitions)]
            if sum(per_task) * MIN_SERIES_PER_SLOT <= series_count:
                return per_task
    return [1] * partitions


def balanced(series_df: DataFrame, key_columns: list[str], per_task: list[int]) -> DataFrame:
    """``series_df`` with TASK_COLUMN, hash-partitioned on it into ``len(per_task)``
    tasks, task n holding ``per_task[n]`` slots of about equal size. The task of a
    series depends on the input alone."""
    values = slot_values(per_task)
    # One JSON literal, which Spark folds into a constant array: no join, and no
    # table of Python rows (createDataFrame), which a Python worker would read in
    # a job of its own before the training's.
    value_of_slot = F.from_json(F.lit(json.dumps(values)), "array<bigint>")
    sizes = series_df.groupBy(*key_columns).agg(F.count(F.lit(1)).alias(SIZE_COLUMN))
    assignment = series_slots(sizes, key_columns, len(values), SIZE_COLUMN).select(
        *key_columns, F.element_at(value_of_slot, F.col(SLOT_COLUMN) + 1).alias(TASK_COLUMN)
    )
    # A left join, so that a row never goes missing: a series without a value
    # (the input changed since it was counted) still trains, where 0 sends it.
    same_series = reduce(lambda a, b: a & b, [series_df[k].eqNullSafe(assignment[k]) for k in key_columns])
    joined = series_df.join(F.broadcast(assignment), same_series, "left").select(
        series_df["*"], F.coalesce(assignment[TASK_COLUMN], F.lit(0)).alias(TASK_COLUMN)
    )
    return joined.repartition(len(per_task), TASK_COLUMN)


def series_slots(sizes: DataFrame, key_columns: list[str], slots: int, size_column: str) -> DataFrame:
    """The keys and SLOT_COLUMN, the slot (0 to slots - 1) of each series in
    ``sizes`` (one row per series): biggest first, dealt in a snake order. The
    last, partial lap runs forward, so that its series go to the first slots,
    whose tasks start first."""
    # The rank needs every size: all series sorted in one array (a row each, up
    # to MAX_BALANCED_SERIES), by size down, then keys up with nulls first.
    # A window over all series would do the same, but Spark drops its literal
    # partition and warns in every run about moving all rows to one partition.
    # The keys nest in a struct of their own, so that no key's name can clash.
    order = F.struct(F.negative(F.col(size_column)).alias("size"), F.struct(*key_columns).alias("keys"))
    ranked = sizes.agg(F.sort_array(F.collect_list(order)).alias("_all")).select(
        F.size("_all").alias("_series"), F.posexplode("_all").alias("_rank", "_one")
    )
    rank = F.col("_rank")
    full_laps = F.floor(F.col("_series") / slots)
    lap, place = F.floor(rank / slots), F.pmod(rank, F.lit(slots))
    slot = F.when((lap % 2 == 0) | (lap == full_laps), place).otherwise(slots - 1 - place)
    keys = F.col("_one").getField("keys")
    return ranked.select(*[keys.getField(k).alias(k) for k in key_columns], slot.alias(SLOT_COLUMN))


def task_of_slot(per_task: list[int]) -> list[int]:
    """The task number of each slot: task 0 holds the first per_task[0] slots, and so on."""
    return [task for task, slots in enumerate(per_task) for _ in range(slots)]


def slot_values(per_task: list[int]) -> list[int]:
    """For each slot, by number, the landing value (see landing_values) of its task."""
    landing = landing_values(len(per_task))
    return [landing[task] for task in task_of_slot(per_task)]


def landing_values(partitions: int) -> dict[int, int]:
    """For each task number, the smallest integer (TASK_COLUMN) that Spark's hash
    partitioning (Murmur3 of the value, modulo the partitions) sends to that task.
    Worked out here rather than by Spark: a job less before the training (the
    tests check it against Spark's own partitioner)."""
    landing: dict[int, int] = {}
    value = 0
    while len(landing) < partitions:  # about partitions * ln(partitions) values
        landing.setdefault(spark_hash_long(value) % partitions, value)
        value += 1
    return landing


_MASK = 0xFFFFFFFF


def _rotate_left(x: int, bits: int) -> int:
    return ((x << bits) | (x >> (32 - bits))) & _MASK


def _mix(h1: int, k1: int) -> int:
    k1 = _rotate_left((k1 * 0xCC9E2D51) & _MASK, 15) * 0x1B873593 & _MASK
    h1 = _rotate_left(h1 ^ k1, 13)
    return (h1 * 5 + 0xE6546B64) & _MASK


def spark_hash_long(value: int, seed: int = 42) -> int:
    """Spark's ``hash()`` of a bigint (Murmur3_x86_32.hashLong, the seed its hash
    partitioning uses): the low 32 bits, then the high, then the finalisation."""
    h1 = _mix(_mix(seed, value & _MASK), (value >> 32) & _MASK)
    h1 ^= 8
    h1 ^= h1 >> 16
    h1 = (h1 * 0x85EBCA6B) & _MASK
    h1 ^= h1 >> 13
    h1 = (h1 * 0xC2B2AE35) & _MASK
    h1 ^= h1 >> 16
    return h1 - (1 << 32) if h1 >= 1 << 31 else h1  # a Java int
