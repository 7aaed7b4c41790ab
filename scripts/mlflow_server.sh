#!/usr/bin/env bash
# Start or stop a real MLflow tracking server on localhost, for local runs and tests:
# SQLite backend store and an artifact root that the server itself serves over HTTP.
#
#   scripts/mlflow_server.sh start DIR [PORT]     # prints the tracking URI once it answers
#   scripts/mlflow_server.sh stop DIR
#
# With MLFLOW_SERVER_ADMIN_USERNAME and MLFLOW_SERVER_ADMIN_PASSWORD set, the server
# requires HTTP basic auth and that user is its admin. Nothing secret is written to
# the command line; the auth config holding the admin password is readable by its owner only.
set -euo pipefail
action=${1:?start or stop}
dir=$(mkdir -p "${2:?state folder}" && cd "$2" && pwd)
port=${3:-5000}

case "$action" in
start)
    args=(--backend-store-uri "sqlite:///$dir/mlflow.db" --artifacts-destination "$dir/artifacts"
          --host 127.0.0.1 --port "$port")
    workers=2
    if [ -n "${MLFLOW_SERVER_ADMIN_USERNAME:-}" ]; then
        umask 077
        cat > "$dir/auth.ini" <<INI
[mlflow]
default_permission = READ
database_uri = sqlite:///$dir/auth.db
admin_username = $MLFLOW_SERVER_ADMIN_USERNAME
admin_password = ${MLFLOW_SERVER_ADMIN_PASSWORD:?MLFLOW_SERVER_ADMIN_PASSWORD must be set too}
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
    python=$(dirname "$(command -v mlflow || echo /none/mlflow)")/python
    [ -x "$python" ] || python=python3
    answers() {
        "$python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' \
            "http://127.0.0.1:$port/health" > /dev/null 2>&1
    }
    setsid mlflow server "${args[@]}" > "$dir/server.log" 2>&1 < /dev/null &
    echo $! > "$dir/server.pid"
    for _ in $(seq 1 120); do
        if answers; then
            # a worker that fails to boot takes the server down a moment after it answered
            sleep 2
            if kill -0 "$(cat "$dir/server.pid")" 2>/dev/null && answers; then
                echo "http://127.0.0.1:$port"
                exit 0
            fi
        fi
        if ! kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
            echo "mlflow server exited; see $dir/server.log" >&2
            tail -20 "$dir/server.log" >&2
            exit 1
        fi
        sleep 0.5
    done
    echo "mlflow server did not answer on port $port within 60s; see $dir/server.log" >&2
    exit 1
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
