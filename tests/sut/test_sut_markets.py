"""Market list (keyset pagination, bounds, filters) and market detail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from starlette.testclient import TestClient


@pytest.fixture
def headers(client: TestClient, login: Any) -> dict[str, str]:
    return login(client, "bettor1")


def test_pages_walk_every_market_once(client: TestClient, headers: dict[str, str]) -> None:
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "60", **({"cursor": cursor} if cursor else {})}
        body = client.get("/markets", params=params, headers=headers).json()
        seen += [m["id"] for m in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(1, 201))
    assert pages == 4


def test_default_limit_is_50(client: TestClient, headers: dict[str, str]) -> None:
    body = client.get("/markets", headers=headers).json()
    assert len(body["items"]) == 50
    assert isinstance(body["next_cursor"], str)


@pytest.mark.parametrize("limit", ["0", "201", "-1", "abc", "1.5", "99999999999999999999"])
def test_limit_out_of_bounds_is_422(
    client: TestClient, headers: dict[str, str], limit: str
) -> None:
    response = client.get("/markets", params={"limit": limit}, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_limit"


@pytest.mark.parametrize("limit", ["1", "200"])
def test_limit_bounds_are_inclusive(
    client: TestClient, headers: dict[str, str], limit: str
) -> None:
    body = client.get("/markets", params={"limit": limit}, headers=headers).json()
    assert len(body["items"]) == int(limit)


@pytest.mark.parametrize("cursor", ["!!!", "bm90LWEtY3Vyc29y", "Yjox", "x" * 100])
def test_bad_cursor_is_422(client: TestClient, headers: dict[str, str], cursor: str) -> None:
    # "Yjox" is a valid cursor of the bets list ("b:1"), not of markets
    response = client.get("/markets", params={"cursor": cursor}, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_cursor"


def test_sport_filter(client: TestClient, headers: dict[str, str]) -> None:
    body = client.get("/markets", params={"sport": "tennis", "limit": "200"}, headers=headers)
    items = body.json()["items"]
    assert items
    assert {m["sport"] for m in items} == {"tennis"}


@pytest.mark.parametrize(("name", "value"), [("sport", "chess"), ("status", "weird")])
def test_unknown_filter_is_422(
    client: TestClient, headers: dict[str, str], name: str, value: str
) -> None:
    response = client.get("/markets", params={name: value}, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_filter"


def test_market_detail(client: TestClient, headers: dict[str, str]) -> None:
    market = client.get("/markets/1", headers=headers).json()
    assert set(market) == {"id", "sport", "name", "status", "version", "selections"}
    assert market["status"] == "open"
    assert market["version"] >= 1
    assert 2 <= len(market["selections"]) <= 3
    for selection in market["selections"]:
        assert set(selection) == {"id", "name", "odds"}
        assert selection["odds"] > 1.0


@pytest.mark.parametrize("market_id", ["999999", "0", "abc", "1e3", "9" * 40])
def test_unknown_market_is_404(client: TestClient, headers: dict[str, str], market_id: str) -> None:
    response = client.get(f"/markets/{market_id}", headers=headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
