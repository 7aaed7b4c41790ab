"""One MLflow model per training run that answers "forecast series X for h periods"
(registered by forecasting.registration).

The registered pyfunc holds no per-series model itself: it points at the run's
rows of the ``models`` table and loads them when the server starts, so
registering costs the same for ten series as for ten thousand. A Delta table is
read at the version the run wrote, so a version keeps answering with its run's
models after a rerun of that date replaced them; a parquet table has no versions
and is read as it is now.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import numbers
import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from mlflow.pyfunc import PythonModel

from forecasting import delta_files, model, model_store, series_identity
from forecasting.redaction import first_line, redact_url_password

logger = logging.getLogger(__name__)

POINTER = "models_pointer.json"
# a request's as_of as text: ISO 8601, a whole date first, then optionally a time (and offset)
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ]|$)")
TIME_OF_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}")  # a date and an hour on
# The most steps a request may ask for: more is a mistake (a horizon of 10 million took
# pandas past its last time with a stack trace), and its sampled interval would fill memory.
MAX_HORIZON = 10_000
# after the forecast's columns, what answered: the model, its training run's date, the series' child run
ANSWER_SOURCE = ["model", "model_run_date", "child_run_id"]
UNKNOWN_NAMED = 20  # the series without a model a refusal names
WHOLE_NUMBER_TEXT = re.compile(r"[0-9]+(?:\.0*)?")  # a horizon as text: 7 or 7.0, not 7e0
RESULTS_TABLE = "series_results"  # beside the models table (forecasting.tables), named here without pyspark
REASON_CHARACTERS = 200  # of a skipped or failed series' reason, in a refusal
OUTCOMES_RETRY_SECONDS = 60  # before a refusal reads series_results again where it could not (and logs why)


class ManyModelForecaster(PythonModel):
    """``mlflow.pyfunc`` model. Input: one row per request with the key columns,
    ``horizon`` and optionally ``as_of`` (forecast the periods not over by then, read as a
    run date is, instead of those after the series' history; not before its last period). Output: one row per series and step,
    naming the model, its run date and the series' child run, so that a stored answer can be explained later."""

    def load_context(self, context) -> None:
        pointer = json.loads(Path(context.artifacts["pointer"]).read_text())
        self.key_columns = pointer["key_columns"]
        self.horizon = pointer.get("horizon", 0)
        self.run_date = pointer.get("run_date")  # a server keeps the version it loaded: its refusals say which
        self.pointer = pointer
        if getattr(_saving, "active", False):  # MLflow loads a model while saving it: every model, for nothing
            self.models = {}
            return
        rows = read_models(pointer, [*self.key_columns, "model", "model_json", "frequency", "interval_width",
                                     "child_run_id"])
        self.models = {series_key(r, self.key_columns): r for r in rows.to_dict("records")}

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        requests = model_input.to_dict("records")
        self._refuse_unknown(requests)
        answers = []
        for request in requests:
            keys = {k: request[k] for k in self.key_columns}
            stored = self.models[series_key(keys, self.key_columns)]
            steps = _horizon_steps(request["horizon"])
            if steps is None:
                given = request["horizon"]
                # a flag is a Real to Python: shown as written, not as 1
                shown = f"{given:.15g}" if isinstance(given, numbers.Real) and not isinstance(given, bool) else repr(given)
                raise _bad_request(f"horizon must be a positive whole number up to {MAX_HORIZON}, got {shown} "
                                   f"for series {series_identity.series_id(keys)}")
            last = _as_of_time(request.get("as_of"), keys)
            # seeded by the keys as training and scoring saw them (a date, not a request's timestamp)
            series = series_identity.series_id({k: stored[k] for k in self.key_columns})
            try:
                forecast = model_store.forecast_stored(stored, series, last, steps, self.horizon, as_of=True)
            except model_store.BeforeHistoryEnd as err:  # answered from the history's end, it would not say so
                raise _bad_request(_before_history(err, series_identity.series_id(keys))) from None
            except model.TooFarAhead as err:
                raise _bad_request(f"as_of {request.get('as_of')!r} of series {series_identity.series_id(keys)} is "
                                   f"{err}: ask with an earlier as_of, or serve a version trained on newer data") from None
            except (pd.errors.OutOfBoundsDatetime, OverflowError) as err:
                raise _bad_request(f"the forecast of series {series_identity.series_id(keys)} would run past the times "
                                   f"pandas can hold (2262-04-11): {err}") from None
            # a text key as the tables hold it (a null country is ""): an answer joins them by its keys; other
            # keys as the request gave them, in the signature's type (a stored date is no datetime column)
            answered = {k: stored[k] if isinstance(stored[k], str) else keys[k] for k in self.key_columns}
            answers.append(forecast.assign(**answered, model=stored["model"],
                                           model_run_date=getattr(self, "run_date", None),
                                           child_run_id=stored.get("child_run_id")))
        columns = [*self.key_columns, *model.FORECAST_COLUMNS, *ANSWER_SOURCE]
        if answers:
            return pd.concat(answers, ignore_index=True)[columns]
        # no request: no rows, in the signature's types all the same (a typed client reads them)
        empty = pd.DataFrame(columns=columns).astype({name: "float64" for name in model.FORECAST_COLUMNS[1:]})
        return empty.astype({"ds": "datetime64[ns]"})

    def _refuse_unknown(self, requests: list[dict]) -> None:
        """Refuse a request naming series without a model in this version, every one of them
        named (at most UNKNOWN_NAMED), so that a client can leave them out in one go."""
        unknown = {}  # by series id, in the request's order: the keys asked
        for request in requests:
            if series_key(request, self.key_columns) not in self.models:
                keys = {k: request[k] for k in self.key_columns}
                unknown.setdefault(series_identity.series_id(keys), keys)
        if not unknown:
            return
        ids = list(unknown)
        named = ", ".join(ids[:UNKNOWN_NAMED]) + (f" and {len(ids) - UNKNOWN_NAMED} more"
                                                   if len(ids) > UNKNOWN_NAMED else "")
        ended = self._run_outcomes()
        listed = {i: series_key(unknown[i], self.key_columns) for i in ids[:UNKNOWN_NAMED]}
        outcomes = {i: ended[key] for i, key in listed.items() if ended and key in ended}
        if ended is None:  # the run's series_results unreadable: what became of them is the lookup's to say
            why = ("not in that run's input, or skipped or failed there without a fallback (python -m forecasting "
                   "series says which)")
        elif not outcomes:  # of those named: the rest were not looked up
            why = "not in that run's input" if len(ids) <= UNKNOWN_NAMED else "those named were not in that run's input"
        elif len(ids) == 1:  # named just before
            why = outcomes[ids[0]]
        else:
            others = "the others" if len(ids) <= UNKNOWN_NAMED else "the others named"
            why = "; ".join([f"{i} {outcome}" for i, outcome in outcomes.items()]
                            + ([f"{others} were not in that run's input"] if len(outcomes) < len(listed) else []))
        # a typo's likely meaning, where one series is unknown and not the run's (a list reads as a list)
        similar = _similar(unknown[ids[0]], self.key_columns, self.models) if len(ids) == 1 and not outcomes else ""
        loaded = f" of run date {self.run_date}" if getattr(self, "run_date", None) else ""
        raise _bad_request(f"no model for {len(ids)} series in this version{loaded}: {named}{similar}: {why}. "
                           "A request naming one answers no series: ask for the others alone")

    def _run_outcomes(self) -> dict[tuple[str, ...], str] | None:
        """What this version's run did with each series it had no model for, by series_key:
        "was skipped in that run (its reason)" or "failed in that run (...)", from its rows of the
        series_results table beside the models table; read at the first refusal, and where they
        could not be read (None then), again at a refusal OUTCOMES_RETRY_SECONDS later."""
        with _reading_outcomes:  # a server answers requests on threads: one read
            now = time.monotonic()
            if getattr(self, "_ended", None) is None and now >= getattr(self, "_read_again_at", now):
                self._ended = _read_run_outcomes(getattr(self, "pointer", {}), self.key_columns)
                self._read_again_at = now + OUTCOMES_RETRY_SECONDS
            return getattr(self, "_ended", None)


_reading_outcomes = threading.Lock()


def _read_run_outcomes(pointer: dict, key_columns: list[str]) -> dict[tuple[str, ...], str] | None:
    import pyarrow.dataset as ds

    from forecasting import table_reads

    job_run_id, run_date = pointer.get("job_run_id"), pointer.get("run_date")
    if not job_run_id or not run_date or not pointer.get("models_table"):
        return None
    path = f"{pointer['models_table'].rstrip('/').rsplit('/', 1)[0]}/{RESULTS_TABLE}"
    unread = "cannot read what run %s did with the series it has no model of, from %s: %s"
    try:
        same_date = ds.field("run_date").cast("string") == run_date  # no other date's files read
        rows, _ = table_reads.rows_of_run(path, job_run_id, pointer.get("format", "delta"), same_date,
                                          [*key_columns, "status", "reason"])
        rows = table_reads.arrow_to_pandas(rows)  # whole-number keys stay whole beside a null
    except Exception as err:  # a refusal still says what it can
        logger.warning(unread, job_run_id, redact_url_password(path), first_line(err))
        return None
    if rows.empty:  # a run writes a row for every series it had: its rows are gone
        logger.warning(unread, job_run_id, redact_url_password(path), "no rows of that run there")
        return None
    ended = {}
    for row in rows.to_dict("records"):
        if row["status"] == "ok":  # a series with a model is never asked about; an ok row says nothing new
            continue
        # on one line: an exception's text may run on for several
        reason = " ".join(row["reason"].split()) if isinstance(row["reason"], str) else "no reason recorded"
        reason = reason if len(reason) <= REASON_CHARACTERS else reason[:REASON_CHARACTERS - 3] + "..."
        done = "failed" if row["status"] == "failed" else f"was {row['status']}"
        ended[series_key(row, key_columns)] = f"{done} in that run ({reason})"
    return ended


def _as_of_time(value, keys: dict) -> pd.Timestamp | None:
    """A request's as_of as a time without a zone, as the job reads its input's: one with
    an offset ("2027-01-04T00:00:00Z", "...+01:00") in UTC, and a moment even at midnight
    (its day is not over, as a date's is), as is text with a time of day ("2027-01-04T00:00");
    a date, or a timestamp at midnight, is the whole day. None where it is not given."""
    if not isinstance(value, (list, tuple, dict)) and pd.isna(value):  # None, NaN, NaT
        return None
    series = series_identity.series_id(keys)
    not_a_time = _bad_request(f"as_of {value!r} of series {series} is not a time: give a date or a time as ISO 8601 "
                              "text, e.g. 2024-03-31, 2024-03-31 18:30 or 2024-03-31T18:30:00+01:00")
    # ISO 8601 text from a full date on: pandas would read "07/12/2026" as July, "Mon Dec 07 2026 GMT+0100"
    # (JavaScript's Date as text) an hour behind UTC, "2027" as its 1 January and "now" by the server's clock
    if isinstance(value, str) and value.strip() in ("", "NaT"):  # not given
        return None
    if isinstance(value, str) and not ISO_DATE.match(value.strip()):
        raise not_a_time
    outside = _bad_request(f"as_of {value!r} of series {series} is outside the times pandas can hold (1677-09-22 to "
                           "2262-04-11)")
    try:
        when = (pd.to_datetime(value.strip(), format="ISO8601") if isinstance(value, str) else pd.Timestamp(value))
        when = when.as_unit("ns")  # 1600-01-01 reads as a Timestamp, but no forecast is dated so
    except (pd.errors.OutOfBoundsDatetime, OverflowError):
        raise outside from None
    except (ValueError, TypeError):
        raise not_a_time from None
    if pd.isna(when):  # NaT
        return None
    if when.tzinfo is None:
        # text that spells out a time of day is a moment, midnight too, as one with an offset is: "T00:00" read
        # as the date jumped the forecast a day ahead of "T00:30"'s
        spelt = isinstance(value, str) and TIME_OF_DAY.search(value.strip()) is not None
        return when + pd.Timedelta(1, "ns") if spelt and when == when.normalize() else when
    when = when.tz_convert("UTC").tz_localize(None)
    return when + pd.Timedelta(1, "ns") if when == when.normalize() else when  # a moment, not the date before it


def _before_history(err: model_store.BeforeHistoryEnd, series: str) -> str:
    """Why a request's as_of before the last period its series' model saw is refused."""
    as_number = (" (a number is read as nanoseconds since 1970: give a date as text, e.g. 2024-03-31)"
                 if err.asked.year == 1970 else "")
    return (f"as_of {err.asked.floor('us')} falls before the last period of series {series}'s history, "
            f"{err.history_end}{as_number}: its model forecasts only after that; leave as_of out for the "
            "forecast after its history")


def _horizon_steps(value) -> int | None:
    """A request's horizon as a whole number of steps from 1 to MAX_HORIZON (given
    as an integer, a float or their text, as MLflow's server once took "7"; not "1e3"),
    or None."""
    if isinstance(value, str):
        if not WHOLE_NUMBER_TEXT.fullmatch(value.strip()):
            return None
        value = float(value.strip())
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or pd.isna(value):
        return None
    return int(value) if 1 <= value <= MAX_HORIZON and value == int(value) else None


def _similar(keys: dict, key_columns: list[str], models: dict) -> str:
    """The series of ``models`` a mistyped request most likely meant (another case, a letter
    off), as the refusal's end, as the series lookup suggests; "" where none is close."""
    asked = series_identity.series_id(dict(zip(key_columns, series_key(keys, key_columns))))
    known = [series_identity.series_id(dict(zip(key_columns, key))) for key in models]
    named = series_identity.closest_series(asked, known)
    return f" (did you mean {' or '.join(named)}?)" if named else ""


def series_key(values: dict, key_columns: list[str]) -> tuple[str, ...]:
    """The key values as text that a request and a stored row agree on: a date key
    is read from the table as a date and comes in a request as a timestamp, so a date
    is taken as its midnight; a null is blank text, as the job stores a null country
    (no series with a null key is modelled), and the text "<null>" is itself, another series'."""
    def text(value) -> str:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime.combine(value, dt.time())
        return "" if series_identity.is_null(value) else series_identity.key_text(value)

    return tuple(text(values[k]) for k in key_columns)


def _bad_request(message: str):
    """An error the scoring server answers with status 400 and this message."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


_saving = threading.local()  # .active while register saves a model in this thread


@contextmanager
def saving_model():
    """While registration saves a forecaster in this thread: MLflow loads a model it saves."""
    _saving.active = True
    try:
        yield
    finally:
        _saving.active = False


def read_models(pointer: dict, columns: list[str]) -> pd.DataFrame:
    """The models of the pointer's run date, without Spark."""
    if pointer.get("format", "delta") == "delta":
        from deltalake import DeltaTable

        unreadable = f"cannot read version {pointer.get('version')} of the models table {pointer['models_table']}"
        if pointer.get("version") is None:
            logger.warning("this model version was registered before versions named the models table's version "
                           "they serve (2026-11-30): it serves the table's current models of run date %s, those of "
                           "its latest rerun where the date was trained again", pointer["run_date"])
        try:
            table = DeltaTable(pointer["models_table"], version=pointer.get("version"))
        except Exception as err:  # deltalake's own words ("no log files") do not say why
            if not DeltaTable.is_deltatable(pointer["models_table"]):
                raise RuntimeError(
                    f"{unreadable}: there is no Delta table there: was output.path moved, or is it a folder this "
                    "server cannot reach (another machine's local path)?") from err
            raise RuntimeError(
                f"{unreadable}: {err}. A Delta table forgets versions older than its delta.logRetentionDuration "
                "(the job creates its tables with ten years; 30 days for one made before), and VACUUM removes "
                "their files"
            ) from err
        try:
            import pyarrow.dataset as ds

            on_date = ds.field("run_date").cast("string") == pointer["run_date"]  # a date, or text in an older table
            return delta_files.dataset(table).to_table(filter=on_date, columns=columns).to_pandas()
        except FileNotFoundError as err:  # its log is there, its files are not
            raise RuntimeError(
                f"{unreadable}: {err}. VACUUM removed the files of that version (a rerun of its run date replaced "
                "them): serve a later version of the registered model, or VACUUM with a retention that keeps "
                "the versions still served"
            ) from err
    import pyarrow.dataset as ds

    wanted = [c for c in columns if c != "run_date"]
    own = pointer.get("job_run_id")  # versions registered before it was in the pointer are not checked
    try:  # no folder, or one without the table's files: as for a Delta table, pyarrow's words do not say why
        dataset = _parquet_dataset(pointer)
        if "run_date" not in dataset.schema.names:
            raise FileNotFoundError(pointer["models_table"])
    except FileNotFoundError as err:
        raise RuntimeError(
            f"cannot read the models table {pointer['models_table']}: there is no parquet table there: was "
            "output.path moved, or is it a folder this server cannot reach (another machine's local path)?") from err
    rows = dataset.to_table(columns=[*wanted, "job_run_id"] if own else wanted,
                            filter=ds.field("run_date").cast("string") == pointer["run_date"])
    models = rows.to_pandas()
    if own:
        others = sorted(set(models.pop("job_run_id")) - {own})
        if others or models.empty:  # a parquet table keeps no old versions: the rows would be another run's models
            by = (f"were replaced by job run {', '.join(others)}, a rerun of that date" if others else
                  "are not there (a rerun of that date removed them, or the run wrote none)")
            raise RuntimeError(
                f"the models of job run {own} (run date {pointer['run_date']}) in {pointer['models_table']} {by}: "
                "a parquet table keeps no earlier versions. Serve the registered model's latest version, or write "
                "output.format: delta, whose versions keep their own models"
            )
    return models


def _parquet_dataset(pointer: dict):
    import pyarrow.dataset as ds

    return ds.dataset(pointer["models_table"], format="parquet", partitioning="hive")


