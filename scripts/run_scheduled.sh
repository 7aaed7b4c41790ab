#!/usr/bin/env bash
# Run a forecasting job from a scheduler (cron, or any that runs commands), one run
# date at a time, with a log file per run and no two runs of the same job and date
# at once.
#
#   scripts/run_scheduled.sh train|score|evaluate [--run-date YYYY-MM-DD] [job arguments...]
#
# The run date defaults to today (UTC). The job runs in FORECAST_HOME, so relative
# paths (--config, and the config's input, output and tracking paths) are read
# from there, wherever the scheduler starts it (cron starts in the home folder).
# Environment:
#   FORECAST_HOME       the project folder (default: this script's parent)
#   FORECAST_LOG_DIR    where logs go (default: $FORECAST_HOME/logs), one file per job and date
#   SPARK_SUBMIT_ARGS   spark-submit options, e.g. "--master spark://host:7077 --py-files dist/forecasting.zip"
#   SPARK_SUBMIT        the spark-submit to run (default: $FORECAST_HOME/.venv/bin/spark-submit)
#   PYSPARK_PYTHON      the Python of the job's workers (default: $FORECAST_HOME/.venv/bin/python)
#
# Exit codes: the job's own (0 done, 1 failed, 2 configuration, 3 input, 4 tracking
# server, 5 too many failed series), 6 when the same job and date is still running,
# 64 for a wrong call. Exit 1 and 4 are worth a retry; rerunning a date is always safe.
set -uo pipefail
home=$(cd "${FORECAST_HOME:-$(dirname "$0")/..}" && pwd) || exit 64
job=${1:-}
case "$job" in
    train|score|evaluate) shift ;;
    *) echo "usage: $0 train|score|evaluate [--run-date YYYY-MM-DD] [job arguments...]" >&2; exit 64 ;;
esac

run_date=$(date -u +%F)
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --run-date) [ $# -ge 2 ] || { echo "$0: --run-date needs a date" >&2; exit 64; }; run_date=$2; shift 2 ;;
        --run-date=*) run_date=${1#--run-date=}; shift ;;
        *) args+=("$1"); shift ;;
    esac
done
# one spelling per date, since the log and the lock are named by it
if ! [[ "$run_date" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]]; then
    echo "$0: --run-date must be YYYY-MM-DD, got '$run_date'" >&2
    exit 64
fi

log_dir=${FORECAST_LOG_DIR:-$home/logs}
mkdir -p "$log_dir"
log_dir=$(cd "$log_dir" && pwd)  # absolute: the job runs in $home
log="$log_dir/${job}_forecast-$run_date.log"
lock="$log_dir/.${job}_forecast-$run_date.lock"

exec 9> "$lock"
if ! flock -n 9; then
    echo "$(date -u +%FT%TZ) $job $run_date: another run of this job and date is still going" | tee -a "$log" >&2
    exit 6
fi

cd "$home" || exit 64
spark_submit=${SPARK_SUBMIT:-$home/.venv/bin/spark-submit}
export PYSPARK_PYTHON=${PYSPARK_PYTHON:-$home/.venv/bin/python}
echo "$(date -u +%FT%TZ) $job $run_date: starting" >> "$log"
# shellcheck disable=SC2086  # SPARK_SUBMIT_ARGS is a list of options
"$spark_submit" ${SPARK_SUBMIT_ARGS:-} "$home/jobs/${job}_forecast.py" --run-date "$run_date" "${args[@]}" >> "$log" 2>&1
code=$?
echo "$(date -u +%FT%TZ) $job $run_date: exit code $code" >> "$log"
exit $code
