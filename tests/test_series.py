"""The per-series work, without Spark."""
import gc
import warnings
from collections import OrderedDict

import numpy as np
import pandas as pd
import pytest

from conftest import daily_series
from forecasting import hyperopt_speedups, metrics, prophet_speedups, tuning
from forecasting.cleaning_notes import ZERO_RUN_NOTE
from forecasting.forecast_notes import ZERO_FORECAST_NOTE
from forecasting.holdout import score_holdout
from forecasting.series import BASELINES, FAILED, OK, SKIPPED, prepare_history, train_series


def test_cutoffs_roll_back_by_step_and_end_at_the_last_row():
    sizes = tuning.cutoffs(n_rows=100, folds=3, horizon=10, step=5)
    assert sizes == [80, 85, 90]
    assert sizes[-1] + 10 == 100  # the newest fold is scored on the last rows
    assert tuning.cutoffs(n_rows=12, folds=3, horizon=10, step=5) == [2]  # folds that do not fit are dropped


def test_period_cutoffs_score_periods_and_drop_folds_a_gap_leaves_empty_or_the_same():
    # rows in periods 0-39 and 60-69: the fold scored on 55-59 has no rows, the one on 50-54
    # would train on what the fold on 60-64 trains on
    assert tuning.period_cutoffs(np.r_[0:40, 60:70], folds=4, horizon=5, step=5) == [(40, 45), (45, 50)]
    # a cutoff inside a gap, its horizon reaching rows: the later fold of the same training rows kept
    assert tuning.period_cutoffs(np.r_[0:40, 62:70], folds=3, horizon=5, step=5) == [(40, 43), (43, 48)]
    # as with rows, a fold is kept while it has a row to train on
    assert tuning.period_cutoffs(np.r_[0:1, 30:50], folds=4, horizon=5, step=5) == [(1, 6), (6, 11), (11, 16), (16, 21)]
    # a fifth fold would score periods 25-29, which hold no row
    assert tuning.period_cutoffs(np.r_[0:1, 30:50], folds=5, horizon=5, step=5) == [(1, 6), (6, 11), (11, 16), (16, 21)]
    # without gaps, periods are rows
    sizes = tuning.cutoffs(n_rows=100, folds=3, horizon=10, step=5)
    assert tuning.period_cutoffs(np.arange(100), folds=3, horizon=10, step=5) == [(size, size + 10) for size in sizes]


def test_folds_across_gaps_score_the_horizons_periods_as_the_forecast_does(fast_config):
    config = fast_config("cross_validation.folds=3")  # horizon and step 7 days
    history = daily_series(70)  # 2024-01-01 to 2024-03-10
    gone = pd.to_datetime(["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-05", "2024-03-06"])
    history = history[~history["ds"].isin(gone)].reset_index(drop=True)
    folds = tuning.make_folds(history, config)
    last = history["ds"].iloc[-1]
    assert len(folds) == 3
    for weeks_back, fold in zip((2, 1, 0), folds):
        start = last - pd.Timedelta(days=7 * weeks_back + 6)  # the fold's first scored day
        in_window = history[(history["ds"] >= start) & (history["ds"] < start + pd.Timedelta(days=7))]
        pd.testing.assert_series_equal(fold.test_ds.reset_index(drop=True), in_window["ds"].reset_index(drop=True))
        np.testing.assert_array_equal(fold.test_y, in_window["y"].to_numpy())
        pd.testing.assert_frame_equal(fold.train, history[history["ds"] < start])
    assert [len(fold.test_ds) for fold in folds] == [7, 3, 5]


def test_the_outcome_keeps_the_selected_candidates_fold_forecasts_for_the_plot(fast_config):
    history = daily_series(60)
    config = fast_config("cross_validation.folds=3", "selection.candidates=[naive, drift]")
    outcome = train_series(history, config)
    folds = tuning.make_folds(outcome.cleaned, config)
    assert len(outcome.backtest) == len(folds) == 3
    winner = tuning.baseline_forecaster(config, outcome.model_name)
    for (cutoff, dates, predicted), fold in zip(outcome.backtest, folds):
        assert cutoff == fold.train["ds"].iloc[-1]
        pd.testing.assert_series_equal(dates, fold.test_ds)
        np.testing.assert_array_equal(predicted, winner(fold.train, fold.test_ds))


def test_cross_validation_never_trains_on_what_it_scores(fast_config):
    config = fast_config()
    history = daily_series(60)
    prophet = tuning.prophet_forecaster(config, {})
    folds = []

    def recording(train, dates):
        folds.append((train["ds"].max(), dates.min()))
        return prophet(train, dates)

    tuning.cross_validate_predictions(history, config, recording)
    assert len(folds) == config.cross_validation.folds
    assert all(last_train < first_scored for last_train, first_scored in folds)


def test_min_history_follows_the_cross_validation_settings(fast_config):
    config = fast_config("cross_validation.folds=3", "cross_validation.step=2")
    # two extra folds of 2 rows, then the scored horizon and two horizons of training
    assert tuning.min_history(config) == 2 * 2 + 3 * 7
    assert tuning.min_history(fast_config("forecast.min_history=50")) == 50


def test_each_distribution_of_the_search_space_is_hyperopts_own_over_its_bounds():
    from hyperopt.pyll import stochastic

    from forecasting.config import ParamSpace

    space = tuning.hyperopt_space({
        "scale": ParamSpace("loguniform", low=0.001, high=0.5),
        "points": ParamSpace("quniform", low=5, high=45, q=5),
        "range": ParamSpace("uniform", low=0.8, high=0.95),
        "mode": ParamSpace("choice", values=["additive", "multiplicative"]),
    })
    rng = np.random.default_rng(0)
    drawn = pd.DataFrame([stochastic.sample(space, rng=rng) for _ in range(400)])
    assert drawn["scale"].between(0.001, 0.5).all()
    # spread on a log scale: half the draws below the bounds' geometric mean (0.022), not their middle (0.25)
    assert 0.4 < (drawn["scale"] < np.sqrt(0.001 * 0.5)).mean() < 0.6
    assert set(drawn["points"]) <= {5.0 * k for k in range(1, 10)} and drawn["points"].nunique() > 5
    assert drawn["range"].between(0.8, 0.95).all() and 0.4 < (drawn["range"] < 0.875).mean() < 0.6
    assert set(drawn["mode"]) == {"additive", "multiplicative"}


def test_tpe_takes_over_after_a_third_of_the_evaluations_drawn_at_random(fast_config, monkeypatch):
    from hyperopt import tpe

    asked, suggest = [], tpe.suggest

    def recording(*args, n_startup_jobs, **kwargs):
        asked.append(n_startup_jobs)
        return suggest(*args, n_startup_jobs=n_startup_jobs, **kwargs)

    monkeypatch.setattr(tpe, "suggest", recording)
    tuning.tune(daily_series(80, seed=3), fast_config("tuning.max_evals=7"))
    assert asked and set(asked) == {7 // tuning.RANDOM_START_DIVISOR}


def test_tuning_is_reproducible_with_a_seed_and_follows_it(fast_config, monkeypatch):
    history = daily_series(80, seed=3)
    tried, original = [], tuning.prophet_forecaster

    def recording(config, params, *args, **kwargs):
        tried.append(dict(params))
        return original(config, params, *args, **kwargs)

    monkeypatch.setattr(tuning, "prophet_forecaster", recording)

    def search(seed: int):
        tried.clear()
        result = tuning.tune(history, fast_config("tuning.max_evals=3", f"tuning.seed={seed}"))
        return result, list(tried)

    first, first_trials = search(42)
    second, second_trials = search(42)
    other, other_trials = search(1)
    assert first_trials == second_trials and first.best_params == second.best_params
    assert first.evaluations == len(first_trials) == 3
    assert other_trials != first_trials  # the seed, not a fixed one, drives the search
    # a series without holidays is not tuned over their prior scale, which would change nothing
    assert set(first.best_params) == set(fast_config().tuning.search_space) - {"holidays_prior_scale"}
    tried.clear()
    with_holidays = tuning.tune(history, fast_config("tuning.max_evals=1", "model.country_holidays=US"))
    assert set(with_holidays.best_params) == set(fast_config().tuning.search_space) == set(tried[0])


def test_hyperopt_builds_its_graphs_once_per_process_and_suggests_the_same(fast_config, monkeypatch):
    from hyperopt import base, pyll, tpe

    config = fast_config("tuning.max_evals=6")
    histories = [daily_series(80, seed=12), daily_series(80, seed=13)]
    builds, domains = [], []
    real_build, real_domain = tpe.build_posterior, base.Domain
    monkeypatch.setattr(tpe, "build_posterior", lambda *a, **k: builds.append(1) or real_build(*a, **k))
    monkeypatch.setattr(base, "Domain", lambda *a, **k: domains.append(1) or real_domain(*a, **k))
    monkeypatch.setattr(hyperopt_speedups, "_domains", OrderedDict())
    fast = [tuning.tune(history, config) for history in histories]
    assert (len(builds), len(domains)) == (1, 1)  # for two searches

    # Hyperopt as it comes: a Domain per search, a posterior graph per suggestion,
    # each graph's evaluation order worked out on every evaluation
    hyperopt_speedups.reuse_tpe_posterior_graph()
    hyperopt_speedups.replay_graph_evaluation()
    monkeypatch.setattr(tpe, "build_posterior_wrapper", tpe.build_posterior_wrapper.__wrapped__)
    monkeypatch.setattr(pyll, "rec_eval", pyll.rec_eval.__wrapped__)
    monkeypatch.setattr(pyll.base, "rec_eval", pyll.rec_eval)
    monkeypatch.setattr(hyperopt_speedups, "reuse_tpe_posterior_graph", lambda: None)
    monkeypatch.setattr(hyperopt_speedups, "replay_graph_evaluation", lambda: None)
    monkeypatch.setattr(hyperopt_speedups, "search_domain",
                        lambda key, make_space, objective: real_domain(objective, make_space()))
    builds.clear()
    plain = [tuning.tune(history, config) for history in histories]
    assert len(builds) == 12  # Hyperopt builds it for every suggestion, the random first ones too
    for fast_result, plain_result in zip(fast, plain):
        assert (fast_result.best_params, fast_result.cv_metrics) == (plain_result.best_params, plain_result.cv_metrics)


def test_a_series_folds_are_made_once_and_score_like_folds_made_per_candidate(fast_config, monkeypatch):
    config = fast_config("tuning.max_evals=3", "selection.candidates=[prophet,ensemble,naive,drift]")
    history = daily_series(80, seed=5)
    real, made = tuning.make_folds, []
    monkeypatch.setattr(tuning, "make_folds", lambda *args: made.append(1) or real(*args))
    outcome = train_series(history, config)
    assert len(made) == 1  # not once per evaluation and candidate
    monkeypatch.undo()
    for name in ("naive", "drift"):
        alone = tuning.cross_validate_predictions(history, config, tuning.baseline_forecaster(config, name))[0]
        assert outcome.candidate_scores[name] == pytest.approx(alone, nan_ok=True)


def test_tuning_picks_the_lowest_loss_of_its_trials(fast_config, monkeypatch):
    config = fast_config("tuning.max_evals=4", "tuning.metric=mae")
    history = daily_series(80, seed=4)
    scores = []
    real = tuning.cross_validate_predictions

    def recording(history, config, forecaster, folds=None):
        result = real(history, config, forecaster, folds)
        scores.append(result[0]["mae"])
        return result

    monkeypatch.setattr(tuning, "cross_validate_predictions", recording)
    result = tuning.tune(history, config)
    assert len(scores) == 4
    assert result.cv_metrics["mae"] == pytest.approx(min(scores))


def test_failed_tuning_evaluations_are_noted_while_the_search_goes_on(fast_config, monkeypatch):
    real, calls = tuning.cross_validate_predictions, []

    def second_fails(history, config, forecaster, folds=None):
        calls.append(1)
        if len(calls) == 2:
            raise ValueError("changepoint_range must be in [0, 1]")
        return real(history, config, forecaster, folds)

    monkeypatch.setattr(tuning, "cross_validate_predictions", second_fails)
    outcome = train_series(daily_series(80, seed=4), fast_config("tuning.max_evals=4", "selection.candidates=[prophet]"))
    assert outcome.status == OK and outcome.evaluations == 4
    assert outcome.notes == ["1 of 4 tuning evaluations failed, e.g. ValueError('changepoint_range must be in [0, 1]')"]


def test_a_series_prophet_fails_on_every_evaluation_is_forecast_by_the_best_other_candidate(fast_config, monkeypatch):
    def cannot_fit(config, params, warm=None, arrays_by_size=None):  # a Prophet that fits no parameter set
        def forecast(train, dates):
            raise FloatingPointError("no fit")
        return forecast

    monkeypatch.setattr(tuning, "prophet_forecaster", cannot_fit)
    history = daily_series(80, seed=4)
    candidates = "selection.candidates=[prophet, ensemble, naive, drift]"
    outcome = train_series(history, fast_config("tuning.max_evals=3", candidates))
    assert outcome.status == OK and outcome.model_name in ("naive", "drift")
    assert set(outcome.candidate_scores) == {"naive", "drift"}
    best = min(outcome.candidate_scores, key=lambda name: outcome.candidate_scores[name]["mase"])
    assert outcome.model_name == best
    assert outcome.notes[0] == ("Prophet failed in every tuning evaluation (3, e.g. FloatingPointError('no fit')): "
                                "chosen among naive, drift")
    assert not outcome.best_params and outcome.evaluations == 3  # they ran, and failed
    # an empty search space: its one evaluation failed alike
    empty = train_series(history, fast_config("tuning.search_space={}", candidates))
    assert empty.status == OK and empty.notes[0].startswith("Prophet failed in every tuning evaluation (1, e.g. "
                                                             "FloatingPointError('no fit')): chosen among naive, drift")

    # with no other candidate, the series fails, as before
    alone = train_series(history, fast_config("tuning.max_evals=3", "selection.candidates=[prophet]"))
    assert alone.status == FAILED
    assert "every tuning evaluation failed: [\"FloatingPointError('no fit')\"]" in alone.reason


def test_mase_of_a_fold_whose_training_part_is_flat_is_scaled_by_the_whole_history(fast_config):
    # a product launched late: every fold but the last trains on zeros only
    rng = np.random.default_rng(3)
    history = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=60), "y": np.r_[np.zeros(50), 10 + rng.normal(size=10)]})
    config = fast_config("tuning.metric=mase", "selection.candidates=[prophet, naive, drift]")
    outcome = train_series(history, config)
    assert outcome.status == OK, outcome.reason  # every evaluation's MASE was infinite: the series failed
    scores = {name: s["mase"] for name, s in outcome.candidate_scores.items()}
    assert all(np.isfinite(list(scores.values())))
    assert outcome.model_name == min(scores, key=scores.get)  # chosen by score, not by the candidates' order


def test_where_mase_is_undefined_for_a_series_tuning_and_the_choice_rank_by_smape_and_say_so(fast_config):
    # a daily series observed every other day: no two values a week or a day apart scale MASE
    every_other_day = daily_series(160).iloc[::2]
    config = fast_config("tuning.metric=mase", "selection.candidates=[drift, prophet, naive]")
    outcome = train_series(every_other_day, config)
    assert outcome.status == OK, outcome.reason  # every evaluation's MASE was NaN: the series failed
    assert all(scores["mase"] != scores["mase"] for scores in outcome.candidate_scores.values())
    smape = {name: scores["smape"] for name, scores in outcome.candidate_scores.items()}
    assert outcome.model_name == min(smape, key=smape.get)  # not drift for being listed first
    assert "mase undefined for this series in every cross-validation fold (no two values a season or a period " \
           "apart to scale it by, or none differing beyond rounding): tuning and the model choice ranked by smape" \
           in outcome.notes
    # chosen by MASE where it is defined: no note
    assert not [note for note in train_series(daily_series(80), config).notes if "undefined" in note]


def test_ranking_falls_back_only_where_the_metric_is_undefined_in_every_score_set():
    nan = float("nan")
    assert metrics.ranking_metric("mase", [{"mase": nan, "smape": 3.0}, {"mase": 1.2, "smape": 2.0}]) == "mase"
    assert metrics.ranking_metric("mase", [{"mase": nan, "smape": 3.0}, {"mase": nan, "smape": 2.0}]) == "smape"
    assert metrics.ranking_metric("mase", [{"mase": nan, "smape": nan, "mae": 4.0}]) == "mae"
    # infinite in every set: no ranking either (MASE where a history's changes are rounding's, the review of 12-06)
    assert metrics.ranking_metric("mase", [{"mase": float("inf"), "smape": 1.0}]) == "smape"
    assert metrics.ranking_metric("mase", [{"mase": float("inf"), "smape": 1.0}, {"mase": 0.0, "smape": 0.0}]) == "mase"


def test_a_series_constant_but_for_rounding_is_tuned_by_mase_through_smape(fast_config):
    # 0.1 + 0.2 against 0.3: two values, no change beyond rounding to scale MASE by; every evaluation failed
    history = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=60, freq="D"), "y": [0.3, 0.1 + 0.2] * 30})
    outcome = train_series(history, fast_config("tuning.metric=mase"))
    assert outcome.status == OK, outcome.reason
    assert ("mase undefined for this series in every cross-validation fold (no two values a season or a period apart "
            "to scale it by, or none differing beyond rounding): tuning and the model choice ranked by smape"
            ) in outcome.notes


def test_patience_stops_a_search_that_stopped_improving(fast_config):
    history = daily_series(80, seed=5)
    full = tuning.tune(history, fast_config("tuning.max_evals=10"))
    patient = tuning.tune(history, fast_config("tuning.max_evals=10", "tuning.patience=1"))
    assert full.evaluations == 10
    assert 2 <= patient.evaluations < 10


def test_patience_counts_evaluations_in_a_row_without_a_lower_loss():
    from types import SimpleNamespace

    stop, state, stopped_after = tuning._patience_stop(2), [], None
    losses = [5.0, 4.0, 4.5, 3.0, 3.0, 3.5, 1.0]  # improvements reset the count; equal is no improvement
    for n, loss in enumerate(losses, start=1):
        trials = SimpleNamespace(trials=[{"result": {"loss": loss}}])
        done, state = stop(trials, *state)
        if done:
            stopped_after = n
            break
    assert stopped_after == 6  # 3.0 at the 4th, then 3.0 and 3.5: two in a row
    failed = SimpleNamespace(trials=[{"result": {"status": "fail"}}])  # no loss: counts as no improvement
    assert stop(failed, 1.0, 1) == (True, [1.0, 2])


def test_warm_starts_remember_each_fold_and_reach_the_same_optimum(fast_config):
    config = fast_config()
    history = daily_series(90, seed=6)
    warm = tuning.WarmStarts()
    assert warm.get(60) is None
    first = tuning.model.fit(history.iloc[:60], config, {}, 0)
    warm.remember(60, first)
    assert warm.get(60)["delta"].shape == first.params["delta"][0].shape
    assert warm.get(75) is warm.get(60)  # an unseen size starts from the latest fit
    second = tuning.model.fit(history.iloc[:75], config, {"changepoint_prior_scale": 0.5}, 0)
    warm.remember(75, second)
    for size, fitted in ((60, first), (75, second), (90, second)):  # each size its own, an unseen one the latest
        np.testing.assert_array_equal(warm.get(size)["delta"], tuning.model.warm_start(fitted)["delta"])
    cold = tuning.model.fit(history.iloc[:75], config, {}, 0)
    warmed = tuning.model.fit(history.iloc[:75], config, {}, 0, init=warm.get(75))
    dates = history["ds"].iloc[75:]
    np.testing.assert_allclose(
        tuning.model.predict_at(warmed, dates), tuning.model.predict_at(cold, dates), rtol=0.01
    )


def test_with_warm_starts_each_fold_fit_after_the_first_starts_from_the_one_before(fast_config, monkeypatch):
    history = daily_series(80, seed=4)
    starts, original = [], tuning.model.fit

    def recording(train, config, params, uncertainty_samples=0, init=None):
        fitted = original(train, config, params, uncertainty_samples, init=init)
        starts.append((len(train), init, tuning.model.warm_start(fitted)))
        return fitted

    monkeypatch.setattr(tuning.model, "fit", recording)
    config = fast_config("tuning.warm_start=true", "tuning.max_evals=2")
    outcome = train_series(history, config)
    assert outcome.status == OK, outcome.reason
    fits = config.cross_validation.folds * 2 + 1  # every evaluation's folds, then the final fit
    assert len(starts) == fits
    # each fit starts from the last one on the same rows, else from the latest (the final fit's rows are new)
    by_size, latest = {}, None
    for size, init, ended in starts:
        expected = by_size.get(size, latest)
        assert (init is None) == (expected is None)  # only the very first fit starts cold
        for name in (expected or {}):
            np.testing.assert_array_equal(init[name], expected[name])
        by_size[size] = latest = ended
    assert len(by_size) == config.cross_validation.folds + 1
    cold = train_series(history, fast_config("tuning.max_evals=2"))
    assert set(outcome.cv_metrics) == set(cold.cv_metrics)
    assert outcome.cv_metrics["mae"] == pytest.approx(cold.cv_metrics["mae"], rel=0.05)


def test_the_ensemble_reuses_the_tuned_prophet_folds_instead_of_refitting(fast_config, monkeypatch):
    config = fast_config("selection.candidates=[prophet, ensemble]", "tuning.max_evals=2")
    fits = []
    real_fit, real_points = tuning.model.fit, tuning.prophet_points.point_forecast
    monkeypatch.setattr(tuning.model, "fit", lambda *a, **k: fits.append("model") or real_fit(*a, **k))
    monkeypatch.setattr(
        tuning.prophet_points, "point_forecast", lambda *a, **k: fits.append("fold") or real_points(*a, **k)
    )
    outcome = train_series(daily_series(90, seed=7), config)
    assert outcome.status == OK, outcome.reason
    # two parameter sets on each fold, then the final fit: none for the ensemble's folds
    assert fits.count("fold") == 2 * config.cross_validation.folds
    assert fits.count("model") == 1
    assert set(outcome.candidate_scores) == {"prophet", "ensemble"}


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
    assert set(outcome.cv_metrics) == {"mae", "rmse", "smape", "mase"}
    # the weekly pattern is learnt: weekend forecasts sit above weekday ones
    weekend = forecast["ds"].dt.dayofweek >= 5
    assert forecast.loc[weekend, "yhat"].mean() > forecast.loc[~weekend, "yhat"].mean()


def test_too_short_a_series_is_skipped_with_its_reason(fast_config):
    outcome = train_series(daily_series(10), fast_config("reliability.fallback=null"))
    assert outcome.status == SKIPPED
    assert outcome.reason == ("too little history: 10 periods, needs at least 28 (what 2 cross-validation folds need; "
                              "forecast.min_history sets it)")
    set_here = train_series(daily_series(10), fast_config("reliability.fallback=null", "forecast.min_history=12"))
    assert set_here.reason == "too little history: 10 periods, needs at least 12 (forecast.min_history)"
    assert outcome.forecast is None and outcome.model_name is None
    # every other day (gaps: keep): its rows, over the periods they span
    gappy = train_series(daily_series(20).iloc[::2], fast_config("reliability.fallback=null"))
    assert gappy.reason.startswith("too little history: 10 rows over 19 periods, needs at least 28")


def test_a_series_one_row_short_of_min_history_is_skipped_and_one_with_it_modelled(fast_config):
    config = fast_config("reliability.fallback=null", "selection.candidates=[naive]")
    needed = tuning.min_history(config)
    short = train_series(daily_series(needed - 1), config)
    assert (short.status, short.reason.split(" (")[0]) == (
        SKIPPED, f"too little history: {needed - 1} periods, needs at least {needed}")
    assert train_series(daily_series(needed), config).status == OK


def test_a_candidate_whose_score_is_nan_loses_to_any_scored_one():
    from forecasting.series import _loss

    scores = {"prophet": {"mase": float("nan")}, "naive": {"mase": 3.0}, "drift": {"mase": 2.5}}
    assert min(scores, key=lambda name: _loss(scores[name], "mase")) == "drift"


def test_a_skipped_series_gets_the_fallback_forecast_marked_as_such(fast_config):
    history = daily_series(10)
    outcome = train_series(history, fast_config("reliability.fallback=seasonal_naive"))
    assert outcome.status == SKIPPED
    # ten days are not two weekly seasons: the plain naive forecast repeats the last value
    assert outcome.model_name == "naive" and outcome.reason.endswith("; fallback forecast: naive")
    assert (outcome.forecast["yhat"] == history["y"].iloc[-1]).all()
    assert ("reliability.fallback seasonal_naive forecast as naive: 10 periods of history, shorter than two cycles "
            "of 7") in outcome.notes  # why the fallback configured is not the one named
    one_row = train_series(daily_series(1), fast_config("reliability.fallback=seasonal_naive"))
    assert any("forecast as naive: 1 period of history, shorter" in note for note in one_row.notes)  # not "1 periods"


def test_a_seasonal_naive_winner_without_two_seasons_keeps_its_name_and_notes_the_naive_forecast(fast_config):
    config = fast_config("forecast.frequency=MS", "forecast.horizon=3", "selection.candidates=[seasonal_naive]")
    months = pd.date_range("2022-01-01", periods=20, freq="MS")
    short = pd.DataFrame({"ds": months, "y": np.arange(20.0) % 12 * 10 + 5})
    outcome = train_series(short, config)
    assert outcome.status == OK, outcome.reason
    # 20 months are not two yearly seasons: the last value repeated, under the name its scores carry
    assert outcome.model_name == "seasonal_naive"
    assert (outcome.forecast["yhat"] == short["y"].iloc[-1]).all()
    assert "seasonal_naive forecast as naive: 20 periods of history, shorter than two cycles of 12" in outcome.notes

    longer = pd.DataFrame({"ds": pd.date_range("2021-01-01", periods=30, freq="MS"), "y": np.arange(30.0) % 12})
    outcome = train_series(longer, config)
    assert not any("forecast as naive" in note for note in outcome.notes)
    assert list(outcome.forecast["yhat"]) == list(longer["y"].iloc[-12:-9])  # a year back


def test_a_constant_series_is_skipped_and_says_so(fast_config):
    history = daily_series(60).assign(y=5.0)
    outcome = train_series(history, fast_config("reliability.fallback=naive"))
    assert outcome.status == SKIPPED and outcome.reason.startswith("constant series: every value is 5")
    assert (outcome.forecast["yhat"] == 5.0).all()


def test_the_history_ends_where_the_cleaned_data_does_and_the_forecast_goes_on_from_there(fast_config):
    history = daily_series(60)
    history.loc[59, "y"] = np.nan  # the last day's value missing: dropped by the default policy
    outcome = train_series(history, fast_config("selection.candidates=[naive]"))
    assert (outcome.history_length, outcome.history_end) == (59, history["ds"].iloc[58])
    assert outcome.forecast["ds"].iloc[0] == history["ds"].iloc[59]


def test_times_with_a_time_zone_are_trained_on_as_the_same_instants_in_utc(fast_config):
    naive = daily_series(90)  # across the start of daylight saving time, 10 March 2024
    # midnight in New York is 05:00 UTC (04:00 in summer): the series' days as the job would hand them over
    zoned = naive.assign(ds=naive["ds"].dt.tz_localize("America/New_York"))
    in_utc = naive.assign(ds=zoned["ds"].dt.tz_convert("UTC").dt.tz_localize(None))
    config = fast_config("selection.candidates=[naive, drift]")
    outcome, expected = train_series(zoned, config), train_series(in_utc, config)
    assert outcome.status == OK, outcome.reason
    assert (outcome.history_end, outcome.notes) == (expected.history_end, expected.notes)
    pd.testing.assert_frame_equal(outcome.forecast, expected.forecast)
    # the same times as Python datetimes whose offset changes with daylight saving (pandas keeps them as objects)
    offsets = zoned.assign(ds=pd.Series([t.to_pydatetime() for t in zoned["ds"]], dtype=object))
    pd.testing.assert_frame_equal(train_series(offsets, config).forecast, expected.forecast)
    # and as text with those offsets: read in UTC as they are, without pandas' warning of a future refusal
    texts = zoned.assign(ds=zoned["ds"].map(lambda t: t.isoformat()))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        pd.testing.assert_frame_equal(train_series(texts, config).forecast, expected.forecast)
    # sorted as instants, not as the text or objects given: 01:45 in summer time comes before 01:30 in winter time
    autumn = pd.DataFrame({"ds": pd.Series([pd.Timestamp("2024-11-03 01:30-05:00"),
                                            pd.Timestamp("2024-11-03 01:45-04:00")], dtype=object), "y": [1.0, 2.0]})
    assert prepare_history(autumn)["y"].tolist() == [2.0, 1.0]
    # naive text in several ISO forms is read as before
    texts = naive.assign(ds=[t.isoformat() if i % 2 else t.strftime("%Y-%m-%d") for i, t in enumerate(naive["ds"])])
    pd.testing.assert_frame_equal(prepare_history(texts), prepare_history(naive))


def test_duplicate_timestamps_are_merged_or_rejected_by_policy(fast_config):
    history = daily_series(60)
    doubled = pd.concat([history, history.tail(2)])
    merged = train_series(doubled, fast_config())
    assert merged.status == OK and merged.notes == [  # the tail exported twice: said as such
        "2 duplicate timestamps merged (sum)",
        "2 rows repeated exactly (the same time and value as another), added up: the same rows read twice?"]
    assert merged.history_length == 60
    rejected = train_series(doubled, fast_config("cleaning.duplicates=reject"))
    assert rejected.status == SKIPPED
    assert rejected.reason == "2 duplicate timestamps (the first 2024-02-28; cleaning.duplicates = reject)"
    assert rejected.forecast is None  # rejected data gets no fallback either


def test_an_exception_in_tuning_fails_the_series_and_the_fallback_forecasts_it(fast_config, monkeypatch, caplog):
    def broken(history, config, folds=None, floor=None):
        raise RuntimeError("optimizer exploded")

    monkeypatch.setattr("forecasting.series.tuning.tune", broken)
    history = daily_series(60)
    outcome = train_series(history, fast_config("reliability.fallback=seasonal_naive"), name="series east/tea")
    assert outcome.status == FAILED
    # the log names the series: among thousands, the traceback alone would not say which
    assert [r.getMessage().splitlines()[0] for r in caplog.records if r.levelname == "WARNING"] == [
        "series east/tea failed: optimizer exploded"]
    assert outcome.reason == "RuntimeError: optimizer exploded; fallback forecast: seasonal_naive"
    assert outcome.model_name == "seasonal_naive"
    last_week = history["y"].iloc[-7:].to_numpy()
    np.testing.assert_allclose(outcome.forecast["yhat"].to_numpy(), last_week)
    assert outcome.fit_seconds > 0
    without = train_series(history, fast_config("reliability.fallback=null"))
    assert without.status == FAILED and without.forecast is None


def test_a_winner_whose_refit_fails_leaves_no_backtest_beside_the_fallbacks_forecast(fast_config, monkeypatch):
    def broken(*args):
        raise RuntimeError("refit exploded")

    # cross-validation scores drift through baselines.predict_at; only the refit calls BASELINES
    monkeypatch.setitem(BASELINES, "drift", broken)
    config = fast_config("selection.candidates=[drift]", "reliability.fallback=naive")
    outcome = train_series(daily_series(60), config)
    assert outcome.status == FAILED and outcome.model_name == "naive"
    assert outcome.backtest == [] and outcome.cv_metrics == {}


def test_a_failure_after_the_winner_is_forecast_leaves_nothing_of_it(fast_config, monkeypatch):
    def broken(*args):
        raise RuntimeError("notes exploded")

    # the winner's forecast and model exist by the time its notes are written
    monkeypatch.setattr("forecasting.series.unseen_holiday_notes", broken)
    config = fast_config("selection.candidates=[drift]", "reliability.fallback=null")
    alone = train_series(daily_series(60), config)
    assert (alone.status, alone.reason) == (FAILED, "RuntimeError: notes exploded")
    assert alone.forecast is None and alone.model is None and alone.model_name is None
    assert alone.cv_metrics == {} and alone.candidate_scores == {} and alone.backtest == []
    monkeypatch.undo()
    # in evaluation mode the winner's scores are set before its held-out rows are scored
    scored = []

    def first_fails(*args):
        scored.append(args)
        if len(scored) == 1:
            raise RuntimeError("scoring exploded")
        return score_holdout(*args)

    monkeypatch.setattr("forecasting.series.score_holdout", first_fails)
    fallen_back = train_series(daily_series(60), fast_config("selection.candidates=[drift]",
                                                             "reliability.fallback=naive"), holdout=7)
    assert fallen_back.status == FAILED and fallen_back.model_name == "naive"
    assert fallen_back.cv_metrics == {} and fallen_back.candidate_scores == {} and fallen_back.backtest == []
    assert list(fallen_back.holdout) == ["fallback_naive"]


def test_an_evaluation_whose_held_out_periods_leave_too_little_to_fit_says_so(fast_config):
    # a walk-through of 12-07: a horizon of 1000 hours on series of 748 said "0 periods, needs at least 3048",
    # as if the series were short
    outcome = train_series(daily_series(30), fast_config("forecast.horizon=40", "reliability.fallback=null"), holdout=40)
    assert outcome.status == SKIPPED and outcome.reason.startswith("too little history: 0 periods, needs at least")
    assert outcome.reason.endswith("; the 40 held-out periods (forecast.horizon) left 0 of the series' 30 to fit: "
                                   "evaluate with a shorter forecast.horizon")
    trained = train_series(daily_series(5), fast_config("reliability.fallback=null"))  # no evaluation: as before
    assert trained.status == SKIPPED and "held-out" not in trained.reason


def test_a_failure_in_the_checks_or_the_fallbacks_notes_is_the_series_alone(fast_config, monkeypatch):
    def broken(*args):
        raise RuntimeError("exploded")

    monkeypatch.setattr("forecasting.series.check_history", broken)
    checked = train_series(daily_series(60), fast_config("reliability.fallback=naive"))
    assert checked.status == FAILED and checked.reason == "RuntimeError: exploded; fallback forecast: naive"
    assert len(checked.forecast) == 7
    monkeypatch.undo()
    monkeypatch.setattr("forecasting.series.floor_notes", broken)  # the winner's and the fallback's alike
    noted = train_series(daily_series(60), fast_config("selection.candidates=[drift]", "reliability.fallback=naive"))
    assert noted.status == FAILED and noted.reason == ("RuntimeError: exploded; "
                                                       "fallback naive failed: RuntimeError: exploded")
    assert noted.forecast is None and noted.model is None and noted.model_name is None


def test_a_series_that_breaks_cleaning_or_its_fallback_fails_alone(fast_config, monkeypatch, caplog):
    def broken(*args):
        raise ZeroDivisionError("no periods")

    history = daily_series(60)
    monkeypatch.setattr("forecasting.series.clean_history", broken)
    outcome = train_series(history, fast_config(), name="series east/tea")
    assert (outcome.status, outcome.reason) == (FAILED, "cleaning failed: ZeroDivisionError: no periods")
    assert "series east/tea failed in cleaning: no periods" in caplog.text
    assert outcome.forecast is None and outcome.history_length == 60
    monkeypatch.undo()
    monkeypatch.setattr("forecasting.series.tuning.tune", broken)
    monkeypatch.setitem(BASELINES, "seasonal_naive", broken)
    outcome = train_series(history, fast_config("reliability.fallback=seasonal_naive"))
    assert outcome.status == FAILED and outcome.forecast is None and outcome.model_name is None
    assert outcome.reason == ("ZeroDivisionError: no periods; "
                              "fallback seasonal_naive failed: ZeroDivisionError: no periods")


def test_selection_picks_the_candidate_with_the_best_cross_validated_score(fast_config):
    # a pure weekly pattern without trend or noise: seasonal naive is exact, Prophet is not
    ds = pd.date_range("2024-01-01", periods=70, freq="D")
    pattern = pd.DataFrame({"ds": ds, "y": 10.0 + (ds.dayofweek * 3) % 7})
    config = fast_config("selection.candidates=[prophet, seasonal_naive, naive, drift]", "tuning.metric=mase")
    outcome = train_series(pattern, config)
    assert set(outcome.candidate_scores) == {"prophet", "seasonal_naive", "naive", "drift"}
    best = min(outcome.candidate_scores, key=lambda name: outcome.candidate_scores[name]["mase"])
    assert outcome.model_name == best == "seasonal_naive"
    assert outcome.cv_metrics == outcome.candidate_scores["seasonal_naive"]
    assert outcome.best_params  # Prophet was tuned all the same, and its parameters are kept
    np.testing.assert_allclose(outcome.forecast["yhat"], pattern["y"].iloc[-7:].to_numpy())


def test_holdout_scores_prophet_alone_even_where_only_the_ensemble_is_a_candidate(fast_config):
    config = fast_config("selection.candidates=[ensemble, seasonal_naive]")
    outcome = train_series(daily_series(90, seed=10), config, holdout=7)
    assert set(outcome.candidate_scores) == {"ensemble", "seasonal_naive"}
    assert set(outcome.holdout) == {"prophet", "ensemble", "seasonal_naive"}
    scores = outcome.candidate_scores
    assert outcome.model_name == min(scores, key=lambda name: scores[name][config.tuning.metric])


def test_the_ensemble_averages_prophet_and_seasonal_naive_in_every_fold_and_forecast(fast_config):
    from forecasting import model

    config = fast_config("selection.candidates=[ensemble]")
    history = daily_series(90, seed=10)
    outcome = train_series(history, config, holdout=7)
    train, held_out = history.iloc[:-7].reset_index(drop=True), history["y"].iloc[-7:].to_numpy()
    assert outcome.model_name == "ensemble" and set(outcome.holdout) == {"prophet", "ensemble"}
    # the cross-validation: each fold's forecast the mean of the parts' refit on that fold
    prophet_at = tuning.prophet_forecaster(config, outcome.best_params)
    folds = tuning.make_folds(train, config)
    assert len(outcome.backtest) == len(folds) == config.cross_validation.folds
    for fold, (_, dates, predicted) in zip(folds, outcome.backtest):
        seasonal = BASELINES["seasonal_naive"](fold.train, len(dates), "D", 0.8)["yhat"].to_numpy()
        np.testing.assert_allclose(predicted, (prophet_at(fold.train, dates) + seasonal) / 2)
    # the forecast: the tuned Prophet's (seeded as the job seeds it) and the seasonal naive's, bounds too
    fitted, _ = outcome.model
    prophet = model.predict(fitted, 7, "D", seed=0)
    seasonal = BASELINES["seasonal_naive"](train, 7, "D", 0.8)
    for column in ("yhat", "yhat_lower", "yhat_upper"):
        np.testing.assert_allclose(outcome.forecast[column], (prophet[column] + seasonal[column]) / 2)
    # the held-out scores: Prophet's alone, and the average's
    assert outcome.holdout["prophet"]["mae"] == pytest.approx(np.mean(np.abs(held_out - prophet["yhat"])))
    assert outcome.holdout["ensemble"]["mae"] == pytest.approx(np.mean(np.abs(held_out - outcome.forecast["yhat"])))


def test_with_zero_gaps_the_periods_just_before_the_held_out_ones_are_zeros_as_in_training(fast_config):
    # three days without a row before the last week: sold nothing, not the last day's value again
    history = daily_series(90, seed=8).drop(index=[80, 81, 82])
    config = fast_config("selection.candidates=[naive]", "cleaning.gaps=zero")
    outcome = train_series(history, config, holdout=7)
    assert outcome.history_length == 83
    assert outcome.forecast["yhat"].tolist() == [0.0] * 7  # the naive forecast repeats the last, zero day


@pytest.mark.parametrize("gaps", ["keep", "zero"])
def test_the_holdouts_earlier_rows_leave_out_the_strays_the_whole_series_did(fast_config, gaps):
    # the review of trial 35's fix: 3 rows of 2015 before 33 weeks of 2024; the earlier rows alone, 28 times,
    # allow 2 strays only, and kept a 2015 row where the whole series' cleaning left the 3 out
    weeks = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=33, freq="7D"), "y": np.arange(33.0) + 5})
    # Wednesdays: a grid of 7D steps from them would move the Mondays
    strays = pd.DataFrame({"ds": pd.to_datetime(["2015-01-07", "2015-01-14", "2015-01-21"]), "y": 1.0})
    config = fast_config("forecast.frequency=7D", "forecast.horizon=8", "selection.candidates=[naive]",
                         "cross_validation.folds=1", f"cleaning.gaps={gaps}")
    outcome = train_series(pd.concat([strays, weeks], ignore_index=True), config, holdout=8)
    assert outcome.status == OK, outcome.reason
    assert outcome.history_length == 25 and outcome.cleaned["ds"].min() == weeks["ds"].iloc[0]
    assert not any(note.startswith("evaluation:") for note in outcome.notes)
    assert outcome.forecast["yhat"].tolist() == [29.0] * 8  # the naive forecast of the 25th week's value


def test_holdout_scores_every_candidate_on_data_it_never_saw(fast_config):
    history = daily_series(90, seed=8)
    config = fast_config("selection.candidates=[prophet, naive]")
    outcome = train_series(history, config, holdout=7)
    assert outcome.history_length == 83
    assert outcome.forecast["ds"].min() == history["ds"].iloc[83]  # forecasts start where the held-out data does
    assert set(outcome.holdout) == {"prophet", "naive"}
    naive = outcome.holdout["naive"]
    expected = np.mean(np.abs(history["y"].iloc[83:].to_numpy() - history["y"].iloc[82]))
    assert naive["mae"] == pytest.approx(expected)
    held_out = history["y"].iloc[83:].to_numpy()
    winner = outcome.holdout[outcome.model_name]
    assert winner["mae"] == pytest.approx(np.mean(np.abs(held_out - outcome.forecast["yhat"].to_numpy())))
    inside = (held_out >= outcome.forecast["yhat_lower"]) & (held_out <= outcome.forecast["yhat_upper"])
    assert winner["coverage"] == pytest.approx(inside.mean())
    width = outcome.forecast["yhat_upper"] - outcome.forecast["yhat_lower"]
    assert winner["interval_width"] == pytest.approx(width.mean()) and width.min() > 0
    assert outcome.fit_seconds > 0  # a modelled series' time, as the failed one's fallback has its own


def test_the_holdout_is_the_last_horizons_periods_across_a_gap_as_the_folds_count_them(fast_config):
    # days 85 and 86 missing: the last 7 rows reached back to day 81, and the forecast of
    # days 81-87 left days 88 and 89 unscored
    full = daily_series(90, seed=8)
    history = full.drop(index=[85, 86]).reset_index(drop=True)
    outcome = train_series(history, fast_config("selection.candidates=[naive]"), holdout=7)
    assert outcome.history_length == 83 and outcome.history_end == full["ds"].iloc[82]
    assert outcome.forecast["ds"].tolist() == full["ds"].iloc[83:].tolist()
    held_out = full["y"].iloc[[83, 84, 87, 88, 89]].to_numpy()  # every held-out row, none past the forecast
    assert outcome.holdout["naive"]["mae"] == pytest.approx(np.mean(np.abs(held_out - full["y"].iloc[82])))


def test_the_run_date_keeps_a_week_still_open_out_of_the_model_and_its_holdout(fast_config):
    # daily sales to Wednesday 10 April, modelled by weeks ending on Sunday: the week of
    # 14 April has three days, and summed it looked like a collapse in demand
    history = daily_series(101, start="2024-01-01")
    assert history["ds"].iloc[-1] == pd.Timestamp("2024-04-10")
    config = fast_config("forecast.frequency=W", "forecast.horizon=2", "forecast.min_history=6",
                         "selection.candidates=[naive]")
    outcome = train_series(history, config, run_date="2024-04-10")
    assert outcome.history_end == pd.Timestamp("2024-04-07")
    assert outcome.forecast["ds"].iloc[0] == pd.Timestamp("2024-04-14")  # the open week is forecast, not modelled
    last_week = history[(history["ds"] > pd.Timestamp("2024-03-31")) & (history["ds"] <= pd.Timestamp("2024-04-07"))]
    assert outcome.forecast["yhat"].iloc[0] == pytest.approx(last_week["y"].sum())
    assert "the last period 2024-04-14 is still open on the run date 2024-04-10: its 3 rows left out" in outcome.notes
    # without a run date (direct callers) the partial week is the last one, as before
    assert train_series(history, config).history_end == pd.Timestamp("2024-04-14")
    # evaluation mode holds out whole weeks only
    evaluated = train_series(history, config, holdout=2, run_date="2024-04-10")
    assert evaluated.history_end == pd.Timestamp("2024-03-24") and set(evaluated.holdout) == {"naive"}


@pytest.mark.parametrize("policy", ["cleaning.missing_values=interpolate", "cleaning.gaps=interpolate"])
def test_the_evaluation_learns_nothing_from_held_out_values_through_interpolation(fast_config, policy):
    # three values missing just before the held-out week, which jumps by 500: interpolated
    # over the whole series they had climbed towards it, and the naive forecast with them
    history = daily_series(60, seed=3)
    history.loc[53:, "y"] += 500
    history = history.assign(y=history["y"].mask(history.index.isin([50, 51, 52])))
    if "gaps" in policy:
        history = history.dropna()
    config = fast_config("selection.candidates=[naive]", policy)
    outcome = train_series(history, config, holdout=7)
    before = history["y"].iloc[49]
    assert outcome.forecast["yhat"].iloc[0] == pytest.approx(before)  # as if the rows after it were never seen
    held_out = history["y"].iloc[-7:].to_numpy()
    assert outcome.holdout["naive"]["mae"] == pytest.approx(np.mean(np.abs(held_out - before)))
    assert ("evaluation: 3 periods before the held-out ones cleaned from the earlier rows alone, not from values "
            "drawn from the held-out ones") in outcome.notes
    # the same series trained for production keeps its interpolation
    assert train_series(history, config).cleaned["y"].iloc[52] > before + 300


@pytest.mark.parametrize("settings, make", [
    # a negative value dropped just before the held-out rows leaves a gap, interpolated
    (["cleaning.negative_values=drop", "cleaning.gaps=interpolate"], lambda y: y.where(y.index != 26, -5.0)),
    # a missing value, then a missing period: interpolated first, zero-filled after
    (["cleaning.missing_values=interpolate", "cleaning.gaps=zero"],
     lambda y: y.where(y.index != 25, np.nan).drop(index=26)),
])
def test_policies_combined_draw_nothing_from_held_out_values_either(fast_config, settings, make):
    ds = pd.date_range("2024-01-01", periods=30, freq="D")
    y = make(pd.Series(np.r_[np.arange(27.0), [1000.0] * 3]))  # the held-out days jump
    history = pd.DataFrame({"ds": ds[y.index], "y": y.to_numpy()})
    config = fast_config("selection.candidates=[naive]", "forecast.horizon=3", "cross_validation.folds=1",
                         "forecast.min_history=10", *settings)
    outcome = train_series(history, config, holdout=3)
    modelled = outcome.cleaned["y"].to_numpy()[:-3]
    assert modelled.max() <= 25.0, modelled  # nothing pulled towards the held-out 1000s
    assert outcome.forecast["yhat"].iloc[0] == modelled[-1]


def test_an_evaluation_whose_earlier_rows_hold_no_value_says_why_they_were_left_out(fast_config):
    ds = pd.date_range("2024-01-01", periods=40, freq="D")
    config = fast_config("selection.candidates=[naive]", "forecast.horizon=3", "cross_validation.folds=1",
                         "forecast.min_history=10", "cleaning.missing_values=zero")
    outcome = train_series(pd.DataFrame({"ds": ds, "y": np.r_[[np.nan] * 37, [5.0, 6.0, 7.0]]}), config, holdout=3)
    assert outcome.status == SKIPPED  # the zeros were drawn from nothing the run could have known
    assert "evaluation: 37 periods before the held-out ones left out: no values: all 37 are missing or infinite" in (
        outcome.notes)


def test_a_dropped_negative_among_the_held_out_rows_is_not_scored_as_its_interpolated_guess(fast_config):
    ds = pd.date_range("2024-01-01", periods=30, freq="D")
    y = np.r_[np.arange(27.0), 0.0, -5.0, 1000.0]
    config = fast_config("selection.candidates=[naive]", "forecast.horizon=3", "cross_validation.folds=1",
                         "forecast.min_history=10", "cleaning.negative_values=drop", "cleaning.gaps=interpolate")
    outcome = train_series(pd.DataFrame({"ds": ds, "y": y}), config, holdout=3)
    assert outcome.holdout["naive"]["mae"] == pytest.approx(np.mean([abs(0 - 26), abs(1000 - 26)]))


def test_a_held_out_period_filled_by_interpolation_is_not_scored_but_one_filled_with_zero_is(fast_config):
    history = daily_series(60, seed=4)
    missing = history.assign(y=history["y"].mask(history.index == 56))  # among the held-out week
    interpolated = train_series(missing, fast_config("selection.candidates=[naive]",
                                                     "cleaning.missing_values=interpolate"), holdout=7)
    scored = history["y"].iloc[53:].drop(index=56).to_numpy()
    last = history["y"].iloc[52]
    assert interpolated.holdout["naive"]["mae"] == pytest.approx(np.mean(np.abs(scored - last)))
    assert "evaluation: 1 held-out periods filled by interpolation not scored" in interpolated.notes
    zero = train_series(missing, fast_config("selection.candidates=[naive]", "cleaning.missing_values=zero"),
                        holdout=7)
    with_zero = history["y"].iloc[53:].to_numpy().copy()
    with_zero[3] = 0.0
    assert zero.holdout["naive"]["mae"] == pytest.approx(np.mean(np.abs(with_zero - last)))


def test_a_seasonal_winner_scored_as_naive_in_its_early_folds_says_so(fast_config):
    # 120 weeks with a yearly cycle: the whole history holds two cycles of 52, the first
    # two folds' parts (81 and 94 weeks) do not, and were scored as naive there
    ds = pd.date_range("2020-01-06", periods=120, freq="W-MON")
    y = 100 + 30 * np.sin(2 * np.pi * np.arange(120) / 52) + np.random.default_rng(0).normal(0, 3, 120)
    config = fast_config("forecast.frequency=W-MON", "forecast.horizon=13", "cross_validation.folds=3",
                         "selection.candidates=[seasonal_naive, naive]")
    outcome = train_series(pd.DataFrame({"ds": ds, "y": y}), config)
    assert outcome.model_name == "seasonal_naive"
    np.testing.assert_allclose(outcome.forecast["yhat"], y[120 - 52:120 - 52 + 13])  # its cycle repeated
    assert ("seasonal_naive scored as naive in 2 of 3 cross-validation folds (shorter than two cycles), "
            "forecast repeating its cycle") in outcome.notes


def test_the_forecast_reaches_every_held_out_row_across_a_gap_just_before_them(fast_config):
    # days 80-82 missing, just before the last 7 days: training ends on day 79, and a
    # forecast of 7 days from there had left days 87-89 unscored, silently
    full = daily_series(90, seed=8)
    history = full.drop(index=[80, 81, 82]).reset_index(drop=True)
    config = fast_config("selection.candidates=[naive, prophet]")
    outcome = train_series(history, config, holdout=7)
    assert outcome.history_end == full["ds"].iloc[79]
    assert outcome.forecast["ds"].tolist() == full["ds"].iloc[80:].tolist()  # on to the last held-out day
    held_out = full["y"].iloc[83:].to_numpy()
    assert outcome.holdout["naive"]["mae"] == pytest.approx(np.mean(np.abs(held_out - full["y"].iloc[79])))
    assert np.isfinite(outcome.holdout["prophet"]["mae"])
    # a skipped series' fallback reaches them too: one held-out day after a long gap
    sparse = full.drop(index=range(60, 89)).reset_index(drop=True)
    skipped = train_series(sparse, fast_config("forecast.min_history=100"), holdout=7)
    assert skipped.status == "skipped" and skipped.forecast["ds"].iloc[-1] == full["ds"].iloc[89]
    [(name, scores)] = skipped.holdout.items()
    assert name == "fallback_seasonal_naive" and np.isfinite(scores["mae"])


def test_cross_validated_mase_is_scaled_by_periods_a_season_apart_across_a_gap(fast_config):
    # a straight line: values a week apart always differ by 7, which rows a week apart do not across a gap
    line = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=60), "y": np.arange(60.0)}).drop(index=10)
    config = fast_config()
    scores, _ = tuning.cross_validate_predictions(line, config, tuning.baseline_forecaster(config, "naive"))
    assert scores["mase"] == pytest.approx(scores["mae"] / 7)


def test_mase_after_a_flat_history_is_undefined_even_for_a_perfect_forecast(fast_config):
    # the evaluation leaves undefined scores out of its means: a 0 would pull them down
    flat = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=60), "y": 5.0})
    [(name, scores)] = train_series(flat, fast_config(), holdout=7).holdout.items()
    assert name.startswith("fallback_") and scores["mae"] == 0.0 and np.isnan(scores["mase"])
    changed = flat.assign(y=lambda f: f["y"].where(f.index < 53, 6.0))
    [(_, scores)] = train_series(changed, fast_config(), holdout=7).holdout.items()
    assert scores["mae"] == 1.0 and np.isnan(scores["mase"])


def test_the_array_backend_fits_exactly_what_prophets_own_backend_fits(fast_config):
    from prophet.models import CmdStanPyBackend

    config = fast_config("model.optimizer=stan")
    history = daily_series(80, seed=8)
    ours = tuning.model.fit(history, config, {}, 0)
    stock = tuning.model.build_model(config, {}, 0)
    stock.stan_backend = CmdStanPyBackend()
    stock.fit(history)
    assert type(ours.stan_backend) is not CmdStanPyBackend
    for name in ("k", "m", "delta", "beta", "sigma_obs"):
        np.testing.assert_array_equal(ours.params[name], stock.params[name])


def test_when_lbfgs_fails_bfgs_reaches_newtons_optimum_without_newton(fast_config, monkeypatch):
    from prophet.models import CmdStanPyBackend

    algorithms = []
    stock_fit = CmdStanPyBackend.fit

    def recording_fit(self, stan_init, stan_data, **kwargs):
        algorithms.append(kwargs.get("algorithm", "default"))
        return stock_fit(self, stan_init, stan_data, **kwargs)

    monkeypatch.setattr(CmdStanPyBackend, "fit", recording_fit)
    config = fast_config("model.optimizer=stan")
    history = daily_series(120, seed=0)
    tight = {"changepoint_prior_scale": 0.001, "seasonality_prior_scale": 0.1}  # L-BFGS stalls at the start
    ours = tuning.model.fit(history, config, tight, 0)
    assert algorithms == ["default", "BFGS"]

    algorithms.clear()
    stock = tuning.model.build_model(config, tight, 0)
    stock.stan_backend = CmdStanPyBackend()  # Prophet's own fallback: Newton from its start
    stock.fit(history)
    assert algorithms == ["default"]  # it retries inside the same call
    ours_forecast = tuning.model.predict(ours, 14, "D", seed=0)["yhat"]
    stock_forecast = tuning.model.predict(stock, 14, "D", seed=0)["yhat"]
    np.testing.assert_allclose(ours_forecast, stock_forecast, rtol=0.005)


def test_fits_leave_no_files_behind_in_cmdstanpys_temp_directory(fast_config):
    import os

    import cmdstanpy

    config = fast_config("model.optimizer=stan")
    history = daily_series(60, seed=9)
    tuning.model.fit(history, config, {}, 0)  # cmdstanpy's folder exists from here on
    before = set(os.listdir(cmdstanpy._TMPDIR))
    for size in (40, 50, 60):
        tuning.model.fit(history.iloc[:size], config, {}, 0)
    assert set(os.listdir(cmdstanpy._TMPDIR)) == before


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
def test_cached_component_layouts_forecast_exactly_what_prophet_does(fast_config, mode, monkeypatch):
    from prophet import Prophet

    monkeypatch.setattr(prophet_speedups, "_COMPONENT_LAYOUTS", {})  # none cached by earlier tests
    worked_out = []  # Prophet's own layouts made for our models
    own = Prophet.regressor_column_matrix

    def counted(self, *args, **kwargs):
        if type(self) is not Prophet:
            worked_out.append(1)
        return own(self, *args, **kwargs)

    monkeypatch.setattr(Prophet, "regressor_column_matrix", counted)
    config = fast_config("model.country_holidays=US")
    history = daily_series(400, seed=11)
    layouts, made = [], []
    for prior in (0.05, 0.5):  # the second model finds its layouts cached
        params = {"seasonality_mode": mode, "changepoint_prior_scale": prior}
        ours = tuning.model.fit(history, config, params, 0)
        plain = tuning.model.build_model(config, params, 0, history["ds"])
        plain.__class__ = Prophet  # the same settings and backend, Prophet's own bookkeeping
        plain.fit(history)
        future = plain.make_future_dataframe(30)
        expected, got = plain.predict(future), ours.predict(future)
        layouts.append(len(prophet_speedups._COMPONENT_LAYOUTS))
        made.append(len(worked_out))
        assert type(ours) is not Prophet and list(got.columns) == list(expected.columns)
        for column in ("yhat", "holidays", "weekly", "additive_terms", "multiplicative_terms"):
            np.testing.assert_array_equal(got[column], expected[column])
    assert made[0] == layouts[0] > 0 and made[1] == made[0] and layouts[1] == layouts[0]  # none made again


def test_the_heap_a_process_built_for_its_first_series_is_frozen_out_of_garbage_collection(fast_config, monkeypatch):
    from forecasting import series

    monkeypatch.setattr(series, "_series_started", 0)  # as in a fresh process
    gc.unfreeze()
    config = fast_config("selection.candidates=[naive]")
    train_series(daily_series(120), config)
    assert gc.get_freeze_count() == 0  # not yet: the first series is still loading what it needs
    train_series(daily_series(120), config)
    assert gc.get_freeze_count() > 0


def test_to_datetime_no_longer_samples_datetimes_for_its_cache_but_still_caches_text(fast_config):
    from pandas.core.tools import datetimes

    tuning.model.fit(daily_series(60), fast_config(), {}, 0)  # building a model installs it
    # few distinct values: pandas 2 would sample these and choose to cache
    hourly = pd.Series(pd.date_range("2024-01-01", periods=100, freq="h"), name="ds").repeat(9)
    assert not datetimes.should_cache(hourly)
    assert not datetimes.should_cache(hourly.dt.tz_localize("UTC"))
    assert not datetimes.should_cache(pd.DatetimeIndex(hourly))
    text = hourly.dt.strftime("%Y-%m-%d %H:%M")
    assert datetimes.should_cache(text)
    pd.testing.assert_series_equal(pd.to_datetime(hourly), hourly)
    pd.testing.assert_series_equal(pd.to_datetime(text), pd.to_datetime(text, cache=False))


def test_the_selection_metric_decides_the_winner(fast_config, monkeypatch):
    # cross-validated scores where naive misses rarely but far, drift often but near
    scores = {
        "naive": {"mae": 1.0, "rmse": 5.0, "smape": 2.0, "mase": 0.5},
        "drift": {"mae": 2.0, "rmse": 2.5, "smape": 3.0, "mase": 1.0},
    }
    monkeypatch.setattr(tuning, "baseline_forecaster", lambda config, name: name)
    monkeypatch.setattr(tuning, "cross_validate_predictions",
                        lambda history, config, forecaster, folds=None: (scores[forecaster], {}))
    history = daily_series(60)
    unwrapped = "forecast.floor=null"  # the forecasters stay the names scored above
    for metric, winner in (("mae", "naive"), ("rmse", "drift"), ("smape", "naive")):
        config = fast_config("selection.candidates=[naive, drift]", f"tuning.metric={metric}", unwrapped)
        outcome = train_series(history, config)
        assert (outcome.model_name, outcome.cv_metrics) == (winner, scores[winner]), metric
        # selection by a metric of its own, whatever the tuning minimises
        config = fast_config("selection.candidates=[naive, drift]", "tuning.metric=mase", f"selection.metric={metric}",
                             unwrapped)
        assert train_series(history, config).model_name == winner, metric
        expected = BASELINES[winner](history, config.forecast.horizon, config.forecast.frequency, 0.8)
        np.testing.assert_allclose(outcome.forecast["yhat"], expected["yhat"])


def test_the_search_space_can_choose_growth_and_seasonalities_over_the_model_settings(fast_config):
    config = fast_config(
        "tuning.search_space.growth={distribution: choice, values: [flat]}",
        "tuning.search_space.weekly_seasonality={distribution: choice, values: [2]}",
    )
    assert config.model.growth == "linear"  # the fixed setting the tuned value replaces
    outcome = train_series(daily_series(60, seed=12), config)
    assert outcome.status == OK
    assert (outcome.best_params["growth"], outcome.best_params["weekly_seasonality"]) == ("flat", 2)
    assert outcome.model.growth == "flat" and outcome.model.seasonalities["weekly"]["fourier_order"] == 2


def test_a_forecast_of_zeros_for_a_series_whose_recent_values_are_not_says_so_and_what_ranked_it(fast_config):
    # low counts, a quiet last week: sMAPE scores seasonal_naive's zeros best, MASE Prophet's
    rng = np.random.default_rng(3)
    y = rng.poisson(0.35, 140).astype(float)
    y[-7:] = 0
    counts = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=140, freq="D"), "y": y})
    candidates = "selection.candidates=[prophet, seasonal_naive, naive, drift]"
    by_smape = train_series(counts, fast_config("tuning.metric=smape", candidates))
    assert by_smape.model_name == "seasonal_naive" and (by_smape.forecast["yhat"] == 0).all()
    recent = y[-14:].mean()  # two weeks: the horizon (7) or two seasons, the longer
    assert (f"forecast 0 throughout, where the last 14 values average {recent:.3g} (ranked by sMAPE, which scores a "
            "0 forecast of a 0 as perfect and any other as its worst: by MASE, prophet would have won; "
            "tuning.metric: mase)") in by_smape.notes
    by_mase = train_series(counts, fast_config("tuning.metric=mase", candidates))
    assert by_mase.model_name == "prophet" and not [note for note in by_mase.notes if "forecast 0" in note]
    # zeros forecast where the recent values were zeros too: nothing to say
    quiet = counts.assign(y=np.where(np.arange(140) >= 120, 0.0, y))
    assert not [note for note in train_series(quiet, fast_config("tuning.metric=smape", candidates)).notes
                if "forecast 0" in note]


def test_a_slow_movers_forecast_of_zeros_after_a_quiet_fortnight_is_noted(fast_config):
    # a walk-through of 12-07: 40 sales in two years, none in the last 14 days (as likely as not at its pace):
    # forecast 0 for its 14 days without a note, the recent values it was weighed against being those zeros
    y = np.zeros(730)
    y[np.random.default_rng(5).choice(np.arange(716), 40, replace=False)] = 1.0
    slow = pd.DataFrame({"ds": pd.date_range("2023-01-01", periods=730, freq="D"), "y": y})
    outcome = train_series(slow, fast_config("tuning.metric=smape", "selection.candidates=[seasonal_naive, naive]"))
    assert (outcome.forecast["yhat"] == 0).all()
    quiet = 730 - 1 - int(np.flatnonzero(y)[-1])
    [note] = [note for note in outcome.notes if "forecast 0 throughout" in note]
    assert note.startswith(f"forecast 0 throughout, where the last {quiet + 14} values average "
                           f"{y[-(quiet + 14):].mean():.3g} (ranked by sMAPE")
    from forecasting.forecast_notes import recent_values

    # a series that sold most days and then 14 in a row nothing: a stop, as unlikely by chance; weighed on those
    assert recent_values(pd.Series(np.r_[np.ones(100), np.zeros(14)]), 14).sum() == 0


def test_a_forecast_of_zeros_for_a_series_whose_rows_stopped_says_nothing(fast_config):
    # weekly sales whose rows stopped ten weeks before the run date (a product delisted), zeros filled up to
    # it (cleaning.gaps: zero): 0 is its forecast, not a forecast of nothing
    y = np.random.default_rng(4).poisson(50, 80).astype(float)
    weeks = pd.DataFrame({"ds": pd.date_range("2024-01-07", periods=80, freq="W-SUN"), "y": y})
    config = fast_config("forecast.frequency=W-SUN", "forecast.horizon=4", "selection.candidates=[naive]",
                         "cleaning.gaps=zero")
    run_date = (weeks["ds"].iloc[-1] + pd.Timedelta(weeks=10)).date().isoformat()
    stopped = train_series(weeks, config, run_date=run_date, input_end=run_date)
    assert stopped.status == OK and (stopped.forecast["yhat"] == 0).all()
    assert [note for note in stopped.notes if note.startswith("rows stopped")]
    assert not [note for note in stopped.notes if "forecast 0" in note]
    # the same zeros as rows of their own (an outage recorded, or a feed sending zeros): said, as ever
    recorded = pd.concat([weeks, pd.DataFrame({"ds": pd.date_range(weeks["ds"].iloc[-1], periods=11, freq="W-SUN")[1:],
                                               "y": 0.0})], ignore_index=True)
    outage = train_series(recorded, config, run_date=run_date, input_end=run_date)
    assert (outage.forecast["yhat"] == 0).all() and [note for note in outage.notes if "forecast at 0" in note]


def test_unsettled_periods_are_forecast_and_not_fitted(fast_config):
    history = daily_series(90)  # 2024-01-01 to 2024-03-30, the last days' counts still growing
    config = fast_config("cleaning.unsettled_periods=2")
    outcome = train_series(history, config, run_date="2024-03-30")
    assert outcome.status == OK, outcome.reason
    assert outcome.history_end == pd.Timestamp("2024-03-27")
    assert outcome.forecast["ds"].iloc[0] == pd.Timestamp("2024-03-28")  # the unsettled days forecast first
    assert len(outcome.forecast) == config.forecast.horizon


def test_a_series_that_ends_in_zeros_is_not_told_its_forecast_of_zeros_comes_from_the_metric(fast_config):
    # a discontinued item's last weeks of 0: naive forecasts 0 whatever the metric, so "tuning.metric: mase" changed
    # nothing (the walk-through of 12-07), nor is it counted with the forecasts of nothing the metric made
    history = daily_series(100).assign(y=lambda frame: np.r_[np.full(90, 72.0), np.zeros(10)])
    outcome = train_series(history, fast_config("selection.candidates=[naive]"))
    assert outcome.status == OK and (outcome.forecast["yhat"] == 0).all()
    assert any(ZERO_RUN_NOTE in note for note in outcome.notes)
    assert not any(ZERO_FORECAST_NOTE in note for note in outcome.notes)
    assert ("forecast at 0, as its last 10 values are: whatever the metric ranks by, a model follows them"
            in outcome.notes)


def test_the_zero_forecast_note_names_only_a_model_mase_could_rank():
    from forecasting.forecast_notes import zero_forecast_notes

    zeros, nan = pd.Series([0.0] * 3), float("nan")
    scores = {"naive": {"mase": nan}, "seasonal_naive": {"mase": 0.9}, "drift": {"mase": 0.8}}
    said = zero_forecast_notes(zeros, pd.Series([0.0, 2.0]), "smape", scores, "seasonal_naive")
    assert "by MASE, drift would have won" in said[0]  # not naive, whose MASE is undefined
    undefined = {name: {"mase": nan} for name in scores}
    assert "would have won" not in zero_forecast_notes(zeros, pd.Series([1.0]), "smape", undefined, "naive")[0]
    assert zero_forecast_notes(zeros, pd.Series([1.0, -3.0]), "smape", scores, "naive") == []  # recent mean below 0
    assert zero_forecast_notes(pd.Series([], dtype=float), pd.Series([1.0]), "smape", scores, "naive") == []
    assert zero_forecast_notes(zeros, pd.Series([1.0]), "mase", scores, "drift") == [
        "forecast 0 throughout, where the last 1 values average 1"]  # no metric to blame


def test_a_cycle_repeated_with_an_outage_in_it_is_noted_as_its_forecast_repeats_the_zero(fast_config):
    from conftest import daily_series

    history = daily_series(120, level=3e6)
    config = fast_config("selection.candidates=[seasonal_naive]")
    assert not any("cycles before" in note for note in train_series(history, config).notes)
    history.loc[115, "y"] = 0.0  # a day of the last week without traffic: an outage
    outcome = train_series(history, config)
    assert (outcome.forecast["yhat"] == 0).sum() == 1  # the zero recurs a week on
    (note,) = [note for note in outcome.notes if "cycles before" in note]
    assert note.startswith("seasonal_naive repeats 1 value of its last cycle far from that time's in the cycles "
                           "before (2024-04-25: 0, against ")
    assert note.endswith("in 6 cycles): an outage or a one-off, forecast as if it recurred? A value that did not "
                         "happen is best given as missing")
    # given as missing, the week before's value is repeated instead
    missing = train_series(history.assign(y=history["y"].replace(0.0, float("nan"))), config)
    assert (missing.forecast["yhat"] > 0).all() and not any("cycles before" in n for n in missing.notes)


def test_a_sunny_hour_of_a_meter_feeding_in_is_no_oddity_of_its_repeated_cycle():
    from forecasting.forecast_notes import repeated_oddity_notes

    # a household meter with solar panels: its midday hours below 0, the sunniest day of the last week the lowest
    rng = np.random.default_rng(5)
    ds = pd.date_range("2026-10-01", periods=24 * 7 * 8, freq="h")
    midday = np.isin(ds.hour, [11, 12, 13])
    y = np.where(midday, -rng.uniform(1, 7, len(ds)), rng.uniform(0.3, 1.8, len(ds)))
    y[-24 * 3 + 12] = -13.4
    history = pd.DataFrame({"ds": ds, "y": y})
    assert repeated_oddity_notes("weekly_naive", history, "h") == []
    y[-24 * 3 + 20] = 40.0  # an evening far above any evening before: a one-off, said
    assert "(2026-11-23 20:00: 40, against " in repeated_oddity_notes("weekly_naive", history.assign(y=y), "h")[0]
    # a meter that only feeds in, every value below 0: a 0 at noon is its outage, said as for a positive series
    export = pd.DataFrame({"ds": ds, "y": -rng.uniform(3, 7, len(ds))})
    assert repeated_oddity_notes("weekly_naive", export, "h") == []
    export.loc[len(ds) - 24 * 3 + 12, "y"] = 0.0
    assert "(2026-11-23 12:00: 0, against " in repeated_oddity_notes("weekly_naive", export, "h")[0]
