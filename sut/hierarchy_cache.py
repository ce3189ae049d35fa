"""Ancestor lookups (who are a user's agents?) with an optional Redis cache.

The cache is invalidated on every hierarchy move by bumping a generation number: keys
carry the generation they were read under, so one INCR makes every cached chain stale
at once (a move re-parents a whole subtree) and a reader that raced the move can only
write its stale answer under the old generation, which nobody reads any more. Old
generations expire by TTL. Example::

    cache = RedisHierarchyCache(client, "sut_ab12")
    chain = await cache.ancestors(42, storage.ancestors)   # [sub-agent, agent, master]
    await cache.invalidate()                                # after a move commits
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import redis.asyncio as aioredis

Loader = Callable[[int], Awaitable[list[int]]]

# One round trip: the current generation and the chain cached under it (KEYS[2] is a
# key prefix; fine on a single Redis, not on a cluster).
_LOOKUP = """
local gen = redis.call('GET', KEYS[1]) or '0'
return {gen, redis.call('GET', KEYS[2] .. gen .. ':' .. ARGV[1])}
"""


class HierarchyCache(Protocol):
    """Ancestor chains, nearest agent first."""

    hits: int
    misses: int

    async def ancestors(self, user_id: int, load: Loader) -> list[int]:
        """The chain from the cache, or from ``load`` (then cached)."""
        ...

    async def invalidate(self) -> None:
        """Forget every cached chain (called after a hierarchy move commits)."""
        ...


class DirectLookup:
    """No cache: every lookup asks the database (the embedded SQLite profile)."""

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0

    async def ancestors(self, user_id: int, load: Loader) -> list[int]:
        """Straight from the database."""
        self.misses += 1
        return await load(user_id)

    async def invalidate(self) -> None:
        """Nothing cached, nothing to forget."""


class RedisHierarchyCache:
    """Ancestor chains in Redis under ``<prefix>:anc:<generation>:<user>``."""

    def __init__(self, client: aioredis.Redis, prefix: str, ttl_s: int = 300) -> None:
        self._client = client
        self._gen_key = f"{prefix}:hier:gen"
        self._key_prefix = f"{prefix}:anc:"
        self._ttl_s = ttl_s
        self._lookup = client.register_script(_LOOKUP)
        self.hits = 0
        self.misses = 0

    async def ancestors(self, user_id: int, load: Loader) -> list[int]:
        """One Lua round trip on a hit; a database read and a SET on a miss."""
        gen, cached = await self._lookup(keys=[self._gen_key, self._key_prefix], args=[user_id])
        if cached is not None:
            self.hits += 1
            text = cached.decode()
            return [int(part) for part in text.split(",")] if text else []
        self.misses += 1
        chain = await load(user_id)
        key = f"{self._key_prefix}{gen.decode()}:{user_id}"
        await self._client.set(key, ",".join(map(str, chain)), ex=self._ttl_s)
        return chain

    async def invalidate(self) -> None:
        """Bump the generation: every chain cached so far is stale."""
        await self._client.incr(self._gen_key)
