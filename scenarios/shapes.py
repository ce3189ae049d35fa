"""The load plan driver: follows the profile's plan (``--loadgate-shape``, see
loadgate/shapes.py) — constant, match-day peak with a goal rush, or capacity steps — by asking
the runner for a new user count when the plan says so.

Not a Locust ``LoadTestShape``: a headless Locust with a shape class blocks its main greenlet
on the shape and only then installs its SIGTERM handler, so a stopped run (target died, Ctrl-C)
would lose its recording. A greenlet next to the normal ``--users`` start keeps Locust's own
run-time and signal handling; ``--users`` is the plan's first target.
"""

from __future__ import annotations

import time
from typing import Any

import gevent
from locust.runners import STATE_CLEANUP, STATE_STOPPED, STATE_STOPPING, WorkerRunner

from loadgate.shapes import parse_shape

TICK_S = 1.0


def start_plan(environment: Any, **_kw: Any) -> None:
    """``test_start`` listener: drive a non-constant plan from the master (or local runner)."""
    runner = environment.runner
    options = environment.parsed_options
    spec = getattr(options, "loadgate_shape", "") or "constant"
    if isinstance(runner, WorkerRunner) or spec == "constant":
        return
    plan = parse_shape(spec)
    users = int(getattr(options, "loadgate_plan_users", 0) or options.num_users or 1)
    rate = float(options.spawn_rate or 1)
    began = time.time()

    def drive() -> None:
        current = plan.target(0.0, users, rate)
        while runner.state not in (STATE_STOPPING, STATE_STOPPED, STATE_CLEANUP):
            gevent.sleep(TICK_S)
            wanted = plan.target(time.time() - began, users, rate)
            if wanted != current:
                current = wanted
                gevent.spawn(runner.start, wanted[0], wanted[1])

    gevent.spawn(drive)
