"""Bet placement: success, idempotency, odds, funds, closed markets, validation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from starlette.testclient import TestClient


@pytest.fixture
def headers(client: TestClient, login: Any) -> dict[str, str]:
    return login(client, "bettor1")


def balance(client: TestClient, headers: dict[str, str]) -> float:
    value: float = client.get("/wallet", headers=headers).json()["balance"]
    return value


def test_place_bet_201_debits_wallet(
    client: TestClient, headers: dict[str, str], bet_body: Any
) -> None:
    body = bet_body(client, headers, stake=5.0)
    response = client.post("/bets", json=body, headers=headers)
    assert response.status_code == 201
    bet = response.json()
    assert {"id", "market_id", "selection_id", "stake", "odds", "status", "idempotency_key",
            "placed_at"} <= set(bet)  # fmt: skip
    assert bet["stake"] == 5.0
    assert bet["status"] == "open"
    assert bet["idempotency_key"] == body["idempotency_key"]
    assert balance(client, headers) == 995.0


def test_wallet_shape(client: TestClient, headers: dict[str, str]) -> None:
    wallet = client.get("/wallet", headers=headers).json()
    assert wallet == {"user_id": wallet["user_id"], "balance": 1000.0, "currency": "EUR"}


def test_same_idempotency_key_returns_same_bet_once(
    client: TestClient, headers: dict[str, str], bet_body: Any
) -> None:
    body = bet_body(client, headers, stake=2.5)
    first = client.post("/bets", json=body, headers=headers)
    again = client.post("/bets", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert balance(client, headers) == 997.5
    listed = client.get("/bets", headers=headers).json()["items"]
    assert [b["id"] for b in listed] == [first.json()["id"]]


def test_idempotency_keys_are_per_user(
    client: TestClient, headers: dict[str, str], login: Any, bet_body: Any
) -> None:
    body = bet_body(client, headers, idempotency_key="shared")
    other = login(client, "bettor2")
    a = client.post("/bets", json=body, headers=headers)
    b = client.post("/bets", json=body, headers=other)
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]


def test_odds_changed_carries_current_odds_and_version(
    client: TestClient, headers: dict[str, str], bet_body: Any
) -> None:
    body = bet_body(client, headers)
    quote = client.app.state.ctx.service.book.quote(1)  # type: ignore[attr-defined]
    quote.odds[0] += 500
    quote.version += 1
    response = client.post("/bets", json=body, headers=headers)
    assert response.status_code == 409
    err = response.json()["error"]
    assert err["code"] == "odds_changed"
    assert err["current_odds"] == quote.odds[0] / 1000
    assert err["version"] == quote.version
    assert balance(client, headers) == 1000.0
    market = client.get("/markets/1", headers=headers).json()
    assert market["version"] == quote.version
    assert market["selections"][0]["odds"] == err["current_odds"]


def test_small_odds_drift_is_tolerated(
    client: TestClient, headers: dict[str, str], bet_body: Any
) -> None:
    body = bet_body(client, headers)
    body["odds"] = round(body["odds"] * 1.005, 3)
    response = client.post("/bets", json=body, headers=headers)
    assert response.status_code == 201
    assert response.json()["odds"] != body["odds"]  # recorded at the current price


def test_insufficient_funds_never_goes_below_zero(
    client: TestClient, headers: dict[str, str], bet_body: Any
) -> None:
    assert (
        client.post(
            "/bets", json=bet_body(client, headers, stake=1000), headers=headers
        ).status_code
        == 201
    )
    response = client.post("/bets", json=bet_body(client, headers, stake=0.1), headers=headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert balance(client, headers) == 0.0


def test_bet_on_settled_market_is_market_closed(
    client: TestClient, headers: dict[str, str], login: Any, bet_body: Any
) -> None:
    body = bet_body(client, headers, on_market=2)
    admin = login(client, "admin")
    settled = client.post(
        "/admin/markets/2/settle",
        json={"winning_selection_id": body["selection_id"]},
        headers=admin,
    )
    assert settled.status_code == 200
    response = client.post("/bets", json=body, headers=headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "market_closed"


@pytest.mark.parametrize(
    "override",
    [
        {"stake": 0.09},
        {"stake": 1000.01},
        {"stake": 1.234},
        {"stake": "5"},
        {"stake": True},
        {"stake": None},
        {"stake": 1e308},
        {"stake": -5},
        {"odds": 0.5},
        {"odds": "2.0"},
        {"market_id": "1"},
        {"market_id": 2**70},
        {"market_id": -1},
        {"selection_id": 1.5},
        {"idempotency_key": ""},
        {"idempotency_key": "k" * 65},
        {"idempotency_key": 12},
        {"idempotency_key": "tab\there"},
    ],
)
def test_invalid_bets_are_422(
    client: TestClient, headers: dict[str, str], override: dict[str, Any], bet_body: Any
) -> None:
    response = client.post("/bets", json=bet_body(client, headers, **override), headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert balance(client, headers) == 1000.0


@pytest.mark.parametrize(
    "missing", ["market_id", "selection_id", "stake", "odds", "idempotency_key"]
)
def test_missing_field_is_422(
    client: TestClient, headers: dict[str, str], missing: str, bet_body: Any
) -> None:
    body = bet_body(client, headers)
    del body[missing]
    response = client.post("/bets", json=body, headers=headers)
    assert response.status_code == 422


def test_selection_of_another_market_is_422(
    client: TestClient, headers: dict[str, str], bet_body: Any
) -> None:
    other = client.get("/markets/5", headers=headers).json()["selections"][0]
    body = bet_body(client, headers, selection_id=other["id"])
    assert client.post("/bets", json=body, headers=headers).status_code == 422


def test_unknown_market_is_404(client: TestClient, headers: dict[str, str], bet_body: Any) -> None:
    body = bet_body(client, headers)
    body["market_id"] = 99_999
    assert client.post("/bets", json=body, headers=headers).status_code == 404


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"null", b"[1,2]", b'"text"', b"1e400", b"\xff\xfe", b'{"a": NaN}']
)
def test_malformed_bodies_are_4xx(client: TestClient, headers: dict[str, str], raw: bytes) -> None:
    response = client.post("/bets", content=raw, headers=headers)
    assert response.status_code in (400, 422)
    assert "error" in response.json()


def test_oversized_body_is_413(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post("/bets", content=b"[" + b"1," * 20_000 + b"1]", headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_own_bets_are_paginated(
    client: TestClient, headers: dict[str, str], login: Any, bet_body: Any
) -> None:
    ids = [
        client.post("/bets", json=bet_body(client, headers, stake=1), headers=headers).json()["id"]
        for _ in range(5)
    ]
    first = client.get("/bets", params={"limit": 3}, headers=headers).json()
    second = client.get(
        "/bets", params={"limit": 3, "cursor": first["next_cursor"]}, headers=headers
    ).json()
    assert [b["id"] for b in first["items"] + second["items"]] == ids
    assert second["next_cursor"] is None
    other = login(client, "bettor2")
    assert client.get("/bets", headers=other).json()["items"] == []
