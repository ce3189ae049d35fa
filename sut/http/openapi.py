"""The OpenAPI 3.1 document served at ``/openapi.json``.

Hand-written from small builders rather than generated from docstrings: the wire shapes
live in sut/http/wire.py and a test checks every served route is described here.
"""

from __future__ import annotations

from sut.settings import Settings

Schema = dict[str, object]

_INT: Schema = {"type": "integer", "minimum": 1}
_NUM: Schema = {"type": "number"}
_STR: Schema = {"type": "string"}
_TIME: Schema = {"type": "string", "format": "date-time"}
_NULLABLE_STR: Schema = {"type": ["string", "null"]}


def _obj(props: dict[str, Schema], required: list[str] | None = None) -> Schema:
    return {"type": "object", "properties": props, "required": required or list(props)}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(item: str) -> Schema:
    return _obj({"items": {"type": "array", "items": _ref(item)}, "next_cursor": _NULLABLE_STR})


def _components(settings: Settings) -> dict[str, Schema]:
    stake = {
        "type": "number",
        "minimum": settings.min_stake_cents / 100,
        "maximum": settings.max_stake_cents / 100,
        "multipleOf": 0.01,
    }
    return {
        "Error": _obj(
            {
                "error": _obj(
                    {"code": _STR, "message": _STR, "current_odds": _NUM, "version": _INT},
                    ["code", "message"],
                )
            }
        ),
        "Login": _obj({"username": _STR, "password": _STR}),
        "Token": _obj(
            {
                "token": _STR,
                "role": {"enum": ["bettor", "agent", "admin"]},
                "user_id": _INT,
                "expires_at": _TIME,
            }
        ),
        "Selection": _obj({"id": _INT, "name": _STR, "odds": _NUM}),
        "Market": _obj(
            {
                "id": _INT,
                "sport": _STR,
                "name": _STR,
                "status": _STR,
                "version": _INT,
                "selections": {"type": "array", "items": _ref("Selection")},
            }
        ),
        "MarketPage": _page("Market"),
        "BetRequest": _obj(
            {
                "market_id": _INT,
                "selection_id": _INT,
                "stake": stake,
                "odds": {"type": "number", "exclusiveMinimum": 1.0},
                "idempotency_key": {"type": "string", "minLength": 1, "maxLength": 64},
            }
        ),
        "Bet": _obj(
            {
                "id": _INT,
                "market_id": _INT,
                "selection_id": _INT,
                "stake": _NUM,
                "odds": _NUM,
                "status": {"enum": ["open", "won", "lost"]},
                "idempotency_key": _STR,
                "placed_at": _TIME,
                "payout": _NUM,
            }
        ),
        "BetPage": _page("Bet"),
        "Wallet": _obj({"user_id": _INT, "balance": _NUM, "currency": _STR}),
        "Dashboard": _obj(
            {
                "agent_id": _INT,
                "downline_bettors": {"type": "integer"},
                "turnover": _NUM,
                "pnl": _NUM,
                "open_exposure": _NUM,
                "as_of": _TIME,
            }
        ),
        "Member": _obj(
            {"user_id": _INT, "username": _STR, "role": _STR, "parent_id": _INT, "depth": _INT}
        ),
        "MemberPage": _page("Member"),
        "MemberDetail": _obj(
            {
                "user_id": _INT,
                "username": _STR,
                "role": _STR,
                "parent_id": _INT,
                "downline_bettors": {"type": "integer"},
                "turnover": _NUM,
                "pnl": _NUM,
                "open_exposure": _NUM,
            }
        ),
        "SettleRequest": _obj({"winning_selection_id": _INT}),
        "Settlement": _obj(
            {
                "market_id": _INT,
                "winning_selection_id": _INT,
                "status": _STR,
                "settled_bets": {"type": "integer"},
                "already_settled": {"type": "boolean"},
            }
        ),
        "MoveRequest": _obj({"user_id": _INT, "new_parent_id": _INT}),
        "Move": _obj(
            {
                "user_id": _INT,
                "old_parent_id": {"type": ["integer", "null"]},
                "new_parent_id": _INT,
            }
        ),
        "Audit": _obj(
            {
                "ok": {"type": "boolean"},
                "checks": {
                    "type": "array",
                    "items": _obj({"name": _STR, "ok": {"type": "boolean"}, "detail": _STR}),
                },
            }
        ),
        "Health": _obj({"status": {"const": "ok"}}),
    }


def _op(
    summary: str,
    ok: str | None,
    *,
    status: str = "200",
    body: str | None = None,
    auth: bool = True,
    errors: tuple[str, ...] = (),
    query: tuple[str, ...] = (),
    path_id: bool = False,
) -> Schema:
    content: Schema = (
        {"application/json": {"schema": _ref(ok)}} if ok else {"text/plain": {"schema": _STR}}
    )
    responses: dict[str, Schema] = {status: {"description": "success", "content": content}}
    for code in (*errors, *(("401",) if auth else ())):
        responses[code] = {
            "description": "error",
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    op: Schema = {"summary": summary, "responses": responses}
    if auth:
        op["security"] = [{"bearer": []}]
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    params: list[Schema] = [
        {"name": name, "in": "query", "required": False, "schema": _QUERY[name]} for name in query
    ]
    if path_id:
        params.insert(0, {"name": "id", "in": "path", "required": True, "schema": _INT})
    if params:
        op["parameters"] = params
    return op


_QUERY: dict[str, Schema] = {
    "cursor": {"type": "string", "maxLength": 64},
    "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
    "sport": _STR,
    "status": {"enum": ["open", "suspended", "closed", "settled"]},
}
_PAGE = ("cursor", "limit")


def openapi_document(settings: Settings) -> dict[str, object]:
    """The OpenAPI description of every HTTP route (the stream is described in info)."""
    paths: dict[str, dict[str, Schema]] = {
        "/healthz": {"get": _op("Liveness", "Health", auth=False)},
        "/auth/login": {
            "post": _op("Log in", "Token", body="Login", auth=False, errors=("400", "422"))
        },
        "/markets": {
            "get": _op(
                "List markets", "MarketPage", errors=("422",), query=("sport", "status", *_PAGE)
            )
        },
        "/markets/{id}": {"get": _op("Market detail", "Market", errors=("404",), path_id=True)},
        "/bets": {
            "post": _op(
                "Place a bet (200 on idempotent replay)",
                "Bet",
                status="201",
                body="BetRequest",
                errors=("400", "403", "404", "409", "413", "422"),
            ),
            "get": _op("Own bets", "BetPage", errors=("403", "422"), query=_PAGE),
        },
        "/wallet": {"get": _op("Own wallet", "Wallet", errors=("403",))},
        "/agents/me/dashboard": {
            "get": _op("Downline PnL, turnover and exposure", "Dashboard", errors=("403",))
        },
        "/agents/me/downline": {
            "get": _op(
                "Direct and indirect downline", "MemberPage", errors=("403", "422"), query=_PAGE
            )
        },
        "/agents/me/downline/{id}": {
            "get": _op(
                "One downline member with its subtree totals (404 outside the downline)",
                "MemberDetail",
                errors=("403", "404"),
                path_id=True,
            )
        },
        "/admin/markets/{id}/settle": {
            "post": _op(
                "Settle a market (idempotent)",
                "Settlement",
                body="SettleRequest",
                errors=("403", "404", "409", "422"),
                path_id=True,
            )
        },
        "/admin/hierarchy/move": {
            "post": _op(
                "Move a user under another agent",
                "Move",
                body="MoveRequest",
                errors=("403", "404", "409", "422"),
            )
        },
        "/admin/audit": {"get": _op("Invariant audit", "Audit", errors=("403",))},
        "/metrics": {"get": _op("Prometheus metrics", None, auth=False)},
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI document"}},
            }
        },
    }
    replay = paths["/bets"]["post"]["responses"]
    assert isinstance(replay, dict)
    replay["200"] = {
        "description": "idempotent replay: the bet placed earlier with this key",
        "content": {"application/json": {"schema": _ref("Bet")}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "loadgate bundled betting SUT",
            "version": "1",
            "description": (
                "Odds stream: WebSocket /stream?token=...; send {op: subscribe|unsubscribe,"
                " markets: [ids]}; receive {type: odds, market_id, version, odds, sent_at}"
                " and {type: heartbeat, sent_at}."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": _components(settings),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
