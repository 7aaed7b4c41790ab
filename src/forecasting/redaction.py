"""Secrets kept out of what a run records and prints: a secret-looking config key's
value, and the password of a ``scheme://user:password@host`` in any text."""
from __future__ import annotations

import logging
import re

logger = logging.getLogger(__name__)

# (pwd: ODBC's and JDBC's ConnectionPWD; a connection string: Azure's holds its AccountKey)
SECRET_NAME = re.compile(
    r"secret|passw|passphrase|pgpass|pwd|token|credential|private|bearer|\bauth[._-]?(header|value|key)\b|"
    r"authori[sz]ation|\bsas\b|connection[._-]?string|(access|account|api|encryption|storage)[._-]?key", re.IGNORECASE
)
# what follows a scheme's :// up to a space, a quote or the next URL's :// (not consumed, so that
# a URL inside another's text is matched too; bounded, so that the whole text is read once)
URL_AFTER_SCHEME = re.compile(r"://(?=((?:(?!://)[^\s'\"<>])+))")
REDACTED = "(redacted)"
MAX_PASSWORD = 256
# A URL's query or fragment parameter, and those whose value is a secret by name (whole names,
# any case): a database password (libpq, SQLAlchemy), a bearer token, a presigned URL's
# signature (S3, Google Cloud Storage, an Azure SAS token's sig), an API key. Not the
# access key id or scope beside a signature (X-Amz-Credential), which say whose it is.
QUERY_PARAMETER = re.compile(r"([?&#]([^=&\s'\"<>#?]+)=)([^&\s'\"<>#),;]+)")
# An ODBC connection string's password inside a URL (SQLAlchemy's ?odbc_connect=...;PWD=...;),
# its = and ; percent-encoded or not (a query's own password= is QUERY_PARAMETER's)
# (a value holding a ; is braced, a } in it doubled: {se;c}}ret}, %7Bse%3Bc%7D%7Dret%7D)
ODBC_PASSWORD = re.compile(
    r"((?:[;=]|%3B)(?:pwd|password)(?:=|%3D))"
    r"(?:\{(?:\}\}|[^}])*\}|%7B(?:%7D%7D|(?!%7D).)*%7D|(?:(?!%3B)[^;&\s'\"<>])+)", re.IGNORECASE)
SECRET_PARAMETERS = frozenset({
    "password", "passwd", "pwd", "sslpassword", "token", "access_token", "refresh_token", "id_token",
    "auth_token", "x-amz-security-token", "x-amz-signature", "signature", "x-goog-signature", "sig", "key",
    "api_key", "apikey", "api-key", "client_secret", "secret",
})


# Config maps whose keys name the user's data (input columns, holidays), not settings
NAMING_MAPS = ("input.rename_columns", "model.holiday_windows")


def redact_secrets(data: dict, prefix: str = "") -> dict:
    """``data`` with the values of secret-looking keys (a password in input.options,
    an S3 secret key in spark.conf) replaced, so that no run records them. Secrets
    belong in the environment; a warning says so."""
    cleaned = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if path in NAMING_MAPS:  # a column named private_label is no secret, and must load back as it was
            cleaned[key] = value
        elif value is not None and SECRET_NAME.search(str(key)):
            logger.warning("config key %s looks like a secret: not recorded in MLflow; pass it through "
                           "the environment instead", path)
            cleaned[key] = REDACTED
        elif isinstance(value, dict):
            cleaned[key] = redact_secrets(value, f"{path}.")
        else:
            cleaned[key] = redact_url_password(value) if isinstance(value, str) else value
    return cleaned


def redact_url_password(text: str) -> str:
    """``scheme://user:password@host`` with the password replaced, also where the
    user is empty or the password holds a / or an @ (a raw AWS secret key may), and
    in every URL of the text, one inside another's path too."""
    pieces, kept_from = [], 0
    for match in URL_AFTER_SCHEME.finditer(text):
        span = _password_span(text, match)
        if span and span[0] >= kept_from:
            pieces += [text[kept_from:span[0]], REDACTED]
            kept_from = span[1]
    text = "".join(pieces) + text[kept_from:]
    if "://" not in text:
        return text
    text = ODBC_PASSWORD.sub(lambda m: m.group(1) + REDACTED, text)
    return QUERY_PARAMETER.sub(lambda m: m.group(1) + REDACTED if _secret_parameter(m.group(2)) else m.group(0), text)


def _secret_parameter(name: str) -> bool:
    """A URL parameter whose value is a secret: by name, or a password's or secret's of any prefix (db_password)."""
    return name.lower() in SECRET_PARAMETERS or name.lower().endswith(("password", "passwd", "secret"))


def _password_span(text: str, match: re.Match) -> tuple[int, int] | None:
    """Where the password of the URL whose ``://`` ``match`` found is, if it has one.
    Its user info ends at the last @ before the path: the first / after an @."""
    rest, offset = match.group(1), match.end()
    colon = offset + len(rest)
    if "@" not in rest and ":" not in rest and text.startswith("://", colon):
        # user://...@host: a password starting with // (a raw AWS key may) stopped the
        # match at its colon; its @ looked for within a password's length only, and not
        # past another colon, which is a URL of its own (h1,http://u:pw@h2)
        at = text.find("@", colon, colon + MAX_PASSWORD)
        return (colon + 1, at) if at > 0 and not re.search(r"[\s'\"<>]", text[colon:at]) and (
            ":" not in text[colon + 1:at]) else None
    first_at = rest.find("@")
    if first_at < 0:
        return None
    path = rest.find("/", first_at)
    at = rest.rfind("@", 0, path if path >= 0 else len(rest))
    user, colon, password = rest[:at].partition(":")
    if not colon or any(mark in user for mark in "/[") or re.match(r"\d+[/?#]", password):
        return None  # no password; an IPv6 host; host:port/path@...
    return offset + len(user) + 1, offset + at


def error_text(err: BaseException) -> str:
    """``str(err)``, or where making it fails, what the error keeps without it: str() of
    PySpark's errors and Py4J's Java errors asks the JVM, gone where spark-submit's JVM was
    stopped alone (the run, its failure not told, had stayed RUNNING). PySpark keeps the
    Java message (``_desc``)."""
    try:
        return str(err)
    except Exception:
        return kept_text(err)


def kept_text(err: BaseException) -> str:
    """What an error keeps of its text without making it (str() of PySpark's errors and Py4J's
    Java errors asks the JVM, which may be gone): PySpark's Java message (``_desc``), else its
    text arguments."""
    desc = getattr(err, "_desc", None)
    return desc if isinstance(desc, str) else " ".join(arg for arg in err.args if isinstance(arg, str))


def first_line(err: BaseException) -> str:
    """An error's first line, without a URL's password: for a log line or a tag."""
    return redact_url_password((error_text(err).strip().splitlines() or [type(err).__name__])[0])


def cause_line(err: BaseException, typed: bool = False) -> str:
    """The line of an error that says what failed, without a URL's password: the last
    Python error a Spark task's traceback names, else the Java exception a Py4J error
    names (its first line only says which call failed), else its first line (``typed``:
    after the error's type)."""
    lines = [line.strip().lstrip(": ") for line in error_text(err).splitlines() if line.strip()]
    python = [line for line in lines if re.match(r"[A-Z]\w*(Error|Exception): ", line)]
    java = [line for line in lines if re.match(r"[a-z][\w$]*(\.[\w$]+)+(Exception|Error): ", line)]
    if python or java:
        return redact_url_password(python[-1] if python else java[0])
    return f"{type(err).__name__}: {first_line(err)}" if typed else first_line(err)


# The jobs' log lines, on the driver (cli) and in the executors' Python workers (python_worker)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# MLflow's client retries a tracking server's requests through urllib3, which warns of every retry: a
# server down for two minutes put 54 such lines in a job's log, where the job's own say tracking failed
RETRY_LOGGER = "urllib3.connectionpool"


def quiet_retries() -> None:
    """urllib3's warnings of each retry left out (its errors kept), in the driver and the workers."""
    logging.getLogger(RETRY_LOGGER).setLevel(logging.ERROR)


class RedactingFormatter(logging.Formatter):
    """Log lines, tracebacks included, without the password of a ``scheme://user:password@host``
    (an input path, an output path or the tracking URI may hold one)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_url_password(super().format(record))
