"""Bettor routes: place a bet, list own bets, read the wallet."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from sut.domain import BetOrder, Role
from sut.http.context import AppContext
from sut.http.params import (
    field_int,
    field_money,
    field_number,
    field_str,
    next_cursor,
    query_cursor,
    query_limit,
    read_json,
)
from sut.http.wire import JSON, bet_json, money

MAX_IDEMPOTENCY_KEY = 64
MIN_ODDS = 1.0
MAX_ODDS = 1000.0


class BettingRoutes:
    """Routes of the bettor role."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def place_bet(self, request: Request) -> Response:
        """Place a bet: 201 when new, 200 when the idempotency key was seen before."""
        who = self.ctx.principal(request, Role.BETTOR)
        settings = self.ctx.settings
        body = await read_json(request, settings.max_body_bytes)
        order = BetOrder(
            user_id=who.user_id,
            market_id=field_int(body, "market_id"),
            selection_id=field_int(body, "selection_id"),
            stake_cents=field_money(
                body, "stake", settings.min_stake_cents, settings.max_stake_cents
            ),
            odds_milli=round(field_number(body, "odds", MIN_ODDS, MAX_ODDS) * 1000),
            idempotency_key=field_str(body, "idempotency_key", MAX_IDEMPOTENCY_KEY),
            placed_at=time.time(),
        )
        placed = await self.ctx.service.place_bet(order)
        return JSON(bet_json(placed.bet), status_code=201 if placed.created else 200)

    async def bets(self, request: Request) -> Response:
        """A keyset page of the caller's own bets."""
        who = self.ctx.principal(request, Role.BETTOR)
        limit = query_limit(request)
        after = query_cursor(request, "b")
        page = await self.ctx.service.bets_page(who.user_id, after, limit)
        return JSON(
            {
                "items": [bet_json(b) for b in page],
                "next_cursor": next_cursor("b", [b.id for b in page], limit),
            }
        )

    async def wallet(self, request: Request) -> Response:
        """The caller's balance."""
        who = self.ctx.principal(request, Role.BETTOR)
        wallet = await self.ctx.service.wallet(who.user_id)
        return JSON(
            {
                "user_id": wallet.user_id,
                "balance": money(wallet.balance_cents),
                "currency": wallet.currency,
            }
        )
