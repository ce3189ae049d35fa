"""Domain events, their wire codec, and the in-process event bus (dead letters, lag).

One consumer task on the event loop drains the bus. sut/events_redis.py implements the
same EventBus Protocol on Redis Streams (the production-like profile). Example::

    bus = InProcessBus()
    await bus.publish(BetPlaced(bettor_id=9, stake_cents=500, exposure_cents=675, at=0.0))
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import orjson


@dataclass(frozen=True, slots=True)
class BetPlaced:
    """A bet was accepted; ``exposure_cents`` is what the house pays beyond the stake."""

    bettor_id: int
    stake_cents: int
    exposure_cents: int
    at: float


@dataclass(frozen=True, slots=True)
class BetSettled:
    """An open bet was settled; ``payout_cents`` is 0 when it lost."""

    bettor_id: int
    stake_cents: int
    payout_cents: int
    exposure_cents: int
    at: float


@dataclass(frozen=True, slots=True)
class HierarchyChanged:
    """A user moved under a new parent agent."""

    user_id: int
    old_parent_id: int | None
    new_parent_id: int
    at: float


Event = BetPlaced | BetSettled | HierarchyChanged


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event its handler could not process, with the error."""

    event: object
    error: str
    at: float


_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls for cls in (BetPlaced, BetSettled, HierarchyChanged)
}


def encode_event(event: Event) -> dict[str, bytes]:
    """An event as wire fields: its type name and its JSON body."""
    return {"type": type(event).__name__.encode(), "data": orjson.dumps(dataclasses.asdict(event))}


def decode_event(fields: dict[bytes, bytes]) -> Event:
    """The inverse of ``encode_event``; ValueError for anything it cannot read."""
    try:
        cls = _TYPES[fields[b"type"].decode()]
        body = orjson.loads(fields[b"data"])
        return cls(**body)
    except (KeyError, TypeError, orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"undecodable event {fields!r}: {exc!r}") from None


class EventBus(Protocol):
    """Where events go; consumed by one handler. Counters are read by the metrics."""

    handled: int
    dead_letter_total: int
    last_lag_s: float
    dead_letters: deque[DeadLetter]

    @property
    def pending(self) -> int:
        """Events published but not yet handled (as far as this process knows)."""
        ...

    async def publish(self, event: Event) -> None:
        """Append an event durably enough for this bus (returns once it is enqueued)."""
        ...

    async def consume(self, handler: Callable[[Event], Awaitable[None]]) -> None:
        """Deliver events to ``handler`` forever; failures go to the dead-letter queue."""
        ...

    async def wait_idle(self, timeout_s: float) -> bool:
        """Wait until every published event was handled; False on timeout."""
        ...


class InProcessBus:
    """An unbounded in-memory FIFO (the aggregator keeps up by design; lag is measured)."""

    def __init__(self) -> None:
        self._queue: deque[Event] = deque()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sleeping = False
        self._busy = False
        self.dead_letters: deque[DeadLetter] = deque(maxlen=1000)
        self.dead_letter_total = 0
        self.handled = 0
        self.last_lag_s = 0.0

    @property
    def pending(self) -> int:
        """Events published but not yet handled."""
        return len(self._queue) + int(self._busy)

    async def publish(self, event: Event) -> None:
        """Append (never blocks)."""
        self.publish_nowait(event)

    def publish_nowait(self, event: Event) -> None:
        """Append from any thread, then wake the consumer if it is asleep (see consume)."""
        self._queue.append(event)
        if self._sleeping and self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def consume(self, handler: Callable[[Event], Awaitable[None]]) -> None:
        """Drain the queue forever."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        while True:
            # Announce sleep before the final emptiness check so a concurrent publish
            # either is seen here or sees _sleeping and wakes us.
            self._sleeping = True
            if not self._queue:
                await self._wake.wait()
            self._sleeping = False
            self._wake.clear()
            while self._queue:
                event = self._queue.popleft()
                self._busy = True
                try:
                    await handler(event)
                except Exception as exc:  # noqa: BLE001 - any handler failure is dead-lettered
                    self.dead_letters.append(DeadLetter(event, repr(exc), time.time()))
                    self.dead_letter_total += 1
                finally:
                    self._busy = False
                self.handled += 1
                self.last_lag_s = max(0.0, time.time() - getattr(event, "at", time.time()))

    async def wait_idle(self, timeout_s: float) -> bool:
        """Poll until the queue is drained (used by the audit)."""
        deadline = time.monotonic() + timeout_s
        while self.pending:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return True
