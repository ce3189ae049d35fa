"""The storage interface every backend implements (SQLite now, PostgreSQL later).

Methods are synchronous and thread-safe: the HTTP layer calls them from a threadpool.
They take and return domain objects only, never rows or SQL, and raise DomainError
subclasses for refusals (unknown ids, closed market, insufficient funds, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from sut.domain import (
    Bet,
    BetOrder,
    DownlineMember,
    HierarchyMove,
    Market,
    MarketStatus,
    MoneyAudit,
    PlacedBet,
    Role,
    Settlement,
    Totals,
    User,
    Wallet,
)
from sut.seeding import SeedData

#: Called inside the bet transaction once the market is known to be open: returns the
#: odds (thousandths) the bet is accepted at, or raises Conflict("odds_changed").
PriceCheck = Callable[[BetOrder], int]

#: One market's odds snapshot to persist: (market_id, version, ((selection_id, odds), ...)).
OddsRecord = tuple[int, int, tuple[tuple[int, int], ...]]


class Storage(Protocol):
    """Persistent state of the betting stack."""

    @property
    def retries(self) -> int:
        """How many times a transaction was retried after a busy/locked database."""
        ...

    def open(self) -> None:
        """Connect and create the schema if needed."""
        ...

    def close(self) -> None:
        """Release connections; the storage is unusable afterwards."""
        ...

    def maintenance(self) -> None:
        """Periodic housekeeping off the request path (e.g. WAL checkpoints)."""
        ...

    def is_seeded(self) -> bool:
        """True when the database already holds data."""
        ...

    def seed(self, data: SeedData) -> None:
        """Write seed data into an empty database in one transaction."""
        ...

    def user_by_username(self, username: str) -> User | None:
        """Look a user up for login."""
        ...

    def user(self, user_id: int) -> User | None:
        """Look a user up by id."""
        ...

    def markets_page(
        self,
        sport: str | None,
        status: MarketStatus | None,
        after_id: int,
        limit: int,
        n_plus_one: bool = False,
    ) -> list[Market]:
        """Markets with id > after_id in id order; ``n_plus_one`` is the fault knob."""
        ...

    def market(self, market_id: int) -> Market | None:
        """One market with its selections."""
        ...

    def all_markets(self) -> list[Market]:
        """Every market (to load the in-memory odds book at start)."""
        ...

    def save_odds(self, records: Sequence[OddsRecord]) -> None:
        """Persist odds moves made by the feed."""
        ...

    def place_bet(self, order: BetOrder, price_check: PriceCheck) -> PlacedBet:
        """Idempotency, market, odds and funds checks, debit and insert: one transaction."""
        ...

    def wallet(self, user_id: int) -> Wallet | None:
        """A user's wallet, if it has one."""
        ...

    def bets_page(self, user_id: int, after_id: int, limit: int) -> list[Bet]:
        """A user's bets with id > after_id in id order."""
        ...

    def settle_market(self, market_id: int, winning_selection_id: int, now: float) -> Settlement:
        """Settle every open bet of a market, credit winners, close it; idempotent."""
        ...

    def move_user(self, user_id: int, new_parent_id: int) -> HierarchyMove:
        """Re-parent a bettor or agent under another agent, refusing cycles."""
        ...

    def downline_page(self, agent_id: int, after_id: int, limit: int) -> list[DownlineMember]:
        """Direct and indirect downline of an agent with user id > after_id, in id order."""
        ...

    def hierarchy(self) -> list[tuple[int, Role, int | None]]:
        """Every user as (id, role, parent_id)."""
        ...

    def bettor_totals(self) -> dict[int, Totals]:
        """Per-bettor totals recomputed from the bets (every bettor has an entry)."""
        ...

    def naive_totals(self, agent_id: int) -> Totals:
        """An agent's downline totals by a recursive query over hierarchy and bets."""
        ...

    def money_audit(self) -> MoneyAudit:
        """Sums for the money-conservation audit, from one consistent snapshot."""
        ...
