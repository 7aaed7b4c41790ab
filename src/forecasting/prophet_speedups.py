"""Prophet's fixed costs per fit, cut without changing a fit (see docs/performance.md, Levers).

- ``with_cached_components``: Prophet works out which feature columns make which
  forecast component on every fit and prediction; once per layout instead. Its
  holiday features are made a column at a time, not a holiday's row at a time.
- ``skip_cache_check_for_datetimes``: pandas 2's ``to_datetime`` samples datetime
  input for a cache it cannot use; skipped, as pandas 3 does.
- ``reuse_country_holidays``: a country's holidays worked out once per process.
Each changes a function of pandas or Prophet for the whole process, once.
"""
from __future__ import annotations

import copy
import functools
import json

import numpy as np
import pandas as pd

# Component layouts seen by this process, keyed by everything that shapes them.
_COMPONENT_LAYOUTS: dict[tuple, tuple] = {}
MAX_COMPONENT_LAYOUTS = 256
MAX_HOLIDAY_FRAMES = 256  # a country's holidays for a list of years, kept per process


def with_cached_components(prophet_class: type) -> type:
    """``prophet_class`` (Prophet), working out which feature columns make which
    forecast component once per distinct layout instead of on every fit and every
    prediction; the process's pandas and Prophet changed as below, first.

    Prophet builds that table (regressor_column_matrix) with pandas crosstabs:
    over a third of a whole fit's time on hourly series, for a result that only
    depends on the names of the features, their modes and the holidays. Models
    stay plain Prophet models otherwise (prophet.serialize reads them back as such)."""
    skip_cache_check_for_datetimes()
    reuse_country_holidays()

    class CachedComponentsProphet(prophet_class):
        def regressor_column_matrix(self, seasonal_features, modes):
            trained = self.train_component_cols
            key = (
                tuple(seasonal_features.columns),
                json.dumps(modes, sort_keys=True),
                None if self.train_holiday_names is None else tuple(self.train_holiday_names),
                self.holidays_mode,
                tuple((name, props["mode"]) for name, props in self.extra_regressors.items()),
                None if trained is None else (tuple(trained.columns), trained.to_numpy().tobytes()),
            )
            if key not in _COMPONENT_LAYOUTS:
                if len(_COMPONENT_LAYOUTS) >= MAX_COMPONENT_LAYOUTS:
                    _COMPONENT_LAYOUTS.clear()
                _COMPONENT_LAYOUTS[key] = super().regressor_column_matrix(seasonal_features, copy.deepcopy(modes))
            component_cols, filled_modes = _COMPONENT_LAYOUTS[key]
            modes.clear()  # Prophet's own fills in the caller's dict
            modes.update(copy.deepcopy(filled_modes))
            return component_cols.copy(), modes

        def make_holiday_features(self, dates, holidays):
            """Prophet's own, from arrays where the holidays have no prior scales of their
            own (a country's, holiday_periods'): a weekly model's ten years of holidays
            ahead took Prophet's loop 18 ms a fit and as long a prediction."""
            if (holidays.empty or not set(holidays.columns) <= {"holiday", "ds", "lower_window", "upper_window"}
                    or self.holidays_prior_scale <= 0):
                return super().make_holiday_features(dates, holidays)
            return holiday_features(self, dates, holidays)

    return CachedComponentsProphet


def holiday_features(model, dates: pd.Series, holidays: pd.DataFrame) -> tuple[pd.DataFrame, list, list]:
    """What Prophet.make_holiday_features(dates, holidays) gives for holidays without
    prior scales of their own: a column for each holiday and day of its window, in
    Prophet's sorted order, 1 on each row whose day it marks (every hour of that day;
    holiday_periods.feature_days), its names in the order they first come, and the fit's
    names kept on the model as Prophet keeps them."""
    from forecasting.holiday_periods import feature_days

    days = dates.dt.normalize().to_numpy("datetime64[D]")
    features = pd.DataFrame({key: np.isin(days, marked).astype(float) for key, marked in feature_days(holidays).items()})
    names = list(pd.unique(holidays["holiday"]))
    if model.train_holiday_names is None:
        model.train_holiday_names = pd.Series(names)
    return features, [float(model.holidays_prior_scale)] * features.shape[1], names


def skip_cache_check_for_datetimes() -> None:
    """Make pandas 2's to_datetime skip its caching check on input that already
    holds datetimes, as pandas 3 does (pandas GH#65380); results are unchanged.

    Prophet passes its ``ds`` column, already datetime64, through to_datetime
    two or three times a fit. Before converting, pandas 2 decides whether to
    cache by sampling the input, and iterating a datetime column boxes every
    value as a Timestamp first: 0.26 ms on 900 hourly points, 7% of a tuned
    series' CPU. Datetime input is returned as it is, so a cache cannot help."""
    from pandas.core.tools import datetimes

    sampling = datetimes.should_cache
    if int(pd.__version__.split(".")[0]) >= 3 or getattr(sampling, "skips_datetimes", False):
        return

    def should_cache(arg, *args, **kwargs) -> bool:
        dtype = getattr(arg, "dtype", None)
        if isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "M"):
            return False
        return sampling(arg, *args, **kwargs)

    should_cache.skips_datetimes = True
    datetimes.should_cache = should_cache


def reuse_country_holidays() -> None:
    """Make Prophet work out a country's holidays once per process, not on every fit.

    Each fit with ``model.country_holidays`` lists every holiday name of 50 years to
    check the names (``get_holiday_names``), and each fit and prediction builds the
    holidays of its years (``make_holidays_df``), both with the holidays package:
    about 30 ms a fit, a third of a daily series' tuning. Their answers depend only
    on their arguments, so each is kept, and handed out as a copy."""
    from prophet import forecaster

    if getattr(forecaster.make_holidays_df, "reused", False):
        return
    names_of, frame_of = functools.lru_cache(maxsize=64)(forecaster.get_holiday_names), {}
    build = forecaster.make_holidays_df

    def get_holiday_names(country):
        return set(names_of(country))

    def make_holidays_df(year_list, country, province=None, state=None):
        key = (tuple(year_list), country, province, state)  # the years in the caller's order, as Prophet's rows
        if key not in frame_of:
            if len(frame_of) >= MAX_HOLIDAY_FRAMES:
                frame_of.clear()
            frame_of[key] = build(year_list=year_list, country=country, province=province, state=state)
        return frame_of[key].copy()

    make_holidays_df.reused = True
    forecaster.get_holiday_names, forecaster.make_holidays_df = get_holiday_names, make_holidays_df
