"""The storage interface every backend implements (SQLite by default, PostgreSQL).

Methods are coroutines: the PostgreSQL backend awaits its driver, the SQLite backend
runs its synchronous engine inline on the loop (short calls) or in the threadpool
(long ones). They take and return domain objects only, never rows or SQL, and raise
DomainError subclasses for refusals (unknown ids, closed market, insufficient funds,
a transaction that kept failing on contention, a statement that timed out).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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

#: Hierarchy recursion never goes deeper than this (the seeded tree has 4 levels); a
#: bound that keeps a corrupted (cyclic) hierarchy from turning into an endless query.
MAX_DEPTH = 32


@dataclass(slots=True)
class RetryStats:
    """Why transactions were retried (counted by the backend, exported as metrics).

    ``retries`` is the total; the other counters say what caused them. ``exhausted``
    counts transactions that failed even after the last retry (answered 503).
    """

    retries: int = 0
    busy: int = 0
    deadlocks: int = 0
    serialization_failures: int = 0
    unique_races: int = 0
    exhausted: int = 0


class Storage(Protocol):
    """Persistent state of the betting stack."""

    @property
    def stats(self) -> RetryStats:
        """Retry counters of this backend."""
        ...

    async def open(self) -> None:
        """Connect and create the schema if needed."""
        ...

    async def close(self) -> None:
        """Release connections (and drop what the backend owns); unusable afterwards."""
        ...

    async def maintenance(self) -> None:
        """Periodic housekeeping off the request path (e.g. WAL checkpoints)."""
        ...

    async def is_seeded(self) -> bool:
        """True when the database already holds data."""
        ...

    async def seed(self, data: SeedData) -> None:
        """Write seed data into an empty database in one transaction."""
        ...

    async def user_by_username(self, username: str) -> User | None:
        """Look a user up for login."""
        ...

    async def user(self, user_id: int) -> User | None:
        """Look a user up by id."""
        ...

    async def markets_page(
        self,
        sport: str | None,
        status: MarketStatus | None,
        after_id: int,
        limit: int | None,
        n_plus_one: bool = False,
    ) -> list[Market]:
        """Markets with id > after_id in id order.

        ``limit=None`` is the ``unbounded_markets`` fault (no LIMIT in the query);
        ``n_plus_one`` is the ``n_plus_one_markets`` fault.
        """
        ...

    async def market(self, market_id: int) -> Market | None:
        """One market with its selections."""
        ...

    async def all_markets(self) -> list[Market]:
        """Every market (to load the in-memory odds book at start)."""
        ...

    async def save_odds(self, records: Sequence[OddsRecord]) -> None:
        """Persist odds moves made by the feed."""
        ...

    async def place_bet(self, order: BetOrder, price_check: PriceCheck) -> PlacedBet:
        """Idempotency, market, odds and funds checks, debit and insert: one transaction."""
        ...

    async def wallet(self, user_id: int) -> Wallet | None:
        """A user's wallet, if it has one."""
        ...

    async def bets_page(self, user_id: int, after_id: int, limit: int) -> list[Bet]:
        """A user's bets with id > after_id in id order."""
        ...

    async def settle_market(
        self, market_id: int, winning_selection_id: int, now: float
    ) -> Settlement:
        """Settle every open bet of a market, credit winners, close it; idempotent."""
        ...

    async def move_user(self, user_id: int, new_parent_id: int) -> HierarchyMove:
        """Re-parent a bettor or agent under another agent, refusing cycles."""
        ...

    async def ancestors(self, user_id: int) -> list[int]:
        """The user's agents, nearest first (empty for top-level users and unknown ids)."""
        ...

    async def downline_page(self, agent_id: int, after_id: int, limit: int) -> list[DownlineMember]:
        """Direct and indirect downline of an agent with user id > after_id, in id order."""
        ...

    async def hierarchy(self) -> list[tuple[int, Role, int | None]]:
        """Every user as (id, role, parent_id)."""
        ...

    async def bettor_totals(self) -> dict[int, Totals]:
        """Per-bettor totals recomputed from the bets (every bettor has an entry)."""
        ...

    async def naive_totals(self, agent_id: int) -> Totals:
        """An agent's downline totals by a recursive query over hierarchy and bets."""
        ...

    async def money_audit(self) -> MoneyAudit:
        """Sums for the money-conservation audit, from one consistent snapshot."""
        ...
