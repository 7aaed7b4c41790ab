"""The pure parts of ``python -m forecasting``; tests/test_pipeline.py runs it on a real job's output."""
from forecasting import lookup


def test_run_location_points_at_the_server_page_or_the_local_folder_and_ui():
    assert lookup.run_location("https://mlflow.example.com/", "7", "abc") == [
        "https://mlflow.example.com/#/experiments/7/runs/abc"
    ]
    assert lookup.run_location("file:///srv/mlruns", "7", "abc") == [
        "/srv/mlruns/7/abc",
        "mlflow ui --backend-store-uri file:///srv/mlruns, then http://127.0.0.1:5000/#/experiments/7/runs/abc",
    ]
    assert lookup.run_location("databricks", "7", "abc") == ["in the workspace: #mlflow/experiments/7/runs/abc"]


def test_status_counts_list_the_usual_statuses_first():
    metrics = {"series_total": 6, "series_scored": 1, "series_failed": 2, "series_ok": 3, "wall_seconds": 9.5}
    assert lookup.status_counts(metrics) == "ok 3, failed 2, scored 1"
    assert lookup.status_counts({"wall_seconds": 1.0}) == "-"
