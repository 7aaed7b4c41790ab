"""scripts/simulate_cores.py: a run's training stage played onto more cores."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("simulate_cores", ROOT / "scripts" / "simulate_cores.py")
simulate_cores = importlib.util.module_from_spec(spec)
spec.loader.exec_module(simulate_cores)


def test_tasks_start_in_order_on_the_first_free_core_so_a_big_last_task_is_a_straggler():
    assert simulate_cores.stage_seconds([4, 1, 1, 1, 1], cores=2) == 4
    assert simulate_cores.stage_seconds([1, 1, 1, 1, 4], cores=2) == 6
    assert simulate_cores.efficiency([1, 1, 1, 1, 4], tasks=[0, 1, 2, 3, 4], partitions=5, cores=2) == pytest.approx(
        8 / 2 / 6
    )


def test_a_draw_by_rows_keeps_time_in_proportion_to_rows_and_a_draw_by_series_deals_whole_series():
    import random

    sizes, per_row = [100, 200, 400], [0.01, 0.02, 0.03]
    by_rows = simulate_cores.draw_seconds("rows", sizes, per_row, random.Random(1))
    assert {seconds / rows for seconds, rows in zip(by_rows, sizes)} <= {0.01, 0.02, 0.03}
    by_series = simulate_cores.draw_seconds("series", sizes, per_row, random.Random(1))
    assert sorted(by_series) == pytest.approx([1.0, 4.0, 12.0])


def _results(history_lengths: list[int], seconds_per_row: float) -> pd.DataFrame:
    return pd.DataFrame({
        "store": [f"s{i:02d}" for i in range(len(history_lengths))],
        "history_length": history_lengths,
        "fit_seconds": [rows * seconds_per_row for rows in history_lengths],
        "tracking_seconds": 0.0,
    })


def test_series_in_proportion_to_their_rows_make_balanced_tasks_of_equal_length(spark):
    # 8 short and 4 long series into 8 tasks: dealt biggest first in a snake order,
    # the tasks take 400, 400, 400, 400, 200, 200, 200, 200 rows: two cores end together
    table = _results([100] * 8 + [400] * 4, seconds_per_row=0.01)
    table.loc[0, "store"] = None  # a series with a null key is placed too
    schema = "store string, history_length long, fit_seconds double, tracking_seconds double"
    results = spark.createDataFrame(table, schema)
    placed = simulate_cores.placements(results, ["store"], per_task=[1] * 8)
    seconds = [n * s for n, s in zip(placed["rows"], placed["per_row"])]
    assert simulate_cores.efficiency(seconds, placed["equal"], partitions=8, cores=2) == pytest.approx(1.0)
    assert placed["job"] == placed["equal"]  # one slot a task: the job's tasks are the equal ones
    assert set(placed["hash"]) <= set(range(8)) and len(placed["hash"]) == 12
    # tasks of 2, 1 and 1 slots: four slots of one long and two short series each
    tapered = simulate_cores.placements(results, ["store"], per_task=[2, 1, 1])
    rows_per_task = [sum(n for n, task in zip(tapered["rows"], tapered["job"]) if task == t) for t in range(3)]
    assert rows_per_task == [1200, 600, 600]


def test_the_script_reports_each_core_count_from_a_runs_series_results(tmp_path):
    output = tmp_path / "output"
    table = _results([100] * 8 + [400] * 4, seconds_per_row=0.01).assign(
        run_date=pd.Timestamp("2026-11-30").date(), status="ok"
    )
    (output / "series_results" / "run_date=2026-11-30").mkdir(parents=True)
    table.drop(columns="run_date").to_parquet(output / "series_results" / "run_date=2026-11-30" / "part-0.parquet")
    config = tmp_path / "job.yaml"
    config.write_text(f"input:\n  key_columns: [store]\noutput:\n  path: {output}\n  format: parquet\n")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "simulate_cores.py"), "--config", str(config), "--cores", "2,4",
         "--draws", "20"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.strip()[:1].isdigit()}
    assert set(lines) == {"12", "2", "4"}  # the heading's series count, then one line per core count
    assert lines["2"][:3] == ["2", "8", "12.0"] and lines["4"][:3] == ["4", "12", "6.0"]
    # the same seconds per row in every draw: exact, for the job's tasks and equal ones
    assert float(lines["2"][3]) == pytest.approx(1.0) and float(lines["2"][5]) == pytest.approx(1.0)
