"""Odds stream fan-out: one WebSocket per client, bounded conflating queues.

The feed calls ``StreamHub.publish`` with moved quotes; for each subscriber the hub only
records "market X changed" in the connection's pending dict (O(1), never awaits), so a
slow client cannot slow the feed or other clients. Each connection's sender task drains
its own pending dict; while the client is slow, newer updates of the same market replace
the pending one (conflation) and updates beyond the queue bound are dropped (counted).

Each odds frame's ``sent_at`` is the time the update was produced (offered to this
connection), not the time the frame left: a fan-out that delays frames (a slow sender,
the ``slow_fanout`` fault, a busy loop) then shows up as latency at the client.
Memory per connection is therefore bounded by ``stream_queue`` entries plus the
transport's write buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Iterable

import orjson
from starlette.websockets import WebSocket

from sut.metrics import Metrics
from sut.odds import OddsBook, Quote

_MAX_MARKETS_PER_MESSAGE = 1_000


class Subscriber:
    """One stream connection: its subscriptions, pending updates and control frames."""

    def __init__(self, websocket: WebSocket, queue_bound: int) -> None:
        self.websocket = websocket
        self.markets: set[int] = set()
        #: market id -> (its quote, when the latest pending update of it was produced)
        self.pending: dict[int, tuple[Quote, float]] = {}
        self.control: deque[bytes] = deque(maxlen=64)
        self.wake = asyncio.Event()
        self.queue_bound = queue_bound
        self.sent = 0
        self.conflated = 0
        self.dropped = 0


class StreamHub:
    """Subscriptions of every connection and the fan-out of odds moves."""

    def __init__(
        self,
        book: OddsBook,
        metrics: Metrics,
        queue_bound: int,
        max_subscriptions: int,
        heartbeat_s: float,
        slow_fanout_s: float = 0.0,
    ) -> None:
        self._book = book
        self._metrics = metrics
        self._queue_bound = queue_bound
        self._max_subscriptions = max_subscriptions
        self._heartbeat_s = heartbeat_s
        self._slow_fanout_s = slow_fanout_s
        self._by_market: dict[int, set[Subscriber]] = {}
        self.subscribers: set[Subscriber] = set()

    def publish(self, quotes: Iterable[Quote]) -> None:
        """Offer moved quotes to their subscribers (called by the feed, never blocks)."""
        produced_at = time.time()
        for quote in quotes:
            for sub in self._by_market.get(quote.market_id, ()):
                self._offer(sub, quote, produced_at)

    def _offer(self, sub: Subscriber, quote: Quote, produced_at: float) -> None:
        if quote.market_id in sub.pending:
            sub.conflated += 1
            self._metrics.stream_conflated.inc()
        elif len(sub.pending) >= sub.queue_bound:
            sub.dropped += 1
            self._metrics.stream_dropped.inc()
            return
        # a conflated entry takes the newer stamp: the frame shows the newest version
        sub.pending[quote.market_id] = (quote, produced_at)
        sub.wake.set()

    def connect(self, websocket: WebSocket) -> Subscriber:
        """Register a new connection."""
        sub = Subscriber(websocket, self._queue_bound)
        self.subscribers.add(sub)
        self._metrics.ws_connections.inc()
        return sub

    def disconnect(self, sub: Subscriber) -> None:
        """Forget a connection and all its subscriptions."""
        for market_id in sub.markets:
            subs = self._by_market.get(market_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._by_market[market_id]
        sub.markets.clear()
        sub.pending.clear()
        if sub in self.subscribers:
            self.subscribers.discard(sub)
            self._metrics.ws_connections.dec()

    def handle(self, sub: Subscriber, raw: str | bytes) -> None:
        """Apply one client message, queueing an ack or an error frame."""
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self._control(sub, _error("invalid_json", "message is not valid JSON"))
            return
        op = message.get("op") if isinstance(message, dict) else None
        ids = message.get("markets") if isinstance(message, dict) else None
        if op not in ("subscribe", "unsubscribe"):
            self._control(sub, _error("invalid_op", "op must be 'subscribe' or 'unsubscribe'"))
            return
        if (
            not isinstance(ids, list)
            or len(ids) > _MAX_MARKETS_PER_MESSAGE
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
        ):
            self._control(
                sub,
                _error(
                    "invalid_markets",
                    f"markets must be a list of at most {_MAX_MARKETS_PER_MESSAGE} integer ids",
                ),
            )
            return
        if op == "subscribe":
            self._subscribe(sub, ids)
        else:
            self._unsubscribe(sub, ids)

    def _subscribe(self, sub: Subscriber, ids: list[int]) -> None:
        known = [i for i in dict.fromkeys(ids) if self._book.quote(i) is not None]
        unknown = [i for i in ids if self._book.quote(i) is None]
        fresh = [i for i in known if i not in sub.markets]
        now = time.time()
        if len(sub.markets) + len(fresh) > self._max_subscriptions:
            self._control(
                sub,
                _error(
                    "too_many_subscriptions",
                    f"at most {self._max_subscriptions} markets per connection",
                ),
            )
            return
        for market_id in fresh:
            sub.markets.add(market_id)
            self._by_market.setdefault(market_id, set()).add(sub)
            quote = self._book.quote(market_id)
            if quote is not None:  # the current price first, then every move
                self._offer(sub, quote, now)
        ack: dict[str, object] = {"type": "subscribed", "markets": known}
        if unknown:
            ack["unknown"] = unknown[:100]
        self._control(sub, orjson.dumps(ack))

    def _unsubscribe(self, sub: Subscriber, ids: list[int]) -> None:
        for market_id in ids:
            if market_id in sub.markets:
                sub.markets.discard(market_id)
                sub.pending.pop(market_id, None)
                subs = self._by_market.get(market_id)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._by_market[market_id]
        self._control(sub, orjson.dumps({"type": "unsubscribed", "markets": ids[:1000]}))

    def _control(self, sub: Subscriber, frame: bytes) -> None:
        sub.control.append(frame)
        sub.wake.set()

    async def send_loop(self, sub: Subscriber) -> None:
        """Drain one connection's control frames and pending odds; heartbeat when idle."""
        websocket = sub.websocket
        next_heartbeat = time.monotonic() + self._heartbeat_s
        while True:
            timeout = max(0.0, next_heartbeat - time.monotonic())
            if not sub.control and not sub.pending:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sub.wake.wait(), timeout)
            sub.wake.clear()
            while sub.control:
                await websocket.send_text(sub.control.popleft().decode())
            while sub.pending:
                market_id = next(iter(sub.pending))
                quote, produced_at = sub.pending.pop(market_id)
                if self._slow_fanout_s:
                    await asyncio.sleep(self._slow_fanout_s)
                await websocket.send_text(_odds_frame(quote, produced_at))
                sub.sent += 1
                self._metrics.stream_sent.inc()
            if time.monotonic() >= next_heartbeat:
                await websocket.send_text(
                    orjson.dumps({"type": "heartbeat", "sent_at": time.time()}).decode()
                )
                self._metrics.stream_sent.inc()
                next_heartbeat = time.monotonic() + self._heartbeat_s


def _odds_frame(quote: Quote, produced_at: float) -> str:
    return orjson.dumps(
        {
            "type": "odds",
            "market_id": quote.market_id,
            "version": quote.version,
            "status": quote.status.value,
            "odds": quote.odds_map(),
            "sent_at": produced_at,
        }
    ).decode()


def _error(code: str, message: str) -> bytes:
    return orjson.dumps({"type": "error", "error": {"code": code, "message": message}})
