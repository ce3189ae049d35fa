"""Micro-benchmarks under the load-test verdict: a real pytest-benchmark run becomes a result
that baselines, the regression check and the report handle unchanged."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from loadgate.baselines import bless, load_baseline
from loadgate.errors import DataError
from loadgate.micro import import_benchmarks
from loadgate.policy import GatePolicy
from loadgate.results import read_result
from loadgate.verdict import judge

from ..conftest import python

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return python("-m", "loadgate.cli", *args, timeout=300)


@pytest.mark.slow
def test_micro_suite_runs_and_is_judged_against_its_own_baseline(tmp_path: Path) -> None:
    first = cli("micro", "--suite", "harness", "--out", str(tmp_path / "a"), "--no-baseline")
    assert first.returncode == 0, first.stdout + first.stderr
    result = read_result(tmp_path / "a" / "result.json")
    assert result.target == "micro" and result.scenario == "harness"
    assert {"BENCH test_histogram_record_1000", "BENCH test_verdict_8_endpoints"} <= set(
        result.endpoints
    )
    assert all(ep.histogram.count >= 50 for ep in result.endpoints.values())
    assert (tmp_path / "a" / "report.html").exists()
    baseline_file = tmp_path / "harness.json"
    bless([result], baseline_file)
    again = cli(
        "micro", "--import", str(tmp_path / "a" / "benchmark.json"), "--suite", "harness",
        "--out", str(tmp_path / "b"), "--baseline", str(baseline_file),
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert "BENCH test_histogram_record_1000" in again.stdout


def test_imported_rounds_and_a_regression(tmp_path: Path) -> None:
    def bench_file(name: str, scale: float) -> Path:
        rounds = [scale * (100e-6 + i * 1e-7) for i in range(200)]
        data = {
            "datetime": "2026-11-29T10:00:00",
            "benchmarks": [{"name": "test_x", "stats": {"data": rounds, "total": sum(rounds)}}],
        }
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data))
        return path

    runs = [import_benchmarks(bench_file(f"b{i}", 1 + i / 100), "s") for i in range(5)]
    assert runs[0].endpoints["BENCH test_x"].histogram.quantile(0.5) == pytest.approx(110, abs=1)
    runs = [
        replace(run, run_id=f"b{i}", started_at=f"2026-11-2{i}T10:00:00")
        for i, run in enumerate(runs)
    ]
    baseline = bless(runs, tmp_path / "baseline.json")
    assert load_baseline(tmp_path / "baseline.json") is not None
    slower = import_benchmarks(bench_file("slow", 1.5), "s")
    verdict = judge(slower, (), baseline, GatePolicy.from_profile(slower.profile))
    assert verdict.status == "fail"
    assert [c.outcome for c in verdict.of_kind("regression")] == ["regression"]


def test_corrupt_benchmark_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bench.json"
    bad.write_text('{"benchmarks": [{"name": "x", "stats": {}}]}')
    with pytest.raises(DataError, match=f"{bad}: not a pytest-benchmark JSON file"):
        import_benchmarks(bad, "s")
