"""Evaluation mode on real Spark: held-out scores per candidate, aggregates and report."""
import mlflow
import numpy as np
import pandas as pd
import pytest

from conftest import FAST_OVERRIDES, daily_series
from forecasting import evaluation, pipeline, run_overview, tables
from forecasting.config import load_config
from forecasting.datasets import m4_to_long

CANDIDATES = ["prophet", "seasonal_naive", "naive"]


@pytest.fixture(scope="module")
def evaluated(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluation")
    # three series to model, one too short for the folds and one flat until its held-out
    # week (undefined MASE): skipped, forecast by the fallback; and one row, with nothing left to score
    parts = [daily_series(70, seed=40 + i).assign(shop=f"s{i}") for i in range(3)]
    flat = daily_series(70, seed=48).assign(y=np.r_[np.zeros(63), np.arange(1.0, 8.0)], shop="flat")
    # a second key whose name is not a Python name, which the report reads all the same
    source = pd.concat([*parts, daily_series(30, seed=49).assign(shop="tiny"), flat,
                        daily_series(1, seed=50).assign(shop="one")]).assign(**{"shop-group": "g"})
    source.to_csv(root / "input.csv", index=False, date_format="%Y-%m-%d")
    config = load_config(
        None,
        [
            *FAST_OVERRIDES,
            f"input.path={root / 'input.csv'}", "input.key_columns=[shop, shop-group]", "input.time_column=ds",
            "input.target_column=y", f"selection.candidates={CANDIDATES}".replace("'", ""), "tuning.metric=mase",
            f"tracking.uri={root / 'mlruns'}", f"output.path={root / 'out'}",
        ],
    )
    summary = pipeline.run_job(spark, config, "2024-12-31", evaluate=True)
    table = tables.read_table(spark, config, tables.EVALUATION).toPandas()
    return {"config": config, "source": source, "summary": summary, "table": table, "root": root}


def test_every_series_is_scored_for_every_candidate_with_one_winner(evaluated):
    table = evaluated["table"]
    modelled = table[~table["shop"].isin(["tiny", "flat"])]
    assert "one" not in set(table["shop"])  # nothing to score: named in the summary instead
    assert len(modelled) == 3 * len(CANDIDATES)
    assert set(modelled["candidate"]) == set(CANDIDATES)
    assert table.groupby("shop")["selected"].sum().eq(1).all()  # the short series too


def test_a_skipped_series_is_scored_with_its_fallback_forecast(evaluated):
    horizon = evaluated["config"].forecast.horizon
    [tiny] = evaluated["table"].query("shop == 'tiny'").to_dict("records")
    assert tiny["candidate"] == "fallback_seasonal_naive" and tiny["selected"]
    y = evaluated["source"].query("shop == 'tiny'")["y"].to_numpy()
    repeated = y[-horizon - 7:-horizon]  # the last week before the held-out one
    assert tiny["mae"] == pytest.approx(np.mean(np.abs(y[-horizon:] - repeated)))


def test_the_summary_sends_the_reader_for_skipped_series_to_the_child_runs_it_wrote(evaluated):
    summary = evaluated["summary"]
    assert summary.counts["skipped"] == 3 and list(summary.tables) == [tables.EVALUATION]  # no series_results
    line = next(text for text in summary.format().splitlines() if "why series failed or were skipped" in text)
    filter_string = line.split("(filter: ")[1].rstrip(")")
    runs = mlflow.MlflowClient(summary.tracking_uri).search_runs([summary.experiment_id], filter_string)
    assert sorted(run.data.tags["shop"] for run in runs) == ["flat", "one", "tiny"]
    assert {run.data.tags["from_job"] for run in runs} == {"evaluate_forecast"}  # not the forecasts' runs
    assert all(run.data.tags["reason"] for run in runs)


def test_a_series_with_nothing_to_score_is_named_and_pooled_units_are_said_to_be_mixed(evaluated):
    said = evaluated["summary"].format()
    assert ("1 series had no forecast to score, so no evaluation row, e.g. one/g: too little history: 0 periods, "
            "needs at least") in said
    assert evaluation.POOLED_UNITS_NOTE in said and evaluation.WINS_NOTE in said
    # whether the selection beat every candidate alone is said, from the same run's table
    table = evaluated["table"]
    modelled = table[~table["candidate"].str.startswith("fallback_")]
    chosen = modelled[modelled["selected"]]["mase"].mean()
    alone = modelled.groupby("candidate")["mase"].mean()
    verdict = ("matched the best candidate alone" if abs(chosen - alone.min()) < 1e-9 else
               "beat every candidate alone" if chosen < alone.min() else "is worse than a candidate alone")
    assert f"the selection's MASE on the held-out horizon, {chosen:.3f}, {verdict}" in said


def test_the_selection_is_said_to_beat_every_candidate_alone_or_which_ones_beat_it():
    def summary(mase: dict) -> pd.DataFrame:
        return pd.DataFrame({"candidate": list(mase), "mase": list(mase.values())})

    beat = evaluation.selection_verdict(summary({"selection": 0.9, "prophet": 1.1, "naive": 0.95, "drift": None}),
                                        ["prophet", "naive", "drift"], "smape")
    assert beat == (True, "the selection's MASE on the held-out horizon, 0.900, beat every candidate alone (the best, "
                          "naive: 0.950)")
    lost = evaluation.selection_verdict(summary({"all series": 1.3, "selection": 1.22, "prophet": 0.687,
                                                 "seasonal_naive": 1.82, "naive": 1.1, "ensemble": 0.5}),
                                        ["prophet", "seasonal_naive", "naive"], "smape")
    assert lost == (False, "the selection's MASE on the held-out horizon, 1.220, is worse than a candidate alone "
                           "(prophet 0.687, naive 1.100): cross-validation's ranking by smape did not carry over to "
                           "the held-out periods. Worth a try: selection.metric mase, more "
                           "cross_validation.folds, or selection.candidates [prophet] alone")  # not the ensemble: no candidate
    ranked_by_mase = evaluation.selection_verdict(summary({"selection": 1.2, "prophet": 0.7, "naive": 1.1}),
                                                  ["prophet", "naive"], "mase")[1]
    assert ranked_by_mase.endswith("Worth a try: more cross_validation.folds, or selection.candidates [prophet] alone")
    tie = evaluation.selection_verdict(summary({"selection": 0.9, "prophet": 0.9, "naive": 1.1}), ["prophet", "naive"],
                                       "mase")
    assert tie == (True, "the selection's MASE on the held-out horizon, 0.900, matched the best candidate alone, "
                         "prophet (0.900), and beat the others")
    last_bit = evaluation.selection_verdict(summary({"selection": 0.9, "prophet": 0.9 + 1e-16, "naive": 1.1}),
                                            ["prophet", "naive"], "mase")  # the same mean, summed in another order
    assert last_bit == tie
    close = evaluation.selection_verdict(summary({"selection": 0.9, "prophet": 0.905, "naive": 1.1}),
                                         ["prophet", "naive"], "mase")  # half a percent better: no tie
    assert close[0] is True and "beat every candidate alone (the best, prophet: 0.905)" in close[1]
    worse = evaluation.selection_verdict(summary({"selection": 0.905, "prophet": 0.9, "naive": 1.1}),
                                         ["prophet", "naive"], "mase")
    assert worse[0] is False and "is worse than a candidate alone (prophet 0.900)" in worse[1]
    # Prophet failed in every evaluation of one series, forecast by naive there: its mean is of the other series
    fewer = pd.DataFrame({"candidate": ["selection", "prophet", "naive"], "series": [2, 1, 2], "mase": [1.75, 0.5, 2.0]})
    assert evaluation.selection_verdict(fewer, ["prophet", "naive"], "smape") == (
        True, "the selection's MASE on the held-out horizon, 1.750, beat every candidate alone (the best, naive: "
              "2.000); prophet not compared: scored on 1 of the selection's 2 series")
    assert evaluation.selection_verdict(fewer.assign(series=[2, 1, 1]), ["prophet", "naive"], "smape") is None
    assert evaluation.selection_verdict(summary({"selection": 1.0}), ["prophet"], "mase") is None
    assert evaluation.selection_verdict(summary({"selection": 1.0, "prophet": 1.0}), ["prophet"], "mase") is None


def test_intervals_that_held_far_fewer_values_than_their_width_are_warned_of_naming_the_narrow_ones():
    covered = pd.DataFrame({"candidate": ["selection", "prophet"], "coverage": [0.36, 0.9]})
    assert evaluation.coverage_warning(covered, 0.8).startswith(
        "the selection's intervals held 36% of the held-out values, against a nominal 80%")
    # where a candidate alone held its width, the cause named is the narrow intervals of the others, not the data
    # (tuned Prophet's held 44%, seasonal naive's 90%: the walk-through of 12-07)
    narrow = pd.DataFrame({"candidate": ["selection", "prophet", "seasonal_naive", "fallback_naive"],
                           "coverage": [0.51, 0.44, 0.9, 0.2]})
    assert evaluation.coverage_warning(narrow, 0.8, ["prophet", "seasonal_naive"]) == (
        "the selection's intervals held 51% of the held-out values, against a nominal 80%: the intervals of prophet "
        "44% are too narrow for these series, where those of seasonal_naive 90% held. Worth a try: "
        "selection.candidates without prophet, or the ensemble in its place; the report's coverage section shows "
        "which series")
    # seasonal naive won no series: its narrow intervals are not the selection's, and dropping it changes nothing
    won = pd.DataFrame({"candidate": ["selection", "prophet", "seasonal_naive", "naive"], "coverage": [0.44, 0.44, 0.3,
                        0.9], "wins": [None, 24, 0, 0]})
    assert "without prophet" in evaluation.coverage_warning(won, 0.8, ["prophet", "seasonal_naive", "naive"])
    assert "seasonal_naive 30%" not in evaluation.coverage_warning(won, 0.8, ["prophet", "seasonal_naive", "naive"])
    # the winners held theirs over every series, a loser did not: nothing of a held-out stretch none held
    winners_held = won.assign(coverage=[0.5, 0.7, 0.3, 0.9], wins=[None, 20, 0, 4])
    assert evaluation.coverage_warning(winners_held, 0.8, ["prophet", "seasonal_naive", "naive"]) == (
        "the selection's intervals held 50% of the held-out values, against a nominal 80%, though the intervals of "
        "naive 90%, prophet 70% held theirs over every series: the models chosen fell short on the series they were "
        "chosen for; the report's coverage section shows which series")
    all_short = narrow.assign(coverage=[0.51, 0.44, 0.5, 0.2])
    assert "a holiday or a break none of them held?" in evaluation.coverage_warning(all_short, 0.8,
                                                                                    ["prophet", "seasonal_naive"])
    # the ensemble too narrow: no advice to put it in its own place; Prophet scored as its part alone is weighed not
    with_ensemble = narrow.assign(candidate=["selection", "ensemble", "seasonal_naive", "prophet"])
    said = evaluation.coverage_warning(with_ensemble, 0.8, ["ensemble", "seasonal_naive"])
    assert said.endswith("Worth a try: selection.candidates without ensemble; the report's coverage section shows "
                         "which series") and "prophet" not in said
    assert evaluation.coverage_warning(covered.assign(coverage=[0.7, 0.9]), 0.8) is None  # within 15 points
    assert evaluation.coverage_warning(covered.assign(coverage=[0.66, 0.9]), 0.8) is None  # 14 points short
    assert evaluation.coverage_warning(covered.assign(coverage=[0.64, 0.9]), 0.8).startswith(
        "the selection's intervals held 64% of the held-out values")  # 16 points short


def test_held_out_scores_are_computed_on_data_the_models_never_saw(evaluated):
    horizon = evaluated["config"].forecast.horizon
    naive = evaluated["table"].query("candidate == 'naive'").set_index("shop")
    for shop, series in evaluated["source"].query("shop not in ['tiny', 'flat', 'one']").groupby("shop"):
        y = series["y"].to_numpy()
        held_out, last_seen = y[-horizon:], y[-horizon - 1]
        assert naive.loc[shop, "mae"] == pytest.approx(np.mean(np.abs(held_out - last_seen)))
        scale = np.mean(np.abs(y[7:-horizon] - y[: -horizon - 7]))  # weekly seasonal differences of the training part
        assert naive.loc[shop, "mase"] == pytest.approx(np.mean(np.abs(held_out - last_seen)) / scale)
    assert evaluated["table"]["coverage"].between(0, 1).all()


def test_an_undefined_mase_is_left_out_of_the_means_not_infinite(evaluated):
    # the flat series' fallback erred after a history without any change: its MASE has no scale
    [flat] = evaluated["table"].query("shop == 'flat'").to_dict("records")
    assert flat["selected"] and pd.isna(flat["mase"]) and flat["mae"] > 0
    parent = mlflow.MlflowClient(evaluated["summary"].tracking_uri).get_run(evaluated["summary"].job_run_id)
    selected = evaluated["table"].query("selected")["mase"]
    defined = selected[np.isfinite(selected)]
    assert len(defined) == len(selected) - 1  # the flat series' alone
    assert parent.data.metrics["eval_mase_all_series"] == pytest.approx(defined.mean())  # not 0, not infinite


def test_the_mase_histogram_has_a_title_shared_bins_whole_counts_and_each_models_overview_colour():
    from matplotlib.colors import to_hex

    from forecasting.run_overview import MODEL_COLOURS

    rng = np.random.default_rng(1)
    mase = pd.DataFrame({"candidate": ["prophet"] * 12 + ["naive"] * 12 + ["fallback_naive"] * 3,
                         "selected": [True] * 6 + [False] * 6 + [False] * 6 + [True] * 6 + [True] * 3,
                         "mase": rng.uniform(0.3, 2.5, 27)})
    axes = evaluation._mase_figure(mase).axes[0]
    assert axes.get_title() == "Held-out MASE per series: each candidate alone, and what the job forecast"
    ticks = [tick for tick in axes.get_yticks() if axes.get_ylim()[0] <= tick <= axes.get_ylim()[1]]
    assert ticks and all(float(tick).is_integer() for tick in ticks)  # series, not quarters of one
    # outlines, not see-through bars, whose overlaps made colours no legend named (a walk-through of 12-07)
    outlines = {patch.get_label(): patch for patch in axes.patches}
    assert set(outlines) == {"prophet", "naive", "fallback_naive", "all_series (as forecast)"}
    assert all(not patch.get_fill() for patch in outlines.values())
    assert to_hex(outlines["prophet"].get_edgecolor()) == MODEL_COLOURS["prophet"]
    assert to_hex(outlines["fallback_naive"].get_edgecolor()) == MODEL_COLOURS["naive"]  # its model's, dashed
    assert outlines["fallback_naive"].get_linestyle() == "--" and outlines["naive"].get_linestyle() == "-"
    edges = {label: sorted({round(x, 9) for x, _ in patch.get_xy()}) for label, patch in outlines.items()}
    assert edges["prophet"] == edges["naive"] == edges["fallback_naive"]  # one set of bins for all
    # without a fallback among the rows as forecast, named as the table names them: selection
    alone = evaluation._mase_figure(mase[mase["candidate"] != "fallback_naive"]).axes[0]
    assert "selection (as forecast)" in [text.get_text() for text in alone.get_legend().get_texts()]


def test_infinite_and_nan_holdout_scores_are_null_in_the_table_and_left_out_of_the_means(spark):
    from chispa import assert_df_equality

    # a flat history's MASE has no scale: infinite where it erred, NaN where it did not (0/0)
    staged = spark.createDataFrame([
        ("a", "naive", "r1", '{"naive": {"mase": Infinity, "mae": 2.0}, "drift": {"mase": 0.5, "mae": 1.0}}'),
        ("b", "naive", "r2", '{"naive": {"mase": NaN, "mae": 0.0}, "drift": {"mase": -Infinity, "mae": 3.0}}'),
        ("c", "drift", "r3", '{"naive": {"mase": 1.5, "mae": 4.0}, "drift": {"mase": 0.9, "mae": 5.0}}'),
    ], "shop string, model string, child_run_id string, holdout_scores string")
    table = evaluation.evaluation_table(staged, ["shop"], "2024-05-01", "job")
    expected = spark.createDataFrame([
        ("a", "naive", True, None, 2.0), ("a", "drift", False, 0.5, 1.0),
        ("b", "naive", True, None, 0.0), ("b", "drift", False, None, 3.0),
        ("c", "naive", False, 1.5, 4.0), ("c", "drift", True, 0.9, 5.0),
    ], "shop string, candidate string, selected boolean, mase double, mae double")
    assert_df_equality(table.select(*expected.columns), expected, ignore_row_order=True, ignore_nullable=True)
    means = evaluation.summary_by_candidate(table, ["naive", "drift"]).set_index("candidate")
    assert means.loc["naive", "mase"] == 1.5 and means.loc["drift", "mase"] == pytest.approx(0.7)
    assert means.loc["selection", "mase"] == 0.9  # a's and b's undefined, c's drift


def test_parent_run_gets_aggregates_and_a_report_and_production_tables_stay_untouched(evaluated):
    summary, table = evaluated["summary"], evaluated["table"]
    client = mlflow.MlflowClient(summary.tracking_uri)
    parent = client.get_run(summary.job_run_id)
    assert parent.data.tags["job"] == "evaluate_forecast"
    for candidate in CANDIDATES:
        expected = table.query("candidate == @candidate")["mase"].mean()
        assert parent.data.metrics[f"eval_mase_{candidate}"] == pytest.approx(expected)
    modelled = table.query("selected and not candidate.str.startswith('fallback_')", engine="python")
    assert parent.data.metrics["eval_mase_selection"] == pytest.approx(modelled["mase"].mean())
    assert len(modelled) == 3  # the selection compares with each candidate over the same series
    assert parent.data.metrics["eval_mase_all_series"] == pytest.approx(table.query("selected")["mase"].mean())
    artifacts = {a.path for a in client.list_artifacts(summary.job_run_id, "evaluation")}
    # 4 series with a MASE (the flat one has none): each plotted once, the better 2 as the best
    assert table.query("selected")["mase"].notna().sum() == 4
    plots = {"mase_distribution.png", "coverage.png", "best_1.png", "best_2.png", "worst_1.png", "worst_2.png"}
    assert not {"evaluation/best_3.png", "evaluation/worst_3.png"} & artifacts
    assert {"evaluation/report.md", *(f"evaluation/{name}" for name in plots)} <= artifacts
    # its overview sends a reader of the notes to the child runs: an evaluation writes no series_results
    overview = mlflow.artifacts.load_text(f"runs:/{summary.job_run_id}/{run_overview.ARTIFACT}")
    assert "modelled with data notes (the child runs' data_notes tags)" in overview
    report = mlflow.artifacts.load_text(f"runs:/{summary.job_run_id}/evaluation/report.md")
    assert "| selection | 3 |  |" in report and "| all_series | 5 |  |" in report  # wins only per candidate
    wins = table.query("selected")["candidate"].value_counts()
    for candidate in CANDIDATES:
        assert f"| {candidate} | 3 | {wins.get(candidate, 0)} |" in report
    assert f"Wins: {evaluation.WINS_NOTE.removeprefix('wins: ')}." in report
    console = {line.split()[0]: line.split() for line in summary.note.splitlines() if line.strip()}
    assert console["selection"][:2] == ["selection", "3"] and "." in console["selection"][2]  # no wins, MASE next
    assert "| fallback_seasonal_naive | 2 |" in report
    assert "6 series;" in report and "3 were modelled, 2 skipped or failed and scored with their fallback" in report
    assert "1 had no forecast to score" in report
    assert all(f"]({name})" in report for name in plots)  # every plot shown in the report
    best, worst = (report.split(f"## {label} series")[1].split("##")[0] for label in ("Best", "Worst"))
    ranked = table.query("selected and mase.notna()", engine="python").sort_values("mase")["shop"].tolist()
    assert [f"![{shop}/g " in best for shop in ranked] == [True, True, False, False]
    assert [f"![{shop}/g " in worst for shop in ranked] == [False, False, True, True]
    # a series scored with its fallback is said not to have been modelled (a walk-through of 12-08 read a skipped
    # series first among the worst as the selected model's score)
    fell_back = table.query("selected and mase.notna() and candidate.str.startswith('fallback_')", engine="python")
    assert len(fell_back) == 1
    assert (f"{fell_back['shop'].iloc[0]}/g (not modelled: skipped or failed, scored with its seasonal_naive "
            "fallback).") in report
    assert report.count("(not modelled:") == 1
    assert not (evaluated["root"] / "out" / "forecasts").exists()


def test_wins_are_counted_for_candidates_and_fallbacks_and_rows_keep_one_order(spark):
    from forecasting.evaluation import _markdown, summary_by_candidate

    # prophet scored as the ensemble's part only
    rows = [("a", "ensemble", True, 1.0), ("a", "prophet", False, 2.0), ("a", "weekly_naive", False, 3.0),
            ("a", "drift", False, 4.0), ("b", "ensemble", False, 2.0), ("b", "prophet", False, 1.0),
            ("b", "weekly_naive", True, 1.5), ("b", "drift", False, 3.0), ("c", "fallback_naive", True, 5.0)]
    frame = spark.createDataFrame(rows, "shop string, candidate string, selected boolean, mase double")
    for name in ("smape", "mae", "rmse", "coverage", "interval_width"):
        frame = frame.withColumn(name, frame["mase"])
    summary = summary_by_candidate(frame, ["weekly_naive", "ensemble", "drift"])
    # the candidates in the config's order, then the rest by name
    assert summary["candidate"].tolist() == ["all_series", "selection", "weekly_naive", "ensemble", "drift",
                                             "fallback_naive", "prophet"]
    wins = dict(zip(summary["candidate"], summary["wins"].astype("object")))
    assert wins == {"all_series": pd.NA, "selection": pd.NA, "prophet": pd.NA, "drift": 0, "ensemble": 1,
                    "fallback_naive": 1, "weekly_naive": 1}
    report = _markdown(summary, {}, 0.8, {("ok", True): 2, ("skipped", True): 1})
    assert "| prophet | 2 |  |" in report and "| drift | 2 | 0 |" in report
    assert "No wins for prophet: scored as the ensemble's part, not a candidate." in report
    # a fallback whose history was too short for an interval: no coverage to average, shown as none
    unsized = summary.assign(coverage=summary["coverage"].where(summary["candidate"] != "fallback_naive"))
    assert "| fallback_naive | 1 | 1 | 5.000 | 5.00 | 5 | 5 | - | 5 |" in _markdown(unsized, {}, 0.8, {})
    # the opening counts: modelled, scored with a fallback, and those with nothing to score
    counted = _markdown(summary, {}, 0.8, {("ok", True): 2, ("skipped", True): 1, ("failed", True): 1,
                                           ("skipped", False): 3, ("ok", False): 1})
    assert ("8 series; the last forecast horizon of each was held out" in counted
            and "2 were modelled, 2 skipped or failed and scored with their fallback forecast" in counted
            and "4 had no forecast to score." in counted)


def test_best_and_worst_plots_show_each_series_once():
    from forecasting.evaluation import _best_and_worst

    def extremes(count):
        rows = [{"shop": f"s{i}", "mase": float(i)} for i in range(count)]  # s0 best
        picked = _best_and_worst(rows[:3], rows[::-1][:3], ["shop"])
        return [r["shop"] for r in picked["best"]], [r["shop"] for r in picked["worst"]]

    assert extremes(8) == (["s0", "s1", "s2"], ["s7", "s6", "s5"])
    assert extremes(6) == (["s0", "s1", "s2"], ["s5", "s4", "s3"])
    assert extremes(5) == (["s0", "s1", "s2"], ["s4", "s3"])
    assert extremes(4) == (["s0", "s1"], ["s3", "s2"])
    assert extremes(1) == (["s0"], [])


def test_a_report_that_fails_after_the_table_is_written_marks_the_run_as_having_written(spark, evaluated, tmp_path,
                                                                                         monkeypatch, caplog):
    from forecasting import evaluation, tracking

    def broken_report(*args):
        raise RuntimeError("the report broke")

    monkeypatch.setattr(evaluation, "log_report", broken_report)
    config = load_config(None, [*FAST_OVERRIDES, f"input.path={evaluated['root'] / 'input.csv'}",
                                "input.key_columns=[shop, shop-group]", "input.time_column=ds", "input.target_column=y",
                                "selection.candidates=[naive]",
                                f"tracking.uri={tmp_path / 'mlruns'}", f"output.path={tmp_path / 'out'}"])
    with pytest.raises(RuntimeError, match="the report broke"):
        pipeline.run_job(spark, config, "2024-12-31", evaluate=True)
    assert tables.read_table(spark, config, tables.EVALUATION).count() == 5  # written before the report
    client = mlflow.MlflowClient(str(tmp_path / "mlruns"))
    [run] = client.search_runs([client.get_experiment_by_name(config.tracking.experiment).experiment_id],
                               filter_string="tags.job = 'evaluate_forecast'")
    assert run.info.status == "FAILED" and run.data.tags[tracking.FAILED_AFTER_WRITING_TAG] == "true"
    assert (f"the run failed after writing its tables (evaluation): their rows of run date 2024-12-31 are in place "
            f"(its MLflow run {run.info.run_id} is to be tagged failed_after_writing); rerunning the date rewrites "
            "them") in caplog.text


def test_a_report_plot_takes_missing_bounds_and_a_key_matplotlib_would_read_as_math(spark):
    import datetime as dt
    import io

    from forecasting import evaluation, spark_training

    day = dt.datetime(2024, 1, 1)
    schema = ("shop string, model string, recent array<struct<ds: timestamp, y: double>>, "
              f"forecast array<{spark_training.FORECAST_POINT.simpleString()}>")
    points = [(day + dt.timedelta(days=i), 1.0 + i, None, None) for i in range(3)]  # no interval
    staged = spark.createDataFrame([("a_$1", "naive", [(day, 1.0), (day, None)], points)], schema)
    figure = evaluation._series_figure(staged, {"shop": "a_$1"}, 0.5)
    figure.savefig(io.BytesIO(), format="png")  # drawing it is what failed
    assert figure.axes[0].get_title() == "a_$1: MASE 0.50"
    assert evaluation._series_figure(staged, {"shop": "a_$1"}, 0.5, "fallback_naive").axes[0].get_title() == (
        "a_$1: MASE 0.50 (not modelled: skipped or failed, scored with its naive fallback)")
    # a series keyed null among the best or worst: found, where a plain comparison matched nothing (the review of 12-06)
    unkeyed = staged.union(spark.createDataFrame([(None, "naive", [(day, 2.0)], points)], schema))
    assert evaluation._series_figure(unkeyed, {"shop": None}, 0.5).axes[0].get_title() == "<null>: MASE 0.50"


def test_m4_wide_tables_become_one_long_hourly_series_each():
    train = pd.DataFrame({"V1": ["H1", "H2"], "V2": [1.0, 10.0], "V3": [2.0, 20.0], "V4": [3.0, np.nan]})
    test = pd.DataFrame({"V1": ["H1", "H2"], "V2": [4.0, 30.0], "V3": [5.0, 40.0]})
    long = m4_to_long(train, test, start="2015-01-01 00:00")
    h2 = long[long["series"] == "H2"]
    assert h2["y"].tolist() == [10.0, 20.0, 30.0, 40.0]  # the padding NaN is not a value
    assert h2["ds"].tolist() == list(pd.date_range("2015-01-01", periods=4, freq="h"))
    assert long[long["series"] == "H1"]["y"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
