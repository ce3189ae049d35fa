"""The knee of a capacity run: the highest load step whose budgets all held.

Each step is measured apart (after it settles); a step breaks when any budgeted quantile's
point estimate is above its ceiling or an error rate above its limit. Steps are coarse (2
significant digits, tens of seconds each): the knee says where to look, the gate still
judges full runs with confidence intervals.

>>> from loadgate.histogram import LatencyHistogram
>>> def step(users, p99_ms):  # 98% of requests take 1 ms, the slowest 2% p99_ms
...     hist = LatencyHistogram.of([1000] * 980 + [p99_ms * 1000] * 20)
...     return Stage(users, 0, 10, {"POST /bets": EndpointResult("POST /bets", hist)})
>>> budgets = [Budget("POST /bets", "p99", 250.0)]
>>> knee = find_knee([step(300, 90), step(400, 180), step(500, 312)], budgets)
>>> knee.users, knee.broke_at, knee.reason
(400, 500, 'POST /bets p99 is 312 ms, above its 250 ms budget')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loadgate.budgets import Budget, expand
from loadgate.checks import Check
from loadgate.durations import format_ms
from loadgate.results import EndpointResult, RunResult, Stage


@dataclass(frozen=True)
class Knee:
    """``users``: the highest step that held (None if the first broke); ``broke_at``: the
    first step that did not (None if all held), with the first reason."""

    users: int | None
    broke_at: int | None
    reason: str = ""

    def sentence(self) -> str:
        if self.broke_at is None:
            return f"every step held, up to {self.users} users: the knee is above the last step"
        if self.users is None:
            return f"the first step ({self.broke_at} users) already broke: {self.reason}"
        return (
            f"the knee is at {self.users} users: the budgets held there and broke at "
            f"{self.broke_at} users ({self.reason})"
        )


def knee_check(result: RunResult, budgets: Sequence[Budget]) -> Check | None:
    """The knee of a capacity run as a check of the verdict (None for other runs). It says
    where to look and never fails the gate: each step is short and coarsely measured."""
    if not result.stages:
        return None
    knee = find_knee(result.stages, budgets)
    return Check(
        "budget",
        "capacity knee",
        "pass",
        f"Capacity: {knee.sentence()}.",
        metric="capacity",
        value=knee.users,
        threshold=knee.broke_at,
    )


def find_knee(stages: Sequence[Stage], budgets: Sequence[Budget]) -> Knee:
    """Walk the steps upwards; stop at the first whose budgets broke."""
    held: int | None = None
    for stage in stages:
        reason = _breach(stage, budgets)
        if reason:
            return Knee(held, stage.users, reason)
        held = stage.users
    return Knee(held, None)


def _breach(stage: Stage, budgets: Sequence[Budget]) -> str:
    if not stage.endpoints:
        return "no requests were measured"
    for name, b in expand(budgets, stage.endpoints):
        ep = stage.endpoints.get(name)
        if ep is not None and (reason := _broken(name, ep, b)):
            return reason
    return ""


def _broken(name: str, ep: EndpointResult, b: Budget) -> str:
    if b.quantile is None:
        if ep.requests and ep.error_rate > b.limit:
            return f"{name} error rate is {ep.error_rate * 100:.2f}%, above {b.limit * 100:g}%"
        return ""
    if not ep.histogram.count:
        return ""
    value = ep.histogram.quantile(b.quantile) / 1000
    if value > b.limit:
        return f"{name} {b.metric} is {format_ms(value)}, above its {format_ms(b.limit)} budget"
    return ""
