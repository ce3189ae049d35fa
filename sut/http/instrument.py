"""Per-route instrumentation: metrics, error mapping and the HTTP fault knobs.

Each route's endpoint is wrapped once at app construction with everything it needs
pre-bound (its histogram child, its latency/error faults), so the per-request cost is
a few attribute reads, not a route lookup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from sut.domain import DomainError
from sut.http.context import AppContext
from sut.http.wire import domain_error, error

Endpoint = Callable[[Request], Awaitable[Response]]

_log = logging.getLogger("sut")


# The loop's timers are coarse: uvloop rounds a delay to whole milliseconds (0.3 ms sleeps
# no time at all, 0.6 ms about 1.1 ms) and the default loop oversleeps by up to one. A fault
# that says "+0.2 ms" must add 0.2 ms, or a study of small regressions measures nothing.
_TIMER_SLACK_S = 0.002


async def precise_sleep(seconds: float) -> None:
    """Wait ``seconds`` without blocking the loop, to within a few microseconds when it is
    idle: the bulk with ``asyncio.sleep``, the last two milliseconds by yielding to the loop
    (``asyncio.sleep(0)``) until the deadline, so other requests are served meanwhile.

    >>> asyncio.run(precise_sleep(0.0003))  # 0.3 ms, not 0 and not 1.1
    """
    if seconds <= 0:
        return
    deadline = time.perf_counter() + seconds
    if seconds > _TIMER_SLACK_S:
        await asyncio.sleep(seconds - _TIMER_SLACK_S)
    while time.perf_counter() < deadline:
        await asyncio.sleep(0)


def instrument(
    ctx: AppContext, method: str, template: str, endpoint: Endpoint, wallet: bool = False
) -> Endpoint:
    """Wrap an endpoint with metrics, DomainError mapping and its faults."""
    faults = ctx.settings.faults
    latency = faults.latency_for(method, template)
    error_pct = faults.error_rate_for(method, template)
    stall = faults.stall
    lock = ctx.wallet_lock if wallet and faults.global_wallet_lock else None
    histogram = ctx.metrics.latency.labels(method, template)
    counter = ctx.metrics.requests
    in_flight = ctx.metrics.in_flight

    async def handle(request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = await endpoint(request)
        except DomainError as exc:
            response = domain_error(exc)
        except Exception:  # noqa: BLE001 - a bug, not bad input: report it and keep serving
            _log.exception("unhandled error on %s %s", method, template)
            response = error(500, "internal_error", "unexpected server error")
        if latency is not None:
            await precise_sleep(latency.delay_s(time.perf_counter() - started))
        return response

    async def wrapped(request: Request) -> Response:
        began = time.perf_counter()
        if stall is not None:
            pause = stall.remaining_pause_s(time.monotonic() - ctx.started_at)
            if pause:
                await asyncio.sleep(pause)
        started = time.perf_counter()
        in_flight.inc()
        try:
            if error_pct and ctx.fault_rng.random() * 100 < error_pct:
                ctx.metrics.injected_errors.inc()
                response: Response = error(503, "injected_fault", "injected error (fault knob)")
            else:
                async with lock if lock is not None else contextlib.nullcontext():
                    response = await handle(request)
        finally:
            in_flight.dec()
        finished = time.perf_counter()
        histogram.observe(finished - started)
        counter.labels(method, template, str(response.status_code)).inc()
        # W3C Server-Timing: the handler's time (a stall included), so a client can tell the
        # server's share of its latency from everything on the way
        response.headers["server-timing"] = f"app;dur={(finished - began) * 1000:.3f}"
        return response

    wrapped.__name__ = getattr(endpoint, "__name__", "endpoint")
    wrapped.__doc__ = endpoint.__doc__
    return wrapped
