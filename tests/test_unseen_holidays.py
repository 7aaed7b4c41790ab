"""The note on a forecast over holidays that stood out in the history and that no
cross-validation fold held: its CV scores do not speak for those periods."""
import numpy as np
import pandas as pd

from forecasting import holiday_periods, model
from forecasting.config import load_config
from forecasting.forecast_notes import (NEVER_HELD_NOTE, UNSEEN_HOLIDAY_NOTE, never_held_holiday_notes,
                                       unseen_holiday_notes)
from forecasting.series import train_series


def weekly_cycle(ds: pd.DatetimeIndex, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100 + 10 * np.sin(np.arange(len(ds)) * 2 * np.pi / 7) + rng.normal(0, 2, len(ds))


def christmas_dip(end: str = "2026-11-30") -> pd.DataFrame:
    """Daily sales since 2023 that fall to a fifth on Christmas Day."""
    ds = pd.date_range("2023-01-01", end, freq="D")
    y = weekly_cycle(ds)
    y[(ds.month == 12) & (ds.day == 25)] *= 0.2
    return pd.DataFrame({"ds": ds, "y": y})


def days(start: str, count: int, freq: str = "D") -> pd.Series:
    return pd.Series(pd.date_range(start, periods=count, freq=freq))


def note_of(history: pd.DataFrame, code: str, frequency: str, ahead: pd.Series, held_out: list[pd.Series],
            *overrides: str) -> list[str]:
    config = load_config(None, [f"model.country_holidays={code}", f"forecast.frequency={frequency}", *overrides])
    return unseen_holiday_notes(model.series_holidays(config, history), history, ahead, held_out, frequency)


def test_a_forecast_over_christmas_that_no_fold_held_is_noted():
    history = christmas_dip()
    folds = [days("2026-10-06", 28), days("2026-11-03", 28)]
    notes = note_of(history, "US", "D", days("2026-12-01", 31), folds)
    assert len(notes) == 1 and UNSEEN_HOLIDAY_NOTE in notes[0]
    assert notes[0].startswith("forecast over Christmas Day (2026-12-25), on which the history's values stood out")
    # Thanksgiving (26 November) is in the held-out periods and did not stand out; New Year's Day did not either
    assert "Thanksgiving" not in notes[0] and "New Year" not in notes[0]
    # folds reaching back over last year's Christmas speak for it
    assert note_of(history, "US", "D", days("2026-12-01", 31), [*folds, days("2025-12-02", 28)]) == []
    # a forecast that does not reach it, or no holidays modelled, or no fold at all: nothing to say
    assert note_of(history, "US", "D", days("2026-12-01", 14), folds) == []
    assert unseen_holiday_notes(None, history, days("2026-12-01", 31), folds, "D") == []
    assert unseen_holiday_notes(model.series_holidays(load_config(None, []), history), history,
                                days("2026-12-01", 31), [], "D") == []


def test_holidays_that_did_not_move_the_values_are_not_named():
    ds = pd.date_range("2023-01-01", "2026-11-30", freq="D")
    plain = pd.DataFrame({"ds": ds, "y": weekly_cycle(ds)})
    assert note_of(plain, "US", "D", days("2026-12-01", 60), [days("2026-11-03", 28)]) == []
    # counts mostly 0: a holiday's 0 (or 1) tells nothing, however rare a value other than 0 is
    sparse = pd.DataFrame({"ds": ds, "y": np.random.default_rng(5).poisson(0.3, len(ds)).astype(float)})
    sparse.loc[sparse["ds"].dt.strftime("%m-%d") == "12-25", "y"] = 6.0
    assert note_of(sparse, "US", "D", days("2026-12-01", 60), [days("2026-11-03", 28)]) == []
    # a series with gaps and a missing value: its days are compared with the days a week or two away
    gappy = christmas_dip().drop(index=range(100, 160)).reset_index(drop=True)
    gappy.loc[5, "y"] = np.nan
    assert "Christmas Day" in note_of(gappy, "US", "D", days("2026-12-01", 31), [days("2026-11-03", 28)])[0]


def test_a_holiday_window_counts_as_the_holiday():
    # a rush in the five days before Eid al-Fitr (model.holiday_windows), never on Eid itself
    ds = pd.date_range("2023-01-01", "2026-12-31", freq="D")
    y = weekly_cycle(ds, seed=1)
    frame = holiday_periods.period_holidays("ID", "D", ds)
    for eid in pd.to_datetime(frame.loc[frame["holiday"] == "Eid al-Fitr", "ds"]):
        y[(ds >= eid - pd.Timedelta(days=5)) & (ds < eid)] *= 1.8
    history = pd.DataFrame({"ds": ds, "y": y})
    ahead, folds = days("2027-01-01", 90), [days("2026-11-03", 28), days("2026-12-01", 31)]
    window = "model.holiday_windows={Eid al-Fitr: [-5, 0]}"
    noted = note_of(history, "ID", "D", ahead, folds, window)
    # Eid al-Fitr 2027 is on 10 March: its window starts on the 5th, the note's date
    assert len(noted) == 1 and "Eid al-Fitr (2027-03-05)" in noted[0]
    # without the window Eid's own day did not stand out (the Day of Silence fell in 2026's rush: it did)
    assert not any("Eid al-Fitr" in note for note in note_of(history, "ID", "D", ahead, folds))
    # a fold that held a day of last year's window held the holiday
    assert note_of(history, "ID", "D", ahead, [*folds, days("2026-03-10", 10)], window) == []


def test_weekly_and_hourly_series_are_noted_by_their_periods():
    weeks = pd.date_range("2022-01-02", "2026-11-29", freq="W-SUN")
    y = 1000 + np.random.default_rng(2).normal(0, 30, len(weeks))
    frame = holiday_periods.period_holidays("US", "W-SUN", weeks)
    y[np.isin(weeks, pd.to_datetime(frame.loc[frame["holiday"] == "Christmas Day", "ds"]))] *= 1.8
    noted = note_of(pd.DataFrame({"ds": weeks, "y": y}), "US", "W-SUN", days("2026-12-06", 8, "W-SUN"),
                    [days("2026-10-11", 8, "W-SUN")])
    # Christmas 2026, a Friday, is in the week ending Sunday the 27th
    assert len(noted) == 1 and "Christmas Day (the period of 2026-12-27)" in noted[0]
    hours = pd.date_range("2024-09-01", "2026-11-20 23:00", freq="h")
    y = 50 + 20 * np.sin(np.arange(len(hours)) * 2 * np.pi / 24) + np.random.default_rng(3).normal(0, 3, len(hours))
    for thanksgiving in ("2024-11-28", "2025-11-27"):  # every hour of it
        y[hours.normalize() == pd.Timestamp(thanksgiving)] *= 0.3
    # a history that held it once: one day is not told from noise
    once = pd.DataFrame({"ds": hours, "y": y})[hours >= pd.Timestamp("2025-09-01")]
    assert note_of(once, "US", "h", days("2026-11-21", 336, "h"), [days("2026-11-07", 336, "h")],
                   "model.yearly_seasonality=false") == []
    noted = note_of(pd.DataFrame({"ds": hours, "y": y}), "US", "h", days("2026-11-21", 336, "h"),
                    [days("2026-11-07", 336, "h")], "model.yearly_seasonality=false")
    assert len(noted) == 1 and noted[0].startswith("forecast over Thanksgiving Day (2026-11-26),")


def test_more_than_three_holidays_are_counted_not_named():
    ds = pd.date_range("2023-01-01", "2026-11-30", freq="D")
    y = weekly_cycle(ds)
    frame = holiday_periods.period_holidays("US", "D", ds)
    y[np.isin(ds, pd.to_datetime(frame["ds"]))] *= 2  # every holiday doubles the day's sales
    noted = note_of(pd.DataFrame({"ds": ds, "y": y}), "US", "D", days("2026-12-01", 365), [days("2026-11-03", 28)])
    # Christmas, New Year's Day and Martin Luther King Jr. Day first, by date; Thanksgiving was held out
    assert noted[0].startswith("forecast over Christmas Day (2026-12-25), New Year's Day (2027-01-01), Martin Luther "
                               "King Jr. Day (2027-01-18) and ")
    assert " more, on which" in noted[0] and "Thanksgiving" not in noted[0]


def test_a_trained_series_carries_the_note():
    config = load_config(None, ["model.country_holidays=US", "forecast.horizon=31", "tuning.max_evals=1",
                                "cross_validation.folds=2", "selection.candidates=[prophet,seasonal_naive]"])
    outcome = train_series(christmas_dip(), config, seed=1, run_date="2026-12-01")
    assert outcome.status == "ok"
    assert [note for note in outcome.notes if UNSEEN_HOLIDAY_NOTE in note] == [
        "forecast over Christmas Day (2026-12-25), on which the history's values stood out and which no "
        "cross-validation fold held: its cross-validation scores do not speak for those periods"]


def test_a_forecast_over_holidays_the_history_never_held_is_noted():
    # the walk-through of 12-06: eight weeks of a GB plant's load, its May bank holiday forecast as a Monday
    ds = pd.date_range("2025-03-10", "2025-05-04", freq="D")
    history = pd.DataFrame({"ds": ds, "y": weekly_cycle(ds)})
    config = load_config(None, ["model.country_holidays=GB", "forecast.horizon=14", "cross_validation.folds=2",
                                "tuning.max_evals=2", "model.yearly_seasonality=false", "model.uncertainty_samples=50",
                                "selection.candidates=[prophet]"])
    outcome = train_series(history, config, run_date="2025-05-04")
    assert [note for note in outcome.notes if NEVER_HELD_NOTE in note] == [
        f"forecast over May Day (2025-05-05), {NEVER_HELD_NOTE}: no effect of them was learnt, and they are forecast "
        "as usual days"]
    # Good Friday and Easter Monday fell in the history: not named; hours on the day count as the day
    hours = pd.Series(pd.date_range("2026-04-03", periods=72, freq="h"))  # Good Friday to Easter Sunday
    assert never_held_holiday_notes("GB", history, hours, "h") == []
    assert never_held_holiday_notes("GB", history.iloc[:30], hours, "h")[0].startswith(
        "forecast over Good Friday (2026-04-03),")
    # a year of history spans each, rows on it or not (a market closed on its holidays); a day observed in a weekend
    # holiday's stead is a holiday of its own to Prophet, learnt only where one came before (Christmas Day
    # (observed), 2027-12-24; 2022-12-26 was one); periods longer than a day, or no country, are not said
    year = pd.DataFrame({"ds": pd.bdate_range("2024-05-01", "2025-05-02"), "y": 1.0})
    year = year[~year["ds"].isin(pd.to_datetime(["2024-05-06", "2024-12-25", "2024-12-26", "2025-01-01"]))]
    assert never_held_holiday_notes("GB", year, days("2025-05-05", 14), "D") == []
    christmas = pd.DataFrame({"ds": pd.date_range("2023-01-01", "2027-12-01", freq="D"), "y": 1.0})
    assert never_held_holiday_notes("US", christmas, days("2027-12-02", 28), "D")[0].startswith(
        "forecast over Christmas Day (observed) (2027-12-24),")
    since_2022 = pd.DataFrame({"ds": pd.date_range("2022-12-01", "2027-12-01", freq="D"), "y": 1.0})
    assert never_held_holiday_notes("US", since_2022, days("2027-12-02", 28), "D") == []
    # times with a zone, as a direct caller may give them: the days their clocks read (the reviews of 12-06)
    zoned = days("2025-05-05", 1).dt.tz_localize("Europe/London")
    assert never_held_holiday_notes("GB", history, zoned, "D")[0].startswith("forecast over May Day (2025-05-05),")
    assert never_held_holiday_notes("GB", history, days("2025-05-04", 3, "W-SUN"), "W-SUN") == []
    assert never_held_holiday_notes(None, history, days("2025-05-05", 14), "D") == []
