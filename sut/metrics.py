"""Prometheus metrics of one app, in its own CollectorRegistry (never the global one)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip


class Metrics:
    """All collectors of one SUT instance. Example::

    metrics = Metrics()
    metrics.requests.labels("GET", "/healthz", "200").inc()
    text = metrics.render()
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.latency = Histogram(
            "sut_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "sut_http_requests", "HTTP requests by route and status", ["method", "route", "status"],
            registry=r,
        )  # fmt: skip
        self.in_flight = Gauge(
            "sut_http_requests_in_flight", "HTTP requests in progress", registry=r
        )
        self.ws_connections = Gauge("sut_ws_connections", "Open stream WebSockets", registry=r)
        self.stream_sent = Counter("sut_stream_messages_sent", "Stream frames sent", registry=r)
        self.stream_conflated = Counter(
            "sut_stream_messages_conflated",
            "Odds updates replaced by a newer one before being sent",
            registry=r,
        )
        self.stream_dropped = Counter(
            "sut_stream_messages_dropped",
            "Odds updates dropped because a connection's queue was full",
            registry=r,
        )
        self.loop_lag = Histogram(
            "sut_event_loop_lag_seconds",
            "How late the event loop's heartbeat woke (time nothing else could run)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.injected_errors = Counter(
            "sut_injected_errors", "Responses failed by the errors fault", registry=r
        )
        self._gauges: dict[str, Gauge] = {}

    def gauge_fn(self, name: str, doc: str, read: Callable[[], float]) -> None:
        """A gauge read from live state at scrape time (bus lag, DLQ size, ...)."""
        gauge = Gauge(name, doc, registry=self.registry)
        gauge.set_function(read)
        self._gauges[name] = gauge

    def render(self) -> bytes:
        """The Prometheus text exposition of every collector."""
        return generate_latest(self.registry)
