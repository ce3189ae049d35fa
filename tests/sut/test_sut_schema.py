"""The SQL schema is written once per dialect (their types and defaults differ); both must
create the same tables with the same columns, nullability and indexes."""

from __future__ import annotations

import asyncio
import sqlite3

import asyncpg

from sut.storage import postgres_schema, sqlite_schema

from .conftest import Servers


def _sqlite() -> dict[str, dict[str, bool]]:
    """table -> column -> NOT NULL (a primary key counts as not null)."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(sqlite_schema.SCHEMA)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {
        t: {row[1]: bool(row[3] or row[5]) for row in conn.execute(f"PRAGMA table_info({t})")}
        for t in tables
    }


def _sqlite_indexes() -> set[str]:
    conn = sqlite3.connect(":memory:")
    conn.executescript(sqlite_schema.SCHEMA)
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
    return {r[0] for r in rows}


def _postgres(dsn: str, schema: str) -> tuple[dict[str, dict[str, bool]], set[str]]:
    async def run() -> tuple[dict[str, dict[str, bool]], set[str]]:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'CREATE SCHEMA "{schema}"')
            await conn.execute(f'SET search_path TO "{schema}"')
            await conn.execute(postgres_schema.SCHEMA)
            rows = await conn.fetch(
                "SELECT table_name, column_name, is_nullable FROM information_schema.columns "
                "WHERE table_schema = $1",
                schema,
            )
            indexes = await conn.fetch(
                "SELECT indexname FROM pg_indexes WHERE schemaname = $1 "
                "AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'",
                schema,
            )
        finally:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.close()
        tables: dict[str, dict[str, bool]] = {}
        for r in rows:
            tables.setdefault(r["table_name"], {})[r["column_name"]] = r["is_nullable"] == "NO"
        return tables, {r["indexname"] for r in indexes}

    return asyncio.run(run())


def test_both_dialects_create_the_same_tables_and_columns(servers: Servers) -> None:
    schema, _prefix = servers.names()
    pg_tables, pg_indexes = _postgres(servers.pg_dsn, schema)
    lite = _sqlite()
    assert {"users", "wallets", "markets", "bets"} <= set(lite)
    assert sorted(pg_tables) == sorted(lite)
    for table, columns in lite.items():
        assert pg_tables[table] == columns, table
    # the SQLite schema's named indexes exist in PostgreSQL too (constraints may add more there)
    assert _sqlite_indexes() <= pg_indexes | {postgres_schema.IDEMPOTENCY_CONSTRAINT}
