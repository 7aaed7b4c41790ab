"""Two evaluations' held-out scores side by side, series by series: whether a config change
(or one candidate against another) forecast better, by how much and how often, and whether
the difference stands out from chance, without a script of one's own. On a dozen series a
mean moves by a few hundredths with one series, or with the search's seed alone."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from forecasting import series_identity, table_reads, tables
from forecasting.metrics import DISPLAY_NAMES

logger = logging.getLogger(__name__)

# what the job forecast per series: the rows selected, a fallback's too (the report's all_series where some fell
# back, its selection otherwise): a series that fell back on one side only changed forecast as much as any
SELECTION = "selection"
FALLBACK_PREFIX, ALL_SERIES = "fallback_", "all_series"  # as series and evaluation name them (not imported: Spark)
METRICS = ("mase", "smape", "mae", "rmse")  # lower is better for each
# Scores this close, relative to the larger, are equal: a fit's floating-point noise (warm starts
# moved MASE by 5e-8) is no series forecast better, which the sign test would count
SAME_SCORE = 1e-6
LARGEST_SHOWN = 5  # the series whose score changed most, named
EXACT_UP_TO = 1000  # series in a sign test summed exactly
# the settings whose difference makes the two sides' held-out periods others: their scores do not compare
SAME_PERIODS = ("forecast.horizon", "forecast.frequency")
SETTINGS_SHOWN = 8  # of the settings in which the two evaluations' job runs differ
SERVER_CHECK_SECONDS = 5  # a tracking server's answer, before its runs' settings are read (else left out)


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a candidate's scores in an evaluation table, by series id."""
    path: str
    candidate: str
    run_date: str
    scores: pd.Series
    keys: tuple[str, ...] = ()  # the table's key columns, which the ids join in order
    job_run_id: str | None = None  # the evaluation's job run (its MLflow parent run), where the rows name one


@dataclass(frozen=True)
class Comparison:
    first: Side
    second: Side
    metric: str
    paired: pd.DataFrame  # per series scored on both sides: first, second, change (second - first)
    only_first: list[str]
    only_second: list[str]
    undefined: int  # series on both sides whose metric is undefined on one (MASE after a flat history)

    @property
    def differs(self) -> pd.Series:
        """Which paired series' scores differ by more than SAME_SCORE of the larger."""
        scale = self.paired[["first", "second"]].abs().max(axis=1)
        return self.paired["change"].abs() > SAME_SCORE * scale

    @property
    def better(self) -> int:
        return int((self.differs & (self.paired["change"] < 0)).sum())

    @property
    def worse(self) -> int:
        return int((self.differs & (self.paired["change"] > 0)).sum())


def read_side(path: str, candidate: str, metric: str, fmt: str, run_date: str | None = None) -> Side:
    """``candidate``'s ``metric`` per series in the evaluation table at ``path`` (an output
    folder, or the table itself), of ``run_date`` or the table's latest; LookupError where
    there is none."""
    from deltalake.exceptions import TableNotFoundError

    folder = Path(path)
    table = folder / tables.EVALUATION if (folder / tables.EVALUATION).is_dir() else folder
    try:
        rows = table_reads.read_table(table, fmt=fmt)
    except (TableNotFoundError, FileNotFoundError):
        raise LookupError(f"no {fmt} evaluation table at {table} (an output folder, or its evaluation table; "
                          "for parquet output, give --set output.format=parquet)") from None
    if "candidate" not in rows or rows.empty:
        raise LookupError(f"{table} is no evaluation table with rows (jobs/evaluate_forecast.py writes one)")
    dates = sorted(rows["run_date"].astype(str).unique())
    date = run_date or dates[-1]
    if date not in dates:
        raise LookupError(f"{table} has no evaluation of run date {date}; it has {', '.join(dates)}")
    rows = rows[rows["run_date"].astype(str) == date]
    chosen = rows[rows["selected"]] if candidate == SELECTION else rows[rows["candidate"] == candidate]
    if chosen.empty:
        known = sorted(rows["candidate"].unique())
        raise LookupError(f"{table} has no candidate {candidate!r} on {date}: it has {SELECTION}, {', '.join(known)}")
    keys = tables.key_columns_of(rows.columns)
    ids = [series_identity.series_id(dict(zip(keys, values))) for values in chosen[keys].itertuples(index=False)]
    fallbacks = int(chosen["candidate"].str.startswith(FALLBACK_PREFIX).sum()) if candidate == SELECTION else 0
    # named as the evaluation's summary names it, whose selection row leaves the fallbacks out
    named = f"{SELECTION} and {fallbacks} fallback{'s' if fallbacks != 1 else ''} (its {ALL_SERIES})" if fallbacks \
        else candidate
    runs = chosen["job_run_id"].dropna().unique() if "job_run_id" in chosen else []
    return Side(str(table), named, date, pd.Series(chosen[metric].to_numpy(dtype="float64"), index=ids),
                tuple(keys), runs[0] if len(runs) == 1 else None)


def compare(first: Side, second: Side, metric: str) -> Comparison:
    """The two sides' scores per series; LookupError where their tables are keyed by other
    columns (their series ids would pair unrelated series, or none)."""
    if first.keys != second.keys:
        raise LookupError(f"{first.path} is keyed by {', '.join(first.keys)}, {second.path} by "
                          f"{', '.join(second.keys)}: their series cannot be paired (evaluations of one data set "
                          "compare)")
    both = first.scores.index.intersection(second.scores.index)
    paired = pd.DataFrame({"first": first.scores[both], "second": second.scores[both]})
    defined = paired.notna().all(axis=1)
    paired = paired[defined].assign(change=lambda frame: frame["second"] - frame["first"])
    return Comparison(first, second, metric, paired.sort_index(),
                      sorted(first.scores.index.difference(both)), sorted(second.scores.index.difference(both)),
                      int((~defined).sum()))


def sign_test(better: int, worse: int) -> float:
    """The two-sided p-value of ``better`` against ``worse`` series where either was as
    likely (a binomial sign test, the series with equal scores left out): exact up to
    EXACT_UP_TO series, the normal approximation with a continuity correction beyond, where
    the exact sum of big integers takes seconds to minutes and the two agree to 0.001."""
    count = better + worse
    if not count:
        return 1.0
    if count > EXACT_UP_TO:
        z = max(abs(better - worse) - 1, 0) / math.sqrt(count)
        return min(1.0, math.erfc(z / math.sqrt(2)))
    tail = sum(math.comb(count, k) for k in range(min(better, worse) + 1)) / 2 ** count
    return min(1.0, 2 * tail)


def job_runs(first: Side, second: Side, tracking_uri: str) -> tuple | str | None:
    """The two sides' job runs (MLflow parent runs), for their settings and how far their
    inputs reached; where the tracking store cannot tell, why, for the comparison's line
    (whose tables stand without them); None where the tables name none (older code's)."""
    if not (first.job_run_id and second.job_run_id):
        return None
    from forecasting import redaction, server_check, tracking

    tracking_uri = tracking.resolve_uri(tracking_uri)  # a bare folder as file: (MLflow would create it)
    uri = redaction.redact_url_password(tracking_uri)
    where = " (the evaluations' own: their --config, or --set tracking.uri=...)"
    try:
        missing = tracking.missing_store(tracking_uri)
        if missing:
            return f"no MLflow store at {missing}{where}"
        server_check.check_server(tracking_uri, SERVER_CHECK_SECONDS)
        client = tracking.client(tracking_uri)
        return client.get_run(first.job_run_id), client.get_run(second.job_run_id)
    except Exception as err:  # another store, a server down: the tables alone
        logger.info("the evaluations' job runs not read from %s (%s): their settings are not compared", uri, err)
        return f"their job runs not read from {uri} ({redaction.first_line(err)}){where}"


def _settings_lines(runs: tuple) -> tuple[list[str], str | None]:
    """The settings (params) in which the two job runs differ, from the first's to the second's,
    and where the two held out the same periods (one horizon and frequency, and inputs that
    reached the same time), how far the inputs reached; else None."""
    from forecasting.replaced_runs import param_changes
    from forecasting.tracking import INPUT_END_TAG

    before, now = (run.data.params for run in runs)
    changed = param_changes(before, now, ("output.", "tracking."), nulls=False,
                            only=("settings only the second run has", "settings only the first run has"))
    shown = "; ".join(changed[:SETTINGS_SHOWN]) + (f"; ... ({len(changed) - SETTINGS_SHOWN} more)"
                                                   if len(changed) > SETTINGS_SHOWN else "")
    lines = [f"  settings        {shown} (the job runs' params)" if changed else
             "  settings        the same (the job runs' params)"]
    unlike = [key for key in SAME_PERIODS if before.get(key) != now.get(key)]
    if unlike:
        lines.append(f"  not comparable  {' and '.join(unlike)} differ{'s' if len(unlike) == 1 else ''}: each side "
                     "held out other periods, so a series' two scores are of other periods; compare evaluations "
                     "of one horizon and frequency")
    ends = [run.data.tags.get(INPUT_END_TAG) for run in runs]
    return lines, ends[0] if not unlike and ends[0] is not None and ends[0] == ends[1] else None


def format_comparison(comparison: Comparison, runs: tuple | None = None) -> str:
    """The comparison as text; with the two sides' job runs (``job_runs``), the settings in
    which they differ too."""
    first, second, paired = comparison.first, comparison.second, comparison.paired
    name = DISPLAY_NAMES[comparison.metric]
    lines = [f"{name} per series on held-out data, from {first.candidate} in {first.path} ({first.run_date}) "
             f"to {second.candidate} in {second.path} ({second.run_date}); lower is better"]
    if isinstance(runs, str):  # the store asked holds neither side's job run: said, not left out silently
        settings, input_end = [f"  settings        not compared: {runs}"], None
    else:
        settings, input_end = _settings_lines(runs) if runs else ([], None)
    lines += settings
    if first.run_date != second.run_date and input_end:  # a run date past the data's end on one side, say
        lines.append(f"  run dates differ ({first.run_date}, {second.run_date}), but both inputs reached "
                     f"{input_end}: the same periods were held out")
    elif first.run_date != second.run_date:  # each held out its own last periods: other periods, other data
        lines.append(f"  run dates differ ({first.run_date}, {second.run_date}): each side held out the periods "
                     "before its own, so a series' two scores are of other periods (or other data altogether); "
                     "configs compare evaluated at one --run-date, horizon and frequency")
    if paired.empty:
        lines.append("  no series scored on both sides")
    else:
        lines += _paired_lines(comparison, name)
    for side, only in ((first, comparison.only_first), (second, comparison.only_second)):
        if only:
            shown = ", ".join(only[:LARGEST_SHOWN]) + (f", ... ({len(only) - LARGEST_SHOWN} more)"
                                                       if len(only) > LARGEST_SHOWN else "")
            lines.append(f"  only scored by {side.candidate} in {side.path}: {len(only)} series ({shown}): not compared")
    return "\n".join(lines)


def _verdict(p: float, differing: int) -> str:
    """What a sign test's ``p`` says of a split of ``differing`` series: where so few
    differ that no split could reach one in twenty (5 or fewer), that first; a p under 0.2
    is weak evidence, not none."""
    if not differing:
        return "no series scored otherwise on the two sides"
    if p < 0.05:
        return "a difference that chance alone gives less than one time in twenty"
    chance = f"chance alone gives as uneven a split {p:.0%} of the time"
    if sign_test(differing, 0) >= 0.05:
        return (f"{chance}, and with {differing} series that differ no split could show a difference at one in "
                "twenty: evaluate more series")
    return f"{'weak evidence' if p < 0.2 else 'no evidence'} of a difference: {chance}"


def _change_text(first: float, second: float) -> str:
    """Two scores as a change, with digits enough to tell them apart (0.5191 -> 0.5188)."""
    digits = 3
    while f"{first:.{digits}f}" == f"{second:.{digits}f}" and digits < 9:
        digits += 1
    return f"{first:.{digits}f} -> {second:.{digits}f}"


def _paired_lines(comparison: Comparison, name: str) -> list[str]:
    """The comparison's lines on the series scored on both sides."""
    paired = comparison.paired
    equal = len(paired) - comparison.better - comparison.worse
    p = sign_test(comparison.better, comparison.worse)
    lines = [
        f"  series          {len(paired)} scored on both",
        f"  mean            {paired['first'].mean():.3f} -> {paired['second'].mean():.3f} "
        f"({paired['second'].mean() - paired['first'].mean():+.3f})",
        f"  median change   {paired['change'].median():+.3f}",
        f"  better / worse  {comparison.better} better, {comparison.worse} worse, {equal} equal "
        f"(sign test p {'< 0.001' if p < 0.001 else f'= {p:.3f}'}: "
        f"{_verdict(p, comparison.better + comparison.worse)})",
    ]
    largest = paired[comparison.differs]
    largest = largest.reindex(largest["change"].abs().sort_values(ascending=False).index).head(LARGEST_SHOWN)
    if len(largest):
        lines.append("  largest changes " + ", ".join(f"{series} {_change_text(row['first'], row['second'])}"
                                                      for series, row in largest.iterrows()))
    if comparison.undefined:
        lines.append(f"  left out        {comparison.undefined} series whose {name} is undefined on a side "
                     "(a flat history before the held-out periods)")
    return lines
