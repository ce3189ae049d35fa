"""Real uvicorn subprocess under concurrent load: wallets, idempotency, the stream."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from typing import Any

import httpx
import orjson
import psutil
import pytest
from websockets.sync.client import connect

pytestmark = pytest.mark.slow

SMALL = ["--markets", "200", "--bettors", "50", "--agents", "10"]


def _login(base: str, user: str) -> tuple[int, dict[str, str]]:
    body = httpx.post(f"{base}/auth/login", json={"username": user, "password": "loadtest"}).json()
    return body["user_id"], {"Authorization": f"Bearer {body['token']}"}


def _market(base: str, headers: dict[str, str], market_id: int = 1) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{base}/markets/{market_id}", headers=headers).json()
    return body


async def _burst(
    base: str, headers: dict[str, str], bodies: list[dict[str, Any]]
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        return await asyncio.gather(
            *(client.post("/bets", json=b, headers=headers) for b in bodies)
        )


def test_hundreds_of_concurrent_bets_never_overdraw_a_wallet(
    sut_process: Any, backend_args: list[str]
) -> None:
    with sut_process(*SMALL, *backend_args, "--odds-rate", "0") as (base, _):
        _, headers = _login(base, "bettor7")
        market = _market(base, headers)
        selection = market["selections"][0]
        bodies = [
            {
                "market_id": 1,
                "selection_id": selection["id"],
                "stake": 10.0,
                "odds": selection["odds"],
                "idempotency_key": f"burst-{i}",
            }
            for i in range(300)
        ]
        responses = asyncio.run(_burst(base, headers, bodies))
        codes = [r.status_code for r in responses]
        assert max(codes) < 500
        assert codes.count(201) == 100  # 1,000.00 / 10.00, exactly
        assert codes.count(409) == 200
        assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
            "insufficient_funds"
        }
        assert httpx.get(f"{base}/wallet", headers=headers).json()["balance"] == 0.0
        _, admin = _login(base, "admin")
        audit = httpx.get(f"{base}/admin/audit", headers=admin).json()
        assert audit["ok"], audit


def test_concurrent_retries_of_one_key_place_one_bet(
    sut_process: Any, backend_args: list[str]
) -> None:
    with sut_process(*SMALL, *backend_args, "--odds-rate", "0") as (base, _):
        _, headers = _login(base, "bettor8")
        selection = _market(base, headers, 2)["selections"][0]
        body = {"market_id": 2, "selection_id": selection["id"], "stake": 3.0,
                "odds": selection["odds"], "idempotency_key": "retry-storm"}  # fmt: skip
        responses = asyncio.run(_burst(base, headers, [body] * 80))
        codes = sorted(r.status_code for r in responses)
        assert codes == [200] * 79 + [201]
        assert len({r.json()["id"] for r in responses}) == 1
        assert httpx.get(f"{base}/wallet", headers=headers).json()["balance"] == 997.0
        _, admin = _login(base, "admin")
        assert httpx.get(f"{base}/admin/audit", headers=admin).json()["ok"]


def test_bets_against_a_moving_feed_stay_consistent(
    sut_process: Any, backend_args: list[str]
) -> None:
    """With the feed at full speed, bets either land or get odds_changed; audit holds."""
    with sut_process(*SMALL, *backend_args, "--odds-rate", "5000") as (base, _):
        _, headers = _login(base, "bettor9")

        async def run() -> list[int]:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:

                async def one(i: int) -> int:
                    market = (await client.get(f"/markets/{1 + i % 5}", headers=headers)).json()
                    sel = market["selections"][0]
                    body = {"market_id": market["id"], "selection_id": sel["id"], "stake": 1.0,
                            "odds": sel["odds"], "idempotency_key": f"feed-{i}"}  # fmt: skip
                    return (await client.post("/bets", json=body, headers=headers)).status_code

                return list(await asyncio.gather(*(one(i) for i in range(150))))

        codes = asyncio.run(run())
        assert set(codes) <= {201, 409} and codes.count(201) > 0
        _, admin = _login(base, "admin")
        audit = httpx.get(f"{base}/admin/audit", headers=admin).json()
        assert audit["ok"], audit


def _raw_ws_subscribe(port: int, token: str, markets: list[int]) -> socket.socket:
    """Open a WebSocket by hand, subscribe, and return the socket to never read it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect, or no effect
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /stream?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert b" 101 " in response.split(b"\r\n")[0]
    for start in range(0, len(markets), 1000):  # the server takes 1,000 ids per message
        payload = orjson.dumps({"op": "subscribe", "markets": markets[start : start + 1000]})
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        header = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big") + mask
        sock.sendall(header + masked)
    return sock


def _metric(base: str, name: str) -> float:
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} missing")


def test_slow_stream_client_is_conflated_without_hurting_others(sut_process: Any) -> None:
    with sut_process(
        "--markets", "2000", "--bettors", "10", "--agents", "3", "--odds-rate", "20000"
    ) as (base, proc):
        port = int(base.rsplit(":", 1)[1])
        _, headers = _login(base, "bettor1")
        token = headers["Authorization"].split()[1]
        stuck = _raw_ws_subscribe(port, token, list(range(1, 2001)))
        server = psutil.Process(proc.pid)
        time.sleep(1.5)
        rss_early = server.memory_info().rss
        latencies: list[float] = []
        with connect(f"ws://127.0.0.1:{port}/stream?token={token}") as ws:
            ws.send(orjson.dumps({"op": "subscribe", "markets": [1, 2, 3, 4, 5]}).decode())
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                frame = orjson.loads(ws.recv(timeout=2))
                if frame["type"] == "odds":
                    latencies.append(time.time() - frame["sent_at"])
        rss_late = server.memory_info().rss
        stuck.close()
        latencies.sort()
        assert len(latencies) > 50  # ~10 updates/s on each of 5 markets
        assert latencies[len(latencies) // 2] < 0.1
        assert _metric(base, "sut_stream_messages_conflated_total") > 1000
        assert _metric(base, "sut_stream_messages_dropped_total") > 0
        assert rss_late - rss_early < 30 * 2**20
