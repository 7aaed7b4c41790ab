"""A training run's overview, logged on its MLflow parent run (``overview.svg``): how
well the chosen models did in cross-validation (the series' CV MASE, by the model
that won), how many series each model won or were skipped or failed, and the series
to look at first. Judging a run of thousands of series from numbers alone means a
query; the picture shows at a glance whether this week's run went like last week's.

Drawn from a few grouped rows and the worst few series (nothing else per series
reaches the driver), as SVG text like the series' own plots (``plots``)."""
from __future__ import annotations

from dataclasses import dataclass, field

from forecasting import plots, series_identity
from forecasting.series import FAILED, OK, SKIPPED, STATUSES

ARTIFACT = "overview.svg"
# Bin edges of the CV MASE histogram, even steps of its logarithm, roughly (a MASE of
# 0.5 is as far below 1 as 2 is above it); below the first and from the last, one bin each.
MASE_EDGES = (0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0)
WORST = 8  # series named, highest CV MASE first
MEDIAN_CV_MASE = "median_cv_mase"  # the parent run's metric
WIDTH, HEIGHT = 1000, 480  # room for six models' and two statuses' bars above eight worst series
TOP, BOTTOM = 50, 60
HISTOGRAM_LEFT, HISTOGRAM_RIGHT = 60, 590
BARS_LEFT, BARS_RIGHT = 760, 960
# one colour per model name, the same in every run's picture; a model of another name takes a spare one
MODEL_COLOURS = {"prophet": "#1f77b4", "seasonal_naive": "#ff7f0e", "naive": "#2ca02c", "drift": "#9467bd",
                 "weekly_naive": "#8c564b", "ensemble": "#e377c2", "recent_mean": "#bcbd22"}
SPARE_COLOURS = ("#17becf", "#7f7f7f", "#aec7e8")
STATUS_COLOURS = {SKIPPED: "#a0a0a0", FAILED: "#d62728"}


@dataclass
class Overview:
    """``series``: how many series of each (status, model, MASE bin); the bin is the
    number of MASE_EDGES at or below the series' CV MASE, None without one.
    ``worst``: (series, CV MASE, model), highest first. ``noted``: the modelled series
    with data notes (cleaning's: gaps, merged values, ...; selection's)."""
    series: dict[tuple[str, str | None, int | None], int] = field(default_factory=dict)
    worst: list[tuple[str, float, str]] = field(default_factory=list)
    noted: int = 0
    notes_at: str = "series_results.data_notes"  # where a reader finds them (an evaluation writes no series_results)

    @property
    def modelled(self) -> int:
        return sum(count for (status, _, _), count in self.series.items() if status == OK)

    def by_model(self) -> dict[str, int]:
        """Series modelled (status ok) per model that won, most first."""
        won: dict[str, int] = {}
        for (status, model, _), count in self.series.items():
            if status == OK:
                won[model or "none"] = won.get(model or "none", 0) + count
        return dict(sorted(won.items(), key=lambda item: (-item[1], item[0])))

    def histogram(self) -> dict[str, list[int]]:
        """Series per MASE bin (len(MASE_EDGES) + 1 bins), per model that won."""
        bins: dict[str, list[int]] = {}
        for (status, model, index), count in self.series.items():
            if status == OK and index is not None:
                bins.setdefault(model or "none", [0] * (len(MASE_EDGES) + 1))[index] += count
        return bins


def mase_bin(cv_mase):
    """Spark column: the MASE bin of ``cv_mase`` (a column), null where it is missing, NaN or
    infinite (a flat history's: no error to scale by, not a forecast ten times off)."""
    from pyspark.sql import functions as F

    index = sum((cv_mase >= edge).cast("int") for edge in MASE_EDGES)
    return F.when(cv_mase.isNotNull() & ~F.isnan(cv_mase) & (cv_mase < float("inf")), index)


def overview_svg(overview: Overview, title: str) -> str:
    """The overview as an SVG document, titled ``title`` and its series count: the
    histogram on the left, the series per outcome and the worst series on the right."""
    title += f": {sum(overview.series.values())} series"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="24" text-anchor="middle" font-size="15">{plots.svg_text(title)}</text>',
    ]
    won = overview.by_model()
    spare = iter(SPARE_COLOURS * len(won))
    colours = {model: MODEL_COLOURS.get(model) or next(spare) for model in won}
    parts += _histogram(overview.histogram(), colours, overview)
    parts += _outcomes(overview, won, colours)
    parts += _worst(overview.worst)
    parts.append("</svg>")
    return "\n".join(parts)


def _histogram(bins: dict[str, list[int]], colours: dict[str, str], overview: Overview) -> list[str]:
    """Series per CV MASE bin, stacked by the model that won, on a log scale of MASE."""
    bottom, count = HEIGHT - BOTTOM, len(MASE_EDGES) + 1
    parts = [f'<text x="{(HISTOGRAM_LEFT + HISTOGRAM_RIGHT) / 2}" y="{TOP - 8}" text-anchor="middle" '
             f'font-size="13">cross-validated MASE of the model chosen: {overview.modelled} series modelled of '
             f'{sum(overview.series.values())}</text>',
             f'<text x="16" y="{(TOP + bottom) / 2}" text-anchor="middle" '
             f'transform="rotate(-90 16 {(TOP + bottom) / 2})">series</text>']
    totals = [sum(model_bins[i] for model_bins in bins.values()) for i in range(count)]
    unbinned = overview.modelled - sum(totals)
    if unbinned:  # the bars would not add up to the series modelled
        parts.append(f'<text x="{(HISTOGRAM_LEFT + HISTOGRAM_RIGHT) / 2}" y="{TOP + 8}" text-anchor="middle" '
                     f'font-size="11">{unbinned} of them without a finite CV MASE (a flat history, too few '
                     'folds), not shown</text>')
    if not any(totals):
        parts.append(f'<text x="{(HISTOGRAM_LEFT + HISTOGRAM_RIGHT) / 2}" y="{(TOP + bottom) / 2}" '
                     'text-anchor="middle">no series has a cross-validated MASE</text>')
        return parts
    width = (HISTOGRAM_RIGHT - HISTOGRAM_LEFT) / count
    y = plots.Scale(0, max(max(totals) * 1.05, 6), bottom, TOP)
    for value, label in plots.value_ticks(0, max(max(totals) * 1.05, 6)):
        parts.append(f'<line x1="{HISTOGRAM_LEFT}" y1="{y(value):.1f}" x2="{HISTOGRAM_RIGHT}" y2="{y(value):.1f}" '
                     'stroke="#e0e0e0"/>')
        parts.append(f'<text x="{HISTOGRAM_LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{label}</text>')
    stacked = [0] * count
    for model, model_bins in bins.items():
        for i, series in enumerate(model_bins):
            if series:
                low, high = y(stacked[i]), y(stacked[i] + series)
                parts.append(f'<rect class="bin" x="{HISTOGRAM_LEFT + i * width + 1:.1f}" y="{high:.1f}" '
                             f'width="{width - 2:.1f}" height="{low - high:.1f}" fill="{colours[model]}">'
                             f'<title>{plots.svg_text(model)}: {series} series, MASE {_bin_label(i)}</title></rect>')
                stacked[i] += series
    # the bins' edges, the outer bins from 0 and up to infinity
    for i, label in enumerate(["0", *(f"{edge:g}" for edge in MASE_EDGES), "∞"]):
        x = HISTOGRAM_LEFT + i * width
        parts.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{label}</text>')
        if label == "1":
            parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{bottom}" stroke="#404040" '
                         'stroke-dasharray="4,3"/>')
    parts.append(f'<line x1="{HISTOGRAM_LEFT}" y1="{bottom}" x2="{HISTOGRAM_RIGHT}" y2="{bottom}" stroke="#808080"/>')
    middle = (HISTOGRAM_LEFT + HISTOGRAM_RIGHT) / 2
    parts.append(f'<text x="{middle}" y="{bottom + 32}" text-anchor="middle">CV MASE, log-spaced bins</text>')
    parts.append(f'<text x="{middle}" y="{bottom + 48}" text-anchor="middle" font-size="11">the dashed line at 1: '
                 "an error as large as the history's mean change from one season to the next</text>")
    return parts


def _outcomes(overview: Overview, won: dict[str, int], colours: dict[str, str]) -> list[str]:
    """One bar per model that won (series modelled), then the skipped and failed series."""
    statuses: dict[str, int] = {}
    for (status, _, _), count in overview.series.items():
        statuses[status] = statuses.get(status, 0) + count
    rows = [(f"{model}", count, colours[model]) for model, count in won.items()]
    rows += [(status, statuses.get(status, 0), STATUS_COLOURS.get(status, "#606060"))
             for status in (SKIPPED, FAILED, *sorted(set(statuses) - set(STATUSES)))]
    parts = [f'<text x="{BARS_LEFT - 130}" y="{TOP - 8}" font-size="13">series by the model chosen, '
             'or by status</text>']
    most = max((count for _, count, _ in rows), default=0) or 1
    for i, (label, count, colour) in enumerate(rows):
        row = TOP + 8 + 20 * i
        length = (BARS_RIGHT - BARS_LEFT) * count / most
        parts.append(f'<text x="{BARS_LEFT - 6}" y="{row + 11}" text-anchor="end">{plots.svg_text(label)}</text>')
        parts.append(f'<rect class="outcome" x="{BARS_LEFT}" y="{row}" width="{length:.1f}" height="14" '
                     f'fill="{colour}"><title>{plots.svg_text(label)}: {count} series</title></rect>')
        parts.append(f'<text x="{BARS_LEFT + length + 4:.1f}" y="{row + 11}">{count}</text>')
    if overview.noted:  # a near-perfect score on a gappy or merged history is one to check
        parts.append(f'<text class="noted" x="{BARS_LEFT - 130}" y="{TOP + 8 + 20 * len(rows) + 14}">'
                     f'{overview.noted} modelled with data notes ({overview.notes_at})</text>')
    return parts


def _worst(worst: list[tuple[str, float, str]]) -> list[str]:
    """The series with the highest CV MASE, to look at first."""
    if not worst:
        return []
    top = HEIGHT - BOTTOM - 18 * len(worst) - 4
    below = " (all below 1)" if all(mase < 1 for _, mase, _ in worst) else ""
    parts = [f'<text x="{BARS_LEFT - 130}" y="{top}" font-size="13">highest CV MASE{below}</text>',
             f'<text x="{BARS_RIGHT + 30}" y="{top}" text-anchor="end" fill="#606060">CV MASE, model</text>']
    for i, (series, mase, model) in enumerate(worst):
        row = top + 18 * (i + 1)
        name = plots.svg_text(series_identity.shortened(series, 28))
        parts.append(f'<text class="worst" x="{BARS_LEFT - 130}" y="{row}">{name}</text>')
        parts.append(f'<text x="{BARS_RIGHT + 30}" y="{row}" text-anchor="end">{mase:.2f} '
                     f'{plots.svg_text(model)}</text>')
    return parts


def _bin_label(index: int) -> str:
    if index == 0:
        return f"below {MASE_EDGES[0]:g}"
    if index == len(MASE_EDGES):
        return f"{MASE_EDGES[-1]:g} or more"
    return f"{MASE_EDGES[index - 1]:g} to {MASE_EDGES[index]:g}"


def median_cv_mase(staged) -> float | None:
    """The median CV MASE of the modelled series with a finite one (a flat history's is
    infinite), exact; None where there is none: the run's accuracy in one number, which
    ``python -m forecasting runs`` lists run by run."""
    from pyspark.sql import functions as F

    scored = staged.where((F.col("status") == OK) & (F.col("cv_mase") < float("inf")))
    return scored.agg(F.median("cv_mase")).first()[0]


def worst_series(staged, key_columns: list[str]) -> list[tuple[str, float, str]]:
    """The WORST modelled series of ``staged`` (result rows) with the highest finite CV MASE."""
    from pyspark.sql import functions as F

    # below infinity: neither NaN (which Spark orders above it) nor a flat history's infinite MASE
    scored = staged.where((F.col("status") == OK) & (F.col("cv_mase") < float("inf")))
    # through pandas, as the tasks see the keys: collect() would give a time key in the driver's time zone
    rows = scored.orderBy(F.desc("cv_mase")).limit(WORST).select(*key_columns, "cv_mase", "model").toPandas()
    return [(series_identity.series_id({k: row[k] for k in key_columns}), float(row["cv_mase"]), row["model"] or "none")
            for row in rows.to_dict("records")]
