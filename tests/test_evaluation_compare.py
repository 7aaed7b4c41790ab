"""python -m forecasting compare: two evaluations' held-out scores, series by series."""
import pytest

from forecasting import evaluation, evaluation_compare
from forecasting.__main__ import main as forecasting_main


def write_evaluation(folder, rows, run_date="2026-12-06", job_run_id=None):
    """An evaluation table as jobs/evaluate_forecast.py writes one: (airport, candidate, selected, mase)."""
    import datetime as dt

    import pyarrow as pa
    from deltalake import write_deltalake

    airport, candidate, selected, mase = zip(*rows)
    table = pa.table({"airport": list(airport), "candidate": list(candidate), "selected": list(selected),
                      "mase": list(mase), "smape": [10.0] * len(rows), "mae": [1.0] * len(rows),
                      "rmse": [1.0] * len(rows), "run_date": [dt.date.fromisoformat(run_date)] * len(rows)})
    if job_run_id:
        table = table.append_column("job_run_id", pa.array([job_run_id] * len(rows)))
    write_deltalake(str(folder / "evaluation"), table, mode="append")


def test_the_sign_test_is_the_exact_two_sided_binomial():
    assert evaluation_compare.sign_test(3, 5) == pytest.approx(2 * (1 + 8 + 28 + 56) / 256)
    assert evaluation_compare.sign_test(0, 6) == evaluation_compare.sign_test(6, 0) == pytest.approx(2 / 64)
    assert evaluation_compare.sign_test(4, 4) == 1.0 and evaluation_compare.sign_test(0, 0) == 1.0
    # beyond EXACT_UP_TO series the normal approximation, at once where the exact sum takes minutes
    assert evaluation_compare.sign_test(480, 521) == pytest.approx(0.20611, abs=1e-3)  # 1001 series: exact 0.20611
    assert evaluation_compare.sign_test(450, 551) == pytest.approx(0.00156, abs=1e-4)
    assert evaluation_compare.sign_test(24_000, 26_000) < 1e-15


def test_two_evaluations_are_compared_series_by_series(tmp_path, monkeypatch, capsys, caplog):
    monkeypatch.chdir(tmp_path)
    assert evaluation_compare.SELECTION == evaluation.SELECTION
    assert evaluation_compare.ALL_SERIES == evaluation.ALL_SERIES
    assert evaluation_compare.FALLBACK_PREFIX == evaluation.FALLBACK_PREFIX
    before, after = tmp_path / "before", tmp_path / "after"
    # JFK better, LGA and EWR worse, SWF equal, ACY's MASE undefined after, ISP evaluated before only
    write_evaluation(before, [("JFK", "prophet", True, 1.0), ("JFK", "naive", False, 2.0),
                              ("LGA", "naive", True, 0.5), ("EWR", "prophet", True, 0.8),
                              ("SWF", "naive", True, 0.3), ("ACY", "naive", True, 0.9), ("ISP", "naive", True, 1.1)])
    write_evaluation(after, [("JFK", "naive", True, 0.6), ("JFK", "prophet", False, 1.2),
                             ("LGA", "prophet", True, 0.7), ("EWR", "prophet", True, 1.8),
                             ("SWF", "naive", True, 0.3), ("ACY", "naive", True, None)])
    assert forecasting_main(["compare", "before", "after"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("MASE per series on held-out data, from selection in before/evaluation (2026-12-06) to "
                        "selection in after/evaluation (2026-12-06); lower is better")
    assert lines[1:] == [
        "  series          4 scored on both",
        "  mean            0.650 -> 0.850 (+0.200)",  # JFK, LGA, EWR, SWF
        "  median change   +0.100",
        "  better / worse  1 better, 2 worse, 1 equal (sign test p = 1.000: chance alone gives as uneven a split "
        "100% of the time, and with 3 series that differ no split could show a difference at one in twenty: "
        "evaluate more series)",
        "  largest changes EWR 0.800 -> 1.800, JFK 1.000 -> 0.600, LGA 0.500 -> 0.700",
        "  left out        1 series whose MASE is undefined on a side (a flat history before the held-out periods)",
        "  only scored by selection in before/evaluation: 1 series (ISP): not compared"]
    # one evaluation's candidates against each other: naive against what the job forecast
    assert forecasting_main(["compare", "before", "before", "--candidates", "naive", "selection"]) == 0
    shown = capsys.readouterr().out
    assert "from naive in before/evaluation" in shown and "  series          5 scored on both" in shown
    assert "only scored by selection in before/evaluation: 1 series (EWR)" in shown  # naive was not scored there
    # a candidate the table does not hold, and a folder without an evaluation: named, exit 1
    assert forecasting_main(["compare", "before", "after", "--candidates", "ensemble", "selection"]) == 1
    assert "has no candidate 'ensemble' on 2026-12-06: it has selection, naive, prophet" in caplog.text
    assert forecasting_main(["compare", "before", "nowhere"]) == 1
    assert "no delta evaluation table at nowhere" in caplog.text


def test_the_latest_evaluation_is_compared_unless_a_run_date_is_given(tmp_path, monkeypatch, capsys, caplog):
    monkeypatch.chdir(tmp_path)
    write_evaluation(tmp_path / "out", [("JFK", "naive", True, 2.0)], run_date="2026-11-30")
    write_evaluation(tmp_path / "out", [("JFK", "naive", True, 1.0)])
    assert forecasting_main(["compare", "out", "out", "--candidates", "naive", "naive"]) == 0
    assert "mean            1.000 -> 1.000" in capsys.readouterr().out
    assert forecasting_main(["compare", "out", "out", "--run-date", "2026-11-30"]) == 0
    shown = capsys.readouterr().out
    assert "(2026-11-30)" in shown and "run dates differ" not in shown
    # another data set's evaluation of another date, keyed alike: said, as the scores are of other periods
    write_evaluation(tmp_path / "yearly", [("JFK", "naive", True, 3.0)], run_date="2025-10-15")
    assert forecasting_main(["compare", "out", "yearly"]) == 0
    assert ("  run dates differ (2026-12-06, 2025-10-15): each side held out the periods before its own, so a series' "
            "two scores are of other periods (or other data altogether); configs compare evaluated at one --run-date, "
            "horizon and frequency") in capsys.readouterr().out.splitlines()
    assert forecasting_main(["compare", "out", "out", "--run-date", "2026-11-29"]) == 1
    assert "has no evaluation of run date 2026-11-29; it has 2026-11-30, 2026-12-06" in caplog.text


def test_tables_keyed_by_other_columns_are_not_paired_and_no_overlap_still_names_each_sides_series(
        tmp_path, monkeypatch, capsys, caplog):
    import datetime as dt

    import pyarrow as pa
    from deltalake import write_deltalake

    monkeypatch.chdir(tmp_path)
    write_evaluation(tmp_path / "airports", [("JFK", "naive", True, 1.0)])
    # store 1 and item 1 read alike as ids: unrelated series, refused
    write_deltalake(str(tmp_path / "stores" / "evaluation"), pa.table({
        "store": ["JFK"], "candidate": ["naive"], "selected": [True], "mase": [2.0], "smape": [1.0], "mae": [1.0],
        "rmse": [1.0], "run_date": [dt.date(2026, 12, 6)]}))
    assert forecasting_main(["compare", "airports", "stores"]) == 1
    assert ("airports/evaluation is keyed by airport, stores/evaluation by store: their series cannot be paired"
            in caplog.text)
    write_evaluation(tmp_path / "other", [("LGA", "naive", True, 1.0)])
    assert forecasting_main(["compare", "airports", "other"]) == 0
    shown = capsys.readouterr().out
    assert "  no series scored on both sides" in shown
    assert "only scored by selection in airports/evaluation: 1 series (JFK)" in shown
    assert "only scored by selection in other/evaluation: 1 series (LGA)" in shown


def test_a_selection_holding_fallbacks_is_named_as_the_evaluations_all_series(tmp_path, monkeypatch, capsys):
    # its mean was the summary's all_series (0.855), read as its selection (0.816) (the walk-through of 12-07)
    monkeypatch.chdir(tmp_path)
    write_evaluation(tmp_path / "base", [("JFK", "prophet", True, 1.0), ("ACY", "fallback_naive", True, 2.0)])
    assert forecasting_main(["compare", "base", "base"]) == 0
    assert ("from selection and 1 fallback (its all_series) in base/evaluation (2026-12-06) to selection and 1 "
            "fallback (its all_series)") in capsys.readouterr().out


def test_scores_that_differ_by_a_fits_floating_point_noise_are_equal(tmp_path, monkeypatch, capsys):
    # warm starts moved MASE by 5e-8: "10 better, 3 worse (p = 0.092: weak evidence)" where no forecast changed
    # (the walk-through of 12-07)
    monkeypatch.chdir(tmp_path)
    airports = [f"A{i}" for i in range(12)]
    write_evaluation(tmp_path / "before", [(a, "prophet", True, 0.75182987 + i) for i, a in enumerate(airports)])
    write_evaluation(tmp_path / "after", [(a, "prophet", True, 0.75182987 + i + (5e-8 if i < 9 else -5e-8))
                                          for i, a in enumerate(airports[:11])] + [("A11", "prophet", True, 12.0)])
    assert forecasting_main(["compare", "before", "after"]) == 0
    shown = capsys.readouterr().out
    assert "  better / worse  0 better, 1 worse, 11 equal" in shown
    assert "  largest changes A11 11.752 -> 12.000\n" in shown  # the noise is no change to list


def test_the_sign_tests_verdict_says_weak_evidence_and_where_too_few_series_differ_to_tell():
    # the walk-through of 12-06: 7 better and 1 worse (p = 0.07) read "no evidence", and 5 series that differ can
    # never reach p < 0.05
    said = {split: evaluation_compare._verdict(evaluation_compare.sign_test(*split), sum(split))
            for split in ((7, 1), (20, 14), (10, 1), (5, 0), (0, 0))}
    assert said[(0, 0)] == "no series scored otherwise on the two sides"  # not "evaluate more series"
    assert said[(7, 1)] == "weak evidence of a difference: chance alone gives as uneven a split 7% of the time"
    assert said[(20, 14)] == "no evidence of a difference: chance alone gives as uneven a split 39% of the time"
    assert said[(10, 1)] == "a difference that chance alone gives less than one time in twenty"
    assert said[(5, 0)].endswith("with 5 series that differ no split could show a difference at one in twenty: "
                                 "evaluate more series")
    # a change too small for three decimals is shown with the digits that tell it (it counts as better or worse)
    assert evaluation_compare._change_text(0.51912, 0.51884) == "0.5191 -> 0.5188"


def test_the_settings_in_which_the_two_evaluations_job_runs_differ_are_named(tmp_path, monkeypatch, capsys):
    # a walk-through of 12-07: evaluations of horizons 48 and 24 were compared without a word, and two of one
    # data's end under two run dates were said to hold out other periods; which setting changed was left to a
    # diff of params by hand
    from forecasting import tracking

    monkeypatch.chdir(tmp_path)
    store = tmp_path / "mlruns"
    client = tracking.client(str(store))
    experiment = client.create_experiment("evaluations")

    def job_run(output, **params):
        run = client.create_run(experiment, tags={tracking.INPUT_END_TAG: "2015-02-12T23:00:00"}).info.run_id
        for key, value in {"forecast.horizon": "48", "forecast.frequency": "h", "tuning.max_evals": "12",
                           "output.path": output, **params}.items():
            client.log_param(run, key, value)
        return run

    rows = [("JFK", "naive", True, 1.0), ("LGA", "naive", True, 2.0)]
    write_evaluation(tmp_path / "base", rows, "2015-02-12", job_run("base"))
    write_evaluation(tmp_path / "more", rows, "2026-12-07", job_run("more", **{"tuning.max_evals": "24"}))
    write_evaluation(tmp_path / "short", rows, "2015-02-12", job_run("short", **{"forecast.horizon": "24"}))
    settings = ["--set", f"tracking.uri={store}"]
    assert forecasting_main(["compare", "base", "more", *settings]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "  settings        tuning.max_evals 12 -> 24 (the job runs' params)"
    assert lines[2] == ("  run dates differ (2015-02-12, 2026-12-07), but both inputs reached 2015-02-12T23:00:00: the "
                        "same periods were held out")
    assert forecasting_main(["compare", "base", "short", *settings]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:3] == ["  settings        forecast.horizon 48 -> 24 (the job runs' params)",
                          "  not comparable  forecast.horizon differs: each side held out other periods, so a series' "
                          "two scores are of other periods; compare evaluations of one horizon and frequency"]
    assert forecasting_main(["compare", "base", "base", *settings]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "  settings        the same (the job runs' params)"
    # a parameter searched by one run only: its values, not its unset fields (a walk-through of 12-08 got ten
    # entries, five of them "null")
    searched = {f"tuning.search_space.yearly_seasonality.{field}": value
                for field, value in (("values", "[4, 6]"), ("low", "None"), ("high", "None"), ("q", "None"))}
    write_evaluation(tmp_path / "wider", rows, "2015-02-12", job_run("wider", **searched))
    assert forecasting_main(["compare", "base", "wider", *settings]) == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        "  settings        settings only the second run has: tuning.search_space.yearly_seasonality.values [4, 6] "
        "(the job runs' params)")
    # a store that is not there, or holds neither run: the tables alone, and a line saying why (the docs
    # walk-through of 12-07: the settings line had gone without a word)
    assert forecasting_main(["compare", "base", "more", "--set", f"tracking.uri={tmp_path / 'elsewhere'}"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        f"  settings        not compared: no MLflow store at {tmp_path / 'elsewhere'} (the evaluations' own: their "
        "--config, or --set tracking.uri=...)")
    assert not (tmp_path / "elsewhere").exists()  # no empty store made there
    other = tracking.client(str(tmp_path / "other"))
    other.create_experiment("evaluations")
    assert forecasting_main(["compare", "base", "more", "--set", f"tracking.uri={tmp_path / 'other'}"]) == 0
    said = capsys.readouterr().out.splitlines()[1]
    assert said.startswith("  settings        not compared: their job runs not read from ") and "Run" in said
