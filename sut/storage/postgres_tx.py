"""Retry-safe PostgreSQL transactions: bounded retries with full jitter, counted.

A transaction body is a coroutine taking a connection; it runs inside
``conn.transaction()`` and is re-run from scratch (on a fresh pooled connection) when
PostgreSQL aborts it for a reason that a retry can fix:

- deadlock detected (40P01): two transactions locked rows in opposite order;
- serialization failure (40001): a SERIALIZABLE / REPEATABLE READ conflict;
- the idempotency-key unique violation: a concurrent request with the same key won,
  and the retry finds and replays its bet.

Anything else propagates. A statement timeout (57014) becomes a 503 ``db_timeout``;
a transaction still failing after the last retry becomes a 503 ``db_contention``.
Example::

    runner = TxRunner(pool, RetryStats(), max_retries=8)
    bet = await runner.run(place, isolation="read_committed")
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from sut.domain import DomainError
from sut.storage.base import RetryStats
from sut.storage.postgres_schema import IDEMPOTENCY_CONSTRAINT

T = TypeVar("T")
Body = Callable[[Any], Awaitable[T]]

_log = logging.getLogger("sut.postgres")
_BASE_BACKOFF_S = 0.002
_MAX_BACKOFF_S = 0.1


class TxRunner:
    """Runs transaction bodies on a pool with retries on transient conflicts."""

    def __init__(
        self,
        pool: Any,
        stats: RetryStats,
        max_retries: int,
        rng: random.Random | None = None,
    ) -> None:
        self._pool = pool
        self._stats = stats
        self._max_retries = max_retries
        self._rng = rng or random.Random()

    async def run(
        self, body: Body[T], isolation: str = "read_committed", readonly: bool = False
    ) -> T:
        """Run ``body`` in one transaction; retry it on deadlock/serialization/unique race."""
        attempt = 0
        while True:
            try:
                async with (
                    self._pool.acquire() as conn,
                    conn.transaction(isolation=isolation, readonly=readonly),
                ):
                    return await body(conn)
            except asyncpg.QueryCanceledError:
                raise DomainError(503, "db_timeout", "a database statement timed out") from None
            except (
                asyncpg.DeadlockDetectedError,
                asyncpg.SerializationError,
                asyncpg.UniqueViolationError,
            ) as exc:
                self._count(exc)
                if attempt >= self._max_retries:
                    self._stats.exhausted += 1
                    _log.warning("transaction failed after %d retries: %r", attempt, exc)
                    raise DomainError(
                        503, "db_contention", "the database stayed contended; retry later"
                    ) from None
            attempt += 1
            self._stats.retries += 1
            # full jitter: spread the retries of transactions that collided together
            cap = min(_MAX_BACKOFF_S, _BASE_BACKOFF_S * 2**attempt)
            await asyncio.sleep(self._rng.uniform(0, cap))

    def _count(self, exc: Exception) -> None:
        if isinstance(exc, asyncpg.DeadlockDetectedError):
            self._stats.deadlocks += 1
        elif isinstance(exc, asyncpg.SerializationError):
            self._stats.serialization_failures += 1
        elif getattr(exc, "constraint_name", None) == IDEMPOTENCY_CONSTRAINT:
            self._stats.unique_races += 1
        else:
            raise exc  # any other unique violation is a bug, not a race
