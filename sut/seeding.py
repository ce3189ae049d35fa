"""Deterministic seed data: the same seed and sizes always give the same rows.

The hierarchy has three agent levels (master agents -> agents -> sub-agents) with
bettors under the sub-agents; with the default 255 agents that is 5 + 25 + 225.
Example::

    >>> data = build_seed(seed=1, markets=10, bettors=4, agents=3, password="pw")
    >>> [u.username for u in data.users][:3]
    ['admin', 'agent1', 'agent2']
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sut.auth import hash_password
from sut.domain import SPORTS, Market, MarketStatus, Role, Selection, User

_TEAMS = (
    "Lions", "Tigers", "Eagles", "Wolves", "Sharks", "Bears", "Falcons", "Hawks",
    "Rangers", "United", "City", "Rovers", "Athletic", "Wanderers", "Dynamo", "Spartans",
)  # fmt: skip
_PLAYERS = (
    "Alvarez", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Horvat",
    "Ivanov", "Jensen", "Kowalski", "Laurent", "Moreau", "Novak", "Okafor", "Petrov",
)  # fmt: skip
_INDIVIDUAL = frozenset({"tennis"})
_THREE_WAY = frozenset({"football", "cricket", "rugby", "ice_hockey"})
_MARGIN = 1.05


@dataclass(frozen=True, slots=True)
class SeedData:
    """Everything written into an empty database at start."""

    users: tuple[User, ...]
    markets: tuple[Market, ...]
    initial_balance_cents: int


def agent_levels(agents: int) -> tuple[int, int, int]:
    """Split an agent count over the three hierarchy levels (each at least 1)."""
    masters = max(1, agents // 50)
    middle = max(1, agents // 10)
    return masters, middle, agents - masters - middle


def build_seed(
    *,
    seed: int,
    markets: int,
    bettors: int,
    agents: int,
    password: str,
    initial_balance_cents: int = 100_000,
) -> SeedData:
    """Build the users and markets for a seed; pure and deterministic."""
    rng = random.Random(seed)
    return SeedData(
        users=tuple(_users(bettors, agents, password)),
        markets=tuple(_markets(rng, markets)),
        initial_balance_cents=initial_balance_cents,
    )


def _users(bettors: int, agents: int, password: str) -> list[User]:
    users = [User(1, "admin", Role.ADMIN, None, hash_password(password, "admin"))]
    masters, middle, subs = agent_levels(agents)
    level_ids: list[list[int]] = [[], [], []]
    parents: list[list[int]] = [[], level_ids[0], level_ids[1]]
    next_id = 2
    number = 1
    for level, count in enumerate((masters, middle, subs)):
        for i in range(count):
            above = parents[level]
            parent = above[i % len(above)] if above else None
            name = f"agent{number}"
            users.append(User(next_id, name, Role.AGENT, parent, hash_password(password, name)))
            level_ids[level].append(next_id)
            next_id += 1
            number += 1
    leaves = level_ids[2]
    for i in range(bettors):
        name = f"bettor{i + 1}"
        users.append(
            User(next_id, name, Role.BETTOR, leaves[i % len(leaves)], hash_password(password, name))
        )
        next_id += 1
    return users


def _markets(rng: random.Random, count: int) -> list[Market]:
    markets = []
    selection_id = 1
    for market_id in range(1, count + 1):
        sport = SPORTS[(market_id - 1) % len(SPORTS)]
        names = _PLAYERS if sport in _INDIVIDUAL else _TEAMS
        home, away = rng.sample(names, 2)
        outcomes = [home, "Draw", away] if sport in _THREE_WAY else [home, away]
        weights = [rng.uniform(0.5, 3.0) for _ in outcomes]
        total = sum(weights)
        selections = []
        for outcome, weight in zip(outcomes, weights, strict=True):
            odds = max(1.01, min(50.0, total / (weight * _MARGIN)))
            selections.append(Selection(selection_id, outcome, round(odds * 100) * 10))
            selection_id += 1
        markets.append(
            Market(
                market_id,
                sport,
                f"{home} v {away} #{market_id}",
                MarketStatus.OPEN,
                1,
                tuple(selections),
            )
        )
    return markets
