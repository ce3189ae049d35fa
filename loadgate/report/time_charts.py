"""Charts over the run's time axis: latency per endpoint, users and throughput, errors, and the
SUT's CPU and memory. All share one x axis (warm-up shaded) so they can be read together.

For example::

    chart = latency_chart(result, ["POST /bets"], {"POST /bets": [("p99", 250.0)]})
    chart.svg.startswith("<svg")  # True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from loadgate.report.charts import (
    BLACK,
    BLUE,
    BUDGET_STYLE,
    MAX_POINTS,
    PANEL_POINTS,
    QUANTILE_STYLE,
    SERIES,
    STYLES,
    VERMILLION,
    WARMUP_GREY,
    Chart,
    TimeAxis,
    budget_line,
    capped,
    figure,
    grid,
    label,
    legend_on_top,
    number_formatter,
    panel_title,
    reduce_series,
    style,
    to_svg,
)
from loadgate.report.summary import WS_PREFIX
from loadgate.results import ProcessSamples, RunResult

ERROR_POINTS = 150  # failures are sparse: coarser buckets read better than 600 spikes


def latency_chart(
    result: RunResult,
    order: Sequence[str],
    budgets: dict[str, list[tuple[str, float]]],
    *,
    streams: bool = False,
) -> Chart | None:
    """P50/P95/P99 per second, one panel per endpoint, warm-up shaded, budget ceilings drawn."""
    series = result.timeline.endpoints
    names = [
        n
        for n in order
        if n in series
        and n.startswith(WS_PREFIX) == streams
        and any(v is not None for v in series[n].p99_ms)
    ]
    if not names:
        return None
    names, left_out = capped(names)
    axis = TimeAxis.of(result)
    with style():
        fig, axes = grid(len(names), 2.1)
        for i, (ax, name) in enumerate(zip(axes, names, strict=True)):
            _latency_panel(ax, result, name, budgets.get(name, []), axis, note=i == 0)
        handles: list[Line2D | Patch] = [
            Line2D([], [], color=c, ls=ls, lw=lw, label=m.upper())
            for m, (c, ls, lw) in QUANTILE_STYLE.items()
        ]
        if any(budgets.get(n) for n in names):
            handles.append(Line2D([], [], color=BLACK, ls=BUDGET_STYLE, lw=1.2, label="budget"))
        handles.append(Patch(color=WARMUP_GREY, label="warm-up (excluded)"))
        legend_on_top(fig, handles)
        kind = "message" if streams else "request"
        chart_id = "chart-ws-latency" if streams else "chart-latency"
        title = f"{'Stream message' if streams else 'Request'} latency over time"
        desc = (
            f"P50, P95 and P99 {kind} latency per second, in milliseconds, for {len(names)} "
            f"endpoint(s): {', '.join(names)}. The first {result.warmup_s:g} s are warm-up and "
            "are excluded from the verdict; dash-dot lines are budgets. Long runs show the "
            "worst second of each bucket." + left_out
        )
        return Chart(chart_id, title, desc, to_svg(fig, chart_id, title, desc))


def _latency_panel(
    ax: Axes,
    result: RunResult,
    name: str,
    budgets: list[tuple[str, float]],
    axis: TimeAxis,
    note: bool,
) -> None:
    s = result.timeline.endpoints[name]
    x, (p50, p95, p99) = reduce_series(
        [t / axis.scale for t in result.timeline.seconds],
        [s.p50_ms, s.p95_ms, s.p99_ms],
        ["max", "max", "max"],
        PANEL_POINTS,
    )
    axis.apply(ax, result.warmup_s, note=note)
    for metric, ys in zip(("p50", "p95", "p99"), (p50, p95, p99), strict=True):
        colour, ls, lw = QUANTILE_STYLE[metric]
        ax.plot(x, ys, color=colour, ls=ls, lw=lw)
    top = float(np.nanmax(p99)) if np.any(~np.isnan(p99)) else 1.0
    for i, (metric, limit) in enumerate(sorted(budgets, key=lambda b: -b[1])):
        budget_line(ax, metric, limit, i)
        top = max(top, limit)
    ax.set_ylim(0, top * 1.15)
    ax.yaxis.set_major_formatter(number_formatter())
    ax.set_ylabel("latency (ms)")
    panel_title(ax, name)


def load_chart(result: RunResult) -> Chart | None:
    """Active users (top) and throughput of all endpoints together (bottom) on one time axis."""
    tl = result.timeline
    if not tl.seconds:
        return None
    axis = TimeAxis.of(result)
    n = len(tl.seconds)
    total = [sum(s.requests[i] for s in tl.endpoints.values()) for i in range(n)]
    failed = [sum(s.failures[i] for s in tl.endpoints.values()) for i in range(n)]
    x, (users, rps, fails) = reduce_series(
        [t / axis.scale for t in tl.seconds], [tl.users, total, failed], ["mean"] * 3, MAX_POINTS
    )
    with style():
        fig, (top, bottom) = figure(2, 1, 1.6, top=0.3, vgap=0.25)
        axis.apply(top, result.warmup_s, note=True, labelled=False)
        axis.apply(bottom, result.warmup_s, note=False)
        top.plot(x, users, color=BLUE, lw=1.6, drawstyle="steps-post")
        top.axhline(result.users_target, color=BLACK, ls=":", lw=1)
        top.annotate(
            f"target: {result.users_target:,} users",
            (0.99, result.users_target),
            xycoords=("axes fraction", "data"),
            xytext=(0, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=7.5,
        )
        peak = float(np.nanmax(users)) if len(users) else 0.0
        top.set_ylim(0, max(result.users_target, peak, 1) * 1.3)
        top.set_ylabel("active users")
        top.yaxis.set_major_formatter(number_formatter())
        bottom.plot(x, rps, color=BLUE, lw=1.4, label="all requests")
        bottom.plot(x, fails, color=VERMILLION, ls="--", lw=1.4, label="failed")
        bottom.set_ylabel("throughput (req/s)")
        bottom.set_ylim(bottom=0)
        bottom.yaxis.set_major_formatter(number_formatter())
        bottom.legend(loc="lower right", ncols=2)
        title = "Active users and throughput over time"
        desc = (
            f"Active users reached {result.users_reached:,} of {result.users_target:,} planned; "
            f"throughput averaged {result.rps:,.1f} requests per second over the measured window."
        )
        return Chart("chart-load", title, desc, to_svg(fig, "chart-load", title, desc))


def errors_chart(result: RunResult, order: Sequence[str], top_n: int = 5) -> Chart | None:
    """Failed requests per second for the endpoints that failed most (the rest summed)."""
    tl = result.timeline
    if not tl.seconds:
        return None
    axis = TimeAxis.of(result)
    totals = {n: sum(tl.endpoints[n].failures) for n in order if n in tl.endpoints}
    failing = sorted((n for n, total in totals.items() if total > 0), key=lambda n: -totals[n])
    shown, rest = failing[:top_n], failing[top_n:]
    columns: list[list[int]] = [tl.endpoints[n].failures for n in shown]
    names = [label(n, 40) for n in shown]
    if rest:
        columns.append(
            [sum(tl.endpoints[n].failures[i] for n in rest) for i in range(len(tl.seconds))]
        )
        names.append(f"{len(rest)} other endpoints")
    with style():
        fig, (ax,) = figure(1, 1, 1.8, top=0.45 if columns else 0.2)
        axis.apply(ax, result.warmup_s, note=True)
        if columns:
            x, ys = reduce_series(
                [t / axis.scale for t in tl.seconds], columns, ["mean"] * len(columns), ERROR_POINTS
            )
            for i, (y, text) in enumerate(zip(ys, names, strict=True)):
                ax.plot(
                    x,
                    y,
                    color=SERIES[i % 7],
                    ls=STYLES[i % 7],
                    lw=1.3,
                    drawstyle="steps-post",
                    label=text,
                )
            legend_on_top(fig, ax.get_lines())
            ax.set_ylim(bottom=0)
        else:
            ax.text(0.5, 0.5, "No failed requests", transform=ax.transAxes, ha="center")
            ax.set_ylim(0, 1)
        ax.set_ylabel("failed requests per s")
        title = "Errors over time"
        desc = f"{result.total_failures:,} failed requests in the measured window" + (
            f", most from {', '.join(shown)}." if shown else "."
        )
        return Chart("chart-errors", title, desc, to_svg(fig, "chart-errors", title, desc))


def resources_chart(result: RunResult) -> Chart | None:
    """CPU and RSS of the SUT (and the load generator) on the run's time axis."""
    procs = sorted((p for p in result.processes if p.t), key=_role_order)
    if not procs:
        return None
    axis = TimeAxis.of(result)
    with style():
        fig, (cpu_ax, rss_ax) = figure(2, 1, 1.5, top=0.3, vgap=0.25)
        for ax in (cpu_ax, rss_ax):
            axis.apply(ax, result.warmup_s, note=ax is cpu_ax, labelled=ax is rss_ax)
        for i, p in enumerate(procs):
            _process_lines(cpu_ax, rss_ax, p, i, axis.scale)
        cpu_ax.set_ylabel("CPU (% of one core)")
        cpu_ax.set_ylim(bottom=0)
        rss_ax.set_ylabel("memory, RSS (MB)")
        rss_ax.set_ylim(bottom=0)
        cpu_ax.legend(loc="lower right", ncols=len(procs))
        parts = [
            f"{_role_name(p)}: CPU mean {p.cpu_mean:.0f}% of a core, RSS peak {p.rss_max_mb:.0f} MB"
            for p in procs
        ]
        title = "CPU and memory of the system under test"
        desc = "Sampled through the run. " + "; ".join(parts) + "."
        return Chart("chart-resources", title, desc, to_svg(fig, "chart-resources", title, desc))


def _role_order(p: ProcessSamples) -> tuple[int, str]:
    return (0 if p.role == "sut" else 1, p.role)


def _role_name(p: ProcessSamples) -> str:
    return {"sut": "SUT", "generator": "load generator"}.get(p.role, label(p.role, 20))


def _process_lines(cpu_ax: Axes, rss_ax: Axes, p: ProcessSamples, i: int, scale: float) -> None:
    x, (cpu, rss) = reduce_series(
        [t / scale for t in p.t], [p.cpu_percent, p.rss_mb], ["mean", "max"], MAX_POINTS
    )
    colour, ls = SERIES[i % 7], STYLES[i % 7]
    cpu_ax.plot(x, cpu, color=colour, ls=ls, lw=1.4, label=f"{_role_name(p)} (pid {p.pid})")
    rss_ax.plot(x, rss, color=colour, ls=ls, lw=1.4)
