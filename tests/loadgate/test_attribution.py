"""The generator-delay validity rule and the time-accounted-for check, on synthetic results."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from loadgate.attribution import (
    DELAY_FLOOR_MS,
    DELAY_SHARE,
    Attribution,
    generator_checks,
    late_stretches,
)
from loadgate.budgets import parse_budget
from loadgate.histogram import LatencyHistogram
from loadgate.results import GeneratorHealth, RunResult
from loadgate.verdict import judge

from .test_verdict import BETS, lognormal_ms, make_result

QUANTILES = (0.5, 0.95, 0.99)


def _gen(
    lag_p99: list[float],
    cpu: float = 40.0,
    wait: float = 0.0,
    t0: int = 0,
    per_wake: float = 0.01,
    steal: float = 0.0,
) -> GeneratorHealth:
    t = list(range(t0, t0 + len(lag_p99)))
    return GeneratorHealth(
        ident="vm:42",
        role="local",
        lag=LatencyHistogram.of([100] * 100),
        t=t,
        lag_p50_ms=[0.05] * len(t),
        lag_p99_ms=lag_p99,
        lag_max_ms=[v * 1.5 for v in lag_p99],
        cpu_percent=[cpu] * len(t),
        cpu_wait_percent=[wait] * len(t),
        wake_wait_ms=[per_wake] * len(t),
        steal_percent=[steal] * len(t),
    )


def _run(client_ms: float, delay: np.ndarray, server_ms: float | None = None) -> RunResult:
    result = make_result({BETS: (lognormal_ms(client_ms, 20_000, 1, sigma=0.3), 0)})
    ep = result.endpoints[BETS]
    ep.delay = LatencyHistogram.of(delay)
    if server_ms is not None:
        ep.server = LatencyHistogram.of(lognormal_ms(server_ms, 20_000, 2, sigma=0.3))
    return result


def _check(result: RunResult, name: str = "generator kept up") -> object:
    return next(c for c in generator_checks(result, [], QUANTILES) if c.name == name)


def test_a_generator_delay_under_the_floor_or_the_share_keeps_the_run_valid() -> None:
    quiet = _run(2.0, np.full(20_000, 400))  # 0.4 ms: a fifth of 2 ms, but under 1 ms
    quiet = replace(quiet, generators=[_gen([0.5] * 60)])
    check = _check(quiet)
    assert check.status == "pass"  # type: ignore[attr-defined]
    slow_sut = _run(200.0, np.full(20_000, 5_000))  # 5 ms of 200 ms: 2.5%, under 10%
    slow_sut = replace(slow_sut, generators=[_gen([6.0] * 60)])
    assert _check(slow_sut).status == "pass"  # type: ignore[attr-defined]


def test_a_material_generator_delay_makes_the_run_invalid_and_says_where_and_why() -> None:
    rng = np.random.default_rng(3)
    delay = np.concatenate([np.full(16_000, 200), rng.uniform(3_000, 9_000, 4_000).astype(int)])
    result = _run(8.0, delay)
    lags = [0.3] * 60
    lags[30:45] = [8.0] * 15  # late from 30 s to 44 s
    result = replace(result, generators=[_gen(lags, cpu=35.0, wait=60.0)])
    # P95 is about 13 ms, of which the generator's delay is about 7.5 ms: the budget fails as
    # measured and would pass without that delay, so the failure rests on the generator
    verdict = judge(result, [parse_budget(BETS, "p95 < 10ms")])
    check = next(c for c in verdict.checks if c.name == "generator kept up")
    assert verdict.status == "invalid" and check.status == "invalid"
    assert f"{BETS} p95 is" in check.message and "generator's delay could be" in check.message
    assert "for 15 s from 30 s into the run" in check.message
    assert "waited for a CPU 60% of that time" in check.message
    assert "other processes took its core" in check.message
    assert f"with that delay taken out, {BETS} p95 < 10.0 ms would pass" in check.message


def test_a_late_generator_no_decision_rests_on_is_a_warning() -> None:
    """The same delay, but every decision is the same without it: a 50 ms budget holds either
    way, so the run stands and the check says why."""
    rng = np.random.default_rng(3)
    delay = np.concatenate([np.full(16_000, 200), rng.uniform(3_000, 9_000, 4_000).astype(int)])
    result = _run(8.0, delay)
    result = replace(result, generators=[_gen([8.0] * 60, cpu=35.0, wait=60.0)])
    verdict = judge(result, [parse_budget(BETS, "p95 < 50ms")])
    check = next(c for c in verdict.checks if c.name == "generator kept up")
    assert (verdict.status, check.status) == ("pass", "warn")
    assert "No decision rests on it" in check.message
    # without the re-judgement (as each A/B run is checked) it stays invalid
    assert _check(result).status == "invalid"  # type: ignore[attr-defined]


def test_a_regression_that_rests_on_the_generator_makes_the_run_invalid() -> None:
    """Five blessed runs of a 5 ms endpoint; the new run is 8 ms, of which 6 ms is the
    generator's delay: a regression as measured at every quantile, none without the delay."""
    from loadgate.baselines import Baseline, run_of

    blessed = [
        make_result({BETS: (lognormal_ms(m, 20_000, 10 + i, sigma=0.3), 0)}, run_id=f"b{i}")
        for i, m in enumerate([5.0, 5.2, 4.9, 5.1, 4.95])
    ]
    baseline = Baseline("local", "smoke", [run_of(r) for r in blessed])
    result = _run(8.0, np.full(20_000, 6_000))
    result = replace(result, generators=[_gen([5.0] * 60)])
    verdict = judge(result, [], baseline)
    check = next(c for c in verdict.checks if c.name == "generator kept up")
    assert (verdict.status, check.status) == ("invalid", "invalid"), check.message
    assert f"{BETS} p50 vs baseline would pass" in check.message


def test_a_busy_generator_is_told_apart_from_a_starved_one() -> None:
    result = _run(8.0, np.full(20_000, 4_000))
    result = replace(result, generators=[_gen([5.0] * 60, cpu=97.0, wait=1.0)])
    check = _check(result)
    assert check.status == "invalid"  # type: ignore[attr-defined]
    assert "its own work was more than it could do" in check.message  # type: ignore[attr-defined]


def test_the_rule_is_at_the_floor_and_the_share_exactly() -> None:
    at = Attribution(BETS, 0.95, client_ms=10.0, server_ms=None, delay_ms=DELAY_FLOOR_MS)
    assert at.delay_material  # 1 ms is 10% of 10 ms: both limits reached
    under_share = Attribution(BETS, 0.95, 10.01 / DELAY_SHARE, None, 10.0)
    assert not under_share.delay_material
    under_floor = Attribution(BETS, 0.5, 0.5, None, 0.99)
    assert not under_floor.delay_material


def test_budgeted_quantiles_are_judged_even_with_few_samples() -> None:
    result = make_result({BETS: (lognormal_ms(100, 50, 1), 0)})  # too few for gating P99
    result.endpoints[BETS].delay = LatencyHistogram.of([100] * 48 + [60_000] * 2)
    result = replace(result, generators=[_gen([9.0] * 60)])
    assert _check(result).status == "pass"  # type: ignore[attr-defined]
    checks = generator_checks(result, [parse_budget(BETS, "p99 < 50ms")], QUANTILES)
    assert checks[0].status == "invalid"


def test_late_stretches_are_runs_of_seconds_inside_the_window() -> None:
    gen = _gen([0.1, 9, 9, 0.1, 9, 9, 9, 0.1, 9, 9])
    assert late_stretches(gen, 2.0, 9.0, 5.0) == [(2, 2), (4, 6), (8, 8)]


def test_time_outside_the_server_and_the_generator_is_named() -> None:
    far = _run(50.0, np.full(20_000, 300), server_ms=2.0)
    far = replace(far, generators=[_gen([0.5] * 60)])
    check = _check(far, "time accounted for")
    assert check.status == "warn"  # type: ignore[attr-defined]
    assert f"{BETS} p95 is" in check.message  # type: ignore[attr-defined]
    assert "accept queue" in check.message  # type: ignore[attr-defined]
    near = _run(5.0, np.full(20_000, 300), server_ms=4.0)
    near = replace(near, generators=[_gen([0.5] * 60)])
    assert _check(near, "time accounted for").status == "pass"  # type: ignore[attr-defined]


def test_without_server_timing_there_is_nothing_to_account_for() -> None:
    result = _run(5.0, np.full(20_000, 300))
    result = replace(result, generators=[_gen([0.5] * 60)])
    assert [c.name for c in generator_checks(result, [], QUANTILES)] == ["generator kept up"]


def test_without_the_generators_own_figures_the_cpu_rule_stands_in() -> None:
    result = _run(5.0, np.full(20_000, 300))
    names = [c.name for c in generator_checks(result, [], QUANTILES)]
    assert names == []  # no CPU samples either: nothing to say


def test_a_mostly_idle_generator_starved_at_each_wake_up_is_named_so() -> None:
    """Little CPU wait in all, but a time slice's wait every time it woke: other processes."""
    result = _run(3.0, np.full(20_000, 2_800))
    result = replace(result, generators=[_gen([3.0] * 60, cpu=3.0, wait=2.0, per_wake=2.4)])
    check = _check(result)
    assert check.status == "invalid"  # type: ignore[attr-defined]
    assert "each time it woke it waited 2.400 ms on average for a CPU" in check.message  # type: ignore[attr-defined]
    assert "other processes shared its core" in check.message  # type: ignore[attr-defined]


def test_a_generator_whose_host_took_its_cpu_is_named_so() -> None:
    """Low CPU, no wait for a CPU here, yet late: the virtual machine's host ran something else
    on its CPUs (steal time), which neither the process nor its neighbours explain."""
    result = _run(3.0, np.full(20_000, 2_800))
    result = replace(
        result, generators=[_gen([3.0] * 60, cpu=8.0, wait=0.5, per_wake=0.01, steal=12.0)]
    )
    check = _check(result)
    assert check.status == "invalid"  # type: ignore[attr-defined]
    assert "the host took its CPU away for 12% of that time (steal time" in check.message  # type: ignore[attr-defined]
    calm = _run(3.0, np.full(20_000, 2_800))
    calm = replace(calm, generators=[_gen([3.0] * 60, cpu=8.0, wait=0.5, per_wake=0.01, steal=1.0)])
    assert "steal" not in _check(calm).message  # type: ignore[attr-defined]


def test_a_delay_the_blessed_runs_met_too_is_taken_out_of_them_as_well(tmp_path: Path) -> None:
    """The blessed runs met the same 4 ms generator delay as the new run, and the baseline file
    keeps it: judged again without the delay on both sides, nothing changes, so the run
    stands (a warning, not invalid)."""
    from loadgate.baselines import bless, load_baseline

    blessed = []
    for i, m in enumerate([8.0, 8.2, 7.9, 8.1, 7.95]):
        run = _run(m, np.full(20_000, 4_000))
        blessed.append(replace(run, run_id=f"b{i}", started_at=f"2026-11-2{i}T10:00:00+00:00"))
    path = tmp_path / "baseline.json"
    bless(blessed, path)
    baseline = load_baseline(path)
    assert baseline is not None
    assert baseline.delays(BETS, 0.5) == pytest.approx([4.0] * 5, rel=0.01)  # kept in the file
    result = _run(8.05, np.full(20_000, 4_000))
    result = replace(result, generators=[_gen([5.0] * 60)])
    verdict = judge(result, [], baseline)
    check = next(c for c in verdict.checks if c.name == "generator kept up")
    assert (verdict.status, check.status) == ("pass", "warn"), check.message


def test_a_decision_that_rests_on_the_delay_beside_a_failure_that_does_not_is_a_warning() -> None:
    """The 10 ms budget fails only with the generator's delay, the 4 ms one fails either way:
    the run fails whatever the generator did, so it is not thrown away; the check names the
    decision that would change."""
    rng = np.random.default_rng(3)
    delay = np.concatenate([np.full(16_000, 200), rng.uniform(3_000, 9_000, 4_000).astype(int)])
    result = _run(8.0, delay)
    result = replace(result, generators=[_gen([8.0] * 60, cpu=35.0, wait=60.0)])
    budgets = [parse_budget(BETS, "p95 < 10ms"), parse_budget(BETS, "p95 < 4ms")]
    verdict = judge(result, budgets)
    check = next(c for c in verdict.checks if c.name == "generator kept up")
    assert (verdict.status, check.status) == ("fail", "warn"), check.message
    assert f"{BETS} p95 < 10.0 ms would pass, but the verdict would be the same" in check.message
