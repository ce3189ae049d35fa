"""Deterministic seed data and the shape of the hierarchy."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from sut import Settings
from sut.domain import Role
from sut.seeding import agent_levels, build_seed


def _seed(seed: int) -> Any:
    return build_seed(seed=seed, markets=300, bettors=40, agents=12, password="pw")


def test_same_seed_same_data() -> None:
    assert _seed(5) == _seed(5)


def test_other_seed_other_markets() -> None:
    assert _seed(5).markets != _seed(6).markets


def test_default_hierarchy_is_5_25_225() -> None:
    assert agent_levels(255) == (5, 25, 225)
    assert agent_levels(3) == (1, 1, 1)


def test_markets_have_two_or_three_selections_with_odds() -> None:
    data = _seed(1)
    sports = Counter(m.sport for m in data.markets)
    assert len(sports) >= 4
    for market in data.markets:
        assert 2 <= len(market.selections) <= 3
        assert all(1010 <= s.odds_milli <= 50_000 for s in market.selections)
        assert market.status.value == "open" and market.version == 1


def test_bettors_hang_under_sub_agents() -> None:
    data = build_seed(seed=1, markets=1, bettors=100, agents=255, password="pw")
    by_id = {u.id: u for u in data.users}
    depths = Counter()
    for user in data.users:
        if user.role is Role.BETTOR:
            depth, node = 0, user
            while node.parent_id is not None:
                node = by_id[node.parent_id]
                depth += 1
            depths[depth] += 1
    assert depths == {3: 100}
    names = [u.username for u in data.users]
    assert "admin" in names and "agent255" in names and "bettor100" in names


def test_seeded_databases_are_identical(
    tmp_path: Path, settings: Settings, running: Any, login: Any
) -> None:
    pages = []
    for name in ("a.db", "b.db"):
        with running(replace(settings, db_path=tmp_path / name)) as client:
            headers = login(client, "bettor1")
            pages.append(client.get("/markets?limit=200", headers=headers).json())
    assert pages[0] == pages[1]


def test_existing_database_is_not_reseeded(settings: Settings, running: Any, login: Any) -> None:
    with running(settings) as client:
        headers = login(client, "bettor1")
        body = client.get("/markets/1", headers=headers).json()
        selection = body["selections"][0]
        client.post(
            "/bets",
            headers=headers,
            json={
                "market_id": 1,
                "selection_id": selection["id"],
                "stake": 10,
                "odds": selection["odds"],
                "idempotency_key": "persist",
            },
        )
    with running(settings) as client:
        headers = login(client, "bettor1")
        assert client.get("/wallet", headers=headers).json()["balance"] == 990.0
