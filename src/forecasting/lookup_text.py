"""One series' lookup report (``lookup.series_report``) as the text that
``python -m forecasting series`` prints."""
from __future__ import annotations

import json
import math
import re
import shlex
from typing import TYPE_CHECKING

import pandas as pd

from forecasting import forecast_change, metrics, tables

if TYPE_CHECKING:
    from forecasting.lookup import SeriesReport


def format_series(report: SeriesReport, steps: int | None = None) -> str:
    """The series report as text; with ``steps``, only the forecast's first that many
    (a week of half-hours is 336 lines), the rest counted."""
    result = report.result
    history_end = _times_text(pd.Series([result.get("history_end")]))[0]
    # the series' first run date: no forecast before it to compare with, or to score
    earlier = any(day < str(result["run_date"]) for day in report.run_dates)
    first = "- (no earlier run date of this series)"
    rows = [
        ("status", result["status"]),
        ("reason", shown(result.get("reason"))),
        ("model", shown(result.get("model")) + (f" (was {report.previous_model[1]} on {report.previous_model[0]}: "
                                                 "a change of forecast may come from the switch)"
                                                 if report.previous_model else "")),
        ("run date", str(result["run_date"]) + _absent_since(report)),
        ("run dates", f"{len(report.run_dates)}: {dates_text(report.run_dates)} (--run-date to see another)"
         if len(report.run_dates) > 1 else "this one only"),
        ("history", f"{shown(result.get('history_length'))} values up to {history_end}"),
        ("cv MASE", _number(result.get("cv_mase"))),
        ("cv sMAPE", _number(result.get("cv_smape"))),
        ("candidates", _candidates(result.get("candidate_scores"), result.get("model"), report.ranked_by)),
        ("parameters", _parameters(result.get("best_params"), result.get("model"))),
        ("change", _change(result.get("forecast_change"), report.compared) if earlier else first),
        ("realized", _realized(result, report.compared) if earlier else first),
        *([("scored", _scored_later(report.scored_later))] if report.scored_later is not None else []),
        ("data notes", shown(result.get("data_notes"))),
        ("job run", shown(result.get("job_run_id"))),
        *([("replaced", f"earlier runs of this date: {', '.join(report.replaced_runs)} "
                        f"({tables.replaced_rows_note(report.output_format)})")] if report.replaced_runs else []),
        *([("changed", f"since the run replaced: {report.rerun_changes}")] if report.rerun_changes else []),
        *([("since", f"the run date before's run: {report.changes_since}")] if report.changes_since else []),
        ("child run", f"{shown(result.get('child_run_id'))} ({report.child_run_status or 'none'})"),
        *(("open" if i == 0 else "", line) for i, line in enumerate(report.child_run_where)),
    ]
    lines = [f"series {describe(report.keys)}", *(f"  {name:<11} {value}" for name, value in rows), ""]
    if report.mixed_writes:
        lines[1:1] = [f"  warning     {report.mixed_writes}"]
    if report.replaced_by:  # asked for with --job-run
        since = f" (its own rows replaced since by {', then '.join(report.replaced_by[1:])})" if len(
            report.replaced_by) > 1 else ""
        lines[1:1] = [f"  warning     the later run {report.replaced_by[0]}{since} of run date {result['run_date']} "
                      f"replaced these rows of job run {result.get('job_run_id')}: shown as it wrote them (the tables' "
                      "older version; without --job-run, the current rows)"]
    if report.forecast.empty:
        lines.append("no forecast")
    else:
        made = report.forecast_source
        if report.forecast_source == tables.SCORED:
            made = f"scored from the models of {report.forecast_model_run_date}"
        which = "forecast" if report.asked_run_date else "latest forecast"
        lines.append(f"{which}: run date {report.forecast_run_date} ({made}), {len(report.forecast)} steps")
        if not report.asked_run_date and report.forecast_run_date < str(result["run_date"]):
            # a later training gave none (skipped, failed without a fallback): the latest-forecast queries keep this one
            lines.append(f"  run date {result['run_date']} gave this series no forecast ({result['status']}, its reason "
                         "above): readers of the latest forecasts still get this older one")
        if report.forecast_runs:
            lines.append("  made by job run {}, from the model of child run {}".format(*report.forecast_runs))
            if _models_replaced(report):
                lines.append(f"  that model is no longer current: a rerun of {report.forecast_model_run_date} trained "
                             "the series again (the lines above are its), so score "
                             f"{report.forecast_run_date} again")
        times = _times_text(report.forecast["ds"])
        forecast = report.forecast.assign(ds=times)
        lines.append(forecast.head(steps).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        if steps is not None and len(forecast) > steps:
            lines.append(f"... {len(forecast) - steps} more steps, to {times.iloc[-1]} (--steps shows more)")
    return "\n".join(lines)


def _absent_since(report: SeriesReport) -> str:
    """Where a later training run date has no row for the series (it was not in that run's
    input: a product delisted, a key renamed), a word that these lines are older."""
    latest, own = report.latest_run_date, str(report.result["run_date"])
    if report.asked_run_date or not latest or latest <= own:
        return ""
    return (f" (the latest run date, {latest}, has no row for this series: it was not in that run's input; "
            "these lines are of its last run date)")


def _models_replaced(report: SeriesReport) -> bool:
    """Whether a scored forecast came from a model its date's training rerun has since replaced:
    the result row shown is that date's, now another child run's."""
    result = report.result
    return (report.forecast_source == tables.SCORED and str(result["run_date"]) == report.forecast_model_run_date
            and isinstance(result.get("child_run_id"), str) and report.forecast_runs[1] != result["child_run_id"])


def _times_text(values: pd.Series) -> pd.Series:
    """Times as the job wrote them (the tables hold UTC): dates alone when all are midnight."""
    stamps = pd.to_datetime(values, utc=True).dt.tz_convert(None)
    daily = (stamps.dropna() == stamps.dropna().dt.normalize()).all()
    return stamps.dt.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M").fillna("-")


def shown(value) -> str:
    """A value as the report prints it: "-" where it is missing."""
    missing = value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) or value == ""
    return "-" if missing else str(value)


def _number(value) -> str:
    return "-" if value is None or pd.isna(value) else f"{value:.3f}"


def _candidates(scores: str | None, chosen: str | None, metric: str) -> str:
    """series_results' candidate_scores (JSON) as each candidate's cross-validated score by
    ``metric``, the one the job chose by (or the one it fell back to where that was
    undefined for every candidate, metrics.ranking_metric), best first: why the model won.
    Where others scored as well as the chosen one, it says so: the job takes the first of
    selection.candidates among equals (a series of zeros, which every candidate forecasts)."""
    if shown(scores) == "-":
        return "-"
    by_candidate = json.loads(scores)
    metric = metrics.ranking_metric(metric, by_candidate.values())
    score = {name: values.get(metric) for name, values in by_candidate.items()}
    ranked = sorted(score, key=lambda name: (score[name] is None or math.isnan(score[name]), score[name] or 0.0,
                                             name != chosen))
    tied = chosen in score and score[chosen] is not None and sum(score[name] == score[chosen] for name in score) > 1
    mark = " (chosen: tied, the first of selection.candidates among them)" if tied else " (chosen)"
    return f"cv {metrics.DISPLAY_NAMES.get(metric, metric)} " + ", ".join(
        f"{name} {_number(score[name])}{mark if name == chosen else ''}" for name in ranked)


# the candidates that forecast with the tuned Prophet's parameters (the ensemble averages it in)
TUNED_MODELS = ("prophet", "ensemble")


def _parameters(params: str | None, chosen: str | None = None) -> str:
    """series_results' best_params (JSON): the tuned Prophet's hyperparameters, said to
    play no part in the forecast where a baseline (``chosen``) won."""
    if shown(params) == "-":
        return "-"
    text = ", ".join(f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}"
                     for name, value in json.loads(params).items())
    unused = chosen is not None and not pd.isna(chosen) and chosen not in TUNED_MODELS
    return f"{text} (the tuned Prophet's, not used: {chosen} forecast)" if unused else text


def _realized(result: dict, compared: tuple[str, bool] | None = None) -> str:
    """series_results' realized_ columns: how the run date before's forecast did on what arrived since."""
    mase, points = result.get("realized_mase"), result.get("realized_points")
    if points is None or pd.isna(points):  # untold which date was compared: also older code, or a backfill since
        older = ("" if compared is not None else ", an earlier date run only since (a backfill: run this date again "
                 "to score it), or a run of code from before 2026-12-04, which scored none")
        return f"- (no period forecast on the run date before has arrived{older})"
    periods, inside = _arrived(points, result.get("realized_coverage"))
    return (f"MASE {_number(mase)} of the forecast of {_before(compared, advice=False)} on the {periods} arrived "
            f"since{inside}")


def _arrived(points, coverage) -> tuple[str, str]:
    """The realized_ columns' periods scored, and the share inside the interval, as the lines say them."""
    inside = "" if coverage is None or pd.isna(coverage) else f", {coverage:.0%} inside its interval"
    return ("1 period" if points == 1 else f"{int(points)} periods"), inside


def _scored_later(scored: tuple[pd.Series, bool]) -> str:
    """How this run date's forecast did, as the next run date's realized_ columns scored it
    (its forecast as it was then, where this date was run again since)."""
    later, rerun = scored
    periods, inside = _arrived(later["realized_points"], later.get("realized_coverage"))
    which = "this date's forecast as it was then (run again since)" if rerun else "this forecast"
    return (f"{which}: MASE {_number(later.get('realized_mase'))} on the {periods} arrived by run date "
            f"{later['run_date']}{inside}")


def _change(value, compared: tuple[str, bool] | None = None) -> str:
    """series_results.forecast_change, in percent (forecast_change.changes says how it is measured)."""
    if value is None or pd.isna(value):  # untold which date was compared: also older code, or a backfill since
        older = ("" if compared is not None else ", an earlier date run only since (a backfill: run this date again "
                 "to compare), or a run of code from before 2026-12-03, which compared none")
        return f"- (no earlier run date's forecast of the same times{older})"
    return f"{forecast_change.percent(value)} from the forecast of {_before(compared)}, over the times both cover"


def _before(compared: tuple[str, bool] | None, advice: bool = True) -> str:
    """The run date compared with, as the change and realized lines name it (the first
    with ``advice`` on a rerun of it since)."""
    if compared is None:
        return "the run date before"
    date, rerun = compared
    if not rerun:
        return f"run date {date}"
    again = ": run this date again to compare with its current forecasts" if advice else ""
    return f"run date {date} as it was then (run again since{again})"


def dates_text(dates: list[str], at_most: int = 6) -> str:
    """The dates, the oldest and newest of a long list."""
    if len(dates) <= at_most:
        return ", ".join(dates)
    return f"{', '.join(dates[:2])}, ... ({len(dates) - 4} more), {', '.join(dates[-2:])}"


def describe(keys: dict[str, str]) -> str:
    """A series' keys as ``column=value`` words, as a command line takes them (key_word)."""
    return " ".join(key_word(column, value) for column, value in keys.items())


# What a shell reads otherwise than as written: spaces around a key (' S03' and 'S03' are two series,
# which unquoted suggestions had shown alike), quotes, and the shell's own signs (not letters of any script)
SHELL_SPECIAL = re.compile(r"[\s'\"$;&|<>()`\\*?\[\]#~!{}]")


def key_word(column: str, value) -> str:
    """``column=value``, quoted as a shell command line takes it where it holds SHELL_SPECIAL."""
    text = f"{column}={value}"
    return shlex.quote(text) if SHELL_SPECIAL.search(text) else text
