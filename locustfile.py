"""Entry point for Locust, thin by design: binds the scenario users by name, the load plan
driver, and loads the loadgate recorder. ``locust -f locustfile.py --host http://127.0.0.1:8000``
opens the web UI.

Pick users with Locust's own ``--class-picker`` or by naming them after the options,
e.g. ``locust -f locustfile.py Bettor Agent``. The profile's mix arrives as
``--user-weights Bettor=50,Agent=4`` and ``--fixed-users Trader=1`` and is applied to the
classes before the run starts.
"""

from __future__ import annotations

from typing import Any

from locust import events

from loadgate import plugin
from scenarios.agent import Agent
from scenarios.bettor import Bettor
from scenarios.shapes import start_plan
from scenarios.trader import Trader
from scenarios.watcher import OddsWatcher

__all__ = ["Agent", "Bettor", "OddsWatcher", "Trader"]

plugin.install()


def parse_counts(text: str) -> dict[str, int]:
    """``"Bettor=50,Agent=4"`` -> ``{"Bettor": 50, "Agent": 4}``."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        out[name.strip()] = int(value)
    return out


def _arguments(parser: Any) -> None:
    group = parser.add_argument_group("scenarios", "what the target holds and how users behave")
    add = group.add_argument
    add(
        "--sut-bettors",
        type=int,
        default=5000,
        env_var="SUT_BETTORS",
        help="bettors seeded in the SUT (users log in as bettor1..N)",
    )
    add(
        "--sut-agents",
        type=int,
        default=255,
        env_var="SUT_AGENTS",
        help="agents seeded in the SUT (agent1..M)",
    )
    add(
        "--sut-markets",
        type=int,
        default=20_000,
        env_var="SUT_MARKETS",
        help="markets seeded in the SUT (ids 1..N)",
    )
    add(
        "--sut-password",
        default="loadtest",
        env_var="SUT_PASSWORD",
        help="password of every seeded user",
    )
    add(
        "--ws-url",
        default="",
        env_var="LOADGATE_WS_URL",
        help="odds stream URL [default: the host's /stream]",
    )
    add(
        "--watch-markets",
        type=int,
        default=0,
        env_var="LOADGATE_WATCH_MARKETS",
        help="markets each OddsWatcher subscribes to [default: scenarios/weights.py]",
    )
    add(
        "--think-scale",
        type=float,
        default=1.0,
        env_var="LOADGATE_THINK_SCALE",
        help="multiply every think time (2 = people twice as slow)",
    )
    add(
        "--user-weights",
        default="",
        env_var="LOADGATE_USER_WEIGHTS",
        help="user mix, e.g. Bettor=50,Agent=4,OddsWatcher=4",
    )
    add(
        "--fixed-users",
        default="",
        env_var="LOADGATE_FIXED_USERS",
        help="users started in a fixed number whatever the total, e.g. Trader=2",
    )
    add(
        "--loadgate-plan-users",
        type=int,
        default=0,
        env_var="LOADGATE_PLAN_USERS",
        help="the plan's users (capacity: the last step) [default: --users]",
    )
    add(
        "--loadgate-shape",
        default="constant",
        env_var="LOADGATE_SHAPE",
        help="load plan: constant | peak:surge=0.5,at=90s,for=20s | capacity:start=..,step=..",
    )


def _apply_mix(environment: Any, **_kw: Any) -> None:
    """Set the profile's weights and fixed counts on the classes before any user spawns."""
    options = environment.parsed_options
    if options is None:
        return
    weights = parse_counts(options.user_weights or "")
    fixed = parse_counts(options.fixed_users or "")
    for cls in environment.user_classes:
        if cls.__name__ in weights:
            cls.weight = weights[cls.__name__]
        if cls.__name__ in fixed:
            cls.fixed_count = fixed[cls.__name__]
    if options.watch_markets <= 0:
        options.watch_markets = None  # the scenario's own default


events.init_command_line_parser.add_listener(_arguments)
events.init.add_listener(_apply_mix)
events.test_start.add_listener(start_plan)
