"""Trader (admin, a fixed few): settles markets and moves users in the agent hierarchy, so
settlement, payouts and the re-aggregation of agent PnL run under load.

Ids follow the bundled SUT's seeding (admin is 1, then agents, then bettors); on another
target a move may be refused, which shows as a failure, never as silence.
"""

from __future__ import annotations

import random

from locust import task

from scenarios.base import LoggedInUser, error_of, mark, option
from scenarios.think import human
from scenarios.weights import TRADER_TASKS, TRADER_THINK

EXPECTED = ("already_settled", "hierarchy_cycle")


class Trader(LoggedInUser):
    """An admin settling markets and re-parenting users while bettors bet."""

    role = "admin"
    arrivals = False  # keeps its own pace in the open model: a few people, not a rate
    wait_time = human(*TRADER_THINK)

    @task(TRADER_TASKS["settle"])
    def settle(self) -> None:
        market_id = random.randint(1, int(option(self, "sut_markets", 20_000)))
        with self.client.get(
            f"/markets/{market_id}", headers=self.headers, name="/markets/[id]", catch_response=True
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
                return
            market = resp.json()
        if market.get("status") != "open" or not market.get("selections"):
            return
        winner = random.choice(market["selections"])["id"]
        with self.client.post(
            f"/admin/markets/{market_id}/settle",
            json={"winning_selection_id": winner},
            headers=self.headers,
            name="/admin/markets/[id]/settle",
            catch_response=True,
        ) as resp:
            self._judge(resp)

    @task(TRADER_TASKS["move"])
    def move(self) -> None:
        agents = int(option(self, "sut_agents", 255))
        bettors = int(option(self, "sut_bettors", 5000))
        # ids as the bundled SUT seeds them: 1 admin, 2..agents+1 agents, then bettors;
        # a bettor has no downline, so moving one never makes a cycle
        user_id = agents + 1 + random.randint(1, bettors)
        new_parent = random.randint(2, agents + 1)
        with self.client.post(
            "/admin/hierarchy/move",
            json={"user_id": user_id, "new_parent_id": new_parent},
            headers=self.headers,
            name="/admin/hierarchy/move",
            catch_response=True,
        ) as resp:
            self._judge(resp)

    @staticmethod
    def _judge(resp: object) -> None:
        status = getattr(resp, "status_code", 0)
        if status == 200:
            return
        code = error_of(resp).get("code", "")
        if status == 409 and code in EXPECTED:
            mark(resp, code)
            resp.success()  # type: ignore[attr-defined]
            return
        resp.failure(f"HTTP {status} {code}".strip())  # type: ignore[attr-defined]
