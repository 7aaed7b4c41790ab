"""A job run's summary, printed at its end, and the end of its MLflow parent run:
FINISHED with its counts and the runs it replaced, or FAILED with what stopped it."""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from forecasting import parent_run, redaction, series_identity, signals, tables, tracking, validation
from forecasting.series import FAILED, SKIPPED, STATUSES

logger = logging.getLogger(__name__)

EXAMPLE_WIDTH = 80  # characters of a series' id an example in the log and summary shows
MAX_REASON_KINDS = 5  # the kinds of reason the summary counts per status, the most common first
CHANGED_SHOWN = 5  # the settings a rerun changed that the summary names


_SINGULAR = {"have": "has", "are": "is", "were": "was", "end": "ends"}


def input_end_text(iso: str) -> str:
    """An input_end tag as a time to read, to the minute (a date alone would hide an hour's)."""
    try:
        return pd.Timestamp(iso).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def agreeing(count: int, verb: str) -> str:
    """``verb`` (plural) as it agrees with ``count`` series: "1 series has", "3 series have"."""
    return _SINGULAR.get(verb, verb) if count == 1 else verb


def series_that(count: int, verb: str, kind: str = "series") -> str:
    """The start of a summary line: "1 series has", "3 modelled series are"."""
    return f"{count} {kind} {agreeing(count, verb)}"


def named_examples(rows: DataFrame, keys: list[str]) -> str:
    """A few of ``rows``' series, each with its ``reason``, for the log and the summary; those of
    one reason named together ("s1, s2: last observation ..."), not the reason said again for each."""
    examples = rows.select(*keys, "reason").limit(validation.EXAMPLES).toPandas()
    by_reason: dict = {}
    for name, reason in zip(_ids(examples, keys), examples["reason"]):
        by_reason.setdefault(reason, []).append(name)
    return "; ".join(f"{', '.join(names)}: {reason}" for reason, names in by_reason.items())


def named_keys(rows: DataFrame, keys: list[str]) -> Column:
    """A series' keys as one struct to name it by in an aggregate, a time key as text, as
    the tasks name it (collect() would give it in the driver's time zone)."""
    return F.struct(*[F.col(k).cast("string").alias(k) if isinstance(rows.schema[k].dataType, (
        T.TimestampType, T.TimestampNTZType)) else F.col(k) for k in keys])


def example_ids(rows: DataFrame, keys: list[str], more: bool = False) -> str:
    """A few of ``rows``' series ids, for a count's line: "a/x, b/y"; with ``more``,
    followed by ", ..." where ``rows`` hold others."""
    ids = _ids(rows.select(*keys).limit(validation.EXAMPLES + 1 if more else validation.EXAMPLES).toPandas(), keys)
    return ", ".join(ids[:validation.EXAMPLES]) + (", ..." if len(ids) > validation.EXAMPLES else "")


def _ids(examples: pd.DataFrame, keys: list[str]) -> list[str]:
    # through pandas, as the tasks see the keys: collect() would give a time key in the driver's time zone;
    # a blank key's id in quotes, where it would read as nothing ("e.g. , b")
    ids = [series_identity.series_id({k: row[k] for k in keys}) for row in examples.to_dict("records")]
    return [series_identity.shortened(repr(i) if not i.strip() else i, EXAMPLE_WIDTH) for i in ids]


@dataclass
class JobSummary:
    run_date: str
    job_run_id: str
    experiment_id: str
    tracking_uri: str
    tables: dict[str, str]
    counts: dict[str, int] = field(default_factory=dict)
    catalog: dict[str, str] = field(default_factory=dict)
    wall_seconds: float = 0.0
    title: str = "Forecast run"
    note: str = ""
    statuses: tuple[str, ...] = STATUSES  # always listed, even at zero
    max_failed_share: float = 1.0
    untracked: int = 0  # series whose child run could not be logged (their forecasts are written)
    wrote: bool = False  # its tables' rows are written: those of an earlier run of its date are replaced
    output_format: str = "delta"  # whose tables keep the rows a rerun replaced (parquet's do not)
    written: list[str] = field(default_factory=list)  # the tables written so far, while it writes them
    reasons_in: str = "the status and reason columns of series_results"  # where a failed series says why
    notes_in: str = "series_results.data_notes"  # where a series' data notes are
    # per status other than ok, the kinds of reason with how many series each (most first)
    reason_kinds: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    nothing_modelled: bool = False  # no series modelled (too short, skipped, failed): exits 5, as for too many failed
    # the next run date with trained forecasts: it compared its own with those this run replaced or came before
    later_run_date: str | None = None
    zoned_times: bool = False  # the input gave every time with its zone: no advice on local clocks

    def warn(self, said: str, logged: str | None = None) -> None:
        """A warning in the log (``logged``, where the log says more) and a line of the summary."""
        logger.warning("%s", logged or said)
        self.note += f"  {said}\n"

    def inform(self, said: str) -> None:
        """A line of the log and of the summary that asks nothing of the reader (a count, a median)."""
        logger.info("%s", said)
        self.note += f"  {said}\n"

    @property
    def failed_share(self) -> float:
        return self.counts.get(FAILED, 0) / self.total if self.total else 0.0

    @property
    def too_many_failed(self) -> bool:
        return self.failed_share > self.max_failed_share

    @property
    def exits_5(self) -> bool:
        """Whether the job's exit code says its forecasts need a look, though written."""
        return self.too_many_failed or self.nothing_modelled

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def format(self, exit_line: str | None = None) -> str:
        """The summary; ``exit_line`` says why the job exits otherwise than the counts would."""
        statuses = [*self.statuses, *(s for s in self.counts if s not in self.statuses)]
        width = max(len(name) for name in (*self.tables, *statuses, "series total"))
        lines = [f"{self.title} {self.run_date} finished in {self.wall_seconds:.0f}s", self.note]
        lines += [f"  {status:<{width}}  {self.counts.get(status, 0):>7}" for status in statuses]
        lines.append(f"  {'series total':<{width}}  {self.total:>7}")
        lines.append("")
        lines += [f"  {name:<{width}}  {path}" for name, path in self.tables.items()]
        if self.catalog:
            lines.append(f"  {'catalog':<{width}}  {', '.join(self.catalog.values())}")
        lines += ["", f"  MLflow parent run {self.job_run_id} (experiment {self.experiment_id})"]
        if urlparse(self.tracking_uri).scheme in ("http", "https") or self.tracking_uri.startswith("databricks"):
            lines.append(f"  tracking server: {self.tracking_uri}")
        else:  # a folder or a database
            lines.append(f"  open the UI with: mlflow ui --backend-store-uri {self.tracking_uri}")
        if self.counts.get(FAILED) or self.counts.get(SKIPPED):
            lines.append(f"  why series failed or were skipped: {self.reasons_in}")
            for status, kinds in sorted(self.reason_kinds.items(), key=lambda item: statuses.index(item[0])
                                        if item[0] in statuses else len(statuses)):
                shown = "; ".join(f"{kind} ({count})" for kind, count in kinds[:MAX_REASON_KINDS])
                rest = kinds[MAX_REASON_KINDS:]
                series = sum(count for _, count in rest)
                more = (f"; {len(rest)} other {'reason' if len(rest) == 1 else 'reasons'} ({series} series)"
                        if rest else "")
                lines.append(f"    {status}: {shown}{more}")
        if self.untracked:
            lines.append(f"  {self.untracked} of {self.total} series {agreeing(self.untracked, 'have')} no complete "
                         "child run: tracking failed for them (their forecasts are written; series_results' reason "
                         "says why; a run begun ends FAILED with the job's run, or with a rerun of the date)")
        code = "" if exit_line else ": exit code 5"
        if self.too_many_failed:
            lines.append(
                f"\n  {self.failed_share:.0%} of the series failed, above reliability.max_failed_share "
                f"({self.max_failed_share:.0%}){code}"
            )
        elif self.nothing_modelled:
            lines.append(f"\n  no series was modelled (their reasons above){code}")
        if exit_line:
            lines.append(f"\n  {exit_line}")
        return redaction.redact_url_password("\n".join(lines))  # a password in a path or the tracking URI


def _held_while_ending(context: tracking.RunContext) -> signals.SigtermHeld:
    """SIGTERM held while the parent run is ended in a local store (files or SQLite: a few
    writes); not with a tracking server, whose requests may hang for minutes of retries,
    where a scheduler's stop must stop the job (the run then waits for a rerun to end it)."""
    return signals.SigtermHeld(hold=urlparse(context.tracking_uri).scheme in ("", "file", "sqlite"))


@contextmanager
def finishing(context: tracking.RunContext, summary: JobSummary, started: float):
    """End the parent run when the block ends: FINISHED with the counts, or FAILED.
    ``started`` is the job's start (time.monotonic) for its wall time."""
    try:
        yield
    except BaseException as err:
        # every write committed, where the stop came as their pool closed: written, not partly
        summary.wrote = summary.wrote or (bool(summary.written) and set(summary.written) == set(summary.tables))
        partly = [] if summary.wrote else summary.written
        # said first: tracking may be what failed, and ending the run with it
        if summary.wrote:  # the traceback that follows reads as if nothing was written
            logger.error("the run failed after writing its tables (%s): their rows of run date %s are in place "
                         "(its MLflow run %s is to be tagged %s); rerunning the date rewrites them",
                         ", ".join(summary.tables), summary.run_date, context.parent_run_id,
                         tracking.FAILED_AFTER_WRITING_TAG)
        elif partly:  # among its writes: the other tables still hold an earlier run's rows of the date
            logger.error("the run failed among its table writes: %s hold its rows of run date %s, the other tables "
                         "an earlier run's (its MLflow run %s is to be tagged %s); rerunning the date rewrites them all",
                         ", ".join(partly), summary.run_date, context.parent_run_id,
                         tracking.FAILED_AFTER_WRITING_TAG)
        with _held_while_ending(context):  # a scheduler's stop as the run is ended: it ends FAILED all the same
            parent_run.fail_parent_run(context, err, summary.counts, time.monotonic() - started, wrote=summary.wrote,
                                       partly=partly, untracked=summary.untracked)
        if summary.wrote and not isinstance(err, tracking.TrackingUnavailable) and tracking.is_tracking_failure(err):
            # the tracking server gone after the tables were written: exit 4, retry later, as below
            summary.wall_seconds = time.monotonic() - started
            raise tracking.TrackingUnavailable(
                f"the tables are written, but the tracking server failed ({redaction.first_line(err)}): MLflow run "
                f"{context.parent_run_id} stays RUNNING until a rerun of the date, which is safe, ends it",
                summary) from err
        raise
    summary.wall_seconds = time.monotonic() - started
    # every status the summary lists, at zero too: `metrics.series_failed = 0` is then searchable
    counts = {**dict.fromkeys(summary.statuses, 0), **summary.counts}
    held = _held_while_ending(context)  # a stop midway would leave the run RUNNING, its work done
    try:
        with held:
            replaced = parent_run.finish_parent_run(context, counts, summary.wall_seconds, wrote=True,
                                                    untracked=summary.untracked)
    except Exception as err:  # the tracking server gone since the tables were written: exit 4, retry later
        raise tracking.TrackingUnavailable(
            f"the tables are written, but MLflow run {context.parent_run_id} could not be ended "
            f"({redaction.first_line(err)}): it stays RUNNING until a rerun of the date, "
            "which is safe, ends it", summary) from err
    if held.held:
        logger.warning("SIGTERM came as MLflow run %s was ended: the run had done its work, and it ended FINISHED",
                       context.parent_run_id)
    if replaced.runs:
        wrote = [run for run in replaced.runs if run not in replaced.killed]
        runs = f"the earlier run(s) of this date {', '.join(wrote)}" if wrote else ""
        if replaced.killed:  # a run ended as stale cannot tell whether it got as far as its writes
            it = "it" if len(replaced.killed) == 1 else "they"
            runs += (f"{' and any of ' if wrote else 'any of '}{', '.join(replaced.killed)}, ended unfinished (killed, "
                     f"or cut off from its tracking server) before {it} could say whether {it} wrote")
        summary.note += (f"  replaced the rows of {runs} (tagged {tracking.SUPERSEDED_TAG}; "
                         f"{tables.replaced_rows_note(summary.output_format)})\n")
    if replaced.changed_settings:  # a rerun with another config: forecasts readers used changed on purpose
        shown = replaced.changed_settings[:CHANGED_SHOWN]
        more = len(replaced.changed_settings) - len(shown)
        extra = f" (and {more} more: the two runs' params)" if more else ""
        summary.note += f"  its config differed from the run it replaced: {'; '.join(shown)}{extra}\n"
    if replaced.changed_code:  # a fix deployed, a package upgraded: forecasts may move with config and data the same
        summary.note += f"  its code differed from the run it replaced: {'; '.join(replaced.changed_code)}\n"
    if replaced.other_data:  # the input's files changed since, or a Delta input read at another version
        before, now = replaced.other_data
        summary.note += (f"  its input differed from the run it replaced: data_version {before} -> {now} (the input "
                         "files' content hash, or a Delta input's version: values corrected since, or rows only "
                         "added after the run date, which it left out)\n")
    if replaced.other_input_ends and context.input_end:  # a backfill's input with the run date's own rows, say
        then = " and ".join(map(input_end_text, replaced.other_input_ends))
        summary.note += (f"  the input reached {input_end_text(context.input_end)} for this run, {then} for a run it "
                         "replaced: the same run date read other data, so its forecasts may start at another time "
                         "(input_end, a tag of each run)\n")
    if summary.later_run_date:  # a backfill's rerun, or a date run out of order
        # whether that run had a date before it to compare with or not: this run is, or replaced, that date now
        summary.note += (f"  the later run date {summary.later_run_date} compares its forecasts with those of the run "
                         "date before it, which this run now is or has replaced (series_results' forecast_change and "
                         f"realized_ columns, as that run found them): run {summary.later_run_date} again to compare "
                         "them with this run's\n")
    if replaced.rescore:
        summary.note += (f"  the scored forecasts of {', '.join(replaced.rescore)} came from models of this date that "
                         "this run or an earlier rerun replaced: score those dates again (their scoring runs are "
                         f"tagged {tracking.MODELS_REPLACED_TAG})\n")
