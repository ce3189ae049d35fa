"""The load shape: follows the profile's plan (``--loadgate-shape``, see loadgate/shapes.py) —
constant, match-day peak with a goal rush, or capacity steps. Users and spawn rate come from
Locust's own ``--users``/``--spawn-rate``; ``--run-time`` ends the test (with a shape class
Locust leaves that to the shape)."""

from __future__ import annotations

from locust import LoadTestShape

from loadgate.shapes import parse_shape


class MatchShape(LoadTestShape):
    """Users over time as the profile's load plan says."""

    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        options = self.runner.environment.parsed_options if self.runner else None
        users = int(getattr(options, "num_users", 1) or 1)
        rate = float(getattr(options, "spawn_rate", 1) or 1)
        run_time = getattr(options, "run_time", None)
        elapsed = self.get_run_time()  # type: ignore[no-untyped-call]
        if run_time and elapsed >= run_time:
            return None
        plan = parse_shape(getattr(options, "loadgate_shape", "") or "constant")
        return plan.target(elapsed, users, rate)
