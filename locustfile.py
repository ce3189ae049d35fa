"""Entry point for Locust, thin by design: binds the scenario users by name and loads the
loadgate recorder. ``locust -f locustfile.py --host http://127.0.0.1:8000`` opens the web UI.

Pick users with Locust's own ``--class-picker`` or by naming them after the options,
e.g. ``locust -f locustfile.py Bettor``.
"""

from __future__ import annotations

from typing import Any

from locust import events

from loadgate import plugin
from scenarios.bettor import Bettor

__all__ = ["Bettor"]

plugin.install()


def _sut_arguments(parser: Any) -> None:
    group = parser.add_argument_group("bundled SUT", "what the seeded SUT holds")
    group.add_argument(
        "--sut-bettors",
        type=int,
        default=5000,
        env_var="SUT_BETTORS",
        help="bettors seeded in the SUT (users log in as bettor1..N)",
    )
    group.add_argument(
        "--sut-agents",
        type=int,
        default=255,
        env_var="SUT_AGENTS",
        help="agents seeded in the SUT (agent1..M)",
    )
    group.add_argument(
        "--sut-password",
        default="loadtest",
        env_var="SUT_PASSWORD",
        help="password of every seeded user",
    )


events.init_command_line_parser.add_listener(_sut_arguments)
