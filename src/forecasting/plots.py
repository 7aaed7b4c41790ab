"""The per-series forecast plot logged with each child run, written as SVG.

The plot is drawn once per series in the training hot path. Writing the SVG
text directly takes a few milliseconds; the same plot through matplotlib took
60-80 ms, most of what tracking a series cost. MLflow's UI previews SVG
artifacts as it does PNG ones, and browsers scale them without blur."""
from __future__ import annotations

import math
import re
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from forecasting.cleaning_notes import true_runs, value_text
from forecasting.plot_ticks import MAX_TICK_LABEL, _date_ticks, value_ticks
from forecasting.spikes import find_spikes

# History shown before the forecast, in forecast horizons: enough to judge the
# seasonality without squeezing the forecast into a sliver of the plot.
HISTORY_HORIZONS = 10
WITHOUT_FORECAST = 100  # the history's rows a plot shows of a series without forecast rows
PLOT_SEASON = 7  # the values either side a spike is measured against, whatever the frequency
WIDTH, HEIGHT = 1000, 420
# margins around the plot area, px; the bottom one holds the date labels, then the
# legend, which inside the plot area would hide data somewhere whatever its corner
LEFT, RIGHT, TOP, BOTTOM = 80, 20, 40, 65
MIN_FONT = 7  # px: the smallest a label too long for its place is shrunk to
TITLE_CHARACTERS = 100  # of the title at 14 px across the plot; a longer one is shrunk to fit, key and score kept
# Rows further apart than this many of the history's longer usual steps (its 90th percentile step),
# and half as many again (_after_gaps' slack), break its line: a gap the model never saw is no
# straight stretch of values. Daily rows: 4 days; business days, whose weekends make that step 3
# days: 12 (a long weekend stays drawn); monthly rows: about 4 months.
GAP_STEPS = 2.5
LEGEND_CHARACTER = 7  # px: about the widest a character of 12 px sans-serif is, on average
LEGEND_ROW = 16  # px between a two-row legend's rows, both under the date labels
HISTORY_COLOUR, FORECAST_COLOUR, BACKTEST_COLOUR, HISTORY_END_COLOUR = "#000000", "#1f77b4", "#d62728", "#808080"
RUN_DATE_COLOUR = "#2ca02c"
HELD_OUT_COLOUR = "#ff7f0e"  # an evaluation's held-out actuals, which the forecast is scored against


def forecast_svg(history: pd.DataFrame, forecast: pd.DataFrame, title: str, backtest=(),
                 closed: bool = False, run_date: pd.Timestamp | None = None,
                 held_out: pd.DataFrame | None = None) -> str:
    """History (``ds``, ``y``, in any order) and forecast (``yhat`` in its interval
    ``yhat_lower``..``yhat_upper``) as an SVG document. ``backtest``: the selected
    model's cross-validation folds, each (last training time, scored times, point
    forecasts), drawn dashed from a dotted cutoff line where the plot shows them.
    ``closed``, for a series with closed times: lines and the interval break where points
    are further apart than the step between rows (a night closed), rather than run across
    it. ``run_date``
    (its start, or the run's start during it) is drawn where a period or more of the
    forecast lies before it (a series whose data stopped), the plot widened to it by the
    span shown at most (further off, it is named at the plot's edge). ``held_out`` (``ds``,
    ``y``): an evaluation's actuals of the forecast's periods, drawn over it in a colour of
    their own, the history ending before them."""
    history_ds = _naive(history["ds"])
    # the latest rows, in time order: sorted here rather than as a frame (a tenth of the time)
    latest = np.argsort(history_ds.to_numpy("datetime64[ns]"), kind="stable")
    # an empty forecast (a horizon wholly in closed times) shows the history's end alone
    latest = latest[-(HISTORY_HORIZONS * len(forecast) or WITHOUT_FORECAST):]
    shown_ds, forecast_ds = history_ds.iloc[latest], _naive(forecast["ds"])
    shown_seconds, forecast_seconds = _seconds(shown_ds), _seconds(forecast_ds)
    step = _step(shown_seconds, forecast_seconds) if closed or run_date is not None else None
    end = forecast_ds.max() if len(forecast) else shown_ds.max()
    run_date = _past_run_date(run_date, forecast_ds, step)
    if run_date is not None:  # widened to it, by the span shown at most: a series that stopped years ago
        end = min(max(end, run_date), end + (end - shown_ds.min()))
    lower, upper = forecast["yhat_lower"].to_numpy(dtype=float), forecast["yhat_upper"].to_numpy(dtype=float)
    history_y, forecast_y = history["y"].to_numpy(dtype=float)[latest], forecast["yhat"].to_numpy(dtype=float)
    folds = _shown_folds(backtest, shown_seconds.min())
    held_out = held_out.sort_values("ds") if held_out is not None and len(held_out) else None
    actual_seconds = _seconds(_naive(held_out["ds"])) if held_out is not None else np.array([])
    actual_y = held_out["y"].to_numpy(dtype=float) if held_out is not None else np.array([])
    x = Scale(shown_seconds.min(), end.value / 1e9, LEFT, WIDTH - RIGHT)
    # the backtest is clipped to the plot, not fitted in: one wild fold would flatten the rest; so is a
    # spike (a viral day 50 times the rest), marked at the top with its value
    spiked = find_spikes(history_y, PLOT_SEASON)
    y_low, y_high = _padded_range(np.concatenate([history_y[~spiked], forecast_y, lower, upper, actual_y]))
    spiked &= history_y > y_high  # the forecast's interval may reach it
    y = Scale(y_low, y_high, HEIGHT - BOTTOM, TOP)

    parts = _frame(title, x, y, (y_low, y_high), (shown_ds.min(), end))

    usual = _usual_step(shown_seconds)
    apart = step if closed else usual * GAP_STEPS if usual else None
    forecast_x = x(forecast_seconds)
    known = np.isfinite(lower) & np.isfinite(upper)
    parts += _interval(forecast_x[known], y(upper[known]), y(lower[known]), _runs(forecast_seconds[known], apart))
    parts += _markers(x, shown_seconds.max(), run_date, end)
    parts += _backtest(folds, x, y, (y_low, y_high), shown_seconds.min(), apart)
    history_path = _path(x(shown_seconds), y(history_y), shown_seconds, apart)
    forecast_path = _path(forecast_x, y(forecast_y), forecast_seconds, apart)
    parts.append(f'<path class="history" d="{history_path}" fill="none" stroke="{HISTORY_COLOUR}" stroke-width="0.8" '
                 'clip-path="url(#plot-area)"/>')
    # a value alone between gaps (a one-step forecast, a lone row) is no line: a dot
    for cls, xs, ys, seconds, colour, radius in (
            ("history-point", x(shown_seconds), y(history_y), shown_seconds, HISTORY_COLOUR, 2),
            ("forecast-point", forecast_x, y(forecast_y), forecast_seconds, FORECAST_COLOUR, 2.5)):
        for at in _lone_points(ys, seconds, apart):
            # drawn whole at the plot's edge (a history of one row, on the frame), cut only off the scale
            clip = "" if TOP <= ys[at] <= HEIGHT - BOTTOM else ' clip-path="url(#plot-area)"'
            parts.append(f'<circle class="{cls}" cx="{xs[at]:.1f}" cy="{ys[at]:.1f}" r="{radius}" '
                         f'fill="{colour}"{clip}/>')
    for at in np.flatnonzero(spiked):  # off the scale: where, and how high
        spike_x = x(shown_seconds[at])
        parts.append(f'<text class="off-scale" x="{spike_x:.1f}" y="{TOP + 12}" text-anchor="middle" '
                     f'fill="{HISTORY_COLOUR}">\u25b2 {value_text(history_y[at])}</text>')
    parts.append(f'<path class="forecast" d="{forecast_path}" fill="none" stroke="{FORECAST_COLOUR}" stroke-width="1.5"/>')
    if held_out is not None:  # over the forecast: what it is scored against
        parts.append(f'<path class="held-out" d="{_path(x(actual_seconds), y(actual_y), actual_seconds, apart)}" '
                     f'fill="none" stroke="{HELD_OUT_COLOUR}" stroke-width="1.5" clip-path="url(#plot-area)"/>')
        for at in _lone_points(y(actual_y), actual_seconds, apart):
            parts.append(f'<circle class="held-out-point" cx="{x(actual_seconds[at]):.1f}" cy="{y(actual_y[at]):.1f}" '
                         f'r="2.5" fill="{HELD_OUT_COLOUR}" clip-path="url(#plot-area)"/>')
    parts += _legend(with_interval=bool(known.any()), with_backtest=bool(folds), with_run_date=run_date is not None,
                     with_held_out=held_out is not None)
    parts.append("</svg>")
    return "\n".join(parts)


def _frame(title: str, x: Scale, y: Scale, values: tuple[float, float],
           dates: tuple[pd.Timestamp, pd.Timestamp]) -> list[str]:
    """The document's start, the title, the value and date grids with their labels, and the plot's frame."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<defs><clipPath id="plot-area"><rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{HEIGHT - TOP - BOTTOM}"/></clipPath></defs>',
        f'<text x="{WIDTH / 2}" y="{TOP - 14}" text-anchor="middle" '
        f'font-size="{_fitting(14, len(title), TITLE_CHARACTERS)}">{svg_text(title)}</text>',
    ]
    ticks = value_ticks(*values)
    tick_font = _fitting(12, max((len(label) for _, label in ticks), default=0), MAX_TICK_LABEL)
    for value, label in ticks:
        py = y(value)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{py:.1f}" x2="{WIDTH - RIGHT}" y2="{py:.1f}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end" font-size="{tick_font}">{label}</text>')
    for moment, label in _date_ticks(*dates):
        px = x(moment.value / 1e9)  # nanoseconds since the epoch
        parts.append(f'<line class="grid" x1="{px:.1f}" y1="{TOP}" x2="{px:.1f}" y2="{HEIGHT - BOTTOM}" stroke="#e0e0e0"/>')
        # centred on its line, but kept inside the picture at its edges (a plot widened to its run date
        # ended on a tick whose label was cut to "2015-02-")
        half = LEGEND_CHARACTER * len(label) / 2
        anchor = "end" if px + half > WIDTH else "start" if px - half < 0 else "middle"
        parts.append(f'<text class="date-label" x="{px:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                     f'text-anchor="{anchor}">{label}</text>')
    parts.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
        'fill="none" stroke="#808080"/>'
    )
    return parts


def _interval(xs: np.ndarray, upper: np.ndarray, lower: np.ndarray, runs: list[slice]) -> list[str]:
    """The forecast's interval (pixels): one band, or one per stretch of open times."""
    parts = []
    for run in runs:
        run_x, run_upper, run_lower = xs[run], upper[run], lower[run]
        if len(run_x) == 1:  # a band of one time has no width: a bar
            parts.append(f'<line class="interval" x1="{run_x[0]:.1f}" y1="{run_upper[0]:.1f}" x2="{run_x[0]:.1f}" '
                         f'y2="{run_lower[0]:.1f}" stroke="{FORECAST_COLOUR}" stroke-opacity="0.25" '
                         'stroke-width="8"/>')
            continue
        # along the upper bound, then back along the lower one
        outline_x = np.concatenate([run_x, run_x[::-1]])
        outline_y = np.concatenate([run_upper, run_lower[::-1]])
        points = " ".join(map("{:.1f},{:.1f}".format, outline_x.tolist(), outline_y.tolist()))
        parts.append(f'<polygon class="interval" points="{points}" fill="{FORECAST_COLOUR}" fill-opacity="0.25"/>')
    return parts


def _markers(x: Scale, history_end: float, run_date: pd.Timestamp | None, end: pd.Timestamp) -> list[str]:
    """The history's end, and a run date a period or more after the forecast's start, as vertical lines."""
    last_x = x(history_end)
    parts = [f'<line class="history-end" x1="{last_x:.1f}" y1="{TOP}" x2="{last_x:.1f}" y2="{HEIGHT - BOTTOM}" '
             f'stroke="{HISTORY_END_COLOUR}" stroke-dasharray="2,3"/>']
    if run_date is not None:
        run_x = x(min(run_date, end).value / 1e9)
        parts.append(f'<line class="run-date" x1="{run_x:.1f}" y1="{TOP}" x2="{run_x:.1f}" y2="{HEIGHT - BOTTOM}" '
                     f'stroke="{RUN_DATE_COLOUR}" stroke-dasharray="6,3"/>')
        if run_date > end:  # further off than the plot reaches: said at its edge
            parts.append(f'<text class="run-date-label" x="{run_x - 4:.1f}" y="{TOP + 14}" text-anchor="end" '
                         f'fill="{RUN_DATE_COLOUR}">run date {run_date:%Y-%m-%d} \u2192</text>')
    return parts


def _backtest(folds: list[tuple[float, np.ndarray, np.ndarray]], x: Scale, y: Scale, values: tuple[float, float],
              first_shown: float, apart: float | None) -> list[str]:
    """Each fold's point forecasts dashed from a dotted cutoff line; a fold wholly off the value scale
    is said where it starts, with its median."""
    parts = []
    y_low, y_high = values
    for cutoff, seconds, predicted in folds:
        if cutoff >= first_shown:
            cut_x = x(cutoff)
            parts.append(f'<line class="cutoff" x1="{cut_x:.1f}" y1="{TOP}" x2="{cut_x:.1f}" y2="{HEIGHT - BOTTOM}" '
                         f'stroke="{BACKTEST_COLOUR}" stroke-opacity="0.5" stroke-dasharray="1,3"/>')
        parts.append(f'<path class="backtest" d="{_path(x(seconds), y(predicted), seconds, apart)}" fill="none" '
                     f'stroke="{BACKTEST_COLOUR}" stroke-width="1.2" stroke-dasharray="4,2" clip-path="url(#plot-area)"/>')
        shown = predicted[np.isfinite(predicted)]
        if not ((shown >= y_low) & (shown <= y_high)).any():  # wholly off the scale: said where it starts
            middle = float(np.median(shown))
            mark, row = ("\u25b2", TOP + 12) if middle > y_high else ("\u25bc", HEIGHT - BOTTOM - 4)
            parts.append(f'<text class="off-scale" x="{x(max(cutoff, first_shown)):.1f}" y="{row}" '
                         f'fill="{BACKTEST_COLOUR}">{mark} backtest {value_text(middle)}</text>')
    return parts


def _fitting(size: float, characters: int, room: int) -> float:
    """A font size that fits ``characters`` where ``room`` of them fit at ``size``."""
    return size if characters <= room else max(MIN_FONT, math.floor(size * room / characters * 10) / 10)


def _usual_step(seconds: np.ndarray) -> float | None:
    """The longer usual step between the history's times shown (seconds), their 90th
    percentile: a business week's weekend, not only its days; None for one time."""
    steps = np.diff(seconds)
    steps = steps[steps > 0]
    return float(np.percentile(steps, 90)) if len(steps) else None


def _step(shown_seconds: np.ndarray, forecast_seconds: np.ndarray) -> float:
    """The shortest step between the times shown (seconds): the series' period, its
    closed times or gaps aside; 0 for a single time."""
    steps = np.diff(np.concatenate([shown_seconds, forecast_seconds]))
    steps = steps[steps > 0]
    return float(steps.min()) if len(steps) else 0.0


def _past_run_date(run_date, forecast_ds: pd.Series, step: float | None) -> pd.Timestamp | None:
    """The run date (naive UTC) where a period (``step`` seconds) or more of the forecast
    lies before it: a series whose data stopped, forecast from its last row; None where
    the forecast starts in the run date's own period (a daily run's day, at whatever hour
    it runs; a quarter still open), or there is none."""
    if run_date is None or not len(forecast_ds):
        return None
    moment = pd.Timestamp(run_date)
    moment = moment.tz_convert("UTC").tz_localize(None) if moment.tzinfo is not None else moment
    return moment if moment >= forecast_ds.min() + pd.Timedelta(seconds=step) else None


def _after_gaps(seconds: np.ndarray, apart: float | None) -> np.ndarray:
    """The positions of the ``seconds`` (sorted) more than ``apart`` after the one
    before (by half a step more: float seconds): where a stretch of open times starts."""
    if apart is None or len(seconds) < 2:
        return np.array([], dtype=int)
    return np.flatnonzero(np.diff(seconds) > apart * 1.5) + 1


def _shown_folds(backtest, first_shown: float) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """The backtest's folds as (cutoff, scored times, forecasts) in seconds, each cut
    to the times the plot shows; a fold wholly before them, or with no forecast (a
    failed fit's NaN), is left out."""
    folds = []
    for cutoff, dates, predicted in backtest:
        naive = dates.dtype == "datetime64[ns]"  # as the job's folds hand them over: no conversion
        seconds = dates.to_numpy().astype("int64") / 1e9 if naive else _seconds(_naive(pd.Series(dates)))
        inside, predicted = seconds >= first_shown, np.asarray(predicted, dtype=float)
        if np.isfinite(predicted[inside]).any():  # else nothing to draw
            cutoff = pd.Timestamp(cutoff)
            cutoff = cutoff.tz_convert("UTC").tz_localize(None) if cutoff.tzinfo is not None else cutoff
            folds.append((cutoff.value / 1e9, seconds[inside], predicted[inside]))
    return folds


class Scale:
    """Linear map from data values onto pixels; the ranges are never flat (the
    forecast follows the history, and values are padded)."""

    def __init__(self, low: float, high: float, start: float, end: float):
        self.low, self.factor, self.start = low, (end - start) / (high - low), start

    def __call__(self, value):
        return self.start + (np.asarray(value, dtype=float) - self.low) * self.factor


def _naive(times: pd.Series) -> pd.Series:
    """Delta tables hand timestamps back as UTC instants, the job's input has none."""
    if not pd.api.types.is_datetime64_any_dtype(times):
        times = pd.to_datetime(times)
    return times.dt.tz_convert("UTC").dt.tz_localize(None) if times.dt.tz is not None else times


def _seconds(times: pd.Series) -> np.ndarray:
    """Naive timestamps as seconds since the epoch."""
    return times.to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9


def _padded_range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    pad = (high - low) * 0.05 or max(abs(high) * 0.05, 1.0)
    return low - pad, high + pad


def _runs(seconds: np.ndarray, apart: float | None) -> list[slice]:
    """The stretches of ``seconds`` (sorted) with no two neighbours more than ``apart``
    from each other: one for all of them where ``apart`` is None."""
    if not len(seconds):
        return []
    cuts = _after_gaps(seconds, apart).tolist()
    return [slice(start, end) for start, end in zip([0] + cuts, cuts + [len(seconds)])]


def _line_runs(ys: np.ndarray, seconds: np.ndarray | None, apart: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of known values starts and ends (exclusive), broken where a value is
    missing and, given ``apart``, where the points' ``seconds`` are further apart than that."""
    known = np.isfinite(ys)
    starts, ends = true_runs(known)  # runs of known values
    split = _after_gaps(seconds, apart)  # a known point after a gap ends one run and starts the next
    split = split[known[split] & known[split - 1]]
    if len(split):
        starts, ends = np.union1d(starts, split), np.union1d(ends, split)
    return starts, ends


def _lone_points(ys: np.ndarray, seconds: np.ndarray | None, apart: float | None) -> np.ndarray:
    """The positions of the points that are a run of their own (no line to draw through)."""
    starts, ends = _line_runs(np.asarray(ys, dtype=float), seconds, apart)
    return starts[ends - starts == 1]


def _path(xs: np.ndarray, ys: np.ndarray, seconds: np.ndarray | None = None, apart: float | None = None) -> str:
    """An SVG path through the points, broken where a value is missing and, given
    ``apart``, where the points' ``seconds`` are further apart than that: one move-to
    and line-tos for each run of known values."""
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    starts, ends = _line_runs(ys, seconds, apart)
    point = "{:.1f},{:.1f}".format
    return " ".join(
        "M" + "L".join(map(point, xs[start:end].tolist(), ys[start:end].tolist())) for start, end in zip(starts, ends)
    )


def _legend(with_interval: bool, with_backtest: bool = False, with_run_date: bool = False,
            with_held_out: bool = False) -> list[str]:
    """Entries under the date labels, from the plot area's left edge, in one row where they
    fit the picture's width, else in two (an evaluation's plot of a stale series has seven)."""
    entries = [("history", HISTORY_COLOUR, "line"), ("forecast", FORECAST_COLOUR, "line")]
    if with_held_out:
        entries.append(("held out", HELD_OUT_COLOUR, "line"))
    if with_interval:
        entries.append(("interval", FORECAST_COLOUR, "box"))
    if with_backtest:
        entries.append(("backtest (dashed) from its cutoff", BACKTEST_COLOUR, "dashed"))
    entries.append(("end of history", HISTORY_END_COLOUR, "dotted"))
    if with_run_date:
        entries.append(("run date", RUN_DATE_COLOUR, "upright"))
    widths = [30 + LEGEND_CHARACTER * len(label) + (6 if mark == "dashed" else 0) for label, _, mark in entries]
    fits = LEFT + sum(widths) + 24 * (len(widths) - 1) <= WIDTH - RIGHT
    row, left = HEIGHT - 12 - (0 if fits else LEGEND_ROW), LEFT
    parts = ['<g class="legend">']
    for (label, colour, mark), width in zip(entries, widths):
        if left + width > WIDTH - RIGHT:  # its text would run off the picture: the next row
            row, left = row + LEGEND_ROW, LEFT
        if mark == "line":
            parts.append(f'<line x1="{left}" y1="{row - 4}" x2="{left + 24}" y2="{row - 4}" stroke="{colour}" '
                         'stroke-width="2"/>')
        elif mark == "dashed":  # the fold's dotted cutoff, then its dashed forecast
            parts.append(f'<line x1="{left + 2}" y1="{row - 12}" x2="{left + 2}" y2="{row + 2}" stroke="{colour}" '
                         'stroke-opacity="0.5" stroke-dasharray="1,3"/>')
            parts.append(f'<line x1="{left + 6}" y1="{row - 4}" x2="{left + 30}" y2="{row - 4}" stroke="{colour}" '
                         'stroke-width="2" stroke-dasharray="4,2"/>')
            left += 6
        elif mark in ("dotted", "upright"):  # upright, as the line it names
            dashes = "2,3" if mark == "dotted" else "6,3"
            parts.append(f'<line x1="{left + 12}" y1="{row - 12}" x2="{left + 12}" y2="{row + 2}" stroke="{colour}" '
                         f'stroke-dasharray="{dashes}"/>')
        else:
            parts.append(f'<rect x="{left}" y="{row - 10}" width="24" height="10" fill="{colour}" fill-opacity="0.25"/>')
        parts.append(f'<text x="{left + 30}" y="{row}">{label}</text>')
        left += 30 + LEGEND_CHARACTER * len(label) + 24
    parts.append("</g>")
    return parts


# characters XML 1.0 has no place for: controls, lone surrogates, U+FFFE and U+FFFF
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def svg_text(value: str) -> str:
    """``value`` as SVG text: escaped, its control characters (a key value may hold
    any) shown as spaces, or the document would not parse and the plot not show."""
    return escape(_NOT_XML.sub(" ", value))
