"""What the reports say about the load generator's health and about where each endpoint's time
went (client-side = server's handler + the generator's delay + the rest).

Computed once here for the HTML page, the Markdown summary and the terminal, so the three
agree. The split per quantile comes from :func:`loadgate.attribution.attribute`, the same
figures the validity checks judge. Generator figures are the worst over the load-generating
processes (a master sends no requests) within the measured window.

For example::

    summary = generator_summary(result)
    summary.lag_p99_ms, summary.wait_max_percent  # (0.385, 6.2)
    [row.endpoint for row in time_rows(result, ["POST /bets"])]  # ['POST /bets']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loadgate.attribution import DELAY_FLOOR_MS, STARVED_WAIT_PERCENT, attribute
from loadgate.durations import format_ms
from loadgate.report.summary import QUANTILES, Stat
from loadgate.results import EndpointResult, GeneratorHealth, RunResult

__all__ = [
    "GeneratorSummary",
    "TimeRow",
    "generator_figures",
    "generator_summary",
    "load_generators",
    "server_ms",
    "share",
    "time_rows",
]


@dataclass(frozen=True)
class GeneratorSummary:
    """The worst of the load-generating processes over the measured window (``None``: not
    measured)."""

    processes: int
    lag_p50_ms: float | None
    lag_p99_ms: float | None
    lag_max_ms: float | None
    cpu_max_percent: float | None
    wait_max_percent: float | None
    steal_max_percent: float | None = None  # its host took its CPUs (virtual machines)

    @property
    def text(self) -> str:
        """One line for people: ``hub lag P50 0.05 ms · P99 0.60 ms · max 12.0 ms; CPU up to
        63% of a core; waited for a CPU up to 2% of a second (1 load-generating process)``."""
        parts = []
        if self.lag_p50_ms is not None and self.lag_p99_ms is not None:
            parts.append(
                f"hub lag P50 {format_ms(self.lag_p50_ms)} · P99 {format_ms(self.lag_p99_ms)} · "
                f"max {format_ms(self.lag_max_ms or 0.0)}"
            )
        if self.cpu_max_percent is not None:
            parts.append(f"CPU up to {share(self.cpu_max_percent)} of a core")
        if self.wait_max_percent is not None:
            parts.append(f"waited for a CPU up to {share(self.wait_max_percent)} of a second")
        if self.steal_max_percent:
            parts.append(f"its host took its CPU up to {share(self.steal_max_percent)} (steal)")
        what = "; ".join(parts) or "no measurements in the window"
        if self.processes == 1:
            return f"{what} (1 load-generating process)"
        return f"{what} (worst of {self.processes} load-generating processes)"


@dataclass(frozen=True)
class TimeRow:
    """One endpoint's P50/P95/P99 (ms) split into the server's handler, the generator's delay
    and the rest (``None``: not measured, e.g. a target without ``Server-Timing``)."""

    endpoint: str
    client_ms: tuple[float, ...]
    server_ms: tuple[float, ...] | None
    delay_ms: tuple[float, ...] | None
    rest_ms: tuple[float, ...] | None
    delay_material: tuple[bool, ...]  # the generator's delay could move that quantile


def share(percent: float) -> str:
    """``63%``, ``2%``, ``0.45%``: two significant figures below 10%, whole numbers above."""
    return f"{percent:.0f}%" if percent >= 10 else f"{percent:.2g}%"


def load_generators(result: RunResult) -> list[GeneratorHealth]:
    """The processes that sent requests (every one but a master)."""
    return [g for g in result.generators if g.generates_load]


def _window_max(
    gens: Sequence[GeneratorHealth], series: str, start: float, end: float
) -> float | None:
    values = [
        v
        for g in gens
        if getattr(g, series)  # a series not measured (an older result) is empty
        for t, v in zip(g.t, getattr(g, series), strict=True)
        if start <= t < end and v is not None
    ]
    return max(values, default=None)


def generator_summary(result: RunResult) -> GeneratorSummary | None:
    """Hub lag (the window's histogram) and the largest per-second CPU and CPU wait of the
    load-generating processes; None for results without generator measurements."""
    gens = load_generators(result)
    if not gens:
        return None
    lagged = [g.lag for g in gens if g.lag.count]
    # the same seconds the validity check looks at (late_stretches)
    start, end = result.warmup_s, result.warmup_s + result.window_s
    return GeneratorSummary(
        processes=len(gens),
        lag_p50_ms=max((h.quantile(0.5) / 1000 for h in lagged), default=None),
        lag_p99_ms=max((h.quantile(0.99) / 1000 for h in lagged), default=None),
        lag_max_ms=max((h.max_us / 1000 for h in lagged), default=None),
        cpu_max_percent=_window_max(gens, "cpu_percent", start, end),
        wait_max_percent=_window_max(gens, "cpu_wait_percent", start, end),
        steal_max_percent=_window_max(gens, "steal_percent", start, end),
    )


def generator_figures(summary: GeneratorSummary | None) -> list[Stat]:
    """Headline figures: the generator's worst hub lag P99 and its largest CPU wait."""
    if summary is None:
        return []
    worst_of = f" (worst of {summary.processes} processes)" if summary.processes > 1 else ""
    out = []
    if summary.lag_p99_ms is not None:
        out.append(
            Stat(
                "Generator lag P99",
                format_ms(summary.lag_p99_ms),
                f"it ran this late or later 1% of the time{worst_of}",
                "warn" if summary.lag_p99_ms >= DELAY_FLOOR_MS else "",
            )
        )
    if summary.wait_max_percent is not None:
        out.append(
            Stat(
                "Generator CPU wait",
                share(summary.wait_max_percent),
                f"at worst, of a second spent waiting for a CPU{worst_of}",
                "warn" if summary.wait_max_percent >= STARVED_WAIT_PERCENT else "",
            )
        )
    return out


def server_ms(ep: EndpointResult, q: float) -> float | None:
    """The server's own time (``Server-Timing``) at quantile ``q`` in ms; None without it."""
    if ep.server is None or not ep.server.count:
        return None
    return ep.server.quantile(q) / 1000


def time_rows(result: RunResult, order: Sequence[str]) -> list[TimeRow]:
    """Where the time went, per endpoint in ``order``: only endpoints with the server's time or
    the generator's delay measured (none for results of older versions)."""
    rows = []
    for name in order:
        ep = result.endpoints.get(name)
        if ep is None or (ep.server is None and ep.delay is None):
            continue
        parts = attribute(result, [(name, q) for q in QUANTILES])
        if len(parts) != len(QUANTILES):
            continue  # no successful request
        server = tuple(p.server_ms for p in parts)
        delay = tuple(p.delay_ms for p in parts)
        rest = tuple(p.outside_ms for p in parts)
        if all(v is None for v in (*server, *delay)):
            continue
        rows.append(
            TimeRow(
                endpoint=name,
                client_ms=tuple(p.client_ms for p in parts),
                server_ms=_all(server),
                delay_ms=_all(delay),
                rest_ms=_all(rest),
                delay_material=tuple(p.delay_material for p in parts),
            )
        )
    return rows


def _all(values: tuple[float | None, ...]) -> tuple[float, ...] | None:
    """The values when every quantile has one (they come from one histogram: all or none)."""
    if any(v is None for v in values):
        return None
    return tuple(v for v in values if v is not None)
