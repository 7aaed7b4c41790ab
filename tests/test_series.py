"""The per-series work, without Spark."""
import numpy as np
import pandas as pd
import pytest

from conftest import daily_series
from forecasting import tuning
from forecasting.series import FAILED, OK, SKIPPED, train_series


def test_cutoffs_roll_back_by_step_and_end_at_the_last_row():
    sizes = tuning.cutoffs(n_rows=100, folds=3, horizon=10, step=5)
    assert sizes == [80, 85, 90]
    assert sizes[-1] + 10 == 100  # the newest fold is scored on the last rows
    assert tuning.cutoffs(n_rows=12, folds=3, horizon=10, step=5) == [2]  # folds that do not fit are dropped


def test_cross_validation_never_trains_on_what_it_scores(fast_config, monkeypatch):
    config = fast_config()
    history = daily_series(60)
    seen = []

    def recording_fit(train, *args, **kwargs):
        seen.append(train["ds"].max())
        return real_fit(train, *args, **kwargs)

    real_fit = tuning.model.fit
    monkeypatch.setattr(tuning.model, "fit", recording_fit)
    real_predict = tuning.model.predict_at
    scored = []
    monkeypatch.setattr(tuning.model, "predict_at", lambda m, ds: scored.append(ds.min()) or real_predict(m, ds))
    tuning.cross_validate(history, config, {})
    assert len(seen) == config.cross_validation.folds
    assert all(last_train < first_scored for last_train, first_scored in zip(seen, scored))


def test_min_history_follows_the_cross_validation_settings(fast_config):
    config = fast_config("cross_validation.folds=3", "cross_validation.step=2")
    # two extra folds of 2 rows, then the scored horizon and two horizons of training
    assert tuning.min_history(config) == 2 * 2 + 3 * 7
    assert tuning.min_history(fast_config("forecast.min_history=50")) == 50


def test_tuning_is_reproducible_with_a_seed(fast_config):
    history = daily_series(80, seed=3)
    first = tuning.tune(history, fast_config("tuning.max_evals=3"))
    second = tuning.tune(history, fast_config("tuning.max_evals=3"))
    assert first.best_params == second.best_params
    assert first.evaluations == 3
    assert set(first.best_params) == set(fast_config().tuning.search_space)
    assert first.best_params["seasonality_mode"] in ("additive", "multiplicative")


def test_tuning_picks_the_lowest_loss_of_its_trials(fast_config, monkeypatch):
    config = fast_config("tuning.max_evals=4", "tuning.metric=mae")
    history = daily_series(80, seed=4)
    scores = []
    real = tuning.cross_validate

    def recording(history, config, params):
        result = real(history, config, params)
        scores.append(result["mae"])
        return result

    monkeypatch.setattr(tuning, "cross_validate", recording)
    result = tuning.tune(history, config)
    assert result.cv_metrics["mae"] == pytest.approx(min(scores))


def test_a_good_series_is_forecast_over_the_horizon(fast_config):
    config = fast_config()
    history = daily_series(90).sample(frac=1, random_state=1)  # unsorted input is fine
    outcome = train_series(history, config)
    assert outcome.status == OK, outcome.reason
    forecast = outcome.forecast
    expected_dates = pd.date_range(history["ds"].max(), periods=config.forecast.horizon + 1, freq="D")[1:]
    assert list(forecast["ds"]) == list(expected_dates)
    assert (forecast["yhat_lower"] <= forecast["yhat"]).all() and (forecast["yhat"] <= forecast["yhat_upper"]).all()
    assert outcome.history_length == 90
    assert set(outcome.cv_metrics) == {"mae", "rmse", "smape"}
    # the weekly pattern is learnt: weekend forecasts sit above weekday ones
    weekend = forecast["ds"].dt.dayofweek >= 5
    assert forecast.loc[weekend, "yhat"].mean() > forecast.loc[~weekend, "yhat"].mean()


def test_too_short_a_series_is_skipped_with_its_reason(fast_config):
    config = fast_config()
    outcome = train_series(daily_series(10), config)
    assert outcome.status == SKIPPED
    assert "too little history: 10 rows" in outcome.reason
    assert outcome.forecast is None


def test_duplicate_timestamps_are_reported(fast_config):
    history = daily_series(60)
    outcome = train_series(pd.concat([history, history.tail(2)]), fast_config())
    assert outcome.status == SKIPPED and "2 duplicate timestamps" in outcome.reason


def test_a_series_that_breaks_prophet_fails_without_raising(fast_config):
    history = daily_series(60).assign(y=np.nan)
    outcome = train_series(history, fast_config())
    assert outcome.status == FAILED
    assert outcome.reason  # the error text, for the series_results row
    assert outcome.forecast is None and outcome.fit_seconds > 0
