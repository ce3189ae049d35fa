"""Fixtures for the SUT tests: a small in-process app and a real subprocess server.

Helpers are exposed as fixtures (not imports) so test modules need no sys.path tricks.
The ``settings`` fixture (and so ``client``) is parametrised over both profiles: the
embedded SQLite one and the production-like PostgreSQL + Redis one. The latter runs
against real servers (``SUT_TEST_PG_DSN`` / ``SUT_TEST_REDIS_URL``, default the local
ones CI starts), each test in its own schema and key prefix, dropped afterwards; it is
skipped with the reason when a server is unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 for its TestClient; httpx still works and is installed.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from sut import Settings, create_app
from sut.backends import delete_prefix
from sut.storage.postgres import drop_schema

Client = TestClient | httpx.Client

REPO = Path(__file__).resolve().parents[2]
SMALL = {"markets": 200, "bettors": 50, "agents": 10}
PG_DSN = os.environ.get("SUT_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SUT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.slow)]


@dataclass(frozen=True)
class Servers:
    """Where the production-like profile's servers are, and one run's names on them."""

    pg_dsn: str
    redis_url: str

    def names(self) -> tuple[str, str]:
        """A fresh (schema, key prefix) pair for one test."""
        token = secrets.token_hex(5)
        return f"sut_t{token}", f"sut_t{token}"

    def settings(self, schema: str, prefix: str, **kw: Any) -> Settings:
        """Production-like settings on these servers, quick to redeliver events."""
        base: dict[str, Any] = {"seed": 7, "odds_rate": 0, "claim_idle_s": 0.2, **SMALL}
        return Settings(
            backend="postgres",
            pg_dsn=self.pg_dsn,
            redis_url=self.redis_url,
            schema=schema,
            key_prefix=prefix,
            **{**base, **kw},
        )

    def cleanup(self, schema: str, prefix: str) -> None:
        """Drop a test's schema and keys (idempotent; runs even after a failed test)."""

        async def run() -> None:
            await drop_schema(self.pg_dsn, schema)
            client = aioredis.from_url(self.redis_url)
            try:
                await delete_prefix(client, prefix)
            finally:
                await client.aclose()

        asyncio.run(run())

    def cli_args(self, schema: str, prefix: str) -> list[str]:
        """``python -m sut`` flags for this profile."""
        return ["--backend", "postgres", "--pg-dsn", self.pg_dsn, "--redis-url",
                self.redis_url, "--schema", schema, "--key-prefix", prefix]  # fmt: skip


def _probe(pg_dsn: str, redis_url: str) -> str | None:
    """None when both servers answer, else the reason (shown in the skip)."""

    async def run() -> str | None:
        try:
            conn = await asyncpg.connect(pg_dsn, timeout=3)
            await conn.close()
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            return f"PostgreSQL not reachable at {pg_dsn}: {exc!r}"
        client = aioredis.from_url(redis_url, socket_connect_timeout=3)
        try:
            await client.ping()
        except (OSError, RedisError) as exc:
            return f"Redis not reachable at {redis_url}: {exc!r}"
        finally:
            await client.aclose()
        return None

    return asyncio.run(run())


@pytest.fixture(scope="session")
def servers(part_missing: Callable[[str], NoReturn]) -> Servers:
    """The PostgreSQL and Redis servers; skips (with the reason) when one is unreachable, and
    fails under CI=true."""
    reason = _probe(PG_DSN, REDIS_URL)
    if reason:
        part_missing(reason)
    return Servers(PG_DSN, REDIS_URL)


@pytest.fixture
def pg_names(servers: Servers) -> Iterator[tuple[str, str]]:
    """A fresh (schema, key prefix) on the servers, removed after the test."""
    schema, prefix = servers.names()
    try:
        yield schema, prefix
    finally:
        servers.cleanup(schema, prefix)


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


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The storage profile under test: "sqlite" or "postgres" (with Redis)."""
    name: str = request.param
    return name


@pytest.fixture
def settings(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Settings:
    """Small, quiet settings: no odds feed, so prices only change when a test says so."""
    if backend == "sqlite":
        return Settings(db_path=tmp_path / "sut.db", seed=7, odds_rate=0, **SMALL)
    servers: Servers = request.getfixturevalue("servers")
    schema, prefix = request.getfixturevalue("pg_names")
    return servers.settings(schema, prefix)


@pytest.fixture
def backend_args(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> list[str]:
    """``python -m sut`` flags selecting the profile under test."""
    if backend == "sqlite":
        return ["--db", str(tmp_path / "sut.db")]
    servers: Servers = request.getfixturevalue("servers")
    schema, prefix = request.getfixturevalue("pg_names")
    return servers.cli_args(schema, prefix)


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
