"""Times of the week a sub-daily series never has a row: found, left out of gaps,
staleness and forecasts (cleaning.closed_times); a horizon that ends in the past."""
import datetime as dt
import json
import re

import numpy as np
import pandas as pd

from conftest import job_settings
from forecasting import closed_times, model_store, pipeline, plots, run_date_cut, scoring
from forecasting.cleaning import clean_history
from forecasting.config import load_config
from forecasting.series import OK, SKIPPED, train_series

OPENING_HOURS = "Sundays, Monday-Friday before 08:00 and from 20:00, Saturday before 09:00 and from 13:00"


def in_opening_hours(times: pd.DatetimeIndex) -> np.ndarray:
    """A contact centre's hours: weekdays 08:00-20:00, Saturdays 09:00-13:00."""
    day, hour = times.dayofweek, times.hour + times.minute / 60
    return np.asarray(((day < 5) & (hour >= 8) & (hour < 20)) | ((day == 5) & (hour >= 9) & (hour < 13)))


def calls(start: str, end: str) -> pd.DataFrame:
    """Half-hourly call counts at open times only, with a daily and a weekly shape."""
    grid = pd.date_range(start, end, freq="30min")
    times = grid[in_opening_hours(grid)]
    rng = np.random.default_rng(0)
    shape = 20 + 15 * np.sin((times.hour + times.minute / 60 - 8) / 12 * np.pi) - 3 * times.dayofweek
    return pd.DataFrame({"ds": times, "y": rng.poisson(np.maximum(shape, 1)).astype(float)})


def policy(*settings):
    return load_config(None, [f"cleaning.{s}" for s in settings]).cleaning


def test_the_times_a_series_never_has_rows_at_are_found_and_told_by_day():
    history = calls("2026-10-05", "2026-11-27 23:30")  # Monday to Friday, eight weeks
    closed = closed_times.find_closed(history["ds"], "30min")
    assert len(closed) == 336 - 5 * 24 - 8 and closed_times.describe(closed, "30min") == OPENING_HOURS
    assert closed_times.outside_closed(history["ds"], "30min", closed).all()
    # around the clock, or with one hour missing in every day
    hours = pd.Series(pd.date_range("2026-10-05", "2026-11-29", freq="h"))
    assert closed_times.find_closed(hours, "h") == []
    nights = closed_times.find_closed(hours[hours.dt.hour != 3], "h")
    assert closed_times.describe(nights, "h") == "Monday-Sunday 03:00-04:00"
    # fewer than two weeks, a sparse series (rows at a third of the open times) and daily data say nothing
    assert closed_times.find_closed(history["ds"].iloc[:250], "30min") == []
    assert closed_times.find_closed(history["ds"].iloc[::3].reset_index(drop=True), "30min") == []
    days = pd.Series(pd.date_range("2026-10-05", "2026-11-27", freq="B"))
    assert closed_times.find_closed(days, "D") == [] and closed_times.step_of("7h") is None
    # rows missing at random: some time of the week may lack any by chance, which is no closing time
    quarters = pd.date_range("2026-10-05", periods=int(2.5 * 7 * 96), freq="15min")
    for seed in range(10):
        kept = quarters[np.random.default_rng(seed).random(len(quarters)) < 0.9]
        assert closed_times.find_closed(pd.Series(kept), "15min") == []
    # seconds are told where a closed run does not start on a minute
    seconds = pd.Series(pd.date_range("2026-10-05", periods=3 * 7 * 1440, freq="min") + pd.Timedelta(seconds=10))
    fine = closed_times.find_closed(pd.concat([seconds, seconds + pd.Timedelta(seconds=20)]).sort_values(), "10s")
    assert closed_times.describe(fine, "10s").startswith("Monday-Sunday before 00:00:10 and 00:00:20-00:00:30 and "
                                                         "00:00:40-00:01:10 and ")
    assert closed_times.describe(fine, "10s").endswith(" and more")


def test_a_series_too_short_to_tell_its_closed_times_says_so_and_a_few_rows_missing_say_nothing():
    new_queue = clean_history(calls("2026-11-23", "2026-12-04 23:30"), "30min", policy())
    assert new_queue.closed == [] and new_queue.notes[0] == (
        f"no row at some times of the week ({OPENING_HOURS}) in 11 days: too short to take them for closed (2 weeks "
        "are needed), so every time is forecast")
    # an outage on a Saturday, seen once: its six half-hours look closed, too few for opening hours
    around_the_clock = pd.DataFrame({"ds": pd.date_range("2026-11-23", "2026-12-03", freq="30min"), "y": 1.0})
    outage = around_the_clock["ds"].between("2026-11-28 10:00", "2026-11-28 12:30")
    assert closed_times.find_closed(around_the_clock.loc[~outage, "ds"].reset_index(drop=True), "30min", 1)
    assert clean_history(around_the_clock[~outage].reset_index(drop=True), "30min", policy()).notes == [
        "6 of 481 periods missing, left out, the longest 6 from 2026-11-28 10:00"]


def test_rows_regularly_apart_are_another_frequencys_not_opening_hours():
    days = pd.DataFrame({"ds": pd.date_range("2026-01-05", "2026-03-01"), "y": 5.0})
    cleaned = clean_history(days, "h", policy())
    assert cleaned.closed == [] and cleaned.notes[0] == ("rows regularly 24 periods apart: is forecast.frequency 'h' "
                                                         "the data's?")


def test_closed_times_are_no_gaps_and_get_no_zeros_and_the_note_names_them():
    history = calls("2026-10-05", "2026-11-27 23:30")
    outage = (history["ds"] >= "2026-11-18 10:00") & (history["ds"] < "2026-11-18 13:00")
    cleaned = clean_history(history[~outage].reset_index(drop=True), "30min", policy())
    assert cleaned.notes == [
        f"208 of 336 '30min' times of the week without a row in 8 weeks ({OPENING_HOURS}): closed, left out of "
        "the gaps and the forecasts (cleaning.closed_times: leave_out)",
        "6 of 1016 periods missing, left out, the longest 6 from 2026-11-18 10:00",  # the outage, not the nights
    ]
    zeros = clean_history(history[~outage].reset_index(drop=True), "30min", policy("gaps=zero"))
    assert len(zeros.history) == len(history) and zeros.notes[1] == "6 missing periods filled (zero)"
    assert zeros.history.loc[zeros.history["ds"].between("2026-11-18 10:00", "2026-11-18 12:30"), "y"].eq(0).all()
    # forecast: every period, as before, with the question asked
    kept = clean_history(history, "30min", policy("closed_times=forecast"))
    assert kept.closed == [] and kept.notes[0].endswith(", yet forecast (cleaning.closed_times: forecast): closed "
                                                        "times? leave_out leaves them out")
    assert kept.notes[1].startswith("1552 of 2568 periods missing, left out, the longest 86 from 2026-10-10 13:00")


def test_a_closed_night_and_weekend_are_no_staleness_but_weeks_without_rows_are():
    history = calls("2026-10-05", "2026-12-05 23:30")  # the last row Saturday 12:30
    monday = clean_history(history, "30min", policy("stale_after=20"), "2026-12-07", now="2026-12-07 07:31")
    assert monday.rejection is None and not [note for note in monday.notes if "last observation" in note]
    late = clean_history(history, "30min", policy("stale_after=20"), "2026-12-07", now="2026-12-07 10:31")
    assert late.notes[-1] == "last observation 2026-12-05 12:30, 6 periods before the run's start 2026-12-07 10:31"
    closed = clean_history(history, "30min", policy("stale_after=20"), "2026-12-21", now="2026-12-21 10:31")
    # two weeks of open times (2 x 128) and Monday's first 6: not the 752 periods of the whole clock
    assert closed.rejection.endswith("last observation 2026-12-05 12:30, 262 periods before the run's start "
                                     "2026-12-21 10:31")
    # zeros after the last row go to open times only
    zeros = clean_history(history, "30min", policy("gaps=zero"), "2026-12-08", now="2026-12-08 07:00")
    added = zeros.history[zeros.history["ds"] > "2026-12-05 12:30"]
    assert len(added) == 24 and added["ds"].dt.dayofweek.eq(0).all()  # Monday 08:00-19:30


def test_forecasts_leave_closed_times_out_for_the_winner_and_the_fallback_and_stored_models_keep_them_out(fast_config):
    history = calls("2026-10-05", "2026-11-27 23:30")
    config = fast_config("forecast.frequency=30min", "forecast.horizon=336", "selection.candidates=[weekly_naive]",
                         "cross_validation.horizon=48", "model.country_holidays=null")
    outcome = train_series(history, config)
    assert outcome.status == OK, outcome.reason
    ds = pd.DatetimeIndex(outcome.forecast["ds"])
    assert in_opening_hours(ds).all() and len(ds) == 5 * 24 + 8 and ds[-1] == pd.Timestamp("2026-12-04 19:30")
    stored = {"model": outcome.model_name, "frequency": "30min", "interval_width": 0.8,
              "model_json": model_store.dump(outcome.model_name, outcome.model, outcome.floor, outcome.closed)}
    again = model_store.forecast_stored(stored, "a", None, 336, 336)
    pd.testing.assert_frame_equal(again, outcome.forecast)
    saturday = model_store.forecast_stored(stored, "a", None, 48, 336)  # Friday 20:00 to Saturday 19:30
    assert saturday["ds"].tolist() == list(pd.date_range("2026-11-28 09:00", "2026-11-28 12:30", freq="30min"))
    # a too-short series' fallback, and the configured weekly cycle said to be too long for it
    # a horizon wholly in closed times (Saturday 13:00 to 23:00): nothing forecast, said, and still a plot
    saturday = calls("2026-10-05", "2026-11-28 23:30")
    closed = train_series(saturday, fast_config("forecast.frequency=30min", "forecast.horizon=20",
                                                "selection.candidates=[weekly_naive]", "cross_validation.horizon=48"))
    assert closed.status == OK and closed.forecast.empty
    assert "all 20 forecast periods fall in closed times (cleaning.closed_times): none forecast" in closed.notes
    assert plots.forecast_svg(closed.cleaned, closed.forecast, "nothing open").count('class="history"') == 1
    short = train_series(history.iloc[:250], fast_config("forecast.frequency=30min", "forecast.horizon=96",
                                                         "reliability.fallback=weekly_naive"))
    assert short.status == SKIPPED and short.closed == []  # under two weeks: no closed times told apart yet
    assert any(note.startswith("reliability.fallback weekly_naive forecast as naive") for note in short.notes)


def test_a_prophet_model_stored_keeps_its_floor_and_closed_times_in_its_json(fast_config):
    history = calls("2026-10-05", "2026-11-27 23:30")
    config = fast_config("forecast.frequency=30min", "forecast.horizon=48", "selection.candidates=[prophet]",
                         "cross_validation.horizon=48", "model.country_holidays=null")
    outcome = train_series(history, config)
    assert outcome.status == OK and outcome.model_name == "prophet", outcome.reason
    text = model_store.dump("prophet", outcome.model, outcome.floor, outcome.closed)
    stored = json.loads(text)
    assert stored[model_store.CLOSED_KEY] == outcome.closed and stored[model_store.FLOOR_KEY] == 0.0
    again = model_store.forecast_stored({"model": "prophet", "model_json": text, "frequency": "30min",
                                         "interval_width": 0.8}, "a", None, 48, 48)
    assert again["ds"].tolist() == outcome.forecast["ds"].tolist() == list(
        pd.date_range("2026-11-28 09:00", "2026-11-28 12:30", freq="30min"))  # of Friday 20:00 to Saturday 19:30
    np.testing.assert_allclose(again["yhat"], outcome.forecast["yhat"])
    # the floor's note counts the points forecast, not those at closed times left out
    week = train_series(history, fast_config("forecast.frequency=30min", "forecast.horizon=336",
                                             "selection.candidates=[prophet]", "cross_validation.horizon=48"))
    raised = [note for note in week.notes if "forecast points raised" in note]
    assert all(note.split(" of ")[1].startswith(f"{len(week.forecast)} forecast points") for note in raised)
    assert (week.forecast["yhat"] > 0).all() == (not raised)
    monday = model_store.forecast_stored({"model": "prophet", "model_json": text, "frequency": "30min",
                                          "interval_width": 0.8}, "a", pd.Timestamp("2026-11-30 06:30"), 6, 48)
    assert monday["ds"].tolist() == list(pd.date_range("2026-11-30 08:00", periods=4, freq="30min"))  # 6 steps


def test_a_contact_centres_run_says_it_left_closed_times_out_and_writes_no_forecast_for_them(spark, tmp_path):
    # a past year's weeks (Monday 6 October to Saturday 6 December 2025): a run on its own run date, during
    # opening hours, would count that morning's half-hours as periods behind
    queues = pd.concat([calls("2025-10-06", "2025-12-06 23:30").assign(queue=queue) for queue in ("billing", "tech")])
    queues.to_csv(tmp_path / "calls.csv", index=False, date_format="%Y-%m-%d %H:%M")
    settings = job_settings(tmp_path / "calls.csv", tmp_path, ["queue"], "ds", "y", "forecast.frequency=30min",
                            "forecast.horizon=336", "selection.candidates=[seasonal_naive]",
                            "cross_validation.horizon=48", "model.country_holidays=null")
    said = pipeline.run_job(spark, load_config(None, settings), "2025-12-08").format()
    assert ("2 series (e.g. billing, tech) have times of the week without a row in their history, e.g. nights or "
            "Sundays (their data_notes name them): closed times, not counted missing nor stale and not forecast "
            "(cleaning.closed_times); weekly_naive among selection.candidates repeats the last week, where days "
            "differ in their hours") in " ".join(said.split())
    assert "stop more than a period before" not in said  # Saturday 12:30 is no stale end on Monday
    forecasts = spark.read.format("delta").load(str(tmp_path / "out" / "forecasts")).toPandas()
    assert len(forecasts) == 2 * (5 * 24 + 8) and in_opening_hours(pd.DatetimeIndex(forecasts["ds"])).all()
    # the child runs' plots break their lines at closed times: Monday to Friday, then Saturday morning
    plot = next((tmp_path / "mlruns").rglob("forecast.svg")).read_text()
    assert re.search(r'class="forecast" d="([^"]*)"', plot).group(1).count("M") == 6
    assert plot.count('class="interval"') == 6
    # a run too short for its folds measures the longest series as its folds do: by the periods spanned
    short = pipeline.run_job(spark, load_config(None, [*settings, "cross_validation.horizon=1000"]), "2025-12-08")
    assert ("the longest of the series too short has 1152 rows over 2938 periods, closed times counted, against "
            "the 4000 needed") in " ".join(short.format().split())
    # scoring the next day from the stored models: open times only too; a horizon in days is warned of
    scored = scoring.run_scoring(spark, load_config(None, [*settings, "forecast.horizon=7"]), "2025-12-09")
    assert "  forecast.horizon 7 periods of '30min' after the input's latest time 2025-12-06 12:30" in scored.note
    forecasts = spark.read.format("delta").load(str(tmp_path / "out" / "forecasts")).toPandas()
    assert forecasts.loc[forecasts["run_date"].astype(str) == "2025-12-09", "ds"].empty  # Saturday 13:00-16:00
    week = scoring.run_scoring(spark, load_config(None, settings), "2025-12-09")
    assert "forecast.horizon 336 periods" not in week.note  # a week's horizon: no warning
    assert "its config differed from the run it replaced: forecast.horizon 7 -> 336" in week.note  # the rerun's change
    forecasts = spark.read.format("delta").load(str(tmp_path / "out" / "forecasts")).toPandas()
    scored_ds = pd.DatetimeIndex(forecasts.loc[forecasts["run_date"].astype(str) == "2025-12-09", "ds"])
    assert len(scored_ds) == 2 * (5 * 24 + 8) and in_opening_hours(scored_ds).all()


def test_a_horizon_that_ends_before_the_run_starts_is_warned_of():
    hours = load_config(None, ["forecast.frequency=30min", "forecast.horizon=7"])  # days meant
    warning = run_date_cut.past_horizon_warning
    said = warning(dt.datetime(2026, 12, 4, 19, 30), hours.forecast, "2026-12-05", "2026-12-05T07:31:00.000")
    assert said == ("forecast.horizon 7 periods of '30min' after the input's latest time 2026-12-04 19:30 (the last "
                    "2026-12-04 23:00) are all over by the run's start 2026-12-05 07:31: every forecast lies in the "
                    "past. Is the horizon counted in periods of '30min' (a week is 336 of them), and do the data "
                    "reach the run date?")
    week = load_config(None, ["forecast.frequency=30min", "forecast.horizon=336"])
    assert warning(dt.datetime(2026, 12, 4, 19, 30), week.forecast, "2026-12-05", None) is None
    months = load_config(None, ["forecast.frequency=MS", "forecast.horizon=2"])
    assert warning(dt.datetime(2026, 8, 1), months.forecast, "2026-12-05", None).startswith(
        "forecast.horizon 2 periods of 'MS' after the input's latest time 2026-08-01 (the last 2026-10-01) are all "
        "over by the end of the run date 2026-12-05: every forecast lies in the past. Is the horizon counted in "
        "periods of 'MS', and")
    # the last period ends as the run date does: nothing forecast after it; one more, and one is
    assert warning(dt.datetime(2026, 12, 5, 20, 0), hours.forecast, "2026-12-05", None) is not None
    assert warning(dt.datetime(2026, 12, 5, 20, 30), hours.forecast, "2026-12-05", None) is None


def test_a_series_with_closed_times_is_long_enough_by_the_periods_it_spans_as_its_folds_count_them(fast_config):
    config = fast_config("forecast.frequency=30min", "forecast.horizon=336", "selection.candidates=[weekly_naive]")
    history = calls("2026-10-05", "2026-11-27 23:30")  # 1,016 rows over 2,568 half-hours; the folds need 1,344
    assert train_series(history, config).status == OK
    recent = train_series(history[history["ds"] >= "2026-11-05"], config)
    assert recent.status == SKIPPED and recent.reason.startswith(
        "too little history: 432 rows over 1080 periods, closed times counted, needs at least 1344")


def test_a_long_description_is_cut_after_a_whole_run_of_times(monkeypatch):
    closed = closed_times.find_closed(calls("2026-10-05", "2026-11-27 23:30")["ds"], "30min")
    for limit, cut in ((40, "Sundays, Monday-Friday before 08:00 and more"), (20, "Sundays and more"),
                       (5, "Sunda and more")):  # no whole run fits: cut within one
        monkeypatch.setattr(closed_times, "MAX_DESCRIBED", limit)
        assert closed_times.describe(closed, "30min") == cut


def test_opening_hours_read_from_times_with_utc_offsets_are_warned_to_move_with_summer_time():
    """A shop's 08:00-19:00 in Berlin is 07:00-18:00 UTC in winter and 06:00-17:00 in summer: a history
    across the change keeps both hours open, one forecast while the shop is closed (a walk-through of 12-07)."""
    from types import SimpleNamespace

    from forecasting import data_note_lines
    from forecasting.config import load_config

    counted = SimpleNamespace(closed_times=2, examples={"closed_times": ["shopA", "shopB"]})
    config = load_config(None, ["forecast.frequency=h"])
    zoned = data_note_lines._closed_times_line(counted, config, zoned=True)
    assert zoned.endswith("the input's times carry UTC offsets, so where local clocks change (summer time) the "
                          "opening hours move by an hour in UTC: both hours stay open, one forecast while closed. "
                          "Local times without an offset keep to the local clock")
    assert "UTC offsets" not in data_note_lines._closed_times_line(counted, config)
