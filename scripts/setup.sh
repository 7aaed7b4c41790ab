#!/usr/bin/env bash
# Creates .venv with the pinned dependencies and the forecasting package.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# apt-get's own failure (no network, no such package) stops the set-up here, not minutes later
apt_install() {
    apt-get update -q && apt-get install -y -q "$@" || { echo "setup: apt-get could not install $*" >&2; exit 1; }
}
if ! command -v java >/dev/null 2>&1 && [ ! -x "${JAVA_HOME:-/nonexistent}/bin/java" ]; then
    echo "setup: no Java found; installing a JRE (Spark needs Java 17)" >&2
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt_install openjdk-17-jre-headless
    else
        echo "setup: install Java 17 or 21 yourself (only a root run with apt-get installs it)" >&2
        exit 1
    fi
fi
# The Java spark-submit will start: JAVA_HOME's, else the first on PATH. Spark 4.0
# runs on Java 17 and 21. ("1.8.0_381" is Java 8.)
java_bin=${JAVA_HOME:+$JAVA_HOME/bin/}java
java_major=$("$java_bin" -version 2>&1 | sed -n 's/.* version "\(1\.\)\{0,1\}\([0-9]*\).*/\2/p' | head -n 1) || true
if [ "${java_major:-0}" -lt 17 ]; then
    echo "setup: $java_bin is ${java_major:+Java }${java_major:-missing or of unknown version}; Spark 4.0 needs Java 17 or 21 (set JAVA_HOME to one)" >&2
    exit 1
elif [ "$java_major" -gt 21 ]; then
    echo "setup: $java_bin is Java $java_major; Spark 4.0 is tested on Java 17 and 21 only" >&2
fi

# Maven fetches Delta's jars below: checked now, not after minutes of pip.
if ! command -v mvn >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt_install maven
    else
        echo "setup: no Maven (mvn) found; install it (it fetches Delta Lake's jars from Maven Central)" >&2
        exit 1
    fi
fi

# The pins (constraints.txt) are for Python 3.11 and 3.12; PYTHON=python3.12 picks one.
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))'; then
    echo "setup: $PYTHON is Python $("$PYTHON" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo '(not found)'); the pins need 3.11 or 3.12 (set PYTHON=python3.11)" >&2
    exit 1
fi
# A venv whose creation failed halfway (no ensurepip: Debian's python3-venv missing), of another
# Python than PYTHON's, or made before the checkout moved (its scripts name the old path) is made again.
# (Its scripts start the Python their first line names, or, in a path with a space or a long one,
# their exec line, the path quoted or not; venv writes the path with symbolic links resolved.)
python_version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
scripts_python() {
    sed -n -e '1s/^#!//p' -e "s/^'''exec' \"\{0,1\}\([^\"]*[^\" ]\)\"\{0,1\} \"\$0\".*/\1/p" .venv/bin/pip 2>/dev/null | tail -n 1
}
if ! .venv/bin/python -m pip --version >/dev/null 2>&1 \
        || [ "$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$python_version" ] \
        || [ "$(dirname "$(scripts_python)")" != "$(pwd -P)/.venv/bin" ]; then
    if ! "$PYTHON" -m venv --clear .venv; then
        # Debian and Ubuntu ship venv's ensurepip apart, as python3.X-venv
        venv_package="python$python_version-venv"
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "setup: '$PYTHON -m venv' failed; installing $venv_package" >&2
            apt-get update -q && apt-get install -y -q "$venv_package" || true  # not a Debian Python: said below
        fi
        "$PYTHON" -m venv --clear .venv || {
            echo "setup: '$PYTHON -m venv' failed; on Debian or Ubuntu install $venv_package" >&2
            exit 1
        }
    fi
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.txt -c constraints.txt
.venv/bin/python -m pip install -q --no-deps -e .

# spark-submit imports pyspark from its zips, where Python caches no bytecode:
# compiled once here instead of in every driver and worker daemon.
.venv/bin/python scripts/precompile_zips.py

# Delta Lake's jars go into pyspark's own jar folder, so every spark-submit of
# this environment has them without --packages. Versions follow delta-spark.
DELTA_VERSION=$(.venv/bin/python -c "from importlib.metadata import version; print(version('delta-spark'))")
SPARK_JARS=$(.venv/bin/python -c "import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), 'jars'))")
for artifact in "io.delta:delta-spark_2.13:$DELTA_VERSION" "io.delta:delta-storage:$DELTA_VERSION"; do
    name=$(echo "$artifact" | cut -d: -f2)
    if [ ! -f "$SPARK_JARS/$name-$DELTA_VERSION.jar" ]; then
        mvn -q -B dependency:copy -Dartifact="$artifact" -DoutputDirectory="$SPARK_JARS"
    fi
done
# spark-submit reads pyspark's conf/spark-env.sh; an exported value still wins.
# glibc gives the JVM's many threads up to 8 malloc arenas per core, and the
# local driver's memory then grows with the run (peak 1.66 GB against 0.95 GB at
# 2,000 series): two arenas, as Hadoop does for YARN containers.
# The driver JVM (SPARK_SUBMIT_OPTS reaches only the JVM spark-submit starts
# here) mostly waits on tasks, yet its JIT compilers took 40% of its CPU, which
# the fits on the same cores lose: the quick compiler alone and a serial
# collector cut its CPU by 43% and a 100-series job by 5%. Export
# SPARK_SUBMIT_OPTS (even empty) to run it otherwise.
SPARK_HOME_DIR=$(dirname "$SPARK_JARS")
SPARK_CONF="$SPARK_HOME_DIR/conf"
JVM_OPTS="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# The driver JVM maps the classes a job uses from an archive (made below) instead
# of finding, reading and verifying them in some 280 jars: about 2.5 s less a run.
# The JVM refuses such an archive while a folder on the class path holds files,
# and Spark's launcher puts SPARK_CONF_DIR there: once this file is read, the
# launcher is pointed at an empty folder (conf/ holds only this file).
CLASS_ARCHIVE="$SPARK_HOME_DIR/jvm-classes.jsa"
mkdir -p "$SPARK_CONF" "$SPARK_HOME_DIR/conf-empty"
cat > "$SPARK_CONF/spark-env.sh" <<ENV
export MALLOC_ARENA_MAX=\${MALLOC_ARENA_MAX:-2}
export SPARK_CONF_DIR="\$SPARK_HOME/conf-empty"
if [ -f "\$SPARK_HOME/jvm-classes.jsa" ]; then
    export SPARK_SUBMIT_OPTS=\${SPARK_SUBMIT_OPTS-"$JVM_OPTS -XX:SharedArchiveFile=\$SPARK_HOME/jvm-classes.jsa"}
else
    export SPARK_SUBMIT_OPTS=\${SPARK_SUBMIT_OPTS-"$JVM_OPTS"}
fi
ENV

# The archive holds what one small run of the job loads (parquet in, Delta out).
# -Xshare:on makes the JVM fail instead of running without an archive it cannot
# use (other jars, another Java): then it is made again.
# SPARK_HOME given: pyspark's find-spark-home runs the Python unquoted, which a path with a space breaks
archive_usable() {
    [ -f "$CLASS_ARCHIVE" ] && SPARK_HOME="$SPARK_HOME_DIR" PYSPARK_PYTHON="$PWD/.venv/bin/python" \
        SPARK_SUBMIT_OPTS="$JVM_OPTS -XX:SharedArchiveFile=$CLASS_ARCHIVE -Xshare:on" \
        .venv/bin/spark-submit --version >/dev/null 2>&1
}
if ! archive_usable; then
    echo "setup: building the JVM class archive (one small run of the job)" >&2
    rm -f "$CLASS_ARCHIVE"
    work=$(mktemp -d)
    .venv/bin/python -c "import sys; from forecasting.sample_data import make_sample_sales
make_sample_sales(stores=('north',), items=('bread', 'milk')).to_parquet(sys.argv[1], coerce_timestamps='us')" "$work/sample.parquet"
    SPARK_HOME="$SPARK_HOME_DIR" PYSPARK_PYTHON="$PWD/.venv/bin/python" \
        SPARK_SUBMIT_OPTS="$JVM_OPTS -XX:ArchiveClassesAtExit=$work/classes.jsa" \
        .venv/bin/spark-submit --master "local[2]" jobs/train_forecast.py --set input.path="$work/sample.parquet" \
        --set input.format=parquet --set tuning.max_evals=1 --set cross_validation.folds=1 \
        --set output.path="$work/output" --set tracking.uri="$work/mlruns" >"$work/log.txt" 2>&1 \
        && [ -f "$work/classes.jsa" ] && mv "$work/classes.jsa" "$CLASS_ARCHIVE"
    if ! archive_usable; then
        rm -f "$CLASS_ARCHIVE"
        cp "$work/log.txt" "$SPARK_HOME_DIR/jvm-classes.log"
        echo "setup: no JVM class archive (jobs run without it); see $SPARK_HOME_DIR/jvm-classes.log" >&2
    fi
    rm -rf "$work"
fi
echo "setup: ready; activate with '. .venv/bin/activate'" >&2
