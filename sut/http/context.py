"""Per-app runtime state shared by the routes (no module-level singletons)."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from sut.auth import AuthError, Principal, TokenSigner
from sut.domain import DomainError, Role
from sut.loopwatch import LoopWatch
from sut.metrics import Metrics
from sut.odds import OddsFeed
from sut.service import BettingService
from sut.settings import Settings
from sut.stream import StreamHub


@dataclass(frozen=True, slots=True)
class Runtime:
    """The started parts of an app (exist between lifespan startup and shutdown)."""

    service: BettingService
    hub: StreamHub
    feed: OddsFeed
    loop_watch: LoopWatch


@dataclass(eq=False)
class AppContext:
    """Everything a request may need; ``service`` and ``hub`` exist once started."""

    settings: Settings
    metrics: Metrics
    signer: TokenSigner
    fault_rng: random.Random
    wallet_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    started_at: float = field(default_factory=time.monotonic)
    runtime: Runtime | None = None

    @property
    def service(self) -> BettingService:
        """The betting service; 503 while starting or stopping."""
        if self.runtime is None:
            raise DomainError(503, "not_ready", "the SUT is starting or stopping")
        return self.runtime.service

    @property
    def hub(self) -> StreamHub:
        """The odds stream hub; 503 while starting or stopping."""
        if self.runtime is None:
            raise DomainError(503, "not_ready", "the SUT is starting or stopping")
        return self.runtime.hub

    def principal(self, conn: HTTPConnection, *roles: Role) -> Principal:
        """The verified caller from ``Authorization: Bearer``; 401/403 otherwise."""
        header = conn.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthError("unauthorized", "missing bearer token")
        return self.authorize(token.strip(), *roles)

    def authorize(self, token: str, *roles: Role) -> Principal:
        """Verify a token and check the caller's role."""
        try:
            who = self.signer.verify(token, time.time())
        except (ValueError, TypeError):
            raise AuthError("invalid_token", "token is malformed") from None
        if roles and who.role not in roles:
            allowed = "/".join(r.value for r in roles)
            raise DomainError(403, "forbidden", f"this route is for {allowed} users")
        return who
