"""The notebook's helpers, without Spark."""
import pandas as pd

from forecasting import explore
from forecasting.config import load_config


def test_a_series_history_is_found_by_its_keys_as_the_tables_hold_them(tmp_path):
    # Spark reads a CSV as text, so series_results holds store "1": pandas would read 1
    (tmp_path / "input.csv").write_text("store;day;sales\n1;2024-01-02;5\n1;2024-01-01;4\n2;2024-01-01;9\n")
    config = load_config(None, [f"input.path={tmp_path / 'input.csv'}", "input.key_columns=[store]",
                                "input.time_column=day", "input.target_column=sales", "input.options={sep: ';'}"])
    history = explore.load_history(config.to_dict(), {"store": "1"})
    assert history["ds"].tolist() == list(pd.to_datetime(["2024-01-01", "2024-01-02"]))
    assert history["y"].tolist() == [4, 5]
