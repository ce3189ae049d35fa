"""The report's "server's own metrics" section: what the target's Prometheus metrics said about
the measurement window, laid out as rows. Pure: computed once from the stored result.

Which metrics mean what is read from their names, by Prometheus conventions: a histogram in
seconds with a route label (``route``, ``handler``, ``path`` or ``endpoint``) is per-route
latency; ``loop_lag`` names an event-loop lag histogram; ``in_flight`` a gauge of requests in
progress; ``dropped`` a counter of discarded messages. Quantiles are bucket estimates (see
:mod:`loadgate.server_metrics`), shown with the bucket they lie in.

For example::

    view = server_view(result.server_metrics)
    view.routes[0].route, view.routes[0].p99.text  # ('POST /bets', '9.50 ms')
"""

from __future__ import annotations

from dataclasses import dataclass

from loadgate.durations import format_ms
from loadgate.report.summary import duration, span_ms
from loadgate.server_metrics import HistogramWindow, ServerMetrics

ROUTE_LABELS = ("route", "handler", "path", "endpoint")
ACRONYMS = {"http": "HTTP", "ws": "WebSocket", "db": "DB", "api": "API", "cpu": "CPU"}
QUANTILES = (0.50, 0.95, 0.99)


@dataclass(frozen=True)
class ServerQuantile:
    """A quantile estimated from the server's buckets, for people: ``4.21 ms`` in ``2–5 ms``."""

    ms: float
    text: str
    bucket: str


@dataclass(frozen=True)
class RouteRow:
    """One route as the server counted it; ``requests`` is None when its counts were reset."""

    route: str
    requests: int | None
    mean: str = ""
    quantiles: tuple[ServerQuantile | None, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class ServerFact:
    """One line of the section: ``Event-loop lag P99`` = ``0.49 ms`` (with how it was read)."""

    label: str
    value: str
    detail: str


@dataclass(frozen=True)
class ServerView:
    """The whole section: where and when it was scraped, the routes, the other figures."""

    source: str
    routes: list[RouteRow]
    idle_routes: int
    facts: list[ServerFact]
    notes: list[str]


def server_view(m: ServerMetrics) -> ServerView:
    """Rows for the report from the stored server metrics."""
    source = (
        f"{m.url}, scraped {m.start_s:.1f} s and {m.end_s:.1f} s after the test start "
        f"({duration(round(m.seconds, 1))} apart)"
    )
    routes = [_route_row(h) for h in m.histograms if _route_label(h.name, h.labels)]
    routes += [
        RouteRow(_route_name(r.name, r.labels), None, note="reset between the scrapes: unknown")
        for r in m.resets
        if r.kind == "histogram" and _route_label(r.name, r.labels)
    ]
    busy = sorted((r for r in routes if r.requests != 0), key=lambda r: -(r.requests or 0))
    return ServerView(source, busy, len(routes) - len(busy), _facts(m), list(m.notes))


def _route_label(name: str, labels: dict[str, str]) -> str | None:
    if not name.endswith("_seconds"):
        return None
    return next((k for k in ROUTE_LABELS if k in labels), None)


def _route_name(name: str, labels: dict[str, str]) -> str:
    key = _route_label(name, labels) or ""
    text = f"{labels['method']} {labels[key]}" if "method" in labels else labels[key]
    rest = [f"{k}={v}" for k, v in sorted(labels.items()) if k not in (key, "method")]
    return text + (f" ({', '.join(rest)})" if rest else "")


def _route_row(h: HistogramWindow) -> RouteRow:
    mean = h.mean
    return RouteRow(
        route=_route_name(h.name, h.labels),
        requests=round(h.count),
        mean=format_ms(mean * 1000) if mean is not None else "–",
        quantiles=tuple(server_quantile(h, q) for q in QUANTILES),
    )


def server_quantile(h: HistogramWindow, q: float) -> ServerQuantile | None:
    """The estimate in ms, written ``> 5.00 s`` when it fell beyond the highest bucket."""
    found = h.estimate(q)
    if found is None:
        return None
    ms, low, high = found.value * 1000, found.low * 1000, found.high * 1000
    if high == float("inf"):
        return ServerQuantile(
            ms, f"> {format_ms(low)}", f"above the highest bucket ({format_ms(low)})"
        )
    return ServerQuantile(ms, format_ms(ms), f"{span_ms(low, high)} bucket")


def humanize(name: str) -> str:
    """``sut_stream_messages_dropped`` -> ``Stream messages dropped`` (the first word of a
    Prometheus name is its namespace)."""
    words = name.split("_")[1:] or [name]
    text = " ".join(ACRONYMS.get(w, w) for w in words)
    return text[:1].upper() + text[1:]


def _facts(m: ServerMetrics) -> list[ServerFact]:
    facts = []
    reset = {r.name for r in m.resets}
    for h in m.histograms:
        if "loop_lag" in h.name and h.name.endswith("_seconds") and not h.labels:
            p99 = server_quantile(h, 0.99)
            value = p99.text if p99 is not None else "no heartbeats"
            detail = f"{h.name}: {round(h.count):,} heartbeats"
            if p99 is not None:
                detail += f", P99 in the {p99.bucket}"
            facts.append(ServerFact("Event-loop lag P99", value, detail))
    for name in sorted({g.name for g in m.gauges if "in_flight" in g.name or "inflight" in g.name}):
        series = [g for g in m.gauges if g.name == name]
        end = sum(g.end for g in series)
        start = sum(g.start or 0.0 for g in series)
        facts.append(
            ServerFact(
                humanize(name),
                f"{end:g} at the end, {max(start, end):g} at most",
                f"{name} at the two scrapes (start {start:g}, end {end:g}); a server that "
                "instruments its metrics route counts the scrape itself",
            )
        )
    dropped = sorted(
        {c.name for c in m.counters if "dropped" in c.name} | {n for n in reset if "dropped" in n}
    )
    for name in dropped:
        if name in reset:
            facts.append(
                ServerFact(humanize(name), "unknown", f"{name}: reset between the scrapes")
            )
            continue
        total = sum(c.delta for c in m.counters if c.name == name)
        facts.append(ServerFact(humanize(name), f"{total:,.0f}", f"{name}: in the window"))
    return facts


def summary_line(view: ServerView) -> str:
    """One sentence for the Markdown summary: the busiest route and the other figures."""
    parts = []
    if view.routes and view.routes[0].requests is not None:
        top = view.routes[0]
        p95, p99 = top.quantiles[1], top.quantiles[2]
        parts.append(
            f"{top.route} {top.requests:,} requests"
            + (f", P95 {p95.text}" if p95 else "")
            + (f", P99 {p99.text}" if p99 else "")
        )
    parts += [f"{f.label} {f.value}" for f in view.facts]
    return " · ".join(parts) or "no route or lag metrics found"
