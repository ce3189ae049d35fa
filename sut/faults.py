"""Fault and regression knobs: parse ``--fault`` / ``SUT_FAULTS`` specs into a FaultSet.

All knobs are off by default. Give each as a repeated ``--fault SPEC`` flag or in the
``SUT_FAULTS`` environment variable (specs separated by ``;``). Spec syntax:

``latency:<METHOD> <route>=<N>ms``
    Add a fixed N milliseconds to every request of that route, e.g.
    ``latency:POST /bets=40ms``; precise below a millisecond too (the loop stays free:
    it sleeps the bulk and yields for the rest, see ``sut.http.instrument.precise_sleep``).
``latency:<METHOD> <route>=<N>%``
    Add N percent of the handler's own measured time, e.g. ``latency:GET /markets=20%``.
``errors:<METHOD> <route>=<N>%``
    Fail N percent of that route's requests with ``503 {"error": {"code":
    "injected_fault"}}`` (deterministic pseudo-random draw from the seed).
``naive_dashboard``
    Compute ``/agents/me/dashboard`` with a recursive query over the hierarchy and the
    bets instead of reading the pre-aggregated state.
``n_plus_one_markets``
    Load the selections of a market list page with one query per market.
``global_wallet_lock``
    Every wallet-touching request (place bet, wallet, settle) holds one process-wide
    lock for its whole duration, including a thread hop to the database (SQLite) or
    the round trips to the server (PostgreSQL), so they run one at a time.
``unbounded_markets``
    ``GET /markets`` reads every market after the cursor (no LIMIT in the query, with
    all their selections) and cuts the page in memory: same answer, cost grows with
    the table (20,000 markets by default).
``deadlock_wallets``
    PostgreSQL only: every bet transaction also locks two of eight "hot" wallets, in
    random order, before debiting its own, so concurrent bets queue on those rows and
    deadlock (PostgreSQL detects it after ``deadlock_timeout``, 1 s by default, see
    ``--pg-deadlock-timeout``); the SUT retries them with jittered backoff and counts
    them (``sut_db_deadlocks``).
``slow_consumer=<N>ms``
    The event aggregator sleeps N ms per event (dashboards lag, bus lag grows).
``slow_fanout=<N>ms``
    Every stream connection sleeps N ms before each frame it sends.
``stall=<every>s/<pause>ms``
    Every ``every`` seconds all HTTP responses pause for ``pause`` ms (a stop-the-world
    stall, used to prove coordinated-omission correction), e.g. ``stall=5s/300ms``.

Routes are named either as the SUT declares them (``/markets/{id}``) or as load tools
group them (``/markets/[id]``); parameter names do not matter. Example::

    >>> fs = parse_faults(["latency:GET /markets/[id]=15ms"])
    >>> fs.latency_for("GET", "/markets/{id}").fixed_ms
    15.0
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_ROUTE_RULE = re.compile(
    r"^(?P<method>[A-Za-z]+) (?P<route>/\S*)=(?P<amount>\d+(?:\.\d+)?)(?P<unit>ms|%)$"
)
_DURATION = re.compile(r"^(?P<amount>\d+(?:\.\d+)?)ms$")
_STALL = re.compile(r"^(?P<every>\d+(?:\.\d+)?)s/(?P<pause>\d+(?:\.\d+)?)ms$")
_PARAM = re.compile(r"\{[^}/]*\}|\[[^\]/]*\]")
_FLAGS = (
    "naive_dashboard",
    "n_plus_one_markets",
    "global_wallet_lock",
    "unbounded_markets",
    "deadlock_wallets",
)


class FaultSpecError(ValueError):
    """A fault spec that cannot be parsed; the message names the bad spec."""


def route_key(route: str) -> str:
    """Normalise a route template so ``/markets/[id]`` and ``/markets/{id}`` compare equal."""
    return _PARAM.sub("{}", route.rstrip("/") or "/")


@dataclass(frozen=True, slots=True)
class LatencyFault:
    """Added latency on one route: a fixed delay or a percentage of handler time."""

    method: str
    route: str
    fixed_ms: float = 0.0
    percent: float = 0.0

    def delay_s(self, handler_s: float) -> float:
        """Seconds to add after a handler that took ``handler_s`` seconds."""
        return self.fixed_ms / 1000.0 + handler_s * self.percent / 100.0


@dataclass(frozen=True, slots=True)
class ErrorFault:
    """An injected error rate (percent of requests answered 503) on one route."""

    method: str
    route: str
    percent: float


@dataclass(frozen=True, slots=True)
class StallFault:
    """Every ``every_s`` seconds, hold all responses for ``pause_s`` seconds."""

    every_s: float
    pause_s: float

    def remaining_pause_s(self, since_start_s: float) -> float:
        """How long a request arriving ``since_start_s`` after start must wait (0 if none)."""
        phase = since_start_s % self.every_s
        stall_start = self.every_s - self.pause_s
        return self.every_s - phase if phase >= stall_start else 0.0


@dataclass(frozen=True, slots=True)
class FaultSet:
    """All active fault knobs; the empty FaultSet means a healthy SUT."""

    latency: tuple[LatencyFault, ...] = ()
    errors: tuple[ErrorFault, ...] = ()
    naive_dashboard: bool = False
    n_plus_one_markets: bool = False
    global_wallet_lock: bool = False
    unbounded_markets: bool = False
    deadlock_wallets: bool = False
    slow_consumer_ms: float = 0.0
    slow_fanout_ms: float = 0.0
    stall: StallFault | None = None
    specs: tuple[str, ...] = ()

    def latency_for(self, method: str, route: str) -> LatencyFault | None:
        """The latency fault for a route, if any (last spec wins)."""
        key = route_key(route)
        found = None
        for fault in self.latency:
            if fault.method == method and route_key(fault.route) == key:
                found = fault
        return found

    def error_rate_for(self, method: str, route: str) -> float:
        """Percent of requests to fail on a route (0 if none)."""
        key = route_key(route)
        rate = 0.0
        for fault in self.errors:
            if fault.method == method and route_key(fault.route) == key:
                rate = fault.percent
        return rate

    def unknown_routes(self, known: Iterable[tuple[str, str]]) -> list[str]:
        """Specs naming a (method, route) the app does not serve."""
        served = {(method, route_key(route)) for method, route in known}
        rules: list[LatencyFault | ErrorFault] = [*self.latency, *self.errors]
        return [
            f"{rule.method} {rule.route}"
            for rule in rules
            if (rule.method, route_key(rule.route)) not in served
        ]


def split_env(value: str | None) -> list[str]:
    """Split the ``SUT_FAULTS`` variable into specs (``;``-separated, blanks ignored)."""
    if not value:
        return []
    return [part.strip() for part in value.split(";") if part.strip()]


def parse_faults(specs: Iterable[str]) -> FaultSet:
    """Parse fault specs into a FaultSet; raise FaultSpecError naming the first bad spec."""
    latency: list[LatencyFault] = []
    errors: list[ErrorFault] = []
    flags: dict[str, bool] = dict.fromkeys(_FLAGS, False)
    slow_consumer = slow_fanout = 0.0
    stall: StallFault | None = None
    kept: list[str] = []
    for raw in specs:
        spec = raw.strip()
        kept.append(spec)
        kind, sep, arg = spec.partition(":")
        name, eq, value = spec.partition("=")
        if sep and kind in ("latency", "errors"):
            method, route, amount, unit = _route_rule(spec, arg)
            if kind == "latency":
                latency.append(
                    LatencyFault(
                        method,
                        route,
                        fixed_ms=amount if unit == "ms" else 0.0,
                        percent=amount if unit == "%" else 0.0,
                    )
                )
            elif unit != "%" or amount > 100:
                raise FaultSpecError(f"invalid fault spec {spec!r}: error rate must be 0..100%")
            else:
                errors.append(ErrorFault(method, route, amount))
        elif spec in flags:
            flags[spec] = True
        elif eq and name in ("slow_consumer", "slow_fanout"):
            match = _DURATION.match(value)
            if match is None:
                raise FaultSpecError(f"invalid fault spec {spec!r}: expected {name}=<N>ms")
            if name == "slow_consumer":
                slow_consumer = float(match["amount"])
            else:
                slow_fanout = float(match["amount"])
        elif eq and name == "stall":
            stall = _stall(spec, value)
        else:
            raise FaultSpecError(f"invalid fault spec {spec!r}: unknown fault kind")
    return FaultSet(
        latency=tuple(latency),
        errors=tuple(errors),
        naive_dashboard=flags["naive_dashboard"],
        n_plus_one_markets=flags["n_plus_one_markets"],
        global_wallet_lock=flags["global_wallet_lock"],
        unbounded_markets=flags["unbounded_markets"],
        deadlock_wallets=flags["deadlock_wallets"],
        slow_consumer_ms=slow_consumer,
        slow_fanout_ms=slow_fanout,
        stall=stall,
        specs=tuple(kept),
    )


def _route_rule(spec: str, arg: str) -> tuple[str, str, float, str]:
    match = _ROUTE_RULE.match(arg.strip())
    if match is None:
        raise FaultSpecError(
            f"invalid fault spec {spec!r}: expected <kind>:<METHOD> <route>=<N>ms or =<N>%"
        )
    method = match["method"].upper()
    if method not in _METHODS:
        raise FaultSpecError(f"invalid fault spec {spec!r}: unknown HTTP method {method!r}")
    return method, match["route"], float(match["amount"]), match["unit"]


def _stall(spec: str, value: str) -> StallFault:
    match = _STALL.match(value)
    if match is None:
        raise FaultSpecError(f"invalid fault spec {spec!r}: expected stall=<every>s/<pause>ms")
    every_s = float(match["every"])
    pause_s = float(match["pause"]) / 1000.0
    if every_s <= 0 or pause_s >= every_s:
        raise FaultSpecError(f"invalid fault spec {spec!r}: pause must be shorter than period")
    return StallFault(every_s, pause_s)
