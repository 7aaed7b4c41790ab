"""A country's holidays at weekly, monthly and quarterly periods: each in the period that holds it."""
import numpy as np
import pandas as pd
import pytest

from conftest import FAST_OVERRIDES
from forecasting import holiday_periods, model, model_store, tuning
from forecasting.config import ConfigError, load_config


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


def test_observed_days_are_left_out_and_estimated_lunar_dates_are_the_same_holiday():
    weeks = pd.Series(pd.date_range("2016-01-01", "2025-12-26", freq="W-FRI"))
    frame = holiday_periods.period_holidays("US", "W-FRI", weeks)
    assert not frame["holiday"].str.contains("observed").any()
    # Christmas 2021 was a Saturday, observed on Friday the 24th: the week ending on the 31st holds it
    assert "2021-12-31" in dates_of(frame, "Christmas Day") and "2021-12-24" not in dates_of(frame, "Christmas Day")
    assert not holiday_periods.period_holidays("AL", "W-FRI", weeks)["holiday"].str.contains("observed").any()
    # the holidays package calls Indonesia's later Eid dates "(estimated)": the model keeps Eid all ten years
    months = pd.Series(pd.date_range("2015-01-01", "2025-12-01", freq="MS"))
    eid = dates_of(holiday_periods.period_holidays("ID", "MS", months), "Eid al-Fitr")
    assert {day[:4] for day in eid} == {str(year) for year in range(2014, 2036)}


def test_holidays_in_the_same_period_every_year_are_left_to_the_yearly_cycle():
    months = pd.Series(pd.date_range("2015-01-01", "2025-12-01", freq="MS"))
    kept = set(holiday_periods.period_holidays("GB", "MS", months)["holiday"])
    # Good Friday moves between March and April, the spring bank holiday moved to June in 2022, a state
    # funeral came once; Christmas is always December's, New Year's January's
    assert {"Good Friday", "Spring Bank Holiday", "State Funeral of Queen Elizabeth II"} <= kept
    assert not kept & {"Christmas Day", "Boxing Day", "New Year's Day"}
    assert holiday_periods.period_holidays("US", "MS", months).empty  # no US holiday changes month
    # nor at months dated by their first business day or by their end (February's the 28th or 29th)
    for frequency in ("BMS", "ME", "BME", "BQS"):
        grid = pd.Series(pd.date_range("2015-01-01", "2025-12-31", freq=frequency))
        assert holiday_periods.period_holidays("US", frequency, grid).empty, frequency
    # the dates given in another unit than nanoseconds: the same frame
    pd.testing.assert_frame_equal(holiday_periods.period_holidays("GB", "MS", months.to_numpy().astype("datetime64[s]")),
                                  holiday_periods.period_holidays("GB", "MS", months))
    weeks = pd.Series(pd.date_range("2015-01-05", "2025-12-29", freq="W-MON"))
    assert "Christmas Day" in set(holiday_periods.period_holidays("US", "W-MON", weeks)["holiday"])  # it changes week


def test_only_periods_longer_than_a_day_place_holidays_by_period():
    assert [f for f in ("h", "30min", "D", "B", "W-MON", "7D", "MS", "QS", "YS")
            if holiday_periods.longer_than_a_day(f)] == ["W-MON", "7D", "MS", "QS", "YS"]
    config = load_config(None, [*FAST_OVERRIDES, "model.country_holidays=US", "forecast.frequency=W-MON"])
    with pytest.raises(ValueError, match="history's dates are needed to place its holidays on its periods"):
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


def test_a_holiday_always_in_one_month_of_the_history_does_not_carry_that_months_season_into_another():
    months = pd.date_range("2021-10-31", "2026-11-30", freq="ME")
    names = set(holiday_periods.period_holidays("DE", "ME", pd.Series(months))["holiday"])
    # Good Friday fell on 29 March 2024; Easter Monday was in April every year of this history, in March in 2027
    assert "Good Friday" in names and "Easter Monday" not in names
    rng = np.random.default_rng(5)
    history = pd.DataFrame({"ds": months, "y": 100 + 60 * (months.month == 4) + rng.normal(0, 3, len(months))})
    config = load_config(None, [*FAST_OVERRIDES, "model.country_holidays=DE", "forecast.frequency=ME",
                                "model.yearly_seasonality=auto"])
    forecast = model.predict(model.fit(history, config, {}, 0), 6, "ME", 0).set_index("ds")["yhat"]
    for month in (3, 4):  # each within its own month's history, give or take a fifth
        seen = history.loc[months.month == month, "y"]
        assert 0.8 * seen.min() < forecast[pd.Timestamp(f"2027-0{month}-01") + pd.offsets.MonthEnd()] < 1.2 * seen.max()


def test_a_monthly_series_none_of_whose_holidays_moves_is_not_tuned_over_their_prior_scale():
    months = pd.date_range("2016-01-01", "2025-12-01", freq="MS")
    history = pd.DataFrame({"ds": months, "y": 100 + 10 * np.sin(months.month)})
    space = set(load_config(None, FAST_OVERRIDES).tuning.search_space)
    for country, tuned in (("US", space - {"holidays_prior_scale"}), ("GB", space)):  # Good Friday moves
        config = load_config(None, [*FAST_OVERRIDES, f"model.country_holidays={country}", "forecast.frequency=MS",
                                    "forecast.horizon=6", "cross_validation.horizon=6",
                                    "model.yearly_seasonality=auto"])  # a seasonality: its scale and mode tuned
        assert model.has_holidays(config, history) == (country == "GB")
        assert set(tuning.tune(history, config).best_params) == tuned


def test_a_region_adds_its_own_holidays_and_a_code_is_checked_and_spelled_as_the_holidays_package_does():
    days = pd.Series(pd.date_range("2023-01-01", "2024-12-31", freq="D"))
    england, britain = (set(holiday_periods.period_holidays(code, "D", days)["holiday"]) for code in ("GB-ENG", "GB"))
    assert england - britain == {"Easter Monday", "Late Summer Bank Holiday"}  # the UK's list has only what all share
    assert holiday_periods.canonical(" gb-eng") == "GB-ENG" and holiday_periods.canonical("de-augsburg") == "DE-Augsburg"
    assert holiday_periods.unknown("GB-ENG") is None and holiday_periods.unknown("XX") == "is not a known country"
    assert holiday_periods.unknown("XNYS").startswith("is a market's calendar, not a country: ")  # NYSE's
    assert holiday_periods.canonical("my-kul") == "MY-14" and holiday_periods.unknown("MY-14") is None  # Kuala Lumpur
    assert holiday_periods.unknown("US-") == "names no region after US-"
    assert holiday_periods.unknown("ID-JK") == "names a region of ID, which has none in the holidays package: give ID alone"
    with pytest.raises(ConfigError, match=r"'model.country_holidays' is 'GB-XX', which names no subdivision of GB the "
                                          r"holidays package "
                                          r"knows: one of ENG, NIR, SCT, WLS"):
        load_config(None, ["model.country_holidays=GB-XX"])
    with pytest.raises(ConfigError, match=r"'model.country_holidays' is 'gb-eng', which is not a known country "
                                          r"\(did you mean 'GB-ENG'\?\)"):
        load_config(None, ["model.country_holidays=gb-eng"])


def test_daily_holidays_keep_their_observed_days_and_lunar_dates_stay_named_as_in_the_history():
    days = pd.Series(pd.date_range("2020-01-01", "2025-12-31", freq="D"))
    us = holiday_periods.period_holidays("US", "D", days)
    assert "2021-12-24" in dates_of(us, "Christmas Day (observed)")  # a day off of its own, at daily periods
    indonesia = holiday_periods.period_holidays("ID", "D", days)
    assert not indonesia["holiday"].str.contains("estimated").any()
    assert {day[:4] for day in dates_of(indonesia, "Eid al-Fitr")} >= {str(year) for year in range(2026, 2036)}


def test_a_country_columns_unknown_codes_and_blank_values_are_said():
    counted = {"DE": 4, "us-ca": 2, "US-XX": 1, "ZZ": 3, "": 2, None: 1}  # a null key's series is skipped anyway
    unknown_codes, blank = holiday_periods.country_column_lines(counted, "region", "US")
    assert unknown_codes.startswith("column region (model.country_holidays_column) holds codes the holidays package "
                                    "does not know, whose series are skipped: 'ZZ' (3 series: is not a known country), "
                                    "'US-XX' (1 series: names no subdivision of US")
    assert blank == ("2 series have a blank region (model.country_holidays_column) and got the holidays of "
                     "model.country_holidays, US: set it to null for none")
    # blank where model.country_holidays is null: no holidays, as asked, but said (a series modelled without any)
    assert holiday_periods.country_column_lines({"DE": 4, "": 2}, "region", None) == [
        "2 series have a blank region (model.country_holidays_column) and got no holidays, as "
        "model.country_holidays: null asks"]
    assert holiday_periods.country_column_lines({"DE": 4, "": 1}, "region", "US")[0].startswith(
        "1 series has a blank region")


@pytest.mark.parametrize("window", [{"Eid al-Fitr": [-5, 0]}, {}])
def test_a_holiday_window_forecasts_the_rush_before_eid_which_the_day_alone_does_not(window):
    days = pd.date_range("2023-01-01", "2027-02-14", freq="D")
    eid = pd.to_datetime(dates_of(holiday_periods.period_holidays("ID", "D", pd.Series(days)), "Eid al-Fitr"))
    rng = np.random.default_rng(3)
    y = pd.Series(100 + rng.normal(0, 3, len(days)), index=days)
    for day in eid[(eid >= days[5]) & (eid <= days[-1])]:  # five busy days before it, a quiet day on it
        y[day - pd.Timedelta(days=5):day - pd.Timedelta(days=1)] *= 1.4
        y[day] *= 0.5
    config = load_config(None, [*FAST_OVERRIDES, "model.country_holidays=ID", "forecast.horizon=35",
                                f"model.holiday_windows={window}".replace("'", '"')])
    fitted = model.fit(pd.DataFrame({"ds": days, "y": y.to_numpy()}), config, {}, 0)
    forecast = model.predict(fitted, 35, "D", 0).set_index("ds")["yhat"]
    rush = forecast["2027-03-05":"2027-03-09"].mean() / forecast["2027-03-20":].mean()  # Eid al-Fitr: 10 March 2027
    assert rush > 1.3 if window else rush < 1.1, rush
    assert forecast[pd.Timestamp("2027-03-10")] < 0.7 * forecast["2027-03-20":].mean()  # the day itself either way


def test_at_longer_periods_a_window_makes_every_period_it_touches_the_holidays():
    months = pd.Series(pd.date_range("2018-01-01", "2025-12-01", freq="MS"))
    alone = dates_of(holiday_periods.period_holidays("ID", "MS", months), "Eid al-Fitr")
    ramadan = dates_of(holiday_periods.period_holidays("ID", "MS", months, {"Eid al-Fitr": [-30, 0]}), "Eid al-Fitr")
    # Eid al-Fitr 2024 was on 10 April, the month of Ramadan before it from 11 March
    assert "2024-03-01" not in alone and {"2024-03-01", "2024-04-01"} <= set(ramadan)


def test_holiday_windows_are_checked_against_the_countrys_holidays_and_listed_by_the_cli(capsys, monkeypatch):
    from forecasting import __main__ as lookup_cli

    with pytest.raises(ConfigError, match=r"'model.holiday_windows.Christmas' is no holiday of US \(did you mean "
                                          r"'Christmas Day'\?\): python -m forecasting holidays US lists them"):
        load_config(None, ["model.holiday_windows={Christmas: [-3, 0]}"])
    with pytest.raises(ConfigError, match=r"is \[3, 0\]: \[days before, days after\] the holiday"):
        load_config(None, ["model.holiday_windows={Christmas Day: [3, 0]}"])
    with pytest.raises(ConfigError, match="is set, but no holidays are modelled"):
        load_config(None, ["model.holiday_windows={Christmas Day: [-3, 0]}", "model.country_holidays=null"])
    assert load_config(None, ["model.country_holidays=ID", "model.holiday_windows={Eid al-Fitr: [-5, 1]}"])
    # with a country column, the run names a window no country of the column has
    [line] = holiday_periods.country_column_lines({"ID": 3, "MY": 2}, "region", None, {"Eid al-Fitr": [-5, 0],
                                                                                     "Eid al Fitr": [-5, 0]})
    assert line.startswith("model.holiday_windows names holidays of none of the countries in region: 'Eid al Fitr'")
    assert lookup_cli.main(["holidays", "gb-eng", "--year", "2027"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert "2027-03-29  Easter Monday" in listed and "2027-08-30  Late Summer Bank Holiday" in listed
    assert lookup_cli.main(["holidays", "GB-XX"]) == 2
    # the listing needs no config: one that does not load (an environment's store, a stray --set) is no matter
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "databricks")
    assert lookup_cli.main(["holidays", "DE", "--year", "2026", "--set", "forecast.horizon=0"]) == 0
    assert "2026-10-03  German Unity Day" in capsys.readouterr().out.splitlines()


def test_the_holidays_command_says_no_error_of_prophets_plotting():
    import subprocess
    import sys

    # prophet.plot logs an ERROR on import where plotly is absent: here the first import is not the model's
    done = subprocess.run([sys.executable, "-m", "forecasting", "holidays", "GB", "--year", "2026"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "2026-04-03  Good Friday" in done.stdout
    assert "plotly" not in done.stderr and "ERROR" not in done.stderr
