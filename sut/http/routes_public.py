"""Public and market routes: health, login, market list and detail, metrics, OpenAPI."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from sut.domain import SPORTS, MarketStatus
from sut.http.context import AppContext
from sut.http.openapi import openapi_document
from sut.http.params import (
    field_str,
    next_cursor,
    path_id,
    query_choice,
    query_cursor,
    query_limit,
    read_json,
)
from sut.http.wire import JSON, iso, market_json

_SPORTS = frozenset(SPORTS)
_STATUSES = frozenset(s.value for s in MarketStatus)


class PublicRoutes:
    """Handlers that need no token (health, login, metrics, OpenAPI) plus markets."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def healthz(self, request: Request) -> Response:
        """Liveness: 200 once the service is started."""
        _ = self.ctx.service  # 503 while starting or stopping
        return JSON({"status": "ok"})

    async def login(self, request: Request) -> Response:
        """Exchange username and password for a signed, expiring token."""
        body = await read_json(request, self.ctx.settings.max_body_bytes)
        username = field_str(body, "username", 64)
        password = field_str(body, "password", 128)
        login = await self.ctx.service.login(username, password)
        return JSON(
            {
                "token": login.token,
                "role": login.user.role.value,
                "user_id": login.user.id,
                "expires_at": iso(login.expires_at),
            }
        )

    async def markets(self, request: Request) -> Response:
        """A keyset page of markets, optionally filtered by sport and status."""
        self.ctx.principal(request)
        limit = query_limit(request)
        after = query_cursor(request, "m")
        sport = query_choice(request, "sport", _SPORTS)
        status = query_choice(request, "status", _STATUSES)
        faults = self.ctx.settings.faults
        page = await self.ctx.service.markets_page(
            sport,
            MarketStatus(status) if status else None,
            after,
            limit,
            n_plus_one=faults.n_plus_one_markets,
            unbounded=faults.unbounded_markets,
        )
        return JSON(
            {
                "items": [market_json(m) for m in page],
                "next_cursor": next_cursor("m", [m.id for m in page], limit),
            }
        )

    async def market(self, request: Request) -> Response:
        """One market with its current odds and version."""
        self.ctx.principal(request)
        market_id = path_id(request)
        market = await self.ctx.service.market(market_id)
        return JSON(market_json(market))

    async def metrics(self, request: Request) -> Response:
        """Prometheus text exposition of this app's registry."""
        return Response(
            self.ctx.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    async def openapi(self, request: Request) -> Response:
        """The OpenAPI 3.1 description of every HTTP route."""
        return JSON(openapi_document(self.ctx.settings))
