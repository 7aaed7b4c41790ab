#!/usr/bin/env bash
# Build what a cluster needs to run the jobs, into dist/:
#   dist/forecasting.zip           the package, for spark-submit --py-files
#   dist/jobs/*.py                 the entry points spark-submit is given (train, score, evaluate),
#                                  and driver_python.py, their words where the driver lacks the package
#   dist/environment.tar.gz        (with --env) a relocatable virtualenv holding the
#                                  dependencies, for clusters whose nodes lack them:
#                                  spark-submit --archives dist/environment.tar.gz#environment
#                                               --conf spark.pyspark.python=./environment/bin/python
# The archive needs the same Python build at the same path on every node (venv-pack's
# rule); conda-pack is the alternative where that cannot be arranged.
# DIST=<folder> writes them there instead of dist/ (relative to the project folder).
set -euo pipefail
case "${1:-}" in
""|--env) ;;
*) echo "usage: $0 [--env]   (got '$1')" >&2; exit 64 ;;
esac
cd "$(dirname "$0")/.."
out=${DIST:-dist}
mkdir -p "$out"

# The commit the zip is built from, for the runs' code_version tag (a zip has no git)
if commit=$(git rev-parse HEAD 2>/dev/null); then
    # untracked files under src/forecasting go into the zip too: no commit holds them
    [ -z "$(git status --porcelain --untracked-files=no)$(git status --porcelain -- src/forecasting)" ] \
        || commit="$commit-dirty"
else
    commit="unknown (built outside a git checkout)"
fi

# Spark puts .zip files on the executors' sys.path (a .whl it only copies)
# A dirty commit, or none, gets the hash of the source as forecasting.lineage.source_digest makes it
python3 - "$out/forecasting.zip" "$commit" <<'PY'
import hashlib, sys, zipfile
from pathlib import Path
source, build, digest = Path("src/forecasting"), sys.argv[2], hashlib.sha256()
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as archive:
    for path in sorted(source.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            archive.write(path, path.relative_to("src"))
            digest.update(path.relative_to(source).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    if build.endswith("-dirty") or build.startswith("unknown"):  # no commit names this source exactly
        build += f", source sha256 {digest.hexdigest()[:16]}"
    archive.writestr("forecasting/BUILD", build + "\n")
PY
echo "built $out/forecasting.zip" >&2
mkdir -p "$out/jobs" && cp jobs/*.py "$out/jobs/"  # a node or scheduler needs no checkout
echo "copied the jobs into $out/jobs" >&2

if [ "${1:-}" = "--env" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT  # the unpacked environment is over a gigabyte
    env_dir=$work/environment
    # the Python .venv was made with, whose driver the README pairs with these executors
    base_python=${PYTHON:-python3}
    [ -x .venv/bin/python ] && base_python=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')
    "$base_python" -m venv "$env_dir"
    "$env_dir/bin/python" -m pip install -q --upgrade pip venv-pack
    # pyspark itself comes from the cluster's Spark installation; the tests' packages stay out.
    # deltalake stays in: a driver running in this environment (cluster deploy mode) pins its
    # version in the served model's requirements, which read the models table with it.
    grep -v -E '^(pyspark|pytest|chispa|delta-spark|nbclient|nbformat|ipykernel)==' requirements.txt \
        > "$env_dir/requirements.txt"
    "$env_dir/bin/python" -m pip install -q -r "$env_dir/requirements.txt" -c constraints.txt
    "$env_dir/bin/venv-pack" -p "$env_dir" -o "$out/environment.tar.gz" --force
    chmod a+r "$out/environment.tar.gz"  # venv-pack writes it for its owner alone; a cluster's user reads it
    echo "built $out/environment.tar.gz" >&2
fi
