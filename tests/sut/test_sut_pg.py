"""The production-like profile on real servers: durable events, deadlocks, restarts.

Every test here needs PostgreSQL and Redis (the ``servers`` fixture skips, with the
reason, when they are unreachable) and gets its own schema and key prefix.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from sut import Settings, parse_faults
from sut.events import BetPlaced, Event
from sut.events_redis import GROUP, RedisStreamBus

pytestmark = pytest.mark.slow

SMALL = ["--markets", "200", "--bettors", "50", "--agents", "10", "--odds-rate", "0"]


def test_deadlock_fault_needs_postgres() -> None:
    with pytest.raises(ValueError, match="deadlock_wallets"):
        Settings(faults=parse_faults(["deadlock_wallets"]))


def test_profile_really_runs_on_postgres_and_redis(
    servers: Any, pg_names: tuple[str, str], running: Any, login: Any
) -> None:
    from sut.storage.postgres import PostgresStorage

    with running(servers.settings(*pg_names)) as client:
        service = client.app.state.ctx.service
        assert isinstance(service.storage, PostgresStorage)
        assert isinstance(service.bus, RedisStreamBus)
        assert service.storage.schema == pg_names[0]
        assert client.get("/wallet", headers=login(client, "bettor1")).json()["balance"] == 1000


def test_crashed_consumer_events_are_redelivered_to_another(
    servers: Any, pg_names: tuple[str, str]
) -> None:
    """Consumer A takes five events and dies before acknowledging; B gets all five."""

    async def run() -> tuple[list[Event], RedisStreamBus, int]:
        client = aioredis.from_url(servers.redis_url)
        try:
            a = RedisStreamBus(client, pg_names[1], "A", claim_idle_s=0.2)
            b = RedisStreamBus(client, pg_names[1], "B", claim_idle_s=0.2)
            await a.start_after_existing()
            events = [BetPlaced(9, 100 + i, 50, at=0.0) for i in range(5)]
            for event in events:
                await a.publish(event)
            taken = asyncio.Event()

            async def hang(event: Event) -> None:  # takes the batch, never finishes
                taken.set()
                await asyncio.Event().wait()

            crashed = asyncio.create_task(a.consume(hang))
            await asyncio.wait_for(taken.wait(), 5)
            crashed.cancel()  # the consumer dies with five events unacknowledged
            await asyncio.gather(crashed, return_exceptions=True)
            got: list[Event] = []

            async def collect(event: Event) -> None:
                got.append(event)

            survivor = asyncio.create_task(b.consume(collect))
            assert await b.wait_idle(5.0)
            survivor.cancel()
            await asyncio.gather(survivor, return_exceptions=True)
            left = await client.xpending(b.stream, GROUP)
            return got, b, int(left["pending"])
        finally:
            await client.aclose()

    got, b, pending = asyncio.run(run())
    assert sorted(e.stake_cents for e in got if isinstance(e, BetPlaced)) == [
        100, 101, 102, 103, 104,
    ]  # fmt: skip
    assert b.redelivered == 5 and b.handled == 5 and pending == 0


def test_poison_event_lands_in_the_dead_letter_stream(
    servers: Any, pg_names: tuple[str, str]
) -> None:
    async def run() -> tuple[RedisStreamBus, list[Any]]:
        client = aioredis.from_url(servers.redis_url)
        try:
            bus = RedisStreamBus(client, pg_names[1], "C", claim_idle_s=0.1, max_deliveries=3)
            await bus.start_after_existing()
            attempts: list[Event] = []

            async def reject(event: Event) -> None:
                attempts.append(event)
                raise LookupError("unknown bettor")

            task = asyncio.create_task(bus.consume(reject))
            await bus.publish(BetPlaced(404, 1, 1, at=0.0))
            assert await bus.wait_idle(5.0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            dead = await client.xrange(bus.dead_stream)
            assert len(attempts) == 3  # delivered, redelivered twice, then dead-lettered
            return bus, dead
        finally:
            await client.aclose()

    bus, dead = asyncio.run(run())
    assert bus.dead_letter_total == 1 and bus.handled == 0
    assert dead[0][1][b"error"].startswith(b"LookupError")


def _login(base: str, user: str) -> dict[str, str]:
    body = httpx.post(f"{base}/auth/login", json={"username": user, "password": "loadtest"}).json()
    return {"Authorization": f"Bearer {body['token']}"}


def _metric(base: str, name: str) -> float:
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} missing")


async def _bets(base: str, users: list[str], per_user: int) -> list[int]:
    headers = {u: _login(base, u) for u in users}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        market = (await client.get("/markets/1", headers=headers[users[0]])).json()
        sel = market["selections"][0]

        async def one(user: str, i: int) -> int:
            body = {"market_id": 1, "selection_id": sel["id"], "stake": 1.0,
                    "odds": sel["odds"], "idempotency_key": f"{user}-{i}"}  # fmt: skip
            return (await client.post("/bets", json=body, headers=headers[user])).status_code

        jobs = [one(u, i) for u in users for i in range(per_user)]
        return list(await asyncio.gather(*jobs))


def test_deadlock_fault_is_retried_to_success_and_counted(
    sut_process: Any, servers: Any, pg_names: tuple[str, str]
) -> None:
    args = [*SMALL, *servers.cli_args(*pg_names), "--fault", "deadlock_wallets",
            "--pg-deadlock-timeout", "0.05"]  # fmt: skip
    with sut_process(*args) as (base, _):
        codes = asyncio.run(_bets(base, [f"bettor{i}" for i in range(10, 30)], 2))
        assert codes == [201] * 40
        deadlocks = _metric(base, "sut_db_deadlocks")
        assert deadlocks >= 1
        assert _metric(base, "sut_db_retries") >= deadlocks
        assert _metric(base, "sut_db_retries_exhausted") == 0
        audit = httpx.get(f"{base}/admin/audit", headers=_login(base, "admin")).json()
        assert audit["ok"], audit


def test_aggregates_survive_a_crash_and_restart(
    sut_process: Any, servers: Any, pg_names: tuple[str, str]
) -> None:
    args = [*SMALL, *servers.cli_args(*pg_names)]
    with sut_process(*args, "--fault", "slow_consumer=20ms") as (base, proc):
        codes = asyncio.run(_bets(base, ["bettor1", "bettor2", "bettor3"], 10))
        assert codes == [201] * 30
        pending = _metric(base, "sut_event_bus_pending")
        proc.send_signal(signal.SIGKILL)  # events still unconsumed die with it
        proc.wait(10)
    assert pending > 0  # the crash really left work behind
    with sut_process(*args) as (base, _):
        audit = httpx.get(f"{base}/admin/audit", headers=_login(base, "admin")).json()
        assert audit["ok"], audit
        dashboard = httpx.get(f"{base}/agents/me/dashboard", headers=_login(base, "agent1"))
        assert dashboard.json()["turnover"] == 30.0
