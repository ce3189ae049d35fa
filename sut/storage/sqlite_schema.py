"""SQLite schema and the bulk seed writer (kept apart from the query code)."""

from __future__ import annotations

import sqlite3

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
    balance_cents INTEGER NOT NULL CHECK (balance_cents >= 0),
    deposits_cents INTEGER NOT NULL,
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
CREATE INDEX IF NOT EXISTS selections_market ON selections (market_id);
CREATE TABLE IF NOT EXISTS bets (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    market_id INTEGER NOT NULL,
    selection_id INTEGER NOT NULL,
    stake_cents INTEGER NOT NULL CHECK (stake_cents > 0),
    odds_milli INTEGER NOT NULL,
    status TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    placed_at REAL NOT NULL,
    payout_cents INTEGER NOT NULL DEFAULT 0,
    settled_at REAL,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS bets_market ON bets (market_id, status);
CREATE INDEX IF NOT EXISTS bets_user ON bets (user_id, id);
"""

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-16000",
)


def write_seed(conn: sqlite3.Connection, data: SeedData) -> None:
    """Insert all seed rows with executemany inside the caller's transaction."""
    conn.executemany(
        "INSERT INTO users (id, username, role, parent_id, password_hash) VALUES (?, ?, ?, ?, ?)",
        [(u.id, u.username, u.role.value, u.parent_id, u.password_hash) for u in data.users],
    )
    conn.executemany(
        "INSERT INTO wallets (user_id, balance_cents, deposits_cents, currency)"
        " VALUES (?, ?, ?, 'EUR')",
        [
            (u.id, data.initial_balance_cents, data.initial_balance_cents)
            for u in data.users
            if u.role is Role.BETTOR
        ],
    )
    conn.executemany(
        "INSERT INTO markets (id, sport, name, status, version) VALUES (?, ?, ?, ?, ?)",
        [(m.id, m.sport, m.name, m.status.value, m.version) for m in data.markets],
    )
    conn.executemany(
        "INSERT INTO selections (id, market_id, name, odds_milli) VALUES (?, ?, ?, ?)",
        [(s.id, m.id, s.name, s.odds_milli) for m in data.markets for s in m.selections],
    )
