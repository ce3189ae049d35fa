"""Benchmark of the report renderers (not a test): prints a table of time and size.

Synthetic runs of 10k, 100k and 1M requests over 8 endpoints (one WebSocket stream), with
per-second timelines of 60 s, 5 min and 30 min. Recording the samples into HDR histograms is
what the plugin pays during the run, not what rendering pays, so it is timed separately
("histogram build", one ``record`` per sample); the render columns time ``render_html`` (and
Markdown and JUnit) on the finished result, verdict and a 5-run baseline. Rendering cost
should follow endpoints × seconds, not requests. Usage::

    python benchmarks/report_bench.py [--repeat 3] [--sizes 10000,100000,1000000] [--out DIR]

The machine fingerprint is printed with the table (DESIGN §6); figures are medians of
``--repeat`` renders, wall-clock and CPU.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from loadgate.baselines import Baseline, BaselineRun  # noqa: E402
from loadgate.budgets import Budget, parse_budget  # noqa: E402
from loadgate.histogram import LatencyHistogram  # noqa: E402
from loadgate.report import render_html, render_junit, render_markdown  # noqa: E402
from loadgate.results import (  # noqa: E402
    EndpointResult,
    EndpointSeries,
    ProcessSamples,
    RunResult,
    Timeline,
)
from loadgate.verdict import judge  # noqa: E402

# name: (median ms, sigma, share of requests)
ENDPOINTS = {
    "POST /bets": (45.0, 0.45, 0.15),
    "GET /markets": (14.0, 0.5, 0.25),
    "GET /markets/[id]": (9.0, 0.4, 0.2),
    "GET /bets/mine": (12.0, 0.5, 0.08),
    "GET /wallet": (6.0, 0.4, 0.07),
    "GET /agents/[id]/dashboard": (30.0, 0.6, 0.04),
    "GET /agents/[id]/downline": (40.0, 0.6, 0.01),
    "WS odds": (4.0, 0.6, 0.2),
}
DURATIONS = {10_000: 60, 100_000: 300, 1_000_000: 1800}
WARMUP_FRACTION = 0.1


def samples_for(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    out = {}
    for name, (median, sigma, share) in ENDPOINTS.items():
        ms = rng.lognormal(math.log(median), sigma, max(1, round(n * share)))
        out[name] = np.round(ms * 1000).astype(np.int64)
    return out


def build_histograms(samples: dict[str, np.ndarray]) -> dict[str, LatencyHistogram]:
    """What recording costs: one ``record`` per sample, as the plugin does."""
    out = {}
    for name, values in samples.items():
        h = LatencyHistogram()
        for v in values.tolist():
            h.record(v)
        out[name] = h
    return out


def timeline_for(
    rng: np.random.Generator, samples: dict[str, np.ndarray], seconds: int
) -> Timeline:
    """Per-second series: spread each endpoint's samples over the seconds of the run."""
    tl = Timeline(seconds=list(range(seconds)), users=[])
    warmup = round(seconds * WARMUP_FRACTION)
    tl.users = [min(500, round(500 * (t + 1) / max(1, warmup))) for t in range(seconds)]
    for name, values in samples.items():
        when = rng.integers(0, seconds, len(values))
        order = np.argsort(when, kind="stable")
        bounds = np.searchsorted(when[order], np.arange(seconds + 1))
        s = EndpointSeries([], [], [], [], [])
        for t in range(seconds):
            chunk = values[order[bounds[t] : bounds[t + 1]]] / 1000
            s.requests.append(len(chunk))
            s.failures.append(int(rng.binomial(len(chunk), 0.001)) if len(chunk) else 0)
            if len(chunk):
                p50, p95, p99 = np.percentile(chunk, [50, 95, 99])
                s.p50_ms.append(float(p50))
                s.p95_ms.append(float(p95))
                s.p99_ms.append(float(p99))
            else:
                s.p50_ms.append(None)
                s.p95_ms.append(None)
                s.p99_ms.append(None)
        tl.endpoints[name] = s
    return tl


def process(rng: np.random.Generator, role: str, seconds: int) -> ProcessSamples:
    t = [i + 0.5 for i in range(seconds)]
    return ProcessSamples(
        role=role,
        pid=1000 if role == "sut" else 1001,
        t=t,
        cpu_percent=[float(v) for v in np.clip(rng.normal(60, 8, seconds), 0, 100)],
        rss_mb=[140 + 0.01 * i for i in range(seconds)],
    )


def build_run(n: int, histograms: dict[str, LatencyHistogram], tl: Timeline) -> RunResult:
    seconds = len(tl.seconds)
    warmup = round(seconds * WARMUP_FRACTION)
    rng = np.random.default_rng(n)
    endpoints = {
        name: EndpointResult(name, h, failures=sum(tl.endpoints[name].failures))
        for name, h in histograms.items()
    }
    endpoints["WS odds"].outcomes = {"conflated": n // 100, "gap": 3}
    return RunResult(
        run_id=f"bench-{n}",
        target="local",
        scenario="bench",
        profile={"users": 500},
        started_at="2026-11-29T22:15:00+00:00",
        t0=0.0,
        warmup_s=float(warmup),
        window_s=float(seconds - warmup),
        status="complete",
        endpoints=endpoints,
        timeline=tl,
        users_target=500,
        users_reached=500,
        processes=[process(rng, "sut", seconds), process(rng, "generator", seconds)],
        environment={"machine": {"cores": os.cpu_count()}},
        command=["loadgate", "run", "--scenario", "bench"],
    )


def build_baseline(rng: np.random.Generator, n: int) -> Baseline:
    base = Baseline("local", "bench")
    for k in range(5):
        samples = samples_for(rng, min(n, 100_000))
        base.runs.append(
            BaselineRun(
                run_id=f"b{k}",
                started_at=f"2026-11-{16 + k}T21:00:00+00:00",
                blessed_at=f"2026-11-{16 + k}T21:30:00+00:00",
                environment={"machine": {"cores": os.cpu_count()}},
                profile={},
                histograms=build_histograms(samples),
                failures={},
            )
        )
    return base


def timed(fn: Callable[[], str], repeat: int) -> tuple[float, float, str]:
    walls, cpus, text = [], [], ""
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        text = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), text


def bench_one(n: int, budgets: list[Budget], repeat: int, out: Path | None) -> str:
    """Build one synthetic run of ``n`` requests, render it, and return its table row."""
    rng = np.random.default_rng(n)
    seconds = DURATIONS.get(n, 60)
    samples = samples_for(rng, n)
    start = time.perf_counter()
    histograms = build_histograms(samples)
    build = time.perf_counter() - start
    run = build_run(n, histograms, timeline_for(rng, samples, seconds))
    baseline = build_baseline(rng, n)
    verdict = judge(run, budgets, baseline)
    render_html(run, verdict, baseline)  # warm caches: fonts, template
    wall, cpu, page = timed(partial(render_html, run, verdict, baseline), repeat)
    md_wall, _, _ = timed(partial(render_markdown, run, verdict, baseline), repeat)
    junit_wall, _, _ = timed(partial(render_junit, run, verdict), repeat)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"report-{n}.html").write_text(page, encoding="utf-8")
    size = len(page.encode("utf-8"))
    return (
        f"{run.total_requests:>10,} {seconds:>7} {build:>9.2f}s {wall:>8.3f}s {cpu:>7.3f}s "
        f"{size / 1024:>7.0f}KB {md_wall * 1000:>5.1f}ms {junit_wall * 1000:>5.1f}ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--out", type=Path, default=None, help="also write each report.html here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    budgets = [
        parse_budget("POST /bets", "p99 < 250ms"),
        parse_budget("GET /markets", "p95 < 50ms"),
        parse_budget("*", "errors < 1%"),
    ]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; medians of {args.repeat} renders"
    )
    header = (
        f"{'requests':>10} {'seconds':>7} {'hist build':>10} {'html wall':>9} {'html cpu':>8} "
        f"{'html size':>9} {'md':>7} {'junit':>7}"
    )
    print(header)
    print("-" * len(header))
    for n in sizes:
        print(bench_one(n, budgets, args.repeat, args.out))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MB (includes building the synthetic runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
