"""The in-memory odds book and the odds feed simulator that keeps moving it.

The book is the source of truth for *current* odds (bet placement checks against it,
lists overlay it); the database is the record, written in batches by the flusher.
Example::

    >>> book = OddsBook.from_markets([])
    >>> book.quote(1) is None
    True
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sut.domain import BetOrder, Conflict, InvalidRequest, Market, MarketStatus, NotFound
from sut.storage.base import OddsRecord

_TICK_MILLI = 10  # odds move in steps of 0.01
_MIN_ODDS = 1010
_MAX_ODDS = 50_000


@dataclass(slots=True)
class Quote:
    """Current state of one market's prices (mutated only on the event-loop thread)."""

    market_id: int
    status: MarketStatus
    version: int
    selection_ids: tuple[int, ...]
    odds: list[int]

    def odds_map(self) -> dict[str, float]:
        """Selection id (as JSON key) -> decimal odds."""
        return {str(s): o / 1000 for s, o in zip(self.selection_ids, self.odds, strict=True)}


class OddsBook:
    """Current odds and versions of every market, kept in memory for speed."""

    def __init__(self, quotes: dict[int, Quote], tolerance: float = 0.02) -> None:
        self._quotes = quotes
        self._tolerance = tolerance
        self._open_ids = [q.market_id for q in quotes.values() if q.status is MarketStatus.OPEN]

    @classmethod
    def from_markets(cls, markets: Iterable[Market], tolerance: float = 0.02) -> OddsBook:
        """Build the book from stored markets."""
        quotes = {
            m.id: Quote(
                m.id,
                m.status,
                m.version,
                tuple(s.id for s in m.selections),
                [s.odds_milli for s in m.selections],
            )
            for m in markets
        }
        return cls(quotes, tolerance)

    def quote(self, market_id: int) -> Quote | None:
        """The current quote of a market, if it exists."""
        return self._quotes.get(market_id)

    @property
    def open_ids(self) -> list[int]:
        """Ids of markets the feed may move (may briefly include just-settled ones)."""
        return self._open_ids

    def set_status(self, market_id: int, status: MarketStatus) -> None:
        """Record a status change (e.g. settlement) so the feed stops moving it."""
        quote = self._quotes.get(market_id)
        if quote is not None:
            quote.status = status

    def check_price(self, order: BetOrder) -> int:
        """Accept an order's odds if within tolerance of current; return the current odds.

        The bet is recorded at the current price, never at a stale better one.
        """
        quote = self._quotes.get(order.market_id)
        if quote is None:
            raise NotFound(f"market {order.market_id} does not exist")
        try:
            index = quote.selection_ids.index(order.selection_id)
        except ValueError:
            raise InvalidRequest(
                f"selection {order.selection_id} is not part of market {order.market_id}"
            ) from None
        current = quote.odds[index]
        if abs(order.odds_milli - current) > current * self._tolerance:
            raise Conflict(
                "odds_changed",
                f"odds moved to {current / 1000:.2f}",
                {"current_odds": current / 1000, "version": quote.version},
            )
        return current


class OddsFeed:
    """Moves prices of random open markets at ``rate`` market updates per second.

    Each move bumps the market version, is handed to ``publish`` (the stream hub) and is
    remembered for the next database flush.
    """

    def __init__(
        self,
        book: OddsBook,
        rate: float,
        tick_s: float,
        seed: int,
        publish: Callable[[list[Quote]], None],
    ) -> None:
        self._book = book
        self._rate = rate
        self._tick_s = tick_s
        self._rng = random.Random(seed)
        self._publish = publish
        self._dirty: dict[int, Quote] = {}
        self.updates = 0

    def take_dirty(self) -> list[OddsRecord]:
        """Odds moved since the last call, as records for ``Storage.save_odds``."""
        dirty, self._dirty = self._dirty, {}
        return [
            (q.market_id, q.version, tuple(zip(q.selection_ids, q.odds, strict=True)))
            for q in dirty.values()
        ]

    def step(self, count: int) -> list[Quote]:
        """Move ``count`` random open markets once and publish them."""
        open_ids = self._book.open_ids
        moved: list[Quote] = []
        for _ in range(count if open_ids else 0):
            quote = self._book.quote(open_ids[self._rng.randrange(len(open_ids))])
            if quote is None or quote.status is not MarketStatus.OPEN:
                continue
            for i, odds in enumerate(quote.odds):
                step = self._rng.randint(-3, 3) * _TICK_MILLI
                quote.odds[i] = min(_MAX_ODDS, max(_MIN_ODDS, odds + step))
            quote.version += 1
            self._dirty[quote.market_id] = quote
            moved.append(quote)
        self.updates += len(moved)
        if moved:
            self._publish(moved)
        return moved

    async def run(self) -> None:
        """Tick forever, keeping the long-run rate even when ticks run late."""
        budget = 0.0
        last = time.monotonic()
        while True:
            await asyncio.sleep(self._tick_s)
            now = time.monotonic()
            budget += (now - last) * self._rate
            last = now
            count = int(budget)
            budget -= count
            self.step(count)
