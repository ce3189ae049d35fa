"""Read-only reporting queries of the SQLite backend: hierarchy, totals, audit sums.

Kept apart from the transactional code in sqlite.py; each function runs on a
connection the caller has already locked (and, where it matters, put in a snapshot).
"""

from __future__ import annotations

import sqlite3

from sut.domain import DownlineMember, MoneyAudit, Role, Totals
from sut.storage.base import MAX_DEPTH

DOWNLINE_CTE = """
WITH RECURSIVE down(id, depth) AS (
    SELECT id, 1 FROM users WHERE parent_id = :agent
    UNION ALL
    SELECT u.id, d.depth + 1 FROM users u JOIN down d ON u.parent_id = d.id
)
"""
TOTALS_SELECT = """
SELECT COALESCE(SUM(stake_cents), 0),
       COALESCE(SUM(CASE status WHEN 'lost' THEN stake_cents
                                WHEN 'won' THEN stake_cents - payout_cents ELSE 0 END), 0),
       COALESCE(SUM(CASE status WHEN 'open'
                    THEN stake_cents * odds_milli / 1000 - stake_cents ELSE 0 END), 0)
"""


def downline_page(
    conn: sqlite3.Connection, agent_id: int, after_id: int, limit: int
) -> list[DownlineMember]:
    """A keyset page (by user id) of an agent's whole downline."""
    rows = conn.execute(
        DOWNLINE_CTE + "SELECT u.id, u.username, u.role, u.parent_id, d.depth"
        " FROM down d JOIN users u ON u.id = d.id WHERE u.id > :after"
        " ORDER BY u.id LIMIT :limit",
        {"agent": agent_id, "after": after_id, "limit": limit},
    ).fetchall()
    return [DownlineMember(r[0], r[1], Role(r[2]), r[3], r[4]) for r in rows]


ANCESTORS_SQL = f"""
WITH RECURSIVE up(id, parent_id, depth) AS (
    SELECT id, parent_id, 0 FROM users WHERE id = ?
    UNION ALL
    SELECT u.id, u.parent_id, up.depth + 1 FROM users u JOIN up ON u.id = up.parent_id
    WHERE up.depth < {MAX_DEPTH}
)
SELECT id FROM up WHERE depth > 0 ORDER BY depth
"""


def ancestors(conn: sqlite3.Connection, user_id: int) -> list[int]:
    """The user's agents, nearest first (depth-bounded)."""
    return [row[0] for row in conn.execute(ANCESTORS_SQL, (user_id,))]


def hierarchy(conn: sqlite3.Connection) -> list[tuple[int, Role, int | None]]:
    """Every user as (id, role, parent)."""
    rows = conn.execute("SELECT id, role, parent_id FROM users ORDER BY id").fetchall()
    return [(r[0], Role(r[1]), r[2]) for r in rows]


def bettor_totals(conn: sqlite3.Connection) -> dict[int, Totals]:
    """Per-bettor totals straight from the bets table."""
    totals = {
        row[0]: Totals(bettors=1)
        for row in conn.execute("SELECT id FROM users WHERE role = 'bettor'")
    }
    for user_id, turnover, pnl, exposure in conn.execute(
        TOTALS_SELECT.replace("SELECT", "SELECT user_id,", 1) + " FROM bets GROUP BY user_id"
    ):
        if user_id in totals:
            totals[user_id] = Totals(1, turnover, pnl, exposure)
    return totals


def naive_totals(conn: sqlite3.Connection, agent_id: int) -> Totals:
    """Downline totals by recursive query: the slow path behind ``naive_dashboard``."""
    bettors = conn.execute(
        DOWNLINE_CTE + "SELECT COUNT(*) FROM down d JOIN users u ON u.id = d.id"
        " WHERE u.role = 'bettor'",
        {"agent": agent_id},
    ).fetchone()[0]
    turnover, pnl, exposure = conn.execute(
        DOWNLINE_CTE + TOTALS_SELECT + " FROM bets WHERE user_id IN (SELECT id FROM down)",
        {"agent": agent_id},
    ).fetchone()
    return Totals(bettors, turnover, pnl, exposure)


def money_audit(conn: sqlite3.Connection) -> MoneyAudit:
    """All money sums from one read snapshot."""
    deposits, balances, negative = conn.execute(
        "SELECT COALESCE(SUM(deposits_cents), 0), COALESCE(SUM(balance_cents), 0),"
        " COALESCE(SUM(balance_cents < 0), 0) FROM wallets"
    ).fetchone()
    open_stakes, settled_stakes, payouts = conn.execute(
        "SELECT COALESCE(SUM(CASE status WHEN 'open' THEN stake_cents END), 0),"
        " COALESCE(SUM(CASE WHEN status != 'open' THEN stake_cents END), 0),"
        " COALESCE(SUM(payout_cents), 0) FROM bets"
    ).fetchone()
    duplicates = conn.execute(
        "SELECT COUNT(*) FROM (SELECT 1 FROM bets GROUP BY user_id, idempotency_key"
        " HAVING COUNT(*) > 1)"
    ).fetchone()[0]
    return MoneyAudit(
        deposits, balances, open_stakes, settled_stakes, payouts, negative, duplicates
    )
