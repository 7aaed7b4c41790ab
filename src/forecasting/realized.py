"""How the forecasts of the run date before did, now that their periods' actual values
have arrived.

Cross-validation says how a model would have done on the past; a weekly run can say
how last week's forecasts did. Each training run with an earlier run date scores that
date's trained forecasts on their periods that are in this run's cleaned history
(``series_results.realized_mase``, ``realized_coverage`` and ``realized_points``), and
the summary gives their median.

The actual values are the series as cleaning left it (aggregated to the frequency,
duplicates merged), on the grid the forecasts were made on; a period that cleaning
filled by interpolation is a guess, not a value, and is not scored, nor is a last period
still open on this run date (a part, even where cleaning.open_period: keep models it
whole). Each series' task
hands on its periods near the earlier run date (``window``), each with the MASE scale
of the history before it; the join with the earlier forecasts keeps those it forecast,
and the scale of the first is that of the periods the earlier run had as history, their
values as this run reads them (a correction since moves it, as it moves the actual values).
"""
from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from forecasting import metrics, redaction, signals, tracking
from forecasting.baselines import on_grid, season_length
from forecasting.gap_filling import filled_by_interpolation
from forecasting.periods import align_to_grid, open_on
from forecasting.config import JobConfig
from forecasting.spark_session import job_description

logger = logging.getLogger(__name__)

POINTS, MASE, COVERAGE = "realized_points", "realized_mase", "realized_coverage"
COLUMNS = (POINTS, MASE, COVERAGE)
# what each series' task hands on (the staged results only): the periods that may have arrived
ARRIVED = "arrived"
ARRIVED_POINT = T.StructType([T.StructField("ds", T.TimestampType()), T.StructField("y", T.DoubleType()),
                              T.StructField("scale", T.DoubleType())])
# A realized MASE the summary names: errors ten times the history's typical (seasonal) naive
# step's, far beyond what a horizon's growing uncertainty makes of it: a break in the data
# (a stock split, a new unit), or a model to look at
FAR_OFF_MASE = 10.0
# the earlier forecast's yhat and interval, as forecast_change.forecasts_of reads them
PREVIOUS, LOWER, UPPER = "_previous", "_previous_lower", "_previous_upper"


def window(earlier_run_date: str, horizon: int, frequency: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The times a forecast made on ``earlier_run_date`` can have covered, from ``horizon``
    periods before the end of that day (its history may have stopped up to a period
    before it, a period still open then being left out, or earlier in the day of a run
    made on its own date) to ``horizon`` periods after it. An anchored frequency (not a
    fixed-length Tick: W-SUN, ME, MS, QE) takes one more step each side: its first step only
    rolls to the next anchor, the date naming the period that holds the day, which the
    earlier forecast may have covered as its first, while the window's end is exclusive."""
    end_of_day, step = pd.Timestamp(earlier_run_date) + pd.Timedelta(days=1), to_offset(frequency)
    steps = horizon if isinstance(step, pd.offsets.Tick) else horizon + 1
    return end_of_day - steps * step, end_of_day + steps * step


def arrived_since(prepared: pd.DataFrame, cleaned: pd.DataFrame, earlier_run_date: str, horizon: int,
                  config: JobConfig, cut: pd.Timestamp | None = None) -> pd.DataFrame | None:
    """Of a series' ``cleaned`` periods, those inside ``window`` that cleaning did not
    fill by interpolation, each with the MASE scale (``metrics.mase_scale``) of the
    periods before it: where the earlier forecast starts, the history that run had.
    Which of them the earlier run forecast, the join with its forecasts tells
    (``scores``). None when there are none. ``prepared``: the series' input rows
    (series.prepare_history), to tell filled periods. ``cut``: what this run knows
    (periods.known_until); a period still open then has not arrived whole, though
    cleaning.open_period: keep models its value as the period's."""
    frequency = config.forecast.frequency
    low, high = window(earlier_run_date, horizon, frequency)
    ds = cleaned["ds"]
    inside = ((ds >= low) & (ds < high)).to_numpy()
    if cut is not None and inside.any() and open_on(ds.iloc[-1], frequency, cut):
        inside[-1] = False  # only the last period can be open
    positions = np.flatnonzero(inside)
    if not len(positions):
        return None
    periods = align_to_grid(prepared["ds"], frequency, origin=ds.iloc[0])
    candidates = cleaned.iloc[positions]
    kept = ~filled_by_interpolation(candidates["ds"], prepared, periods, config.cleaning)
    if not kept.any():
        return None
    season = season_length(frequency)
    scales = [metrics.mase_scale(on_grid(cleaned.iloc[:position], frequency), season) if position else float("nan")
              for position in positions[kept]]
    return pd.DataFrame({"ds": candidates["ds"].to_numpy()[kept], "y": candidates["y"].to_numpy()[kept],
                         "scale": scales})


def scores(staged: DataFrame, previous: DataFrame, keys: list[str]) -> DataFrame:
    """Per series of ``staged`` (the run's result rows) whose arrived periods the earlier
    forecasts ``previous`` cover (keys, ``ds``, ``_previous`` and its interval): how
    many periods, the MASE over them (scaled by the history before the first of them,
    the earlier run's) and the share of actual values inside the earlier interval (null
    where it had none)."""
    actual = staged.select(*keys, F.explode(ARRIVED).alias("point")).select(
        *keys, "point.ds", F.col("point.y").alias("_actual"), F.col("point.scale").alias("_scale"))
    both = actual.join(previous, [*keys, "ds"]).where(_known("_actual") & _known(PREVIOUS))
    bounded = _known(LOWER) & _known(UPPER)
    inside = (F.col("_actual") >= F.col(LOWER)) & (F.col("_actual") <= F.col(UPPER))
    per_series = both.groupBy(*keys).agg(
        F.count(F.lit(1)).alias(POINTS),
        F.avg(F.abs(F.col("_actual") - F.col(PREVIOUS))).alias("_error"),
        F.min_by("_scale", "ds").alias("_scale"),
        F.avg(F.when(bounded, inside.cast("double"))).alias(COVERAGE),
    )
    return per_series.select(*keys, F.col(POINTS).cast("int"), _scaled(F.col("_error"), F.col("_scale")).alias(MASE),
                             COVERAGE)


def _known(column: str) -> Column:
    return F.col(column).isNotNull() & ~F.isnan(column)


def _scaled(error: Column, scale: Column) -> Column:
    """metrics.scaled_mae's rule: a flat earlier history makes any error infinitely bad."""
    return (F.when(scale.isNull() | F.isnan(scale), F.lit(None).cast("double"))
            .when(scale > 0, error / scale)
            .when(error == 0, F.lit(0.0))
            .otherwise(F.lit(float("inf"))))


def say(spark, config: JobConfig, context: tracking.RunContext, summary, earlier: str, path: str) -> None:
    """Say how the forecasts of run date ``earlier`` did on the periods that arrived
    since (the median MASE and the share inside the intervals, also metrics of the
    parent run), naming the series whose MASE is over FAR_OFF_MASE. A failure only
    warns: the run's tables are written."""
    from forecasting.job_summary import named_examples  # here: the series' tasks import this module too

    far_off = (F.col(MASE) > FAR_OFF_MASE) & (F.col(MASE) < float("inf"))  # not a flat history's infinite one
    try:
        with job_description(spark, "say how the earlier forecasts did"):
            scored = spark.read.parquet(path)
            with_interval = F.sum(F.when(F.col(COVERAGE).isNotNull(), F.col(POINTS)))
            series, points, median, inside, in_intervals, far = scored.agg(
                F.count(POINTS), F.sum(POINTS), F.median(MASE),
                F.sum(F.col(COVERAGE) * F.col(POINTS)) / with_interval, with_interval, F.count_if(far_off),
            ).first()
            if not series:
                logger.info("no period forecast on run date %s has arrived since on this run's grid: nothing to "
                            "score", earlier)
                return
            logged = {"median_realized_mase": median, "realized_coverage": inside}
            # a non-finite value (the median series' earlier history flat) is no metric a server takes
            metrics_logged = {name: value for name, value in logged.items()
                              if value is not None and math.isfinite(value)}
            tracker = tracking.client(context.tracking_uri)
            for name, value in metrics_logged.items():
                tracker.log_metric(context.parent_run_id, name, value)
            keys = list(config.input.key_columns)
            named = named_examples(scored.where(far_off).orderBy(F.col(MASE).desc()).select(
                *keys, F.format_string("%.1f", F.col(MASE)).alias("reason")), keys) if far else None
    except Exception as err:  # the summary says so: a bug here had left only a line of the log
        if signals.stopped_by(err):  # the JVM's error of a job being stopped
            raise
        summary.warn(f"could not say how the forecasts of run date {earlier} did ({redaction.first_line(err)}): "
                     f"series_results.{MASE} holds it")
        return
    said = realized_line(earlier, series, points, median, inside, in_intervals, config.forecast.interval_width)
    if far:
        summary.warn(f"{said}; {far} with a MASE over {FAR_OFF_MASE:g}, the worst first: {named} (a break in the data, "
                     "such as a stock split or a new unit, or a model to look at)")
    else:
        summary.inform(said)


def realized_line(earlier: str, series: int, points: int, median: float | None, inside: float | None,
                  in_intervals: int | None, nominal: float) -> str:
    """The summary's line on how the earlier run date's forecasts did: ``inside``, the share of
    the ``in_intervals`` values that had an interval (a fallback's forecast may have none)."""
    within = ""
    if inside is not None:
        of = "" if in_intervals == points else f"of the {in_intervals} with one; "
        within = f", {inside:.0%} of the actual values inside their intervals ({of}nominal {nominal:.0%})"
    mase = "-" if median is None else f"{median:.2f}"  # none: no earlier history had two values to scale by
    arrived = "value that has" if points == 1 else "values that have"
    return (f"the forecasts of run date {earlier}, on the {points} {arrived} arrived since in {series} series "
            f"(series_results.{POINTS} and {MASE}): median MASE {mase}{within}")
