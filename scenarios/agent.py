"""Agent: keeps the downline dashboard open (refreshed every few seconds) and now and then
pages through the downline. Dashboards are reads of the SUT's pre-aggregated PnL."""

from __future__ import annotations

from locust import task

from scenarios.base import LoggedInUser
from scenarios.think import human
from scenarios.weights import AGENT_TASKS, AGENT_THINK, DOWNLINE_PAGES

DASHBOARD_FIELDS = ("downline_bettors", "turnover", "pnl", "open_exposure")


class Agent(LoggedInUser):
    """An agent in the referral hierarchy watching its downline."""

    role = "agent"
    wait_time = human(*AGENT_THINK)

    @task(AGENT_TASKS["dashboard"])
    def dashboard(self) -> None:
        with self.client.get(
            "/agents/me/dashboard",
            headers=self.headers,
            name="/agents/me/dashboard",
            catch_response=True,
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
            elif not all(k in resp.json() for k in DASHBOARD_FIELDS):
                resp.failure("dashboard without its figures")

    @task(AGENT_TASKS["downline"])
    def downline(self) -> None:
        cursor: str | None = None
        for _ in range(DOWNLINE_PAGES):
            url = "/agents/me/downline?limit=50" + (f"&cursor={cursor}" if cursor else "")
            with self.client.get(
                url, headers=self.headers, name="/agents/me/downline", catch_response=True
            ) as resp:
                if resp.status_code != 200:
                    resp.failure(f"HTTP {resp.status_code}")
                    return
                body = resp.json()
                if not isinstance(body.get("items"), list):
                    resp.failure("no items in the downline page")
                    return
                cursor = body.get("next_cursor")
            if not cursor:
                return
