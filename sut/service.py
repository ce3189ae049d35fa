"""The betting service: use cases over storage, odds book, event bus and hierarchy cache.

Methods touching the database are coroutines (the storage backend decides whether its
work runs on the loop, in the threadpool or on a server). Route handlers only parse,
await one method, and serialise.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace

from sut.aggregator import Aggregator
from sut.auth import AuthError, TokenSigner, check_password
from sut.domain import (
    Bet,
    BetOrder,
    DownlineMember,
    HierarchyMove,
    Market,
    MarketStatus,
    NotFound,
    PlacedBet,
    Selection,
    Settlement,
    Totals,
    User,
    Wallet,
    potential_profit_cents,
)
from sut.events import BetPlaced, BetSettled, EventBus, HierarchyChanged
from sut.hierarchy_cache import DirectLookup, HierarchyCache
from sut.odds import OddsBook
from sut.storage.base import Storage


@dataclass(frozen=True, slots=True)
class Login:
    """A successful login."""

    user: User
    token: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """One named invariant and whether it held."""

    name: str
    ok: bool
    detail: str


class BettingService:
    """Use cases of the betting stack, shared by every request of one app."""

    def __init__(
        self,
        storage: Storage,
        book: OddsBook,
        bus: EventBus,
        aggregator: Aggregator,
        signer: TokenSigner,
        cache: HierarchyCache | None = None,
    ) -> None:
        self.storage = storage
        self.book = book
        self.bus = bus
        self.aggregator = aggregator
        self.signer = signer
        self.cache: HierarchyCache = cache or DirectLookup()
        self._move_lock = asyncio.Lock()

    async def login(self, username: str, password: str) -> Login:
        """Check credentials and issue a token; AuthError on any mismatch."""
        user = await self.storage.user_by_username(username)
        if user is None or not check_password(password, user.username, user.password_hash):
            raise AuthError("invalid_credentials", "unknown user or wrong password")
        token, expires_at = self.signer.issue(user.id, user.role, time.time())
        return Login(user, token, expires_at)

    def _live(self, market: Market) -> Market:
        """Overlay the in-memory current odds and version on a stored market."""
        quote = self.book.quote(market.id)
        if quote is None or quote.version == market.version:
            return market  # the usual case: the flusher already stored this version
        odds = dict(zip(quote.selection_ids, quote.odds, strict=True))
        selections = tuple(
            Selection(s.id, s.name, odds.get(s.id, s.odds_milli)) for s in market.selections
        )
        return replace(market, version=max(quote.version, market.version), selections=selections)

    async def markets_page(
        self,
        sport: str | None,
        status: MarketStatus | None,
        after_id: int,
        limit: int,
        n_plus_one: bool = False,
        unbounded: bool = False,
    ) -> list[Market]:
        """A page of markets with live odds.

        ``unbounded`` is the ``unbounded_markets`` fault: the query has no LIMIT and the
        page is cut in memory, so the answer is the same and only the cost grows.
        """
        if unbounded:
            rows = await self.storage.markets_page(sport, status, after_id, None, n_plus_one)
            page = rows[:limit]
        else:
            page = await self.storage.markets_page(sport, status, after_id, limit, n_plus_one)
        return [self._live(m) for m in page]

    async def market(self, market_id: int) -> Market:
        """One market with live odds; NotFound if unknown."""
        market = await self.storage.market(market_id)
        if market is None:
            raise NotFound(f"market {market_id} does not exist")
        return self._live(market)

    async def place_bet(self, order: BetOrder) -> PlacedBet:
        """Place (or replay) a bet and publish BetPlaced for a new one."""
        placed = await self.storage.place_bet(order, self.book.check_price)
        if placed.created:
            bet = placed.bet
            await self.bus.publish(
                BetPlaced(
                    bet.user_id,
                    bet.stake_cents,
                    potential_profit_cents(bet.stake_cents, bet.odds_milli),
                    time.time(),
                )
            )
        return placed

    async def wallet(self, user_id: int) -> Wallet:
        """A bettor's wallet; NotFound for users without one."""
        wallet = await self.storage.wallet(user_id)
        if wallet is None:
            raise NotFound(f"user {user_id} has no wallet")
        return wallet

    async def bets_page(self, user_id: int, after_id: int, limit: int) -> list[Bet]:
        """A page of the caller's bets."""
        return await self.storage.bets_page(user_id, after_id, limit)

    async def settle(self, market_id: int, winning_selection_id: int) -> Settlement:
        """Settle a market, stop its odds, publish one BetSettled per bet."""
        now = time.time()
        settlement = await self.storage.settle_market(market_id, winning_selection_id, now)
        self.book.set_status(market_id, MarketStatus.SETTLED)
        for bet in settlement.bets:
            await self.bus.publish(
                BetSettled(
                    bet.user_id,
                    bet.stake_cents,
                    bet.payout_cents,
                    potential_profit_cents(bet.stake_cents, bet.odds_milli),
                    now,
                )
            )
        return settlement

    async def move(self, user_id: int, new_parent_id: int) -> HierarchyMove:
        """Move a user; the lock keeps HierarchyChanged events in commit order."""
        async with self._move_lock:
            move = await self.storage.move_user(user_id, new_parent_id)
            await self.cache.invalidate()
            await self.bus.publish(
                HierarchyChanged(move.user_id, move.old_parent_id, move.new_parent_id, time.time())
            )
        return move

    async def ancestors(self, user_id: int) -> list[int]:
        """A user's agents, nearest first (cached in the production-like profile)."""
        return await self.cache.ancestors(user_id, self.storage.ancestors)

    async def member(self, agent_id: int, user_id: int) -> tuple[User, Totals]:
        """One user of an agent's downline with its subtree totals; NotFound otherwise.

        "Otherwise" includes users outside the agent's downline: an agent must not learn
        whether a user it does not manage exists.
        """
        if agent_id not in await self.ancestors(user_id):
            raise NotFound(f"user {user_id} is not in your downline")
        user = await self.storage.user(user_id)
        totals = self.aggregator.totals(user_id)
        if user is None or totals is None:
            raise NotFound(f"user {user_id} is not in your downline")
        return user, totals

    def dashboard(self, agent_id: int) -> Totals:
        """Downline Totals from the pre-aggregated state: O(1), safe on the event loop."""
        totals = self.aggregator.totals(agent_id)
        if totals is None:
            raise NotFound(f"agent {agent_id} has no aggregate")
        return totals

    async def naive_dashboard(self, agent_id: int) -> Totals:
        """Downline Totals by recursive query (the ``naive_dashboard`` fault)."""
        return await self.storage.naive_totals(agent_id)

    async def downline_page(self, agent_id: int, after_id: int, limit: int) -> list[DownlineMember]:
        """A page of the agent's direct and indirect downline."""
        return await self.storage.downline_page(agent_id, after_id, limit)

    async def recompute(self) -> Aggregator:
        """A fresh aggregator rebuilt from the database (audit and startup)."""
        return await rebuild_aggregator(self.storage)

    async def money_checks(self) -> list[AuditCheck]:
        """Money invariants from one database snapshot."""
        audit = await self.storage.money_audit()
        accounted = (
            audit.balances_cents
            + audit.open_stakes_cents
            + audit.settled_stakes_cents
            - audit.payouts_cents
        )
        return [
            AuditCheck(
                "money_conserved",
                accounted == audit.deposits_cents,
                f"deposits={audit.deposits_cents} balances={audit.balances_cents}"
                f" open_stakes={audit.open_stakes_cents}"
                f" settled_stakes={audit.settled_stakes_cents} payouts={audit.payouts_cents}",
            ),
            AuditCheck(
                "no_negative_wallet",
                audit.negative_wallets == 0,
                f"{audit.negative_wallets} wallets below zero",
            ),
            AuditCheck(
                "one_bet_per_idempotency_key",
                audit.duplicate_idempotency_keys == 0,
                f"{audit.duplicate_idempotency_keys} keys with more than one bet",
            ),
        ]


async def rebuild_aggregator(storage: Storage) -> Aggregator:
    """Aggregates rebuilt from the database, the source of truth."""
    return Aggregator.build(await storage.hierarchy(), await storage.bettor_totals())
