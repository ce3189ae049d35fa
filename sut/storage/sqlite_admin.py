"""Admin write transactions of the SQLite backend: settlement and hierarchy moves.

Each function runs inside the caller's ``BEGIN IMMEDIATE`` transaction on the writer
connection, so a refusal (raised DomainError) rolls everything back.
"""

from __future__ import annotations

import sqlite3

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


def settle_market(
    conn: sqlite3.Connection, market_id: int, winning_selection_id: int, now: float
) -> Settlement:
    """Settle a market: pay winners, close losers, mark it settled."""
    market = conn.execute(
        "SELECT status, winning_selection_id FROM markets WHERE id = ?", (market_id,)
    ).fetchone()
    if market is None:
        raise NotFound(f"market {market_id} does not exist")
    if market[0] == MarketStatus.SETTLED.value:
        if market[1] != winning_selection_id:
            raise Conflict(
                "already_settled",
                f"market {market_id} was settled with selection {market[1]}",
            )
        return Settlement(market_id, winning_selection_id, (), already_settled=True)
    owner = conn.execute(
        "SELECT market_id FROM selections WHERE id = ?", (winning_selection_id,)
    ).fetchone()
    if owner is None or owner[0] != market_id:
        raise InvalidRequest(f"selection {winning_selection_id} is not part of market {market_id}")
    rows = conn.execute(
        "SELECT id, user_id, selection_id, stake_cents, odds_milli FROM bets"
        " WHERE market_id = ? AND status = 'open' ORDER BY id",
        (market_id,),
    ).fetchall()
    settled = tuple(
        SettledBet(
            bet_id,
            user_id,
            stake,
            odds,
            payout_cents(stake, odds) if sel == winning_selection_id else 0,
        )
        for bet_id, user_id, sel, stake, odds in rows
    )
    conn.executemany(
        "UPDATE bets SET status = ?, payout_cents = ?, settled_at = ? WHERE id = ?",
        [("won" if b.payout_cents else "lost", b.payout_cents, now, b.bet_id) for b in settled],
    )
    conn.executemany(
        "UPDATE wallets SET balance_cents = balance_cents + ? WHERE user_id = ?",
        [(b.payout_cents, b.user_id) for b in settled if b.payout_cents],
    )
    conn.execute(
        "UPDATE markets SET status = 'settled', winning_selection_id = ? WHERE id = ?",
        (winning_selection_id, market_id),
    )
    return Settlement(market_id, winning_selection_id, settled, already_settled=False)


def move_user(conn: sqlite3.Connection, user_id: int, new_parent_id: int) -> HierarchyMove:
    """Re-parent a user under an agent; refuses admins, non-agent parents and cycles."""
    user = conn.execute("SELECT role, parent_id FROM users WHERE id = ?", (user_id,)).fetchone()
    parent = conn.execute("SELECT role FROM users WHERE id = ?", (new_parent_id,)).fetchone()
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    if parent is None:
        raise NotFound(f"user {new_parent_id} does not exist")
    if user[0] == Role.ADMIN.value:
        raise InvalidRequest("admins are not part of the hierarchy")
    if parent[0] != Role.AGENT.value:
        raise InvalidRequest(f"new parent {new_parent_id} is not an agent")
    ancestors = conn.execute(
        "WITH RECURSIVE up(id) AS (SELECT ? UNION ALL"
        " SELECT u.parent_id FROM users u JOIN up ON u.id = up.id"
        " WHERE u.parent_id IS NOT NULL) SELECT id FROM up",
        (new_parent_id,),
    ).fetchall()
    if any(row[0] == user_id for row in ancestors):
        raise Conflict("hierarchy_cycle", f"user {user_id} is above {new_parent_id}")
    conn.execute("UPDATE users SET parent_id = ? WHERE id = ?", (new_parent_id, user_id))
    return HierarchyMove(user_id, user[1], new_parent_id)
