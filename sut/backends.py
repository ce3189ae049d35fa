"""Build the storage, event bus and hierarchy cache a Settings asks for, and tear them down.

Two profiles, chosen by settings (never by constants):

- embedded (default): SQLite in a file, the in-process bus, no cache;
- production-like: PostgreSQL (``backend="postgres"``, ``pg_dsn``) and/or Redis
  (``redis_url``: Redis Streams bus and Redis hierarchy cache).

A run gets its own PostgreSQL schema and Redis key prefix; when the settings do not name
them they are random (``sut_<hex>``) and removed at close. Example::

    backend = await open_backend(settings)
    ...
    await backend.close()
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from sut.events import EventBus, InProcessBus
from sut.events_redis import RedisStreamBus
from sut.hierarchy_cache import DirectLookup, HierarchyCache, RedisHierarchyCache
from sut.settings import Settings
from sut.storage.base import Storage
from sut.storage.postgres import PostgresStorage
from sut.storage.sqlite_async import SQLiteStorage

_log = logging.getLogger("sut")
Closer = Callable[[], Awaitable[None]]


@dataclass
class Backend:
    """The started infrastructure of one app."""

    storage: Storage
    bus: EventBus
    cache: HierarchyCache
    label: str
    closers: list[Closer] = field(default_factory=list)

    async def start_bus(self) -> None:
        """Position a durable bus after the events the database already reflects."""
        if isinstance(self.bus, RedisStreamBus):
            await self.bus.start_after_existing()

    async def close(self) -> None:
        """Close in reverse order of opening; a failing step does not skip the others."""
        while self.closers:
            closer = self.closers.pop()
            try:
                await closer()
            except Exception:  # noqa: BLE001 - keep closing the rest, but say what failed
                _log.exception("error while closing the backend")


def fresh_name() -> str:
    """A random schema / key prefix name for one run."""
    return f"sut_{secrets.token_hex(6)}"


async def open_backend(settings: Settings) -> Backend:
    """Open the storage (not yet seeded) and the bus and cache the settings ask for."""
    closers: list[Closer] = []
    storage: Storage
    if settings.backend == "postgres" and settings.pg_dsn:
        pg = PostgresStorage(
            settings.pg_dsn,
            settings.schema or fresh_name(),
            pool_size=settings.pg_pool_size,
            statement_timeout_ms=settings.statement_timeout_ms,
            max_retries=settings.db_max_retries,
            drop_on_close=settings.schema is None,
            deadlock_fault=settings.faults.deadlock_wallets,
            deadlock_timeout_ms=settings.pg_deadlock_timeout_ms,
            seed=settings.seed,
        )
        storage, label = pg, f"postgres schema {pg.schema}"
    else:
        inline = settings.db_inline and not settings.faults.global_wallet_lock
        lite = SQLiteStorage(settings.db_path, inline=inline)
        storage, label = lite, f"sqlite {lite.path}"
    await storage.open()
    closers.append(storage.close)
    try:
        bus, cache, extra = await _events(settings, closers)
    except BaseException:
        await storage.close()
        raise
    return Backend(storage, bus, cache, label + extra, closers)


async def _events(
    settings: Settings, closers: list[Closer]
) -> tuple[EventBus, HierarchyCache, str]:
    if not settings.redis_url:
        return InProcessBus(), DirectLookup(), ""
    client = aioredis.from_url(settings.redis_url)
    closers.append(client.aclose)
    await client.ping()
    prefix = settings.key_prefix or fresh_name()
    if settings.key_prefix is None:

        async def cleanup() -> None:
            await delete_prefix(client, prefix)

        closers.append(cleanup)
    bus = RedisStreamBus(
        client,
        prefix,
        consumer=f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}",
        claim_idle_s=settings.claim_idle_s,
        max_deliveries=settings.max_deliveries,
    )
    return bus, RedisHierarchyCache(client, prefix), f", redis prefix {prefix}"


async def delete_prefix(client: aioredis.Redis, prefix: str) -> int:
    """Delete every key of a run (SCAN + UNLINK in batches); returns how many."""
    deleted = 0
    batch: list[bytes] = []
    async for key in client.scan_iter(match=f"{prefix}:*", count=500):
        batch.append(key)
        if len(batch) >= 500:
            deleted += int(await client.unlink(*batch))
            batch.clear()
    if batch:
        deleted += int(await client.unlink(*batch))
    return deleted
