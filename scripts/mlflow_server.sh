#!/usr/bin/env bash
# Start or stop a real MLflow tracking server on localhost, for local runs and tests:
# SQLite backend store and an artifact root that the server itself serves over HTTP.
#
#   scripts/mlflow_server.sh start DIR [PORT]     # prints the tracking URI once it answers;
#                                                 # refuses a port something already listens on
#   scripts/mlflow_server.sh stop DIR
#
# With MLFLOW_SERVER_ADMIN_USERNAME and MLFLOW_SERVER_ADMIN_PASSWORD set, the server
# requires HTTP basic auth and that user is its admin. Nothing secret is written to
# the command line; the auth config holding the admin password is readable by its owner only.
# MLflow creates the admin user on the first start in DIR: a later start with another
# password keeps the first (change it through MLflow's users API, or start in a new DIR).
set -euo pipefail
action=${1:?start or stop}
case "$action" in
start) dir=$(mkdir -p "${2:?state folder}" && cd "$2" && pwd) ;;
stop) [ -d "${2:?state folder}" ] || exit 0  # nothing was started there
      dir=$(cd "$2" && pwd) ;;
*) echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2 ;;
esac
port=${3:-5000}

case "$action" in
start)
    # a second start in DIR would overwrite the first server's pid, which stop could then not reach
    if [ -f "$dir/server.pid" ] && kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
        echo "a server started in $dir still runs (pid $(cat "$dir/server.pid")): stop it first" >&2
        exit 1
    fi
    # the project's environment's mlflow where none is on PATH (cron, a shell without the venv)
    mlflow=$(command -v mlflow || echo "$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/mlflow")
    args=(--backend-store-uri "sqlite:///$dir/mlflow.db" --artifacts-destination "$dir/artifacts"
          --host 127.0.0.1 --port "$port")
    workers=2
    if [ -n "${MLFLOW_SERVER_ADMIN_USERNAME:-}" ]; then
        umask 077
        password=${MLFLOW_SERVER_ADMIN_PASSWORD:?MLFLOW_SERVER_ADMIN_PASSWORD must be set too}
        # MLflow reads the file with ConfigParser's interpolation: a % is written %%
        cat > "$dir/auth.ini" <<INI
[mlflow]
default_permission = READ
database_uri = sqlite:///${dir//%/%%}/auth.db
admin_username = ${MLFLOW_SERVER_ADMIN_USERNAME//%/%%}
admin_password = ${password//%/%%}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
        export MLFLOW_AUTH_CONFIG_PATH="$dir/auth.ini"
        export MLFLOW_FLASK_SERVER_SECRET_KEY=${MLFLOW_FLASK_SERVER_SECRET_KEY:-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}
        args+=(--app-name basic-auth)
        # each worker of the auth app migrates the auth database as it boots: two race,
        # one fails, and gunicorn then shuts the whole server down
        workers=1
    fi
    args+=(--workers "$workers")
    # the health check needs no curl: the Python beside `mlflow` (the .venv's) asks, and
    # succeeds only on a 2xx answer within 5 s, as `curl -sf` did
    python=$(dirname "$mlflow")/python
    [ -x "$python" ] || python=python3
    answers() {
        "$python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' \
            "http://127.0.0.1:$port/health" > /dev/null 2>&1
    }
    # Another server on the port would answer the health check for ours, whose gunicorn
    # cannot bind it: refuse it. Bound as gunicorn binds (SO_REUSEADDR), so that only a
    # listener, not a closed connection's TIME_WAIT, counts as taken.
    if ! "$python" -c 'import socket, sys
with socket.socket() as probe:
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    probe.bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2> /dev/null; then
        echo "port $port on 127.0.0.1 is already in use: stop what listens there or choose another port" >&2
        exit 1
    fi
    # the last server's log kept as server.log.1: a new log, whose "Listening at" line is this server's
    [ -f "$dir/server.log" ] && mv -f "$dir/server.log" "$dir/server.log.1"
    setsid "$mlflow" server "${args[@]}" > "$dir/server.log" 2>&1 < /dev/null &
    pid=$!
    echo "$pid" > "$dir/server.pid"
    # ours: the server started here still runs and its gunicorn has bound the port (its
    # log says "Listening at"), so that an answer is its own, not a server's that took
    # the port since the check above while gunicorn retries binding it
    ours() {
        kill -0 "$pid" 2>/dev/null && grep -qF "Listening at: http://127.0.0.1:$port (" "$dir/server.log"
    }
    give_up() {
        echo "$1; see $dir/server.log" >&2
        tail -20 "$dir/server.log" >&2
        kill -TERM -- "-$pid" 2>/dev/null || true  # nothing of a failed start left running
        rm -f "$dir/server.pid"
        exit 1
    }
    for _ in $(seq 1 120); do
        if ours && answers; then
            # a worker that fails to boot takes the server down a moment after it answered
            sleep 2
            if ours && answers; then
                echo "http://127.0.0.1:$port"
                exit 0
            fi
        fi
        kill -0 "$pid" 2>/dev/null || give_up "mlflow server exited"
        sleep 0.5
    done
    give_up "mlflow server did not answer on port $port within 60s"
    ;;
stop)
    if [ -f "$dir/server.pid" ]; then
        # setsid made the server its own process group: stop gunicorn and its workers
        kill -TERM -- "-$(cat "$dir/server.pid")" 2>/dev/null || true
        rm -f "$dir/server.pid"
    fi
    ;;
*)
    echo "usage: $0 start|stop DIR [PORT]" >&2
    exit 2
    ;;
esac
