"""Measure the job against its physical limit and the alternatives, side by side in one run.

    python scripts/benchmark.py --series 48 --cores 2 --max-evals 4 --out benchmark.json
    python scripts/benchmark.py --series 400 --max-evals 6 --rounds 3   # each variant's median of 3

On the same M4 Hourly series (last 48 hours held out) and the same tuning budget:
  ideal            the per-series work in one bare process: its CPU seconds / cores is the limit
  parallel         the same bare work in a forked Pool(cores): what side-by-side fits cost here
  job              jobs/train_forecast.py through spark-submit on local[cores], tracking on
  naive            scripts/benchmark_naive_job.py: the straightforward Spark version
  multiprocessing  scripts/benchmark_multiprocessing.py: a Pool(cores) over pandas groups, tracking on
The job, the naive version and the multiprocessing program are each timed as a whole
program, from their start to their output written. Prints a table and writes JSON: wall
times, efficiency (ideal / job), ratios, the job's phases (from its log), the share of the
job's time spent tracking and in the driver, peak memory, and the MASE each reached on the
held-out data. With --rounds N the variants run in turn N times and each reports its median run.
"""
from __future__ import annotations

import os

# Spark starts its Python workers with OMP_NUM_THREADS = spark.task.cpus (1), so each
# task's NumPy runs one BLAS thread. The bare loops here must too: otherwise idle BLAS
# threads spin on each fit's small matrices and their CPU counts as the work's.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import logging
import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from forecasting import metrics
from forecasting.config import JobConfig, deep_merge, load_config, parse_override
from forecasting.datasets import m4_to_long
from forecasting.python_worker import load_training_modules
from forecasting.series import train_series
from peak_memory import PeakMemory

logger = logging.getLogger("benchmark")
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "m4"
HORIZON, SEASON = 48, 24
VARIANTS = ("ideal", "parallel", "job", "multiprocessing", "naive")
BIN = Path(sys.executable).parent


def prepare(series: int, folder: Path) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    train = pd.read_csv(SHARED / "Hourly-train.csv").head(series)
    test = pd.read_csv(SHARED / "Hourly-test.csv").head(series)
    long = m4_to_long(train, test)
    last = long.groupby("series")["ds"].transform("max")
    held_out = long["ds"] > last - pd.Timedelta(hours=HORIZON)
    history, actual = long[~held_out], long[held_out]
    path = folder / "train.parquet"
    history.to_parquet(path, index=False, coerce_timestamps="us")
    return path, history, actual


def write_config(folder: Path, data: Path, variant: str, args) -> Path:
    layer = yaml.safe_load((ROOT / "conf" / "m4_hourly.yaml").read_text())
    layer["input"]["path"] = str(data)
    layer["tuning"]["max_evals"] = args.max_evals
    layer["cross_validation"]["folds"] = args.folds
    layer["selection"] = {"candidates": ["prophet"]}  # the same Prophet-only work in every variant
    layer["tracking"] = {"uri": str(folder / variant / "mlruns"), "experiment": variant}
    layer["output"] = {"path": str(folder / variant / "output")}
    for text in args.set:
        layer = deep_merge(layer, parse_override(text))
    path = folder / f"{variant}.yaml"
    path.write_text(yaml.safe_dump(layer))
    return path


def mase(forecasts: pd.DataFrame, history: pd.DataFrame, actual: pd.DataFrame) -> float:
    ds = pd.to_datetime(forecasts["ds"])
    if ds.dt.tz is not None:  # Delta hands timestamps back as UTC instants
        ds = ds.dt.tz_localize(None)
    forecasts = forecasts.assign(ds=ds.astype("datetime64[ns]"))
    actual = actual.assign(ds=actual["ds"].astype("datetime64[ns]"))
    scores = []
    for name, truth in actual.groupby("series"):
        joined = truth.merge(forecasts[forecasts["series"] == name], on=["series", "ds"], how="left")
        scores.append(metrics.mase(joined["y"], joined["yhat"], history.loc[history["series"] == name, "y"], SEASON))
    return float(np.mean(scores))


def run_ideal(config_path: Path, history: pd.DataFrame) -> dict:
    config = load_config(config_path)
    load_training_modules()  # importing Prophet and Hyperopt is not per-series work
    started, cpu = time.perf_counter(), os.times()
    forecasts = []
    for name, group in history.groupby("series"):
        outcome = train_series(group[["ds", "y"]], config, name=f"series {name}")
        forecasts.append(outcome.forecast.assign(series=name))
    end = os.times()
    # Prophet fits in cmdstan child processes: their CPU time counts too
    cpu_seconds = sum(getattr(end, f) - getattr(cpu, f) for f in ("user", "system", "children_user", "children_system"))
    return {"wall": time.perf_counter() - started, "cpu": cpu_seconds, "forecasts": pd.concat(forecasts)}


def run_spark(argv: list[str], cwd: Path, temp: Path | None = None) -> dict:
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    if temp is not None:  # Python's temporary files there (the executors inherit it on local[N])
        temp.mkdir(exist_ok=True)
        env["TMPDIR"] = str(temp)
    started, started_at = time.perf_counter(), time.time()
    with open(cwd / "log.txt", "w") as log:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        with PeakMemory(process.pid) as memory:
            code = process.wait()
    if code != 0:
        raise RuntimeError(f"{argv[3]} exited {code}; see {cwd / 'log.txt'}")
    return {"wall": time.perf_counter() - started, "started_at": started_at, "driver_peak": memory.driver,
            "driver_jvm_peak": memory.jvm, "driver_jvm_peak_at": memory.jvm_peak_at, "workers_peak": memory.workers,
            "driver_cpu": memory.driver_cpu}


def run_job(config_path: Path, folder: Path, cores: int, run_date: str) -> dict:
    from deltalake import DeltaTable

    (folder / "job").mkdir(exist_ok=True)
    file_ms = file_creation_ms(folder / "job")
    result = run_spark(
        [str(BIN / "spark-submit"), "--master", f"local[{cores}]", str(ROOT / "jobs" / "train_forecast.py"),
         "--config", str(config_path), "--run-date", run_date], folder / "job",
    )
    result["phases"] = job_phases(folder / "job" / "log.txt", result["started_at"], result["wall"])
    output = folder / "job" / "output"
    result["forecasts"] = DeltaTable(str(output / "forecasts")).to_pandas()[["series", "ds", "yhat"]]
    result["tracking"] = float(DeltaTable(str(output / "series_results")).to_pandas()["tracking_seconds"].sum())
    result["file_create_ms"] = file_ms
    return result


def file_creation_ms(folder: Path, runs: int = 50) -> float:
    """Milliseconds to create a small file or a folder in ``folder``, laid out as a child run's
    (a folder of folders of small files), measured just before the job: creating them is most
    of tracking's cost, and on some file systems it is several times slower for minutes after
    a large folder was deleted nearby (docs/performance.md: Where the runs' files go)."""
    probe = Path(tempfile.mkdtemp(prefix="file-probe-", dir=folder))
    started = time.perf_counter()
    for run in range(runs):
        for part in ("tags", "params", "metrics"):
            (probe / str(run) / part).mkdir(parents=True)
            for name in range(3):
                (probe / str(run) / part / str(name)).write_bytes(b"0.123456789 1796552030846 0\n")
    elapsed = time.perf_counter() - started
    shutil.rmtree(probe)
    return 1000 * elapsed / (runs * (1 + 3 * (1 + 3)))


# The job's own log lines that end each of its phases, in order; the last phase ends
# with the process.
PHASE_ENDS = [
    ("start, read and check", "forecasting.pipeline: input: "),
    ("parent run", "forecasting.spark_training: training "),
    ("training stage", " rows) in "),  # "... 400/400 series done (373,404 rows) in 27.9s, 5 failed"
    ("table writes", "forecasting.tables: wrote "),  # the last of the three
    # the summary's queries over the staged results, the catalog, then the served model's registration
    ("result checks and registration", "forecasting.registration: registered model "),
]


def job_phases(log: Path, started_at: float, wall: float) -> dict[str, float]:
    """Seconds of each phase of the job, from the time stamps of its log lines."""
    ends = {}
    for line in log.read_text().splitlines():
        try:
            stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        except ValueError:
            continue
        for name, text in PHASE_ENDS:
            if text in line:
                ends[name] = stamp - started_at
    if "table writes" in ends:  # a config without a registered model has none to register
        ends.setdefault("result checks and registration", ends["table writes"])
    if len(ends) < len(PHASE_ENDS):
        return {}
    bounds = [0.0, *(ends[name] for name, _ in PHASE_ENDS), wall]
    names = [name for name, _ in PHASE_ENDS] + ["summary and exit"]
    return {name: round(end - begin, 2) for name, begin, end in zip(names, bounds, bounds[1:])}


def run_naive(config_path: Path, data: Path, folder: Path, cores: int) -> dict:
    (folder / "naive").mkdir(exist_ok=True)
    out = folder / "naive" / "forecasts.parquet"
    result = run_spark(
        [str(BIN / "spark-submit"), "--master", f"local[{cores}]", str(ROOT / "scripts" / "benchmark_naive_job.py"),
         str(data), str(out), (folder / "naive" / "mlruns").as_uri(), str(config_path)], folder / "naive",
        # Stock Prophet's Stan fits write under cmdstanpy's temporary folder, which the killed Python
        # workers never delete (16,000 files, 140 MB at 400 series): in the run's folder, they go with it
        temp=folder / "naive" / "tmp",
    )
    result["forecasts"] = pd.read_parquet(out)
    return result


def _bare_series(item, config: JobConfig):
    name, group = item
    return train_series(group[["ds", "y"]], config, name=f"series {name}").forecast.assign(series=name)


def run_parallel(config_path: Path, history: pd.DataFrame, cores: int) -> dict:
    """The ideal's loop spread over a Pool(cores): what running fits side by side
    costs on this machine (shared caches, memory bandwidth), before any overhead. The
    workers fork from this process with the training's modules loaded, so that their
    imports do not count as side-by-side cost."""
    config = load_config(config_path)  # once, as the ideal loop does: parsing it takes 5 ms
    load_training_modules()
    started = time.perf_counter()
    groups = sorted(history.groupby("series"), key=lambda item: -len(item[1]))
    with multiprocessing.Pool(cores) as pool:
        forecasts = pool.map(partial(_bare_series, config=config), groups, chunksize=1)
    return {"wall": time.perf_counter() - started, "forecasts": pd.concat(forecasts)}


def run_multiprocessing(config_path: Path, data: Path, folder: Path, cores: int) -> dict:
    """scripts/benchmark_multiprocessing.py as its own program, timed from its start
    to its output written, as the job is."""
    out = folder / "multiprocessing" / "output"
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "benchmark_multiprocessing.py"),
                                str(data), str(out), str(config_path), str(cores)])
    with PeakMemory(process.pid, children_work=True) as memory:
        code = process.wait()
    if code != 0:
        raise RuntimeError(f"benchmark_multiprocessing.py exited {code}")
    return {"wall": time.perf_counter() - started, "driver_peak": memory.driver, "workers_peak": memory.workers,
            "forecasts": pd.read_parquet(out / "forecasts.parquet")}


def median_run(runs: list[dict], key: str) -> dict:
    """The run whose ``key`` is the median (the lower one of an even count), with
    every run's wall time (and CPU time, where measured) beside it."""
    chosen = dict(sorted(runs, key=lambda run: run[key])[(len(runs) - 1) // 2])
    chosen["walls"] = [run["wall"] for run in runs]
    for each, one in (("cpus", "cpu"), ("file_create_ms_every", "file_create_ms")):
        if one in chosen:
            chosen[each] = [run[one] for run in runs]
    return chosen


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=48, help="M4 Hourly series to use (at most 414)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--max-evals", type=int, default=4)
    parser.add_argument("--folds", type=int, default=2)
    # naive last: its Stan fits create and delete thousands of temporary files, and on a
    # file system without a journal (as on this project's VMs) ext4 then allocates new
    # inodes slowly for minutes, which would slow the tracking of a variant run after it
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("benchmark.json"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for every variant, e.g. model.optimizer=stan")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the variants in turn this many times and report each one's median run "
                             "(the naive version runs once, last)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the runs' inputs, tables and MLflow stores (about 1 GB at 400 series with "
                             "the naive version), e.g. for scripts/simulate_cores.py; by default they are "
                             "deleted once the report is written, and kept only when a run fails")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the runs' folder goes (default: the system's temporary folder). Tracking "
                             "writes some 40 small files a series, so a folder where creating files is slow "
                             "weighs on the job and the multiprocessing program (docs/performance.md: Where the runs' files go)")
    args = parser.parse_args()
    variants = args.variants.split(",")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"--variants: unknown {', '.join(unknown)}; the variants are {', '.join(VARIANTS)}")
    missing = [path for path in (SHARED / "Hourly-train.csv", SHARED / "Hourly-test.csv") if not path.is_file()]
    if missing:
        parser.error(f"M4 Hourly data not found: {', '.join(map(str, missing))} (the shared data beside the project)")

    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="forecast-benchmark-", dir=args.workdir))
    data, history, actual = prepare(args.series, folder)
    if history["series"].nunique() < args.series:
        shutil.rmtree(folder)
        parser.error(f"--series {args.series}: M4 Hourly has {history['series'].nunique()} series")
    # the day the data reach, not today: M4's made-up 2015 times would make every series stale
    run_date = history["ds"].max().date().isoformat()
    # In turn, so that the machine's drift from one minute to the next (see
    # docs/performance.md, "Runs of the same command over time") falls on every variant alike.
    # Each run writes into a folder of its own: a job writing into the tables and the
    # experiment of an earlier run does more (Delta replays the tables' logs first).
    schedule = [(r, v) for r in range(1, args.rounds + 1) for v in variants if v != "naive"]
    schedule += [(1, v) for v in variants if v == "naive"]
    runs: dict[str, list[dict]] = {variant: [] for variant in variants}
    for round_number, variant in schedule:
        work = folder / f"round-{round_number}"
        work.mkdir(exist_ok=True)
        config_path = write_config(work, data, variant, args)
        logger.info("running %s on %d series", variant, args.series)
        if variant == "ideal":
            result = run_ideal(config_path, history)
        elif variant == "job":
            result = run_job(config_path, work, args.cores, run_date)
        elif variant == "parallel":
            result = run_parallel(config_path, history, args.cores)
        elif variant == "naive":
            result = run_naive(config_path, data, work, args.cores)
        else:  # multiprocessing
            result = run_multiprocessing(config_path, data, work, args.cores)
        result["mase"] = mase(result.pop("forecasts"), history, actual)
        logger.info("%s: %.1fs wall, MASE %.3f", variant, result["wall"], result["mase"])
        runs[variant].append(result)
    results = {variant: median_run(variant_runs, "cpu" if variant == "ideal" else "wall")
               for variant, variant_runs in runs.items()}

    budget = load_config(config_path)  # as every variant ran it, --set included
    args.max_evals, args.folds = budget.tuning.max_evals, budget.cross_validation.folds
    report = {"series": args.series, "cores": args.cores, "max_evals": args.max_evals, "folds": args.folds,
              "rounds": args.rounds, "machine": f"{os.cpu_count()} CPUs", "variants": results}
    if "ideal" in results:
        report["ideal_wall"] = results["ideal"]["cpu"] / args.cores
    if "job" in results:
        job = results["job"]["wall"]
        if "ideal" in results:
            report["efficiency"] = report["ideal_wall"] / job
        for other in ("naive", "multiprocessing"):
            if other in results:
                report[f"job_vs_{other}"] = results[other]["wall"] / job
        report["tracking_share"] = results["job"]["tracking"] / (args.cores * job)
        report["driver_cpu_share"] = results["job"]["driver_cpu"] / (args.cores * job)
    if "ideal" in results and "parallel" in results:
        report["parallel_efficiency"] = report["ideal_wall"] / results["parallel"]["wall"]
    if "parallel" in results and results.get("job", {}).get("phases"):
        # the job's training stage against the same work in the bare pool: its in-training overhead
        report["training_vs_parallel"] = results["job"]["phases"]["training stage"] / results["parallel"]["wall"]
    args.out.write_text(json.dumps(report, indent=2))

    rounds = f", median of {args.rounds} rounds" if args.rounds > 1 else ""
    print(f"\n{args.series} M4 Hourly series, local[{args.cores}], {args.max_evals} evaluations x {args.folds} folds"
          f"{rounds}\n")
    print(f"{'variant':<16} {'wall s':>8} {'MASE':>7} {'driver MB':>10} {'workers MB':>11}  every run's wall s")
    for variant, values in results.items():
        driver = values.get("driver_peak", 0) / 2**20
        workers = values.get("workers_peak", 0) / 2**20
        every = " ".join(f"{wall:.1f}" for wall in values["walls"])
        print(f"{variant:<16} {values['wall']:>8.1f} {values['mase']:>7.3f} {driver:>10.0f} {workers:>11.0f}  {every}")
    if "job" in results:
        every = ", ".join(f"{ms:.2f}" for ms in results["job"]["file_create_ms_every"])
        print(f"creating a file or folder where the job tracks, just before it: {every} ms (about 0.02-0.06 on "
              "the benchmark VM's disk at ease, several times that for minutes after a large folder was deleted "
              "there, which inflates tracking_share)")
    if results.get("job", {}).get("phases"):
        print("job phases (s): " + ", ".join(f"{name} {sec:.1f}" for name, sec in results["job"]["phases"].items()))
    for key in ("ideal_wall", "efficiency", "parallel_efficiency", "training_vs_parallel", "job_vs_naive",
                "job_vs_multiprocessing", "tracking_share", "driver_cpu_share"):
        if key in report:
            print(f"{key:<24} {report[key]:.3f}")
    print(f"\nJSON: {args.out}")
    if args.keep:
        print(f"runs kept in {folder} (the job's config of round 1: {folder / 'round-1' / 'job.yaml'})")
    else:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
