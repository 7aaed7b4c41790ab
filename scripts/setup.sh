#!/usr/bin/env bash
# Creates .venv with the pinned dependencies and the forecasting package.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v java >/dev/null 2>&1; then
    echo "setup: no Java found; installing a JRE (Spark needs Java 17)" >&2
    if [ "$(id -u)" = 0 ]; then
        apt-get update -q && apt-get install -y -q openjdk-17-jre-headless
    else
        echo "setup: run as root or install Java 17 yourself" >&2
        exit 1
    fi
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.txt -c constraints.txt
.venv/bin/python -m pip install -q --no-deps -e .
echo "setup: ready; activate with '. .venv/bin/activate'" >&2
