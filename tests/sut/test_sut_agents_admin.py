"""Agent and admin routes: dashboards, downline, settlement, moves, audit, roles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from starlette.testclient import TestClient

# Small seed: 10 agents = 1 master (agent1) > 1 agent (agent2) > 8 sub-agents (agent3..10),
# 50 bettors spread over the sub-agents.


@pytest.fixture
def as_(client: TestClient, login: Any) -> Any:
    cache: dict[str, dict[str, str]] = {}

    def headers(user: str) -> dict[str, str]:
        if user not in cache:
            cache[user] = login(client, user)
        return cache[user]

    return headers


def user_id(client: TestClient, user: str) -> int:
    body = client.post("/auth/login", json={"username": user, "password": "loadtest"}).json()
    value: int = body["user_id"]
    return value


def parent_of(client: TestClient, as_: Any, user: str) -> int:
    uid = user_id(client, user)
    items = client.get("/agents/me/downline?limit=200", headers=as_("agent1")).json()["items"]
    parent: int = next(m["parent_id"] for m in items if m["user_id"] == uid)
    return parent


def place(
    client: TestClient, as_: Any, bet_body: Any, user: str, stake: float, market: int = 1
) -> dict[str, Any]:
    headers = as_(user)
    response = client.post(
        "/bets", json=bet_body(client, headers, on_market=market, stake=stake), headers=headers
    )
    assert response.status_code == 201, response.text
    bet: dict[str, Any] = response.json()
    return bet


def dashboard(client: TestClient, as_: Any, agent: str) -> dict[str, Any]:
    response = client.get("/agents/me/dashboard", headers=as_(agent))
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def audit(client: TestClient, as_: Any) -> dict[str, Any]:
    response = client.get("/admin/audit", headers=as_("admin"))
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_master_dashboard_covers_every_bettor(client: TestClient, as_: Any, bet_body: Any) -> None:
    place(client, as_, bet_body, "bettor1", 10)
    place(client, as_, bet_body, "bettor2", 20)
    client.get("/admin/audit", headers=as_("admin"))  # drains the event bus
    body = dashboard(client, as_, "agent1")
    assert set(body) == {
        "agent_id",
        "downline_bettors",
        "turnover",
        "pnl",
        "open_exposure",
        "as_of",
    }
    assert body["downline_bettors"] == 50
    assert body["turnover"] == 30.0
    assert body["pnl"] == 0.0
    assert body["open_exposure"] > 0


def test_sub_agent_sees_only_its_downline(client: TestClient, as_: Any) -> None:
    sub = dashboard(client, as_, "agent3")
    assert 0 < sub["downline_bettors"] < 50
    items = client.get("/agents/me/downline?limit=200", headers=as_("agent3")).json()["items"]
    assert len(items) == sub["downline_bettors"]
    assert all(m["role"] == "bettor" and m["depth"] == 1 for m in items)


def test_downline_pages_are_bounded_and_complete(client: TestClient, as_: Any) -> None:
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": "7", **({"cursor": cursor} if cursor else {})}
        body = client.get("/agents/me/downline", params=params, headers=as_("agent1")).json()
        assert len(body["items"]) <= 7
        seen += [m["user_id"] for m in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 50 + 9  # every bettor and the agents below agent1
    assert seen == sorted(seen)


@pytest.mark.parametrize(
    ("user", "path"),
    [
        ("bettor1", "/agents/me/dashboard"),
        ("bettor1", "/agents/me/downline"),
        ("bettor1", "/admin/audit"),
        ("agent1", "/admin/audit"),
        ("agent1", "/wallet"),
        ("agent1", "/bets"),
        ("admin", "/agents/me/dashboard"),
    ],
)
def test_roles_are_enforced(client: TestClient, as_: Any, user: str, path: str) -> None:
    response = client.get(path, headers=as_(user))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("user", ["bettor1", "agent1"])
def test_admin_writes_need_admin(client: TestClient, as_: Any, user: str) -> None:
    settle = client.post(
        "/admin/markets/1/settle", json={"winning_selection_id": 1}, headers=as_(user)
    )
    move = client.post(
        "/admin/hierarchy/move", json={"user_id": 60, "new_parent_id": 4}, headers=as_(user)
    )
    assert (settle.status_code, move.status_code) == (403, 403)


def test_settlement_pays_winners_and_is_idempotent(
    client: TestClient, as_: Any, bet_body: Any
) -> None:
    winner = place(client, as_, bet_body, "bettor1", 10, market=3)
    market = client.get("/markets/3", headers=as_("bettor2")).json()
    loser_sel = market["selections"][1]
    response = client.post(
        "/bets",
        json={
            "market_id": 3,
            "selection_id": loser_sel["id"],
            "stake": 4,
            "odds": loser_sel["odds"],
            "idempotency_key": "l",
        },
        headers=as_("bettor2"),
    )
    assert response.status_code == 201
    body = {"winning_selection_id": winner["selection_id"]}
    first = client.post("/admin/markets/3/settle", json=body, headers=as_("admin")).json()
    again = client.post("/admin/markets/3/settle", json=body, headers=as_("admin")).json()
    assert (first["settled_bets"], first["already_settled"]) == (2, False)
    assert (again["settled_bets"], again["already_settled"]) == (0, True)
    payout = int(1000 * winner["odds"]) / 100  # floor to the cent, like the SUT
    assert client.get("/wallet", headers=as_("bettor1")).json()["balance"] == pytest.approx(
        990 + payout
    )
    assert client.get("/wallet", headers=as_("bettor2")).json()["balance"] == 996.0
    bets = client.get("/bets", headers=as_("bettor1")).json()["items"]
    assert bets[0]["status"] == "won" and bets[0]["payout"] == pytest.approx(payout)
    assert client.get("/markets/3", headers=as_("bettor1")).json()["status"] == "settled"
    result = audit(client, as_)
    assert result["ok"], result
    master = dashboard(client, as_, "agent1")
    assert master["pnl"] == pytest.approx(4 - (payout - 10))
    assert master["open_exposure"] == 0.0
    other = client.post(
        "/admin/markets/3/settle",
        json={"winning_selection_id": loser_sel["id"]},
        headers=as_("admin"),
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "already_settled"


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/admin/markets/999999/settle", {"winning_selection_id": 1}, 404),
        ("/admin/markets/1/settle", {"winning_selection_id": 999}, 422),
        ("/admin/markets/1/settle", {"winning_selection_id": "1"}, 422),
        ("/admin/markets/1/settle", {}, 422),
        ("/admin/markets/x/settle", {"winning_selection_id": 1}, 404),
    ],
)
def test_settle_errors(
    client: TestClient, as_: Any, path: str, body: dict[str, Any], status: int
) -> None:
    assert client.post(path, json=body, headers=as_("admin")).status_code == status


def test_moving_a_bettor_moves_its_totals(client: TestClient, as_: Any, bet_body: Any) -> None:
    place(client, as_, bet_body, "bettor1", 25)
    old_parent = parent_of(client, as_, "bettor1")
    new_agent = "agent4" if old_parent != user_id(client, "agent4") else "agent5"
    new_parent = user_id(client, new_agent)
    client.get("/admin/audit", headers=as_("admin"))
    before_new = dashboard(client, as_, new_agent)
    response = client.post(
        "/admin/hierarchy/move",
        json={"user_id": user_id(client, "bettor1"), "new_parent_id": new_parent},
        headers=as_("admin"),
    )
    assert response.status_code == 200
    assert response.json()["old_parent_id"] == old_parent
    result = audit(client, as_)
    assert result["ok"], result
    after_new = dashboard(client, as_, new_agent)
    assert after_new["downline_bettors"] == before_new["downline_bettors"] + 1
    assert after_new["turnover"] == before_new["turnover"] + 25
    assert dashboard(client, as_, "agent1")["turnover"] == 25.0


def test_moving_an_agent_subtree_keeps_the_audit_green(
    client: TestClient, as_: Any, bet_body: Any
) -> None:
    for i in range(1, 11):
        place(client, as_, bet_body, f"bettor{i}", i)
    # agent2 (level 2) -> under agent1 is its current place; move a sub-agent under another
    move = client.post(
        "/admin/hierarchy/move",
        json={"user_id": user_id(client, "agent3"), "new_parent_id": user_id(client, "agent4")},
        headers=as_("admin"),
    )
    assert move.status_code == 200
    result = audit(client, as_)
    assert result["ok"], result
    assert (
        dashboard(client, as_, "agent4")["downline_bettors"]
        > dashboard(client, as_, "agent3")["downline_bettors"]
    )


@pytest.mark.parametrize(
    ("mover", "target", "status", "code"),
    [
        ("agent1", "agent3", 409, "hierarchy_cycle"),
        ("agent2", "agent2", 409, "hierarchy_cycle"),
        ("bettor1", "bettor2", 422, "invalid_request"),
        ("admin", "agent3", 422, "invalid_request"),
    ],
)
def test_bad_moves_are_refused(
    client: TestClient, as_: Any, mover: str, target: str, status: int, code: str
) -> None:
    response = client.post(
        "/admin/hierarchy/move",
        json={"user_id": user_id(client, mover), "new_parent_id": user_id(client, target)},
        headers=as_("admin"),
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert audit(client, as_)["ok"]


def test_move_unknown_user_is_404(client: TestClient, as_: Any) -> None:
    response = client.post(
        "/admin/hierarchy/move", json={"user_id": 999_999, "new_parent_id": 2}, headers=as_("admin")
    )
    assert response.status_code == 404


def test_audit_lists_every_invariant(client: TestClient, as_: Any) -> None:
    result = audit(client, as_)
    names = {c["name"] for c in result["checks"]}
    assert {
        "money_conserved",
        "no_negative_wallet",
        "one_bet_per_idempotency_key",
        "aggregates_match_bets",
    } <= names
    assert result["ok"] is True


def test_audit_catches_a_corrupted_aggregate(client: TestClient, as_: Any, bet_body: Any) -> None:
    place(client, as_, bet_body, "bettor1", 10)
    audit(client, as_)
    aggregator = client.app.state.ctx.service.aggregator  # type: ignore[attr-defined]
    aggregator._totals[user_id(client, "agent1")].turnover_cents += 1
    result = audit(client, as_)
    assert result["ok"] is False
    failed = {c["name"] for c in result["checks"] if not c["ok"]}
    assert failed == {"aggregates_match_bets"}


def test_poison_event_goes_to_the_dead_letter_queue(client: TestClient, as_: Any) -> None:
    from sut.events import BetPlaced

    service = client.app.state.ctx.service  # type: ignore[attr-defined]
    poison = BetPlaced(bettor_id=987_654, stake_cents=100, exposure_cents=50, at=0.0)
    client.portal.call(service.bus.publish, poison)  # type: ignore[attr-defined]
    result = audit(client, as_)
    assert service.bus.dead_letters[0].error.startswith("UnknownUser")
    assert {c["name"] for c in result["checks"] if not c["ok"]} == {"no_dead_letters"}
    assert "sut_dlq_size 1.0" in client.get("/metrics").text


def test_metrics_expose_the_promised_series(client: TestClient, as_: Any) -> None:
    client.get("/markets/1", headers=as_("bettor1"))
    text = client.get("/metrics").text
    for name in [
        'sut_http_request_duration_seconds_bucket{le="0.001",method="GET",route="/markets/{id}"}',
        "sut_http_requests_in_flight",
        "sut_ws_connections",
        "sut_stream_messages_sent_total",
        "sut_stream_messages_conflated_total",
        "sut_stream_messages_dropped_total",
        "sut_event_bus_lag_seconds",
        "sut_dlq_size",
        "sut_db_retries",
    ]:
        assert name in text, name


def test_openapi_describes_every_route(client: TestClient) -> None:
    from sut.app import route_table

    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    table = route_table(client.app.state.ctx)  # type: ignore[attr-defined]
    for method, template, _, _ in table:
        assert method.lower() in doc["paths"][template], (method, template)
    assert set(doc["paths"]) == {t for _, t, _, _ in table}
    schemas = doc["components"]["schemas"]
    assert {"Market", "Bet", "Error", "Dashboard"} <= set(schemas)
