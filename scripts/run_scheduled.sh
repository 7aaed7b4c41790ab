#!/usr/bin/env bash
# Run a forecasting job from a scheduler (cron, or any that runs commands), one run
# date at a time, with a log file per run and no two runs of the same job and date
# writing the same output at once (runs that write elsewhere, other datasets, go on
# side by side).
#
#   scripts/run_scheduled.sh train|score|evaluate [--run-date YYYY-MM-DD] [job arguments...]
#   scripts/run_scheduled.sh --help      (this text)
#
# The run date defaults to today (UTC). The job runs in FORECAST_HOME, so relative
# paths (--config, and the config's input, output and tracking paths) are read
# from there, wherever the scheduler starts it (cron starts in the home folder).
# Environment:
#   FORECAST_HOME       the project folder (default: this script's parent)
#   VIRTUAL_ENV         the environment to run, where FORECAST_HOME has no .venv (set by its activate
#                       script; "the venv" below: FORECAST_HOME/.venv, else this one)
#   FORECAST_LOG_DIR    where logs go (default: $FORECAST_HOME/logs), one file per job, date and config:
#                       train_forecast-2026-11-23-airports-1a2b3c4d.log, named by the --config file's stem
#                       ("defaults" without one) and a hash of the job arguments (--config's absolute path, --set)
#   SPARK_SUBMIT_ARGS   spark-submit options, e.g. "--master spark://host:7077 --py-files dist/forecasting.zip"
#   SPARK_SUBMIT        the spark-submit to run (default: the venv's bin/spark-submit)
#   PYSPARK_PYTHON      the Python of the job's workers, and of its driver without PYSPARK_DRIVER_PYTHON
#                       (default: the venv's bin/python on a local master, SPARK_SUBMIT_ARGS
#                       without --master or with --master local...; on a cluster none, so that the
#                       executors run their own python3 or the spark.pyspark.python given to spark-submit,
#                       since PySpark sends the driver's PYSPARK_PYTHON to every executor)
#   PYSPARK_DRIVER_PYTHON  the driver's Python (default on a cluster, in client mode, without
#                       PYSPARK_PYTHON: the venv's bin/python)
#                       Without a venv's bin/python, neither is set: spark-submit's own choice.
#
# Exit codes: the job's own (0 done, 1 failed, 2 configuration, 3 input, 4 tracking
# server, 5 too many failed series or none modelled; 130, 137 and 143 stopped by SIGINT, SIGKILL
# and SIGTERM), 6 when the same job and date is still
# writing that output, 64 for a wrong call (or a log folder it cannot write to, or no spark-submit). Exit 1 and 4 are worth a retry
# (4 once the setting its message names is right: credentials, TLS, a URL without MLflow); rerunning a date is always safe. A run that fails prints one line saying so, with its log's
# path, for cron's mail; everything else goes to the log.
set -uo pipefail
home=$(cd "${FORECAST_HOME:-$(dirname "$0")/..}" && pwd) || exit 64
job=${1:-}
case "$job" in
    train|score|evaluate) shift ;;
    -h|--help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;  # the comments above

    *) echo "usage: $0 train|score|evaluate [--run-date YYYY-MM-DD] [job arguments...]" >&2; exit 64 ;;
esac

run_date=$(date -u +%F)
args=()
settings=()  # the job arguments but --config, which is hashed as its absolute path
overrides=()  # the --set ones, which may move the output
config=""
given_date=""
while [ $# -gt 0 ]; do
    case "$1" in
        --run-date|--run-date=*)
            [ -z "$given_date" ] || { echo "$0: --run-date given twice: one date a job" >&2; exit 64; }
            if [ "$1" = --run-date ]; then
                [ $# -ge 2 ] || { echo "$0: --run-date needs a date" >&2; exit 64; }
                given_date=$2; shift 2
            else
                given_date=${1#--run-date=}; shift
            fi
            run_date=$given_date ;;
        --config|--config=*)
            [ -z "$config" ] || { echo "$0: --config given twice: the job reads one file" >&2; exit 64; }
            if [ "$1" = --config ]; then
                [ $# -ge 2 ] || { echo "$0: --config needs a file" >&2; exit 64; }
                config=$2; args+=("$1" "$2"); shift 2
            else
                config=${1#--config=}; args+=("$1"); shift
            fi ;;
        --set) [ $# -ge 2 ] || { echo "$0: --set needs a value" >&2; exit 64; }
               args+=("$1" "$2"); settings+=("$1" "$2"); overrides+=("$1" "$2"); shift 2 ;;
        --set=*) args+=("$1"); settings+=("$1"); overrides+=("$1"); shift ;;
        *) args+=("$1"); settings+=("$1"); shift ;;
    esac
done
# one spelling per date, since the log and the lock are named by it
if ! [[ "$run_date" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]]; then
    echo "$0: --run-date must be YYYY-MM-DD, got '$run_date'" >&2
    exit 64
fi
if [ "$(date -u -d "$run_date" +%F 2>/dev/null)" != "$run_date" ]; then  # 2025-13-40, 2025-02-30
    echo "$0: --run-date $run_date is no date of the calendar" >&2
    exit 64
fi

log_dir=${FORECAST_LOG_DIR:-$home/logs}
# absolute: the job runs in $home; a folder it cannot write to is a wrong call, said here
if ! mkdir -p "$log_dir" 2>/dev/null || ! log_dir=$(cd "$log_dir" 2>/dev/null && pwd) || [ ! -w "$log_dir" ]; then
    echo "$0: cannot write logs to the folder '$log_dir' (FORECAST_LOG_DIR, default \$FORECAST_HOME/logs)" >&2
    exit 64
fi
# Which config the run is, for its log and lock: each dataset's config runs on its own.
# The arguments are hashed with the config's absolute path (relative ones are read in
# $home), so that two spellings of one file are one config.
stem=defaults
identity=("${settings[@]}")
if [ -n "$config" ]; then
    stem=$(basename "$config"); stem=${stem%.*}; stem=${stem//[^A-Za-z0-9._-]/_}
    identity+=("$(cd "$home" && realpath -m -- "$config")")
fi
hash=$(printf '%s\0' "${identity[@]}" | sha256sum | cut -c1-8)
name="${job}_forecast-$run_date-$stem-$hash"
log="$log_dir/$name.log"

cd "$home" || exit 64
# The lock is named by the output the run writes: two configs, or one with other --set
# values or log level, writing one output.path would replace each other's rows of the
# date and delete each other's staged results. A config that does not load is the job's
# to report (exit 2), under this log's own lock.
venv=$home/.venv
[ -d "$venv" ] || venv=${VIRTUAL_ENV:-$venv}  # a project whose environment lives elsewhere, activated
python=$venv/bin/python
[ -x "$python" ] || python=${PYSPARK_DRIVER_PYTHON:-${PYSPARK_PYTHON:-python3}}
config_args=()
[ -n "$config" ] && config_args=(--config "$config")
output=$("$python" -m forecasting output "${config_args[@]}" "${overrides[@]}" 2>/dev/null) || output=$name
lock="$log_dir/.${job}_forecast-$run_date-$(printf '%s' "$output" | sha256sum | cut -c1-8).lock"

if ! exec 9> "$lock"; then
    echo "$0: cannot create the lock file $lock" >&2
    exit 64
fi
if ! flock -n 9; then
    # python -m forecasting output leaves out a password in the path's URL; the line cron mails, as a
    # failed run's below, and a line of the log, which the running job writes too
    why="another run of this job and date writing $output is still going"
    echo "$(date -u +%FT%TZ) $job $run_date: $why: exit code 6 (this run not started)" >> "$log"
    echo "$0: $job $run_date failed with exit code 6 ($why); its log: $log" >&2
    exit 6
fi

spark_submit=${SPARK_SUBMIT:-$venv/bin/spark-submit}
if ! command -v "$spark_submit" > /dev/null; then  # else a bare exit 127 in the log
    echo "$(date -u +%FT%TZ) $job $run_date: no spark-submit at $spark_submit: run scripts/setup.sh in $home, activate" \
        "the environment the job is installed in, or set SPARK_SUBMIT" | tee -a "$log" >&2
    exit 64
fi
# pyspark's find-spark-home runs the driver's Python unquoted: a project folder with a
# space in its path failed every run (exit 127). Named here, it is not looked for.
if [ -z "${SPARK_HOME:-}" ] && [ "$spark_submit" = "$venv/bin/spark-submit" ] && [ -x "$python" ]; then
    SPARK_HOME=$("$python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))' 2>/dev/null) \
        && export SPARK_HOME
fi
# The master and deploy mode in SPARK_SUBMIT_ARGS (a master set in spark-defaults.conf is not seen:
# set PYSPARK_PYTHON for it).
master=local deploy_mode=client
read -ra submit_args <<< "${SPARK_SUBMIT_ARGS:-}"
for i in "${!submit_args[@]}"; do
    case "${submit_args[$i]}" in
        --master) master=${submit_args[$((i + 1))]:-} ;;
        --master=*) master=${submit_args[$i]#--master=} ;;
        --deploy-mode) deploy_mode=${submit_args[$((i + 1))]:-} ;;
        --deploy-mode=*) deploy_mode=${submit_args[$i]#--deploy-mode=} ;;
        spark.master=*) master=${submit_args[$i]#spark.master=} ;;  # after --conf
        spark.submit.deployMode=*) deploy_mode=${submit_args[$i]#spark.submit.deployMode=} ;;
    esac
done
# PySpark sends the driver's PYSPARK_PYTHON to every executor as its Python, and this
# machine's venv exists on this machine only: it is the workers' on a local master alone.
if [ -z "${PYSPARK_PYTHON:-}" ] && [ -x "$venv/bin/python" ]; then  # no venv: spark-submit's own choice
    if [[ "$master" == local* ]]; then
        export PYSPARK_PYTHON=$venv/bin/python
    elif [ "$deploy_mode" = client ]; then
        # The driver runs here, with the first of (spark-submit's order) spark.pyspark.driver.python,
        # spark.pyspark.python, PYSPARK_DRIVER_PYTHON, PYSPARK_PYTHON and the python3 on PATH,
        # which under cron lacks the job's packages. In cluster mode it runs on a node.
        export PYSPARK_DRIVER_PYTHON=${PYSPARK_DRIVER_PYTHON:-$venv/bin/python}
    fi
fi
# The job's summary file, whose last line says why a failed run ended, for cron's mail: the one
# the arguments give, else one beside the log where the driver runs here (not in cluster mode,
# where it runs on a node without this folder). Removed first: an earlier attempt's is no cause.
summary=""
for i in "${!args[@]}"; do
    case "${args[$i]}" in
        --summary-file) summary=${args[$((i + 1))]:-} ;;
        --summary-file=*) summary=${args[$i]#--summary-file=} ;;
    esac
done
if [ -z "$summary" ] && { [[ "$master" == local* ]] || [ "$deploy_mode" = client ]; }; then
    summary="$log_dir/.$name.summary"
    args+=(--summary-file "$summary")
fi
[ -z "$summary" ] || rm -f -- "$summary"
echo "$(date -u +%FT%TZ) $job $run_date: starting" >> "$log"
# In the background, in a process group of its own (set -m), so that a SIGTERM or SIGINT sent
# to this script (a scheduler's timeout, systemd, Ctrl-C) reaches the job's JVM and Python
# driver: the job then ends its MLflow run FAILED and exits, and this script waits for it.
# In the foreground the signal would end this script alone, the job running on unseen (still
# holding the lock, as it should while it writes), without its exit code in the log. Its
# input is not the terminal, where a background group that read it would be stopped.
set -m
# SPARK_SUBMIT_ARGS as read into words above, not expanded again: local[2] beside a file local2 stays itself
"$spark_submit" "${submit_args[@]}" "$home/jobs/${job}_forecast.py" --run-date "$run_date" "${args[@]}" \
    < /dev/null >> "$log" 2>&1 &
submitted=$!
set +m
trap 'kill -TERM -- "-$submitted" 2>/dev/null' TERM
trap 'kill -INT -- "-$submitted" 2>/dev/null' INT
# bash's own line for a job a signal ended ("line 194: 16768 Killed ...") left out: the log and the line
# below say it
wait "$submitted" 2>/dev/null
code=$?
while kill -0 "$submitted" 2>/dev/null; do  # a trapped signal ended the wait, not the job
    wait "$submitted" 2>/dev/null
    code=$?
done
# The JVM, which the signal reached too, can end before the Python driver, still ending its
# MLflow run: the lock is kept, and the exit logged, once the whole group is gone (a minute at most).
for _ in $(seq 600); do
    kill -0 -- "-$submitted" 2>/dev/null || break
    sleep 0.1
done
# Why a failed run ended, from its summary file: the log's last line says it too, as the job's own
# line may never reach the log (spark-submit's JVM carries the Python driver's output, and a
# signal can end the JVM first)
cause=""
if [ "$code" -ne 0 ] && [ -n "$summary" ] && [ -f "$summary" ]; then
    cause=$(sed -n 's/.*ended with exit code [0-9]* (\(.*\))$/\1/p' "$summary" | tail -n 1)
    # the Python driver's own code, where spark-submit's JVM ended first (killed alone): the file says spark-submit's
    said=$(sed -n 's/.*ended with exit code \([0-9]*\) (.*)$/\1/p' "$summary" | tail -n 1)
    if [ -n "$said" ] && [ "$said" != "$code" ]; then
        sed -i "s/ended with exit code $said (/ended with exit code $code (/" "$summary"
    fi
    # or a full report's own line: "... (50%): exit code 5", "exit code 4: the tables are written, ..."
    [ -n "$cause" ] || cause=$(sed -n -e 's/^ *\(.*\): exit code [0-9]*$/\1/p' \
        -e 's/^ *exit code [0-9]*: \(.*\)$/\1/p' "$summary" | tail -n 1)
    started=$(sed -n 's/, not finished (this file holds the run.s summary once it ends)$//p' "$summary" | head -n 1)
    if [ -z "$cause" ] && [ "$code" -eq 137 ] && [ -n "$started" ]; then  # SIGKILL: nothing of the job could say it
        cause="killed (SIGKILL: kill -9, or out of memory); its MLflow run stays RUNNING until a rerun of the date"
        cause+=" ends it"
        echo "$started, ended with exit code $code ($cause)" > "$summary"
    fi
fi
echo "$(date -u +%FT%TZ) $job $run_date: exit code $code${cause:+ ($cause)}" >> "$log"
# cron mails what a job prints, not its exit code: a failed run says so, why, and where to look
if [ "$code" -ne 0 ]; then
    echo "$0: $job $run_date failed with exit code $code${cause:+ ($cause)}; its log: $log" >&2
fi
exit $code
