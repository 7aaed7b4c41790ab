"""Which stored models a scoring run reads, and how they meet its input: the run date
whose models are scored, the input series without a model (named) or with a null key,
and what the training run that made them did otherwise (its cleaning, its frequency), or
a rerun that replaced them while they were scored."""
from __future__ import annotations

import dataclasses
import logging
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from forecasting import io, lineage, redaction, series_identity, tables, tracking
from forecasting.config import JobConfig
from forecasting.job_summary import EXAMPLE_WIDTH, JobSummary, agreeing, named_keys
from forecasting.periods import same_frequency

logger = logging.getLogger(__name__)


def choose_model_run_date(models: DataFrame, run_date: str, requested: str | None) -> str:
    """The requested model run date, or the latest one on or before ``run_date``
    (a model trained later than the scoring date has seen data from its future)."""
    dates = sorted(r[0].isoformat() for r in models.select("run_date").distinct().collect())
    if requested is not None:
        if requested not in dates:
            raise io.InputError(f"no models for run date {requested}; stored run dates: {dates}")
        return requested
    usable = [d for d in dates if d <= run_date]
    if not usable:
        raise io.InputError(f"no models trained on or before {run_date}; stored run dates: {dates}")
    return usable[-1]


def _null_or_nan(df: DataFrame, column: str) -> Column:
    """A null key value; in a float column NaN too, which training reads as one
    (pandas hands both over as NaN)."""
    if isinstance(df.schema[column].dataType, (T.FloatType, T.DoubleType)):
        return F.col(column).isNull() | F.isnan(column)
    return F.col(column).isNull()


def match_counts(models: DataFrame, latest: DataFrame, keys: list[str]) -> tuple[int, int, int, str | None, list[str]]:
    """How many models there are, how many input series have none (new since that
    training), and how many have a null key (never modelled), in one pass: a row
    without the marker is an input series no model matched. And the job run that
    trained the models (a run date's models are one run's), and the first and last of
    the series without one, by their keys, to name."""
    matched = models.select(*keys, "job_run_id", F.lit(True).alias("_has_model")).join(
        latest.select(*keys), keys, how="full"
    )
    null_key = reduce(lambda a, b: a | b, [_null_or_nan(latest, k) for k in keys])
    unmatched = F.col("_has_model").isNull()
    new = F.when(unmatched & ~null_key, named_keys(latest, keys))
    row = matched.agg(
        F.count("_has_model").alias("models"),
        F.count(F.when(unmatched & ~null_key, True)).alias("unmodelled"),
        F.count(F.when(unmatched & null_key, True)).alias("null_key"),
        F.max("job_run_id").alias("trained_by"),
        F.min(new).alias("first_new"), F.max(new).alias("last_new"),
    ).first()
    examples = [series_identity.series_id(row[bound].asDict()) for bound in ("first_new", "last_new")
                if row[bound] is not None]
    return (row["models"], row["unmodelled"], row["null_key"], row["trained_by"],
            sorted(set(examples), key=examples.index))


def say_if_models_replaced(spark, config: JobConfig, context, summary: JobSummary, version: int | None, chosen: str,
                            trained_by: str | None) -> None:
    """Tag and say when a training rerun of the models' date replaced them while this run
    scored (training and scoring take different locks): that rerun, ending before this
    run had started, did not see it to tag, and this run's forecasts are the old models'."""
    if trained_by is None or (version is not None and lineage.latest_version(
            spark, tables.table_paths(config)[tables.MODELS], config.output.format) == version):
        return
    now = tables.read_table(spark, config, tables.MODELS).where(F.col("run_date") == F.lit(chosen).cast("date"))
    replaced_by = now.agg(F.max("job_run_id")).first()[0]
    if replaced_by in (None, trained_by):
        return
    said = (f"the models of {chosen} were replaced by the training run {replaced_by} while this run scored them: "
            f"score {summary.run_date} again")
    summary.warn(said, f"{said} (this run is tagged {tracking.MODELS_REPLACED_TAG})")
    tracker = tracking.client(context.tracking_uri)
    try:  # the first rerun's id, where that rerun ended in time to tag this run itself
        if tracking.MODELS_REPLACED_TAG not in tracker.get_run(context.parent_run_id).data.tags:
            tracker.set_tag(context.parent_run_id, tracking.MODELS_REPLACED_TAG, replaced_by)
    except Exception as err:  # its rows are written: a note not recorded fails nothing
        logger.warning("could not tag scoring run %s %s: %s", context.parent_run_id, tracking.MODELS_REPLACED_TAG,
                       redaction.first_line(err))


def say_what_differs(config: JobConfig, context, summary: JobSummary, chosen: str, unmodelled: int, null_key: int,
                      trained_by: str | None, new: list[str] = ()) -> dict[str, str]:
    """Log and note what keeps some series unscored (``new``: a few of those without a
    model), or the input from being read as in training; the training run's params,
    which the scoring compares against."""
    if unmodelled:  # new since that training run: they need one before they can be scored
        have = agreeing(unmodelled, "have")
        named = f" (e.g. {', '.join(series_identity.shortened(name, EXAMPLE_WIDTH) for name in new)})" if new else ""
        summary.warn(f"{unmodelled} series in the input{named} {have} no model of that date: not scored (new since "
                     "that training, or skipped or failed then without a fallback: series_results says which)",
                     logged=f"{unmodelled} series in the input {have} no model of run date {chosen} and are not scored")
    trained_with = training_params(context.tracking_uri, trained_by)
    differences = cleaning_differences(config, trained_with)
    if differences:  # another config than the training's: the forecasts start elsewhere than training's would
        summary.warn(f"the input is cleaned otherwise than for training ({'; '.join(differences)}): pass the "
                     "training's --config for forecasts that start where training's would")
    other_frequency = frequency_difference(config, trained_with)
    if other_frequency:
        summary.warn(other_frequency)
    if null_key:  # training skips them too: no identity to store a model under
        summary.warn(f"{null_key} series in the input {agreeing(null_key, 'have')} a null key value: never modelled, "
                     "not scored")
    return trained_with


def training_params(tracking_uri: str, trained_by: str | None) -> dict[str, str]:
    """The params of the training run ``trained_by`` (its config, as the parent run
    records it); none where that run cannot be read (another tracking store)."""
    if not trained_by:
        return {}
    try:
        return tracking.client(tracking_uri).get_run(trained_by).data.params
    except Exception as err:  # MlflowException: not in this store
        logger.info("could not read the training run %s to compare its settings: %s", trained_by, err)
        return {}


def cleaning_differences(config: JobConfig, params: dict[str, str]) -> list[str]:
    """The cleaning policies of ``config`` that differ from those of the training run
    whose ``params`` are given: scoring cleans the input as its own config says, and
    starts elsewhere than training would where they differ."""
    # written as the parent run records its params
    policies = tracking.flatten({"cleaning": dataclasses.asdict(config.cleaning)})
    ours = {key: tracking.param_value(value) for key, value in policies.items()}
    return [f"{key} = {params[key]} in training, {value} here" for key, value in ours.items()
            if key in params and params[key] != value]


def frequency_difference(config: JobConfig, params: dict[str, str]) -> str | None:
    """What to say where ``config`` asks for another frequency than the training run
    (``params``) had: each stored model forecasts at its own."""
    frequency = params.get("forecast.frequency")
    if not frequency or same_frequency(frequency, config.forecast.frequency):
        return None
    return (f"the models forecast at the frequency they were trained at, {frequency}, not forecast.frequency "
            f"{config.forecast.frequency}: train at that frequency for its forecasts")
