"""The match-day mix for real: every user kind against the bundled SUT in short runs, the open
model against a stalling SUT, and the exact merge of histograms across --processes 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgate.config import Profile, load_target
from loadgate.runner import RunRequest, run

from .conftest import assert_merge_exact

pytestmark = pytest.mark.slow


def _run(tmp_path: Path, profile: Profile, faults: tuple[str, ...] = ()) -> RunRequest:
    return RunRequest(load_target("local"), profile, out_dir=tmp_path / "run", sut_faults=faults)


def test_every_user_kind_produces_its_entries_without_unexpected_failures(tmp_path: Path) -> None:
    profile = Profile(
        "mix",
        users=24,
        spawn_rate=24,
        warmup_s=4,
        duration_s=16,
        user_classes={"Bettor": 16, "Agent": 4, "OddsWatcher": 3},
        fixed_users={"Trader": 1},
        think_scale=0.25,  # a short run that still sees every task
    )
    result = run(_run(tmp_path, profile)).result
    expected = {
        "GET /markets", "GET /markets/[id]", "POST /bets", "GET /wallet", "GET /bets",  # Bettor
        "GET /agents/me/dashboard", "GET /agents/me/downline",  # Agent
        "POST /admin/markets/[id]/settle", "POST /admin/hierarchy/move",  # Trader
        "WS odds",  # OddsWatcher
    }  # fmt: skip
    assert expected <= set(result.endpoints), sorted(result.endpoints)
    for name, ep in result.endpoints.items():
        assert ep.failures == 0, (name, ep.failure_kinds)
    assert result.endpoints["WS odds"].histogram.count > 100
    assert result.status == "complete" and result.users_reached == 24
    assert result.audit is not None and result.audit["ok"], result.audit
    roles = {p.role: p for p in result.processes}
    assert {"sut", "generator"} <= set(roles)


def test_open_model_corrects_for_a_stalling_sut(tmp_path: Path) -> None:
    # two users take 100 arrivals/s; every 5 s the SUT stalls 400 ms: the two in flight see
    # it (under 1% of requests), the ~40 arrivals queued behind them only in corrected latency
    profile = Profile(
        "open",
        users=2,
        spawn_rate=10,
        warmup_s=5,
        duration_s=20,
        user_classes={"Bettor": 1},
        arrival_rate=100,
    )
    result = run(_run(tmp_path, profile, ("stall=5s/400ms",))).result
    assert result.arrivals is not None
    assert result.arrivals.intended >= 1900 and result.arrivals.dropped_fraction < 0.05
    seen: list[tuple[float, float]] = []
    for ep in result.endpoints.values():
        if ep.histogram.count < 300:
            continue
        assert ep.corrected is not None
        seen.append((ep.histogram.quantile(0.99) / 1000, ep.corrected.quantile(0.99) / 1000))
    assert seen
    for uncorrected, corrected in seen:
        assert corrected > 200 and corrected > 5 * uncorrected, seen


def test_two_processes_deliver_the_asked_rate_not_double(tmp_path: Path) -> None:
    """--processes 2 in the open model: each worker paces half of the asked rate, the master
    merges the intended arrivals, and the verdict checks them against rate x window."""
    from loadgate.verdict import judge

    profile = Profile(
        "open2", users=8, spawn_rate=8, warmup_s=3, duration_s=10,
        user_classes={"Bettor": 1}, arrival_rate=60, processes=2,
    )  # fmt: skip
    result = run(_run(tmp_path, profile)).result
    assert result.arrivals is not None
    due = 60 * result.window_s
    assert abs(result.arrivals.intended - due) <= 0.02 * due, (result.arrivals, result.window_s)
    check = next(c for c in judge(result, ()).checks if c.name == "arrival rate intended")
    assert check.status == "pass", check.message
    journeys = result.endpoints["JOURNEY arrival"]
    assert journeys.corrected is not None and journeys.histogram.count > 0.9 * due


def test_processes_2_merge_is_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = tmp_path / "samples"
    monkeypatch.setenv("LOADGATE_SAMPLES", str(prefix))
    profile = Profile(
        "merge",
        users=20,
        spawn_rate=20,
        warmup_s=3,
        duration_s=12,
        user_classes={"Bettor": 18, "OddsWatcher": 2},
        processes=2,
    )
    result = run(_run(tmp_path, profile)).result
    files = sorted(tmp_path.glob("samples.*.tsv"))
    assert len(files) == 2  # one per worker process, each recording its own share
    assert_merge_exact(result, files)
    workers = [p for p in result.processes if p.role.startswith("generator-")]
    assert len(workers) >= 2 and all(p.cpu_percent for p in workers)
