"""Domain objects of the betting stack: plain frozen data, no I/O.

Money is integer cents and odds are integer thousandths ("milli-odds") everywhere
inside the SUT so that sums are exact; only the HTTP layer converts to major units
and decimal odds. Example::

    >>> Bet(1, 7, 3, 9, 500, 2350, "open", "k1", 0.0).stake_cents
    500
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """What a user may do: bettors bet, agents read their downline, admins operate."""

    BETTOR = "bettor"
    AGENT = "agent"
    ADMIN = "admin"


class MarketStatus(StrEnum):
    """Lifecycle of a market; only ``open`` markets take bets and move odds."""

    OPEN = "open"
    SUSPENDED = "suspended"
    CLOSED = "closed"
    SETTLED = "settled"


class BetStatus(StrEnum):
    """Lifecycle of a bet."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


SPORTS: tuple[str, ...] = (
    "football",
    "tennis",
    "basketball",
    "cricket",
    "ice_hockey",
    "baseball",
    "rugby",
    "volleyball",
)


@dataclass(frozen=True, slots=True)
class User:
    """An account: bettor, agent or admin, with its parent in the agent hierarchy."""

    id: int
    username: str
    role: Role
    parent_id: int | None
    password_hash: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Selection:
    """One outcome of a market with its decimal odds in thousandths."""

    id: int
    name: str
    odds_milli: int


@dataclass(frozen=True, slots=True)
class Market:
    """A market with its selections; ``version`` bumps on every odds move."""

    id: int
    sport: str
    name: str
    status: MarketStatus
    version: int
    selections: tuple[Selection, ...]


@dataclass(frozen=True, slots=True)
class Bet:
    """A placed bet; ``placed_at`` is epoch seconds (UTC)."""

    id: int
    user_id: int
    market_id: int
    selection_id: int
    stake_cents: int
    odds_milli: int
    status: BetStatus
    idempotency_key: str
    placed_at: float
    payout_cents: int = 0


@dataclass(frozen=True, slots=True)
class BetOrder:
    """A validated request to place a bet, before any storage check."""

    user_id: int
    market_id: int
    selection_id: int
    stake_cents: int
    odds_milli: int
    idempotency_key: str
    placed_at: float


@dataclass(frozen=True, slots=True)
class PlacedBet:
    """Outcome of placing a bet: ``created`` is False for an idempotent replay."""

    bet: Bet
    created: bool


@dataclass(frozen=True, slots=True)
class Wallet:
    """A bettor's balance."""

    user_id: int
    balance_cents: int
    currency: str = "EUR"


@dataclass(frozen=True, slots=True)
class SettledBet:
    """One bet closed by a settlement; ``payout_cents`` is 0 for a losing bet."""

    bet_id: int
    user_id: int
    stake_cents: int
    odds_milli: int
    payout_cents: int


@dataclass(frozen=True, slots=True)
class Settlement:
    """Outcome of settling a market; ``bets`` is empty when it was already settled."""

    market_id: int
    winning_selection_id: int
    bets: tuple[SettledBet, ...]
    already_settled: bool


@dataclass(frozen=True, slots=True)
class HierarchyMove:
    """A user moved from one parent to another in the agent hierarchy."""

    user_id: int
    old_parent_id: int | None
    new_parent_id: int


@dataclass(frozen=True, slots=True)
class DownlineMember:
    """A user somewhere below an agent; ``depth`` 1 means a direct child."""

    user_id: int
    username: str
    role: Role
    parent_id: int
    depth: int


@dataclass(slots=True)
class Totals:
    """Additive bet totals of a subtree (or a single bettor), house perspective.

    ``pnl_cents`` is what the house won on settled bets (lost stakes minus net
    payouts); ``open_exposure_cents`` is what open bets would cost if they all won.
    """

    bettors: int = 0
    turnover_cents: int = 0
    pnl_cents: int = 0
    open_exposure_cents: int = 0

    def add(self, other: Totals, sign: int = 1) -> None:
        """Add (or with ``sign=-1`` subtract) another subtree's totals in place."""
        self.bettors += sign * other.bettors
        self.turnover_cents += sign * other.turnover_cents
        self.pnl_cents += sign * other.pnl_cents
        self.open_exposure_cents += sign * other.open_exposure_cents


@dataclass(frozen=True, slots=True)
class MoneyAudit:
    """Sums the audit needs to prove money is conserved."""

    deposits_cents: int
    balances_cents: int
    open_stakes_cents: int
    settled_stakes_cents: int
    payouts_cents: int
    negative_wallets: int
    duplicate_idempotency_keys: int


def potential_profit_cents(stake_cents: int, odds_milli: int) -> int:
    """What the house pays beyond the stake if this bet wins (floor to the cent)."""
    return stake_cents * odds_milli // 1000 - stake_cents


def payout_cents(stake_cents: int, odds_milli: int) -> int:
    """The full amount credited to a winning bet (stake included, floor to the cent)."""
    return stake_cents * odds_milli // 1000


class DomainError(Exception):
    """A request the domain refuses; carries the HTTP status and a stable error code.

    Example::

        raise DomainError(409, "insufficient_funds", "balance is below the stake")
    """

    def __init__(
        self, status: int, code: str, message: str, extra: dict[str, object] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}


class NotFound(DomainError):
    """The addressed object does not exist (404)."""

    def __init__(self, message: str) -> None:
        super().__init__(404, "not_found", message)


class InvalidRequest(DomainError):
    """The request is well-formed JSON but breaks a rule (422)."""

    def __init__(self, message: str, code: str = "invalid_request") -> None:
        super().__init__(422, code, message)


class Conflict(DomainError):
    """The request conflicts with current state (409)."""

    def __init__(self, code: str, message: str, extra: dict[str, object] | None = None) -> None:
        super().__init__(409, code, message, extra)
