"""Read-only reporting queries of the PostgreSQL backend: hierarchy, totals, audit sums.

Request-path reads (ancestors, downline pages) are bounded: a depth limit on every
recursion and a LIMIT on every page. The whole-table reads (hierarchy, bettor totals,
audit sums) serve the aggregator rebuild and the audit only.
"""

from __future__ import annotations

from typing import Any

from sut.domain import DownlineMember, MoneyAudit, Role, Totals
from sut.storage.base import MAX_DEPTH

DOWNLINE_CTE = f"""
WITH RECURSIVE down(id, depth) AS (
    SELECT id, 1 FROM users WHERE parent_id = $1
    UNION ALL
    SELECT u.id, d.depth + 1 FROM users u JOIN down d ON u.parent_id = d.id
    WHERE d.depth < {MAX_DEPTH}
)
"""
ANCESTORS = f"""
WITH RECURSIVE up(id, parent_id, depth) AS (
    SELECT id, parent_id, 0 FROM users WHERE id = $1
    UNION ALL
    SELECT u.id, u.parent_id, up.depth + 1 FROM users u JOIN up ON u.id = up.parent_id
    WHERE up.depth < {MAX_DEPTH}
)
SELECT id FROM up WHERE depth > 0 ORDER BY depth
"""
TOTALS_SELECT = """
SELECT COALESCE(SUM(stake_cents), 0)::bigint,
       COALESCE(SUM(CASE status WHEN 'lost' THEN stake_cents
                                WHEN 'won' THEN stake_cents - payout_cents ELSE 0 END), 0)::bigint,
       COALESCE(SUM(CASE status WHEN 'open'
                    THEN stake_cents * odds_milli / 1000 - stake_cents ELSE 0 END), 0)::bigint
"""


async def ancestors(pool: Any, user_id: int) -> list[int]:
    """The user's agents, nearest first."""
    return [int(r[0]) for r in await pool.fetch(ANCESTORS, user_id)]


async def downline_page(
    pool: Any, agent_id: int, after_id: int, limit: int
) -> list[DownlineMember]:
    """A keyset page (by user id) of an agent's whole downline."""
    rows = await pool.fetch(
        DOWNLINE_CTE + "SELECT u.id, u.username, u.role, u.parent_id, d.depth"
        " FROM down d JOIN users u ON u.id = d.id WHERE u.id > $2 ORDER BY u.id LIMIT $3",
        agent_id,
        after_id,
        limit,
    )
    return [DownlineMember(r[0], r[1], Role(r[2]), r[3], r[4]) for r in rows]


async def hierarchy(pool: Any) -> list[tuple[int, Role, int | None]]:
    """Every user as (id, role, parent)."""
    rows = await pool.fetch("SELECT id, role, parent_id FROM users ORDER BY id")
    return [(int(r[0]), Role(r[1]), r[2]) for r in rows]


async def bettor_totals(pool: Any) -> dict[int, Totals]:
    """Per-bettor totals straight from the bets table, from one snapshot."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        users = await conn.fetch("SELECT id FROM users WHERE role = 'bettor'")
        rows = await conn.fetch(
            TOTALS_SELECT.replace("SELECT", "SELECT user_id,", 1) + " FROM bets GROUP BY user_id"
        )
    totals = {int(r[0]): Totals(bettors=1) for r in users}
    for user_id, turnover, pnl, exposure in rows:
        if user_id in totals:
            totals[user_id] = Totals(1, int(turnover), int(pnl), int(exposure))
    return totals


async def naive_totals(pool: Any, agent_id: int) -> Totals:
    """Downline totals by recursive query: the slow path behind ``naive_dashboard``."""
    async with pool.acquire() as conn:
        bettors = await conn.fetchval(
            DOWNLINE_CTE + "SELECT COUNT(*) FROM down d JOIN users u ON u.id = d.id"
            " WHERE u.role = 'bettor'",
            agent_id,
        )
        row = await conn.fetchrow(
            DOWNLINE_CTE + TOTALS_SELECT + " FROM bets WHERE user_id IN (SELECT id FROM down)",
            agent_id,
        )
    return Totals(int(bettors), int(row[0]), int(row[1]), int(row[2]))


async def money_audit(conn: Any) -> MoneyAudit:
    """All money sums; the caller runs this in a REPEATABLE READ snapshot."""
    wallets = await conn.fetchrow(
        "SELECT COALESCE(SUM(deposits_cents), 0)::bigint, COALESCE(SUM(balance_cents), 0)::bigint,"
        " COUNT(*) FILTER (WHERE balance_cents < 0) FROM wallets"
    )
    bets = await conn.fetchrow(
        "SELECT COALESCE(SUM(stake_cents) FILTER (WHERE status = 'open'), 0)::bigint,"
        " COALESCE(SUM(stake_cents) FILTER (WHERE status <> 'open'), 0)::bigint,"
        " COALESCE(SUM(payout_cents), 0)::bigint FROM bets"
    )
    duplicates = await conn.fetchval(
        "SELECT COUNT(*) FROM (SELECT 1 FROM bets GROUP BY user_id, idempotency_key"
        " HAVING COUNT(*) > 1) d"
    )
    return MoneyAudit(
        int(wallets[0]),
        int(wallets[1]),
        int(bets[0]),
        int(bets[1]),
        int(bets[2]),
        int(wallets[2]),
        int(duplicates),
    )
