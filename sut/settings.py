"""Settings of one SUT instance: a frozen dataclass built once at the edge (CLI/env).

Example::

    >>> from sut import Settings, create_app
    >>> app = create_app(Settings(markets=200, bettors=50, agents=10, odds_rate=0))

The production-like profile (PostgreSQL storage, Redis Streams event bus and Redis
hierarchy cache) takes its server URLs from here, never from constants::

    Settings(backend="postgres", pg_dsn="postgresql://postgres@127.0.0.1:5432/test",
             redis_url="redis://127.0.0.1:6379/0")
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sut.faults import FaultSet

BACKENDS = ("sqlite", "postgres")
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything that shapes one SUT process; nothing is read from globals later.

    ``db_path=None`` means a fresh temporary database, removed at shutdown.
    ``schema=None`` / ``key_prefix=None`` mean a fresh random PostgreSQL schema / Redis key
    prefix (``sut_<hex>``), dropped / deleted at shutdown; named ones are kept (so a
    restarted SUT finds its data again) and are the caller's to clean up.
    """

    backend: str = "sqlite"
    db_path: Path | None = None
    #: PostgreSQL DSN (``backend="postgres"``), e.g. postgresql://user@host:5432/db
    pg_dsn: str | None = None
    #: Redis URL; when set, events go through Redis Streams and ancestor lookups are cached
    redis_url: str | None = None
    schema: str | None = None
    key_prefix: str | None = None
    pg_pool_size: int = 16
    statement_timeout_ms: int = 5_000
    #: PostgreSQL's deadlock_timeout for our sessions (None: the server's, 1 s by default)
    pg_deadlock_timeout_ms: int | None = None
    #: retries of a transaction that hit a deadlock / serialization failure / unique race
    db_max_retries: int = 8
    #: an event unacknowledged this long (its consumer died or failed) is redelivered
    claim_idle_s: float = 1.0
    #: deliveries before an event goes to the dead-letter stream
    max_deliveries: int = 3
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
        self._check_profile()

    def _check_profile(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if self.backend == "postgres" and not self.pg_dsn:
            raise ValueError("backend postgres needs a DSN (--pg-dsn or SUT_PG_DSN)")
        if self.faults.deadlock_wallets and self.backend != "postgres":
            raise ValueError("the deadlock_wallets fault needs --backend postgres")
        for label, name in (("schema", self.schema), ("key prefix", self.key_prefix)):
            if name is not None and not _NAME.match(name):
                raise ValueError(f"{label} {name!r} must match {_NAME.pattern}")
        if self.pg_pool_size < 1 or self.db_max_retries < 0 or self.max_deliveries < 1:
            raise ValueError("pool size and max deliveries must be >= 1, retries >= 0")
        if self.statement_timeout_ms < 1 or self.claim_idle_s <= 0:
            raise ValueError("statement timeout and claim idle time must be positive")
