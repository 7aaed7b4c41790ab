"""Convert the M4 Hourly train and test files into the job's long input format.

    python scripts/prepare_m4.py --out data/m4_hourly.parquet [--series 50]

then: spark-submit jobs/evaluate_forecast.py --config conf/m4_hourly.yaml --run-date 2015-02-12
The evaluation holds out the last 48 hours of each series: exactly M4's test set. The run date is
the day the made-up hourly times reach: today's would read every series as years out of date.
"""
import argparse
import logging
from pathlib import Path

import pandas as pd

from forecasting.datasets import m4_to_long

logger = logging.getLogger("prepare_m4")
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "m4"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, default=SHARED / "Hourly-train.csv")
    parser.add_argument("--test", type=Path, default=SHARED / "Hourly-test.csv")
    # in the project's data/, where conf/m4_hourly.yaml reads it, wherever this is run from
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "m4_hourly.parquet")
    parser.add_argument("--series", type=int, default=None, help="only the first N series (all by default)")
    args = parser.parse_args()
    missing = [path for path in (args.train, args.test) if not path.is_file()]
    if missing:
        parser.error(f"M4 Hourly file(s) not found: {', '.join(map(str, missing))} (give --train and --test)")
    if args.series is not None and args.series < 1:
        parser.error("--series must be 1 or more")

    train, test = pd.read_csv(args.train), pd.read_csv(args.test)
    if args.series is not None:
        train, test = train.head(args.series), test.head(args.series)
    long = m4_to_long(train, test)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # Spark reads microsecond timestamps, not pandas' default nanoseconds
    long.to_parquet(args.out, index=False, coerce_timestamps="us")
    logger.info("wrote %d rows, %d series to %s", len(long), long["series"].nunique(), args.out)


if __name__ == "__main__":
    main()
