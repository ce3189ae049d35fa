"""The OddsWatcher against a stream with a known injected delay: the ``WS odds`` latency it
records is that delay, and the version gaps the stream makes are counted."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from loadgate.histogram import LatencyHistogram
from loadgate.processes import free_port

from ..conftest import python

ROOT = Path(__file__).resolve().parents[2]
DELAY_MS = 80
GAP_EVERY = 10  # every 10th message skips two versions

STREAM = textwrap.dedent(
    f"""
    import asyncio, json, sys, time
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute

    async def login(request):
        return JSONResponse({{"token": "t", "user_id": 7, "role": "bettor"}})

    async def healthz(request):
        return JSONResponse({{"status": "ok"}})

    async def stream(ws):
        await ws.accept()
        sub = json.loads(await ws.receive_text())
        markets = sub["markets"]
        version = {{m: 1 for m in markets}}
        n = 0
        while True:
            market = markets[n % len(markets)]
            n += 1
            version[market] += 3 if n % {GAP_EVERY} == 0 else 1
            sent_at = time.time()  # stamped, then held: the delay the watcher must see
            await asyncio.sleep({DELAY_MS / 1000})
            await ws.send_text(json.dumps({{"type": "odds", "market_id": market,
                "version": version[market], "odds": {{}}, "sent_at": sent_at}}))

    app = Starlette(routes=[Route("/auth/login", login, methods=["POST"]),
                            Route("/healthz", healthz), WebSocketRoute("/stream", stream)])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
    """
)


@pytest.mark.slow
def test_ws_latency_is_the_injected_delay_and_gaps_are_counted(tmp_path: Path) -> None:
    script = tmp_path / "stream.py"
    script.write_text(STREAM)
    port = free_port()
    server = subprocess.Popen([sys.executable, str(script), str(port)])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        record = tmp_path / "recording.json"
        proc = python(
            "-m", "locust", "-f", str(ROOT / "locustfile.py"), "OddsWatcher",
            "--headless", "-u", "3", "-r", "3", "-t", "6s", "--only-summary",
            "--host", f"http://127.0.0.1:{port}", "--loadgate-record", str(record),
            "--watch-markets", "5", "--sut-markets", "5", timeout=60,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(10)
    assert proc.returncode == 0, proc.stderr[-2000:]
    odds = json.loads(record.read_text())["window"]["WS odds"]
    hist = LatencyHistogram.decode(odds["histogram"])
    assert hist.count > 100 and odds["failures"] == 0
    p50, p99 = hist.quantile(0.5) / 1000, hist.quantile(0.99) / 1000
    assert DELAY_MS <= p50 < DELAY_MS + 10, p50
    assert p99 < DELAY_MS + 100, p99  # a shared machine adds the odd hiccup
    messages = hist.count
    assert odds["outcomes"]["gap"] == pytest.approx(messages / GAP_EVERY, rel=0.3)
    assert odds["outcomes"]["conflated"] == 2 * odds["outcomes"]["gap"]
