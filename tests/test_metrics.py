import math

import numpy as np
import pytest

from forecasting import metrics


def test_metrics_on_a_worked_example():
    actual, predicted = [10.0, 20.0, 30.0], [12.0, 18.0, 33.0]
    errors = np.array([2.0, 2.0, 3.0])
    assert metrics.mae(actual, predicted) == pytest.approx(errors.mean())
    assert metrics.rmse(actual, predicted) == pytest.approx(math.sqrt((errors**2).mean()))
    expected_smape = 200 * np.mean(errors / np.array([22.0, 38.0, 63.0]))
    assert metrics.smape(actual, predicted) == pytest.approx(expected_smape)


def test_missing_actuals_are_ignored_and_zero_over_zero_is_zero():
    assert metrics.mae([1.0, np.nan], [2.0, 100.0]) == pytest.approx(1.0)
    assert metrics.smape([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert math.isnan(metrics.rmse([np.nan], [1.0]))
    # a missing forecast is not a perfect one, in any metric
    assert all(math.isnan(fn([10.0, 20.0], [11.0, np.nan])) for fn in metrics.METRIC_FUNCTIONS.values())


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        metrics.mae([1.0, 2.0], [1.0])


def test_mase_scales_by_the_seasonal_naive_error_of_the_history():
    history = [1.0, 2.0, 3.0, 5.0, 4.0, 6.0]  # season 2: differences 2, 3, 1, 1
    scale = np.mean([2.0, 3.0, 1.0, 1.0])
    assert metrics.mase_scale(history, 2) == pytest.approx(scale)
    assert metrics.mase([10.0, 10.0], [11.0, 8.0], history, 2) == pytest.approx(1.5 / scale)
    assert metrics.mase_scale([1.0, 3.0], 24) == pytest.approx(2.0)  # shorter than a season: lag 1
    assert metrics.mase([1.0], [1.0], [5.0, 5.0, 5.0], 1) == 0.0  # a flat history and a perfect forecast
    # a season repeated but for float rounding (trial 40's synthetic data scored a MASE of 3e15): lag 1 stands in
    rounded = np.tile([100.0, 200.0, 150.0], 10) + np.tile([0.0, 1e-12, 0.0], 10) * np.arange(30)
    assert metrics.mase_scale(rounded, 3) == pytest.approx(np.mean(np.abs(np.diff(rounded))))
    assert metrics.mase_scale([7.0] * 5 + [7.0 + 1e-13] * 5, 1) == 0.0  # flat but for rounding: flat
    meter = 1e9 + np.tile([0.0, 0.5, 0.25], 10)  # a large reading's small real changes are changes
    assert metrics.mase_scale(meter, 2) == pytest.approx(np.mean(np.abs(meter[2:] - meter[:-2])))


def test_score_gives_every_point_metric_with_mase_by_the_given_scale():
    scores = metrics.score([10.0, 10.0], [11.0, 8.0], 0.5)
    assert scores == pytest.approx({"mae": 1.5, "rmse": np.sqrt(2.5), "smape": 100 * (1 / 21 + 2 / 18), "mase": 3.0})
    # a flat history's scale: any error is infinitely bad, none is perfect
    assert metrics.score([1.0], [2.0], 0.0)["mase"] == float("inf")
    assert metrics.score([1.0], [1.0], 0.0)["mase"] == 0.0
    # undefined, not infinitely bad: a missing forecast, or a history with no two values to scale by
    assert math.isnan(metrics.score([1.0], [np.nan], 0.0)["mase"])
    assert math.isnan(metrics.score([1.0], [1.0], float("nan"))["mase"])
    assert math.isnan(metrics.mase([1.0], [2.0], [5.0], 1)) and math.isnan(metrics.mase([1.0], [2.0], [np.nan] * 3, 1))


def test_coverage_and_width_of_an_interval():
    assert metrics.coverage([1.0, 5.0, 9.0, np.nan], [0.0, 6.0, 8.0, 0.0], [2.0, 7.0, 10.0, 1.0]) == pytest.approx(2 / 3)
    # no interval (uncertainty_samples: 0): nothing to cover, not a coverage of 0%
    assert np.isnan(metrics.coverage([1.0, 2.0], [np.nan, np.nan], [np.nan, np.nan]))
    assert metrics.interval_width([0.0, 1.0], [2.0, 5.0]) == pytest.approx(3.0)


def test_smape_of_signed_values_takes_each_sides_size_and_an_infinite_actual_is_no_value():
    # a forecast of +10 against -10 is as far off as sMAPE goes; |y + f| would call it perfect
    assert metrics.smape([-10.0], [10.0]) == pytest.approx(200.0)
    assert metrics.smape([-10.0, 5.0], [-8.0, 5.0]) == pytest.approx(100 * 2 / 18)
    # an infinite actual (no value cleaning let through) is left out, as a missing one
    assert metrics.mae([np.inf, 2.0], [1.0, 1.0]) == pytest.approx(1.0)


def test_a_value_on_an_intervals_bound_is_inside_and_a_one_sided_interval_is_no_interval():
    assert metrics.coverage([8.0, 12.0], [8.0, 8.0], [12.0, 12.0]) == 1.0
    # a point whose lower bound is missing was not drawn: left out, not counted in or out
    assert metrics.coverage([5.0, 5.0], [np.nan, 0.0], [10.0, 10.0]) == 1.0
    # the mean width over the points with both bounds
    assert metrics.interval_width([0.0, np.nan], [2.0, 9.0]) == pytest.approx(2.0)
