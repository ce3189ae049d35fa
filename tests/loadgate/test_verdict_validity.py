"""The verdict's validity part and how it is put together: each validity finding filed under
validity with its status, the arrival-rate slack per generator, an audit that names nothing,
an empty baseline, the policy's confidence (also when the run is judged again without the
generator's delay), and a passing verdict's headline naming its first warning.

Every expected outcome comes from the rule the verdict documents, placed at its boundary:
2 arrivals of slack per generator (or 2% of those due), 95% of the users and at most 5% of
the arrivals dropped, 368 samples for a P99 interval (the fewest n with 0.99**n <= 0.025),
and a budget that fails only when its whole interval, at the policy's confidence, is above
the ceiling."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from loadgate.baselines import Baseline, bless
from loadgate.budgets import Budget, parse_budget
from loadgate.checks import Check
from loadgate.histogram import LatencyHistogram
from loadgate.policy import GatePolicy
from loadgate.results import Arrivals, GeneratorHealth, RunResult
from loadgate.verdict import judge, validity_checks

from .test_verdict import BETS, lognormal_ms, make_result

VALIDITY_NAMES = (
    "run completed",
    "load delivered",
    "arrival rate intended",
    "arrival rate delivered",
    "SUT invariants",
    f"{BETS} samples for p95",
)


def _run(n: int = 5_000, seed: int = 11, **kwargs: Any) -> RunResult:
    """POST /bets with ``n`` log-normal latencies of a 10 ms median, nothing else."""
    return make_result({BETS: (lognormal_ms(10, n, seed), 0)}, **kwargs)


def _validity(result: RunResult, budgets: Sequence[Budget] = ()) -> dict[str, Check]:
    return {c.name: c for c in validity_checks(result, budgets)}


def _late(result: RunResult, delay_ms: float) -> RunResult:
    """The run with one load generator whose own delay was ``delay_ms`` for every request of
    POST /bets: material at every quantile of a 10 ms median (at least 2 ms and 10%)."""
    delay_us = round(delay_ms * 1000)
    ep = result.endpoints[BETS]
    delayed = replace(ep, delay=LatencyHistogram.of([delay_us] * ep.histogram.count))
    generator = GeneratorHealth("ci:1", "local", LatencyHistogram.of([delay_us]))
    return replace(result, endpoints={BETS: delayed}, generators=[generator])


def _baseline(tmp_path: Path, runs: int = 3) -> Baseline:
    """Blessed runs of the same code as :func:`_run` (10 ms median), each of its own seed."""
    blessed = [
        _run(2_000, 20 + i, run_id=f"b{i}", started_at=f"2026-11-2{i}T10:00:00+00:00")
        for i in range(runs)
    ]
    return bless(blessed, tmp_path / "baseline.json")


def _p99_lows_ms(result: RunResult) -> tuple[float, float, float]:
    """The lower ends of the P99's 95% and 99% intervals and the estimate, in ms."""
    hist = result.endpoints[BETS].histogram
    low95 = (hist.quantile_interval(0.99, 0.95) or (0, 0))[0] / 1000
    low99 = (hist.quantile_interval(0.99, 0.99) or (0, 0))[0] / 1000
    point = hist.quantile(0.99) / 1000
    # a wider interval reaches lower; the gap is far above the 1 µs a budget is written to
    assert low99 < low95 - 0.1 < point
    return low95, low99, point


# --- each validity finding: its status, filed under validity ----------------------------------
@pytest.mark.parametrize("sound", [True, False])
def test_every_validity_finding_is_filed_under_validity_with_its_status(sound: bool) -> None:
    """A sound run passes every validity check; a broken one (stopped early, 30 of 50 users,
    a fifth of the arrivals intended and half of them dropped, a failed audit, a budgeted
    endpoint with no requests) fails every one; either way each is a validity check."""
    if sound:
        audit = {"ok": True, "checks": [{"name": "money", "ok": True}]}
        result = _run(500, users=(50, 50), audit=audit)
        result = replace(result, arrivals=Arrivals(rate=50.0, intended=2500, dropped=0))
        budget = parse_budget(BETS, "p95 < 1s")
    else:
        result = _run(
            500,
            users=(50, 30),
            status="incomplete",
            audit={"ok": False, "checks": [{"name": "money", "ok": False}]},
        )
        result = replace(result, arrivals=Arrivals(rate=50.0, intended=500, dropped=250))
        budget = parse_budget("GET /gone", "p95 < 1s")
    verdict = judge(result, [budget])
    found = {c.name: c.status for c in verdict.of_kind("validity")}
    names = [n.replace(BETS, budget.endpoint) for n in VALIDITY_NAMES]
    assert found == dict.fromkeys(names, "pass" if sound else "invalid")
    assert (verdict.status, verdict.exit_code) == (("pass", 0) if sound else ("invalid", 4))


# --- the SUT's audit ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("audit", "status", "message"),
    [
        (
            {"ok": True, "checks": [{"name": "money", "ok": True}]},
            "pass",
            "The SUT's audit held after the run.",
        ),
        (
            {"ok": False, "checks": [{"name": "money", "ok": True}, {"ok": False}]},
            "invalid",
            "The SUT's audit failed after the run: ?.",
        ),
        ({"ok": False}, "invalid", "The SUT's audit failed after the run: not ok."),
    ],
    ids=["held", "unnamed-check-broke", "no-checks-listed"],
)
def test_an_audit_is_judged_by_its_ok_even_when_it_names_nothing(
    audit: dict[str, object], status: str, message: str
) -> None:
    """The audit's own ``ok`` decides; a broken check without a name is named "?", and an
    audit that lists no checks says "not ok". A failed audit is the verdict's headline."""
    verdict = judge(_run(500, audit=audit), [])
    [check] = [c for c in verdict.checks if c.name == "SUT invariants"]
    assert (check.kind, check.status, check.message) == ("validity", status, message)
    if status == "pass":
        assert (verdict.status, verdict.exit_code) == ("pass", 0)
    else:
        assert (verdict.status, verdict.exit_code, verdict.headline) == ("invalid", 4, message)


# --- the arrivals -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("generators", "intended", "status"),
    [(2, 9, "pass"), (2, 10, "invalid"), (2, 1, "pass"), (3, 11, "pass"), (3, 12, "invalid")],
)
def test_each_generator_adds_two_arrivals_of_slack(
    generators: int, intended: int, status: str
) -> None:
    """0.1/s over the 50 s window is 5 arrivals due; 2% of that is nothing, so the slack is
    2 arrivals per generator: 4 with two generators (1 to 9 pass), 6 with three (up to 11)."""
    result = _run(500)
    workers = [
        GeneratorHealth(f"ci:{k}", "worker", LatencyHistogram.of([100])) for k in range(generators)
    ]
    result = replace(
        result, generators=workers, arrivals=Arrivals(rate=0.1, intended=intended, dropped=0)
    )
    check = _validity(result)["arrival rate intended"]
    assert check.status == status, check.message


@pytest.mark.parametrize(("intended", "status"), [(0, "invalid"), (1, "pass"), (2, "pass")])
def test_nothing_intended_is_no_load_even_within_the_slack(intended: int, status: str) -> None:
    """0.04/s over 50 s: 2 arrivals are due and the slack is 2, so 0 is within it; but none
    intended is no load at all, and both arrival checks say so. One or two is a load."""
    result = replace(_run(500), arrivals=Arrivals(rate=0.04, intended=intended, dropped=0))
    checks = _validity(result)
    assert checks["arrival rate intended"].status == status
    assert checks["arrival rate delivered"].status == status


def test_arrivals_of_a_run_stopped_before_its_window_are_judged_without_a_rate() -> None:
    """A run stopped in its warm-up measured a window of 0 s: nothing intended in it is no
    load (invalid), said as 0/s, not a division by zero."""
    result = _run(500, status="incomplete")
    result = replace(result, window_s=0.0, arrivals=Arrivals(rate=50.0, intended=0, dropped=0))
    checks = _validity(result)
    intended = checks["arrival rate intended"]
    assert intended.status == "invalid"
    assert "in the 0 s window, 0/s, for 50/s asked" in intended.message
    assert checks["arrival rate delivered"].status == "invalid"


# --- samples ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "status"), [(368, "pass"), (367, "invalid")])
def test_a_p99_budget_needs_368_samples_after_a_wildcard_budget(n: int, status: str) -> None:
    """The P99's 95% interval needs 0.99**n <= 0.025 (its upper tail can miss), first true at
    n = 368. A wildcard budget before the endpoint's own does not end the samples checks."""
    assert 0.99**368 <= 0.025 < 0.99**367
    assert math.ceil(math.log(0.025) / math.log(0.99)) == 368
    budgets = [parse_budget("*", "p99 < 1s"), parse_budget(BETS, "p99 < 1s")]
    check = _validity(_run(n), budgets)[f"{BETS} samples for p99"]
    assert (check.kind, check.status, check.endpoint) == ("validity", status, BETS)


# --- the generator's delay ------------------------------------------------------------------------
def test_a_material_delay_is_invalid_by_default_when_a_decision_would_change() -> None:
    """Told which decisions would change without the generator's delay, but not whether the
    verdict would: the run is invalid (the delay may carry the verdict). Told the verdict
    would stand, it is a warning."""
    result = _late(_run(), 5.0)
    budgets = [parse_budget(BETS, "p99 < 1s")]
    changed = [f"{BETS} p99 < 1 s would fail"]
    by_default = validity_checks(result, budgets, (0.5, 0.95, 0.99), changed)
    stands = validity_checks(result, budgets, (0.5, 0.95, 0.99), changed, False)
    assert [c.status for c in by_default if c.name == "generator kept up"] == ["invalid"]
    assert [c.status for c in stands if c.name == "generator kept up"] == ["warn"]


@pytest.mark.parametrize(
    ("confidence", "verdict_status", "kept_up"),
    [(0.95, "fail", "warn"), (0.99, "invalid", "invalid")],
)
def test_whether_a_budget_rests_on_the_delay_is_judged_at_the_policys_confidence(
    confidence: float, verdict_status: str, kept_up: str
) -> None:
    """A P99 budget 5 ms (the generator's delay) below the middle of the 95% and 99%
    intervals' lower ends: it fails at either confidence. Without the delay, the 95%
    interval is still above it (the failure stands, the delay is a warning) but the 99%
    interval is not (the failure rests on the delay: the run is invalid)."""
    result = _late(_run(), 5.0)
    low95, low99, _ = _p99_lows_ms(result)
    limit = (low95 + low99) / 2 - 5.0
    assert low99 - 5.0 < limit < low95 - 5.0 and limit < low99
    budget = parse_budget(BETS, f"p99 < {limit:.3f}ms")
    verdict = judge(result, [budget], policy=GatePolicy(confidence=confidence))
    [kept] = [c.status for c in verdict.checks if c.name == "generator kept up"]
    assert [c.status for c in verdict.of_kind("budget")] == ["fail"]
    assert (verdict.status, kept) == (verdict_status, kept_up)


def test_a_late_generator_is_weighed_on_budgets_and_baseline_together(tmp_path: Path) -> None:
    """Judged again without the delay, a run with both budgets and a baseline keeps every
    decision (the budget holds, nothing regresses): the delay is a warning, the run passes."""
    result = _late(_run(2_000, 30), 5.0)
    verdict = judge(result, [parse_budget(BETS, "p99 < 1s")], _baseline(tmp_path))
    assert [c.status for c in verdict.of_kind("budget")] == ["pass"]
    assert {c.status for c in verdict.of_kind("regression")} == {"pass"}
    assert [c.status for c in verdict.checks if c.name == "generator kept up"] == ["warn"]
    assert (verdict.status, verdict.exit_code) == ("pass", 0)


# --- budgets, baselines and the policy in judge ---------------------------------------------------
@pytest.mark.parametrize(("confidence", "status"), [(0.95, "fail"), (0.99, "warn")])
def test_budgets_are_judged_at_the_policys_confidence(confidence: float, status: str) -> None:
    """A P99 budget between the lower ends of the 95% and 99% intervals: above it at 95%
    (fail), overlapped at 99% (warn, and the run passes)."""
    result = _run()
    low95, low99, _ = _p99_lows_ms(result)
    budget = parse_budget(BETS, f"p99 < {(low95 + low99) / 2:.3f}ms")
    verdict = judge(result, [budget], policy=GatePolicy(confidence=confidence))
    assert [c.status for c in verdict.of_kind("budget")] == [status]
    assert verdict.status == ("fail" if status == "fail" else "pass")


def test_a_baseline_adds_regression_checks_to_the_budget_checks_and_is_named(
    tmp_path: Path,
) -> None:
    """With a baseline the budgets are still judged; the verdict names the baseline and the
    settings it was judged with, and its headline does not say nothing was compared."""
    baseline = _baseline(tmp_path)
    verdict = judge(_run(2_000, 30), [parse_budget(BETS, "p99 < 1s")], baseline)
    assert [c.status for c in verdict.of_kind("budget")] == ["pass"]
    assert len(verdict.of_kind("regression")) == 3  # P50, P95, P99
    assert verdict.baseline == baseline.label == "baseline of 2026-11-22 (3 runs)"
    assert verdict.settings == {"min_effect": 0.1, "alpha": 0.01, "confidence": 0.95}
    assert verdict.headline == f"All {len(verdict.checks)} checks passed."


def test_an_empty_baseline_is_no_baseline() -> None:
    """A baseline with no blessed runs compares nothing: no regression checks, no baseline
    named, and the headline says no regression was checked."""
    verdict = judge(_run(), [parse_budget(BETS, "p99 < 1s")], Baseline("local", "smoke"))
    assert verdict.of_kind("regression") == []
    assert verdict.baseline is None
    assert verdict.headline.endswith("no regression was checked (no baseline to compare with).")


# --- the headline ---------------------------------------------------------------------------------
def test_a_pass_with_a_warning_names_the_first_warning_in_its_headline() -> None:
    """A P99 budget between the interval's lower end and the estimate is a warning; the run
    passes and its headline says so with that warning's sentence."""
    result = _run()
    low95, _, point = _p99_lows_ms(result)
    verdict = judge(result, [parse_budget(BETS, f"p99 < {(low95 + point) / 2:.3f}ms")])
    [warning] = [c for c in verdict.checks if c.status == "warn"]
    assert warning.kind == "budget"
    assert (verdict.status, verdict.exit_code) == ("pass", 0)
    assert verdict.headline == (
        f"All {len(verdict.checks)} checks passed; 1 warning(s): "
        f"{warning.message.rstrip('.')}: the budgets held; no regression was checked "
        "(no baseline to compare with)."
    )
