"""The checks of tuning.search_space's entries and of Prophet's model settings: each
distribution with what it reads, and values Prophet takes, so that no series' evaluations
fail on a value drawn from them."""
from __future__ import annotations

import math
from typing import Any

from forecasting.config_schema import DISTRIBUTIONS, GROWTHS, MODEL_SETTINGS, PARAM_VALUES, TUNABLE_PARAMS, ParamSpace
from forecasting.config_schema import require as _require


def validate_model_setting(key: str, name: str, value: Any) -> None:
    if name == "growth":
        _require(value in GROWTHS, key, f"must be one of {GROWTHS}")
        return
    _require(
        value == "auto" or isinstance(value, bool) or (isinstance(value, int) and value > 0),
        key, "must be auto, true, false or a positive number of Fourier terms",
    )


def validate_space(name: str, space: ParamSpace) -> None:
    key = f"tuning.search_space.{name}"
    _require(name in TUNABLE_PARAMS, key, f"is not a tunable Prophet parameter {TUNABLE_PARAMS}")
    _require(space.distribution in DISTRIBUTIONS, f"{key}.distribution", f"must be one of {DISTRIBUTIONS}")
    if name in MODEL_SETTINGS:
        _require(space.distribution == "choice", f"{key}.distribution", "must be choice for a model setting")
    if name in PARAM_VALUES:
        _require(space.distribution == "choice", f"{key}.distribution", f"must be choice of {PARAM_VALUES[name]}")
    # values are drawn from with choice alone: with another distribution they were ignored
    _require(space.distribution == "choice" or space.values is None, f"{key}.values",
             f"are read with distribution choice only, not {space.distribution}: set distribution: choice, or "
             "values: null for the range low-high")
    _require(space.distribution == "quniform" or space.q is None, f"{key}.q",
             f"is read with distribution quniform only, not {space.distribution}: set distribution: quniform, or "
             "q: null")
    if space.distribution == "choice":
        _require(bool(space.values), f"{key}.values", "needs at least one value")
        for i, value in enumerate(space.values):
            if name in MODEL_SETTINGS:
                validate_model_setting(f"{key}.values[{i}]", name, value)
            else:
                _validate_param_value(f"{key}.values[{i}]", name, value)
        return
    # a continuous draw would be cut to a whole number, silently: 30.9 changepoints are 30
    _require(name != "n_changepoints" or space.distribution == "quniform", f"{key}.distribution",
             "must be choice or quniform (with a whole q) for a whole number")
    _require(name != "n_changepoints" or space.q is None or float(space.q).is_integer(), f"{key}.q",
             "must be a whole number for a whole number of changepoints")
    _require(space.low is not None and space.high is not None, key, "needs low and high")
    _require(space.low < space.high, key, "needs low < high")
    _validate_param_value(f"{key}.low", name, space.low)
    _validate_param_value(f"{key}.high", name, space.high)
    if space.distribution == "loguniform":
        _require(space.low > 0, f"{key}.low", "must be positive for loguniform")
    if space.distribution == "quniform":
        _require(space.q is not None and space.q > 0, f"{key}.q", "must be positive for quniform")
        for end in (space.low, space.high):  # Hyperopt rounds every draw to a multiple of q
            reached = round(end / space.q) * space.q
            problem = _param_problem(name, reached)
            _require(problem is None, f"{key}.q", f"rounds {end} to {reached}, where the parameter {problem}: "
                     "make low and high multiples of q")
        # a draw rounded past an end leaves the range asked for (0.1-0.9 by 0.5: 0, 0.5 or 1), and a q
        # wider than the range leaves one value (1-3 by 10: always 0)
        # draws lie strictly inside low-high: an end half a q off a multiple rounds inwards (5-30 by 2: 6 to 30)
        lowest = math.floor(space.low / space.q + 0.5) * space.q
        highest = math.ceil(space.high / space.q - 0.5) * space.q
        slack = space.q * 1e-9
        _require(lowest >= space.low - slack and highest <= space.high + slack and lowest < highest, f"{key}.q",
                 f"is {space.q:g}: Hyperopt rounds each draw from {space.low:g}-{space.high:g} to a multiple of it, so "
                 f"the draws reach {lowest:g}-{highest:g}: make low and high multiples of q, at least one q apart")


def _validate_param_value(key: str, name: str, value: Any) -> None:
    """What Prophet accepts for a tuned parameter: checked here, since a value it
    refuses would fail every series' evaluations that draw it."""
    problem = _param_problem(name, value)
    _require(problem is None, key, problem or "")


def _param_problem(name: str, value: Any) -> str | None:
    """Why Prophet refuses a tuned parameter's value, or None when it takes it."""
    if name in PARAM_VALUES:
        return None if value in PARAM_VALUES[name] else f"must be one of {PARAM_VALUES[name]}"
    # infinity is no number to draw from: Hyperopt's range overflows, failing every series
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if name == "changepoint_range":
        return None if number and 0 <= value <= 1 else "must be a number from 0 to 1"
    if name == "n_changepoints":
        whole = number and value >= 0 and float(value).is_integer()
        return None if whole else "must be a whole number, 0 or more"
    return None if number and value > 0 else "must be a positive number"  # the prior scales
