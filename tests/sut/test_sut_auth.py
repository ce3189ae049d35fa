"""Login, tokens and role checks."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from sut.domain import Role

if TYPE_CHECKING:
    from starlette.testclient import TestClient


def test_login_returns_signed_token_with_role(client: TestClient) -> None:
    body = client.post("/auth/login", json={"username": "bettor1", "password": "loadtest"}).json()
    assert body["role"] == "bettor"
    assert isinstance(body["user_id"], int)
    assert body["expires_at"].endswith("Z")
    assert body["token"].count(".") == 3


@pytest.mark.parametrize(("user", "role"), [("agent1", "agent"), ("admin", "admin")])
def test_roles_of_seeded_users(client: TestClient, user: str, role: str) -> None:
    body = client.post("/auth/login", json={"username": user, "password": "loadtest"}).json()
    assert body["role"] == role


@pytest.mark.parametrize(
    "creds",
    [
        {"username": "bettor1", "password": "wrong"},
        {"username": "nobody", "password": "loadtest"},
    ],
)
def test_bad_credentials_are_401(client: TestClient, creds: dict[str, str]) -> None:
    response = client.post("/auth/login", json=creds)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


@pytest.mark.parametrize(
    "body", [{}, {"username": 1, "password": "x"}, {"username": "a" * 500, "password": "x"}, []]
)
def test_malformed_login_is_422(client: TestClient, body: object) -> None:
    response = client.post("/auth/login", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("path", ["/markets", "/markets/1", "/wallet", "/bets"])
def test_routes_require_a_token(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("token", ["garbage", "1.bettor.9999999999.forged", "é" * 10, "a" * 300])
def test_invalid_tokens_are_401(client: TestClient, token: str) -> None:
    header = f"Bearer {token}".encode()  # raw bytes: non-ASCII must not crash auth
    response = client.get("/wallet", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


def test_expired_token_is_401(client: TestClient) -> None:
    signer = client.app.state.ctx.signer  # type: ignore[attr-defined]
    token, _ = signer.issue(12, Role.BETTOR, now=time.time() - 7200)
    response = client.get("/wallet", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"


def test_token_from_another_secret_is_rejected(client: TestClient) -> None:
    from sut.auth import TokenSigner

    token, _ = TokenSigner(b"other" * 8, 60).issue(12, Role.BETTOR, now=time.time())
    response = client.get("/wallet", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_only_bettors_place_bets(client: TestClient, login: Any) -> None:
    headers = login(client, "agent1")
    response = client.post("/bets", json={}, headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
