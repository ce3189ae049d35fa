"""The baseline and compare commands, through the real CLI on stored files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from loadgate.histogram import LatencyHistogram
from loadgate.results import EndpointResult, RunResult, Timeline, write_result

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loadgate.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def stored_result(path: Path, run_id: str, median_ms: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    samples = np.round(rng.lognormal(np.log(median_ms * 1000), 0.3, 5_000)).astype(int)
    result = RunResult(
        run_id=run_id, target="local", scenario="smoke", profile={"budgets": []},
        started_at=f"2026-11-2{seed % 10}T10:00:00+00:00", t0=0.0, warmup_s=0.0, window_s=50.0,
        status="complete",
        endpoints={"POST /bets": EndpointResult("POST /bets", LatencyHistogram.of(samples))},
        timeline=Timeline(), users_target=1, users_reached=1,
        environment={"machine": {"cpu_model": "x"}, "git_commit": "abcdef1234"},
    )  # fmt: skip
    write_result(path, result)
    return path


def test_bless_show_history_compare(tmp_path: Path) -> None:
    runs = [
        stored_result(tmp_path / f"r{i}.json", f"r{i}", m, i)
        for i, m in enumerate([10, 10.4, 9.7, 10.1, 9.9, 10.2])
    ]
    baseline = tmp_path / "smoke.json"
    blessed = cli("baseline", "bless", *map(str, runs), "--keep", "5", "--to", str(baseline))
    assert blessed.returncode == 0, blessed.stderr
    assert "baseline of 2026-11-25 (5 runs), keeping the last 5" in blessed.stderr
    shown = cli("baseline", "show", "--file", str(baseline))
    assert shown.returncode == 0 and "POST /bets" in shown.stdout and "±" in shown.stdout
    history = cli("baseline", "history", "--file", str(baseline))
    assert history.returncode == 0
    assert history.stdout.count("abcdef12") == 5 and "r0" not in history.stdout.split()
    slow = stored_result(tmp_path / "slow.json", "slow", 14, 9)
    assert cli("compare", str(baseline), str(runs[0])).returncode == 0
    failed = cli("compare", str(baseline), str(slow))
    assert failed.returncode == 1
    assert "POST /bets" in failed.stdout and "regression" in failed.stdout


def test_show_without_a_baseline_says_how_to_make_one(tmp_path: Path) -> None:
    proc = cli("baseline", "show", "--file", str(tmp_path / "none.json"))
    assert proc.returncode == 2
    assert "no baseline yet; bless one with 'loadgate baseline bless'" in proc.stderr


def test_gate_is_the_run_command_under_its_ci_name() -> None:
    gate, run = cli("gate", "--help"), cli("run", "--help")
    assert gate.returncode == run.returncode == 0
    assert gate.stdout.replace("loadgate gate", "loadgate run") == run.stdout
    assert "gate " in cli("--help").stdout
