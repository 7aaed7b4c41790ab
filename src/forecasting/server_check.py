"""Whether a tracking server answers, checked before MLflow's own retries would spend
minutes finding out: at a job's start, once a lookup, and after a training whose series'
tracking failed."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from urllib.parse import urlparse

from forecasting.redaction import redact_url_password
from forecasting.tracking import (CONNECTION_VARIABLES, CREDENTIAL_VARIABLES, TrackingUnavailable,
                                  credentials_from_environment, tls_settings)

logger = logging.getLogger(__name__)

# When (time.monotonic()) a server last answered, by its URI and the settings it answered to
_ANSWERED: dict[tuple, float] = {}


def check_server(uri: str, timeout: float, answered_within: float = 0) -> None:
    """Fail fast, naming the URI, when a tracking server is down or refuses us;
    MLflow's own retries would otherwise spend minutes before saying so. Skipped where
    it answered in the last ``answered_within`` seconds to the same credentials, TLS and
    proxy settings: one lookup command checks once, not once a search."""
    if urlparse(uri).scheme not in ("http", "https"):
        return
    tls = tls_settings()
    settings = sorted(credentials_from_environment(CREDENTIAL_VARIABLES + CONNECTION_VARIABLES).items())
    seen = (uri, hashlib.sha256(json.dumps(settings).encode()).hexdigest())  # no secret kept in memory as it is
    answered = _ANSWERED.get(seen)
    if answered is not None and time.monotonic() - answered < answered_within:
        return
    _probe_server(uri, timeout, tls)
    _ANSWERED[seen] = time.monotonic()


GONE_CHECK_SECONDS = 5  # a server's answer to the check after series' tracking failed


def try_once_if_gone(uri: str) -> bool:
    """After series' tracking failed in a run: where the server still does not answer, the
    driver's remaining MLflow calls (the overview, the metrics, the registration, ending the
    run) are tried once each, not each through MLflow's whole retry budget (some 30 s
    apiece, minutes of a scheduler's timeout after the tables were written). Whether so."""
    try:
        check_server(uri, GONE_CHECK_SECONDS)
    except TrackingUnavailable as err:
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"  # MLflow reads it at each request
        logger.warning("%s after the training: the run's remaining MLflow calls are tried once each",
                       redact_url_password(str(err).splitlines()[0]))
        return True
    return False


def _probe_server(uri: str, timeout: float, tls: dict) -> None:
    import requests

    try:
        health = requests.get(f"{uri.rstrip('/')}/health", timeout=timeout, **tls)
    except requests.exceptions.SSLError as err:  # not transient: a retry later would fail the same way
        raise TrackingUnavailable(
            f"MLflow tracking server {uri} fails the TLS check: {err}. For a private CA set "
            "MLFLOW_TRACKING_SERVER_CERT_PATH (or REQUESTS_CA_BUNDLE) to its certificate bundle; for a client "
            "certificate MLFLOW_TRACKING_CLIENT_CERT_PATH"
        ) from err
    except requests.RequestException as err:
        raise TrackingUnavailable(f"MLflow tracking server {uri} is unreachable: {err}") from err
    if health.status_code >= 500:
        raise TrackingUnavailable(f"MLflow tracking server {uri} is unhealthy: HTTP {health.status_code}")
    credentials = credentials_from_environment(CREDENTIAL_VARIABLES)
    auth = None
    headers = {}
    if "MLFLOW_TRACKING_TOKEN" in credentials:
        headers["Authorization"] = f"Bearer {credentials['MLFLOW_TRACKING_TOKEN']}"
    elif "MLFLOW_TRACKING_USERNAME" in credentials:
        auth = (credentials["MLFLOW_TRACKING_USERNAME"], credentials.get("MLFLOW_TRACKING_PASSWORD", ""))
    try:
        probe = requests.get(
            f"{uri.rstrip('/')}/api/2.0/mlflow/experiments/search", params={"max_results": 1},
            auth=auth, headers=headers, timeout=timeout, **tls,
        )
    except requests.RequestException as err:  # up, but its API does not answer
        raise TrackingUnavailable(f"MLflow tracking server {uri} does not answer its API: {err}") from err
    if probe.status_code >= 500:
        raise TrackingUnavailable(f"MLflow tracking server {uri} fails its API: HTTP {probe.status_code}")
    if probe.status_code == 404:  # a server, but no MLflow there: a path added or left out, another port's service
        raise TrackingUnavailable(
            f"{uri} answers, but not as an MLflow tracking server: {uri.rstrip('/')}/api/2.0/mlflow/experiments/search "
            "is HTTP 404. Check tracking.uri's host, port and path (a server behind a proxy's path prefix takes it "
            "in the URI; one at the root does not)")
    if probe.status_code in (401, 403):
        in_uri = urlparse(uri).username is not None  # requests sends a URI's user and password, as MLflow does
        given = (f"were rejected{_sent(credentials)}" if credentials else "were rejected (those in the URI)" if in_uri
                 else "are needed")
        raise TrackingUnavailable(
            f"MLflow tracking server {uri} answered HTTP {probe.status_code}: credentials {given}. "
            "Set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)."
        )


def _sent(credentials: dict[str, str]) -> str:
    """Which credentials the environment sent, for a refusal: a password not set reads
    otherwise as a wrong one."""
    user, password = credentials.get("MLFLOW_TRACKING_USERNAME"), "MLFLOW_TRACKING_PASSWORD" in credentials
    if "MLFLOW_TRACKING_TOKEN" in credentials:
        return " (the token in MLFLOW_TRACKING_TOKEN)"
    if not password:
        return f" (user {user!r} with no password: MLFLOW_TRACKING_PASSWORD is not set)"
    if not user:
        return " (a password, but no user: MLFLOW_TRACKING_USERNAME is not set)"
    return f" (user {user!r}: a wrong password in MLFLOW_TRACKING_PASSWORD, or no such user)"
