"""The downline member route: an ancestry check (Redis-cached in the PostgreSQL profile)
that follows hierarchy moves, and the unbounded-query fault's same-answer guarantee."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sut import Settings, parse_faults

if TYPE_CHECKING:
    from starlette.testclient import TestClient


def _uid(client: TestClient, user: str) -> int:
    body = client.post("/auth/login", json={"username": user, "password": "loadtest"}).json()
    value: int = body["user_id"]
    return value


def _member(client: TestClient, login: Any, agent: str, user_id: int) -> int:
    response = client.get(f"/agents/me/downline/{user_id}", headers=login(client, agent))
    if response.status_code == 200:
        assert response.json()["user_id"] == user_id
    return response.status_code


def test_member_follows_hierarchy_moves(
    client: TestClient, login: Any, bet_body: Any, backend: str
) -> None:
    # small seed: agent1 > agent2 > agent3..agent10; bettor1 under agent3
    bettor = _uid(client, "bettor1")
    headers = login(client, "bettor1")
    assert client.post("/bets", json=bet_body(client, headers, stake=7.0), headers=headers)
    before = {a: _member(client, login, a, bettor) for a in ("agent1", "agent3", "agent4")}
    again = {a: _member(client, login, a, bettor) for a in ("agent1", "agent3", "agent4")}
    assert before == again == {"agent1": 200, "agent3": 200, "agent4": 404}
    moved = client.post(
        "/admin/hierarchy/move",
        json={"user_id": bettor, "new_parent_id": _uid(client, "agent4")},
        headers=login(client, "admin"),
    )
    assert moved.status_code == 200
    after = {a: _member(client, login, a, bettor) for a in ("agent1", "agent3", "agent4")}
    assert after == {"agent1": 200, "agent3": 404, "agent4": 200}
    detail = client.get(f"/agents/me/downline/{bettor}", headers=login(client, "agent4")).json()
    assert detail["turnover"] == 7.0 and detail["parent_id"] == _uid(client, "agent4")
    hits = next(
        float(line.split()[1])
        for line in client.get("/metrics").text.splitlines()
        if line.startswith("sut_hierarchy_cache_hits ")
    )
    assert hits > 0 if backend == "postgres" else hits == 0


def test_member_of_another_branch_or_unknown_is_404(client: TestClient, login: Any) -> None:
    agent = login(client, "agent3")
    assert (
        client.get(f"/agents/me/downline/{_uid(client, 'agent1')}", headers=agent).status_code
        == 404
    )
    assert client.get("/agents/me/downline/999999", headers=agent).status_code == 404
    bettor = login(client, "bettor1")
    assert client.get("/agents/me/downline/1", headers=bettor).status_code == 403


def test_unbounded_markets_returns_the_same_page(
    settings: Settings, running: Any, login: Any
) -> None:
    pages = []
    for specs in ([], ["unbounded_markets"]):
        with running(replace(settings, faults=parse_faults(specs))) as client:
            headers = login(client, "bettor1")
            first = client.get("/markets?limit=20&sport=tennis", headers=headers).json()
            cursor = first["next_cursor"]
            second = client.get(f"/markets?limit=20&cursor={cursor}", headers=headers).json()
            pages.append((first, second))
    assert pages[0] == pages[1]
    assert len(pages[0][0]["items"]) == 20
