"""Charts that compare: latency by percentile against the baseline, the gated quantiles across
the baseline's history, and what happened to stream messages (delivered, conflated, lost).

For example::

    chart = trend_chart(result, baseline, {"POST /bets": ["p95", "p99"]}, {})
    "this run" in chart.svg  # True
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from loadgate.baselines import Baseline
from loadgate.histogram import LatencyHistogram
from loadgate.report.charts import (
    BLACK,
    BLUE,
    ORANGE,
    PURPLE,
    QUANTILE_STYLE,
    VERMILLION,
    Chart,
    budget_line,
    capped,
    figure,
    grid,
    label,
    legend_on_top,
    number_formatter,
    panel_title,
    style,
    to_svg,
)
from loadgate.report.summary import WS_PREFIX
from loadgate.results import RunResult

# Percentiles drawn: the body coarsely, the tail ever finer (1 - 10^-k), as HdrHistogram plots do.
_BODY = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85)
_TAIL = tuple(float(1 - 10**e) for e in np.linspace(-0.9, -4.0, 32))
_TICKS = (0.1, 0.5, 0.9, 0.99, 0.999, 0.9999)
_OTHER = (PURPLE, "-.", 1.4)


def percentile_points(h: LatencyHistogram) -> tuple[list[float], list[float]]:
    """(percentile fractions, latency ms) for a percentile plot, up to what ``h`` can resolve."""
    n = h.count
    if n == 0:
        return [], []
    top = 1 - 1 / n  # beyond this a "percentile" is the maximum and says nothing more
    ps = [p for p in (*_BODY, *_TAIL) if p <= top] or [0.5]
    return ps, [h.quantile(p) / 1000 for p in ps]


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.4g}%"


def distribution_chart(
    result: RunResult, order: Sequence[str], baseline: Baseline | None
) -> Chart | None:
    """Latency by percentile per endpoint, this run against the latest baseline run (in the
    open model, latency from the intended start, as both are judged)."""
    names = [n for n in order if n in result.endpoints and result.endpoints[n].gated.count]
    if not names:
        return None
    last = baseline.runs[-1] if baseline is not None and baseline.runs else None
    lines = [
        _Line("this run", VERMILLION, "-", {n: result.endpoints[n].gated for n in names}),
    ]
    if last is not None:
        lines.append(_Line(f"baseline run of {last.started_at[:10]}", BLUE, "--", last.histograms))
    title = "Latency by percentile" + (" against the baseline" if last else "")
    desc = (
        "Latency (ms) within which a given share of requests completed, per endpoint; the "
        "horizontal axis stretches the tail so P99 and P99.9 are visible."
        + (f" Dashed: the latest baseline run, {last.started_at[:10]}." if last else "")
    )
    return _percentile_chart("chart-distribution", title, desc, names, lines)


def correction_chart(result: RunResult, order: Sequence[str]) -> Chart | None:
    """In the open model: latency from each arrival's intended start (what is judged) against
    latency from the moment the request was sent, per endpoint. Where the lines part, requests
    waited to be sent (the SUT or the generator fell behind the arrival rate)."""
    names = [
        n
        for n in order
        if n in result.endpoints
        and result.endpoints[n].corrected is not None
        and result.endpoints[n].histogram.count
    ]
    if not names:
        return None
    corrected = {n: c for n in names if (c := result.endpoints[n].corrected) is not None}
    lines = [
        _Line("from the intended start (judged)", VERMILLION, "-", corrected),
        _Line("from the send", BLUE, ":", {n: result.endpoints[n].histogram for n in names}),
    ]
    title = "Latency from the intended start and from the send"
    desc = (
        "Open model: per endpoint, latency counted from each arrival's intended start "
        "(coordinated omission corrected; budgets and regressions judge this) and from the "
        "moment the request was sent (dotted). Where the two part, arrivals waited to be sent."
    )
    return _percentile_chart("chart-correction", title, desc, names, lines)


@dataclass(frozen=True)
class _Line:
    label: str
    colour: str
    style: str
    histograms: Mapping[str, LatencyHistogram]


def _percentile_chart(
    chart_id: str, title: str, desc: str, names: list[str], lines: list[_Line]
) -> Chart:
    names, left_out = capped(names)
    with style():
        fig, axes = grid(len(names), 2.0)
        for ax, name in zip(axes, names, strict=True):
            for line in lines:
                h = line.histograms.get(name)
                if h is not None and h.count:
                    _percentile_panel(ax, h, line.colour, line.style)
            ax.set_xscale("logit")
            ax.xaxis.set_major_locator(FixedLocator(list(_TICKS)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _percent(v)))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xlim(0.05, 0.9999)
            ax.set_ylim(bottom=0)
            ax.yaxis.set_major_formatter(number_formatter())
            panel_title(ax, name)
            ax.set_xlabel("percentile (tail stretched)")
            ax.set_ylabel("latency (ms)")
        handles = [
            Line2D([], [], color=line.colour, ls=line.style, lw=1.6, label=line.label)
            for line in lines
        ]
        legend_on_top(fig, handles)
        desc += left_out
        return Chart(chart_id, title, desc, to_svg(fig, chart_id, title, desc))


def _percentile_panel(ax: Axes, h: LatencyHistogram, colour: str, ls: str) -> None:
    ps, ms = percentile_points(h)
    ax.plot(ps, ms, color=colour, ls=ls, lw=1.6)


def stream_outcomes_chart(result: RunResult) -> Chart | None:
    """Delivered, conflated, gap and dropped messages per stream (``WS …`` endpoints)."""
    streams = [(n, e) for n, e in result.endpoints.items() if n.startswith(WS_PREFIX)]
    if not streams:
        return None
    rows: list[tuple[str, int]] = []
    delivered: list[bool] = []  # blue bars; the rest (conflated, gaps, drops) orange
    for name, ep in streams:
        lost = [(f"{label(name, 30)}: {label(k, 24)}", v) for k, v in sorted(ep.outcomes.items())]
        if ep.failures:
            lost.append((f"{label(name, 30)}: failed", ep.failures))
        rows += [(f"{label(name, 30)}: delivered", ep.histogram.count), *lost]
        delivered += [True] + [False] * len(lost)
    longest = max(len(t) for t, _ in rows)
    with style():
        fig, (ax,) = figure(1, 1, 0.3 * len(rows), top=0.2, left=min(4.5, 0.4 + 0.068 * longest))
        ys = np.arange(len(rows))
        counts = [max(c, 0) for _, c in rows]
        colours = [BLUE if d else ORANGE for d in delivered]
        ax.barh(ys, [max(c, 0.8) for c in counts], color=colours, height=0.6)
        for y, c in zip(ys, counts, strict=True):
            ax.annotate(f" {c:,}", (max(c, 1), y), va="center", fontsize=7.5)
        ax.set_yticks(ys, [t for t, _ in rows])
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(number_formatter())
        ax.xaxis.set_minor_locator(NullLocator())  # each tick is objects to draw: keep few
        ax.set_xlim(0.8, max(counts, default=1) * 8)
        ax.set_xlabel("messages in the measured window (log scale)")
        ax.grid(axis="y", visible=False)
        title = "Stream messages: delivered, conflated and lost"
        desc = "; ".join(f"{t} {c:,}" for t, c in rows) + "."
        chart_id = "chart-ws-outcomes"
        return Chart(chart_id, title, desc, to_svg(fig, chart_id, title, desc))


def _day(started_at: str) -> str:
    try:
        return dt.datetime.fromisoformat(started_at).strftime("%b %d")
    except ValueError:
        return started_at[:10]


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
    names, left_out = capped(names)
    runs = baseline.runs
    ticks = [_day(r.started_at) for r in runs] + ["this run"]
    xs = np.arange(len(ticks))
    rotate = len(ticks) > 7
    with style():
        fig, axes = grid(len(names), 1.9)
        for ax, name in zip(axes, names, strict=True):
            top = 0.0
            for metric in gated[name]:
                q = float(metric[1:]) / 100
                colour, ls, lw = QUANTILE_STYLE.get(metric, _OTHER)
                values = [_quantile_ms(r.histograms.get(name), q) for r in runs]
                values.append(result.endpoints[name].histogram.quantile(q) / 1000)
                ax.plot(xs[:-1], values[:-1], color=colour, ls=ls, lw=lw, marker="o", ms=3.5)
                ax.plot(xs[-2:], values[-2:], color=colour, ls=":", lw=lw)
                ax.plot(xs[-1:], values[-1:], color=colour, marker="D", ms=6, ls="none")
                top = max(top, *(v for v in values if not math.isnan(v)))
            for i, (metric, limit) in enumerate(sorted(budgets.get(name, []), key=lambda b: -b[1])):
                budget_line(ax, metric, limit, i)
                top = max(top, limit)
            ax.set_xticks(
                xs, ticks, rotation=30 if rotate else 0, ha="right" if rotate else "center"
            )
            ax.set_xlim(-0.3, len(ticks) - 0.7)
            ax.set_ylim(0, top * 1.15 or 1)
            ax.yaxis.set_major_formatter(number_formatter())
            ax.set_ylabel("latency (ms)")
            panel_title(ax, name)
        metrics = sorted({m for n in names for m in gated[n]}, key=lambda m: float(m[1:]))
        handles = [
            Line2D(
                [],
                [],
                color=QUANTILE_STYLE.get(m, _OTHER)[0],
                ls=QUANTILE_STYLE.get(m, _OTHER)[1],
                marker="o",
                ms=3.5,
                label=m.upper(),
            )
            for m in metrics
        ]
        handles.append(Line2D([], [], color=BLACK, marker="D", ls="none", label="this run"))
        legend_on_top(fig, handles)
        title = "Trend of the gated quantiles across the baseline's runs"
        desc = (
            f"{', '.join(m.upper() for m in metrics)} of {len(names)} endpoint(s) in the "
            f"{len(runs)} blessed baseline run(s), oldest first, then this run (diamond)."
            + left_out
        )
        return Chart("chart-trend", title, desc, to_svg(fig, "chart-trend", title, desc))


def _quantile_ms(h: LatencyHistogram | None, q: float) -> float:
    return h.quantile(q) / 1000 if h is not None and h.count else math.nan
