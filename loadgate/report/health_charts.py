"""The load generator's health on the run's time axis: how late each load-generating process's
event hub ran (upper panel) and its CPU use and time spent waiting for a CPU (lower panel).

It shares the x axis of the latency chart it follows (seconds from the test start, warm-up
shaded), so a latency spike can be read against the generator's own second: a spike the hub
lag matches was, at least in part, the generator's doing.

For example::

    generator_chart(result).id  # 'chart-generator'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, NullFormatter

from loadgate.attribution import DELAY_FLOOR_MS, DELAY_SHARE
from loadgate.report.charts import (
    BLACK,
    BLUE,
    MAX_POINTS,
    SERIES,
    VERMILLION,
    WARMUP_GREY,
    Chart,
    TimeAxis,
    figure,
    label,
    number_formatter,
    reduce_series,
    style,
    to_svg,
)
from loadgate.report.health import generator_summary, load_generators
from loadgate.results import GeneratorHealth, RunResult

__all__ = ["generator_chart", "spans_decades"]

CHART_ID = "chart-generator"
MAX_PROCESSES = len(SERIES)  # one colour each; the rest are named in the description
DECADES = 100.0  # a log scale once the largest lag is this many times the smallest
FLOOR_GREY = "#666666"
Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _Lines:
    """One process's per-second series, reduced to the chart's resolution."""

    name: str
    x: Array
    lag_p99: Array
    lag_max: Array
    cpu: Array
    wait: Array

    @classmethod
    def of(cls, g: GeneratorHealth, scale: float) -> _Lines:
        # the worst second of a bucket: a stall or a starved second must stay visible
        x, (p99, mx, cpu, wait) = reduce_series(
            [t / scale for t in g.t],
            [g.lag_p99_ms, g.lag_max_ms, g.cpu_percent, g.cpu_wait_percent],
            ["max"] * 4,
            MAX_POINTS,
        )
        return cls(label(f"{g.role} {g.ident}", 40), x, p99, mx, cpu, wait)


def spans_decades(values: Sequence[float] | Array) -> bool:
    """Do the positive values span two decades or more (then only a log scale shows both)?"""
    arr = np.asarray(values, dtype=np.float64)
    positive = arr[np.isfinite(arr) & (arr > 0)]
    return len(positive) > 1 and float(positive.max()) >= DECADES * float(positive.min())


def _looks(i: int, n: int) -> dict[str, tuple[str, str, float]]:
    """(colour, line style, width) per series: one process gets a colour per series; several
    get a colour each, with solid for lag P99 and CPU and dashed for lag max and CPU wait."""
    if n == 1:
        return {
            "p99": (VERMILLION, "-", 1.6),
            "max": (BLACK, "--", 0.8),
            "cpu": (BLUE, "-", 1.4),
            "wait": (VERMILLION, "--", 1.4),
        }
    colour = SERIES[i % len(SERIES)]
    return {
        "p99": (colour, "-", 1.5),
        "max": (colour, "--", 0.8),
        "cpu": (colour, "-", 1.3),
        "wait": (colour, "--", 1.3),
    }


def _legend(lines: Sequence[_Lines]) -> list[Line2D | Patch]:
    if len(lines) == 1:
        look = _looks(0, 1)
        names = {"p99": "hub lag P99", "max": "hub lag max", "cpu": "CPU", "wait": "CPU wait"}
        handles: list[Line2D | Patch] = [
            Line2D([], [], color=c, ls=ls, lw=lw, label=names[k]) for k, (c, ls, lw) in look.items()
        ]
    else:
        handles = [
            Line2D([], [], color=_looks(i, len(lines))["p99"][0], lw=1.5, label=s.name)
            for i, s in enumerate(lines)
        ]
        handles += [
            Line2D([], [], color=BLACK, ls="-", lw=1.2, label="solid: lag P99, CPU"),
            Line2D([], [], color=BLACK, ls="--", lw=1.0, label="dashed: lag max, CPU wait"),
        ]
    return [*handles, Patch(color=WARMUP_GREY, label="warm-up (excluded)")]


def _title(ax: Axes, text: str) -> None:
    # fixed place, as panel_title; not panel_title itself, whose linear locator breaks a log axis
    ax.set_title(text, loc="left", y=1.0, pad=5)


def _lag_panel(ax: Axes, lines: Sequence[_Lines]) -> bool:
    """Hub lag P99 and max per second, the validity floor marked; True when on a log scale."""
    values = np.concatenate([np.concatenate([s.lag_p99, s.lag_max]) for s in lines])
    seen = values[np.isfinite(values)]
    top = max(float(seen.max()) if len(seen) else 0.0, DELAY_FLOOR_MS)
    log = spans_decades(values)
    low = 0.0
    if log:
        ax.set_yscale("log")
        # from a whole decade, so the smallest values sit above a labelled tick (0.1, 1, 10)
        low = 10 ** math.floor(math.log10(float(seen[seen > 0].min())))
        ax.set_ylim(low, top * 5)  # headroom: the warm-up note sits at the top
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_ylim(0, top * 1.3)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    for i, s in enumerate(lines):
        look = _looks(i, len(lines))
        for key, ys in (("max", s.lag_max), ("p99", s.lag_p99)):
            colour, ls, lw = look[key]
            # a second with no lateness at all sits on the axis' floor, not off a log scale
            ax.plot(s.x, np.maximum(ys, low) if log else ys, color=colour, ls=ls, lw=lw)
    ax.axhline(DELAY_FLOOR_MS, color=FLOOR_GREY, ls=":", lw=1.0)
    ax.annotate(
        f"{DELAY_FLOOR_MS:g} ms: from here the generator's delay can invalidate a run",
        (0.99, DELAY_FLOOR_MS),
        xycoords=("axes fraction", "data"),
        xytext=(0, 2),
        textcoords="offset points",
        ha="right",
        va="bottom",
        fontsize=7.5,
        color="#444444",
        bbox={"boxstyle": "square,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
    )
    ax.yaxis.set_major_formatter(number_formatter())
    ax.set_ylabel("hub lag (ms)" + (", log scale" if log else ""))
    _title(ax, "How late the generator's event hub ran, per second")
    return log


def _cpu_panel(ax: Axes, lines: Sequence[_Lines]) -> None:
    top = 0.0
    for i, s in enumerate(lines):
        look = _looks(i, len(lines))
        for key, ys in (("cpu", s.cpu), ("wait", s.wait)):
            colour, ls, lw = look[key]
            ax.plot(s.x, ys, color=colour, ls=ls, lw=lw)
            if np.any(np.isfinite(ys)):
                top = max(top, float(np.nanmax(ys)))
    ax.set_ylim(0, max(100.0, top * 1.1))  # a whole core stays in view: CPU is read against it
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.yaxis.set_major_formatter(number_formatter())
    ax.set_ylabel("% of one core")
    _title(ax, "Its CPU use, and time it was ready to run but waited for a CPU")


def generator_chart(result: RunResult) -> Chart | None:
    """Hub lag P99 and max (upper) and CPU and CPU wait (lower) per second, one line pair per
    load-generating process; None for results without generator measurements."""
    gens = [g for g in load_generators(result) if g.t]
    summary = generator_summary(result)
    if not gens or summary is None:
        return None
    gens.sort(key=lambda g: (-(g.lag.quantile(0.99) if g.lag.count else 0), g.role, g.ident))
    shown = gens[:MAX_PROCESSES]
    axis = TimeAxis.of(result)
    lines = [_Lines.of(g, axis.scale) for g in shown]
    handles = _legend(lines)
    ncols = len(handles) if len(lines) == 1 else min(len(handles), 4)
    rows = math.ceil(len(handles) / ncols)
    with style():
        fig, (lag_ax, cpu_ax) = figure(2, 1, 1.75, top=0.5 + 0.22 * rows, vgap=0.45)
        axis.apply(lag_ax, result.warmup_s, note=True, labelled=False)
        axis.apply(cpu_ax, result.warmup_s, note=False)
        log = _lag_panel(lag_ax, lines)
        _cpu_panel(cpu_ax, lines)
        height = fig.get_figheight()
        fig.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, 1 - 0.05 / height),
            ncols=ncols,
        )
        title = "Load generator health"
        who = (
            f"the load-generating process ({lines[0].name})"
            if len(lines) == 1
            else f"{len(gens)} load-generating processes"
        )
        left_out = (
            f" Showing the {len(shown)} of {len(gens)} processes with the most hub lag."
            if len(gens) > len(shown)
            else ""
        )
        its = "its" if len(lines) == 1 else "each one's"
        desc = (
            f"Per second, for {who}: how late {its} event hub ran (P99 and max, in milliseconds"
            f"{', log scale' if log else ''}), and {its} CPU use and time waiting for a CPU (% of "
            "one core). Every response read during a late moment is counted that much slower. "
            f"The verdict holds the generator's delay against a judged quantile only from "
            f"{DELAY_FLOOR_MS:g} ms and {DELAY_SHARE:.0%} of its value (dotted line). In the "
            f"measured window: {summary.text}." + left_out
        )
        return Chart(CHART_ID, title, desc, to_svg(fig, CHART_ID, title, desc))
