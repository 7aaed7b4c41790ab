"""forecast.floor: a series that never went below zero is not forecast below it, in its
cross-validation, in its tables and wherever its stored model forecasts again."""
import numpy as np
import pandas as pd
import pytest

from forecasting import model_store, tuning
from forecasting.series import OK, SKIPPED, train_series


def declining(days: int = 120, slope: float = 0.5) -> pd.DataFrame:
    """Daily counts falling from 60 to zero (by the end, at the default ``slope``):
    a straight line's forecast goes below it."""
    ds = pd.date_range("2024-01-01", periods=days, freq="D")
    noise = np.random.default_rng(1).normal(0, 1, days).clip(0)
    y = np.maximum(0.0, 60 - slope * np.arange(days)) + np.where(ds.dayofweek >= 5, 3.0, 0.0) + noise
    return pd.DataFrame({"ds": ds, "y": y})


@pytest.mark.parametrize("candidates", ["[prophet]", "[drift]"])
def test_a_series_that_never_went_below_zero_is_not_forecast_below_it(fast_config, candidates):
    history = declining()
    unfloored = train_series(history, fast_config(f"selection.candidates={candidates}", "forecast.floor=null"))
    assert unfloored.floor is None and (unfloored.forecast["yhat"] < 0).any()  # the model foresees values below 0
    below = int((unfloored.forecast["yhat"] < 0).sum())

    outcome = train_series(history, fast_config(f"selection.candidates={candidates}"))  # floor: auto
    assert outcome.status == OK and outcome.floor == 0.0
    values = outcome.forecast[["yhat", "yhat_lower", "yhat_upper"]]
    assert (values >= 0).all().all()
    # only what was below is raised
    np.testing.assert_allclose(outcome.forecast["yhat"], unfloored.forecast["yhat"].clip(lower=0))
    assert f"{below} of 7 forecast points raised to stay at or above 0 (forecast.floor auto: the history has no " \
           "value below 0)" in outcome.notes


@pytest.mark.parametrize("candidates, floor", [("[drift]", "auto"), ("[prophet]", "auto"),
                                               ("[ensemble]", "2")])  # a seasonal naive part is below 2 only
def test_cross_validation_scores_the_forecasts_the_floor_leaves(fast_config, candidates, floor):
    history = declining(slope=0.7)  # at zero for the last 34 days
    settings = [f"selection.candidates={candidates}", "cross_validation.folds=3", "tuning.max_evals=1"]
    outcome = train_series(history, fast_config(*settings, f"forecast.floor={floor}"))
    unfloored = train_series(history, fast_config(*settings, "forecast.floor=null"))
    assert outcome.best_params == unfloored.best_params  # one evaluation: the same parameters, floored or not
    least = 0.0 if floor == "auto" else float(floor)
    folds = [raw for _, _, raw in unfloored.backtest]
    assert any((fold < least).any() for fold in folds)
    for (_, _, predicted), raw in zip(outcome.backtest, folds, strict=True):
        if candidates == "[ensemble]":  # the mean of its parts, each floored
            assert (predicted >= least).all() and (predicted >= raw - 1e-9).all()
        else:
            np.testing.assert_allclose(predicted, np.maximum(raw, least))
    assert outcome.cv_metrics != unfloored.cv_metrics
    if candidates == "[drift]":  # the scores are those of the floored forecasts
        config = fast_config(*settings)
        drift = tuning.at_or_above(tuning.baseline_forecaster(config, "drift"), 0.0)
        folds = tuning.make_folds(outcome.cleaned, config)
        assert outcome.cv_metrics == tuning.cross_validate_predictions(outcome.cleaned, config, drift, folds)[0]


def test_auto_leaves_a_series_with_values_below_zero_alone_and_a_number_floors_every_series(fast_config):
    history = declining().assign(y=lambda frame: frame["y"] - 20)  # down to -20
    outcome = train_series(history, fast_config("selection.candidates=[drift]"))
    assert outcome.floor is None and outcome.forecast["yhat"].min() < -20
    assert not any("raised" in note or "below 0" in note for note in outcome.notes)  # a series that lives there

    # one credit in a history of counts: no floor, and a forecast below 0 is noted with what sets one
    credited = declining()
    credited.loc[40, "y"] = -5.0
    outcome = train_series(credited, fast_config("selection.candidates=[drift]"))
    below = int((outcome.forecast["yhat"] < 0).sum())
    assert outcome.floor is None and below
    assert f"{below} of 7 forecast points below 0, where 1 of the history's 120 values are (refunds, credits?): " \
           "forecast.floor: 0 would keep them at or above 0 (auto sets no floor once a value is below 0)" \
           in outcome.notes
    assert not any("below 0" in note for note in train_series(credited, fast_config(
        "selection.candidates=[drift]", "forecast.floor=null")).notes)  # no floor asked for: nothing to say

    # the bound itself: a cent below 0 sets no floor, a history whose lowest value is 0 gets 0
    from forecasting.model_store import series_floor
    assert series_floor(declining().assign(y=lambda frame: frame["y"].where(frame.index != 3, -0.01)), "auto") is None
    assert series_floor(declining().assign(y=lambda frame: frame["y"].clip(lower=0).where(frame.index != 3, 0.0)),
                        "auto") == 0.0

    outcome = train_series(history, fast_config("selection.candidates=[drift]", "forecast.floor=-21.5"))
    assert outcome.floor == -21.5
    assert (outcome.forecast[["yhat", "yhat_lower", "yhat_upper"]] >= -21.5).all().all()
    assert any(note.endswith("raised to stay at or above -21.5 (forecast.floor)") for note in outcome.notes)


def test_a_fallbacks_bounds_are_floored_too(fast_config):
    history = declining().tail(10)  # too short to model: the fallback forecasts it, near zero
    unfloored = train_series(history, fast_config("forecast.floor=null", "reliability.fallback=naive"))
    assert unfloored.status == SKIPPED and (unfloored.forecast["yhat_lower"] < 0).any()
    outcome = train_series(history, fast_config("reliability.fallback=naive"))
    assert outcome.model_name == "naive" and outcome.floor == 0.0
    np.testing.assert_allclose(outcome.forecast["yhat_lower"], unfloored.forecast["yhat_lower"].clip(lower=0))
    # naive repeats the last value, at or above 0: only its bounds are raised, which no note counts
    assert not any("raised" in note for note in outcome.notes)
    drift = train_series(declining().tail(12), fast_config("reliability.fallback=drift"))
    assert drift.status == SKIPPED and drift.model_name == "drift" and (drift.forecast["yhat"] >= 0).all()
    below = int((drift.forecast["yhat"] == 0).sum())
    assert below and any(note.startswith(f"{below} of 7 forecast points raised") for note in drift.notes)


@pytest.mark.parametrize("candidates", ["[prophet]", "[drift]", "[ensemble]"])
def test_a_stored_model_forecasts_again_what_training_did_at_or_above_its_floor(fast_config, candidates):
    # as scoring and serving forecast from the models table's model_json
    config = fast_config(f"selection.candidates={candidates}")
    outcome = train_series(declining(), config, seed=7)
    assert outcome.floor == 0.0 and any("raised" in note for note in outcome.notes)
    assert candidates.strip("[]") == outcome.model_name
    text = model_store.dump(outcome.model_name, outcome.model, outcome.floor)
    again = model_store.forecast(outcome.model_name, text, None, config.forecast.horizon, "D",
                                 config.forecast.interval_width, seed=7)
    pd.testing.assert_frame_equal(again, outcome.forecast, check_dtype=False)

    # a model stored before the floor (or with forecast.floor: null) keeps forecasting below zero
    unfloored = model_store.forecast(outcome.model_name, model_store.dump(outcome.model_name, outcome.model), None,
                                     config.forecast.horizon, "D", config.forecast.interval_width, seed=7)
    assert (unfloored["yhat"] < 0).any()
