"""The per-series forecast plot logged with each child run."""
from __future__ import annotations

import pandas as pd

# History shown before the forecast, in forecast horizons: enough to judge the
# seasonality without squeezing the forecast into a sliver of the plot.
HISTORY_HORIZONS = 10
# The plot is drawn once per series in the training hot path: fixed margins
# instead of tight_layout (which draws the figure twice) and light PNG
# compression halve its cost; the file is a little larger.
SAVE_KWARGS = {"pil_kwargs": {"compress_level": 1}}


def forecast_figure(history: pd.DataFrame, forecast: pd.DataFrame, title: str):
    """History (``ds``, ``y``) and forecast with its interval, as a matplotlib Figure."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    shown = history.tail(max(HISTORY_HORIZONS * len(forecast), 2 * len(forecast)))
    figure = Figure(figsize=(10, 4), dpi=100)
    figure.subplots_adjust(left=0.08, right=0.98, top=0.91, bottom=0.17)
    axes = figure.subplots()
    axes.plot(shown["ds"], shown["y"], color="black", linewidth=0.8, label="history")
    axes.plot(forecast["ds"], forecast["yhat"], color="tab:blue", linewidth=1.5, label="forecast")
    if forecast["yhat_lower"].notna().any():
        axes.fill_between(
            forecast["ds"], forecast["yhat_lower"], forecast["yhat_upper"],
            color="tab:blue", alpha=0.25, label="interval",
        )
    axes.axvline(shown["ds"].iloc[-1], color="grey", linestyle=":", linewidth=1)
    axes.set_title(title)
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3)
    figure.autofmt_xdate()
    return figure
