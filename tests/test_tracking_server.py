"""The job against a real MLflow server over HTTP: plain, flaky, down, and with basic auth."""
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import mlflow
import pytest
from pyspark.sql import functions as F

from conftest import FAST_OVERRIDES, daily_series
from flaky_proxy import FlakyProxy
from forecasting import explore, parent_run, pipeline, server_check, tables, tracking
from forecasting.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "scripts" / "mlflow_server.sh"
RUN_DATE = "2024-05-31"
ADMIN, PASSWORD = "forecaster", "a-long-test-password-%4711"  # a % as ConfigParser reads it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, env: dict | None = None) -> str:
    done = subprocess.run(
        ["bash", str(SERVER), "start", str(folder), str(free_port())],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow-server")
    yield start_server(folder)
    subprocess.run(["bash", str(SERVER), "stop", str(folder)], timeout=60)


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow-auth-server")
    env = {**os.environ, "MLFLOW_SERVER_ADMIN_USERNAME": ADMIN, "MLFLOW_SERVER_ADMIN_PASSWORD": PASSWORD}
    yield start_server(folder, env)
    subprocess.run(["bash", str(SERVER), "stop", str(folder)], timeout=60)


@pytest.fixture(scope="module")
def input_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("server-input") / "input.csv"
    frames = [daily_series(60, seed=i).assign(store=f"s{i}") for i in range(3)]
    import pandas as pd

    pd.concat(frames).to_csv(path, index=False, date_format="%Y-%m-%d")
    return path


def job_config(input_path, uri, output, *extra):
    return load_config(
        None,
        [
            *FAST_OVERRIDES,
            f"input.path={input_path}",
            "input.key_columns=[store]",
            "input.time_column=ds",
            "input.target_column=y",
            f"tracking.uri={uri}",
            "tracking.backoff_seconds=0",
            f"output.path={output}",
            *extra,
        ],
    )


def children_of(client, summary):
    return client.search_runs(
        [summary.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{summary.job_run_id}'"
    )


def test_job_logs_over_http_to_a_real_server(spark, server, input_path, tmp_path, capfd):
    summary = pipeline.run_job(spark, job_config(input_path, server, tmp_path), RUN_DATE)
    assert summary.counts == {"ok": 3}
    # MLflow's own "View run ... at: URL" lines (the URL's password in them) for no run
    printed = "".join(capfd.readouterr())
    assert "View run" not in printed and "View experiment" not in printed
    client = mlflow.MlflowClient(server)
    runs = children_of(client, summary)
    assert sorted(r.data.tags["store"] for r in runs) == ["s0", "s1", "s2"]
    assert all(r.info.status == "FINISHED" for r in runs)
    one = client.search_runs([summary.experiment_id], filter_string="tags.store = 's1'")[0]
    local = client.download_artifacts(one.info.run_id, "model", str(tmp_path))
    assert (Path(local) / "MLmodel").exists()  # the artifact went through the server


def test_transient_server_errors_are_retried(spark, server, input_path, tmp_path):
    with FlakyProxy(server, every=4) as proxy:
        summary = pipeline.run_job(spark, job_config(input_path, proxy.uri, tmp_path), RUN_DATE)
    assert proxy.failures >= 5  # the job really met errors, and rode them out
    results = tables.read_table(spark, job_config(input_path, proxy.uri, tmp_path), tables.SERIES_RESULTS)
    assert results.where(F.col("reason").contains("tracking failed")).count() == 0
    runs = children_of(mlflow.MlflowClient(server), summary)
    assert len(runs) == 3 and all(r.info.status == "FINISHED" for r in runs)


def test_a_child_run_a_create_request_sent_again_left_running_is_ended_with_its_job_run(server, input_path, tmp_path):
    # a walk-through of 12-07: the server stopped (SIGSTOP) for 90 s, the timed-out create requests sent again; once
    # resumed it carried out both, and a second run of the series, with only its hash, stayed RUNNING for good
    context = parent_run.start_parent_run(job_config(input_path, server, tmp_path), RUN_DATE, {})
    client = mlflow.MlflowClient(server)
    orphan = client.create_run(context.experiment_id, tags={"mlflow.parentRunId": context.parent_run_id,
                                                            "series_hash": "0123"})
    parent_run.finish_parent_run(context, {"ok": 1}, 1.0)
    ended = client.get_run(orphan.info.run_id)
    assert ended.info.status == "FAILED" and ended.data.tags["ended_by"] == parent_run.RETRIED_REQUEST
    assert client.get_run(context.parent_run_id).info.status == "FINISHED"


class _Healthy(BaseHTTPRequestHandler):
    """Answers /health as an MLflow server does."""

    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args):
        pass


def test_start_refuses_a_port_another_server_answers_on(tmp_path):
    # its answers would pass the health check while the script's own gunicorn failed to bind
    other = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        done = subprocess.run(["bash", str(SERVER), "start", str(tmp_path), str(other.server_port)],
                              capture_output=True, text=True, timeout=120)
    finally:
        other.shutdown()
        other.server_close()
    assert done.returncode == 1 and done.stdout == ""
    assert f"port {other.server_port} on 127.0.0.1 is already in use" in done.stderr
    assert not (tmp_path / "server.pid").exists()  # nothing started, nothing for stop to signal


def test_a_server_gone_after_series_tracking_failed_leaves_the_runs_later_calls_one_try_each(server, monkeypatch):
    # five calls after the tables were written waited out MLflow's retries, 32 s each (the walk-through of 12-07)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "7")
    assert not server_check.try_once_if_gone(server) and os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "7"
    assert not server_check.try_once_if_gone("file:///tmp/mlruns")  # no server to be gone
    started = time.monotonic()
    assert server_check.try_once_if_gone(f"http://127.0.0.1:{free_port()}")
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0" and time.monotonic() - started < 10


def test_a_second_start_in_a_folder_whose_server_still_runs_is_refused(tmp_path):
    # it overwrote the first server's pid, which stop could then not reach: that server ran on
    running = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / "server.pid").write_text(f"{running.pid}\n")
        done = subprocess.run(["bash", str(SERVER), "start", str(tmp_path), str(free_port())],
                              capture_output=True, text=True, timeout=60)
    finally:
        running.kill()
        running.wait()
    assert done.returncode == 1 and done.stdout == ""
    assert f"a server started in {tmp_path} still runs (pid {running.pid}): stop it first" in done.stderr
    assert (tmp_path / "server.pid").read_text() == f"{running.pid}\n"


def test_start_fails_when_what_answers_is_not_the_server_it_started(tmp_path):
    # The port is free when checked, but what answers on it is not the server started: as
    # when another server takes the port meanwhile and gunicorn, failing to bind, retries
    # for 5 s before it gives up. A stand-in for `mlflow` plays that: it answers, alive,
    # without gunicorn's "Listening at", then exits.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)  # the script's health check runs the Python beside mlflow
    stand_in = bin_dir / "mlflow"
    stand_in.write_text(f"""#!{sys.executable}
import sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Healthy(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()

port = int(sys.argv[sys.argv.index("--port") + 1])
threading.Thread(target=ThreadingHTTPServer(("127.0.0.1", port), Healthy).serve_forever, daemon=True).start()
print(f"[ERROR] Connection in use: ('127.0.0.1', {{port}})", file=sys.stderr, flush=True)
time.sleep(5)
sys.exit(1)
""")
    stand_in.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(SERVER), "start", str(tmp_path / "state"), str(free_port())],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 1 and done.stdout == "", done.stdout
    assert "mlflow server exited; see" in done.stderr and "Connection in use" in done.stderr
    assert not (tmp_path / "state" / "server.pid").exists()


def test_server_down_at_start_stops_before_training_naming_the_uri(spark, input_path, tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(tracking.TrackingUnavailable, match=f"MLflow tracking server {uri} is unreachable"):
        pipeline.run_job(spark, job_config(input_path, uri, tmp_path / "out", "tracking.timeout_seconds=2"), RUN_DATE)
    assert not (tmp_path / "out").exists()


def test_missing_credentials_fail_clearly(spark, auth_server, input_path, tmp_path, monkeypatch):
    for name in tracking.CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(tracking.TrackingUnavailable, match="HTTP 401: credentials are needed"):
        pipeline.run_job(spark, job_config(input_path, auth_server, tmp_path), RUN_DATE)
    in_uri = auth_server.replace("http://", f"http://{ADMIN}:wrong-password-123@")  # sent, as MLflow sends them
    with pytest.raises(tracking.TrackingUnavailable, match="HTTP 401: credentials were rejected .those in the URI"):
        pipeline.run_job(spark, job_config(input_path, in_uri, tmp_path), RUN_DATE)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong-password-123")
    with pytest.raises(tracking.TrackingUnavailable, match="HTTP 401: credentials were rejected"):
        pipeline.run_job(spark, job_config(input_path, auth_server, tmp_path), RUN_DATE)


def test_a_refusal_says_which_credentials_were_sent(auth_server, monkeypatch):
    # a walk-through of 12-08: a password not set read as a wrong one, "credentials were rejected" either way
    def refusal(**variables) -> str:
        for name in tracking.CREDENTIAL_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(f"MLFLOW_TRACKING_{name.upper()}", value)
        with pytest.raises(tracking.TrackingUnavailable) as refused:
            server_check.check_server(auth_server, 30)
        return str(refused.value)

    assert f"credentials were rejected (user '{ADMIN}' with no password: MLFLOW_TRACKING_PASSWORD is not set)" in (
        refusal(username=ADMIN))
    assert (f"credentials were rejected (user '{ADMIN}': a wrong password in MLFLOW_TRACKING_PASSWORD, or no such "
            "user)") in refusal(username=ADMIN, password="wrong-password-123")
    assert "(a password, but no user: MLFLOW_TRACKING_USERNAME is not set)" in refusal(password=PASSWORD)
    assert "credentials were rejected (the token in MLFLOW_TRACKING_TOKEN)" in refusal(token="not-a-token")
    assert "wrong-password-123" not in refusal(username=ADMIN, password="wrong-password-123")


def test_credentials_that_may_only_read_are_refused_as_a_tracking_error(auth_server, input_path, tmp_path,
                                                                         monkeypatch):
    # a walk-through of 12-07: a user with the server's default READ permission passed the check (a read) and
    # failed creating the run with a traceback, exit 1, which says "retry: always safe"
    import requests

    created = requests.post(f"{auth_server}/api/2.0/mlflow/users/create", auth=(ADMIN, PASSWORD), timeout=30,
                            json={"username": "reader", "password": "reader-password-123"})
    assert created.status_code == 200, created.text
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    config = job_config(input_path, auth_server, tmp_path)
    parent_run.finish_parent_run(parent_run.start_parent_run(config, RUN_DATE, {}), {}, 1.0)  # its experiment
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "reader")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "reader-password-123")
    with pytest.raises(tracking.TrackingUnavailable, match=r"refused to start the job's run: .*403.*; the "
                                                           r"credentials may read this experiment but not write it"):
        parent_run.start_parent_run(config, RUN_DATE, {})


def test_a_job_run_the_server_may_not_show_is_a_tracking_error_not_no_such_run(auth_server, tmp_path, monkeypatch,
                                                                                caplog):
    # the lookup's and the notebook's --job-run had said "no run X in the MLflow store" to any refusal
    import pandas as pd
    import requests
    from deltalake import write_deltalake

    from forecasting.__main__ import main as forecasting_main

    admin = tracking.client(auth_server)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    experiment = admin.create_experiment("hidden-from-outsiders")
    job_run = admin.create_run(experiment, tags={tracking.JOB_TAG: tracking.TRAIN_JOB,
                                                 tracking.RUN_DATE_TAG: RUN_DATE}).info.run_id
    assert explore.training_job_run(auth_server, job_run).info.run_id == job_run
    for path, body in (("users/create", {"username": "outsider", "password": "outsider-password-123"}),
                       ("experiments/permissions/create", {"experiment_id": experiment, "username": "outsider",
                                                           "permission": "NO_PERMISSIONS"})):
        answer = requests.post(f"{auth_server}/api/2.0/mlflow/{path}", auth=(ADMIN, PASSWORD), json=body, timeout=30)
        assert answer.status_code == 200, answer.text
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "outsider")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "outsider-password-123")
    with pytest.raises(tracking.TrackingUnavailable, match=f"did not give run {job_run}: .*403.*; the credentials "
                                                           "may not read that run's experiment"):
        explore.training_job_run(auth_server, job_run)
    with pytest.raises(LookupError, match="no run 0123abcd in the MLflow store"):  # one that is not there
        explore.training_job_run(auth_server, "0123abcd")

    # the series lookup: exit 4 (retry or ask for access), not 1 (no such run)
    rows = pd.DataFrame({"store": ["s1"], "status": ["ok"], "model": ["naive"], "run_date": [RUN_DATE],
                         "job_run_id": [job_run], "child_run_id": ["c"], "ds": [pd.Timestamp(RUN_DATE)],
                         "yhat": [1.0], "yhat_lower": [0.0], "yhat_upper": [2.0], "source": ["trained"]})
    for name in (tables.SERIES_RESULTS, tables.FORECASTS):
        write_deltalake(str(tmp_path / name), rows)
    settings = ["--set", f"tracking.uri={auth_server}", "--set", f"output.path={tmp_path}",
                "--set", "input.key_columns=[store]"]
    assert forecasting_main(["series", "store=s1", "--job-run", job_run, *settings]) == 4
    assert f"tracking error: the MLflow store did not give run {job_run}" in caplog.text
    assert forecasting_main(["series", "store=s1", "--job-run", "0123abcd", *settings]) == 1


def test_the_notebooks_run_search_says_in_a_line_that_a_server_wants_credentials(auth_server, monkeypatch):
    for name in tracking.CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # MLflow's own answer is an exception dumping the request and the server's 401 page
    with pytest.raises(tracking.TrackingUnavailable, match="HTTP 401: credentials are needed"):
        explore.job_runs(auth_server, "any")
    in_uri = auth_server.replace("http://", f"http://{ADMIN}:wrong-password-123@")
    with pytest.raises(tracking.TrackingUnavailable, match="credentials were rejected") as refused:
        explore.job_runs(in_uri, "any")
    assert "wrong-password-123" not in str(refused.value)


def test_one_lookups_searches_check_the_server_once(server, monkeypatch):
    # python -m forecasting series checked it before the command, then again before each of its searches
    monkeypatch.setattr(explore, "SERVER_ANSWER_KEPT_SECONDS", 60)
    with FlakyProxy(server, every=10**9) as proxy:
        explore.job_runs(proxy.uri, "Default")
        explore.job_runs(proxy.uri, "Default", run_date="2024-01-01")
        assert proxy.paths.count("/health") == 1
        monkeypatch.setattr(explore, "SERVER_ANSWER_KEPT_SECONDS", 0)  # as though a minute had passed
        explore.job_runs(proxy.uri, "Default")
        assert proxy.paths.count("/health") == 2
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "another-credential")  # what answered before is not this
        monkeypatch.setattr(explore, "SERVER_ANSWER_KEPT_SECONDS", 60)
        explore.job_runs(proxy.uri, "Default")
        assert proxy.paths.count("/health") == 3


def test_credentials_reach_executors_and_nowhere_else(spark, auth_server, input_path, tmp_path, monkeypatch, caplog, capfd):
    # the executors' Python workers were started before these variables existed:
    # they can only log because the credentials travel with the task
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    caplog.set_level("DEBUG")
    config = job_config(input_path, auth_server, tmp_path)
    summary = pipeline.run_job(spark, config, RUN_DATE)
    assert summary.counts == {"ok": 3}
    client = mlflow.MlflowClient(auth_server)
    runs = [client.get_run(summary.job_run_id), *children_of(client, summary)]
    assert len(runs) == 4 and all(r.info.status == "FINISHED" for r in runs)

    logged = caplog.text + "".join(capfd.readouterr())
    resolved = client.download_artifacts(summary.job_run_id, "config/resolved.yaml", str(tmp_path))
    places = {
        "logs": logged,
        "params and tags": repr([(r.data.params, r.data.tags) for r in runs]),
        "saved config": Path(resolved).read_text(),
        "spark environment": repr(spark.sparkContext.getConf().getAll()),
        "summary": summary.format() + repr(summary),
    }
    for place, text in places.items():
        assert PASSWORD not in text, f"the password leaked into the {place}"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, signed by its own key: (certificate, certificate and key in one file)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test private CA")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    cert_path, pair_path = folder / "cert.pem", folder / "cert-and-key.pem"
    cert_path.write_bytes(cert_pem)
    pair_path.write_bytes(cert_pem + key_pem)
    return cert_path, pair_path


@pytest.fixture
def https_server(tmp_path):
    """An HTTPS server answering what the pre-check and MLflow's experiment search ask,
    its certificate from a private CA; ``require_client_cert`` asks for the same one back."""
    import http.server
    import ssl
    import threading

    cert, pair = self_signed_certificate(tmp_path)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = b"OK" if self.path == "/health" else b'{"experiments": []}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802 (MLflow's client searches with a POST)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.do_GET()

        def log_message(self, *args):  # no access log on stderr
            pass

    def start(require_client_cert: bool = False) -> str:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pair)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cert)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"https://127.0.0.1:{server.server_address[1]}"

    servers = []
    yield start, cert, pair
    for server in servers:
        server.shutdown()
        server.server_close()


TLS_VARIABLES = ("MLFLOW_TRACKING_SERVER_CERT_PATH", "MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_CLIENT_CERT_PATH",
                 "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def reaches(uri: str) -> tuple[bool, bool]:
    """Whether the pre-check, and MLflow's own client, reach the server."""
    from mlflow.exceptions import MlflowException

    try:
        server_check.check_server(uri, timeout=5)
        checked = True
    except tracking.TrackingUnavailable:
        checked = False
    try:
        mlflow.MlflowClient(uri).search_experiments(max_results=1)
        mlflow_reached = True
    except MlflowException:
        mlflow_reached = False
    return checked, mlflow_reached


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # MLFLOW_TRACKING_INSECURE_TLS's
def test_the_server_check_takes_mlflows_tls_settings(https_server, monkeypatch):
    start, cert, pair = https_server
    for name in TLS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow's refusal at once, not after backoff
    uri = start()
    with pytest.raises(tracking.TrackingUnavailable, match="fails the TLS check.*MLFLOW_TRACKING_SERVER_CERT_PATH"):
        server_check.check_server(uri, timeout=5)
    assert reaches(uri) == (False, False)
    for name, value in (("MLFLOW_TRACKING_SERVER_CERT_PATH", str(cert)), ("MLFLOW_TRACKING_INSECURE_TLS", "true"),
                        ("REQUESTS_CA_BUNDLE", str(cert))):
        monkeypatch.setenv(name, value)
        assert reaches(uri) == (True, True), name
        monkeypatch.delenv(name)

    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(cert))
    mutual = start(require_client_cert=True)
    assert reaches(mutual) == (False, False)
    monkeypatch.setenv("MLFLOW_TRACKING_CLIENT_CERT_PATH", str(pair))
    assert reaches(mutual) == (True, True)

    # settings MLflow refuses are named before any training
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    with pytest.raises(tracking.TrackingUnavailable, match="both set"):
        server_check.check_server(uri, timeout=5)
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "yes")
    with pytest.raises(tracking.TrackingUnavailable, match="true, false, 1 or 0"):
        server_check.check_server(uri, timeout=5)
