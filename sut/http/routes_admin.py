"""Admin routes: settle a market, move a user in the hierarchy, audit the invariants."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from sut.domain import Role
from sut.http.context import AppContext
from sut.http.params import field_int, path_id, read_json
from sut.http.wire import JSON
from sut.service import AuditCheck

_AUDIT_ATTEMPTS = 3
_DRAIN_TIMEOUT_S = 5.0


class AdminRoutes:
    """Routes of the admin role (``/admin/audit`` is what the harness calls after a run)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def settle(self, request: Request) -> Response:
        """Settle a market with its winning selection; idempotent."""
        self.ctx.principal(request, Role.ADMIN)
        market_id = path_id(request)
        body = await read_json(request, self.ctx.settings.max_body_bytes)
        winner = field_int(body, "winning_selection_id")
        settlement = await self.ctx.service.settle(market_id, winner)
        return JSON(
            {
                "market_id": settlement.market_id,
                "winning_selection_id": settlement.winning_selection_id,
                "status": "settled",
                "settled_bets": len(settlement.bets),
                "already_settled": settlement.already_settled,
            }
        )

    async def move(self, request: Request) -> Response:
        """Move a bettor or agent under another agent (no cycles)."""
        self.ctx.principal(request, Role.ADMIN)
        body = await read_json(request, self.ctx.settings.max_body_bytes)
        user_id = field_int(body, "user_id")
        new_parent = field_int(body, "new_parent_id")
        move = await self.ctx.service.move(user_id, new_parent)
        return JSON(
            {
                "user_id": move.user_id,
                "old_parent_id": move.old_parent_id,
                "new_parent_id": move.new_parent_id,
            }
        )

    async def audit(self, request: Request) -> Response:
        """Check every invariant; ``ok`` is true only if all checks hold."""
        self.ctx.principal(request, Role.ADMIN)
        checks = await self.run_checks()
        return JSON(
            {
                "ok": all(c.ok for c in checks),
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
            }
        )

    async def run_checks(self) -> list[AuditCheck]:
        """Money checks from one snapshot, then aggregates vs a recomputation.

        Aggregates are eventually consistent: wait for the bus to drain and retry a few
        times so a request racing the audit does not produce a false alarm.
        """
        service = self.ctx.service
        drained = await service.bus.wait_idle(_DRAIN_TIMEOUT_S)
        checks = await service.money_checks()
        mismatched: list[int] = []
        for _ in range(_AUDIT_ATTEMPTS):
            fresh = await service.recompute()
            await service.bus.wait_idle(_DRAIN_TIMEOUT_S)
            mismatched = service.aggregator.mismatches(fresh)
            if not mismatched:
                break
        checks.append(
            AuditCheck(
                "aggregates_match_bets",
                not mismatched,
                f"{len(mismatched)} users differ: {mismatched[:10]}"
                if mismatched
                else "every agent aggregate equals a recomputation from the bets",
            )
        )
        checks.append(
            AuditCheck(
                "event_bus_drained",
                drained,
                f"pending={service.bus.pending} handled={service.bus.handled}",
            )
        )
        dead = service.bus.dead_letter_total
        checks.append(AuditCheck("no_dead_letters", dead == 0, f"{dead} events dead-lettered"))
        return checks
