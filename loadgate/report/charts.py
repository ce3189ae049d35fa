"""Charts of a stored run as small inline SVG, drawn with ``matplotlib.figure.Figure`` (never
pyplot: no global state, no GUI backend, safe in threads).

Every chart is readable in print and without colour: the Okabe-Ito palette (safe for the
common colour-vision deficiencies) plus a distinct line style per series, labelled axes with
units, text kept as text (``svg.fonttype = none``), and a ``<title>``/``<desc>`` for screen
readers. Cost depends on endpoints × seconds, never on requests: long timelines are reduced
to at most :data:`MAX_POINTS` points and coordinates are rounded.

>>> chart = latency_chart(result, {"POST /bets": [("p99", 250.0)]})
>>> chart.svg.startswith("<svg")
True
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
from matplotlib.ticker import FuncFormatter, NullFormatter

from loadgate.baselines import Baseline
from loadgate.histogram import LatencyHistogram
from loadgate.results import EndpointSeries, ProcessSamples, RunResult

MAX_POINTS = 600  # full-width charts
PANEL_POINTS = 300
CDF_POINTS = 200  # one panel of a small-multiples grid is half as wide
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
def _style() -> Iterator[None]:
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


def _time_axis(seconds: float) -> tuple[float, str]:
    """Divide offsets by this and label the axis so: seconds for short runs, minutes for long."""
    return (60.0, "time since start (min)") if seconds > 900 else (1.0, "time since start (s)")


def _shade_warmup(ax: Axes, warmup_s: float, scale: float, first: bool) -> None:
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


def _figure(
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


def _grid(n: int, row_in: float) -> tuple[Figure, list[Axes]]:
    """Small multiples: one panel per endpoint, two per row."""
    ncols = 1 if n == 1 else 2
    fig, axes = _figure(math.ceil(n / ncols), ncols, row_in, top=0.7)
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _legend_on_top(fig: Figure, handles: Sequence[Line2D | Patch]) -> None:
    height = fig.get_figheight()
    fig.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 1 - 0.05 / height),
        ncols=len(handles),
    )


def _ms_formatter() -> FuncFormatter:
    return FuncFormatter(lambda v, _pos: f"{v:g}")


# --- latency over time ----------------------------------------------------------------------
def latency_chart(
    result: RunResult, budgets: dict[str, list[tuple[str, float]]], *, streams: bool = False
) -> Chart | None:
    """P50/P95/P99 per second, one panel per endpoint, warm-up shaded, budget ceilings drawn."""
    names = [
        n
        for n, s in result.timeline.endpoints.items()
        if n.startswith("WS ") == streams and any(v is not None for v in s.p99_ms)
    ]
    if not names:
        return None
    scale, xlabel = _time_axis(max(result.timeline.seconds, default=0))
    with _style():
        fig, axes = _grid(len(names), 2.3)
        for i, (ax, name) in enumerate(zip(axes, names, strict=True)):
            _latency_panel(ax, result, name, budgets.get(name, []), scale, first=i == 0)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("latency (ms)")
        handles: list[Line2D | Patch] = [
            Line2D([], [], color=c, ls=ls, lw=lw, label=m.upper())
            for m, (c, ls, lw) in QUANTILE_STYLE.items()
        ]
        handles.append(Line2D([], [], color=BLACK, ls=(0, (6, 2, 1, 2)), lw=1.2, label="budget"))
        handles.append(Patch(color=WARMUP_GREY, label="warm-up (excluded)"))
        _legend_on_top(fig, handles)
        kind = "message" if streams else "request"
        chart_id = "chart-ws-latency" if streams else "chart-latency"
        title = f"{'Stream message' if streams else 'Request'} latency over time"
        desc = (
            f"Per-second P50, P95 and P99 {kind} latency in milliseconds for "
            f"{len(names)} endpoint(s): {', '.join(names)}. The first {result.warmup_s:g} s "
            "are warm-up and are excluded from the verdict; dashed black lines are budgets."
        )
        return Chart(chart_id, title, desc, to_svg(fig, chart_id, title, desc))


def _latency_panel(
    ax: Axes,
    result: RunResult,
    name: str,
    budgets: list[tuple[str, float]],
    scale: float,
    first: bool,
) -> None:
    s: EndpointSeries = result.timeline.endpoints[name]
    x, (p50, p95, p99) = reduce_series(
        [t / scale for t in result.timeline.seconds],
        [s.p50_ms, s.p95_ms, s.p99_ms],
        ["max", "max", "max"],
        PANEL_POINTS,
    )
    _shade_warmup(ax, result.warmup_s, scale, first)
    for metric, ys in zip(("p50", "p95", "p99"), (p50, p95, p99), strict=True):
        colour, ls, lw = QUANTILE_STYLE[metric]
        ax.plot(x, ys, color=colour, ls=ls, lw=lw)
    top = float(np.nanmax(p99)) if np.any(~np.isnan(p99)) else 1.0
    for metric, limit in budgets:
        ax.axhline(limit, color=BLACK, ls=(0, (6, 2, 1, 2)), lw=1.2)
        ax.annotate(
            f"{metric} budget {limit:g} ms",
            (1.0, limit),
            xycoords=("axes fraction", "data"),
            ha="right",
            va="bottom",
            fontsize=7.5,
        )
        top = max(top, limit)
    ax.set_ylim(0, top * 1.12)
    ax.yaxis.set_major_formatter(_ms_formatter())
    ax.set_title(label(name), loc="left")


# --- throughput, users, errors --------------------------------------------------------------
def load_chart(result: RunResult) -> Chart | None:
    """Active users (top) and throughput of all endpoints together (bottom) on one time axis."""
    tl = result.timeline
    if not tl.seconds:
        return None
    scale, xlabel = _time_axis(max(tl.seconds))
    total = [sum(s.requests[i] for s in tl.endpoints.values()) for i in range(len(tl.seconds))]
    failed = [sum(s.failures[i] for s in tl.endpoints.values()) for i in range(len(tl.seconds))]
    x, (users, rps, fails) = reduce_series(
        [t / scale for t in tl.seconds], [tl.users, total, failed], ["mean"] * 3, MAX_POINTS
    )
    with _style():
        fig, (top, bottom) = _figure(2, 1, 1.7, top=0.2, vgap=0.25, sharex=True)
        _shade_warmup(top, result.warmup_s, scale, True)
        _shade_warmup(bottom, result.warmup_s, scale, False)
        top.plot(x, users, color=BLUE, lw=1.6, drawstyle="steps-post")
        top.axhline(result.users_target, color=BLACK, ls=":", lw=1)
        top.annotate(
            f"target {result.users_target:,} users",
            (1.0, result.users_target),
            xycoords=("axes fraction", "data"),
            ha="right",
            va="bottom",
            fontsize=7.5,
        )
        top.set_ylabel("active users")
        top.set_ylim(0, max(result.users_target, float(np.nanmax(users, initial=0))) * 1.15 or 1)
        bottom.plot(x, rps, color=BLUE, lw=1.4, label="all requests")
        bottom.plot(x, fails, color=VERMILLION, ls="--", lw=1.4, label="failed")
        bottom.set_ylabel("throughput (req/s)")
        bottom.set_xlabel(xlabel)
        bottom.set_ylim(bottom=0)
        bottom.legend(loc="lower right", ncols=2)
        title = "Active users and throughput over time"
        desc = (
            f"Active users reached {result.users_reached:,} of {result.users_target:,}; "
            f"throughput averaged {result.rps:,.1f} requests per second over the measured window."
        )
        return Chart("chart-load", title, desc, to_svg(fig, "chart-load", title, desc))


def errors_chart(result: RunResult, top_n: int = 5) -> Chart | None:
    """Failed requests per second for the endpoints that failed most (the rest summed)."""
    tl = result.timeline
    if not tl.seconds:
        return None
    scale, xlabel = _time_axis(max(tl.seconds))
    failing = sorted(
        (n for n, s in tl.endpoints.items() if sum(s.failures)),
        key=lambda n: -sum(tl.endpoints[n].failures),
    )
    shown, rest = failing[:top_n], failing[top_n:]
    columns: list[list[int]] = [tl.endpoints[n].failures for n in shown]
    labels = [label(n, 40) for n in shown]
    if rest:
        columns.append(
            [sum(tl.endpoints[n].failures[i] for n in rest) for i in range(len(tl.seconds))]
        )
        labels.append(f"{len(rest)} other endpoints")
    with _style():
        fig, (ax,) = _figure(1, 1, 1.9, top=0.2)
        _shade_warmup(ax, result.warmup_s, scale, True)
        if columns:
            x, ys = reduce_series(
                [t / scale for t in tl.seconds], columns, ["mean"] * len(columns), MAX_POINTS
            )
            for i, (y, text) in enumerate(zip(ys, labels, strict=True)):
                ax.plot(x, y, color=SERIES[i % 7], ls=STYLES[i % 7], lw=1.4, label=text)
            ax.legend(loc="upper right", fontsize=7.5)
        else:
            ax.set_xlim(0, max(tl.seconds) / scale)
            ax.text(0.5, 0.5, "No failed requests", transform=ax.transAxes, ha="center")
        ax.set_ylim(bottom=0, top=None if columns else 1)
        ax.set_ylabel("failed requests per s")
        ax.set_xlabel(xlabel)
        title = "Errors over time"
        total = result.total_failures
        desc = f"{total:,} failed requests in the measured window" + (
            f", mostly {', '.join(shown)}." if shown else "."
        )
        return Chart("chart-errors", title, desc, to_svg(fig, "chart-errors", title, desc))


# --- resources ------------------------------------------------------------------------------
def resources_chart(result: RunResult) -> Chart | None:
    """CPU and RSS of the SUT (and the load generator) on the run's time axis."""
    procs = [p for p in result.processes if p.t]
    if not procs:
        return None
    end = max([*result.timeline.seconds, *(max(p.t) for p in procs)])
    scale, xlabel = _time_axis(end)
    with _style():
        fig, (cpu_ax, rss_ax) = _figure(2, 1, 1.6, top=0.2, vgap=0.25, sharex=True)
        for ax in (cpu_ax, rss_ax):
            _shade_warmup(ax, result.warmup_s, scale, ax is cpu_ax)
        for i, p in enumerate(sorted(procs, key=_role_order)):
            _process_lines(cpu_ax, rss_ax, p, i, scale)
        cpu_ax.set_ylabel("CPU (% of one core)")
        cpu_ax.set_ylim(bottom=0)
        rss_ax.set_ylabel("memory, RSS (MB)")
        rss_ax.set_ylim(bottom=0)
        rss_ax.set_xlabel(xlabel)
        rss_ax.set_xlim(0, end / scale)
        cpu_ax.legend(loc="lower right", ncols=len(procs))
        parts = [
            f"{p.role} CPU mean {p.cpu_mean:.0f}%, RSS peak {p.rss_max_mb:.0f} MB" for p in procs
        ]
        title = "CPU and memory of the system under test"
        desc = "Sampled through the run: " + "; ".join(parts) + "."
        return Chart("chart-resources", title, desc, to_svg(fig, "chart-resources", title, desc))


def _role_order(p: ProcessSamples) -> tuple[int, str]:
    return (0 if p.role == "sut" else 1, p.role)


def _process_lines(cpu_ax: Axes, rss_ax: Axes, p: ProcessSamples, i: int, scale: float) -> None:
    x, (cpu, rss) = reduce_series(
        [t / scale for t in p.t], [p.cpu_percent, p.rss_mb], ["mean", "max"], MAX_POINTS
    )
    name = "SUT" if p.role == "sut" else label(p.role, 20)
    colour, ls = SERIES[i % 7], STYLES[i % 7]
    cpu_ax.plot(x, cpu, color=colour, ls=ls, lw=1.4, label=f"{name} (pid {p.pid})")
    rss_ax.plot(x, rss, color=colour, ls=ls, lw=1.4)


# --- distribution vs baseline ---------------------------------------------------------------
def distribution_chart(result: RunResult, baseline: Baseline | None) -> Chart | None:
    """Cumulative distribution of latency per endpoint, this run against the latest baseline run."""
    names = [n for n, e in result.endpoints.items() if e.histogram.count]
    if not names:
        return None
    last = baseline.runs[-1] if baseline is not None and baseline.runs else None
    with _style():
        fig, axes = _grid(len(names), 2.2)
        for ax, name in zip(axes, names, strict=True):
            current = result.endpoints[name].histogram.distribution(CDF_POINTS)
            _cdf(ax, current, VERMILLION, "-", "this run")
            if last is not None and name in last.histograms:
                _cdf(ax, last.histograms[name].distribution(CDF_POINTS), BLUE, "--", "baseline")
            for q in (95, 99):
                ax.axhline(q, color="#888888", ls=":", lw=0.8)
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(_ms_formatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_ylim(0, 100)
            ax.set_yticks([0, 25, 50, 75, 95, 99])
            ax.set_title(label(name), loc="left")
            ax.set_xlabel("latency (ms, log scale)")
            ax.set_ylabel("requests at or below (%)")
        handles = [Line2D([], [], color=VERMILLION, lw=1.6, label="this run")]
        if last is not None:
            handles.append(
                Line2D(
                    [], [], color=BLUE, ls="--", lw=1.6, label=f"baseline {last.started_at[:10]}"
                )
            )
        _legend_on_top(fig, handles)
        title = "Latency distribution" + (" against the baseline" if last else "")
        desc = (
            "Share of requests completed within a given latency (cumulative distribution), per "
            "endpoint; dotted lines mark 95% and 99%."
            + (f" Dashed: the latest baseline run of {last.started_at[:10]}." if last else "")
        )
        return Chart(
            "chart-distribution", title, desc, to_svg(fig, "chart-distribution", title, desc)
        )


def _cdf(ax: Axes, points: list[tuple[int, float]], colour: str, ls: str, text: str) -> None:
    if not points:
        return
    xs = [v / 1000 for v, _ in points]
    ys = [f * 100 for _, f in points]
    ax.plot(
        [xs[0], *xs], [0.0, *ys], color=colour, ls=ls, lw=1.6, drawstyle="steps-post", label=text
    )


# --- WebSocket outcomes ---------------------------------------------------------------------
def stream_outcomes_chart(result: RunResult) -> Chart | None:
    """Delivered, conflated, gap and dropped messages per stream (``WS …`` endpoints)."""
    streams = [(n, e) for n, e in result.endpoints.items() if n.startswith("WS ")]
    if not streams:
        return None
    rows: list[tuple[str, int]] = []
    for name, ep in streams:
        rows.append((f"{label(name, 30)}: delivered", ep.histogram.count))
        rows += [(f"{label(name, 30)}: {label(k, 24)}", v) for k, v in sorted(ep.outcomes.items())]
        if ep.failures:
            rows.append((f"{label(name, 30)}: failed", ep.failures))
    with _style():
        longest = max(len(t) for t, _ in rows)
        fig, (ax,) = _figure(1, 1, 0.3 * len(rows), top=0.2, left=min(4.5, 0.4 + 0.068 * longest))
        ys = np.arange(len(rows))
        counts = [max(c, 0) for _, c in rows]
        colours = [BLUE if t.endswith(": delivered") else ORANGE for t, _ in rows]
        ax.barh(ys, [max(c, 0.8) for c in counts], color=colours, height=0.6)
        for y, c in zip(ys, counts, strict=True):
            ax.annotate(f" {c:,}", (max(c, 1), y), va="center", fontsize=7.5)
        ax.set_yticks(ys, [t for t, _ in rows])
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(0.8, max(counts, default=1) * 8)
        ax.set_xlabel("messages (log scale)")
        ax.grid(axis="y", visible=False)
        title = "Stream messages: delivered, conflated and lost"
        desc = "; ".join(f"{t} {c:,}" for t, c in rows) + "."
        return Chart(
            "chart-ws-outcomes", title, desc, to_svg(fig, "chart-ws-outcomes", title, desc)
        )


# --- trend across the baseline's history ----------------------------------------------------
def trend_chart(
    result: RunResult,
    baseline: Baseline | None,
    gated: dict[str, list[str]],
    budgets: dict[str, list[tuple[str, float]]],
) -> Chart | None:
    """Each gated quantile over the blessed baseline runs (oldest first) and this run (last)."""
    if baseline is None or not baseline.runs:
        return None
    names = [n for n in gated if n in result.endpoints and gated[n]]
    if not names:
        return None
    runs = baseline.runs
    ticks = [r.started_at[:10] for r in runs] + ["this run"]
    xs = np.arange(len(ticks))
    with _style():
        fig, axes = _grid(len(names), 2.2)
        for ax, name in zip(axes, names, strict=True):
            for metric in gated[name]:
                q = float(metric[1:]) / 100
                colour, ls, lw = QUANTILE_STYLE.get(metric, (PURPLE, "-.", 1.4))
                values = [_quantile_ms(r.histograms.get(name), q) for r in runs]
                values.append(result.endpoints[name].histogram.quantile(q) / 1000)
                ax.plot(xs[:-1], values[:-1], color=colour, ls=ls, lw=lw, marker="o", ms=3.5)
                ax.plot(xs[-2:], values[-2:], color=colour, ls=":", lw=lw)
                ax.plot(xs[-1:], values[-1:], color=colour, marker="D", ms=6, ls="none")
            for metric, limit in budgets.get(name, []):
                ax.axhline(limit, color=BLACK, ls=(0, (6, 2, 1, 2)), lw=1.1)
                ax.annotate(
                    f"{metric} budget",
                    (0.0, limit),
                    xycoords=("axes fraction", "data"),
                    va="bottom",
                    fontsize=7.5,
                )
            ax.set_xticks(
                xs,
                ticks,
                rotation=30 if len(ticks) > 4 else 0,
                ha="right" if len(ticks) > 4 else "center",
            )
            ax.set_ylim(bottom=0)
            ax.set_ylabel("latency (ms)")
            ax.set_title(label(name), loc="left")
        metrics = sorted({m for n in names for m in gated[n]})
        handles = [
            Line2D(
                [],
                [],
                color=QUANTILE_STYLE.get(m, (PURPLE, "-.", 1.4))[0],
                ls=QUANTILE_STYLE.get(m, (PURPLE, "-.", 1.4))[1],
                marker="o",
                ms=3.5,
                label=m.upper(),
            )
            for m in metrics
        ]
        handles.append(Line2D([], [], color=BLACK, marker="D", ls="none", label="this run"))
        _legend_on_top(fig, handles)
        title = "Trend of the gated quantiles across the baseline's runs"
        desc = (
            f"{', '.join(m.upper() for m in metrics)} of {len(names)} endpoint(s) in the "
            f"{len(runs)} blessed baseline run(s), oldest first, then this run (diamond)."
        )
        return Chart("chart-trend", title, desc, to_svg(fig, "chart-trend", title, desc))


def _quantile_ms(h: LatencyHistogram | None, q: float) -> float:
    return h.quantile(q) / 1000 if h is not None and h.count else math.nan
