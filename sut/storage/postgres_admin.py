"""Admin write transactions of the PostgreSQL backend: settlement and hierarchy moves.

Each function is a TxRunner body: it runs inside a transaction the runner opened, so a
refusal (raised DomainError) rolls everything back and a deadlock or serialization
failure re-runs it from the start.
"""

from __future__ import annotations

from typing import Any

from sut.domain import (
    Conflict,
    HierarchyMove,
    InvalidRequest,
    MarketStatus,
    NotFound,
    Role,
    SettledBet,
    Settlement,
    payout_cents,
)
from sut.storage.base import MAX_DEPTH


async def settle_market(
    conn: Any, market_id: int, winning_selection_id: int, now: float
) -> Settlement:
    """Settle a market: lock it, pay winners (wallets locked in id order), close it."""
    market = await conn.fetchrow(
        "SELECT status, winning_selection_id FROM markets WHERE id = $1 FOR UPDATE", market_id
    )
    if market is None:
        raise NotFound(f"market {market_id} does not exist")
    if market[0] == MarketStatus.SETTLED.value:
        if market[1] != winning_selection_id:
            raise Conflict(
                "already_settled", f"market {market_id} was settled with selection {market[1]}"
            )
        return Settlement(market_id, winning_selection_id, (), already_settled=True)
    owner = await conn.fetchval(
        "SELECT market_id FROM selections WHERE id = $1", winning_selection_id
    )
    if owner != market_id:
        raise InvalidRequest(f"selection {winning_selection_id} is not part of market {market_id}")
    rows = await conn.fetch(
        "SELECT id, user_id, selection_id, stake_cents, odds_milli FROM bets"
        " WHERE market_id = $1 AND status = 'open' ORDER BY id",
        market_id,
    )
    settled = tuple(
        SettledBet(
            int(bet_id),
            int(user_id),
            int(stake),
            int(odds),
            payout_cents(int(stake), int(odds)) if sel == winning_selection_id else 0,
        )
        for bet_id, user_id, sel, stake, odds in rows
    )
    await conn.execute(
        "UPDATE bets b SET status = v.status, payout_cents = v.payout, settled_at = $4"
        " FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS v(id, status, payout)"
        " WHERE b.id = v.id",
        [b.bet_id for b in settled],
        ["won" if b.payout_cents else "lost" for b in settled],
        [b.payout_cents for b in settled],
        now,
    )
    credits: dict[int, int] = {}
    for b in settled:
        if b.payout_cents:
            credits[b.user_id] = credits.get(b.user_id, 0) + b.payout_cents
    winners = sorted(credits)
    if winners:
        # lock in one global order (user id) so two settlements never deadlock each other
        await conn.execute(
            "SELECT 1 FROM wallets WHERE user_id = ANY($1::int[]) ORDER BY user_id FOR UPDATE",
            winners,
        )
        await conn.execute(
            "UPDATE wallets w SET balance_cents = w.balance_cents + v.amount"
            " FROM unnest($1::int[], $2::bigint[]) AS v(user_id, amount)"
            " WHERE w.user_id = v.user_id",
            winners,
            [credits[u] for u in winners],
        )
    await conn.execute(
        "UPDATE markets SET status = 'settled', winning_selection_id = $2 WHERE id = $1",
        market_id,
        winning_selection_id,
    )
    return Settlement(market_id, winning_selection_id, settled, already_settled=False)


async def move_user(conn: Any, user_id: int, new_parent_id: int) -> HierarchyMove:
    """Re-parent a user under an agent; refuses admins, non-agent parents and cycles."""
    user = await conn.fetchrow("SELECT role, parent_id FROM users WHERE id = $1", user_id)
    parent = await conn.fetchrow("SELECT role FROM users WHERE id = $1", new_parent_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    if parent is None:
        raise NotFound(f"user {new_parent_id} does not exist")
    if user[0] == Role.ADMIN.value:
        raise InvalidRequest("admins are not part of the hierarchy")
    if parent[0] != Role.AGENT.value:
        raise InvalidRequest(f"new parent {new_parent_id} is not an agent")
    above = await conn.fetchval(
        "WITH RECURSIVE up(id, depth) AS (SELECT $1::int, 0 UNION ALL"
        " SELECT u.parent_id, up.depth + 1 FROM users u JOIN up ON u.id = up.id"
        f" WHERE u.parent_id IS NOT NULL AND up.depth < {MAX_DEPTH})"
        " SELECT EXISTS (SELECT 1 FROM up WHERE id = $2)",
        new_parent_id,
        user_id,
    )
    if above:
        raise Conflict("hierarchy_cycle", f"user {user_id} is above {new_parent_id}")
    await conn.execute("UPDATE users SET parent_id = $1 WHERE id = $2", new_parent_id, user_id)
    return HierarchyMove(user_id, user[1], new_parent_id)
