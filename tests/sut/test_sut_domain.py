"""Unit tests of the domain pieces: money, odds book, feed, aggregator, bus, stall maths."""

from __future__ import annotations

import asyncio

import pytest

from sut.aggregator import Aggregator, UnknownUser
from sut.domain import (
    BetOrder,
    Conflict,
    InvalidRequest,
    Market,
    MarketStatus,
    NotFound,
    Role,
    Selection,
    Totals,
    payout_cents,
    potential_profit_cents,
)
from sut.events import BetPlaced, BetSettled, HierarchyChanged, InProcessBus
from sut.faults import StallFault
from sut.odds import OddsBook, OddsFeed


def test_money_is_floored_to_the_cent() -> None:
    assert payout_cents(1000, 2345) == 2345
    assert payout_cents(333, 1999) == 665  # 665.667 floors
    assert potential_profit_cents(500, 2000) == 500


def _order(market: int = 1, selection: int = 10, odds: int = 2000) -> BetOrder:
    return BetOrder(1, market, selection, 100, odds, "k", 0.0)


def _book() -> OddsBook:
    market = Market(
        1,
        "tennis",
        "a v b",
        MarketStatus.OPEN,
        1,
        (Selection(10, "a", 2000), Selection(11, "b", 1800)),
    )
    return OddsBook.from_markets([market], tolerance=0.02)


def test_price_check_accepts_within_tolerance_at_current_price() -> None:
    assert _book().check_price(_order(odds=2030)) == 2000


def test_price_check_refuses_beyond_tolerance_with_current_odds() -> None:
    with pytest.raises(Conflict) as info:
        _book().check_price(_order(odds=2100))
    assert info.value.code == "odds_changed"
    assert info.value.extra == {"current_odds": 2.0, "version": 1}


def test_price_check_unknown_ids() -> None:
    with pytest.raises(NotFound):
        _book().check_price(_order(market=2))
    with pytest.raises(InvalidRequest):
        _book().check_price(_order(selection=99))


def test_feed_moves_open_markets_and_bumps_versions() -> None:
    book = _book()
    published = []
    feed = OddsFeed(book, rate=100, tick_s=0.01, seed=1, publish=published.append)
    feed.step(5)
    quote = book.quote(1)
    assert quote is not None and quote.version == 6
    assert all(1010 <= o <= 50_000 for o in quote.odds)
    assert [m for m, _, _ in feed.take_dirty()] == [1] and feed.take_dirty() == []
    book.set_status(1, MarketStatus.SETTLED)
    feed.step(5)
    assert quote.version == 6 and len(published) == 1


def _agg() -> Aggregator:
    # 1 master(2) > 3 > {bettor 5}; master(2) > 4 > {bettor 6}
    rows = [(1, Role.ADMIN, None), (2, Role.AGENT, None), (3, Role.AGENT, 2), (4, Role.AGENT, 2),
            (5, Role.BETTOR, 3), (6, Role.BETTOR, 4)]  # fmt: skip
    return Aggregator.build(rows, {5: Totals(1), 6: Totals(1)})


def test_aggregator_rolls_bets_up_the_chain() -> None:
    agg = _agg()
    agg.apply(BetPlaced(5, 1000, 500, 0.0))
    agg.apply(BetPlaced(6, 200, 100, 0.0))
    assert agg.totals(2) == Totals(2, 1200, 0, 600)
    assert agg.totals(3) == Totals(1, 1000, 0, 500)
    agg.apply(BetSettled(5, 1000, 1500, 500, 0.0))  # won: house pays 500 net
    assert agg.totals(3) == Totals(1, 1000, -500, 0)


def test_aggregator_moves_subtrees_and_commutes() -> None:
    a, b = _agg(), _agg()
    events = [BetPlaced(5, 1000, 500, 0.0), HierarchyChanged(5, 3, 4, 0.0)]
    for e in events:
        a.apply(e)
    for e in reversed(events):
        b.apply(e)
    assert a.totals(4) == b.totals(4) == Totals(2, 1000, 0, 500)
    assert a.totals(3) == b.totals(3) == Totals(0, 0, 0, 0)


def test_aggregator_rejects_poison() -> None:
    with pytest.raises(UnknownUser):
        _agg().apply(BetPlaced(99, 1, 1, 0.0))


def test_bus_dead_letters_and_drains() -> None:
    async def run() -> InProcessBus:
        bus = InProcessBus()
        agg = _agg()

        async def handle(event: object) -> None:
            agg.apply(event)  # type: ignore[arg-type]

        task = asyncio.create_task(bus.consume(handle))
        await bus.publish(BetPlaced(5, 10, 5, 0.0))
        await bus.publish(BetPlaced(404, 10, 5, 0.0))
        assert await bus.wait_idle(2.0)
        task.cancel()
        return bus

    bus = asyncio.run(run())
    assert bus.handled == 2 and bus.dead_letter_total == 1 and bus.pending == 0


@pytest.mark.parametrize(
    ("t", "wait"), [(0.0, 0.0), (4.6, 0.4), (4.9, 0.1), (5.1, 0.0), (9.8, 0.2)]
)
def test_stall_windows(t: float, wait: float) -> None:
    assert StallFault(5.0, 0.5).remaining_pause_s(t) == pytest.approx(wait)
