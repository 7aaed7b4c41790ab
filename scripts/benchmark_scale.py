"""Scale run: the job on synthetic inputs of growing size, with a small tuning budget.

    python scripts/benchmark_scale.py --series 1000,10000 --cores 2 --out scale.json

Each size is a fresh synthetic input (daily store-item sales, one year each) run
through spark-submit on local[cores] with tracking on. Reports series per second
and the peak memory of the driver (the JVM and the Python driver) and of the
Python workers, and the driver's growth from the smallest size to the largest:
nothing is collected on the driver per series, so it should stay flat.
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
from forecasting.sample_data import make_sample_sales

logger = logging.getLogger("benchmark_scale")
DAYS = 365


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


def run_size(series: int, cores: int, folder: Path, overrides: list[str]) -> dict:
    work = folder / str(series)
    work.mkdir()
    data = synthetic_input(series, work)
    config = work / "scale.yaml"
    config.write_text(yaml.safe_dump({
        "input": {"path": str(data), "format": "parquet"},
        "tracking": {"uri": str(work / "mlruns"), "experiment": f"scale-{series}"},
        "output": {"path": str(work / "output")},
    }))
    argv = [str(BIN / "spark-submit"), "--master", f"local[{cores}]", str(ROOT / "jobs" / "train_forecast.py"),
            "--config", str(config)]
    for override in overrides:
        argv += ["--set", override]
    logger.info("running the job on %d synthetic series", series)
    result = run_spark(argv, work)
    result["series_per_second"] = series / result["wall"]
    logger.info("%d series: %.0fs, %.1f series/s, driver peak %.0f MB", series, result["wall"],
                result["series_per_second"], result["driver_peak"] / 2**20)
    return result


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", default="1000,10000", help="comma-separated input sizes")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append",
                        default=["tuning.max_evals=1", "cross_validation.folds=1", "selection.candidates=[prophet]"],
                        help="job config override (the small budget by default; repeatable)")
    parser.add_argument("--out", type=Path, default=Path("scale.json"))
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.series.split(","))

    folder = Path(tempfile.mkdtemp(prefix="forecast-scale-"))
    started = time.time()
    results = {n: run_size(n, args.cores, folder, args.overrides) for n in sizes}
    report = {"cores": args.cores, "overrides": args.overrides, "machine": f"{os.cpu_count()} CPUs",
              "sizes": results, "seconds": time.time() - started}
    smallest, largest = results[sizes[0]], results[sizes[-1]]
    report["driver_growth"] = largest["driver_peak"] / smallest["driver_peak"] - 1
    args.out.write_text(json.dumps(report, indent=2))

    print(f"\nsynthetic daily series, local[{args.cores}], {' '.join(args.overrides)}\n")
    print(f"{'series':>8} {'wall s':>8} {'series/s':>9} {'driver MB':>10} {'workers MB':>11}")
    for n, values in results.items():
        print(f"{n:>8} {values['wall']:>8.0f} {values['series_per_second']:>9.2f} "
              f"{values['driver_peak'] / 2**20:>10.0f} {values['workers_peak'] / 2**20:>11.0f}")
    print(f"\ndriver peak growth {sizes[0]} -> {sizes[-1]} series: {report['driver_growth']:+.1%}")
    print(f"JSON: {args.out}")


if __name__ == "__main__":
    sys.exit(main())
