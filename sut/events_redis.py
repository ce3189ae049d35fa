"""The event bus on Redis Streams: a durable log, a consumer group, acks, dead letters.

- ``publish`` appends to ``<prefix>:events`` (XADD) after the database commit.
- One consumer of group ``aggregator`` reads new entries (XREADGROUP ``>``), hands each
  to the handler and acknowledges it (XACK) only once handled.
- An entry left unacknowledged for ``claim_idle_s`` (its consumer crashed, or the
  handler raised) is claimed (XCLAIM) and redelivered, by this or any other consumer of
  the group; after ``max_deliveries`` it goes to ``<prefix>:events:dead`` with the error.
- ``start_after_existing`` positions the group after every entry already in the log: the
  app calls it before rebuilding the aggregates from the database (the source of truth,
  which already includes every committed event), so a restarted SUT neither loses nor
  double-counts what an earlier process published.
- The log is trimmed up to the oldest entry the group still needs (XTRIM MINID).

Example::

    bus = RedisStreamBus(redis.asyncio.from_url(url), "sut_ab12", consumer="host-42")
    await bus.start_after_existing()
    asyncio.create_task(bus.consume(handler))
    await bus.publish(BetPlaced(9, 500, 675, at=time.time()))
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from sut.events import DeadLetter, Event, decode_event, encode_event

GROUP = "aggregator"
_log = logging.getLogger("sut.events")
_TRIM_EVERY_S = 5.0
_DEAD_MAXLEN = 10_000


class RedisStreamBus:
    """EventBus on one Redis stream with a consumer group (see the module docstring)."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str,
        consumer: str,
        *,
        claim_idle_s: float = 1.0,
        max_deliveries: int = 3,
        batch: int = 256,
        block_ms: int = 200,
    ) -> None:
        self._client = client
        self.stream = f"{prefix}:events"
        self.dead_stream = f"{prefix}:events:dead"
        self.consumer = consumer
        self._claim_idle_ms = max(1, int(claim_idle_s * 1000))
        self._max_deliveries = max_deliveries
        self._batch = batch
        self._block_ms = block_ms
        self._errors: dict[bytes, str] = {}
        self._pending = 0
        self.dead_letters: deque[DeadLetter] = deque(maxlen=1000)
        self.dead_letter_total = 0
        self.handled = 0
        self.redelivered = 0
        self.last_lag_s = 0.0

    @property
    def pending(self) -> int:
        """Entries not yet acknowledged or still unread (refreshed by the consumer loop)."""
        return self._pending

    async def start_after_existing(self) -> None:
        """(Re)create the group positioned after every entry already in the log."""
        with contextlib.suppress(ResponseError):  # no such stream or group yet
            await self._client.xgroup_destroy(self.stream, GROUP)
        await self.join(start="$")
        self.dead_letter_total = int(await self._client.xlen(self.dead_stream))

    async def join(self, start: str = "0") -> None:
        """Create the consumer group if it does not exist (``start`` = where it begins)."""
        try:
            await self._client.xgroup_create(self.stream, GROUP, id=start, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def publish(self, event: Event) -> None:
        """Append the event to the log (one XADD round trip)."""
        await self._client.xadd(self.stream, encode_event(event))  # type: ignore[arg-type]
        self._pending += 1

    async def consume(self, handler: Callable[[Event], Awaitable[None]]) -> None:
        """Deliver new entries, redeliver stale ones, dead-letter poison; forever."""
        last_claim = last_trim = time.monotonic()
        while True:
            # redis-py's reply types are unions of every RESP shape; these are RESP2 lists
            reply: Any = await self._client.xreadgroup(
                GROUP, self.consumer, {self.stream: ">"}, count=self._batch, block=self._block_ms
            )
            done: list[bytes] = []
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    if await self._deliver(entry_id, fields, handler, ack=False):
                        done.append(entry_id)
            if done:  # one XACK per batch: per-event round trips starve a busy loop
                await self._client.xack(self.stream, GROUP, *done)
            now = time.monotonic()
            if now - last_claim >= self._claim_idle_ms / 2000:
                last_claim = now
                await self.redeliver(handler)
                await self._refresh_pending()
            if now - last_trim >= _TRIM_EVERY_S:
                last_trim = now
                await self._trim()
            if not reply:
                await self._refresh_pending()
            else:
                self._pending = max(0, self._pending - sum(len(e) for _, e in reply))

    async def redeliver(self, handler: Callable[[Event], Awaitable[None]]) -> int:
        """Claim entries idle past ``claim_idle_s`` from any consumer and deliver them again."""
        stale = await self._client.xpending_range(
            self.stream, GROUP, min="-", max="+", count=self._batch, idle=self._claim_idle_ms
        )
        if not stale:
            return 0
        deliveries = {p["message_id"]: int(p["times_delivered"]) for p in stale}
        claimed: Any = await self._client.xclaim(
            self.stream, GROUP, self.consumer, self._claim_idle_ms, list(deliveries)
        )
        for entry_id, fields in claimed:
            if fields is None:  # trimmed away meanwhile; nothing left to deliver
                await self._client.xack(self.stream, GROUP, entry_id)
                continue
            if deliveries.get(entry_id, 0) >= self._max_deliveries:
                await self._dead_letter(entry_id, fields, self._errors.pop(entry_id, "redelivered"))
                continue
            self.redelivered += 1
            await self._deliver(entry_id, fields, handler)
        return len(claimed)

    async def _deliver(
        self,
        entry_id: bytes,
        fields: dict[bytes, bytes],
        handler: Callable[[Event], Awaitable[None]],
        ack: bool = True,
    ) -> bool:
        """Hand one entry to the handler; True when handled (and acked, or left to the caller)."""
        try:
            event = decode_event(fields)
        except ValueError as exc:
            await self._dead_letter(entry_id, fields, repr(exc))
            return False
        try:
            await handler(event)
        except Exception as exc:  # noqa: BLE001 - left unacknowledged: redelivered, then dead-lettered
            self._errors[entry_id] = repr(exc)
            return False
        if ack:
            await self._client.xack(self.stream, GROUP, entry_id)
        self._errors.pop(entry_id, None)
        self.handled += 1
        self.last_lag_s = max(0.0, time.time() - event.at)
        return True

    async def _dead_letter(self, entry_id: bytes, fields: dict[bytes, bytes], error: str) -> None:
        record: dict[Any, Any] = {**fields, b"id": entry_id, b"error": error.encode()}
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.xadd(self.dead_stream, record, maxlen=_DEAD_MAXLEN, approximate=True)
            pipe.xack(self.stream, GROUP, entry_id)
            await pipe.execute()
        try:
            event: object = decode_event(fields)
        except ValueError:
            event = fields
        self.dead_letters.append(DeadLetter(event, error, time.time()))
        self.dead_letter_total += 1
        _log.warning("event %s dead-lettered: %s", entry_id.decode(), error)

    async def _refresh_pending(self) -> int:
        for group in await self._client.xinfo_groups(self.stream):
            if group["name"] in (GROUP, GROUP.encode()):
                lag = group.get("lag")
                if lag is not None:
                    unread = int(lag)
                else:  # Redis cannot tell after some trims: compare positions instead
                    info = await self._client.xinfo_stream(self.stream)
                    unread = int(info["last-generated-id"] != group["last-delivered-id"])
                self._pending = int(group["pending"]) + unread
                return self._pending
        return self._pending

    async def _trim(self) -> None:
        """Drop entries every consumer of the group is done with."""
        oldest = await self._client.xpending_range(self.stream, GROUP, "-", "+", 1)
        groups = await self._client.xinfo_groups(self.stream)
        last = next(
            (g["last-delivered-id"] for g in groups if g["name"] in (GROUP, GROUP.encode())), None
        )
        floor = oldest[0]["message_id"] if oldest else last
        if floor and floor not in (b"0-0", "0-0"):
            await self._client.xtrim(self.stream, minid=floor, approximate=True)

    async def wait_idle(self, timeout_s: float) -> bool:
        """Poll the group until nothing is unread or unacknowledged; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while await self._refresh_pending():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return True
