"""PostgreSQL storage (asyncpg pool): the production-like profile's database.

Shape: every request path is a single bounded query or one short transaction run by
TxRunner (bounded, jittered retries on deadlocks, serialization failures and
idempotency races; statement timeouts on every connection). Bet placement runs in
READ COMMITTED with row locks: ``FOR KEY SHARE`` on the market (so settlement, which
takes ``FOR UPDATE``, cannot close a market under an in-flight bet, while odds updates
do not conflict) and a conditional UPDATE on the wallet (never below zero). Example::

    storage = PostgresStorage("postgresql://postgres@127.0.0.1:5432/test", "sut_ab12")
    await storage.open()
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any

import asyncpg

from sut.domain import (
    Bet,
    BetOrder,
    BetStatus,
    Conflict,
    DownlineMember,
    HierarchyMove,
    InvalidRequest,
    Market,
    MarketStatus,
    MoneyAudit,
    NotFound,
    PlacedBet,
    Role,
    Selection,
    Settlement,
    Totals,
    User,
    Wallet,
)
from sut.seeding import SeedData
from sut.storage import postgres_admin as admin
from sut.storage import postgres_reports as reports
from sut.storage.base import OddsRecord, PriceCheck, RetryStats
from sut.storage.postgres_schema import SCHEMA, write_seed
from sut.storage.postgres_tx import TxRunner

_BET_COLUMNS = (
    "id, user_id, market_id, selection_id, stake_cents, odds_milli, status,"
    " idempotency_key, placed_at, payout_cents"
)
_MARKET_COLUMNS = "id, sport, name, status, version"
_USER_COLUMNS = "id, username, role, parent_id, password_hash"
_HOT_WALLETS = 8
_DEADLOCK_WINDOW_S = 0.002


class PostgresStorage:
    """Storage on a PostgreSQL schema of its own; drops it at close when it owns it."""

    def __init__(
        self,
        dsn: str,
        schema: str,
        *,
        pool_size: int = 16,
        statement_timeout_ms: int = 5_000,
        max_retries: int = 8,
        drop_on_close: bool = False,
        deadlock_fault: bool = False,
        deadlock_timeout_ms: int | None = None,
        seed: int = 0,
    ) -> None:
        self._dsn = dsn
        self.schema = schema
        self._pool_size = pool_size
        self._timeout_ms = statement_timeout_ms
        self._drop = drop_on_close
        self._deadlock_fault = deadlock_fault
        self._deadlock_timeout_ms = deadlock_timeout_ms
        self._rng = random.Random(seed)
        self._stats = RetryStats()
        self._max_retries = max_retries
        self._pool: Any = None
        self._tx: TxRunner | None = None
        self._hot: list[int] = []

    @property
    def stats(self) -> RetryStats:
        """Retries by cause (deadlocks, serialization failures, idempotency races)."""
        return self._stats

    @property
    def pool(self) -> Any:
        """The asyncpg pool; RuntimeError when closed."""
        if self._pool is None:
            raise RuntimeError("storage is closed")
        return self._pool

    @property
    def tx(self) -> TxRunner:
        """The retrying transaction runner."""
        if self._tx is None:
            raise RuntimeError("storage is closed")
        return self._tx

    async def open(self) -> None:
        """Create the schema (if needed) and the pool; every connection is bounded."""
        conn = await asyncpg.connect(self._dsn)
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        finally:
            await conn.close()
        server_settings = {
            "search_path": self.schema,
            "statement_timeout": str(self._timeout_ms),
            "idle_in_transaction_session_timeout": str(self._timeout_ms * 2),
            "application_name": f"sut:{self.schema}",
        }
        if self._deadlock_timeout_ms is not None:
            # needs a superuser or `GRANT SET ON PARAMETER deadlock_timeout` (PostgreSQL 15+)
            server_settings["deadlock_timeout"] = str(self._deadlock_timeout_ms)
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=min(2, self._pool_size),
            max_size=self._pool_size,
            server_settings=server_settings,
        )
        self._tx = TxRunner(self._pool, self._stats, self._max_retries, self._rng)
        async with self._pool.acquire() as conn:
            # CREATE ... IF NOT EXISTS can still race another process on the catalog
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self.schema)
            await conn.execute(SCHEMA)

    async def close(self) -> None:
        """Close the pool; drop the schema if this instance created its name."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = self._tx = None
        if self._drop:
            await drop_schema(self._dsn, self.schema)

    async def maintenance(self) -> None:
        """Nothing periodic: autovacuum does PostgreSQL's housekeeping."""

    async def is_seeded(self) -> bool:
        """True once users exist."""
        return bool(await self.pool.fetchval("SELECT EXISTS (SELECT 1 FROM users)"))

    async def seed(self, data: SeedData) -> None:
        """COPY every seed row in one transaction, then refresh the planner statistics."""
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                await write_seed(conn, self.schema, data)
            await conn.execute("ANALYZE")

    async def _hot_wallets(self) -> list[int]:
        if not self._hot:
            rows = await self.pool.fetch(
                "SELECT user_id FROM wallets ORDER BY user_id LIMIT $1", _HOT_WALLETS
            )
            self._hot = [int(r[0]) for r in rows]
        return self._hot

    async def user_by_username(self, username: str) -> User | None:
        """Look a user up by login name."""
        row = await self.pool.fetchrow(
            f"SELECT {_USER_COLUMNS} FROM users WHERE username = $1", username
        )
        return _user(row) if row else None

    async def user(self, user_id: int) -> User | None:
        """Look a user up by id."""
        row = await self.pool.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1", user_id)
        return _user(row) if row else None

    async def markets_page(
        self,
        sport: str | None,
        status: MarketStatus | None,
        after_id: int,
        limit: int | None,
        n_plus_one: bool = False,
    ) -> list[Market]:
        """A keyset page; selections in one query (N with the fault; no LIMIT with the other)."""
        where: list[str] = ["id > $1"]
        args: list[object] = [after_id]
        if sport is not None:
            args.append(sport)
            where.append(f"sport = ${len(args)}")
        if status is not None:
            args.append(status.value)
            where.append(f"status = ${len(args)}")
        condition = " AND ".join(where)
        sql = f"SELECT {_MARKET_COLUMNS} FROM markets WHERE {condition} ORDER BY id"
        async with self.pool.acquire() as conn:
            if limit is None:
                rows = await conn.fetch(sql, *args)
                selections = await conn.fetch(
                    "SELECT market_id, id, name, odds_milli FROM selections WHERE market_id IN"
                    f" (SELECT id FROM markets WHERE {condition}) ORDER BY market_id, id",
                    *args,
                )
                return _assemble(rows, selections)
            rows = await conn.fetch(f"{sql} LIMIT ${len(args) + 1}", *args, limit)
            ids = [int(r[0]) for r in rows]
            if n_plus_one:
                selections = []
                for market_id in ids:
                    selections.extend(
                        await conn.fetch(
                            "SELECT market_id, id, name, odds_milli FROM selections"
                            " WHERE market_id = $1 ORDER BY id",
                            market_id,
                        )
                    )
            else:
                selections = await _selections_of(conn, ids)
        return _assemble(rows, selections)

    async def market(self, market_id: int) -> Market | None:
        """One market with its selections (one round trip)."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT {_MARKET_COLUMNS} FROM markets WHERE id = $1", market_id
            )
            selections = await _selections_of(conn, [market_id]) if rows else []
        markets = _assemble(rows, selections)
        return markets[0] if markets else None

    async def all_markets(self) -> list[Market]:
        """Every market, for the in-memory odds book (startup only)."""
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            rows = await conn.fetch(f"SELECT {_MARKET_COLUMNS} FROM markets ORDER BY id")
            selections = await conn.fetch(
                "SELECT market_id, id, name, odds_milli FROM selections ORDER BY market_id, id"
            )
        return _assemble(rows, selections)

    async def save_odds(self, records: Sequence[OddsRecord]) -> None:
        """Persist a batch of odds moves: two set-based UPDATEs in one transaction."""
        if not records:
            return
        market_ids = [r[0] for r in records]
        versions = [r[1] for r in records]
        sel_ids = [sel for _, _, prices in records for sel, _ in prices]
        odds = [o for _, _, prices in records for _, o in prices]

        async def body(conn: Any) -> None:
            await conn.execute(
                "UPDATE markets m SET version = v.version"
                " FROM unnest($1::int[], $2::int[]) AS v(id, version)"
                " WHERE m.id = v.id AND m.version < v.version",
                market_ids,
                versions,
            )
            await conn.execute(
                "UPDATE selections s SET odds_milli = v.odds"
                " FROM unnest($1::int[], $2::int[]) AS v(id, odds) WHERE s.id = v.id",
                sel_ids,
                odds,
            )

        await self.tx.run(body)

    async def place_bet(self, order: BetOrder, price_check: PriceCheck) -> PlacedBet:
        """Check and place a bet in one transaction; replay an idempotency key."""
        hot = await self._hot_wallets() if self._deadlock_fault else []

        async def body(conn: Any) -> PlacedBet:
            row = await conn.fetchrow(
                f"SELECT {_BET_COLUMNS} FROM bets WHERE user_id = $1 AND idempotency_key = $2",
                order.user_id,
                order.idempotency_key,
            )
            if row is not None:
                return PlacedBet(_bet(row), created=False)
            market = await conn.fetchrow(
                "SELECT m.status, s.market_id FROM markets m"
                " LEFT JOIN selections s ON s.id = $2 WHERE m.id = $1 FOR KEY SHARE OF m",
                order.market_id,
                order.selection_id,
            )
            if market is None:
                raise NotFound(f"market {order.market_id} does not exist")
            if market[1] != order.market_id:
                raise InvalidRequest(
                    f"selection {order.selection_id} is not part of market {order.market_id}"
                )
            if market[0] != MarketStatus.OPEN.value:
                raise Conflict("market_closed", f"market {order.market_id} is {market[0]}")
            odds = price_check(order)
            if hot:
                await _lock_in_random_order(conn, self._rng.sample(hot, 2))
            debited = await conn.execute(
                "UPDATE wallets SET balance_cents = balance_cents - $1"
                " WHERE user_id = $2 AND balance_cents >= $1",
                order.stake_cents,
                order.user_id,
            )
            if debited != "UPDATE 1":
                raise Conflict("insufficient_funds", "wallet balance is below the stake")
            bet_id = await conn.fetchval(
                "INSERT INTO bets (user_id, market_id, selection_id, stake_cents, odds_milli,"
                " status, idempotency_key, placed_at) VALUES ($1, $2, $3, $4, $5, 'open', $6, $7)"
                " RETURNING id",
                order.user_id,
                order.market_id,
                order.selection_id,
                order.stake_cents,
                odds,
                order.idempotency_key,
                order.placed_at,
            )
            bet = Bet(
                int(bet_id),
                order.user_id,
                order.market_id,
                order.selection_id,
                order.stake_cents,
                odds,
                BetStatus.OPEN,
                order.idempotency_key,
                order.placed_at,
            )
            return PlacedBet(bet, created=True)

        return await self.tx.run(body)

    async def wallet(self, user_id: int) -> Wallet | None:
        """A bettor's wallet."""
        row = await self.pool.fetchrow(
            "SELECT user_id, balance_cents, currency FROM wallets WHERE user_id = $1", user_id
        )
        return Wallet(int(row[0]), int(row[1]), str(row[2])) if row else None

    async def bets_page(self, user_id: int, after_id: int, limit: int) -> list[Bet]:
        """A keyset page of one user's bets."""
        rows = await self.pool.fetch(
            f"SELECT {_BET_COLUMNS} FROM bets WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3",
            user_id,
            after_id,
            limit,
        )
        return [_bet(r) for r in rows]

    async def settle_market(
        self, market_id: int, winning_selection_id: int, now: float
    ) -> Settlement:
        """Settle a market: pay winners, close losers, mark it settled (retried on conflict)."""
        return await self.tx.run(
            lambda conn: admin.settle_market(conn, market_id, winning_selection_id, now)
        )

    async def move_user(self, user_id: int, new_parent_id: int) -> HierarchyMove:
        """Re-parent a user; SERIALIZABLE so two concurrent moves cannot build a cycle."""
        return await self.tx.run(
            lambda conn: admin.move_user(conn, user_id, new_parent_id), isolation="serializable"
        )

    async def ancestors(self, user_id: int) -> list[int]:
        """The user's agents, nearest first (depth-bounded recursive query)."""
        return await reports.ancestors(self.pool, user_id)

    async def downline_page(self, agent_id: int, after_id: int, limit: int) -> list[DownlineMember]:
        """A keyset page (by user id) of an agent's whole downline."""
        return await reports.downline_page(self.pool, agent_id, after_id, limit)

    async def hierarchy(self) -> list[tuple[int, Role, int | None]]:
        """Every user as (id, role, parent)."""
        return await reports.hierarchy(self.pool)

    async def bettor_totals(self) -> dict[int, Totals]:
        """Per-bettor totals straight from the bets table."""
        return await reports.bettor_totals(self.pool)

    async def naive_totals(self, agent_id: int) -> Totals:
        """Downline totals by recursive query: the slow path behind ``naive_dashboard``."""
        return await reports.naive_totals(self.pool, agent_id)

    async def money_audit(self) -> MoneyAudit:
        """All money sums from one REPEATABLE READ snapshot."""
        return await self.tx.run(reports.money_audit, isolation="repeatable_read", readonly=True)


async def drop_schema(dsn: str, schema: str) -> None:
    """Drop a run's schema and everything in it (idempotent)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def _lock_in_random_order(conn: Any, wallets: list[int]) -> None:
    """The ``deadlock_wallets`` fault: lock two hot wallets in the order given (random)."""
    for user_id in wallets:
        await conn.execute(
            "UPDATE wallets SET balance_cents = balance_cents WHERE user_id = $1", user_id
        )
        await asyncio.sleep(_DEADLOCK_WINDOW_S)  # widen the window the way slow code does


def _user(row: Any) -> User:
    return User(int(row[0]), str(row[1]), Role(row[2]), row[3], str(row[4]))


def _bet(row: Any) -> Bet:
    return Bet(
        int(row[0]),
        int(row[1]),
        int(row[2]),
        int(row[3]),
        int(row[4]),
        int(row[5]),
        BetStatus(row[6]),
        str(row[7]),
        float(row[8]),
        int(row[9]),
    )


async def _selections_of(conn: Any, market_ids: list[int]) -> list[Any]:
    if not market_ids:
        return []
    rows: list[Any] = await conn.fetch(
        "SELECT market_id, id, name, odds_milli FROM selections WHERE market_id = ANY($1::int[])"
        " ORDER BY market_id, id",
        market_ids,
    )
    return rows


def _assemble(rows: Sequence[Any], selections: Sequence[Any]) -> list[Market]:
    by_market: dict[int, list[Selection]] = {}
    for market_id, sel_id, name, odds in selections:
        by_market.setdefault(market_id, []).append(Selection(sel_id, name, odds))
    return [
        Market(m_id, sport, name, MarketStatus(status), version, tuple(by_market.get(m_id, ())))
        for m_id, sport, name, status, version in rows
    ]
