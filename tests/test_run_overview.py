"""The training run's overview picture, drawn from grouped counts without Spark."""
from dataclasses import replace
from xml.etree import ElementTree

from forecasting import run_overview
from forecasting.run_overview import Overview

SVG = "{http://www.w3.org/2000/svg}"


def said(svg: str, kind: str) -> list[str]:
    """The tooltips (or, for text, the words) of the document's elements of class ``kind``."""
    document = ElementTree.fromstring(svg)  # it parses: MLflow's UI would show nothing otherwise
    return [element.findtext(f"{SVG}title") or element.text for element in document.iter()
            if element.get("class") == kind]


def test_bars_stack_each_models_series_per_bin_and_outcomes_list_models_then_statuses():
    overview = Overview({("ok", "prophet", 6): 5, ("ok", "naive", 6): 2, ("ok", "prophet", 0): 1,
                         ("ok", "drift", None): 1, ("skipped", None, None): 3, ("failed", "naive", None): 1},
                        worst=[("a/x", 3.5, "prophet"), ("b/y", 2.25, "naive")])
    svg = run_overview.overview_svg(overview, "Forecast run 2024-03-31")
    assert said(svg, "bin") == ["prophet: 1 series, MASE below 0.1", "prophet: 5 series, MASE 0.7 to 1",
                                "naive: 2 series, MASE 0.7 to 1"]
    # the series without a CV MASE are counted among the outcomes, not in the histogram
    assert said(svg, "outcome") == ["prophet: 6 series", "naive: 2 series", "drift: 1 series", "skipped: 3 series",
                                    "failed: 1 series"]
    assert said(svg, "worst") == ["a/x", "b/y"] and ">2.25 naive<" in svg
    assert ">Forecast run 2024-03-31: 13 series<" in svg
    # the modelled series the bars leave out are said, or they would not add up to the count above them
    assert ">1 of them without a finite CV MASE (a flat history, too few folds), not shown<" in svg
    assert "without a finite CV MASE" not in run_overview.overview_svg(Overview({("ok", "naive", 3): 2}), "run")


def test_a_run_without_modelled_series_says_so_and_odd_names_do_not_break_the_document():
    odd = 'store "<&>"\x07/' + "x" * 40
    overview = Overview({("skipped", None, None): 2}, worst=[])
    assert "no series has a cross-validated MASE" in run_overview.overview_svg(overview, odd)
    overview = Overview({("ok", "prophet", 3): 1}, worst=[(odd, 2.0, "prophet")])
    [shown] = said(run_overview.overview_svg(overview, odd), "worst")
    assert shown.startswith('store "<&') and "…" in shown and shown.endswith("x" * 17) and len(shown) == 28


def test_each_model_keeps_its_colour_whatever_wins_most_and_the_notes_and_the_lists_range_are_said():
    overview = Overview({("ok", "naive", 6): 9, ("ok", "prophet", 7): 1, ("ok", "my_model", 7): 1},
                        worst=[("a/x", 0.9, "prophet"), ("b/y", 0.8, "naive")], noted=4)
    svg = run_overview.overview_svg(overview, "Forecast run 2024-03-31")
    document = ElementTree.fromstring(svg)
    fills = {element.findtext(f"{SVG}title"): element.get("fill") for element in document.iter()
             if element.get("class") == "outcome"}
    assert fills["naive: 9 series"] == run_overview.MODEL_COLOURS["naive"]  # as in a run where prophet wins most
    assert fills["prophet: 1 series"] == run_overview.MODEL_COLOURS["prophet"]
    assert fills["my_model: 1 series"] in run_overview.SPARE_COLOURS
    assert said(svg, "noted") == ["4 modelled with data notes (series_results.data_notes)"]
    evaluated = run_overview.overview_svg(replace(overview, notes_at="the child runs' data_notes tags"), "Evaluation")
    assert said(evaluated, "noted") == ["4 modelled with data notes (the child runs' data_notes tags)"]
    assert "highest CV MASE (all below 1)" in svg and "11 series modelled of 11" in svg

