"""Scale run: the job on synthetic inputs of growing size, with a small tuning budget.

    python scripts/benchmark_scale.py --series 1000,10000 --cores 2 --out scale.json

Each size is a fresh synthetic input (daily store-item sales, one year each) run
through spark-submit on local[cores] with tracking on. Reports series per second
and the peak memory of the driver (the JVM and the Python driver) and of the
Python workers, and the driver's growth from the smallest size to the largest:
nothing is collected on the driver per series, so it should stay flat.

On local[cores] the executor lives in the driver's JVM, so the driver's figure
also holds the executor's work (reading and shuffling the input grows its heap
up to spark.driver.memory). --standalone runs each size on a standalone master
and worker on localhost instead (scripts/local_cluster.py): the driver is then a
process of its own, and the executor's JVM is reported apart.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from benchmark import BIN, ROOT, run_spark
from peak_memory import PeakMemory
from forecasting.sample_data import make_sample_sales
from local_cluster import standalone_cluster

logger = logging.getLogger("benchmark_scale")
DAYS = 365
EXECUTOR_MEMORY = "2g"
SMALL_BUDGET = ["tuning.max_evals=1", "cross_validation.folds=1", "selection.candidates=[prophet]"]


def synthetic_input(series: int, folder: Path) -> Path:
    """``series`` store-item pairs (about square), written in chunks to bound memory."""
    items = int(np.ceil(np.sqrt(series)))
    stores = int(np.ceil(series / items))
    path = folder / f"sales-{series}"
    path.mkdir()
    made = 0
    for chunk, first in enumerate(range(0, stores, 10)):
        store_names = tuple(f"store{i:05d}" for i in range(first, min(first + 10, stores)))
        frame = make_sample_sales(stores=store_names, items=tuple(f"item{i:05d}" for i in range(items)),
                                  days=DAYS, seed=chunk)
        keep = frame[["store", "item"]].drop_duplicates().head(series - made)
        frame = frame.merge(keep, on=["store", "item"])
        made += len(keep)
        frame.to_parquet(path / f"part-{chunk:05d}.parquet", index=False, coerce_timestamps="us")
        if made >= series:
            break
    return path


def run_size(series: int, cores: int, folder: Path, overrides: list[str], standalone: bool) -> dict:
    work = folder / str(series)
    work.mkdir()
    data = synthetic_input(series, work)
    config = work / "scale.yaml"
    config.write_text(yaml.safe_dump({
        "input": {"path": str(data), "format": "parquet"},
        "tracking": {"uri": str(work / "mlruns"), "experiment": f"scale-{series}"},
        "output": {"path": str(work / "output")},
    }))
    job = [str(ROOT / "jobs" / "train_forecast.py"), "--config", str(config)]
    for override in overrides:
        job += ["--set", override]
    logger.info("running the job on %d synthetic series", series)
    if standalone:
        with standalone_cluster(work, cores=cores, memory=EXECUTOR_MEMORY,
                                env={"PYSPARK_PYTHON": sys.executable}) as cluster:
            argv = [str(BIN / "spark-submit"), "--master", cluster["master"],
                    "--conf", f"spark.executor.memory={EXECUTOR_MEMORY}", *job]
            with PeakMemory(cluster["worker"].pid, count_root=False) as executor:
                result = run_spark(argv, work)
        result["executor_jvm_peak"], result["workers_peak"] = executor.jvm, executor.workers
    else:
        result = run_spark([str(BIN / "spark-submit"), "--master", f"local[{cores}]", *job], work)
    result["series_per_second"] = series / result["wall"]
    logger.info("%d series: %.0fs, %.1f series/s, driver peak %.0f MB", series, result["wall"],
                result["series_per_second"], result["driver_peak"] / 2**20)
    return result


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", default="1000,10000", help="comma-separated input sizes")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--standalone", action="store_true",
                        help="run on a standalone master and worker on localhost, the driver apart from the executor")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="job config override, after the small budget's (repeatable)")
    parser.add_argument("--out", type=Path, default=Path("scale.json"))
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the runs' folder goes (default: the system's temporary folder). Tracking "
                             "writes some 40 small files a series, so a folder where creating files is slow "
                             "weighs on the job (docs/performance.md: Where the runs' files go)")
    args = parser.parse_args()
    overrides = [*SMALL_BUDGET, *args.overrides]
    sizes = sorted(int(n) for n in args.series.split(","))

    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="forecast-scale-", dir=args.workdir))
    started = time.time()
    results = {n: run_size(n, args.cores, folder, overrides, args.standalone) for n in sizes}
    report = {"cores": args.cores, "overrides": overrides, "standalone": args.standalone,
              "machine": f"{os.cpu_count()} CPUs", "sizes": results, "seconds": time.time() - started}
    smallest, largest = results[sizes[0]], results[sizes[-1]]
    report["driver_growth"] = largest["driver_peak"] / smallest["driver_peak"] - 1
    args.out.write_text(json.dumps(report, indent=2))

    where = "a standalone master and worker" if args.standalone else f"local[{args.cores}]"
    print(f"\nsynthetic daily series, {where}, {args.cores} cores, {' '.join(overrides)}\n")
    print(f"{'series':>8} {'wall s':>8} {'series/s':>9} {'driver MB':>10} {'of it JVM':>10} "
          f"{'executor JVM MB':>16} {'workers MB':>11}")
    for n, values in results.items():
        executor = values.get("executor_jvm_peak")
        print(f"{n:>8} {values['wall']:>8.0f} {values['series_per_second']:>9.2f} "
              f"{values['driver_peak'] / 2**20:>10.0f} {values['driver_jvm_peak'] / 2**20:>10.0f} "
              f"{executor / 2**20 if executor else float('nan'):>16.0f} {values['workers_peak'] / 2**20:>11.0f}")
    print(f"\ndriver peak growth {sizes[0]} -> {sizes[-1]} series: {report['driver_growth']:+.1%}")
    print(f"JSON: {args.out}")


if __name__ == "__main__":
    sys.exit(main())
