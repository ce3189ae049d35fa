"""The odds stream: protocol, fan-out, conflation under backpressure, bounded memory."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from sut.domain import Market, MarketStatus, Selection
from sut.metrics import Metrics
from sut.odds import OddsBook, OddsFeed
from sut.settings import Settings
from sut.stream import StreamHub, Subscriber

if TYPE_CHECKING:
    from starlette.testclient import TestClient


def token(client: TestClient, user: str = "bettor1") -> str:
    body = client.post("/auth/login", json={"username": user, "password": "loadtest"}).json()
    value: str = body["token"]
    return value


def frames_until(ws: Any, kind: str, limit: int = 50) -> list[dict[str, Any]]:
    seen = []
    for _ in range(limit):
        frame: dict[str, Any] = ws.receive_json()
        seen.append(frame)
        if frame["type"] == kind:
            return seen
    raise AssertionError(f"no {kind} frame in {seen}")


def test_subscribe_gets_current_odds_then_moves(client: TestClient) -> None:
    with client.websocket_connect(f"/stream?token={token(client)}") as ws:
        ws.send_text(orjson.dumps({"op": "subscribe", "markets": [1, 2, 999_999]}).decode())
        ack = frames_until(ws, "subscribed")[-1]
        assert ack["markets"] == [1, 2] and ack["unknown"] == [999_999]
        first = {f["market_id"]: f for f in (ws.receive_json(), ws.receive_json())}
        assert set(first) == {1, 2}
        assert first[1]["version"] == 1 and isinstance(first[1]["sent_at"], float)
        feed: OddsFeed = client.app.state.ctx.runtime.feed  # type: ignore[attr-defined]
        book: OddsBook = client.app.state.ctx.service.book  # type: ignore[attr-defined]
        quote = book.quote(1)
        assert quote is not None
        # move market 1 on the event loop thread, as the feed task would
        client.portal.call(lambda: feed._publish([_bump(quote)]))  # type: ignore[union-attr]
        moved = ws.receive_json()
        assert moved["type"] == "odds" and moved["market_id"] == 1 and moved["version"] == 2
        assert moved["odds"] == {
            str(s): o / 1000 for s, o in zip(quote.selection_ids, quote.odds, strict=True)
        }


def _bump(quote: Any) -> Any:
    quote.version += 1
    quote.odds[0] += 10
    return quote


def test_invalid_messages_get_error_frames_and_the_socket_lives(client: TestClient) -> None:
    with client.websocket_connect(f"/stream?token={token(client)}") as ws:
        for bad, code in [
            ("not json", "invalid_json"),
            ('{"op": "dance", "markets": [1]}', "invalid_op"),
            ('{"op": "subscribe", "markets": "1"}', "invalid_markets"),
            ('{"op": "subscribe", "markets": [true]}', "invalid_markets"),
            ("[1, 2]", "invalid_op"),
        ]:
            ws.send_text(bad)
            frame = ws.receive_json()
            assert frame == {
                "type": "error",
                "error": {"code": code, "message": frame["error"]["message"]},
            }
        ws.send_text('{"op": "subscribe", "markets": [3]}')
        assert frames_until(ws, "subscribed")[-1]["markets"] == [3]


def test_bad_token_gets_an_error_frame_and_close(client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with client.websocket_connect("/stream?token=nope") as ws:
        assert ws.receive_json()["error"]["code"] == "invalid_token"
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()


def test_heartbeats_arrive(settings: Settings, running: Any) -> None:
    with (
        running(replace(settings, heartbeat_s=0.05)) as client,
        client.websocket_connect(f"/stream?token={token(client)}") as ws,
    ):
        frame = ws.receive_json()
        assert frame["type"] == "heartbeat" and frame["sent_at"] <= time.time()


def test_unsubscribe_acknowledged(client: TestClient) -> None:
    with client.websocket_connect(f"/stream?token={token(client)}") as ws:
        ws.send_text('{"op": "subscribe", "markets": [4]}')
        frames_until(ws, "subscribed")
        ws.send_text('{"op": "unsubscribe", "markets": [4]}')
        frames = frames_until(ws, "unsubscribed")
        assert frames[-1]["markets"] == [4]
        hub: StreamHub = client.app.state.ctx.hub  # type: ignore[attr-defined]
        assert all(4 not in sub.markets for sub in hub.subscribers)


# --- the hub in isolation: a socket that never drains ---------------------------------


class StuckSocket:
    """A WebSocket whose client stopped reading: every send blocks forever."""

    def __init__(self) -> None:
        self.sent = 0

    async def send_text(self, text: str) -> None:
        self.sent += 1
        await asyncio.Event().wait()


class FastSocket:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.received_at: list[float] = []

    async def send_text(self, text: str) -> None:
        self.frames.append(orjson.loads(text))
        self.received_at.append(time.time())


def _book(markets: int) -> OddsBook:
    return OddsBook.from_markets(
        Market(i, "football", f"m{i}", MarketStatus.OPEN, 1, (Selection(i * 10, "a", 2000),))
        for i in range(1, markets + 1)
    )


def test_slow_subscriber_is_conflated_and_bounded_while_others_keep_up() -> None:
    async def scenario() -> tuple[Subscriber, Subscriber, Metrics, list[float]]:
        book, metrics = _book(500), Metrics()
        hub = StreamHub(book, metrics, queue_bound=64, max_subscriptions=1000, heartbeat_s=60)
        slow = hub.connect(StuckSocket())  # type: ignore[arg-type]
        fast = hub.connect(FastSocket())  # type: ignore[arg-type]
        hub.handle(slow, orjson.dumps({"op": "subscribe", "markets": list(range(1, 501))}))
        hub.handle(fast, b'{"op": "subscribe", "markets": [1, 2, 3]}')
        tasks = [asyncio.create_task(hub.send_loop(s)) for s in (slow, fast)]
        feed = OddsFeed(book, rate=0, tick_s=1, seed=1, publish=hub.publish)
        sizes = []
        for _ in range(200):
            feed.step(100)
            sizes.append(len(slow.pending))
            await asyncio.sleep(0)
        for task in tasks:
            task.cancel()
        return slow, fast, metrics, [float(s) for s in sizes]

    slow, fast, metrics, sizes = asyncio.run(scenario())
    assert max(sizes) <= 64  # bounded whatever the update volume
    assert slow.conflated > 1000 and slow.dropped > 0
    socket = fast.websocket
    assert isinstance(socket, FastSocket)
    odds = [f for f in socket.frames if f["type"] == "odds"]
    versions = {f["market_id"]: f["version"] for f in odds}
    book_versions = {m: v for m, v in versions.items()}
    assert len(odds) > 3 and set(book_versions) == {1, 2, 3}
    assert fast.pending == {}  # the fast client is fully caught up
    assert b"sut_stream_messages_conflated_total" in metrics.render()


def test_slow_fanout_fault_delays_each_frame() -> None:
    async def deliver(delay_s: float) -> float:
        book = _book(5)
        hub = StreamHub(book, Metrics(), 64, 100, 60, slow_fanout_s=delay_s)
        socket = FastSocket()
        sub = hub.connect(socket)  # type: ignore[arg-type]
        task = asyncio.create_task(hub.send_loop(sub))
        start = time.perf_counter()
        hub.handle(sub, b'{"op": "subscribe", "markets": [1, 2, 3, 4, 5]}')
        while len([f for f in socket.frames if f["type"] == "odds"]) < 5:
            await asyncio.sleep(0.001)
        task.cancel()
        return time.perf_counter() - start

    assert asyncio.run(deliver(0.02)) - asyncio.run(deliver(0.0)) >= 5 * 0.02 * 0.8


def test_slow_fanout_shows_as_latency_at_the_client() -> None:
    """``sent_at`` is when the update was produced, so a delayed fan-out is visible."""

    async def latencies(delay_s: float) -> list[float]:
        book = _book(5)
        hub = StreamHub(book, Metrics(), 64, 100, 60, slow_fanout_s=delay_s)
        socket = FastSocket()
        sub = hub.connect(socket)  # type: ignore[arg-type]
        hub.handle(sub, b'{"op": "subscribe", "markets": [1, 2, 3, 4, 5]}')
        task = asyncio.create_task(hub.send_loop(sub))
        while len([f for f in socket.frames if f["type"] == "odds"]) < 5:
            await asyncio.sleep(0.001)
        moved = OddsFeed(book, rate=0, tick_s=1, seed=1, publish=hub.publish).step(20)
        expected = 5 + len({q.market_id for q in moved})  # conflated to one per market
        deadline = time.monotonic() + 10
        while len([f for f in socket.frames if f["type"] == "odds"]) < expected:
            assert time.monotonic() < deadline, "frames never arrived"
            await asyncio.sleep(0.001)
        task.cancel()
        return [
            received - frame["sent_at"]
            for frame, received in zip(socket.frames, socket.received_at, strict=True)
            if frame["type"] == "odds"
        ]

    quiet, slow = asyncio.run(latencies(0.0)), asyncio.run(latencies(0.02))
    # frames queued behind k others wait k+1 delays: the last of 5 waited ~100 ms
    assert max(slow) >= 5 * 0.02 * 0.8
    assert sorted(slow)[len(slow) // 2] >= 0.02 * 0.8
    assert max(slow) > max(quiet) + 5 * 0.02 * 0.5
