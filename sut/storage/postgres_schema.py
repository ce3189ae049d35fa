"""PostgreSQL schema and the bulk seed writer (COPY), kept apart from the query code.

Each SUT run lives in its own schema (``search_path`` is set per connection), so runs
and tests sharing one database never see each other's rows.
"""

from __future__ import annotations

from typing import Any

from sut.domain import Role
from sut.seeding import SeedData

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    parent_id INTEGER,
    password_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS users_parent ON users (parent_id);
CREATE TABLE IF NOT EXISTS wallets (
    user_id INTEGER PRIMARY KEY,
    balance_cents BIGINT NOT NULL CHECK (balance_cents >= 0),
    deposits_cents BIGINT NOT NULL,
    currency TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS markets (
    id INTEGER PRIMARY KEY,
    sport TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    winning_selection_id INTEGER
);
CREATE INDEX IF NOT EXISTS markets_sport ON markets (sport, id);
CREATE TABLE IF NOT EXISTS selections (
    id INTEGER PRIMARY KEY,
    market_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    odds_milli INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS selections_market ON selections (market_id, id);
CREATE TABLE IF NOT EXISTS bets (
    id BIGSERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    market_id INTEGER NOT NULL,
    selection_id INTEGER NOT NULL,
    stake_cents BIGINT NOT NULL CHECK (stake_cents > 0),
    odds_milli INTEGER NOT NULL,
    status TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    placed_at DOUBLE PRECISION NOT NULL,
    payout_cents BIGINT NOT NULL DEFAULT 0,
    settled_at DOUBLE PRECISION,
    CONSTRAINT bets_idempotency UNIQUE (user_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS bets_market ON bets (market_id, status);
CREATE INDEX IF NOT EXISTS bets_user ON bets (user_id, id);
"""

#: The unique constraint whose violation means "a concurrent request with the same
#: idempotency key won": retrying the transaction replays the winner's bet.
IDEMPOTENCY_CONSTRAINT = "bets_idempotency"


async def write_seed(conn: Any, schema: str, data: SeedData) -> None:
    """COPY every seed row inside the caller's transaction (20,000 markets in well under 1 s)."""
    await conn.copy_records_to_table(
        "users",
        schema_name=schema,
        columns=["id", "username", "role", "parent_id", "password_hash"],
        records=[
            (u.id, u.username, u.role.value, u.parent_id, u.password_hash) for u in data.users
        ],
    )
    balance = data.initial_balance_cents
    await conn.copy_records_to_table(
        "wallets",
        schema_name=schema,
        columns=["user_id", "balance_cents", "deposits_cents", "currency"],
        records=[(u.id, balance, balance, "EUR") for u in data.users if u.role is Role.BETTOR],
    )
    await conn.copy_records_to_table(
        "markets",
        schema_name=schema,
        columns=["id", "sport", "name", "status", "version"],
        records=[(m.id, m.sport, m.name, m.status.value, m.version) for m in data.markets],
    )
    await conn.copy_records_to_table(
        "selections",
        schema_name=schema,
        columns=["id", "market_id", "name", "odds_milli"],
        records=[(s.id, m.id, s.name, s.odds_milli) for m in data.markets for s in m.selections],
    )
