"""The abstract base user: logs in on start and carries the bearer token.

Options (user counts, password) come from Locust's parsed options, read in ``on_start``,
never at import: the module is inert (DESIGN §5.4).
"""

from __future__ import annotations

import random
from typing import Any

from locust.exception import StopUser

from scenarios.leanhttp import LeanHttpUser


def mark(response: Any, outcome: str) -> None:
    """Tag a request with an expected business outcome (counted apart from failures)."""
    response.request_meta["context"]["outcome"] = outcome


def option(user: Any, name: str, default: Any) -> Any:
    """A parsed Locust option of the user's environment, or ``default``."""
    options = user.environment.parsed_options
    value = getattr(options, name, None) if options else None
    return default if value is None else value


def error_of(resp: Any) -> dict[str, Any]:
    """The SUT's ``{"error": {...}}`` body, or {}."""
    try:
        body = resp.json()
    except (ValueError, TypeError):  # not JSON, or no body at all (connection lost)
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


class LoggedInUser(LeanHttpUser):
    """Logs in as one of the seeded users of its role; subclasses set ``role``.

    ``arrivals = True``: in the open model this user takes arrivals instead of thinking."""

    abstract = True
    role = "bettor"
    arrivals = True

    def on_start(self) -> None:
        count = int(option(self, f"sut_{self.role}s", 1) or 1) if self.role != "admin" else 0
        password = option(self, "sut_password", "loadtest")
        username = f"{self.role}{random.randint(1, count)}" if count else self.role
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
            self.token = body["token"]
            self.headers = {"Authorization": f"Bearer {self.token}"}
