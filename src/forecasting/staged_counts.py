"""The staged results counted for a run's summary in one pass: the series per status
and per model, and how many meet each condition worth a line of the summary (a cleaning
note in their data_notes, mostly), a few of them named (a second query, where any is met);
and the kinds of reason of those not ok. run_report says what these counts mean.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from forecasting import run_overview, series_identity, spark_training, validation
from forecasting.closed_times import CLOSED_TIMES_NOTE
from forecasting.cleaning import MERGED_NOTE, MISSING_VALUES_NOTE
from forecasting.gap_filling import GAPS_KEPT_NOTE, SPARSE_NOTE, ZEROS_INTO_LEVEL_NOTE
from forecasting.grid_alignment import LATE_TIMES_NOTE, PAST_INPUT_NOTE, SHIFTED_NOTE
from forecasting.cleaning_notes import (BREAK_NOTE, CLOCK_CHANGE_NOTE, FLAT_END_NOTE, NEGATIVE_KEPT_NOTE,
                                        NO_WEEKDAY_NOTE, OTHER_VALUES_NOTE, OUTLIER_NOTE, REPEATED_NOTE,
                                        RUNNING_TOTAL_NOTE, SAME_VALUE_NOTE, SEVERAL_SERIES_NOTE, STRAY_NOTE,
                                        ZERO_RUN_NOTE)
from forecasting.run_date_cut import AHEAD_NOTE, OPEN_KEPT_NOTE, STALE_NOTE, STALE_SKIPPED, STOPPED_NOTE
from forecasting.forecast_notes import (FLOOR_RAISED_NOTE, NEVER_HELD_NOTE, PROPHET_FAILED_NOTE, REPEATED_ODDITY_NOTE,
                                        UNSEEN_HOLIDAY_NOTE, ZERO_FORECAST_NOTE)
from forecasting.realized import FAR_OFF_MASE
from forecasting.job_summary import named_keys
from forecasting.level_shifts import LEVEL_SHIFT_NOTE
from forecasting.series import OK
from forecasting.spikes import SPIKE_NOTE
from forecasting.zero_stretches import ZERO_STRETCH_NOTE

# cleaning's note, among a series' data_notes, that its data stop well before the run date
STALE_IN_NOTES = rf"(?:^|; )({re.escape(STALE_NOTE)}[^;]*)"


@dataclass
class StagedCounts:
    """What the job's end says of the staged results: the series per status, the picture
    of them its overview draws (per status, model and CV MASE bin), and how many series
    meet each of counted_conditions()."""
    statuses: dict[str, int]
    overview: run_overview.Overview
    untracked: int  # no child run: tracking failed for them
    models: int  # a model stored (modelled, or forecast by the fallback)
    stale: int
    sparse: int
    gappy: int
    outlying: int
    spiky: int  # modelled, with values far above those around them (cleaning.spikes)
    flat_ends: int  # modelled, ending in one value repeated far longer than any before: a stuck sensor?
    strays: int  # first rows long before the rest, left out: a mistyped year?
    late_times: int  # every time late in a UTC day: local midnights ahead of UTC, a day early?
    mostly_floored: int  # modelled, half or more of the forecast raised to forecast.floor
    running_totals: int
    merged: int
    merged_not_ok: int
    shifted: int
    open_kept: int
    repeated: int
    several_series: int
    other_duplicates: int
    same_value_duplicates: int
    no_weekday: int
    closed_times: int
    breaks: int
    level_shifts: int  # a change of level inside the history: a split, a new unit?
    zero_stretches: int  # runs of zeros inside a history that has nearly none: stock-outs, outages?
    clock_changes: int
    ahead: int
    negative_kept: int
    zero_runs: int
    zero_forecasts: int
    fail_series_named: int  # the series reliability.fail_series names, failed or skipped before it could be
    retried: int  # trained in a retry of their task
    missing_values: int  # target values missing, dropped or filled
    repeated_oddities: int  # a cycle repeated with an outage's 0 or a one-off spike in it
    unseen_holidays: int  # forecast over holidays that stood out in the history and that no fold held
    never_held_holidays: int  # forecast over holidays the history never held: no effect learnt
    past_input: int  # a last period the input stops inside, left out as a part
    far_off_cv: int  # modelled with a CV MASE over FAR_OFF_MASE
    prophet_failed: int  # modelled by another candidate, Prophet having failed in every tuning evaluation
    stopped: int  # rows that stopped long before the run date, zeros filled up to it
    zeros_into_levels: int  # zeros filled (gaps: zero) into values that never come near 0: prices?
    examples: dict[str, list[str]] = field(default_factory=dict)  # a few series' ids per condition met


def _noted(note: str):
    return F.col("data_notes").contains(note)


def forecast_stale() -> Column:
    """A series forecast from data that stop well before the run date: noted so, and not
    skipped for it (cleaning.stale_after), whose notes say so too."""
    skipped = F.coalesce(F.col("reason"), F.lit("")).startswith(STALE_SKIPPED)
    return F.col("data_notes").rlike(STALE_IN_NOTES) & ~skipped


def _share_noted(note: str, parts: int) -> Column:
    """Whether a series' data_notes say "N of M {note}" with N a ``parts``-th of M or more."""
    some, whole = (F.regexp_extract("data_notes", f"([0-9]+) of ([0-9]+) {note}", i) for i in (1, 2))
    return (some != "") & (parts * some.cast("long") >= whole.cast("long"))


def _gappy() -> Column:
    """A series a fifth or more of whose span's periods have no row, left out (cleaning.gaps:
    keep); not days of the week without rows, nor rows regularly several periods apart
    (monthly totals read as daily), which lines of their own ask about."""
    return _share_noted(GAPS_KEPT_NOTE, 5) & ~_noted(NO_WEEKDAY_NOTE) & ~_noted(SPARSE_NOTE)


def _mostly_floored() -> Column:
    """Half or more of a series' forecast points raised to the floor (a temperature falling
    towards 0 under forecast.floor auto: a flat 0 with an interval of no width)."""
    return _share_noted(FLOOR_RAISED_NOTE, 2)


def counted_conditions() -> dict[str, Column]:
    """StagedCounts' counts of series, each by the condition a series' staged row meets:
    its data_notes holding a cleaning note, mostly. A function, as a column needs Spark."""
    return {
        "untracked": F.col("reason").contains(spark_training.TRACKING_FAILED),
        "models": F.col("model_json").isNotNull(),
        "stale": forecast_stale(),  # data stop well before the run date
        "sparse": _noted(SPARSE_NOTE),  # rows several periods apart
        "gappy": _gappy(),  # a fifth of the periods or more without a row, left out
        "outlying": (F.col("status") == OK) & _noted(OUTLIER_NOTE),  # modelled, with values far outside the rest
        "spiky": (F.col("status") == OK) & _noted(SPIKE_NOTE),  # modelled, with a viral day or a glitch in
        "running_totals": _noted(RUNNING_TOTAL_NOTE),  # values that never fall: a meter's register?
        "merged": _noted(MERGED_NOTE),  # several rows a period merged
        "merged_not_ok": (F.col("status") != OK) & _noted(MERGED_NOTE),  # of them, skipped or failed
        "shifted": _noted(SHIFTED_NOTE),  # every row moved to another date
        "open_kept": _noted(OPEN_KEPT_NOTE),  # a last period still open on the run date kept
        "past_input": _noted(PAST_INPUT_NOTE),  # a last period the input stops inside, left out
        "repeated": _noted(REPEATED_NOTE),  # rows repeated exactly and summed
        "several_series": _noted(SEVERAL_SERIES_NOTE),  # several series merged under one key
        "other_duplicates": _noted(OTHER_VALUES_NOTE),  # times given again with other values, merged
        "same_value_duplicates": _noted(SAME_VALUE_NOTE),  # scattered times given twice with one value, summed
        "no_weekday": _noted(NO_WEEKDAY_NOTE),  # no daily row on some days of the week
        "closed_times": _noted(CLOSED_TIMES_NOTE),  # times of the week without a row: nights, Sundays
        "breaks": _noted(BREAK_NOTE),  # last values far outside the recent range
        "level_shifts": _noted(LEVEL_SHIFT_NOTE),  # a change of level inside the history
        "zero_stretches": _noted(ZERO_STRETCH_NOTE),  # runs of zeros inside, where the rest has nearly none
        "ahead": _noted(AHEAD_NOTE),  # rows timed after the run's start, left out
        "negative_kept": _noted(NEGATIVE_KEPT_NOTE),  # a few negative values among positive ones
        "zero_runs": _noted(ZERO_RUN_NOTE),  # ending in zeros where the history has nearly none
        "flat_ends": (F.col("status") == OK) & _noted(FLAT_END_NOTE),  # modelled, ending in one value: stuck?
        "strays": _noted(STRAY_NOTE),  # first rows long before the rest, left out: a mistyped year?
        "late_times": _noted(LATE_TIMES_NOTE),  # every time late in a UTC day: local midnights, a day early?
        "mostly_floored": (F.col("status") == OK) & _mostly_floored(),  # a level falling to 0, held there
        "stopped": _noted(STOPPED_NOTE),  # rows that stopped, zeros filled up to the run date: delisted?
        "zeros_into_levels": _noted(ZEROS_INTO_LEVEL_NOTE),  # gaps: zero in a price or a level
        "clock_changes": _noted(CLOCK_CHANGE_NOTE),  # local times: the hour repeated as daylight saving time ends
        "zero_forecasts": (F.col("status") == OK) & _noted(ZERO_FORECAST_NOTE),  # nothing foreseen, something seen
        "fail_series_named": _noted(spark_training.FAIL_SERIES_NOTE),
        "retried": _noted(spark_training.RETRIED_NOTE),
        "missing_values": _noted(MISSING_VALUES_NOTE),  # null, NaN or infinite targets, dropped or filled
        "repeated_oddities": (F.col("status") == OK) & _noted(REPEATED_ODDITY_NOTE),  # an outage's 0 repeated
        "unseen_holidays": (F.col("status") == OK) & _noted(UNSEEN_HOLIDAY_NOTE),  # CV scores silent on them
        "never_held_holidays": (F.col("status") == OK) & _noted(NEVER_HELD_NOTE),  # forecast as usual days
        "prophet_failed": (F.col("status") == OK) & _noted(PROPHET_FAILED_NOTE),  # a baseline in its stead
        # modelled, yet cross-validation missed by over ten naive steps: a break, a unit slip, a model to look at
        "far_off_cv": (F.col("status") == OK) & (F.col("cv_mase") > FAR_OFF_MASE) & (F.col("cv_mase") < float("inf")),
    }


# conditions counted whose series the summary names otherwise (stale, far off), or never
NOT_NAMED = frozenset({"untracked", "models", "stale", "merged_not_ok", "fail_series_named", "far_off_cv"})


# a reason's kind: its words before a colon, semicolon, bracket or quoted value, a leading count
# left out ("no holidays known for country 'ZZ'" is one kind whatever the country)
REASON_KIND = r"^(?:[0-9]+ )?([^:;(\['\"]*)"
# a word that led into the value cut off, left out of the kind ("null key in ['store']" is "null key")
KIND_TRAILING_WORD = r"\s+(?:in|of|for|at|on|to|with|by|from)$"


def status_counts(staged: DataFrame, keys: list[str] = ()) -> StagedCounts:
    """StagedCounts of ``staged``, with a few series of each condition met named by their
    ``keys`` (no keys: none named)."""
    mase_bin = run_overview.mase_bin(F.col("cv_mase")).alias("mase_bin")
    conditions = counted_conditions()
    counted = staged.groupBy("status", "model", mase_bin).agg(
        F.count(F.lit(1)).alias("n"),
        F.count_if((F.col("status") == OK) & F.col("data_notes").isNotNull()).alias("noted"),
        *(F.count_if(condition).alias(name) for name, condition in conditions.items()))
    rows = counted.collect()
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row["status"]] = statuses.get(row["status"], 0) + row["n"]
    overview = run_overview.Overview({(row["status"], row["model"], row["mase_bin"]): row["n"] for row in rows},
                                     noted=sum(row["noted"] for row in rows))
    totals = {name: sum(row[name] for row in rows) for name in conditions}
    met = {name: condition for name, condition in conditions.items() if totals[name] and name not in NOT_NAMED}
    examples = _examples(staged, keys, met, mase_bin) if keys and met else {}
    return StagedCounts(statuses, overview, **totals, examples=examples)


def _examples(staged: DataFrame, keys: list[str], conditions: dict[str, Column], mase_bin: Column) -> dict[str, list]:
    """A few ids of the series meeting each of ``conditions``: the first and last by key of
    each status, model and CV MASE bin, bounded where a list of every one would not be.
    Asked apart, of the conditions met alone: every condition's two bounds in the count's
    query, built through py4j a call at a time and compiled by a cold JVM, took the job's
    end a second or two."""
    named = named_keys(staged, keys)
    bounds = [bound(F.when(condition, named)).alias(f"_{bound.__name__}_{name}")
              for name, condition in conditions.items() for bound in (F.min, F.max)]
    rows = staged.groupBy("status", "model", mase_bin).agg(*bounds).collect()
    named_by = {name: sorted({series_identity.series_id(row[f"_{bound}_{name}"].asDict()) for row in rows
                              for bound in ("min", "max") if row[f"_{bound}_{name}"] is not None})
                for name in conditions}
    return {name: ids[:validation.EXAMPLES] for name, ids in named_by.items() if ids}


def reason_kinds(staged: DataFrame) -> dict[str, list[tuple[str, int]]]:
    """Per status other than ok, how many series gave each kind of reason, most first: a
    reason's words before its first colon, semicolon, bracket or quote, without a leading
    count ("12 missing periods" is "missing periods"; "ValueError: ..." is "ValueError") or
    the word leading into what was cut ("null key in ['store']" is "null key")."""
    kind = F.regexp_replace(F.trim(F.regexp_extract(F.coalesce(F.col("reason"), F.lit("no reason")), REASON_KIND, 1)),
                            KIND_TRAILING_WORD, "")
    rows = staged.where(F.col("status") != OK).groupBy("status", kind.alias("kind")).count().collect()
    kinds: dict[str, list[tuple[str, int]]] = {}
    for row in sorted(rows, key=lambda row: (-row["count"], row["kind"])):
        kinds.setdefault(row["status"], []).append((row["kind"] or "no reason", row["count"]))
    return kinds
