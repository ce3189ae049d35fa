"""Think times that model people: log-normal pauses, scaled per profile, faster in a goal rush.

``wait_time = human(0.45, 1.6)`` gives a pause with median 0.45 s and 95th percentile 1.6 s,
multiplied by the profile's ``--think-scale``. Options are read from the user's environment
when it waits, never at import.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from loadgate.shapes import LoadPlan, parse_shape

Z95 = 1.6449
MIN_THINK_S = 0.05


def human(median_s: float, p95_s: float, rush: float = 1.0) -> Callable[[Any], float]:
    """A Locust ``wait_time``: log-normal with the given median and 95th percentile.

    ``rush``: divide the pause by this while the load plan's goal rush is on (peak profile)."""
    mu, sigma = math.log(median_s), math.log(p95_s / median_s) / Z95
    ceiling = p95_s * 5  # nobody in a live session pauses for minutes between clicks

    def wait_time(user: Any) -> float:
        options = user.environment.parsed_options
        scale = float(getattr(options, "think_scale", 1.0) or 1.0) if options else 1.0
        pause = min(ceiling, random.lognormvariate(mu, sigma)) * scale
        if rush != 1.0 and in_goal_rush(user.environment):
            pause /= rush
        return max(MIN_THINK_S, pause)

    return wait_time


@lru_cache(maxsize=8)
def _plan(spec: str) -> LoadPlan:
    return parse_shape(spec)


def in_goal_rush(environment: Any) -> bool:
    """Is the load plan's goal rush on now? (Seconds counted from the test start.)"""
    options = environment.parsed_options
    spec = getattr(options, "loadgate_shape", "") if options else ""
    if not spec:
        return False
    started = environment.stats.total.start_time  # reset when the test (or a worker) starts
    return _plan(spec).goal_active(time.time() - started)
