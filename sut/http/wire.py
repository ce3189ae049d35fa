"""Wire formats: orjson responses, JSON errors and the JSON shape of domain objects.

Money leaves the SUT in major units (cents / 100) and odds as decimals (milli / 1000).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.responses import Response

from sut.domain import Bet, DomainError, DownlineMember, Market


class JSON(Response):
    """A JSON response serialised with orjson (several times faster than json)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Serialise with orjson."""
        return orjson.dumps(content)


def error(status: int, code: str, message: str, extra: dict[str, object] | None = None) -> JSON:
    """The one error shape: ``{"error": {"code", "message", ...extra}}``."""
    body: dict[str, object] = {"code": code, "message": message}
    if extra:
        body.update(extra)
    return JSON({"error": body}, status_code=status)


def domain_error(exc: DomainError) -> JSON:
    """Render a DomainError."""
    return error(exc.status, exc.code, exc.message, exc.extra)


def money(cents: int) -> float:
    """Cents to major units for JSON (exact for any realistic amount)."""
    return cents / 100


def iso(ts: float) -> str:
    """Epoch seconds to ISO-8601 UTC with milliseconds and a Z."""
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def market_json(market: Market) -> dict[str, object]:
    """A market with its selections and decimal odds."""
    return {
        "id": market.id,
        "sport": market.sport,
        "name": market.name,
        "status": market.status.value,
        "version": market.version,
        "selections": [
            {"id": s.id, "name": s.name, "odds": s.odds_milli / 1000} for s in market.selections
        ],
    }


def bet_json(bet: Bet) -> dict[str, object]:
    """A bet as the API returns it."""
    return {
        "id": bet.id,
        "market_id": bet.market_id,
        "selection_id": bet.selection_id,
        "stake": money(bet.stake_cents),
        "odds": bet.odds_milli / 1000,
        "status": bet.status.value,
        "idempotency_key": bet.idempotency_key,
        "placed_at": iso(bet.placed_at),
        "payout": money(bet.payout_cents),
    }


def member_json(member: DownlineMember) -> dict[str, object]:
    """A downline member."""
    return {
        "user_id": member.user_id,
        "username": member.username,
        "role": member.role.value,
        "parent_id": member.parent_id,
        "depth": member.depth,
    }
