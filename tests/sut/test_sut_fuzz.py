"""Hypothesis fuzzing of the HTTP API: whatever comes in, nothing answers 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sut import Settings

if TYPE_CHECKING:
    from starlette.testclient import TestClient

JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=80),
)
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ["market_id", "selection_id", "stake", "odds", "idempotency_key", "username",
          "password", "winning_selection_id", "user_id", "new_parent_id"]  # fmt: skip
BODY = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), JSON_LEAF | JSON, max_size=6),
    JSON,
)
QUERY = st.dictionaries(
    st.sampled_from(["limit", "cursor", "sport", "status", "x"]), st.text(max_size=30), max_size=3
)
ROUTES = [
    ("POST", "/auth/login"),
    ("POST", "/bets"),
    ("POST", "/admin/markets/1/settle"),
    ("POST", "/admin/hierarchy/move"),
    ("GET", "/markets"),
    ("GET", "/bets"),
    ("GET", "/agents/me/downline"),
]


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory, running: Any) -> Iterator[TestClient]:
    db = Path(tmp_path_factory.mktemp("fuzz")) / "sut.db"
    with running(Settings(db_path=db, markets=50, bettors=10, agents=3, odds_rate=0)) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(fuzz_client: TestClient) -> dict[str, dict[str, str]]:
    out = {}
    for user in ("bettor1", "agent1", "admin"):
        body = fuzz_client.post("/auth/login", json={"username": user, "password": "loadtest"})
        out[user] = {"Authorization": f"Bearer {body.json()['token']}"}
    return out


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(
    route=st.sampled_from(ROUTES), body=BODY, user=st.sampled_from(["bettor1", "agent1", "admin"])
)
def test_json_bodies_never_5xx(
    fuzz_client: TestClient, tokens: Any, route: Any, body: Any, user: str
) -> None:
    method, path = route
    response = fuzz_client.request(
        method, path, content=json.dumps(body).encode(), headers=tokens[user]
    )
    assert response.status_code < 500, (route, body, response.text)
    assert "error" in response.json() or response.status_code in (200, 201)


@FUZZ
@given(
    route=st.sampled_from(ROUTES),
    raw=st.binary(max_size=200),
    user=st.sampled_from(["bettor1", "admin"]),
)
def test_raw_bytes_never_5xx(
    fuzz_client: TestClient, tokens: Any, route: Any, raw: bytes, user: str
) -> None:
    method, path = route
    response = fuzz_client.request(method, path, content=raw, headers=tokens[user])
    assert response.status_code < 500, (route, raw, response.text)


@FUZZ
@given(route=st.sampled_from(ROUTES), query=QUERY, user=st.sampled_from(["bettor1", "agent1"]))
def test_query_strings_never_5xx(
    fuzz_client: TestClient, tokens: Any, route: Any, query: Any, user: str
) -> None:
    response = fuzz_client.get(route[1], params=query, headers=tokens[user])
    assert response.status_code < 500, (route, query, response.text)


@FUZZ
@given(
    segment=st.text(min_size=1, max_size=40).filter(
        lambda s: "/" not in s and "?" not in s and "#" not in s
    )
)
def test_path_ids_never_5xx(fuzz_client: TestClient, tokens: Any, segment: str) -> None:
    segment = quote(segment, safe="")
    for path in (f"/markets/{segment}", f"/admin/markets/{segment}/settle"):
        method = "GET" if path.startswith("/markets") else "POST"
        response = fuzz_client.request(
            method, path, json={"winning_selection_id": 1}, headers=tokens["admin"]
        )
        assert response.status_code < 500, (path, response.text)


@FUZZ
@given(header=st.binary(max_size=120))
def test_authorization_headers_never_5xx(fuzz_client: TestClient, header: bytes) -> None:
    header = header.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"")
    response = fuzz_client.get("/wallet", headers={"Authorization": b"Bearer " + header})
    assert response.status_code in (401, 403)
