"""Settings of one SUT instance: a frozen dataclass built once at the edge (CLI/env).

Example::

    >>> from sut import Settings, create_app
    >>> app = create_app(Settings(markets=200, bettors=50, agents=10, odds_rate=0))
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sut.faults import FaultSet


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything that shapes one SUT process; nothing is read from globals later.

    ``db_path=None`` means a fresh temporary database, removed at shutdown.
    """

    db_path: Path | None = None
    seed: int = 42
    markets: int = 20_000
    bettors: int = 5_000
    agents: int = 255
    password: str = "loadtest"
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    token_ttl_s: float = 3600.0
    initial_balance_cents: int = 100_000
    min_stake_cents: int = 10
    max_stake_cents: int = 100_000
    #: relative distance between submitted and current odds still accepted
    odds_tolerance: float = 0.02
    #: market odds updates per second across all open markets; 0 disables the feed
    odds_rate: float = 2000.0
    odds_tick_s: float = 0.05
    odds_flush_s: float = 0.25
    heartbeat_s: float = 5.0
    #: per-connection pending-message bound before the stream starts dropping
    stream_queue: int = 256
    max_subscriptions: int = 5_000
    max_body_bytes: int = 16_384
    #: run short storage calls on the event loop (long ones always use the threadpool)
    db_inline: bool = True
    faults: FaultSet = field(default_factory=FaultSet)

    def __post_init__(self) -> None:
        if self.markets < 1 or self.bettors < 1:
            raise ValueError("markets and bettors must be at least 1")
        if self.agents < 3:
            raise ValueError("agents must be at least 3 (one per hierarchy level)")
        if self.token_ttl_s <= 0:
            raise ValueError("token_ttl_s must be positive")
        if not 0 < self.min_stake_cents <= self.max_stake_cents:
            raise ValueError("stake limits must satisfy 0 < min <= max")
        if self.odds_rate < 0:
            raise ValueError("odds_rate must not be negative")
