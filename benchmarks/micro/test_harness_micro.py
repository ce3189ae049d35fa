"""The harness's own hot paths: histogram record and merge, verdict computation."""

from __future__ import annotations

from typing import Any

import numpy as np

from loadgate.budgets import parse_budget
from loadgate.histogram import LatencyHistogram
from loadgate.results import EndpointResult, RunResult, Timeline
from loadgate.verdict import judge

RNG = np.random.default_rng(11)
SAMPLES = [int(x) for x in RNG.lognormal(9, 0.5, 1000)]


def test_histogram_record_1000(benchmark: Any) -> None:
    h = LatencyHistogram()

    def record() -> None:
        for value in SAMPLES:
            h.record(value)

    benchmark(record)


def test_histogram_merge_encoded(benchmark: Any) -> None:
    # what the master does with each worker report: decode and add
    encoded = LatencyHistogram.of(RNG.lognormal(9, 0.5, 20_000).astype(int)).encode()
    total = LatencyHistogram()
    benchmark(lambda: total.merge(LatencyHistogram.decode(encoded)))


def test_verdict_8_endpoints(benchmark: Any) -> None:
    endpoints = {
        f"GET /e{i}": EndpointResult(
            f"GET /e{i}", LatencyHistogram.of(RNG.lognormal(9, 0.5, 5_000).astype(int))
        )
        for i in range(8)
    }
    result = RunResult(
        run_id="bench", target="local", scenario="smoke", profile={}, started_at="",
        t0=0.0, warmup_s=0.0, window_s=60.0, status="complete", endpoints=endpoints,
        timeline=Timeline(), users_target=1, users_reached=1,
    )  # fmt: skip
    budgets = [parse_budget("*", "p99 < 1s"), parse_budget("*", "errors < 1%")]
    benchmark(judge, result, budgets)
