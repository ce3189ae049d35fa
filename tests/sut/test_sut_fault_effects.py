"""Effects of the non-latency fault knobs: naive dashboard, wallet lock, slow consumer."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import httpx
import pytest

from sut import Settings
from sut.faults import parse_faults


def _place_some(client: Any, login: Any, bet_body: Any, n: int = 6) -> None:
    for i in range(1, n + 1):
        headers = login(client, f"bettor{i}")
        assert (
            client.post(
                "/bets", json=bet_body(client, headers, stake=i), headers=headers
            ).status_code
            == 201
        )


def _dashboard(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/agents/me/dashboard", headers=headers).json()
    body.pop("as_of")
    return body


def test_naive_dashboard_gives_the_same_numbers_by_another_path(
    settings: Settings, running: Any, login: Any, bet_body: Any
) -> None:
    with running(settings) as client:
        _place_some(client, login, bet_body)
        client.get("/admin/audit", headers=login(client, "admin"))
        fast = _dashboard(client, login(client, "agent1"))
    naive = replace(settings, faults=parse_faults(["naive_dashboard"]))
    with running(naive) as client:
        service = client.app.state.ctx.service
        calls = []
        original = service.storage.naive_totals

        async def counted(agent: int) -> Any:
            calls.append(agent)
            return await original(agent)

        service.storage.naive_totals = counted
        slow = _dashboard(client, login(client, "agent1"))
    assert slow == fast
    assert calls  # the recursive query ran instead of the aggregate read


def test_slow_consumer_makes_dashboards_lag(
    settings: Settings, running: Any, login: Any, bet_body: Any
) -> None:
    lagging = replace(settings, faults=parse_faults(["slow_consumer=100ms"]))
    with running(lagging) as client:
        agent = login(client, "agent1")
        _place_some(client, login, bet_body, n=4)
        stale = _dashboard(client, agent)["turnover"]
        lag_metric = client.get("/metrics").text
        assert client.get("/admin/audit", headers=login(client, "admin")).json()["ok"]
        fresh = _dashboard(client, agent)["turnover"]
    assert stale < fresh == 10.0
    assert "sut_event_bus_pending" in lag_metric


def test_naive_dashboard_is_current_even_when_the_consumer_lags(
    settings: Settings, running: Any, login: Any, bet_body: Any
) -> None:
    both = replace(settings, faults=parse_faults(["slow_consumer=200ms", "naive_dashboard"]))
    with running(both) as client:
        _place_some(client, login, bet_body, n=3)
        assert _dashboard(client, login(client, "agent1"))["turnover"] == 6.0


async def _concurrent_bets(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any], n: int
) -> float:
    start = time.perf_counter()
    responses = await asyncio.gather(
        *(
            client.post("/bets", json={**body, "idempotency_key": f"lock-{i}"}, headers=headers)
            for i in range(n)
        )
    )
    assert {r.status_code for r in responses} == {201}
    return time.perf_counter() - start


@pytest.mark.slow
@pytest.mark.parametrize("locked", [False, True])
def test_global_wallet_lock_serialises_wallet_requests(sut_process: Any, locked: bool) -> None:
    faults = ["--fault", "latency:POST /bets=50ms"] + (
        ["--fault", "global_wallet_lock"] if locked else []
    )
    args = ["--markets", "50", "--bettors", "10", "--agents", "3", "--odds-rate", "0", *faults]
    with sut_process(*args) as (base, _):
        login = httpx.post(
            f"{base}/auth/login", json={"username": "bettor1", "password": "loadtest"}
        )
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        selection = httpx.get(f"{base}/markets/1", headers=headers).json()["selections"][0]
        body = {
            "market_id": 1,
            "selection_id": selection["id"],
            "stake": 1.0,
            "odds": selection["odds"],
        }

        async def run() -> float:
            async with httpx.AsyncClient(
                base_url=base, timeout=30, limits=httpx.Limits(max_connections=20)
            ) as c:
                return await _concurrent_bets(c, headers, body, 10)

        elapsed = asyncio.run(run())
    if locked:
        assert elapsed >= 10 * 0.050 * 0.9  # one at a time, each holding the lock for 50 ms
    else:
        assert elapsed < 10 * 0.050 * 0.6  # the 50 ms sleeps overlap


@pytest.mark.parametrize("ms", [0.1, 0.3, 0.7, 1.5, 4.0])
def test_precise_sleep_adds_small_delays_under_uvloop(ms: float) -> None:
    # uvloop's own timers round to whole milliseconds: asyncio.sleep(0.0003) waits no time
    # and asyncio.sleep(0.0007) about 1.1 ms; a "+0.3 ms" fault must add 0.3 ms
    import uvloop

    from sut.http.instrument import precise_sleep

    async def measure() -> list[float]:
        waits = []
        for _ in range(40):
            started = time.perf_counter()
            await precise_sleep(ms / 1000)
            waits.append((time.perf_counter() - started) * 1000)
        return sorted(waits)

    waits = uvloop.run(measure())
    assert waits[0] >= ms  # never shorter than asked
    assert waits[len(waits) // 2] < ms + 0.4  # and not rounded up to the next millisecond
