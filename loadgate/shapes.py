"""Load plans: how many users when. Pure, shared by the Locust load shape (scenarios/shapes.py)
and the runner (which measures the capacity steps apart).

Specs, as written in a profile's ``shape`` key:

- ``constant`` — ramp to the profile's users and hold;
- ``peak:surge=0.5,at=90s,for=20s`` — match day: hold, and when the goal is scored (at 90 s)
  half as many users again rush in for 20 s, betting faster (a burst of bets and odds);
- ``capacity:start=100,step=100,every=30s,settle=10s`` — step the users up every 30 s up to
  the profile's users; each step is measured apart after settling, to find the knee.

>>> plan = parse_shape("peak:surge=0.5,at=90s,for=20s")
>>> plan.target(95.0, users=1000, spawn_rate=20.0)
(1500, 50.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from loadgate.durations import parse_duration

Kind = Literal["constant", "peak", "capacity"]
# a goal fills the app within seconds; spread over 10 s so that one generator process can
# log the newcomers in without saturating (at 5 s it sat at 100% for ~40 s on 2 cores)
SURGE_RAMP_S = 10.0


@dataclass(frozen=True)
class Stage:
    """One capacity step: measured from ``start_s`` to ``end_s`` (offsets from the test start)."""

    users: int
    start_s: float
    end_s: float


@dataclass(frozen=True)
class LoadPlan:
    kind: Kind = "constant"
    surge: float = 0.0
    goal_at_s: float = 0.0
    goal_for_s: float = 0.0
    start: int = 0
    step: int = 0
    every_s: float = 0.0
    settle_s: float = 0.0

    def goal_active(self, t: float) -> bool:
        """Is the goal rush on ``t`` seconds after the test start?"""
        return self.kind == "peak" and self.goal_at_s <= t < self.goal_at_s + self.goal_for_s

    def target(self, t: float, users: int, spawn_rate: float) -> tuple[int, float]:
        """(users, spawn rate) wanted ``t`` seconds after the test start."""
        if self.goal_active(t):
            extra = math.ceil(users * self.surge)
            return users + extra, max(spawn_rate, extra / SURGE_RAMP_S)
        if self.kind == "capacity":
            k = int(t // self.every_s)
            return min(users, self.start + k * self.step), spawn_rate
        return users, spawn_rate

    def stages(self, users: int) -> list[Stage]:
        """The capacity steps (empty for other plans)."""
        if self.kind != "capacity":
            return []
        count = max(1, math.ceil((users - self.start) / self.step) + 1) if self.step else 1
        return [
            Stage(
                min(users, self.start + k * self.step),
                k * self.every_s + self.settle_s,
                (k + 1) * self.every_s,
            )
            for k in range(count)
        ]


def parse_shape(spec: str) -> LoadPlan:
    """Parse a shape spec; ValueError naming the bad part."""
    kind, _, args = spec.strip().partition(":")
    params: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in args.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            raise ValueError(f"shape {spec!r}: expected key=value, got {part!r}")
        params[key.strip()] = value.strip()
    try:
        plan = _build(kind or "constant", params)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"shape {spec!r}: {exc}") from None
    return plan


def _build(kind: str, p: dict[str, str]) -> LoadPlan:
    allowed = {
        "constant": set(),
        "peak": {"surge", "at", "for"},
        "capacity": {"start", "step", "every", "settle"},
    }
    if kind not in allowed:
        raise ValueError(f"unknown shape {kind!r} (known: constant, peak, capacity)")
    unknown = sorted(set(p) - allowed[kind])
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r}")
    if kind == "peak":
        plan = LoadPlan(
            "peak",
            surge=float(p.get("surge", "0.5")),
            goal_at_s=parse_duration(p["at"]),
            goal_for_s=parse_duration(p.get("for", "20s")),
        )
        if plan.surge < 0 or plan.goal_for_s <= 0:
            raise ValueError("surge must be >= 0 and for > 0")
        return plan
    if kind == "capacity":
        plan = LoadPlan(
            "capacity",
            start=int(p["start"]),
            step=int(p["step"]),
            every_s=parse_duration(p["every"]),
            settle_s=parse_duration(p.get("settle", "10s")),
        )
        if plan.start < 1 or plan.step < 1 or not 0 <= plan.settle_s < plan.every_s:
            raise ValueError("need start >= 1, step >= 1 and 0 <= settle < every")
        return plan
    return LoadPlan()
