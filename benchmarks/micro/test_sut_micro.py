"""The SUT's hot paths: odds updates, bet validation, bet placement, aggregate updates."""

from __future__ import annotations

import itertools
import random
import warnings
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 for its TestClient; httpx still works and is installed
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from sut import Settings, create_app
from sut.aggregator import Aggregator
from sut.domain import BetOrder, Totals
from sut.events import BetPlaced
from sut.odds import OddsBook, OddsFeed
from sut.seeding import build_seed

SEED = build_seed(seed=7, markets=2_000, bettors=500, agents=60, password="loadtest")


@pytest.fixture(scope="module")
def book() -> OddsBook:
    return OddsBook.from_markets(SEED.markets)


def test_odds_update_1000(benchmark: Any, book: OddsBook) -> None:
    feed = OddsFeed(book, rate=2000, tick_s=0.05, seed=1, publish=lambda _q: None)
    benchmark(feed.step, 1000)


def test_bet_validation_1000(benchmark: Any, book: OddsBook) -> None:
    rng = random.Random(3)
    orders = []
    for market_id in rng.sample(book.open_ids, 1000):
        quote = book.quote(market_id)
        assert quote is not None
        orders.append(BetOrder(1, market_id, quote.selection_ids[0], 500, quote.odds[0], "k", 0.0))

    def validate() -> None:
        for order in orders:
            book.check_price(order)

    benchmark(validate)


def test_aggregate_update_1000(benchmark: Any) -> None:
    hierarchy = [(u.id, u.role, u.parent_id) for u in SEED.users]
    bettors = [u.id for u in SEED.users if u.role == "bettor"]
    agg = Aggregator.build(hierarchy, {b: Totals() for b in bettors})
    events = [BetPlaced(b, 500, 700, 0.0) for b in itertools.islice(itertools.cycle(bettors), 1000)]

    def apply() -> None:
        for event in events:
            agg.apply(event)

    benchmark(apply)


def test_bet_placement_http(benchmark: Any) -> None:
    settings = Settings(markets=200, bettors=50, agents=10, odds_rate=0)
    with TestClient(create_app(settings)) as client:
        token = client.post("/auth/login", json={"username": "bettor1", "password": "loadtest"})
        headers = {"Authorization": f"Bearer {token.json()['token']}"}
        market = client.get("/markets/1", headers=headers).json()
        selection = market["selections"][0]
        keys = itertools.count()

        def place() -> None:
            body = {
                "market_id": market["id"],
                "selection_id": selection["id"],
                "stake": 0.1,
                "odds": selection["odds"],
                "idempotency_key": f"bench-{next(keys)}",
            }
            resp = client.post("/bets", json=body, headers=headers)
            assert resp.status_code == 201, resp.text

        benchmark.pedantic(place, rounds=300, warmup_rounds=20)
