"""Agent routes: the downline dashboard (pre-aggregated), the downline list and members."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from sut.domain import Role, Totals
from sut.http.context import AppContext
from sut.http.params import next_cursor, path_id, query_cursor, query_limit
from sut.http.wire import JSON, iso, member_json, money


class AgentRoutes:
    """Routes of the agent role; an agent only ever sees its own downline."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def dashboard(self, request: Request) -> Response:
        """Downline PnL, turnover and exposure: an O(1) read of the aggregates."""
        who = self.ctx.principal(request, Role.AGENT)
        service = self.ctx.service
        totals: Totals
        if self.ctx.settings.faults.naive_dashboard:
            totals = await service.naive_dashboard(who.user_id)
        else:
            totals = service.dashboard(who.user_id)
        return JSON(
            {
                "agent_id": who.user_id,
                "downline_bettors": totals.bettors,
                "turnover": money(totals.turnover_cents),
                "pnl": money(totals.pnl_cents),
                "open_exposure": money(totals.open_exposure_cents),
                "as_of": iso(time.time()),
            }
        )

    async def downline(self, request: Request) -> Response:
        """A keyset page (by user id) of the caller's direct and indirect downline."""
        who = self.ctx.principal(request, Role.AGENT)
        limit = query_limit(request)
        after = query_cursor(request, "d")
        page = await self.ctx.service.downline_page(who.user_id, after, limit)
        return JSON(
            {
                "items": [member_json(m) for m in page],
                "next_cursor": next_cursor("d", [m.user_id for m in page], limit),
            }
        )

    async def member(self, request: Request) -> Response:
        """One downline member with its subtree totals, after an ancestry check.

        The check is an ancestors lookup (cached in Redis in the production-like
        profile, invalidated on hierarchy moves).
        """
        who = self.ctx.principal(request, Role.AGENT)
        user, totals = await self.ctx.service.member(who.user_id, path_id(request))
        return JSON(
            {
                "user_id": user.id,
                "username": user.username,
                "role": user.role.value,
                "parent_id": user.parent_id,
                "downline_bettors": totals.bettors,
                "turnover": money(totals.turnover_cents),
                "pnl": money(totals.pnl_cents),
                "open_exposure": money(totals.open_exposure_cents),
            }
        )
