"""How the forecasts of the run date before did, now that their periods' actual values
have arrived.

Cross-validation says how a model would have done on the past; a weekly run can say
how last week's forecasts did. Each training run with an earlier run date scores that
date's trained forecasts on the periods that were not known then and are in this
run's cleaned history (``series_results.realized_mase``, ``realized_coverage`` and
``realized_points``), and the summary sets their median beside the cross-validated one.

The actual values are the series as cleaning left it (aggregated to the frequency,
duplicates merged), on the grid the forecasts were made on; a period that cleaning
filled by interpolation is a guess, not a value, and is not scored.
"""
from __future__ import annotations

import logging

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from forecasting import metrics
from forecasting.baselines import on_grid, season_length
from forecasting.cleaning import align_to_grid, filled_by_interpolation
from forecasting.config import JobConfig

logger = logging.getLogger(__name__)

POINTS, MASE, COVERAGE = "realized_points", "realized_mase", "realized_coverage"
COLUMNS = (POINTS, MASE, COVERAGE)
# what each series' task hands on (the staged results only): the arrived periods and the MASE scale
ARRIVED, SCALE = "arrived", "arrived_scale"
# the earlier forecast's yhat and interval, as forecast_change.forecasts_of reads them
PREVIOUS, LOWER, UPPER = "_previous", "_previous_lower", "_previous_upper"


def cut_of(run_date: str) -> pd.Timestamp:
    """The first time not known on ``run_date`` (validation.known_on's rule)."""
    return pd.Timestamp(run_date) + pd.Timedelta(days=1)


def arrived_since(prepared: pd.DataFrame, cleaned: pd.DataFrame, earlier_run_date: str, horizon: int,
                  config: JobConfig) -> tuple[pd.DataFrame | None, float | None]:
    """Of a series' ``cleaned`` periods, the first ``horizon`` not known on
    ``earlier_run_date`` (the most a forecast of that date covers), without those filled
    by interpolation; and the MASE scale of the periods known then (``metrics.mase_scale``),
    as the earlier run's own history had it. None, None when no period arrived since.
    ``prepared``: the series' input rows (series.prepare_history), to tell filled periods."""
    cut = cut_of(earlier_run_date)
    after = cleaned["ds"] >= cut
    arrived = cleaned[after].head(horizon)
    if arrived.empty:
        return None, None
    policy, frequency = config.cleaning, config.forecast.frequency
    periods = align_to_grid(prepared["ds"], frequency, origin=cleaned["ds"].iloc[0])
    arrived = arrived[~filled_by_interpolation(arrived["ds"], prepared, periods, policy)]
    known = cleaned[~after]
    scale = metrics.mase_scale(on_grid(known, frequency), season_length(frequency)) if len(known) else float("nan")
    return (arrived[["ds", "y"]] if len(arrived) else None), scale


def scores(staged: DataFrame, previous: DataFrame, keys: list[str]) -> DataFrame:
    """Per series of ``staged`` (the run's result rows) whose arrived periods the earlier
    forecasts ``previous`` cover (keys, ``ds``, ``_previous`` and its interval): how
    many periods, the MASE over them (scaled as the earlier history had it) and the share
    of actual values inside the earlier interval (null where it had none)."""
    actual = staged.select(*keys, SCALE, F.explode(ARRIVED).alias("point")).select(
        *keys, SCALE, "point.ds", F.col("point.y").alias("_actual"))
    both = actual.join(previous, [*keys, "ds"]).where(~F.isnan("_actual") & ~F.isnan(PREVIOUS))
    bounded = ~F.isnan(LOWER) & ~F.isnan(UPPER)
    inside = (F.col("_actual") >= F.col(LOWER)) & (F.col("_actual") <= F.col(UPPER))
    per_series = both.groupBy(*keys).agg(
        F.count(F.lit(1)).alias(POINTS),
        F.avg(F.abs(F.col("_actual") - F.col(PREVIOUS))).alias("_error"),
        F.first(SCALE).alias(SCALE),
        F.avg(F.when(bounded, inside.cast("double"))).alias(COVERAGE),
    )
    return per_series.select(*keys, F.col(POINTS).cast("int"), _scaled(F.col("_error"), F.col(SCALE)).alias(MASE),
                             COVERAGE)


def _scaled(error: Column, scale: Column) -> Column:
    """metrics.scaled_mae's rule: a flat earlier history makes any error infinitely bad."""
    return (F.when(scale.isNull() | F.isnan(scale), F.lit(None).cast("double"))
            .when(scale > 0, error / scale)
            .when(error == 0, F.lit(0.0))
            .otherwise(F.lit(float("inf"))))


def say(spark, config: JobConfig, context, summary, earlier: str, path: str) -> None:
    """Say how the forecasts of run date ``earlier`` did on the periods that arrived
    since (the median MASE and the share inside the intervals, also metrics of the
    parent run). A failure only warns: the run's tables are written."""
    from forecasting import redaction, tracking
    from forecasting.spark_session import job_description

    try:
        with job_description(spark, "say how the earlier forecasts did"):
            scored = spark.read.parquet(path)
            series, points, median, inside = scored.agg(
                F.count(MASE), F.sum(F.when(F.col(MASE).isNotNull(), F.col(POINTS))), F.median(MASE),
                F.sum(F.col(COVERAGE) * F.col(POINTS)) / F.sum(F.when(F.col(COVERAGE).isNotNull(), F.col(POINTS))),
            ).first()
            if not series:
                logger.info("no period forecast on run date %s has arrived since: nothing to score", earlier)
                return
            metrics_logged = {"median_realized_mase": median, **({"realized_coverage": inside} if inside is not None
                                                                 else {})}
            tracker = tracking.client(context.tracking_uri)
            for name, value in metrics_logged.items():
                tracker.log_metric(context.parent_run_id, name, value)
    except Exception as err:
        logger.warning("could not say how the forecasts of run date %s did (%s): series_results.%s holds it",
                       earlier, redaction.first_line(err), MASE)
        return
    within = (f", {inside:.0%} of the actual values inside their intervals (nominal "
              f"{config.forecast.interval_width:.0%})" if inside is not None else "")
    said = (f"the forecasts of run date {earlier}, on the {points} periods that have arrived since ({series} series; "
            f"series_results.{MASE}): median MASE {median:.2f}{within}")
    logger.info("%s", said)
    summary.note += f"  {said}\n"
