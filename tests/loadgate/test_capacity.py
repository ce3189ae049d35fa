"""The capacity knee: the highest step whose budgets held, and the check the verdict makes of it."""

from __future__ import annotations

from dataclasses import replace

from loadgate.budgets import parse_budget
from loadgate.capacity import find_knee, knee_check
from loadgate.histogram import LatencyHistogram
from loadgate.results import EndpointResult, Stage
from loadgate.verdict import judge

from .test_verdict import BETS, lognormal_ms, make_result


def _stage(users: int, p99_ms: float, failures: int = 0) -> Stage:
    hist = LatencyHistogram.of([1000] * 980 + [int(p99_ms * 1000)] * 20)
    return Stage(users, 0, 10, {"POST /bets": EndpointResult("POST /bets", hist, failures)})


def test_the_knee_is_the_last_step_that_held() -> None:
    budgets = [parse_budget("POST /bets", "p99 < 250ms"), parse_budget("*", "errors < 1%")]
    stages = [_stage(100, 50), _stage(200, 120), _stage(300, 400), _stage(400, 90)]
    knee = find_knee(stages, budgets)
    assert (knee.users, knee.broke_at) == (200, 300)
    assert "POST /bets p99" in knee.reason and "200 users" in knee.sentence()
    errors = find_knee([_stage(100, 50, failures=50)], budgets)
    assert errors.users is None and "error rate" in errors.reason
    assert find_knee(stages[:2], budgets).broke_at is None


def test_the_verdict_reports_the_knee_of_a_capacity_run_and_never_fails_on_it() -> None:
    budgets = [parse_budget("POST /bets", "p99 < 250ms")]
    plain = make_result({BETS: (lognormal_ms(10, 2_000, 3), 0)})
    assert knee_check(plain, budgets) is None  # not a capacity run: no knee
    stepped = replace(plain, stages=[_stage(100, 50), _stage(200, 400)])
    check = knee_check(stepped, budgets)
    assert check is not None and check.status == "pass" and check.metric == "capacity"
    assert (check.value, check.threshold) == (100, 200)
    assert check.message == (
        "Capacity: the knee is at 100 users: the budgets held there and broke at 200 users "
        "(POST /bets p99 is 400 ms, above its 250 ms budget)."
    )
    verdict = judge(stepped, budgets)
    assert verdict.status == "pass" and check in verdict.checks
