"""The report's section on the server's own metrics: rows from the stored window, the HTML
section and the Markdown line; results without server metrics render as before."""

from __future__ import annotations

import dataclasses
import math

import pytest

from loadgate.baselines import Baseline
from loadgate.report import render_html, render_markdown
from loadgate.report.server_metrics import humanize, server_view, summary_line
from loadgate.results import RunResult
from loadgate.server_metrics import (
    CounterWindow,
    GaugeWindow,
    HistogramWindow,
    ResetSeries,
    ServerMetrics,
)
from loadgate.verdict import Verdict

INF = math.inf
LATENCY = "sut_http_request_duration_seconds"
HOSTILE_ROUTE = "/x<script>alert(1)</script>|`*"


def route(method: str, path: str, buckets: tuple[tuple[float, float], ...]) -> HistogramWindow:
    count = buckets[-1][1]
    return HistogramWindow(
        LATENCY, {"method": method, "route": path}, count, count * 0.004, buckets
    )


def metrics() -> ServerMetrics:
    return ServerMetrics(
        url="http://127.0.0.1:8000/metrics",
        start_s=10.04,
        end_s=60.03,
        histograms=[
            # 100 requests: 60 in (2, 5] ms, 39 in (5, 10] ms, 1 beyond 5 s
            route("POST", "/bets", ((0.002, 0), (0.005, 60), (0.01, 99), (5.0, 99), (INF, 100))),
            route("GET", "/markets", ((0.001, 0), (0.002, 400), (INF, 400))),
            route("GET", "/healthz", ((INF, 0),)),  # not requested in the window
            route("GET", HOSTILE_ROUTE, ((0.001, 3), (INF, 3))),
            HistogramWindow(
                "sut_event_loop_lag_seconds",
                {},
                500,
                0.1,
                ((0.0005, 495), (0.001, 500), (INF, 500)),
            ),
        ],
        counters=[
            CounterWindow("sut_stream_messages_dropped", {}, 12),
            CounterWindow(
                "sut_http_requests", {"method": "GET", "route": "/markets", "status": "200"}, 400
            ),
        ],
        gauges=[GaugeWindow("sut_http_requests_in_flight", {}, 7, 2)],
        resets=[ResetSeries(LATENCY, {"method": "GET", "route": "/wallet"}, "histogram")],
        notes=["1 series appeared during the window and are counted from zero"],
    )


def test_routes_busiest_first_with_bucket_estimates() -> None:
    view = server_view(metrics())
    assert [(r.route, r.requests) for r in view.routes] == [
        ("GET /markets", 400),
        ("POST /bets", 100),
        (f"GET {HOSTILE_ROUTE}", 3),
        ("GET /wallet", None),
    ]
    assert view.idle_routes == 1
    bets = view.routes[1]
    p50, p95, p99 = bets.quantiles
    # P50: rank 50 is 50 into the 60 of (2, 5] ms; P95: rank 95 is 35 into the 39 of (5, 10]
    assert p50 is not None and p50.ms == pytest.approx(2 + 3 * 50 / 60)
    assert p50.bucket == "2.00–5.00 ms bucket"
    assert p95 is not None and p95.ms == pytest.approx(5 + 5 * 35 / 39)
    assert p99 is not None and p99.text == "10.0 ms"
    assert bets.mean == "4.00 ms"
    assert view.routes[3].note == "reset between the scrapes: unknown"
    assert "10.0 s and 60.0 s after the test start (50 s apart)" in view.source


def test_a_quantile_beyond_the_highest_bucket_is_written_as_a_lower_bound() -> None:
    h = route("POST", "/slow", ((0.1, 0), (5.0, 1), (INF, 10)))
    [row] = server_view(ServerMetrics("u", 0.0, 1.0, histograms=[h])).routes
    assert row.quantiles[1] is not None and row.quantiles[1].text == "> 5.00 s"


def test_facts_loop_lag_in_flight_and_dropped_messages() -> None:
    facts = {f.label: f for f in server_view(metrics()).facts}
    lag = facts["Event-loop lag P99"]
    # rank 495 is the top of the first bucket: its bound, 0.5 ms
    assert lag.value == "0.50 ms" and "500 heartbeats" in lag.detail
    assert facts["HTTP requests in flight"].value == "2 at the end, 7 at most"
    assert facts["Stream messages dropped"].value == "12"


def test_a_reset_dropped_counter_is_unknown_not_zero() -> None:
    m = ServerMetrics("u", 0.0, 1.0, resets=[ResetSeries("app_messages_dropped", {}, "counter")])
    [fact] = server_view(m).facts
    assert (fact.label, fact.value) == ("Messages dropped", "unknown")


def test_humanize() -> None:
    assert humanize("sut_ws_connections") == "WebSocket connections"
    assert humanize("single") == "Single"


def test_the_html_section(result: RunResult, verdict: Verdict, baseline: Baseline) -> None:
    page = render_html(dataclasses.replace(result, server_metrics=metrics()), verdict, baseline)
    section = page.split('<section aria-labelledby="server-h">')[1].split("</section>")[0]
    assert "The server's own metrics" in section
    assert '<th scope="row">POST /bets</th>' in section
    assert "2.00–5.00 ms bucket" in section and "&gt; 5.00 s" not in section
    assert "Event-loop lag P99" in section and "2 at the end, 7 at most" in section
    assert "1 more route had none" in section
    assert "counted from zero" in section
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in section
    assert '<a href="#server-h">' in page


def test_results_without_server_metrics_render_as_before(
    result: RunResult, old_result: RunResult, verdict: Verdict, baseline: Baseline
) -> None:
    for r in (result, old_result):
        assert r.server_metrics is None
        page = render_html(r, verdict, baseline)
        assert "server-h" not in page and "server's own metrics" not in page
        assert "server's own metrics" not in render_markdown(r, verdict, baseline)


def test_the_markdown_line(result: RunResult, verdict: Verdict, baseline: Baseline) -> None:
    text = render_markdown(dataclasses.replace(result, server_metrics=metrics()), verdict, baseline)
    [line] = [x for x in text.splitlines() if x.startswith("**The server's own metrics**")]
    assert line == (
        "**The server's own metrics** over 50 s: GET /markets 400 requests, P95 1.95 ms, "
        "P99 1.99 ms · Event-loop lag P99 0.50 ms · HTTP requests in flight 2 at the end, "
        "7 at most · Stream messages dropped 12"
    )
    assert summary_line(server_view(ServerMetrics("u", 0.0, 1.0))) == (
        "no route or lag metrics found"
    )
