"""Chart plumbing: palette, style, layout, downsampling and Figure -> inline SVG. The charts
themselves live in :mod:`time_charts` and :mod:`comparison_charts`.

Charts are drawn with ``matplotlib.figure.Figure`` (never pyplot: no global state, no GUI
backend, safe in threads).

Every chart is readable in print and without colour: the Okabe-Ito palette (safe for the
common colour-vision deficiencies) plus a distinct line style per series, labelled axes with
units, text kept as text (``svg.fonttype = none``), and a ``<title>``/``<desc>`` for screen
readers. Cost depends on endpoints × seconds, never on requests: long timelines are reduced
to at most :data:`MAX_POINTS` points and coordinates are rounded.

>>> p99_series = [float(s % 60) for s in range(1800)]  # half an hour, one value a second
>>> x, (p99,) = reduce_series(range(1800), [p99_series], ["max"], limit=600)
>>> len(x), x[:3].tolist(), p99[:3].tolist()  # 3 s a point, each the worst of its seconds
(600, [0.0, 3.0, 6.0], [2.0, 5.0, 8.0])
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from loadgate.results import RunResult

MAX_POINTS = 600  # full-width charts
PANEL_POINTS = 300  # one panel of a small-multiples grid is half as wide
MAX_PANELS = 8  # more small multiples cost time and nobody reads them; the table has all
WIDTH_IN = 10.0

# Okabe & Ito (2008): distinguishable with the common colour-vision deficiencies and in greyscale
# when paired with the line styles below.
BLUE, ORANGE, VERMILLION, GREEN, SKY, PURPLE, YELLOW, BLACK = (
    "#0072B2",
    "#E69F00",
    "#D55E00",
    "#009E73",
    "#56B4E9",
    "#CC79A7",
    "#F0E442",
    "#000000",
)
SERIES = (BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY, BLACK)
STYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1)), (0, (8, 2)))
QUANTILE_STYLE = {  # P50 thin solid, P95 dashed, P99 thick solid: readable in greyscale too
    "p50": (BLUE, "-", 1.0),
    "p95": (ORANGE, "--", 1.4),
    "p99": (VERMILLION, "-", 1.8),
}
WARMUP_GREY = "#DDDDDD"
BUDGET_STYLE = (0, (6, 2, 1, 2))

_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    # endpoint names are data: "$" must not start mathtext (and mathtext parsing is slow)
    "text.parse_math": False,  # text stays text: small, selectable, searchable
    "svg.hashsalt": "loadgate",  # stable ids: the same data gives the same SVG
    "svg.image_inline": True,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 9.0,
    "axes.titlesize": 9.5,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#E6E6E6",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "path.simplify": True,
}
_NUMBER = re.compile(r"-?\d+\.\d+")
_PATH_DATA = re.compile(r'(\sd=")([^"]*)(")')
_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)


@dataclass(frozen=True)
class Chart:
    """One rendered chart: an anchor id, a heading, a plain-text description and the SVG markup."""

    id: str
    title: str
    description: str
    svg: str


# --- helpers --------------------------------------------------------------------------------
def label(text: str, limit: int = 60) -> str:
    """An endpoint name shortened for a chart (mathtext is off, so ``$`` needs no escaping)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@contextmanager
def style() -> Iterator[None]:
    with matplotlib.rc_context(_RC):  # type: ignore[arg-type]  # keys are checked at runtime
        yield


def _round_path(match: re.Match[str]) -> str:
    data = _NUMBER.sub(lambda m: f"{float(m.group()):.1f}".rstrip("0").rstrip("."), match[2])
    return f"{match[1]}{data}{match[3]}"


def to_svg(fig: Figure, chart_id: str, title: str, description: str) -> str:
    """The figure as an inline ``<svg>`` element with a title, a description and prefixed ids."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = _METADATA.sub("", _COMMENT.sub("", text))
    text = _PATH_DATA.sub(_round_path, text)
    # ids must be unique in the page that inlines several charts
    text = text.replace(' id="', f' id="{chart_id}-').replace("url(#", f"url(#{chart_id}-")
    text = text.replace('xlink:href="#', f'xlink:href="#{chart_id}-')
    head_end = text.index(">") + 1
    head = text[:head_end]
    head = re.sub(r'\swidth="[^"]*"', "", head, count=1)
    head = re.sub(r'\sheight="[^"]*"', "", head, count=1)
    head = head.replace(
        "<svg",
        f'<svg role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'class="chart" preserveAspectRatio="xMidYMid meet"',
        1,
    )
    accessible = (
        f'<title id="{chart_id}-title">{html.escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{html.escape(description)}</desc>'
    )
    return head + accessible + text[head_end:]


def _nan(values: Sequence[float | int | None]) -> npt.NDArray[np.float64]:
    return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)


def reduce_series(
    x: Sequence[float],
    columns: Sequence[Sequence[float | int | None]],
    how: Sequence[str],
    limit: int,
) -> tuple[npt.NDArray[np.float64], list[npt.NDArray[np.float64]]]:
    """Bucket a per-second series to at most ``limit`` points.

    ``how`` per column: ``max`` keeps the worst second of a bucket (latency spikes stay visible),
    ``mean`` keeps rates per second. Gaps (``None``) are ignored and all-gap buckets stay gaps.
    """
    xs = np.asarray(x, dtype=np.float64)
    cols = [_nan(c) for c in columns]
    n = len(xs)
    k = max(1, math.ceil(n / limit))
    if k == 1:
        return xs, cols
    pad = (-n) % k
    out: list[npt.NDArray[np.float64]] = []
    for col, mode in zip(cols, how, strict=True):
        grid = np.concatenate([col, np.full(pad, math.nan)]).reshape(-1, k)
        if mode == "max":
            out.append(np.fmax.reduce(grid, axis=1))
        else:
            seen = ~np.isnan(grid)
            total = np.where(seen, grid, 0.0).sum(axis=1)
            count = seen.sum(axis=1)
            out.append(np.divide(total, count, out=np.full(len(total), math.nan), where=count > 0))
    return xs[::k], out


@dataclass(frozen=True)
class TimeAxis:
    """The shared x axis of every chart over time: seconds for short runs, minutes for long."""

    end_s: float
    scale: float
    label: str

    @classmethod
    def of(cls, result: RunResult) -> TimeAxis:
        ends = [float(t) + 1 for t in result.timeline.seconds[-1:]]
        ends += [max(p.t) for p in result.processes if p.t]
        ends += [float(max(g.t)) + 1 for g in result.generators if g.t]
        end = max(ends, default=1.0)
        if end > 900:
            return cls(end, 60.0, "time since start (min)")
        return cls(end, 1.0, "time since start (s)")

    def apply(self, ax: Axes, warmup_s: float, *, note: bool, labelled: bool = True) -> None:
        """Limits, label and the shaded warm-up on ``ax``; ``labelled=False`` for the upper
        panels of a stack that shares the axis."""
        ax.set_xlim(0, self.end_s / self.scale)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=7, integer=True))
        if labelled:
            ax.set_xlabel(self.label)
        else:
            ax.tick_params(labelbottom=False)
        shade_warmup(ax, warmup_s, self.scale, note)


def shade_warmup(ax: Axes, warmup_s: float, scale: float, first: bool) -> None:
    if warmup_s > 0:
        ax.axvspan(0, warmup_s / scale, color=WARMUP_GREY, lw=0, zorder=0)
        if first:
            ax.text(
                warmup_s / scale / 2,
                0.97,
                "warm-up\n(excluded)",
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="top",
                fontsize=7.5,
                color="#555555",
            )


def figure(
    nrows: int,
    ncols: int = 1,
    row_in: float = 2.3,
    *,
    top: float = 0.45,
    bottom: float = 0.55,
    left: float = 0.8,
    right: float = 0.25,
    vgap: float = 0.8,
    hgap: float = 0.85,
    sharex: bool = False,
) -> tuple[Figure, list[Axes]]:
    """A figure with a fixed layout given in inches.

    Constrained layout would measure every tick label twice and costs more than the drawing;
    our charts have predictable text, so margins in inches are enough.
    """
    height = top + bottom + nrows * row_in + (nrows - 1) * vgap
    fig = Figure(figsize=(WIDTH_IN, height))
    width_axes = (WIDTH_IN - left - right - (ncols - 1) * hgap) / ncols
    fig.subplots_adjust(
        left=left / WIDTH_IN,
        right=1 - right / WIDTH_IN,
        top=1 - top / height,
        bottom=bottom / height,
        hspace=vgap / row_in,
        wspace=hgap / width_axes,
    )
    grid = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex)
    return fig, [ax for row in grid for ax in row]


def grid(n: int, row_in: float) -> tuple[Figure, list[Axes]]:
    """Small multiples: one panel per endpoint, two per row."""
    ncols = 1 if n == 1 else 2
    fig, axes = figure(math.ceil(n / ncols), ncols, row_in, top=0.7)
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def panel_title(ax: Axes, name: str) -> None:
    """The endpoint's name above its panel, at a fixed place: letting matplotlib place titles
    measures every tick label of the panel again."""
    ax.set_title(label(name), loc="left", y=1.0, pad=5)
    # every tick is two lines and a text to lay out and write: five on a small panel are plenty
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5))


def capped(names: Sequence[str]) -> tuple[list[str], str]:
    """At most :data:`MAX_PANELS` names and a sentence saying what was left out (or "")."""
    if len(names) <= MAX_PANELS:
        return list(names), ""
    return list(names[:MAX_PANELS]), (
        f" Showing {MAX_PANELS} of {len(names)} endpoints (failing, budgeted and busiest first); "
        "the endpoint table lists all."
    )


def legend_on_top(fig: Figure, handles: Sequence[Line2D | Patch]) -> None:
    height = fig.get_figheight()
    fig.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 1 - 0.05 / height),
        ncols=len(handles),
    )


def number_formatter() -> FuncFormatter:
    """Plain numbers (``250``, ``0.5``, ``1,000``) instead of matplotlib's scientific notation."""
    return FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 1000 else f"{v:g}")


def budget_line(ax: Axes, metric: str, limit: float, index: int = 0) -> None:
    """A dash-dot ceiling with its label on a white patch; alternate labels above and below."""
    ax.axhline(limit, color=BLACK, ls=BUDGET_STYLE, lw=1.2)
    ax.annotate(
        f"{metric.upper()} budget {limit:g} ms",
        (0.99, limit),
        xycoords=("axes fraction", "data"),
        xytext=(0, 2 if index % 2 == 0 else -2),
        textcoords="offset points",
        ha="right",
        va="bottom" if index % 2 == 0 else "top",
        fontsize=7.5,
        bbox={"boxstyle": "square,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
    )
