#!/usr/bin/env bash
# A Python for executors that sees the environment's installed dependencies but
# not packages installed in development mode from a source tree (their .pth
# files are not processed: -S skips the site module). The cluster test runs its
# executors with it, so the forecasting package can only come from --py-files,
# as on a cluster node that has the dependencies and nothing of this project.
here=$(cd "$(dirname "$0")/.." && pwd)
python="$here/.venv/bin/python"
site=$("$python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$site"
exec "$python" -S "$@"
