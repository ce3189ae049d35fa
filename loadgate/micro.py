"""Micro-benchmarks under the same verdict as load tests: a pytest-benchmark run becomes a
RunResult (one entry per benchmark, every round's time in its histogram), so baselines,
the regression test, the report, JUnit and Markdown all work on it unchanged.

    loadgate micro --suite sut          # run benchmarks/micro/test_sut_micro.py and judge it

The gated quantile is the median round time (P50): a benchmark's tail is the machine's noise.

For example::

    result = import_benchmarks(Path("bench.json"), suite="sut")
    result.endpoints["BENCH test_odds_update_1000"].histogram.quantile(0.5)
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from loadgate import provenance
from loadgate.config import PROJECT_ROOT
from loadgate.errors import DataError, InfraError, UsageError
from loadgate.histogram import LatencyHistogram
from loadgate.results import EndpointResult, RunResult, Timeline

SUITES_DIR = PROJECT_ROOT / "benchmarks" / "micro"
TARGET = "micro"


def suites() -> list[str]:
    return sorted(p.stem.removeprefix("test_").removesuffix("_micro") for p in _suite_files())


def _suite_files() -> list[Path]:
    return sorted(SUITES_DIR.glob("test_*_micro.py"))


def run_suite(suite: str, json_out: Path) -> None:
    """Run one suite with pytest-benchmark in a subprocess, saving every round's time."""
    path = SUITES_DIR / f"test_{suite}_micro.py"
    if not path.exists():
        raise UsageError(f"{path}: no such micro-benchmark suite (known: {', '.join(suites())})")
    cmd = [
        sys.executable, "-m", "pytest", str(path), "-q", "-p", "no:cacheprovider",
        "--benchmark-only", f"--benchmark-json={json_out}", "--benchmark-min-rounds=50",
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not json_out.exists():
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise InfraError(f"micro-benchmark suite {suite!r} failed (exit {done.returncode}): {tail}")


def import_benchmarks(path: Path, suite: str, command: list[str] | None = None) -> RunResult:
    """A pytest-benchmark JSON file (with round data) as a RunResult."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        benchmarks = data["benchmarks"]
        endpoints = {f"BENCH {b['name']}": _entry(b) for b in benchmarks}
    except FileNotFoundError:
        raise DataError(f"{path}: not found") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"{path}: not a pytest-benchmark JSON file with round data: {exc}"
        ) from None
    if not endpoints:
        raise DataError(f"{path}: holds no benchmarks")
    started = data.get("datetime") or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    total_s = sum(float(b["stats"]["total"]) for b in benchmarks)
    environment = provenance.environment(PROJECT_ROOT)
    environment["pytest_benchmark"] = {
        "version": data.get("version"),
        "machine_info": data.get("machine_info"),
        "commit_info": data.get("commit_info"),
    }
    return RunResult(
        run_id=f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-micro-{suite}",
        target=TARGET,
        scenario=suite,
        profile={
            "name": suite,
            "kind": "micro",
            "quantiles": [0.5],
            "min_effect": 0.10,
            "alpha": 0.01,
            "budgets": [],
            "users": 1,
        },
        started_at=str(started),
        t0=time.time(),
        warmup_s=0.0,
        window_s=round(total_s, 3),
        status="complete",
        endpoints=endpoints,
        timeline=Timeline(),
        users_target=1,
        users_reached=1,
        environment=environment,
        command=command or [],
    )


def _entry(bench: dict[str, Any]) -> EndpointResult:
    stats = bench["stats"]
    rounds = stats.get("data")
    if not rounds:
        raise KeyError(f"benchmark {bench['name']!r} has no round data ('data')")
    histogram = LatencyHistogram.of(max(1, round(float(t) * 1e6)) for t in rounds)
    return EndpointResult(name=f"BENCH {bench['name']}", histogram=histogram)
