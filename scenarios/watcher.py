"""OddsWatcher: one persistent WebSocket per person, subscribed to a slice of the markets.

For every odds message it records the latency from the server's ``sent_at`` to receipt as the
``WS odds`` entry (through Locust's request event, so it lands in the same exact histograms
and gets its own budgets). Versions are tracked per market: a jump means the server conflated
(or, under backpressure, dropped) updates in between — counted as the ``gap`` outcome (messages
after a jump) and ``conflated`` (versions skipped); a version going back is ``out_of_order``.
Connecting is the ``WS connect`` entry; every connection after the first is a ``reconnect``.

websocket-client is plain blocking sockets, which Locust's gevent monkey-patching makes
cooperative: thousands of watchers share one process. Memory per watcher is bounded by its
subscriptions (one int per market).
"""

from __future__ import annotations

import itertools
import time
from typing import Any, ClassVar

import orjson
import websocket
from locust import task
from locust.user.task import LOCUST_STATE_STOPPING

from scenarios import stamps
from scenarios.base import LoggedInUser, option
from scenarios.weights import (
    WATCHER_MARKETS,
    WATCHER_RECONNECT_PAUSE_S,
    WATCHER_RECV_TIMEOUT_S,
)
from scenarios.wsframes import OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, FrameError, FrameReader

SUBSCRIBE_BATCH = 1000  # the SUT's limit per subscribe message
READ_BLOCK = 65_536


def stream_url(host: str, explicit: str) -> str:
    """``--ws-url`` if given, else the host's ``/stream`` with ws(s)."""
    if explicit:
        return explicit
    return host.replace("http", "ws", 1).rstrip("/") + "/stream"


def markets_for(index: int, per: int, total: int) -> list[int]:
    """Watcher ``index``'s slice: consecutive ids, wrapping, so N watchers cover N*per markets."""
    first = (index * per) % total
    return [(first + i) % total + 1 for i in range(min(per, total))]


class OddsWatcher(LoggedInUser):
    """A person with the live odds screen open."""

    role = "bettor"
    arrivals = False  # a push stream, not requests: the open model does not apply
    _numbers: ClassVar[itertools.count[int]] = itertools.count()

    def wait_time(self) -> float:
        return WATCHER_RECONNECT_PAUSE_S  # only between connections

    def on_start(self) -> None:
        super().on_start()
        workers = max(1, int(option(self, "expect_workers", 1) or 1))
        worker = max(0, int(getattr(self.environment.runner, "worker_index", 0) or 0))
        self.number = next(self._numbers) * workers + worker
        self.ws: websocket.WebSocket | None = None
        self.connections = 0
        self.versions: dict[int, int] = {}

    def on_stop(self) -> None:
        self._close()

    def _close(self) -> None:
        if self.ws is not None:
            ws, self.ws = self.ws, None
            ws.close(timeout=1)

    @task
    def watch(self) -> None:
        """Connect, subscribe and receive until the connection breaks (then reconnect)."""
        if not self._connect():
            return
        try:
            self._receive()
        finally:
            self._close()

    def _connect(self) -> bool:
        url = stream_url(self.host or "", option(self, "ws_url", ""))
        markets = markets_for(
            self.number,
            int(option(self, "watch_markets", WATCHER_MARKETS)),
            int(option(self, "sut_markets", 20_000)),
        )
        began = time.time()
        context: dict[str, Any] = {"outcome": "reconnect"} if self.connections else {}
        error: Exception | None = None
        try:
            self.ws = websocket.create_connection(
                f"{url}?token={self.token}",
                timeout=WATCHER_RECV_TIMEOUT_S,
                enable_multithread=False,
                # orjson rejects invalid UTF-8 when it parses the frame; websocket-client's own
                # check is pure Python and was a tenth of the generator's time at match day
                skip_utf8_validation=True,
            )
            for i in range(0, len(markets), SUBSCRIBE_BATCH):
                self.ws.send(
                    orjson.dumps({"op": "subscribe", "markets": markets[i : i + SUBSCRIBE_BATCH]})
                )
        except (websocket.WebSocketException, OSError) as exc:
            error = exc
            self._close()
        self.connections += 1
        self._fire("connect", (time.time() - began) * 1000, 0, began, error, context)
        return error is None

    def _receive(self) -> None:
        """Read frames straight off the socket (see :mod:`scenarios.wsframes`) until the
        connection breaks or the user stops."""
        ws = self.ws
        assert ws is not None
        sock = ws.sock
        if sock is None:
            return
        # the kernel's receive stamp tells each message's wait for this generator (plain ws)
        stamped = getattr(sock, "cipher", None) is None and stamps.enable(sock)  # not on TLS
        reader = FrameReader()
        while self._state != LOCUST_STATE_STOPPING:  # a graceful stop ends the session
            arrived = None
            try:
                if stamped:
                    data, arrived = stamps.recv(sock, READ_BLOCK)
                else:
                    data = sock.recv(READ_BLOCK)
                if not data:
                    raise ConnectionError("the server closed the stream")
                messages = reader.feed(data)
            except (OSError, FrameError) as exc:
                self._fire("odds", 0.0, 0, time.time(), exc, {})
                return
            now = time.time()
            delay = max(0.0, now - arrived) * 1000 if arrived is not None else None
            for opcode, payload in messages:
                if opcode in (OP_TEXT, OP_BINARY):
                    self._message(payload, now, delay)
                elif opcode == OP_PING:
                    ws.pong(payload)
                elif opcode == OP_CLOSE:
                    self._fire(
                        "odds", 0.0, 0, now, ConnectionError("the server closed the stream"), {}
                    )
                    return

    def _message(self, frame: bytes, now: float, delay: float | None) -> None:
        msg = orjson.loads(frame)
        kind = msg.get("type")
        if kind != "odds":
            if kind == "error":
                self._fire("odds", 0.0, len(frame), now, RuntimeError(str(msg["error"])), {})
            return
        sent_at = float(msg["sent_at"])
        market, version = msg["market_id"], msg["version"]
        versions = self.versions
        last = versions.get(market)
        context: dict[str, Any] = {}
        if last is not None:
            if version > last + 1:
                context = {"outcome": "gap", "outcomes": {"conflated": version - last - 1}}
            elif version <= last:
                context = {"outcome": "out_of_order"}
        if last is None or version > last:
            versions[market] = version
        latency_ms = max(0.0, now - sent_at) * 1000  # same clock on one machine
        self._fire("odds", latency_ms, len(frame), sent_at, None, context, delay)

    def _fire(
        self,
        name: str,
        response_time: float,
        length: int,
        start_time: float,
        exception: Exception | None,
        context: dict[str, Any],
        generator_delay_ms: float | None = None,
    ) -> None:
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=response_time,
            response_length=length,
            exception=exception,
            context=context,
            start_time=start_time,
            url=None,
            response=None,
            generator_delay_ms=generator_delay_ms,
        )
