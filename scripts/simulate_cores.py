"""The training stage on more cores, simulated from one run's measured per-series times.

    python scripts/benchmark.py --series 400 --max-evals 60 --folds 3 --variants job --keep
    python scripts/simulate_cores.py --config /tmp/forecast-benchmark-XXXX/round-1/job.yaml --cores 2,8,16

For when no machine with that many cores is at hand: it reads the run's
series_results (each trained series' fit and tracking seconds, measured in its task),
deals the series into tasks three ways, with the job's task count for that many
cores: the way the job does (forecasting.balancing: the later tasks smaller),
into tasks of equal size, and the way plain hash partitioning on the keys would.
It plays each set of tasks in order onto N cores, each task to the first core
free, as Spark's scheduler hands them out.
It reports the stage's length against the ideal (all series' seconds / N) as the
stage's efficiency.

A simulation, not a measurement: it leaves out each task's own cost, the job's
fixed costs (start, input, writes) and that cores share memory bandwidth. Which
series are slow is partly chance (a fit's iterations), so each figure is the
mean over --draws draws, with the worst 5% beside it. With --draw rows (the
default) a series takes, in each draw, its rows times the seconds per row of a
series drawn at random from the run: time in proportion to rows, which is what
balancing by rows assumes. With --draw series it takes the whole seconds of a
series drawn at random, whatever its rows.
"""
from __future__ import annotations

import argparse
import heapq
import logging
import random
import statistics
import sys

from pyspark.sql import functions as F

from forecasting import balancing, tables
from forecasting.config import load_config
from forecasting.series import SKIPPED
from forecasting.spark_session import build_session
from forecasting.spark_training import shuffle_partitions


def stage_seconds(task_seconds: list[float], cores: int) -> float:
    """When the last task ends, tasks started in order, each on the first free core."""
    free_at = [0.0] * cores
    for seconds in task_seconds:
        heapq.heappush(free_at, heapq.heappop(free_at) + seconds)
    return max(free_at)


def efficiency(seconds: list[float], tasks: list[int], partitions: int, cores: int) -> float:
    per_task = [0.0] * partitions
    for cost, task in zip(seconds, tasks):
        per_task[task] += cost
    return sum(seconds) / cores / stage_seconds(per_task, cores)


def draw_seconds(kind: str, sizes: list[int], per_row: list[float], draws: random.Random) -> list[float]:
    """Each series' seconds in one draw: its rows times a random series' seconds per
    row ("rows"), or the measured seconds of a random series ("series")."""
    if kind == "rows":
        return [rows * draws.choice(per_row) for rows in sizes]
    whole = [rows * seconds for rows, seconds in zip(sizes, per_row)]
    return draws.sample(whole, len(whole))


def placements(results, keys: list[str], per_task: list[int]) -> dict[str, list]:
    """Each series' rows, seconds per row, and task: as the job deals them
    ("job"), into equal tasks ("equal") and under hash partitioning ("hash")."""
    partitions = len(per_task)
    seconds = F.col("fit_seconds") + F.col("tracking_seconds")
    rows = F.col("history_length")
    hashed = F.pmod(F.hash(*keys), F.lit(partitions))  # where groupBy(keys) would send the series
    sizes = results.select(*keys, rows.alias("rows"), (seconds / rows).alias("per_row"), hashed.alias("hash"))
    found = sizes
    for name, slots in (("job", sum(per_task)), ("equal", partitions)):
        dealt = balancing.series_slots(sizes, keys, slots, "rows").withColumnRenamed(balancing.SLOT_COLUMN, name)
        found = found.join(dealt, [found[k].eqNullSafe(dealt[k]) for k in keys]).drop(*[dealt[k] for k in keys])
    columns = ["rows", "per_row", "job", "equal", "hash"]
    rows_found = found.select(*columns).collect()
    placed = {name: [row[name] for row in rows_found] for name in columns}
    owner = balancing.task_of_slot(per_task)
    placed["job"] = [owner[slot] for slot in placed["job"]]
    return placed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the run's job config (its output and key columns)")
    parser.add_argument("--cores", default="2,8,16")
    parser.add_argument("--run-date", help="the run to read (default: the latest in series_results)")
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--draw", choices=("rows", "series"), default="rows",
                        help="each draw: rows times a random series' seconds per row, or a random series' seconds")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_config(args.config)
    keys = list(config.input.key_columns)
    spark = build_session("simulate-cores", config)
    results = tables.read_table(spark, config, tables.SERIES_RESULTS)
    run_date = args.run_date or results.agg(F.max("run_date")).first()[0]
    # the series that were trained (a skipped one costs next to nothing)
    results = results.where((F.col("run_date") == F.lit(run_date).cast("date")) & (F.col("status") != SKIPPED)
                            & (F.col("history_length") > 0) & (F.col("fit_seconds") > 0))
    series = results.count()
    if not series:
        sys.exit(f"no trained series of run date {run_date} in {tables.table_paths(config)[tables.SERIES_RESULTS]}: "
                 "check --config and --run-date")
    print(f"\n{series} trained series of the run of {run_date}, each one's fit and tracking seconds as measured; "
          f"mean of {args.draws} draws by {args.draw} (worst 5%)\n")
    print(f"{'cores':>5} {'tasks':>5} {'ideal s':>8} {'the job':>15} {'equal tasks':>15} {'hash partitioning':>17}")
    for cores in (int(text) for text in args.cores.split(",")):
        partitions = shuffle_partitions(config, series, cores)
        placed = placements(results, keys, balancing.slots_per_task(series, partitions, cores))
        draws = random.Random(0)
        found = {"job": [], "equal": [], "hash": []}
        for _ in range(args.draws):
            seconds = draw_seconds(args.draw, placed["rows"], placed["per_row"], draws)
            for name, runs in found.items():
                runs.append(efficiency(seconds, placed[name], partitions, cores))
        cells = [f"{statistics.mean(v):.3f} ({sorted(v)[len(v) // 20]:.3f})" for v in found.values()]
        measured = sum(rows * seconds for rows, seconds in zip(placed["rows"], placed["per_row"]))
        print(f"{cores:>5} {partitions:>5} {measured / cores:>8.1f} {cells[0]:>15} {cells[1]:>15} {cells[2]:>17}")


if __name__ == "__main__":
    main()
