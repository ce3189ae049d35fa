"""Bettor: browses and filters markets, opens one, bets with the odds it just saw, checks its
wallet and bet history.

On a live market the odds move: ``409 odds_changed`` (and ``market_closed`` after a settlement,
``insufficient_funds`` for a spent wallet) is an expected business outcome, tagged apart from
failures. On ``odds_changed`` the bettor re-reads the market and retries once at the new price.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from locust import task

from scenarios.base import LoggedInUser, error_of, mark
from scenarios.think import human
from scenarios.weights import BETTOR_TASKS, BETTOR_THINK, GOAL_RUSH

SPORTS = ("football", "tennis", "basketball", "cricket")
EXPECTED_CONFLICTS = ("odds_changed", "insufficient_funds", "market_closed")


class Bettor(LoggedInUser):
    """A person betting on live markets."""

    role = "bettor"
    wait_time = human(*BETTOR_THINK, rush=GOAL_RUSH)

    def on_start(self) -> None:
        super().on_start()
        self.seen: list[int] = []
        self.cursor: str | None = None
        self.odds: dict[int, tuple[int, float]] = {}  # market -> (selection, odds) last seen

    @task(BETTOR_TASKS["browse"])
    def browse_markets(self) -> None:
        """The market list, page after page (keyset cursor)."""
        url = "/markets?limit=20" + (f"&cursor={self.cursor}" if self.cursor else "")
        self._list(url, follow=True)

    @task(BETTOR_TASKS["filter"])
    def filter_markets(self) -> None:
        """Open markets of one sport."""
        self._list(f"/markets?sport={random.choice(SPORTS)}&status=open&limit=20", follow=False)

    def _list(self, url: str, follow: bool) -> None:
        with self.client.get(
            url, headers=self.headers, name="/markets", catch_response=True
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
                return
            body = resp.json()
            items = body.get("items")
            if not isinstance(items, list):
                resp.failure("no items in the market list")
                return
            self.seen = [m["id"] for m in items if m.get("status") == "open"][:20] or self.seen
            if follow:
                self.cursor = body.get("next_cursor")

    @task(BETTOR_TASKS["view"])
    def view_market(self) -> None:
        if not self.seen:
            self.filter_markets()
            return
        self._open(random.choice(self.seen))

    def _open(self, market_id: int) -> bool:
        """Read a market and remember a selection's odds; False when it cannot be bet on."""
        with self.client.get(
            f"/markets/{market_id}", headers=self.headers, name="/markets/[id]", catch_response=True
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
                return False
            market = resp.json()
            if market.get("status") == "open" and market.get("selections"):
                keep = self.odds.get(market_id)
                selections = {s["id"]: s["odds"] for s in market["selections"]}
                sel = keep[0] if keep and keep[0] in selections else random.choice(list(selections))
                self.odds[market_id] = (sel, float(selections[sel]))
                return True
            mark(resp, "market_not_open")
            self.odds.pop(market_id, None)
            return False

    @task(BETTOR_TASKS["bet"])
    def place_bet(self) -> None:
        if not self.odds:
            self.view_market()
            return
        market_id = random.choice(list(self.odds))
        selection_id, odds = self.odds[market_id]
        if self._bet(market_id, selection_id, odds) == "odds_changed" and self._open(market_id):
            # the price moved: look again, and take the new price once
            self._bet(market_id, *self.odds[market_id])

    def _bet(self, market_id: int, selection_id: int, odds: float) -> str:
        """Place one bet; returns "placed", an expected conflict code, or "failed"."""
        payload: dict[str, Any] = {
            "market_id": market_id,
            "selection_id": selection_id,
            "stake": round(random.uniform(1, 5), 2),
            "odds": odds,
            "idempotency_key": uuid.uuid4().hex,
        }
        with self.client.post(
            "/bets", json=payload, headers=self.headers, name="/bets", catch_response=True
        ) as resp:
            if resp.status_code == 201:
                return "placed"
            code = error_of(resp).get("code", "")
            if resp.status_code == 409 and code in EXPECTED_CONFLICTS:
                mark(resp, code)
                resp.success()
                if code != "odds_changed":
                    self.odds.pop(market_id, None)
                return str(code)
            resp.failure(f"HTTP {resp.status_code} {code}".strip())
            return "failed"

    @task(BETTOR_TASKS["wallet"])
    def check_wallet(self) -> None:
        with self.client.get(
            "/wallet", headers=self.headers, name="/wallet", catch_response=True
        ) as resp:
            if resp.status_code != 200 or "balance" not in resp.json():
                resp.failure(f"HTTP {resp.status_code}")

    @task(BETTOR_TASKS["history"])
    def bet_history(self) -> None:
        with self.client.get(
            "/bets?limit=20", headers=self.headers, name="/bets", catch_response=True
        ) as resp:
            if resp.status_code != 200 or not isinstance(resp.json().get("items"), list):
                resp.failure(f"HTTP {resp.status_code}")
