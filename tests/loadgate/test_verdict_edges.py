"""The verdict's decisions at their edges: a check that is off by one in its comparison, or
reads the wrong field of a policy, flips one of these. Each edge is placed exactly on the
boundary the rule names (95% of the users, 5% dropped, 72 samples for P95, the interval's
lower end at the ceiling, an error rate equal to its budget)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from loadgate.baselines import bless
from loadgate.budgets import parse_budget
from loadgate.policy import GatePolicy
from loadgate.results import Arrivals, RunResult
from loadgate.verdict import budget_checks, judge, validity_checks

from .test_verdict import BETS, make_result


def _result(
    samples_us: Sequence[int] | np.ndarray,
    failures: int = 0,
    users: tuple[int, int] = (100, 100),
) -> RunResult:
    """One endpoint, POST /bets, of the samples and failures given (the verdict tests' run)."""
    return make_result({BETS: (np.asarray(samples_us, dtype=int), failures)}, users=users)


def _check(result: RunResult, name: str, budgets: Sequence[object] = ()) -> tuple[str, str]:
    check = next(c for c in validity_checks(result, budgets) if c.name == name)  # type: ignore[arg-type]
    return check.status, check.message


def _spread_us(n: int, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).integers(5_000, 15_000, n)


@pytest.mark.parametrize(("reached", "status"), [(95, "pass"), (94, "invalid"), (100, "pass")])
def test_load_delivered_needs_95_percent_of_the_users(reached: int, status: str) -> None:
    got, message = _check(_result(_spread_us(500), users=(100, reached)), "load delivered")
    assert got == status, message
    assert message.startswith(f"{reached} of 100 users were reached")
    assert message.endswith("." if status == "pass" else "short of the 95 needed.")


@pytest.mark.parametrize(
    ("dropped", "status"), [(0, "pass"), (125, "pass"), (126, "invalid"), (2500, "invalid")]
)
def test_up_to_5_percent_of_arrivals_may_be_given_up(dropped: int, status: str) -> None:
    """2,500 arrivals: 125 given up is exactly 5% (still delivered), 126 is not."""
    result = _result(_spread_us(500))
    result = replace(result, arrivals=Arrivals(rate=50.0, intended=2500, dropped=dropped))
    got, message = _check(result, "arrival rate delivered")
    assert got == status, message
    assert f"{dropped} of 2500 arrivals at 50/s" in message


@pytest.mark.parametrize(
    ("intended", "status"),
    [(2450, "pass"), (2449, "invalid"), (2550, "pass"), (2551, "invalid"), (0, "invalid")],
)
def test_the_intended_arrivals_may_miss_rate_times_window_by_2_percent(
    intended: int, status: str
) -> None:
    """50/s over 50 s is 2,500 due; the slack is 2% of that (50 arrivals), either way."""
    result = _result(_spread_us(500))
    result = replace(result, arrivals=Arrivals(rate=50.0, intended=intended, dropped=0))
    got, message = _check(result, "arrival rate intended")
    assert got == status, message
    if status == "invalid":
        assert "2500 were due; the rate was not what was asked." in message


def test_a_few_arrivals_per_generator_are_always_allowed() -> None:
    """At 0.1/s, 5 arrivals are due: 2% of that is nothing, but a schedule that starts a
    generator a tick early or late shifts its count by one or two, which is not a wrong rate."""
    result = _result(_spread_us(500))
    result = replace(result, arrivals=Arrivals(rate=0.1, intended=7, dropped=0))
    assert _check(result, "arrival rate intended")[0] == "pass"
    result = replace(result, arrivals=Arrivals(rate=0.1, intended=8, dropped=0))
    assert _check(result, "arrival rate intended")[0] == "invalid"


@pytest.mark.parametrize(("n", "status"), [(72, "pass"), (71, "invalid")])
def test_a_p95_budget_needs_72_samples(n: int, status: str) -> None:
    budget = parse_budget(BETS, "p95 < 1s")
    got, message = _check(_result(_spread_us(n)), f"{BETS} samples for p95", [budget])
    assert got == status, message
    if status == "invalid":
        assert message == f"{BETS} has only 71 samples; its p95 budget needs at least 72."


def test_a_budgeted_endpoint_with_no_requests_is_invalid() -> None:
    budget = parse_budget("GET /wallet", "p99 < 1s")
    got, message = _check(_result(_spread_us(500)), "GET /wallet samples for p99", [budget])
    assert (got, message) == (
        "invalid",
        "GET /wallet has no requests recorded; its p99 budget needs at least 368.",
    )


def test_wildcard_and_error_budgets_need_no_samples_check() -> None:
    budgets = [parse_budget("*", "p99 < 1s"), parse_budget(BETS, "errors < 1%")]
    names = [c.name for c in validity_checks(_result(_spread_us(10)), budgets)]
    assert not [n for n in names if "samples for" in n]


def _interval_ms(result: RunResult, q: float) -> tuple[float, float, float]:
    hist = result.endpoints[BETS].gated
    interval = hist.quantile_interval(q)
    assert interval is not None
    return interval[0] / 1000, hist.quantile(q) / 1000, interval[1] / 1000


def _budget_status(result: RunResult, expression: str) -> str:
    (check,) = budget_checks(result, [parse_budget(BETS, expression)])
    return check.status


def test_a_latency_budget_fails_only_when_the_whole_interval_is_above_it() -> None:
    result = _result(_spread_us(2_000))
    low, point, high = _interval_ms(result, 0.95)
    assert low < point < high
    # the interval's lower end exactly at the ceiling: not above it, the estimate is: warn
    assert _budget_status(result, f"p95 < {low}ms") == "warn"
    assert _budget_status(result, f"p95 < {low * 0.999}ms") == "fail"
    # the estimate exactly at the ceiling is within it
    assert _budget_status(result, f"p95 < {point}ms") == "pass"
    assert _budget_status(result, f"p95 < {point * 0.999}ms") == "warn"


def test_a_budget_check_reports_the_estimate_and_its_interval() -> None:
    result = _result(_spread_us(2_000))
    low, point, high = _interval_ms(result, 0.99)
    (check,) = budget_checks(result, [parse_budget(BETS, "p99 < 1s")])
    assert check.value == pytest.approx(point)
    assert check.interval == pytest.approx((low, high))
    assert check.threshold == pytest.approx(1000.0)  # ms


@pytest.mark.parametrize(
    ("failures", "status"), [(0, "pass"), (10, "pass"), (11, "warn"), (30, "fail")]
)
def test_an_error_budget_at_its_limit_holds(failures: int, status: str) -> None:
    """1% of 1,000 requests is 10 failures: exactly the budget, which holds; 11 is above the
    estimate but inside the noise (Wilson interval); 30 is above the interval."""
    result = _result(_spread_us(1_000 - failures), failures=failures)
    (check,) = budget_checks(result, [parse_budget(BETS, "errors < 1%")])
    assert check.status == status, check.message
    assert check.value == pytest.approx(failures / 1000)


def test_an_endpoint_with_no_requests_gets_no_error_budget_check() -> None:
    result = _result([], failures=0)
    assert budget_checks(result, [parse_budget(BETS, "errors < 1%")]) == []


def test_the_policy_is_read_from_every_field_of_a_profile() -> None:
    profile = {
        "min_effect": 0.2,
        "min_effects": {BETS: 0.05},
        "alpha": 0.05,
        "confidence": 0.9,
        "quantiles": [0.5, 0.999],
        "max_detectable": 0.3,
        "critical_share": 0.6,
    }
    policy = GatePolicy.from_profile(profile, force_compare=True)
    assert policy == GatePolicy(
        min_effect=0.2,
        min_effects={BETS: 0.05},
        alpha=0.05,
        confidence=0.9,
        quantiles=(0.5, 0.999),
        force_compare=True,
        max_detectable=0.3,
        critical_share=0.6,
    )
    assert policy.effect_for(BETS) == 0.05
    assert policy.effect_for("GET /wallet") == 0.2
    assert GatePolicy.from_profile(policy.to_dict(), force_compare=True) == policy


def test_an_empty_profile_gives_the_default_policy() -> None:
    assert GatePolicy.from_profile({}) == GatePolicy()
    assert GatePolicy.from_profile({"quantiles": []}) == GatePolicy()


def test_a_policy_names_what_differs_from_an_earlier_one() -> None:
    now, earlier = GatePolicy(alpha=0.01), GatePolicy(alpha=0.05, min_effect=0.2)
    assert now.differences(earlier) == ["min_effect 0.2 (now 0.1)", "alpha 0.05 (now 0.01)"]
    assert now.differences(now) == []


def test_judge_uses_the_policy_it_is_given(tmp_path: Path) -> None:
    """A run 30% slower than a steady baseline of five runs: a regression at the default
    min_effect of 10%, a pass when the policy asks for 40%."""
    rng = np.random.default_rng(3)

    def run(scale: float, run_id: str) -> RunResult:
        r = _result(np.round(rng.lognormal(np.log(10_000 * scale), 0.05, 20_000)).astype(int))
        return replace(r, run_id=run_id)

    steady = [run(s, f"b{i}") for i, s in enumerate((1.0, 1.01, 0.99, 1.005, 0.995))]
    baseline = bless(steady, tmp_path / "baseline.json")
    slower = run(1.3, "head")

    def bets_p50(policy: GatePolicy) -> str:
        verdict = judge(slower, [], baseline, policy)
        checks = verdict.of_kind("regression")
        return next(c.outcome for c in checks if c.endpoint == BETS and "p50" in c.name)

    assert bets_p50(GatePolicy()) == "regression"
    assert bets_p50(GatePolicy(min_effect=0.4)) == "pass"
    assert bets_p50(GatePolicy(min_effects={BETS: 0.4})) == "pass"
