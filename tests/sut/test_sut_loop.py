"""The event loop never waits on a database lock held by a thread.

Short SQLite calls run inline on the loop; long ones (settlement, reports) run in the
threadpool. If a short call took the engine's threading lock while a long call held it,
the whole loop (every request, every stream) would stop until the long call finished.
These tests hold a connection from a thread until the *loop* releases it: if the loop
were blocked it could never do so, and the thread's bounded wait would time out.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from sut.domain import BetOrder, MoneyAudit, Settlement
from sut.loopwatch import LoopWatch
from sut.seeding import build_seed
from sut.storage import sqlite_admin, sqlite_reports
from sut.storage.sqlite_async import SQLiteStorage

_HOLD_LIMIT_S = 5.0  # the thread gives up after this: the loop never released it


class Holder:
    """Holds an engine connection in a worker thread until the loop says so."""

    def __init__(self) -> None:
        self.held = threading.Event()
        self.release = threading.Event()
        self.timed_out = False

    def hold(self) -> None:
        self.held.set()
        self.timed_out = not self.release.wait(_HOLD_LIMIT_S)

    async def until_held(self) -> None:
        for _ in range(5000):
            if self.held.is_set():
                return
            await asyncio.sleep(0.001)
        raise AssertionError("the long call never started")


async def _storage() -> SQLiteStorage:
    storage = SQLiteStorage(None)
    await storage.open()
    await storage.seed(
        build_seed(
            seed=7, markets=20, bettors=10, agents=3, password="pw", initial_balance_cents=10_000
        )
    )
    return storage


def _order(market_id: int, selection_id: int, key: str) -> BetOrder:
    return BetOrder(
        user_id=5, market_id=market_id, selection_id=selection_id, stake_cents=100,
        odds_milli=2000, idempotency_key=key, placed_at=0.0,
    )  # fmt: skip


def _run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_short_calls_do_not_block_the_loop_while_a_long_write_holds_the_writer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    holder = Holder()

    async def scenario() -> None:
        storage = await _storage()

        real_settle = sqlite_admin.settle_market

        def long_settlement(conn: sqlite3.Connection, *args: Any) -> Settlement:
            holder.hold()  # inside the engine's write transaction, as a big settlement
            return real_settle(conn, *args)

        monkeypatch.setattr(sqlite_admin, "settle_market", long_settlement)
        watch = LoopWatch(interval_s=0.005)
        beat = asyncio.create_task(watch.run())
        settled, other = await storage.market(1), await storage.market(2)
        assert settled is not None and other is not None
        selection = settled.selections[0].id
        try:
            settle = asyncio.create_task(storage.settle_market(1, selection, 0.0))
            await holder.until_held()
            bet = asyncio.create_task(
                storage.place_bet(_order(2, other.selections[0].id, "k1"), lambda _: 2000)
            )
            wallet = await storage.wallet(5)  # a short read: its own connection, answers now
            beats = watch.beats
            for _ in range(20):
                await asyncio.sleep(0.005)
            assert watch.beats > beats  # the loop kept running while the writer was held
            assert not bet.done()  # the bet waits its turn for the writer, off the loop
            holder.release.set()  # only a running loop can get here
            await settle
            placed = await bet
            assert not holder.timed_out
            assert wallet is not None and placed.created
        finally:
            holder.release.set()
            beat.cancel()
            await storage.close()

    _run(scenario)


def test_short_reads_do_not_wait_for_a_long_report(monkeypatch: pytest.MonkeyPatch) -> None:
    holder = Holder()

    async def scenario() -> None:
        storage = await _storage()
        real_audit = sqlite_reports.money_audit

        def long_audit(conn: sqlite3.Connection) -> MoneyAudit:
            holder.hold()  # inside the engine's read snapshot, as a long report
            return real_audit(conn)

        monkeypatch.setattr(sqlite_reports, "money_audit", long_audit)
        try:
            audit = asyncio.create_task(storage.money_audit())
            await holder.until_held()
            # answered while the report still holds its connection
            results: list[Any] = [
                await storage.wallet(5),
                await storage.market(2),
                await storage.user(5),
                await storage.bets_page(5, 0, 10),
                await storage.ancestors(5),
            ]
            assert not audit.done()
            holder.release.set()
            assert (await audit).duplicate_idempotency_keys == 0
            assert not holder.timed_out
            assert results[0] is not None and results[1] is not None
        finally:
            holder.release.set()
            await storage.close()

    _run(scenario)
