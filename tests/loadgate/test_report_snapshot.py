"""Snapshot of the Markdown summary for a tiny, fully fixed run (every byte is checked)."""
# ruff: noqa: E501  (the snapshot holds Markdown table rows verbatim)

from __future__ import annotations

from loadgate.checks import Check
from loadgate.histogram import LatencyHistogram
from loadgate.report import render_markdown
from loadgate.results import EndpointResult, RunResult, Timeline
from loadgate.verdict import Verdict

EXPECTED = """\
## ❌ FAIL · loadgate smoke on local

**POST /bets p99 is 1.00 s, above its 500 ms budget.**

| Users reached | Throughput | Requests | Error rate |
| --- | --- | --- | --- |
| **10** · of 10 planned | **10 req/s** · over 1 min 40 s measured | **1,002** · 2 endpoints | **0.2%** · 2 failed |

### Checks: 1 need attention, 1 passed

| Status | Kind | Check | Result |
| --- | --- | --- | --- |
| ❌ fail | budget | POST /bets p99 &lt; 500 ms | POST /bets p99 is 1.00 s, above its 500 ms budget. |

<details><summary>1 passed checks</summary>

| Status | Kind | Check | Result |
| --- | --- | --- | --- |
| ✅ pass | validity | run completed | The run completed as planned. |

</details>

### Endpoints

| Endpoint | Requests | RPS | Failures | P50 | P95 | P99 | Max | Budget |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |
| ❌ POST /bets | 502 | 5.0 | 2 (0.4%) | 500 ms <sub>456–546 ms</sub> | 950 ms <sub>930–970 ms</sub> | 990 ms <sub>980 ms–1.00 s</sub> | 1.00 s | ❌ p99 &lt; 500 ms |
| ✅ GET /a\\|b | 500 | 5.0 | 0 (0%) | 500 ms <sub>456–546 ms</sub> | 950 ms <sub>930–970 ms</sub> | 990 ms <sub>980 ms–1.00 s</sub> | 1.00 s | – |

<sub>Run r1 · started 2026-11-29T22:15:00+00:00 · 1 min 40 s measured after 10 s warm-up · no baseline · latency intervals are 95% CIs</sub>
"""


def run() -> RunResult:
    def endpoint(name: str, failures: int) -> EndpointResult:
        h = LatencyHistogram.of(range(2_000, 1_000_001, 2_000))  # 2 ms … 1 s, evenly
        return EndpointResult(name, h, failures=failures)

    return RunResult(
        run_id="r1",
        target="local",
        scenario="smoke",
        profile={},
        started_at="2026-11-29T22:15:00+00:00",
        t0=0.0,
        warmup_s=10.0,
        window_s=100.0,
        status="complete",
        endpoints={"GET /a|b": endpoint("GET /a|b", 0), "POST /bets": endpoint("POST /bets", 2)},
        timeline=Timeline(),
        users_target=10,
        users_reached=10,
    )


def test_markdown_snapshot() -> None:
    checks = (
        Check("validity", "run completed", "pass", "The run completed as planned."),
        Check(
            "budget",
            "POST /bets p99 < 500 ms",
            "fail",
            "POST /bets p99 is 1.00 s, above its 500 ms budget.",
            endpoint="POST /bets",
            metric="p99",
            quantile=0.99,
            value=1000.0,
            threshold=500.0,
            interval=(998.0, 1000.0),
        ),
    )
    verdict = Verdict("fail", checks[1].message, checks)
    assert render_markdown(run(), verdict) == EXPECTED
