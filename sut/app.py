"""The app factory: ``create_app(settings) -> Starlette``, wiring everything per app.

Example::

    from starlette.testclient import TestClient
    with TestClient(create_app(Settings(markets=50, bettors=10, agents=3))) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from sut.aggregator import Aggregator
from sut.auth import TokenSigner
from sut.backends import open_backend
from sut.domain import DomainError
from sut.events import Event
from sut.faults import FaultSpecError
from sut.http.context import AppContext, Runtime
from sut.http.instrument import Endpoint, instrument
from sut.http.routes_admin import AdminRoutes
from sut.http.routes_agents import AgentRoutes
from sut.http.routes_betting import BettingRoutes
from sut.http.routes_public import PublicRoutes
from sut.http.routes_stream import stream
from sut.http.wire import error
from sut.loopwatch import LoopWatch
from sut.metrics import Metrics
from sut.odds import OddsBook, OddsFeed
from sut.seeding import build_seed
from sut.service import BettingService, rebuild_aggregator
from sut.settings import Settings
from sut.storage.base import Storage
from sut.stream import StreamHub

SHUTDOWN_S = 5.0  # how long background work may take to stop at shutdown
_log = logging.getLogger("sut")


def route_table(ctx: AppContext) -> list[tuple[str, str, Endpoint, bool]]:
    """Every HTTP route as (method, template, endpoint, touches_wallet)."""
    public, betting = PublicRoutes(ctx), BettingRoutes(ctx)
    agents, admin = AgentRoutes(ctx), AdminRoutes(ctx)
    return [
        ("GET", "/healthz", public.healthz, False),
        ("POST", "/auth/login", public.login, False),
        ("GET", "/markets", public.markets, False),
        ("GET", "/markets/{id}", public.market, False),
        ("POST", "/bets", betting.place_bet, True),
        ("GET", "/bets", betting.bets, False),
        ("GET", "/wallet", betting.wallet, True),
        ("GET", "/agents/me/dashboard", agents.dashboard, False),
        ("GET", "/agents/me/downline", agents.downline, False),
        ("GET", "/agents/me/downline/{id}", agents.member, False),
        ("POST", "/admin/markets/{id}/settle", admin.settle, True),
        ("POST", "/admin/hierarchy/move", admin.move, False),
        ("GET", "/admin/audit", admin.audit, False),
        ("GET", "/metrics", public.metrics, False),
        ("GET", "/openapi.json", public.openapi, False),
    ]


def create_app(settings: Settings) -> Starlette:
    """Build one SUT app; raises FaultSpecError if a fault names an unknown route."""
    ctx = AppContext(
        settings=settings,
        metrics=Metrics(),
        signer=TokenSigner(settings.secret, settings.token_ttl_s),
        fault_rng=random.Random(settings.seed),
    )
    table = route_table(ctx)
    unknown = settings.faults.unknown_routes((m, t) for m, t, _, _ in table)
    if unknown:
        raise FaultSpecError(f"invalid fault spec: no route {unknown[0]!r}")
    routes: list[BaseRoute] = [
        Route(template, instrument(ctx, method, template, endpoint, wallet), methods=[method])
        for method, template, endpoint, wallet in table
    ]

    async def stream_endpoint(websocket: WebSocket) -> None:
        await stream(ctx, websocket)

    routes.append(WebSocketRoute("/stream", stream_endpoint))
    _register_gauges(ctx)
    app = Starlette(
        routes=routes,
        lifespan=_lifespan(ctx),
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.ctx = ctx
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for HTTPException
        return await _server_error(request, exc)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error(exc.status_code, code, str(exc.detail))


async def _server_error(request: Request, exc: Exception) -> Response:
    _log.error("unhandled error: %r", exc)
    return error(500, "internal_error", "unexpected server error")


def _lifespan(
    ctx: AppContext,
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        settings = ctx.settings
        backend = await open_backend(settings)
        storage = backend.storage
        tasks: list[asyncio.Task[None]] = []
        feed: OddsFeed | None = None
        try:
            await prepare_storage(storage, settings)
            book = OddsBook.from_markets(await storage.all_markets(), settings.odds_tolerance)
            # the bus first, then the rebuild: every event already in a durable log is
            # reflected in the database the aggregates are rebuilt from
            await backend.start_bus()
            aggregator = await rebuild_aggregator(storage)
            service = BettingService(
                storage, book, backend.bus, aggregator, ctx.signer, backend.cache
            )
            hub = StreamHub(
                book,
                ctx.metrics,
                settings.stream_queue,
                settings.max_subscriptions,
                settings.heartbeat_s,
                settings.faults.slow_fanout_ms / 1000,
            )
            feed = OddsFeed(
                book, settings.odds_rate, settings.odds_tick_s, settings.seed, hub.publish
            )
            tasks.append(asyncio.create_task(backend.bus.consume(_consumer(ctx, aggregator))))
            tasks.append(asyncio.create_task(_flush_odds(ctx, feed, storage)))
            tasks.append(asyncio.create_task(_maintain(storage)))
            watch = LoopWatch(observe=ctx.metrics.loop_lag.observe)
            tasks.append(asyncio.create_task(watch.run()))
            if settings.odds_rate > 0:
                tasks.append(asyncio.create_task(feed.run()))
            ctx.runtime = Runtime(service, hub, feed, watch)
            _log.info("sut started on %s", backend.label)
            yield
        finally:
            ctx.runtime = None
            for task in tasks:
                task.cancel()
            # bounded: a shutdown that hangs (a task stuck on a gate or a thread) must not
            # keep the process (or a test) alive; what did not stop is logged
            if tasks:
                _done, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_S)
                if stuck:
                    _log.warning(
                        "%d background task(s) did not stop within %.0f s: %s",
                        len(stuck),
                        SHUTDOWN_S,
                        [t.get_coro() for t in stuck],
                    )
            try:
                if feed is not None:
                    await asyncio.wait_for(storage.save_odds(feed.take_dirty()), SHUTDOWN_S)
            except TimeoutError:
                _log.warning("the last odds flush did not finish within %.0f s", SHUTDOWN_S)
            finally:
                await asyncio.wait_for(backend.close(), SHUTDOWN_S)

    return lifespan


async def prepare_storage(storage: Storage, settings: Settings) -> None:
    """Seed the database if it is empty."""
    if not await storage.is_seeded():
        data = await run_in_threadpool(
            build_seed,
            seed=settings.seed,
            markets=settings.markets,
            bettors=settings.bettors,
            agents=settings.agents,
            password=settings.password,
            initial_balance_cents=settings.initial_balance_cents,
        )
        await storage.seed(data)


def _consumer(ctx: AppContext, aggregator: Aggregator) -> Callable[[Event], Awaitable[None]]:
    delay_s = ctx.settings.faults.slow_consumer_ms / 1000

    async def handle(event: Event) -> None:
        if delay_s:
            await asyncio.sleep(delay_s)
        aggregator.apply(event)

    return handle


async def _flush_odds(ctx: AppContext, feed: OddsFeed, storage: Storage) -> None:
    """Persist odds moves in small batches so write locks are held only briefly."""
    while True:
        await asyncio.sleep(ctx.settings.odds_flush_s)
        records = feed.take_dirty()
        if records:
            try:
                await storage.save_odds(records)
            except DomainError as exc:  # contention or timeout: keep the feed running
                _log.warning("odds flush failed (%s); %d moves not stored", exc.code, len(records))


async def _maintain(storage: Storage, every_s: float = 1.0) -> None:
    """Run storage housekeeping (WAL checkpoints) off the request path."""
    while True:
        await asyncio.sleep(every_s)
        await storage.maintenance()


def _register_gauges(ctx: AppContext) -> None:
    """Gauges read live state at scrape time (0 while the app is not started)."""

    def live(read: Callable[[Runtime], float]) -> Callable[[], float]:
        def value() -> float:
            runtime = ctx.runtime
            return float(read(runtime)) if runtime is not None else 0.0

        return value

    gauge = ctx.metrics.gauge_fn
    gauge(
        "sut_event_bus_lag_seconds",
        "Age of the last handled event",
        live(lambda r: r.service.bus.last_lag_s),
    )
    gauge("sut_event_bus_pending", "Events not yet handled", live(lambda r: r.service.bus.pending))
    gauge("sut_dlq_size", "Events dead-lettered", live(lambda r: r.service.bus.dead_letter_total))
    gauge(
        "sut_db_retries",
        "Transactions retried (busy database, deadlock, serialization failure, key race)",
        live(lambda r: r.service.storage.stats.retries),
    )
    gauge(
        "sut_db_deadlocks",
        "Transactions aborted by a detected deadlock (each then retried)",
        live(lambda r: r.service.storage.stats.deadlocks),
    )
    gauge(
        "sut_db_serialization_failures",
        "Transactions aborted by a serialization failure (each then retried)",
        live(lambda r: r.service.storage.stats.serialization_failures),
    )
    gauge(
        "sut_db_retries_exhausted",
        "Transactions that still failed after the last retry (answered 503)",
        live(lambda r: r.service.storage.stats.exhausted),
    )
    gauge(
        "sut_hierarchy_cache_hits",
        "Ancestor lookups answered by the cache",
        live(lambda r: r.service.cache.hits),
    )
    gauge("sut_odds_updates", "Odds moves made by the feed", live(lambda r: r.feed.updates))
    gauge(
        "sut_event_loop_lag_max_seconds",
        "Longest the event loop could not run anything since start-up",
        live(lambda r: r.loop_watch.max_lag_s),
    )
