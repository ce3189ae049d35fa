"""Bettor: browses markets, opens one, bets with the odds it saw, checks its wallet.

An ``odds_changed`` answer is an expected business outcome on a live market: it is tagged, not
failed, and the bettor retries once with the current odds it was given.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from locust import task

from scenarios.base import LoggedInUser, mark

SPORTS = ("football", "tennis", "basketball", "cricket")
EXPECTED_CONFLICTS = ("odds_changed", "insufficient_funds", "market_closed")

# task weights, in one place
BROWSE, VIEW, BET, WALLET = 3, 4, 3, 1


class Bettor(LoggedInUser):
    """A person betting on live markets."""

    role = "bettor"

    def on_start(self) -> None:
        super().on_start()
        self.seen: list[int] = []
        self.odds: dict[int, tuple[int, float]] = {}  # market -> (selection, odds)

    @task(BROWSE)
    def browse_markets(self) -> None:
        sport = random.choice(SPORTS)
        with self.client.get(
            f"/markets?sport={sport}&limit=20",
            headers=self.headers,
            name="/markets",
            catch_response=True,
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
                return
            items = resp.json().get("items", [])
            self.seen = [m["id"] for m in items][:20] or self.seen

    @task(VIEW)
    def view_market(self) -> None:
        if not self.seen:
            self.browse_markets()
            return
        self._open(random.choice(self.seen))

    def _open(self, market_id: int) -> None:
        with self.client.get(
            f"/markets/{market_id}", headers=self.headers, name="/markets/[id]", catch_response=True
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
                return
            market = resp.json()
            if market.get("status") == "open" and market.get("selections"):
                sel = random.choice(market["selections"])
                self.odds[market_id] = (sel["id"], sel["odds"])

    @task(BET)
    def place_bet(self) -> None:
        if not self.odds:
            self.view_market()
            return
        market_id = random.choice(list(self.odds))
        selection_id, odds = self.odds[market_id]
        current = self._bet(market_id, selection_id, odds)
        if current is not None:  # odds moved: retry once at the price we were given
            self._bet(market_id, selection_id, current)

    def _bet(self, market_id: int, selection_id: int, odds: float) -> float | None:
        """Place one bet; returns the current odds when the server said they changed."""
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
                return None
            error = _error(resp)
            code = error.get("code", "")
            if resp.status_code == 409 and code in EXPECTED_CONFLICTS:
                mark(resp, code)
                resp.success()
                if code == "odds_changed":
                    current = error.get("current_odds")
                    if current is None:
                        self.odds.pop(market_id, None)
                        return None
                    self.odds[market_id] = (selection_id, float(current))
                    return float(current)
                self.odds.pop(market_id, None)
                return None
            resp.failure(f"HTTP {resp.status_code} {code}".strip())
            return None

    @task(WALLET)
    def check_wallet(self) -> None:
        with self.client.get(
            "/wallet", headers=self.headers, name="/wallet", catch_response=True
        ) as resp:
            if resp.status_code != 200 or "balance" not in resp.json():
                resp.failure(f"HTTP {resp.status_code}")


def _error(resp: Any) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}
