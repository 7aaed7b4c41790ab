"""A country's holidays at weekly, monthly and quarterly periods: each in the period that holds it."""
import numpy as np
import pandas as pd
import pytest

from conftest import FAST_OVERRIDES
from forecasting import holiday_periods, model, model_store
from forecasting.config import load_config


def dates_of(frame: pd.DataFrame, name: str) -> list[str]:
    return [f"{day:%Y-%m-%d}" for day in frame.loc[frame["holiday"] == name, "ds"]]


def test_each_holiday_is_dated_by_the_period_that_holds_it():
    weeks = pd.Series(pd.date_range("2023-01-02", "2025-12-29", freq="W-MON"))
    # Christmas 2024 is a Wednesday: in the week ending Monday the 30th (W-MON), or Sunday the 29th (W-SUN)
    assert "2024-12-30" in dates_of(holiday_periods.period_holidays("US", "W-MON", weeks), "Christmas Day")
    sundays = pd.Series(pd.date_range("2023-01-01", "2025-12-28", freq="W-SUN"))
    assert "2024-12-29" in dates_of(holiday_periods.period_holidays("US", "W-SUN", sundays), "Christmas Day")
    # 7-day steps counted from the history's first date, a Thursday here: the week from the 19th
    thursdays = pd.Series(pd.date_range("2023-01-05", periods=150, freq="7D"))
    assert "2024-12-19" in dates_of(holiday_periods.period_holidays("US", "7D", thursdays), "Christmas Day")
    # Easter moves between months and quarters: Good Friday was 29 March 2024 and 18 April 2025
    months = pd.Series(pd.date_range("2020-01-01", "2025-12-01", freq="MS"))
    assert {"2024-03-01", "2025-04-01"} <= set(dates_of(holiday_periods.period_holidays("GB", "MS", months), "Good Friday"))
    quarters = pd.Series(pd.date_range("2016-01-01", "2025-10-01", freq="QS"))
    assert {"2024-01-01", "2025-04-01"} <= set(dates_of(holiday_periods.period_holidays("GB", "QS", quarters),
                                                        "Good Friday"))


def test_the_days_off_observed_for_weekend_holidays_are_left_out():
    months = pd.Series(pd.date_range("2019-01-01", "2023-12-01", freq="MS"))
    frame = holiday_periods.period_holidays("US", "MS", months)
    assert not frame["holiday"].str.contains("observed").any()
    # New Year's Day 2022 was a Saturday, observed on 31 December 2021: December is not New Year's
    assert "2021-12-01" not in dates_of(frame, "New Year's Day")
    assert set(dates_of(frame, "New Year's Day")) >= {f"{year}-01-01" for year in range(2019, 2024)}


def test_only_holidays_the_history_can_tell_apart_are_kept_and_the_frame_reaches_ten_years_on():
    weeks = pd.Series(pd.date_range("2019-01-07", "2020-12-28", freq="W-MON"))
    frame = holiday_periods.period_holidays("US", "W-MON", weeks)
    # Juneteenth has been a holiday since 2021, after this history: nothing learnt of it
    assert "Juneteenth National Independence Day" not in set(frame["holiday"])
    assert frame["ds"].max().year == 2020 + holiday_periods.YEARS_AHEAD
    # at yearly periods every year holds every holiday: none can be told from the level
    years = pd.Series(pd.date_range("2000-01-01", "2020-01-01", freq="YS"))
    assert holiday_periods.period_holidays("US", "YS", years).empty


def test_only_periods_longer_than_a_day_place_holidays_by_period():
    assert [f for f in ("h", "30min", "D", "B", "W-MON", "7D", "MS", "QS", "YS")
            if holiday_periods.longer_than_a_day(f)] == ["W-MON", "7D", "MS", "QS", "YS"]
    config = load_config(None, [*FAST_OVERRIDES, "model.country_holidays=US", "forecast.frequency=W-MON"])
    with pytest.raises(ValueError, match="history's dates are needed to place holidays on periods of 'W-MON'"):
        model.build_model(config, {}, 0)


def christmas_weeks(start: str, weeks: int, lift: float, seed: int = 0) -> pd.DataFrame:
    """Weekly sales (weeks ending on Monday) whose week holding Christmas sells ``lift`` times more."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range(start, periods=weeks, freq="W-MON")
    y = 1000 + 100 * np.sin(2 * np.pi * ds.dayofyear / 365.25) + rng.normal(0, 20, weeks)
    first_days = ds - pd.Timedelta(days=6)
    holds = np.array([first <= pd.Timestamp(f"{first.year}-12-25") <= end for first, end in zip(first_days, ds)])
    return pd.DataFrame({"ds": ds, "y": np.where(holds, y * lift, y), "christmas": holds})


@pytest.mark.parametrize("country", ["US", None])
def test_a_weekly_model_forecasts_christmas_week_and_its_stored_model_still_does_years_later(country):
    history = christmas_weeks("2019-01-07", 52 * 4 - 10, lift=1.8)  # to October 2022
    config = load_config(None, [*FAST_OVERRIDES, f"model.country_holidays={country or 'null'}",
                                "forecast.frequency=W-MON", "model.yearly_seasonality=auto"])
    fitted = model.fit(history[["ds", "y"]], config, {}, 0)
    stored = {"model": "prophet", "model_json": model_store.dump("prophet", fitted), "frequency": "W-MON",
              "interval_width": 0.8}
    # scored or served from the stored model: next Christmas, and one five years on
    for last in (history["ds"].iloc[-1], pd.Timestamp("2027-11-01")):
        forecast = model_store.forecast_stored(stored, "s0", last, 13, 13)
        weeks = christmas_weeks(f"{forecast['ds'].iloc[0]:%Y-%m-%d}", 13, lift=1.0)
        assert weeks["ds"].tolist() == forecast["ds"].tolist() and weeks["christmas"].sum() == 1
        at_christmas = forecast.loc[weeks["christmas"].to_numpy(), "yhat"].iloc[0]
        others = forecast.loc[~weeks["christmas"].to_numpy(), "yhat"].median()
        if country:
            assert at_christmas / others > 1.65, (last, at_christmas, others)
        else:  # without holidays the yearly cycle cannot pick one week out
            assert at_christmas / others < 1.45, (last, at_christmas, others)
