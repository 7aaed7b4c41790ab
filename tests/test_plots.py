"""The SVG forecast plot: well-formed, every point drawn inside the plot area,
gaps and missing intervals shown as such."""
import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd

from conftest import daily_series
from forecasting import plots

SVG = "{http://www.w3.org/2000/svg}"


def forecast_after(history: pd.DataFrame, periods: int, interval: bool = True) -> pd.DataFrame:
    ds = pd.date_range(history["ds"].iloc[-1] + pd.Timedelta(days=1), periods=periods, freq="D")
    yhat = np.linspace(150, 170, periods)
    return pd.DataFrame({
        "ds": ds, "yhat": yhat,
        "yhat_lower": yhat - 10 if interval else np.nan, "yhat_upper": yhat + 10 if interval else np.nan,
    })


def drawn(svg: str, cls: str):
    return ET.fromstring(svg).findall(f".//{SVG}*[@class='{cls}']")


def path_points(element) -> list[tuple[str, float, float]]:
    return [(pen, float(x), float(y)) for pen, x, y in re.findall(r"([ML])([-\d.]+),([-\d.]+)", element.get("d"))]


def test_the_plot_draws_the_recent_history_and_every_forecast_point_inside_the_plot_area():
    history = daily_series(400)
    forecast = forecast_after(history, 30)
    svg = plots.forecast_svg(history, forecast, "store=1 & item=<2>")

    root = ET.fromstring(svg)  # well-formed, the title escaped
    assert "store=1 & item=<2>" in "".join(root.itertext())
    (history_line,), (forecast_line,) = drawn(svg, "history"), drawn(svg, "forecast")
    shown = path_points(history_line)
    assert len(shown) == min(len(history), plots.HISTORY_HORIZONS * len(forecast))
    assert len(path_points(forecast_line)) == len(forecast)
    everything = shown + path_points(forecast_line)
    xs, ys = [x for _, x, _ in everything], [y for _, _, y in everything]
    assert plots.LEFT <= min(xs) and max(xs) <= plots.WIDTH - plots.RIGHT
    assert plots.TOP <= min(ys) and max(ys) <= plots.HEIGHT - plots.BOTTOM
    assert xs == sorted(xs)  # time runs left to right
    # the highest value is drawn highest (the smallest pixel row)
    values = list(history["y"].tail(len(shown))) + list(forecast["yhat"])
    assert ys[int(np.argmax(values))] == min(ys)
    assert len(drawn(svg, "interval")) == 1


def test_the_legend_sits_under_the_plot_area_where_it_hides_no_data():
    history = daily_series(200)
    forecast = forecast_after(history, 7)
    ds = history["ds"]
    svg = plots.forecast_svg(history, forecast, "x", [(ds.iloc[192], ds.iloc[193:200], np.linspace(140, 160, 7))])

    (legend,) = drawn(svg, "legend")
    labels = [text.text for text in legend.iter(f"{SVG}text")]
    assert labels[:3] == ["history", "forecast", "interval"] and labels[3] == "backtest (dashed) from its cutoff"
    assert labels[4] == "end of history"
    (end,) = drawn(svg, "history-end")  # the line it names, where the history's last day is drawn
    assert round(float(end.get("x1")), 1) == path_points(drawn(svg, "history")[0])[-1][1]
    tops = [float(element.get("y", element.get("y1"))) for element in legend if element.tag != f"{SVG}text"]
    tops += [float(text.get("y")) - 12 for text in legend.iter(f"{SVG}text")]  # a text's y is its baseline
    date_labels = [float(t.get("y")) for t in ET.fromstring(svg).iter(f"{SVG}text") if t.get("class") == "date-label"]
    assert min(tops) > max(date_labels) > plots.HEIGHT - plots.BOTTOM  # under the date labels, outside the data
    assert max(float(text.get("y")) for text in legend.iter(f"{SVG}text")) < plots.HEIGHT
    xs = [float(text.get("x")) for text in legend.iter(f"{SVG}text")]
    assert xs == sorted(xs) and xs[-1] + 7 * len(labels[-1]) < plots.WIDTH  # one row, inside the picture
    # an evaluation's plot of a series whose data stopped names seven things: two rows, each inside the picture
    # (the walk-through of 12-07 had "run date" cut to "ru" at the picture's right edge)
    every = ET.fromstring("".join(plots._legend(True, with_backtest=True, with_run_date=True, with_held_out=True)))
    texts = list(every.iter("text"))  # the legend's elements alone, outside the document's namespace
    assert [text.text for text in texts][-1] == "run date" and len(texts) == 7
    assert max(float(text.get("x")) + 7 * len(text.text) for text in texts) <= plots.WIDTH - plots.RIGHT
    rows = sorted({float(text.get("y")) for text in texts})
    assert len(rows) == 2 and rows[-1] == max(float(text.get("y")) for text in legend.iter(f"{SVG}text"))
    marks = [float(element.get("y", element.get("y1"))) for element in every if element.tag != "text"]
    assert min(marks + [rows[0] - 12]) > max(date_labels)  # still under the date labels


def test_a_gap_in_the_history_breaks_the_line_and_a_missing_interval_is_not_drawn():
    history = daily_series(100)
    history.loc[50:52, "y"] = np.nan
    svg = plots.forecast_svg(history, forecast_after(history, 7, interval=False), "gappy")

    pens = [pen for pen, _, _ in path_points(drawn(svg, "history")[0])]
    shown = plots.HISTORY_HORIZONS * 7  # the last 70 days, the gap among them
    assert pens.count("M") == 2 and len(pens) == shown - 3
    assert drawn(svg, "interval") == []


def test_rows_missing_for_longer_than_a_few_steps_break_the_line_and_a_lone_value_is_a_dot():
    # two months without rows were drawn as a straight stretch of values; a one-step forecast drew nothing
    # (the plots' review of 12-07)
    history = daily_series(200).drop(index=range(140, 170))
    svg = plots.forecast_svg(history, forecast_after(history, 7), "gappy")  # the last 70 rows shown, the gap among them
    assert [pen for pen, _, _ in path_points(drawn(svg, "history")[0])].count("M") == 2
    assert drawn(svg, "forecast-point") == []
    one = plots.forecast_svg(history, forecast_after(history, 1), "one step")
    assert len(drawn(one, "forecast-point")) == 1 and len(drawn(one, "interval")) == 1  # a dot, and its bar
    assert drawn(one, "interval")[0].tag == f"{SVG}line"
    # business days: a weekend is three days, a long one four (a holiday Monday missing): the line goes on
    days = pd.bdate_range("2024-01-01", periods=60)
    weekdays = pd.DataFrame({"ds": days, "y": np.arange(60.0)})
    weekdays = weekdays[~weekdays["ds"].isin(pd.to_datetime(["2024-01-15", "2024-02-19"]))]
    drawn_weekdays = plots.forecast_svg(weekdays, forecast_after(weekdays, 5), "B")
    assert [pen for pen, _, _ in path_points(drawn(drawn_weekdays, "history")[0])].count("M") == 1
    assert drawn(drawn_weekdays, "forecast-point") == []
    # a series of one row (a fallback's forecast after it): its dot, no line to break
    lone = plots.forecast_svg(history.tail(1), forecast_after(history, 7), "one row")
    [dot] = drawn(lone, "history-point")
    # on the plot's left edge: drawn whole over the frame (clipped to the plot area, half of it had gone, the rest
    # under the end-of-history line: a walk-through of 12-07 saw no history); one off the scale is still cut
    assert float(dot.get("cx")) == plots.LEFT and dot.get("clip-path") is None


def test_labels_too_long_for_their_place_are_shrunk_not_cut():
    # 10.0000002B in the left margin read 0.0000002B; a long key's title lost its start and its CV MASE
    history = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=60), "y": 1e10 + np.arange(60.0) - 30})
    title = "store/" + "x" * 110 + " (run 2024-03-01): failed, fallback seasonal_naive, CV MASE 12.34"
    svg = plots.forecast_svg(history, forecast_after(history, 5).assign(yhat=1e10, yhat_lower=1e10, yhat_upper=1e10),
                             title)
    document = ET.fromstring(svg)
    texts = list(document.iter(f"{SVG}text"))
    [shown_title] = [text for text in texts if text.text == title]
    assert float(shown_title.get("font-size")) * len(title) <= 14 * plots.TITLE_CHARACTERS
    ticks = [text for text in texts if text.get("text-anchor") == "end" and float(text.get("x")) < plots.LEFT]
    assert ticks and all(float(text.get("font-size")) * len(text.text) <= 12 * plots.MAX_TICK_LABEL for text in ticks)
    assert plots._fitting(12, 4, plots.MAX_TICK_LABEL) == 12  # short ones as they were


def test_a_series_with_closed_times_has_its_lines_and_interval_broken_across_them_not_drawn_over_the_nights():
    hours = pd.date_range("2026-11-02", "2026-11-29 23:00", freq="h")
    open_hours = hours[(hours.hour >= 8) & (hours.hour < 20)]  # twelve hours a day
    history = pd.DataFrame({"ds": open_hours[:-24], "y": np.arange(len(open_hours) - 24.0)})
    later = open_hours[-24:]  # the last two days' open hours
    forecast = pd.DataFrame({"ds": later, "yhat": 5.0, "yhat_lower": 4.0, "yhat_upper": 6.0})
    backtest = [(open_hours[-49], open_hours[-48:-24], np.full(24, 3.0))]
    broken = plots.forecast_svg(history, forecast, "calls", backtest, closed=True)
    pens = [pen for pen, _, _ in path_points(drawn(broken, "history")[0])]
    assert pens.count("M") == 20 and len(pens) == 240  # the ten horizons shown: 20 days, one line each
    assert [pen for pen, _, _ in path_points(drawn(broken, "forecast")[0])].count("M") == 2
    assert [pen for pen, _, _ in path_points(drawn(broken, "backtest")[0])].count("M") == 2
    assert len(drawn(broken, "interval")) == 2
    # without closed times the twelve-hour nights are gaps of over GAP_STEPS hours: broken all the same
    whole = plots.forecast_svg(history, forecast, "calls", backtest)
    assert [pen for pen, _, _ in path_points(drawn(whole, "forecast")[0])].count("M") == 2
    assert len(drawn(whole, "interval")) == 2


def test_the_run_date_is_drawn_where_forecasts_before_it_are_over_and_the_plot_widens_to_it():
    history = daily_series(100)  # to 2024-04-09
    forecast = forecast_after(history, 7)  # 2024-04-10 to 04-16
    for run_date in (None, "2024-04-10", "2024-04-10 06:00"):  # a daily run's own day, whatever its hour
        svg = plots.forecast_svg(history, forecast, "x", run_date=None if run_date is None else pd.Timestamp(run_date))
        assert drawn(svg, "run-date") == [] and "run date" not in svg
    # data that stopped: every forecast before the run date, which the plot reaches and marks
    stale = plots.forecast_svg(history, forecast, "x", run_date=pd.Timestamp("2024-05-10"))
    (line,) = drawn(stale, "run-date")
    forecast_end = path_points(drawn(stale, "forecast")[0])[-1][1]
    assert forecast_end < float(line.get("x1")) == plots.WIDTH - plots.RIGHT
    (legend,) = drawn(stale, "legend")
    assert [text.text for text in legend.iter(f"{SVG}text")][-1] == "run date"
    # the date labels stay inside the picture, the last one (on the plot's right edge) too
    for svg in (stale, plots.forecast_svg(history.tail(40), forecast, "x", run_date=pd.Timestamp("2024-05-01"))):
        labels = [t for t in ET.fromstring(svg).iter(f"{SVG}text") if t.get("class") == "date-label"]
        spans = [(float(t.get("x")) - 7 * len(t.text) * {"start": 0, "middle": 0.5, "end": 1}[t.get("text-anchor")],
                  len(t.text)) for t in labels]
        assert all(0 <= left and left + 7 * length <= plots.WIDTH for left, length in spans), spans
    # two days over (in UTC, given with its zone): drawn within the forecast, the plot's end unchanged
    within = plots.forecast_svg(history, forecast, "x", run_date=pd.Timestamp("2024-04-12 02:00+02:00"))
    (line,) = drawn(within, "run-date")
    assert path_points(drawn(within, "forecast")[0])[0][1] < float(line.get("x1")) < plots.WIDTH - plots.RIGHT
    # years off: the plot widened by its span at most, the run date named at its edge
    far = plots.forecast_svg(history, forecast, "x", run_date=pd.Timestamp("2034-01-01"))
    (line,), (label,) = drawn(far, "run-date"), drawn(far, "run-date-label")
    assert float(line.get("x1")) == plots.WIDTH - plots.RIGHT and label.text == "run date 2034-01-01 \u2192"
    assert path_points(drawn(far, "forecast")[0])[-1][1] < plots.WIDTH / 2 + plots.LEFT


def test_value_ticks_are_round_and_inside_the_range():
    ticks = plots.value_ticks(3.2, 47.9)
    assert [label for _, label in ticks] == ["10", "20", "30", "40"]
    assert [label for _, label in plots.value_ticks(0.12, 0.31)][:2] == ["0.15", "0.20"]
    # values too wide for the margin as written in full are written in thousands, millions, billions, trillions
    assert [label for _, label in plots.value_ticks(0, 5e15)][:3] == ["0", "1,000T", "2,000T"]
    assert [label for _, label in plots.value_ticks(-3e9, 3e9)][:4] == ["-3B", "-2B", "-1B", "0"]
    assert [label for _, label in plots.value_ticks(2.04e9, 2.26e9)] == ["2.05B", "2.10B", "2.15B", "2.20B", "2.25B"]
    narrow = [label for _, label in plots.value_ticks(1.2345e9, 1.235e9)]  # 1.23B each at the spacing's decimals
    assert narrow[:2] == ["1.2345B", "1.2346B"] and len(set(narrow)) == len(narrow)
    assert [label for _, label in plots.value_ticks(-2e8, 0)][0] == "-200M"
    # past trillions, as numbers are written short
    assert [label for _, label in plots.value_ticks(0, 5e21)][:2] == ["0", "1e+21"]


def test_a_forecast_read_back_from_delta_in_utc_lines_up_with_a_naive_history():
    history = daily_series(100)
    naive = forecast_after(history, 7)
    utc = naive.assign(ds=naive["ds"].dt.tz_localize("UTC"))
    assert plots.forecast_svg(history, utc, "x") == plots.forecast_svg(history, naive, "x")


def test_the_history_may_come_in_any_order():
    history = daily_series(120)
    forecast = forecast_after(history, 7)
    shuffled = history.sample(frac=1, random_state=3)  # as a Spark group hands its rows over
    assert plots.forecast_svg(shuffled, forecast, "x") == plots.forecast_svg(history, forecast, "x")


def test_a_title_with_control_characters_still_makes_a_well_formed_svg():
    history = daily_series(20)
    svg = plots.forecast_svg(history, forecast_after(history, 5), "store=a\x0bb & <c>")  # any key value
    assert ET.fromstring(svg).find(f"{SVG}text").text == "store=a b & <c>"


def test_a_child_runs_plot_shows_the_series_as_modelled_not_its_raw_rows(tmp_path, fast_config):
    # several rows a day, summed by cleaning: the raw rows were drawn at a tenth of the forecast's level
    import mlflow

    from forecasting import child_runs, parent_run
    from forecasting.series import train_series

    daily = daily_series(60)
    rows = daily.loc[daily.index.repeat(10)].assign(y=lambda f: f["y"] / 10)
    rows["ds"] += pd.to_timedelta(np.tile(np.arange(10), len(daily)), unit="h")
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", "selection.candidates=[seasonal_naive]")
    outcome = train_series(rows, config)
    run_id = child_runs.log_series_run(parent_run.start_parent_run(config, "2024-03-31", {}), {"store": "a"}, outcome, rows)
    svg = mlflow.artifacts.load_text(f"runs:/{run_id}/plots/forecast.svg")
    title = f"store=a  (run 2024-03-31): seasonal_naive, CV MASE {outcome.cv_metrics['mase']:.2f}"
    # the run date, after the forecast's week, marked
    assert svg == plots.forecast_svg(outcome.cleaned, outcome.forecast, title, outcome.backtest,
                                     run_date=pd.Timestamp("2024-03-31"))
    assert len(drawn(svg, "backtest")) == config.cross_validation.folds
    np.testing.assert_allclose(outcome.cleaned["y"], daily["y"])


def test_an_evaluations_plot_draws_the_held_out_actuals_apart_from_the_history_its_title_with_their_mase(
        tmp_path, fast_config):
    import mlflow

    from forecasting import child_runs, parent_run
    from forecasting.series import train_series

    daily = daily_series(90)
    config = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", "selection.candidates=[seasonal_naive, naive]")
    outcome = train_series(daily, config, holdout=7)
    context = parent_run.start_parent_run(config, "2024-03-31", {})
    svg = mlflow.artifacts.load_text(f"runs:/{child_runs.log_series_run(context, {'store': 'a'}, outcome, daily)}"
                                     "/plots/forecast.svg")
    held = outcome.holdout[outcome.model_name]["mase"]
    assert (f"store=a  (run 2024-03-31): {outcome.model_name}, held-out MASE {held:.2f}, CV MASE "
            f"{outcome.cv_metrics['mase']:.2f}") in "".join(ET.fromstring(svg).itertext())
    (history,), (actuals,), (end,) = drawn(svg, "history"), drawn(svg, "held-out"), drawn(svg, "history-end")
    assert len(path_points(actuals)) == 7 and path_points(actuals)[0][1] > path_points(history)[-1][1]
    assert round(float(end.get("x1")), 1) == path_points(history)[-1][1]  # the history ends where the fit's did
    (forecast,) = drawn(svg, "forecast")
    assert [x for _, x, _ in path_points(actuals)] == [x for _, x, _ in path_points(forecast)]  # the same times
    labels = [text.text for text in drawn(svg, "legend")[0].iter(f"{SVG}text")]
    assert labels[:3] == ["history", "forecast", "held out"]
    # a held-out value far off the forecast widens the scale, and a held-out day filled by interpolation, which
    # is not scored, is not drawn (a day missing, the one after it far up)
    odd = daily.drop(index=85).assign(y=lambda f: f["y"].where(f["ds"] != daily["ds"].iloc[86], 900.0))
    gappy = fast_config(f"tracking.uri={tmp_path / 'mlruns'}", "selection.candidates=[naive]", "cleaning.gaps=interpolate")
    guessed = train_series(odd, gappy, holdout=7)
    assert guessed.held_out["ds"].tolist() == [day for day in daily["ds"].iloc[83:] if day != daily["ds"].iloc[85]]
    svg = mlflow.artifacts.load_text(f"runs:/{child_runs.log_series_run(context, {'store': 'c'}, guessed, odd)}"
                                     "/plots/forecast.svg")
    drawn_actuals = path_points(drawn(svg, "held-out")[0]) + [
        ("M", float(dot.get("cx")), float(dot.get("cy"))) for dot in drawn(svg, "held-out-point")]
    assert len(drawn_actuals) == 6  # 6 scored: two days before the gap (a line), four after it
    assert min(y for _, _, y in drawn_actuals) >= plots.TOP  # 900 inside the plot, at its top
    # a training run's plot has none
    trained = train_series(daily, config)
    plain = mlflow.artifacts.load_text(f"runs:/{child_runs.log_series_run(context, {'store': 'b'}, trained, daily)}"
                                       "/plots/forecast.svg")
    assert not drawn(plain, "held-out") and "held-out MASE" not in plain


def test_centuries_of_yearly_data_and_minutes_of_data_get_date_ticks():
    years = pd.DataFrame({"ds": pd.date_range("1700-01-01", periods=324, freq="YS"), "y": np.arange(324.0)})
    forecast = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=30, freq="YS"), "yhat": 1.0,
                             "yhat_lower": 0.0, "yhat_upper": 2.0})
    assert len(ET.fromstring(plots.forecast_svg(years, forecast, "x")).findall(f".//{SVG}line")) > 3  # it overflowed
    start = pd.Timestamp("2024-01-01 08:00")
    assert len(plots._date_ticks(start, start + pd.Timedelta(minutes=90))) >= 3  # one label before


def test_a_title_with_characters_xml_refuses_still_makes_a_well_formed_svg():
    history = daily_series(20)
    svg = plots.forecast_svg(history, forecast_after(history, 5), "store=a\uffffb\ufffe")
    assert ET.fromstring(svg).find(f"{SVG}text").text == "store=a b "


def test_backtest_folds_are_drawn_dashed_from_their_cutoffs_inside_the_plot_area():
    history = daily_series(200)
    forecast = forecast_after(history, 7)  # 70 days of history shown
    ds = history["ds"]
    folds = [
        (ds.iloc[99], ds.iloc[100:107], np.full(7, 130.0)),  # long before the days shown: left out
        (ds.iloc[185], ds.iloc[186:193], np.full(7, 1e5)),  # far above the data: clipped, the range kept
        (ds.iloc[192], ds.iloc[193:200], np.linspace(140, 160, 7)),
    ]
    svg = plots.forecast_svg(history, forecast, "x", folds)
    lines, cutoffs = drawn(svg, "backtest"), drawn(svg, "cutoff")
    assert len(lines) == 2 and len(cutoffs) == 2
    assert all(line.get("stroke-dasharray") for line in lines)
    points = [point for line in lines for point in path_points(line)]
    assert len(points) == 14
    xs = [x for _, x, _ in points]
    assert plots.LEFT <= min(xs) and max(xs) <= plots.WIDTH - plots.RIGHT
    assert all(line.get("clip-path") == "url(#plot-area)" for line in lines)
    (area,) = ET.fromstring(svg).findall(f".//{SVG}clipPath[@id='plot-area']/{SVG}rect")
    assert float(area.get("y")) == plots.TOP and float(area.get("height")) == plots.HEIGHT - plots.TOP - plots.BOTTOM
    # the history is drawn as large as without the backtest
    assert path_points(drawn(svg, "history")[0]) == path_points(drawn(plots.forecast_svg(history, forecast, "x"), "history")[0])
    last = [y for _, _, y in path_points(lines[-1])]  # the fold within the data's range is drawn inside the plot
    assert plots.TOP <= min(last) and max(last) <= plots.HEIGHT - plots.BOTTOM
    # each cutoff sits at its fold's last training day, where the history line has that day
    history_x = {round(x, 1) for _, x, _ in path_points(drawn(svg, "history")[0])}
    assert {round(float(line.get("x1")), 1) for line in cutoffs} <= history_x
    assert "backtest" in "".join(ET.fromstring(svg).itertext())
    # the fold wholly off the scale is said at its start, where it had vanished from the plot (the review of 12-07)
    assert [text.text.split(" ")[:2] for text in drawn(svg, "off-scale")] == [["\u25b2", "backtest"]]
    # times as a Delta table hands them back (UTC instants) draw the same
    utc = [(cutoff.tz_localize("UTC"), dates.dt.tz_localize("UTC"), values) for cutoff, dates, values in folds]
    assert plots.forecast_svg(history, forecast, "x", utc) == svg
    # a fold with no forecast to draw (NaN) is left out like one before the days shown
    assert plots.forecast_svg(history, forecast, "x", [*folds, (ds.iloc[150], ds.iloc[151:158], np.full(7, np.nan))]) == svg
    # without folds nothing of the kind, the legend included
    plain = plots.forecast_svg(history, forecast, "x")
    assert not drawn(plain, "backtest") and "backtest" not in "".join(ET.fromstring(plain).itertext())


def test_a_spike_is_drawn_off_the_scale_with_its_value_not_squeezing_the_rest_into_a_sliver():
    # a page's viral day, 50 times the rest: the y axis had run to 200k, the forecast a line along the bottom
    history = daily_series(400, level=3000, seed=4)
    history.loc[380, "y"] = 200_150.0
    forecast = forecast_after(history, 28)
    forecast[["yhat", "yhat_lower", "yhat_upper"]] += 3000
    svg = plots.forecast_svg(history, forecast, "news/viral")
    tops = [float(label.text.replace("K", "e3").replace(",", "")) for label in ET.fromstring(svg).iter(f"{SVG}text")
            if label.get("text-anchor") == "end" and re.fullmatch(r"[\d.,K]+", label.text or "")]
    assert max(tops) < 10_000  # the ticks span the usual values and the forecast
    [marker] = drawn(svg, "off-scale")
    assert marker.text == "\u25b2 200,150"
    (history_line,) = drawn(svg, "history")
    assert history_line.get("clip-path") == "url(#plot-area)"
    # without a spike, none marked; nor where the forecast's interval reaches as high
    assert not drawn(plots.forecast_svg(daily_series(400, level=3000, seed=4), forecast, "steady"), "off-scale")
    wide = forecast.assign(yhat_upper=250_000.0)
    assert not drawn(plots.forecast_svg(history, wide, "wide"), "off-scale")
