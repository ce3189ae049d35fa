"""Domain events and the in-process event bus with a dead-letter queue and lag tracking.

``publish`` is safe from any thread (handlers run in the threadpool); one consumer task
on the event loop drains the bus. A Redis Streams bus can implement the same Protocol.
Example::

    bus = InProcessBus()
    bus.publish(BetPlaced(bettor_id=9, stake_cents=500, exposure_cents=675, at=time.time()))
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol


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


class EventBus(Protocol):
    """Where events go; consumed by one handler."""

    def publish(self, event: Event) -> None:
        """Enqueue an event (thread-safe, never blocks)."""
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

    def publish(self, event: Event) -> None:
        """Append, then wake the consumer if it is asleep (order matters: see consume)."""
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
