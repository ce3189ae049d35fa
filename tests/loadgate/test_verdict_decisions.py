"""Decisions of ``judge`` that mutation testing found unpinned: each test flips when one rule of
the verdict is changed (a budget dropped beside a baseline, the critical journeys' share of
alpha given to the others, a metric compared without an interval, a failed audit or an empty
arrival schedule passed). Oracles: the histogram's own intervals, Holm's weighted procedure
worked by hand, and the rule's numbers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from loadgate.baselines import Baseline, load_baseline
from loadgate.budgets import parse_budget
from loadgate.policy import GatePolicy
from loadgate.results import Arrivals
from loadgate.verdict import budget_checks, judge, validity_checks

from .test_verdict import BETS, _baseline_of, bets_slowed_to_p, lognormal_ms, make_result

OTHERS = ["GET /other/0", "GET /other/1"]
MEDIANS = [10.0, 10.3, 9.8, 10.1, 9.9]


def _blessed(tmp_path: Path, names: list[str], medians: list[float] = MEDIANS) -> Baseline:
    baseline = load_baseline(_baseline_of(tmp_path, names, medians))
    assert baseline is not None
    return baseline


def test_a_budget_is_judged_beside_a_baseline(tmp_path: Path) -> None:
    """A breached budget fails the run whether or not a baseline is given."""
    baseline = _blessed(tmp_path, [BETS])
    result = make_result({BETS: (lognormal_ms(10.0, 20_000, 3), 0)})
    budgets = [parse_budget(BETS, "p50 < 5ms")]
    v = judge(result, budgets, baseline)
    assert [c.status for c in v.of_kind("budget")] == ["fail"]
    assert v.status == "fail" and v.of_kind("regression")
    assert v.baseline == baseline.label


def test_a_baseline_without_runs_compares_nothing() -> None:
    result = make_result({BETS: (lognormal_ms(10.0, 5_000, 3), 0)})
    v = judge(result, [], Baseline("local", "smoke", []))
    assert v.of_kind("regression") == [] and v.status == "pass" and v.baseline is None


@pytest.mark.parametrize("confidence", [0.5, 0.999])
def test_the_policys_confidence_sets_the_budgets_interval(confidence: float) -> None:
    """A ceiling between the 50% and the 99.9% interval's lower ends: it fails at 50%
    confidence (the whole narrow interval lies above it) and only warns at 99.9%."""
    result = make_result({BETS: (lognormal_ms(10.0, 3_000, 5), 0)})
    hist = result.endpoints[BETS].histogram
    narrow, wide = (hist.quantile_interval(0.99, c) for c in (0.5, 0.999))
    assert narrow is not None and wide is not None and wide[0] < narrow[0]
    ceiling = (wide[0] + narrow[0]) / 2 / 1000
    budgets = [parse_budget(BETS, f"p99 < {ceiling:.4f}ms")]
    [check] = judge(result, budgets, None, GatePolicy(confidence=confidence)).of_kind("budget")
    assert check.status == ("fail" if confidence == 0.5 else "warn")


def test_the_critical_journeys_hold_most_of_alpha(tmp_path: Path) -> None:
    """POST /bets P50 rises with a p-value above plain Holm's first level (alpha / 9) but
    below the level a budgeted endpoint's metric gets (alpha x 0.8 / 3): a regression when
    POST /bets has a latency budget, inconclusive when no endpoint has one. (Two other
    endpoints are too few to take the run's speed out by: one test per metric.)"""
    names = [BETS, *OTHERS]
    baseline = _blessed(tmp_path, names)
    result = make_result(bets_slowed_to_p(baseline, names, 0.01 / 9 * 1.2, 0.01 * 0.8 / 3 * 0.8))
    budget = [parse_budget(BETS, "p99 < 10s")]

    def outcome(budgets: list[object]) -> str:
        v = judge(result, budgets, baseline)  # type: ignore[arg-type]
        [c] = [c for c in v.of_kind("regression") if c.name == f"{BETS} p50 vs baseline"]
        return str(c.outcome)

    assert outcome(budget) == "regression"
    assert outcome([]) == "inconclusive"


def test_a_quantile_without_an_interval_is_not_compared_though_blessed(tmp_path: Path) -> None:
    """60 requests give P50 an interval but not P99 (368 needed); a budget on P99 puts it among
    the judged quantiles all the same: it is said, not compared, though the baseline holds it."""
    baseline = _blessed(tmp_path, [BETS])
    result = make_result({BETS: (lognormal_ms(30.0, 60, 4), 0)})
    budgets = [parse_budget(BETS, "p99 < 10s")]
    checks = {c.name: c for c in judge(result, budgets, baseline).of_kind("regression")}
    assert "not compared" in checks[f"{BETS} p99 vs baseline"].message
    assert checks[f"{BETS} p50 vs baseline"].outcome == "regression"


def test_an_endpoint_new_to_the_baseline_leaves_the_others_compared(tmp_path: Path) -> None:
    baseline = _blessed(tmp_path, [BETS])
    result = make_result(
        {"GET /new": (lognormal_ms(5.0, 5_000, 2), 0), BETS: (lognormal_ms(30.0, 20_000, 3), 0)}
    )
    checks = {c.name: c for c in judge(result, [], baseline).of_kind("regression")}
    assert "not in the baseline" in checks["GET /new p50 vs baseline"].message
    assert checks[f"{BETS} p50 vs baseline"].outcome == "regression"


def test_a_failed_audit_makes_the_run_invalid_and_names_what_broke() -> None:
    audit = {
        "ok": False,
        "checks": [{"name": "money", "ok": True}, {"name": "one_bet", "ok": False}],
    }
    result = make_result({BETS: (lognormal_ms(10.0, 5_000, 3), 0)}, audit=audit)
    [check] = [c for c in validity_checks(result, []) if c.name == "SUT invariants"]
    assert check.status == "invalid"
    assert check.message == "The SUT's audit failed after the run: one_bet."
    held = make_result({BETS: (lognormal_ms(10.0, 5_000, 3), 0)}, audit={"ok": True, "checks": []})
    [check] = [c for c in validity_checks(held, []) if c.name == "SUT invariants"]
    assert check.status == "pass"
    assert judge(result, []).status == "invalid"


@pytest.mark.parametrize(("intended", "status"), [(0, "invalid"), (1, "pass")])
def test_at_a_rate_of_one_arrival_per_window_none_is_not_delivered(
    intended: int, status: str
) -> None:
    """0.02/s over 50 s: one arrival is due. None intended is no load at all (both checks
    fail), though it is within the few arrivals of slack a schedule may miss."""
    result = make_result({BETS: (lognormal_ms(10.0, 100, 3), 0)})
    result = replace(result, arrivals=Arrivals(rate=0.02, intended=intended, dropped=0))
    checks = {c.name: c for c in validity_checks(result, [])}
    assert checks["arrival rate intended"].status == status
    assert checks["arrival rate delivered"].status == status
    assert checks["arrival rate intended"].value == pytest.approx(intended / 50.0)


def test_samples_are_checked_for_each_budget_after_a_wildcard() -> None:
    result = make_result({BETS: (lognormal_ms(10.0, 5_000, 3), 0)})
    budgets = [parse_budget("*", "errors < 1%"), parse_budget("GET /gone", "p95 < 10ms")]
    [check] = [c for c in validity_checks(result, budgets) if c.name.endswith("samples for p95")]
    assert check.status == "invalid" and check.value == 0 and check.threshold == 72


def test_a_budget_judged_without_the_generators_delay_loses_it_from_value_and_interval() -> None:
    """The delay comes off the estimate and both ends of its interval, never below zero."""
    result = make_result({BETS: (lognormal_ms(10.0, 5_000, 3), 0)})
    budgets = [parse_budget(BETS, "p99 < 60ms")]
    hist = result.endpoints[BETS].histogram
    p99 = hist.quantile(0.99) / 1000
    interval = hist.quantile_interval(0.99, 0.95)
    assert interval is not None
    [raw] = budget_checks(result, budgets)
    [less] = budget_checks(result, budgets, less={(BETS, 0.99): 5.0})
    assert raw.value == pytest.approx(p99) and less.value == pytest.approx(p99 - 5.0)
    assert less.interval == pytest.approx((interval[0] / 1000 - 5.0, interval[1] / 1000 - 5.0))
    [floor] = budget_checks(result, budgets, less={(BETS, 0.99): 1e6})
    assert floor.value == 0.0 and floor.interval == (0.0, 0.0) and floor.status == "pass"
