"""Per-agent downline aggregates, maintained from events (the fast dashboard path).

Every node (bettor or agent) holds the Totals of its subtree; a bet event adds its
delta to the bettor and every ancestor (hierarchy depth is small), a hierarchy move
transfers the moved subtree's Totals from the old ancestor chain to the new one.
All bet deltas are sums, so they commute: the end state is the same whatever order
concurrent requests publish in. Example::

    agg = Aggregator.build([(2, Role.AGENT, None), (3, Role.BETTOR, 2)], {3: Totals(1)})
    agg.apply(BetPlaced(3, 500, 675, at=0.0))
    agg.totals(2).turnover_cents  # 500
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sut.domain import Role, Totals
from sut.events import BetPlaced, BetSettled, Event, HierarchyChanged


class UnknownUser(LookupError):
    """An event names a user the aggregator does not know (a poison event)."""


class Aggregator:
    """Pre-aggregated Totals for every subtree of the agent hierarchy."""

    def __init__(self, parents: dict[int, int | None], totals: dict[int, Totals]) -> None:
        self._parents = parents
        self._totals = totals

    @classmethod
    def build(
        cls, hierarchy: Iterable[tuple[int, Role, int | None]], bettors: dict[int, Totals]
    ) -> Aggregator:
        """Aggregate from scratch: hierarchy rows plus per-bettor totals."""
        parents: dict[int, int | None] = {}
        totals: dict[int, Totals] = {}
        for user_id, role, parent in hierarchy:
            if role is Role.ADMIN:
                continue
            parents[user_id] = parent
            totals[user_id] = Totals()
        agg = cls(parents, totals)
        for bettor_id, bettor_totals in bettors.items():
            if bettor_id in totals:
                for node in agg._chain(bettor_id):
                    totals[node].add(bettor_totals)
        return agg

    def _chain(self, user_id: int) -> Iterator[int]:
        """The user and all its ancestors, bottom up."""
        node: int | None = user_id
        seen = 0
        while node is not None:
            yield node
            node = self._parents.get(node)
            seen += 1
            if seen > len(self._parents):  # a cycle would be a bug; never loop forever
                raise RuntimeError(f"hierarchy cycle above user {user_id}")

    def totals(self, user_id: int) -> Totals | None:
        """A copy of a node's subtree Totals, or None if unknown."""
        found = self._totals.get(user_id)
        if found is None:
            return None
        return Totals(
            found.bettors, found.turnover_cents, found.pnl_cents, found.open_exposure_cents
        )

    def apply(self, event: Event) -> None:
        """Fold one event into the aggregates; raise UnknownUser for poison events."""
        if isinstance(event, BetPlaced):
            self._add(event.bettor_id, Totals(0, event.stake_cents, 0, event.exposure_cents))
        elif isinstance(event, BetSettled):
            pnl = event.stake_cents - event.payout_cents
            self._add(event.bettor_id, Totals(0, 0, pnl, -event.exposure_cents))
        elif isinstance(event, HierarchyChanged):
            self._move(event.user_id, event.new_parent_id)
        else:
            raise TypeError(f"unknown event type {type(event).__name__}")

    def _add(self, bettor_id: int, delta: Totals) -> None:
        if bettor_id not in self._totals:
            raise UnknownUser(f"unknown bettor {bettor_id}")
        for node in self._chain(bettor_id):
            self._totals[node].add(delta)

    def _move(self, user_id: int, new_parent_id: int) -> None:
        if user_id not in self._totals or new_parent_id not in self._totals:
            raise UnknownUser(f"unknown user in move {user_id} -> {new_parent_id}")
        subtree = self._totals[user_id]
        old_parent = self._parents[user_id]
        if old_parent is not None:
            for node in self._chain(old_parent):
                self._totals[node].add(subtree, sign=-1)
        self._parents[user_id] = new_parent_id
        for node in self._chain(new_parent_id):
            self._totals[node].add(subtree)

    def mismatches(self, fresh: Aggregator) -> list[int]:
        """Users whose Totals differ from a freshly rebuilt aggregator."""
        return [
            user_id
            for user_id, totals in fresh._totals.items()
            if self._totals.get(user_id) != totals
        ]
