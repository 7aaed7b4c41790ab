"""Convert the raw airport passenger table into the job's long input format.

    python scripts/prepare_airports.py \
        --raw ../shared/data/airports/air_passenger_traffic_monthly.csv \
        --out data/airports.csv

then: spark-submit jobs/train_forecast.py --config conf/airports.yaml --run-date 2016-01-01
(the data end in December 2015: today's run date would read every series as years out of date)
"""
import argparse
import logging
from pathlib import Path

import pandas as pd

from forecasting.datasets import airports_to_long

logger = logging.getLogger("prepare_airports")
DEFAULT_RAW = Path(__file__).resolve().parents[1] / "../shared/data/airports/air_passenger_traffic_monthly.csv"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", type=Path, default=DEFAULT_RAW.resolve(),
                        help="raw CSV file, or the folder holding it")
    # in the project's data/, where conf/airports.yaml reads it, wherever this is run from
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "airports.csv",
                        help="long CSV to write")
    args = parser.parse_args()
    if args.raw.is_dir():  # the shared data's folder, as it is named
        found = sorted(args.raw.glob("*.csv"))
        if len(found) != 1:
            parser.error(f"{args.raw} holds {len(found)} CSV files, not one: give --raw the raw table's file")
        args.raw = found[0]
    if not args.raw.is_file():
        parser.error(f"raw airport table not found: {args.raw} (give --raw)")

    long = airports_to_long(pd.read_csv(args.raw))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    long.to_csv(args.out, index=False, date_format="%Y-%m-%d")
    series = long.groupby(["airport", "measure"]).ngroups
    logger.info("wrote %d rows, %d series to %s", len(long), series, args.out)


if __name__ == "__main__":
    main()
