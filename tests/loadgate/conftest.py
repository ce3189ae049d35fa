"""Synthetic but realistic runs for the report tests, built in code from a seeded RNG.

Latencies are log-normal (what request latencies look like), the run has a 10 s warm-up ramp
and a 50 s measured window, the SUT and the generator are sampled every second, and two
endpoints carry hostile names (markup, quotes, pipes, backticks, ``$`` for mathtext). The
generator's own health (hub lag with two stalls, CPU, CPU wait) and each HTTP endpoint's
server time (``Server-Timing``) and generator delay are there too, unless ``health=False``
(a result of an older version).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest
from hdrh.histogram import HdrHistogram

from loadgate.baselines import Baseline, BaselineRun
from loadgate.budgets import Budget, parse_budget
from loadgate.checks import Check
from loadgate.histogram import HIGHEST_US, LOWEST_US, SIGNIFICANT_DIGITS, LatencyHistogram
from loadgate.results import (
    EndpointResult,
    EndpointSeries,
    GeneratorHealth,
    ProcessSamples,
    RunResult,
    Timeline,
)
from loadgate.verdict import Verdict, judge

SEED = 20261129
HOSTILE = "GET /x?<script>alert(1)</script>&\"'"
HOSTILE_MD = "GET /price$_{x}|`rm -rf`*bold*"
WARMUP_S = 10
DURATION_S = 60


@dataclass(frozen=True)
class Shape:
    """One endpoint's latency (log-normal median and sigma) and load (requests per second)."""

    median_ms: float
    sigma: float
    rps: float
    error_rate: float = 0.0


ENDPOINTS = {
    "POST /bets": Shape(48.0, 0.45, 240, 0.002),
    "GET /markets": Shape(14.0, 0.5, 400),
    "GET /markets/[id]": Shape(9.0, 0.4, 300, 0.0005),
    "GET /agents/[id]/dashboard": Shape(30.0, 0.6, 60),
    "WS odds": Shape(4.0, 0.6, 600),
    HOSTILE: Shape(20.0, 0.5, 16, 0.01),
    HOSTILE_MD: Shape(11.0, 0.3, 10),
}
BASELINE_MEDIANS = {"POST /bets": 34.0}  # this run's bet placement is ~40% slower
GENERATOR_IDENT = "ci-runner-7:4243"
# the probe's missed grid points (µs): users spawning in the warm-up, then a short stall
STALLS = {3: [40_000, 30_000, 20_000, 10_000], 25: [11_800, 1_800]}
STARVED = range(44, 47)  # seconds in which another process took the generator's core


def histogram_of(samples_us: npt.NDArray[np.int64]) -> LatencyHistogram:
    """A histogram of many samples fast: count equal values once (HDR keeps 3 digits anyway)."""
    hdr = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    values, counts = np.unique(np.clip(samples_us, LOWEST_US, HIGHEST_US), return_counts=True)
    for v, c in zip(values.tolist(), counts.tolist(), strict=True):
        hdr.record_value(v, c)
    return LatencyHistogram(hdr)


def _lognormal_us(
    rng: np.random.Generator, shape: Shape, n: int, drift: float = 1.0
) -> npt.NDArray[np.int64]:
    ms = rng.lognormal(math.log(shape.median_ms * drift), shape.sigma, n)
    return np.round(ms * 1000).astype(np.int64)


def build_result(seed: int = SEED, users_reached: int = 100, health: bool = True) -> RunResult:
    rng = np.random.default_rng(seed)
    seconds = list(range(DURATION_S))
    users = [min(users_reached, round(users_reached * (t + 1) / WARMUP_S)) for t in seconds]
    endpoints: dict[str, EndpointResult] = {}
    series: dict[str, EndpointSeries] = {}
    measured: dict[str, npt.NDArray[np.int64]] = {}
    for name, shape in ENDPOINTS.items():
        window: list[npt.NDArray[np.int64]] = []
        s = EndpointSeries([], [], [], [], [])
        failures = 0
        for t in seconds:
            load = users[t] / users_reached
            n = int(rng.poisson(shape.rps * load))
            # a mid-run spike on bet placement, like a GC pause or a lock convoy
            drift = 1.8 if name == "POST /bets" and 38 <= t < 41 else 1.0
            samples = _lognormal_us(rng, shape, n, drift)
            failed = int(rng.binomial(n, shape.error_rate)) if shape.error_rate else 0
            ok = samples[failed:]
            s.requests.append(n)
            s.failures.append(failed)
            for col, q in ((s.p50_ms, 50), (s.p95_ms, 95), (s.p99_ms, 99)):
                col.append(float(np.percentile(ok, q)) / 1000 if len(ok) else None)
            if t >= WARMUP_S:
                window.append(ok)
                failures += failed
        measured[name] = np.concatenate(window)
        hist = histogram_of(measured[name])
        endpoints[name] = EndpointResult(
            name=name,
            histogram=hist,
            failures=failures,
            failure_kinds={"HTTP 503": failures} if failures else {},
            outcomes=_outcomes(name, hist.count),
        )
        series[name] = s
    generators = []
    if health:
        # a stream of its own: the figures above stay what they were before health was added
        own = np.random.default_rng(seed + 101)
        lag = _lag_samples(own)
        generators.append(_generator(own, lag))
        _add_timing(own, endpoints, series, measured, lag)
    return RunResult(
        run_id="20261129-221500-smoke",
        target="local",
        scenario="smoke",
        profile={"users": 100, "spawn_rate": 10, "duration": "60s", "warmup": "10s"},
        started_at="2026-11-29T22:15:00+00:00",
        t0=1796076900.0,
        warmup_s=float(WARMUP_S),
        window_s=float(DURATION_S - WARMUP_S),
        status="complete",
        endpoints=endpoints,
        timeline=Timeline(seconds=seconds, users=users, endpoints=series),
        users_target=100,
        users_reached=users_reached,
        processes=[
            _process(rng, "sut", 4242, 55.0, 120.0),
            _process(rng, "generator", 4243, 35.0, 90.0),
        ],
        generators=generators,
        notes=[],
        audit={"ok": True, "checks": [{"name": "money conserved", "ok": True}]},
        environment={
            "git_commit": "3f9c2a7d1e5b8c4f6a0d2e9b7c1f3a5d8e0b2c4f",
            "git_dirty": False,
            "hostname": "ci-runner-7",
            "machine": {
                "cpu_model": "AMD EPYC 7B13",
                "cores": 2,
                "memory_gb": 8,
                "python": "3.11.7",
                "os": "Linux x86_64",
            },
            "versions": {
                "loadgate": "0.1.0",
                "locust": "2.31.8",
                "hdrhistogram": "0.10.3",
                "starlette": "0.41.3",
                "uvicorn": "0.32.1",
            },
        },
        command=[
            "loadgate",
            "gate",
            "--target",
            "local",
            "--scenario",
            "smoke",
            "--out",
            "reports/run 1",
        ],
    )


def _outcomes(name: str, count: int) -> dict[str, int]:
    if name == "POST /bets":
        return {"placed": count - 37, "odds_changed": 37}
    if name == "WS odds":
        return {"conflated": 412, "gap": 3}
    return {}


def _process(
    rng: np.random.Generator, role: str, pid: int, cpu: float, rss: float
) -> ProcessSamples:
    t = [float(i) + 0.5 for i in range(DURATION_S)]
    ramp = [min(1.0, (i + 1) / WARMUP_S) for i in range(DURATION_S)]
    return ProcessSamples(
        role=role,
        pid=pid,
        t=t,
        cpu_percent=[round(cpu * r + float(rng.normal(0, 4)), 1) for r in ramp],
        rss_mb=[round(rss + 30 * r + i * 0.2, 1) for i, r in enumerate(ramp)],
        cores=[0] if role == "sut" else [1],
    )


def _lag_samples(rng: np.random.Generator) -> list[npt.NDArray[np.int64]]:
    """The probe's lateness per second (µs): 100 samples a second of tens of µs, and the
    missed grid points of each stall."""
    out = []
    for t in range(DURATION_S):
        lag = np.round(rng.lognormal(math.log(60), 0.8, 100)).astype(np.int64)
        out.append(np.concatenate([lag, np.asarray(STALLS.get(t, []), dtype=np.int64)]))
    return out


def _nearest_rank_ms(values: npt.NDArray[np.int64], p: float) -> float:
    ordered = np.sort(values)
    return round(int(ordered[max(0, math.ceil(p * len(ordered)) - 1)]) / 1000, 3)


def _generator(rng: np.random.Generator, lag: list[npt.NDArray[np.int64]]) -> GeneratorHealth:
    window = LatencyHistogram()
    for t in range(WARMUP_S, DURATION_S):
        window.record_many(lag[t], 1)
    cpu: list[float | None] = [None]  # the first CPU reading covers the second second
    wait: list[float | None] = [None]
    for t in range(1, DURATION_S):
        ramp = min(1.0, (t + 1) / WARMUP_S)
        cpu.append(round(max(0.0, 40.0 * ramp + float(rng.normal(0, 3))), 1))
        starved = 5.5 if t in STARVED else 0.0
        wait.append(round(abs(float(rng.normal(0.5, 0.3))) + starved, 1))
    return GeneratorHealth(
        ident=GENERATOR_IDENT,
        role="local",
        lag=window,
        t=list(range(DURATION_S)),
        lag_p50_ms=[_nearest_rank_ms(v, 0.5) for v in lag],
        lag_p99_ms=[_nearest_rank_ms(v, 0.99) for v in lag],
        lag_max_ms=[round(int(v.max()) / 1000, 3) for v in lag],
        cpu_percent=cpu,
        cpu_wait_percent=wait,
    )


def _add_timing(
    rng: np.random.Generator,
    endpoints: dict[str, EndpointResult],
    series: dict[str, EndpointSeries],
    measured: dict[str, npt.NDArray[np.int64]],
    lag: list[npt.NDArray[np.int64]],
) -> None:
    """Per endpoint, the generator delay its requests met (each second's lag samples once per
    successful request then, as the probe weighs them) and, for HTTP, the server's own time:
    90% of the client-side time less half a millisecond or so of connection and network."""
    for name, ep in endpoints.items():
        s = series[name]
        ep.delay = LatencyHistogram()
        for t in range(WARMUP_S, DURATION_S):
            ep.delay.record_many(lag[t], s.requests[t] - s.failures[t])
        if not name.startswith("WS "):
            client = measured[name]
            server = np.round(client * 0.9 - rng.exponential(500, len(client)))
            ep.server = histogram_of(np.maximum(server, 50).astype(np.int64))


def build_baseline(runs: int = 5, seed: int = SEED + 1) -> Baseline:
    rng = np.random.default_rng(seed)
    out = Baseline("local", "smoke")
    for k in range(runs):
        histograms = {}
        for name, shape in ENDPOINTS.items():
            median = BASELINE_MEDIANS.get(name, shape.median_ms) * float(rng.normal(1.0, 0.015))
            base = Shape(median, shape.sigma, shape.rps)
            histograms[name] = histogram_of(_lognormal_us(rng, base, int(shape.rps * 50)))
        out.runs.append(
            BaselineRun(
                run_id=f"202611{16 + k}-2100-smoke",
                started_at=f"2026-11-{16 + k}T21:00:00+00:00",
                blessed_at=f"2026-11-{16 + k}T21:30:00+00:00",
                environment={"machine": build_result_environment_machine()},
                profile={"users": 100},
                histograms=histograms,
                failures={name: 0 for name in ENDPOINTS},
            )
        )
    return out


def build_result_environment_machine() -> dict[str, object]:
    return {
        "cpu_model": "AMD EPYC 7B13",
        "cores": 2,
        "memory_gb": 8,
        "python": "3.11.7",
        "os": "Linux x86_64",
    }


BUDGETS: list[Budget] = [
    parse_budget("POST /bets", "p99 < 100ms"),
    parse_budget("POST /bets", "p95 < 120ms"),
    parse_budget("GET /markets", "p95 < 50ms"),
    parse_budget("GET /agents/[id]/dashboard", "p99 < 250ms"),
    parse_budget("*", "errors < 1%"),
]


@pytest.fixture(scope="session")
def hostile() -> str:
    """An endpoint name full of markup and quotes."""
    return HOSTILE


@pytest.fixture(scope="session")
def hostile_md() -> str:
    """An endpoint name full of Markdown and mathtext syntax."""
    return HOSTILE_MD


@pytest.fixture(scope="session")
def budgets() -> list[Budget]:
    return list(BUDGETS)


@pytest.fixture(scope="session")
def result() -> RunResult:
    return build_result()


@pytest.fixture(scope="session")
def old_result() -> RunResult:
    """The same run as a version without generator health or Server-Timing stored it."""
    return build_result(health=False)


@pytest.fixture(scope="session")
def baseline() -> Baseline:
    return build_baseline()


@pytest.fixture(scope="session")
def verdict(result: RunResult, baseline: Baseline) -> Verdict:
    """A realistic failing verdict: bet placement breaks its P99 budget and regressed ~20%."""
    return judge(result, BUDGETS, baseline)


@pytest.fixture(scope="session")
def pass_verdict(result: RunResult) -> Verdict:
    """Generous budgets, no baseline: everything passes."""
    return judge(result, [parse_budget("POST /bets", "p99 < 2s")], None)


@pytest.fixture(scope="session")
def invalid_result() -> RunResult:
    """Only 60 of 100 users were reached: the run cannot be judged."""
    return build_result(seed=SEED + 7, users_reached=60)


@pytest.fixture(scope="session")
def mixed_verdict() -> Verdict:
    """Hand-built: 2 failures, 1 invalid, 1 warning, 3 passes (fixed counts for JUnit)."""
    checks = (
        Check("validity", "run completed", "pass", "The run completed as planned."),
        Check(
            "validity",
            f"{HOSTILE} samples for p99",
            "invalid",
            f"{HOSTILE} has only 40 samples; its p99 budget needs at least 368.",
            endpoint=HOSTILE,
            metric="p99",
            quantile=0.99,
            value=40,
            threshold=368,
        ),
        Check(
            "budget",
            "POST /bets p99 < 100 ms",
            "fail",
            "POST /bets p99 is 137 ms (95% CI 131 ms–144 ms), above its 100 ms budget.",
            endpoint="POST /bets",
            metric="p99",
            quantile=0.99,
            value=137.0,
            threshold=100.0,
            interval=(131.0, 144.0),
        ),
        Check(
            "budget",
            "GET /markets p95 < 50.0 ms",
            "pass",
            "GET /markets p95 is 32.1 ms, within its 50.0 ms budget (36% headroom).",
            endpoint="GET /markets",
            metric="p95",
            quantile=0.95,
            value=32.1,
            threshold=50.0,
            interval=(31.5, 32.8),
        ),
        Check(
            "budget",
            f"{HOSTILE} errors < 1%",
            "warn",
            f"{HOSTILE} error rate is 1.20% (10 of 800): above its 1% budget, but within noise.",
            endpoint=HOSTILE,
            metric="errors",
            value=0.012,
            threshold=0.01,
            interval=(0.006, 0.022),
        ),
        Check(
            "baseline",
            "POST /bets p99 vs baseline",
            "fail",
            "POST /bets p99 is 137 ms, +21% vs the baseline (regression): outside the noise.",
            endpoint="POST /bets",
            metric="p99",
            quantile=0.99,
            value=137.0,
            reference=113.0,
            ratio=137.0 / 113.0,
            interval=(0.9, 1.1),
            outcome="regression",
        ),
        Check(
            "baseline",
            "GET /markets p99 vs baseline",
            "pass",
            "GET /markets p99 is 45.0 ms, +1% vs the baseline (pass).",
            endpoint="GET /markets",
            metric="p99",
            quantile=0.99,
            value=45.0,
            reference=44.6,
            ratio=45.0 / 44.6,
            interval=(0.9, 1.1),
            outcome="pass",
        ),
    )
    return Verdict("invalid", checks[1].message, checks, baseline="baseline of 2026-11-20 (5 runs)")
