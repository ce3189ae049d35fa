"""Load plans: constant, peak with a goal rush, capacity steps."""

from __future__ import annotations

import pytest

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
