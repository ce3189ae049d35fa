"""Fixtures for the SUT tests: a small in-process app and a real subprocess server.

Helpers are exposed as fixtures (not imports) so test modules need no sys.path tricks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 for its TestClient; httpx still works and is installed.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from sut import Settings, create_app

Client = TestClient | httpx.Client

REPO = Path(__file__).resolve().parents[2]
SMALL = {"markets": 200, "bettors": 50, "agents": 10}


@contextlib.contextmanager
def running(settings: Settings) -> Iterator[TestClient]:
    """A TestClient with the app's lifespan running."""
    with TestClient(create_app(settings)) as client:
        yield client


def login(
    client: TestClient | httpx.Client, username: str, password: str = "loadtest"
) -> dict[str, str]:
    """Log in and return the Authorization header."""
    response = client.post("/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def bet_body(
    client: TestClient, headers: dict[str, str], on_market: int = 1, **override: Any
) -> dict[str, Any]:
    """A valid bet body on a market's first selection at its current odds."""
    market = client.get(f"/markets/{on_market}", headers=headers).json()
    selection = market["selections"][0]
    body = {
        "market_id": on_market,
        "selection_id": selection["id"],
        "stake": 5.0,
        "odds": selection["odds"],
        "idempotency_key": f"key-{time.monotonic_ns()}",
    }
    body.update(override)
    return body


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def sut_process(
    *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``python -m sut`` on a free port; yield (base URL, process); SIGTERM at exit."""
    port = free_port()
    cmd = [sys.executable, "-m", "sut", "--host", "127.0.0.1", "--port", str(port), *args]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env={**os.environ, **(env or {})}, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"sut exited {proc.returncode}: {proc.stderr.read()!r}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("sut did not become healthy in 30 s")
            time.sleep(0.05)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Small, quiet settings: no odds feed, so prices only change when a test says so."""
    return Settings(db_path=tmp_path / "sut.db", seed=7, odds_rate=0, **SMALL)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A started app with small seed data."""
    with running(settings) as c:
        yield c


@pytest.fixture(name="running", scope="session")
def running_fixture() -> Any:
    """``running(settings)``: a context manager yielding a started TestClient."""
    return running


@pytest.fixture(name="login", scope="session")
def login_fixture() -> Any:
    """``login(client, username)`` -> Authorization header."""
    return login


@pytest.fixture(name="bet_body", scope="session")
def bet_body_fixture() -> Any:
    """``bet_body(client, headers, on_market=1, **override)`` -> a valid bet body."""
    return bet_body


@pytest.fixture(name="sut_process", scope="session")
def sut_process_fixture() -> Any:
    """``sut_process(*args)``: run ``python -m sut`` on a free port, yield (url, proc)."""
    return sut_process
