"""The abstract base user: logs in on start and carries the bearer token.

Options (bettor count, password) come from Locust's parsed options, read in ``on_start``,
never at import: the module is inert (DESIGN §5.4).
"""

from __future__ import annotations

import random
from typing import Any

from locust import FastHttpUser, between
from locust.exception import StopUser


def mark(response: Any, outcome: str) -> None:
    """Tag a request with an expected business outcome (counted apart from failures)."""
    response.request_meta["context"]["outcome"] = outcome


class LoggedInUser(FastHttpUser):
    """Logs in as one of the seeded users of its role; subclasses set ``role``."""

    abstract = True
    role = "bettor"
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        count = int(getattr(options, f"sut_{self.role}s", 0) or 1) if options else 1
        password = getattr(options, "sut_password", "loadtest") if options else "loadtest"
        username = f"{self.role}{random.randint(1, count)}"
        self.headers: dict[str, str] = {}
        with self.client.post(
            "/auth/login",
            json={"username": username, "password": password},
            name="/auth/login",
            catch_response=True,
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"login as {username}: HTTP {resp.status_code}")
                raise StopUser()
            body = resp.json()
            self.user_id = body["user_id"]
            self.headers = {"Authorization": f"Bearer {body['token']}"}
