"""Evaluation mode: score every candidate's forecast of held-out data, and report it.

The pipeline holds out the last ``forecast.horizon`` periods of every series and
trains on the rest; each series' result carries its candidates' scores on the
held-out rows. This module turns them into the ``evaluation`` table, aggregate
metrics on the parent run and a markdown report with plots.
"""
from __future__ import annotations

import logging
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from forecasting import series_identity, tracking
from forecasting.series import FALLBACK_PREFIX, OK

logger = logging.getLogger(__name__)

HOLDOUT_METRICS = ("mase", "smape", "mae", "rmse", "coverage", "interval_width")
SELECTION = "selection"  # the per-series winner, over the series the candidates were scored on
ALL_SERIES = "all_series"  # what the job forecast for every series: the selection, else the fallback
SCORES_TYPE = T.MapType(T.StringType(), T.MapType(T.StringType(), T.DoubleType()))
EXTREMES = 3  # best and worst series plotted in the report
# the summary's means of MAE, RMSE and interval width mix the series' own units
POOLED_UNITS_NOTE = ("mae, rmse and interval_width are means of each series' own units, which the largest series "
                     "dominate; mase and smape compare across series")
WINS_NOTE = ("wins: the series whose cross-validation chose that candidate (a fallback_ row's: those that fell back "
             "to it), not those it did best on held out")


def selection_verdict(summary: pd.DataFrame, candidates: list[str], metric: str) -> tuple[bool, str] | None:
    """Whether the selection's mean MASE on the held-out horizon beat every candidate's
    alone (``summary_by_candidate``'s rows), and the line that says so; a loss names the
    candidates that did better and what to try. None without a selection or a rival."""
    mase = summary.set_index("candidate")["mase"].dropna()
    rivals = mase[mase.index.isin(candidates)]
    if SELECTION not in mase or len(rivals) < 2:  # one candidate is the selection itself
        return None
    # a candidate scored on fewer series (Prophet failed in every evaluation of some) is no like-for-like rival
    series = summary.set_index("candidate")["series"] if "series" in summary else pd.Series(dtype="Int64")
    fewer = [name for name in rivals.index if SELECTION in series and series.get(name) != series[SELECTION]]
    if len(fewer) == len(rivals):
        return None
    beat, line = _verdict(mase[SELECTION], rivals.drop(fewer), metric)
    return beat, line + "".join(f"; {name} not compared: scored on {series[name]} of the selection's "
                                f"{series[SELECTION]} series" for name in fewer)


def _verdict(chosen: float, rivals: pd.Series, metric: str) -> tuple[bool, str]:
    """selection_verdict's, of the selection's mean MASE ``chosen`` against each of ``rivals``'."""
    best = rivals.idxmin()
    tie = math.isclose(chosen, rivals[best], rel_tol=1e-9)  # means summed in another order differ in the last bit
    if chosen < rivals[best] and not tie:
        return True, (f"the selection's MASE on the held-out horizon, {chosen:.3f}, beat every candidate alone "
                      f"(the best, {best}: {rivals[best]:.3f})")
    if tie:  # it chose that candidate for every series, or as well as it
        line = (f"the selection's MASE on the held-out horizon, {chosen:.3f}, matched the best candidate alone, "
                f"{best} ({rivals[best]:.3f})")
        others = rivals.drop(best)
        beaten = ((others > chosen) & ~others.apply(lambda value: math.isclose(value, chosen, rel_tol=1e-9))).all()
        return True, line + (", and beat the others" if beaten else "")
    better = ", ".join(f"{name} {value:.3f}" for name, value in rivals[rivals < chosen].sort_values().items())
    by_mase = "" if metric == "mase" else "selection.metric mase, "
    return False, (f"the selection's MASE on the held-out horizon, {chosen:.3f}, is worse than a candidate alone "
                   f"({better}): cross-validation's ranking by {metric} did not carry over to the held-out periods. "
                   f"Worth a try: {by_mase}more cross_validation.folds, or selection.candidates [{best}] alone")


COVERAGE_SHORTFALL = 0.15  # held-out coverage this far under the nominal width is worth a warning


def coverage_warning(summary: pd.DataFrame, interval_width: float, candidates: list[str] = ()) -> str | None:
    """What to say where the selection's intervals held far fewer of the held-out values
    than their nominal width (``summary_by_candidate``'s rows): where candidates alone held
    theirs, the others' intervals are too narrow for these series (tuned Prophet's, say:
    43% where seasonal naive's held 90%); where none did, a held-out stretch unlike the
    history (a holiday no fold saw). Only the ``candidates`` are weighed (not Prophet scored
    as the ensemble's part alone)."""
    coverage = summary.set_index("candidate")["coverage"].dropna()
    if SELECTION not in coverage or coverage[SELECTION] >= interval_width - COVERAGE_SHORTFALL:
        return None
    said = (f"the selection's intervals held {coverage[SELECTION]:.0%} of the held-out values, against a nominal "
            f"{interval_width:.0%}")
    alone = coverage[coverage.index.isin(candidates)]
    enough = interval_width - COVERAGE_SHORTFALL
    held, short = alone[alone >= enough], alone[alone < enough]
    if "wins" in summary:  # the selection's intervals are its winners': one that won no series is not the cause
        wins = summary.set_index("candidate")["wins"].fillna(0)
        short = short[[wins.get(name, 0) > 0 for name in short.index]]
    if len(held) and len(short):
        listed = ", ".join(f"{name} {value:.0%}" for name, value in short.sort_values().items())
        kept = ", ".join(f"{name} {value:.0%}" for name, value in held.sort_values(ascending=False).items())
        narrowest = short.idxmin()
        # the ensemble averages Prophet with seasonal naive, whose interval is the wider
        instead = ", or the ensemble in its place" if narrowest == "prophet" and "ensemble" not in candidates else ""
        return (f"{said}: the intervals of {listed} are too narrow for these series, where those of {kept} held. "
                f"Worth a try: selection.candidates without {narrowest}{instead}; the report's coverage section "
                "shows which series")
    if len(held):  # every winner's held over all series: not on those it won
        kept = ", ".join(f"{name} {value:.0%}" for name, value in held.sort_values(ascending=False).items())
        return (f"{said}, though the intervals of {kept} held theirs over every series: the models chosen fell short "
                "on the series they were chosen for; the report's coverage section shows which series")
    return (f"{said}: the held-out periods were unlike what the folds scored (a holiday or a break none of them "
            "held?); the report's coverage section shows which series")


def evaluation_table(staged: DataFrame, key_columns: list[str], run_date: str, job_run_id: str) -> DataFrame:
    """One row per evaluated series and candidate; ``selected`` marks what the job
    forecast: the winner, or for a skipped or failed series its fallback."""
    exploded = staged.where(F.col("holdout_scores").isNotNull()).select(
        *key_columns, "model", "child_run_id",
        F.explode(F.from_json("holdout_scores", SCORES_TYPE)).alias("candidate", "scores"),
    )
    fallback = F.concat(F.lit(FALLBACK_PREFIX), F.col("model"))
    return exploded.select(
        *key_columns,
        "candidate",
        F.col("candidate").isin(F.col("model"), fallback).alias("selected"),
        *[_defined(F.col("scores").getItem(name)).alias(name) for name in HOLDOUT_METRICS],
        F.lit(run_date).cast(T.DateType()).alias("run_date"),
        F.lit(job_run_id).alias("job_run_id"),
        "child_run_id",
    )


def _defined(score):
    """A score, or null where it is undefined: the MASE of a forecast after a flat
    history (every error infinitely worse than none) would make every mean infinite."""
    return F.when(~F.isnan(score) & (F.abs(score) != F.lit(float("inf"))), score)


def summary_by_candidate(evaluation: DataFrame, candidates: list[str]) -> pd.DataFrame:
    """Mean of every metric per candidate, for the selection (over the same series
    as the candidates) and, where some series had only a fallback forecast, for
    every series as the job forecast them; small, so collected. Wins are counted for
    ``candidates`` and fallbacks, not for Prophet scored only as the ensemble's part."""
    means = [F.mean(name).alias(name) for name in HOLDOUT_METRICS]
    per_candidate = evaluation.groupBy("candidate").agg(F.count(F.lit(1)).alias("series"), *means)
    fallback = F.col("candidate").startswith(FALLBACK_PREFIX)
    selected = evaluation.where("selected")
    rows = per_candidate.unionByName(
        selected.where(~fallback).agg(F.count(F.lit(1)).alias("series"), *means)
        .select(F.lit(SELECTION).alias("candidate"), "*")
    )
    if not selected.where(fallback).isEmpty():
        rows = rows.unionByName(
            selected.agg(F.count(F.lit(1)).alias("series"), *means).select(F.lit(ALL_SERIES).alias("candidate"), "*")
        )
    wins = selected.groupBy("candidate").agg(F.count(F.lit(1)).alias("wins"))
    table = rows.join(wins, "candidate", how="left").toPandas()
    # a candidate that won nothing has 0 wins; the aggregate rows and a non-candidate have none to count
    competed = table["candidate"].isin(candidates) | table["candidate"].str.startswith(FALLBACK_PREFIX)
    table["wins"] = table["wins"].fillna(0).astype("Int64").where(competed)
    # the candidates in the config's order (weekly_naive and the ensemble too), then the others
    order = {name: i for i, name in enumerate([ALL_SERIES, SELECTION, *candidates])}
    table["_order"] = table["candidate"].map(order).fillna(len(order))
    return table.sort_values(["_order", "candidate"]).drop(columns="_order").reset_index(drop=True)


def parent_metrics(summary: pd.DataFrame) -> dict[str, float]:
    return {
        f"eval_{metric}_{row.candidate}": float(getattr(row, metric))
        for row in summary.itertuples()
        for metric in HOLDOUT_METRICS
        if pd.notna(getattr(row, metric))
    }


def log_report(
    context: tracking.RunContext, staged: DataFrame, evaluation: DataFrame, summary: pd.DataFrame,
    key_columns: list[str], interval_width: float,
) -> dict[tuple[str, bool], int]:
    """Aggregate metrics and a markdown report with plots on the parent run; the series
    by (status, whether they have held-out scores)."""
    tracker = tracking.client(context.tracking_uri)
    tracker.log_batch(context.parent_run_id, metrics=_metrics(parent_metrics(summary)))
    scores = evaluation.select("candidate", "selected", "mase", "coverage").toPandas()
    mase = scores[["candidate", "selected", "mase"]]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        _coverage_figure(scores, interval_width).savefig(folder / "coverage.png")
        _mase_figure(mase).savefig(folder / "mase_distribution.png")

        # collected as rows: a key column's name need not be a Python name, and a time
        # key goes back into Spark as it came out
        ranked = evaluation.where("selected and mase is not null").select(*key_columns, "mase", "candidate")
        extremes = _best_and_worst(ranked.orderBy("mase").limit(EXTREMES).collect(),
                                   ranked.orderBy(F.desc("mase")).limit(EXTREMES).collect(), key_columns)
        plots = {}
        for label, rows in extremes.items():
            for i, row in enumerate(rows):
                keys = {k: row[k] for k in key_columns}
                name = f"{label}_{i + 1}.png"
                _series_figure(staged, keys, row["mase"], row["candidate"]).savefig(folder / name)
                plots.setdefault(label, []).append((series_identity.series_id(keys), row["mase"], name,
                                                    row["candidate"]))
        scored = staged.groupBy("status", F.col("holdout_scores").isNotNull().alias("scored")).count().collect()
        counts = {(r["status"], r["scored"]): r["count"] for r in scored}
        (folder / "report.md").write_text(_markdown(summary, plots, interval_width, counts))
        tracker.log_artifacts(context.parent_run_id, str(folder), "evaluation")
    logger.info("evaluation report logged to run %s under evaluation/", context.parent_run_id)
    return counts


def _best_and_worst(best: list, worst: list, key_columns: list[str]) -> dict[str, list]:
    """The best and worst rows by MASE, each series once: with fewer than twice
    ``EXTREMES`` series, the better half are the best and the rest the worst."""
    key = lambda row: tuple(row[k] for k in key_columns)  # noqa: E731
    best_keys = {key(row) for row in best}
    rest = [row for row in reversed(worst) if key(row) not in best_keys]  # better first
    if len(best) + len(rest) < 2 * EXTREMES:
        ordered = best + rest
        half = (len(ordered) + 1) // 2
        best, worst = ordered[:half], ordered[half:][::-1]
    return {"best": best, "worst": worst}


def _series_figure(staged: DataFrame, keys: dict, mase: float, candidate: str = ""):
    """A series' recent values and held-out forecast; ``candidate`` the evaluation's
    (a fallback's: the series was not modelled, said in the title)."""
    from matplotlib.figure import Figure

    condition = F.lit(True)
    for column, value in keys.items():
        condition = condition & F.col(column).eqNullSafe(F.lit(value))  # a null key's series too
    row = staged.where(condition).select("recent", "forecast", "model").first()
    # a missing value or bound comes back as None: numbers as floats, NaN where missing
    recent = pd.DataFrame([r.asDict() for r in row["recent"]]).astype({"y": float})
    forecast = pd.DataFrame([p.asDict() for p in row["forecast"]]).astype(
        {"yhat": float, "yhat_lower": float, "yhat_upper": float}
    )
    figure = Figure(figsize=(9, 3.2), dpi=100)
    axes = figure.subplots()
    axes.plot(recent["ds"], recent["y"], color="black", linewidth=0.8, label="actual")
    axes.plot(forecast["ds"], forecast["yhat"], color="tab:blue", label=f"forecast ({row['model']})")
    axes.fill_between(forecast["ds"], forecast["yhat_lower"], forecast["yhat_upper"], color="tab:blue", alpha=0.2)
    axes.set_title(f"{series_identity.series_id(keys)}: MASE {mase:.2f}{_not_modelled(candidate)}",
                   parse_math=False)  # a key's $ is text
    axes.legend(loc="upper left")
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def _mase_figure(mase: pd.DataFrame):
    """Each candidate's held-out MASE per series as a histogram's outline on shared bins, in
    the colour the run's overview gives that model (a fallback's dashed), and the series as
    the job forecast them in black, thicker; counts of series are whole numbers. Outlines, not
    see-through bars: seven of those overlapping made colours no legend named."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from forecasting.run_overview import MODEL_COLOURS, SPARE_COLOURS

    figure = Figure(figsize=(9, 4), dpi=100)
    axes = figure.subplots()
    clipped = mase.assign(mase=mase["mase"].clip(upper=mase["mase"].quantile(0.98)))
    values = clipped["mase"].dropna()
    bins = np.histogram_bin_edges(values, bins=min(40, max(len(values) // 3, 5))) if len(values) else 10
    spare = iter(SPARE_COLOURS * len(mase))
    for candidate, group in clipped.groupby("candidate"):
        model = candidate.removeprefix(FALLBACK_PREFIX)  # a fallback's: its model's colour, dashed
        axes.hist(group["mase"].dropna(), bins=bins, histtype="step", linewidth=1.5, label=candidate,
                  color=MODEL_COLOURS.get(model) or next(spare), linestyle="--" if model != candidate else "-")
    # named as the evaluation's table names these rows: its all_series where some fell back
    fell_back = clipped.loc[clipped["selected"], "candidate"].str.startswith(FALLBACK_PREFIX).any()
    axes.hist(clipped.loc[clipped["selected"], "mase"].dropna(), bins=bins, histtype="step", color="black",
              linewidth=2.5, label=f"{ALL_SERIES if fell_back else SELECTION} (as forecast)")
    axes.set_title("Held-out MASE per series: each candidate alone, and what the job forecast")
    axes.set_xlabel("MASE on the held-out horizon (top 2% clipped)")
    axes.set_ylabel("series")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend()
    figure.tight_layout()
    return figure


def _coverage_figure(scores: pd.DataFrame, interval_width: float):
    """Each model's interval coverage per series, against the nominal width: a box
    per model (the selection first), its mean marked."""
    from matplotlib.figure import Figure

    modelled = scores["selected"] & ~scores["candidate"].str.startswith(FALLBACK_PREFIX)
    groups = {SELECTION: scores.loc[modelled, "coverage"].dropna()}
    groups.update({name: group["coverage"].dropna() for name, group in scores.groupby("candidate")})
    groups = {name: values for name, values in groups.items() if len(values)}
    figure = Figure(figsize=(9, 3.5), dpi=100)
    axes = figure.subplots()
    axes.boxplot(list(groups.values()), showmeans=True, whis=(5, 95))
    axes.set_xticks(range(1, len(groups) + 1), list(groups), rotation=20)
    axes.axhline(interval_width, color="tab:red", linestyle="--", label=f"nominal {interval_width:.0%}")
    axes.set_ylabel("held-out values inside the interval")
    axes.set_ylim(-0.02, 1.02)
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure


def _markdown(summary: pd.DataFrame, plots: dict, interval_width: float, counts: dict[tuple[str, bool], int]) -> str:
    """``counts``: series by (status, whether held-out scores exist)."""
    total = sum(counts.values())
    modelled = counts.get((OK, True), 0)
    fallback = sum(n for (status, scored), n in counts.items() if scored and status != OK)
    unscored = total - modelled - fallback
    lines = [
        "# Forecast evaluation",
        "",
        f"{total} series; the last forecast horizon of each was held out and forecast from the rest.",
        f"{modelled} were modelled, {fallback} skipped or failed and scored with their fallback forecast "
        f"(`{FALLBACK_PREFIX}<name>` below; `{ALL_SERIES}` is the selection with them), "
        f"{unscored} had no forecast to score.",
        f"Nominal interval: {interval_width:.0%}.",
        "",
        "| model | series | wins | MASE | sMAPE | MAE | RMSE | coverage | interval width |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary.itertuples():
        # a mean with nothing to average (no interval: under 5 errors to size one) is shown as none, not nan
        shown = {name: "-" if pd.isna(getattr(row, name)) else format(getattr(row, name), spec) for name, spec in (
            ("mase", ".3f"), ("smape", ".2f"), ("mae", ".4g"), ("rmse", ".4g"), ("coverage", ".1%"),
            ("interval_width", ".4g"))}
        lines.append(
            f"| {row.candidate} | {row.series} | {'' if pd.isna(row.wins) else row.wins} | {shown['mase']} "
            f"| {shown['smape']} | {shown['mae']} | {shown['rmse']} | {shown['coverage']} | {shown['interval_width']} |"
        )
    lines += ["", f"{WINS_NOTE[0].upper()}{WINS_NOTE[1:]}."]
    scored_only = summary.loc[summary["wins"].isna() & ~summary["candidate"].isin([SELECTION, ALL_SERIES]), "candidate"]
    if len(scored_only):
        lines += ["", f"No wins for {', '.join(scored_only)}: scored as the ensemble's part, not a candidate."]
    lines += ["", "![MASE distribution](mase_distribution.png)", "",
              "## Interval coverage", "", "Per series: boxes from the 25th to the 75th percentile, whiskers from the 5th to the 95th, means marked.", "",
              "![Interval coverage](coverage.png)", ""]
    for label, entries in plots.items():
        lines += [f"## {label.capitalize()} series (as forecast: the selected model, or a fallback's)", ""]
        for name, value, image, candidate in entries:
            lines += [f"![{name} MASE {value:.2f}]({image})", ""]
            if _not_modelled(candidate):  # a skipped series among the worst read as a model's score
                lines += [f"{name}{_not_modelled(candidate)}.", ""]
    return "\n".join(lines)


def _not_modelled(candidate: str) -> str:
    """What to add to a series' score where ``candidate`` is a fallback: it was not modelled."""
    if not candidate.startswith(FALLBACK_PREFIX):
        return ""
    return f" (not modelled: skipped or failed, scored with its {candidate.removeprefix(FALLBACK_PREFIX)} fallback)"


def _metrics(values: dict[str, float]):
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    return [Metric(key, value, now, 0) for key, value in values.items()]
