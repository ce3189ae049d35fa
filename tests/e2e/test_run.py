"""The main job end to end: `loadgate run` starts the bundled SUT, loads it with Locust in a
subprocess, and writes a result, a verdict and the reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadgate.results import read_result

from .conftest import SHORT, leftovers, loadgate

pytestmark = pytest.mark.slow


def test_smoke_run_passes_and_writes_every_file(out_dir: Path) -> None:
    proc = loadgate(
        "run", "--target", "local", "--scenario", "smoke", "--out", str(out_dir), *SHORT
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("result.json", "report.html", "summary.md", "junit.xml", "sut.log", "locust.log"):
        assert (out_dir / name).is_file(), name
    result = read_result(out_dir / "result.json")
    assert result.status == "complete"
    assert result.users_reached == 60
    assert {"POST /bets", "GET /markets", "GET /markets/[id]", "GET /wallet"} <= set(
        result.endpoints
    )
    bets = result.endpoints["POST /bets"]
    assert bets.histogram.count >= 368 and bets.failures == 0
    assert 0 < bets.quantile_ms(0.5) <= bets.quantile_ms(0.99) < 1000
    assert result.audit is not None and result.audit["ok"] is True
    assert 24 <= result.window_s <= 25.5
    # the warm-up is in the timeline but not in the window
    assert len(result.timeline.seconds) >= 30
    assert {p.role for p in result.processes} == {"sut", "generator"}
    assert "PASS" in proc.stdout and str(out_dir / "report.html") in proc.stderr
    assert "PASS" in (out_dir / "report.html").read_text()
    assert leftovers(str(out_dir.parent)) == []  # SUT and Locust are gone


def test_injected_latency_on_bets_fails_the_gate_naming_the_endpoint(out_dir: Path) -> None:
    proc = loadgate(
        "run", "--out", str(out_dir), *SHORT, "--no-baseline", "--fault", "latency:POST /bets=120ms"
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL" in proc.stdout
    failing = [line for line in proc.stdout.splitlines() if "[fail]" in line]
    # other endpoints may breach too on a busy shared machine; bet placement must, by name
    assert any("POST /bets p95" in line and "above its" in line for line in failing), proc.stdout
    headline = next(line for line in proc.stdout.splitlines() if line.startswith("FAIL:"))
    assert "POST /bets" in headline
    result = json.loads((out_dir / "result.json").read_text())
    assert result["environment"]["sut_faults"] == ["latency:POST /bets=120ms"]
    assert result["endpoints"]["POST /bets"]["summary"]["p50_ms"] >= 120
