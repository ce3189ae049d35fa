"""The server's own metrics end to end: a real run scrapes the bundled SUT's Prometheus endpoint
at the edges of the measurement window, and the server's count of bet placements in that
window agrees with the client's."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgate.results import read_result

from .conftest import SHORT, generator_was_late, loadgate

pytestmark = pytest.mark.slow


def test_a_run_stores_the_servers_view_of_its_window(out_dir: Path) -> None:
    proc = loadgate(
        "run", "--target", "local", "--scenario", "smoke", "--no-baseline", "--out", str(out_dir),
        *SHORT,
    )  # fmt: skip
    # the gate's outcome is not the point here: a busy machine may breach a budget, or make
    # the load generator late (the run is then rightly invalid, its measurement still stored)
    late = proc.returncode == 4 and generator_was_late(out_dir)
    assert proc.returncode in (0, 1) or late, proc.stdout + proc.stderr
    result = read_result(out_dir / "result.json")
    server = result.server_metrics
    assert server is not None, result.notes
    assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/metrics")
    assert server.start_s == pytest.approx(result.warmup_s, abs=1.0)
    assert server.seconds == pytest.approx(result.window_s, abs=1.0)

    route = {"method": "POST", "route": "/bets"}
    [bets] = [
        h
        for h in server.histograms
        if h.name == "sut_http_request_duration_seconds" and h.labels == route
    ]
    client = result.endpoints["POST /bets"].requests
    assert client >= 368
    # only requests in flight at the two edges may fall on different sides of them
    assert abs(bets.count - client) <= max(10, 0.03 * client), (bets.count, client)
    # the server's request counter saw the same requests as its histogram
    counted = sum(
        c.delta
        for c in server.counters
        if c.name == "sut_http_requests" and {k: c.labels[k] for k in route} == route
    )
    assert counted == bets.count
    p50, p99 = bets.quantile(0.5), bets.quantile(0.99)
    assert p50 is not None and p99 is not None and 0 < p50 <= p99 < 1.0
    assert any(h.name == "sut_event_loop_lag_seconds" and h.count > 0 for h in server.histograms)
    assert "The server's own metrics" in (out_dir / "report.html").read_text()
    assert "**The server's own metrics**" in (out_dir / "summary.md").read_text()
