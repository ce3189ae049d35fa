"""Load plans (constant, peak with a goal rush, capacity steps) and the capacity knee."""

from __future__ import annotations

import pytest

from loadgate.budgets import parse_budget
from loadgate.capacity import find_knee
from loadgate.histogram import LatencyHistogram
from loadgate.results import EndpointResult, Stage
from loadgate.shapes import parse_shape


def test_peak_surges_at_the_goal_and_settles_back() -> None:
    plan = parse_shape("peak:surge=0.5,at=90s,for=20s")
    assert plan.target(10, 1000, 20) == (1000, 20)
    assert plan.target(95, 1000, 20) == (1500, 50)  # 500 more within 10 s
    assert plan.goal_active(95) and not plan.goal_active(111)
    assert plan.target(111, 1000, 20) == (1000, 20)


def test_capacity_steps_up_to_the_users() -> None:
    plan = parse_shape("capacity:start=100,step=200,every=30s,settle=10s")
    assert [plan.target(t, 500, 50)[0] for t in (0, 31, 61, 95)] == [100, 300, 500, 500]
    stages = plan.stages(500)
    assert [(s.users, s.start_s, s.end_s) for s in stages] == [
        (100, 10, 30),
        (300, 40, 60),
        (500, 70, 90),
    ]


@pytest.mark.parametrize(
    "spec",
    ["peak", "peak:at=1m,bogus=1", "capacity:start=0,step=1,every=5s", "ramp:x=1", "peak:at"],
)
def test_bad_specs_name_the_problem(spec: str) -> None:
    with pytest.raises(ValueError, match="shape"):
        parse_shape(spec)


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
