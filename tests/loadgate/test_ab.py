"""The A/B plan and its looks, without running anything (the real runs: tests/e2e/test_ab.py)."""

from __future__ import annotations

import pytest

from loadgate.ab import look_at, order, pair_noise
from loadgate.verdict import GatePolicy


def test_order_alternates_which_side_goes_first() -> None:
    assert order(4) == [
        [(0, "base")], [(0, "head")], [(1, "head")], [(1, "base")],
        [(2, "base")], [(2, "head")], [(3, "head")], [(3, "base")],
    ]  # fmt: skip
    assert order(3, side_by_side=True) == [
        [(0, "base"), (0, "head")],
        [(1, "head"), (1, "base")],
        [(2, "base"), (2, "head")],
    ]


def test_look_at_flags_only_the_metric_that_moved() -> None:
    bets, markets = ("POST /bets", 0.95), ("GET /markets", 0.95)
    noise = [1.00, 1.03, 0.98, 1.01, 0.99, 1.02]
    base = {bets: [2.0 * n for n in noise], markets: [3.0 * n for n in noise]}
    head = {
        bets: [2.0 * 1.3 * n for n in reversed(noise)],  # +30%, different noise
        markets: [3.0 * n for n in reversed(noise)],
    }
    looks = look_at(base, head, [bets, markets], (3, 6), GatePolicy())
    assert looks[bets].decision == "regression"
    assert looks[bets].ratio == pytest.approx(1.3)
    assert looks[markets].decision == "pass"
    # Bonferroni across the two metrics, then the level spent across looks
    assert looks[bets].alpha_look < 0.01 / 2


def test_look_at_honours_per_endpoint_effects() -> None:
    bets = ("POST /bets", 0.95)
    base, head = {bets: [2.0] * 6}, {bets: [2.3] * 6}  # +15%, no noise at all
    assert look_at(base, head, [bets], (3, 6), GatePolicy())[bets].decision == "regression"
    lenient = GatePolicy(min_effects={"POST /bets": 0.25})
    assert look_at(base, head, [bets], (3, 6), lenient)[bets].decision == "pass"


def test_pair_noise_is_the_spread_of_log_ratios() -> None:
    assert pair_noise([2.0], [2.2]) is None
    assert pair_noise([2.0, 3.0, 4.0], [2.2, 3.3, 4.4]) == pytest.approx(0.0, abs=1e-12)
    noise = pair_noise([1.0, 1.0, 1.0, 1.0], [1.05, 0.95, 1.10, 0.90])
    assert noise == pytest.approx(0.0916, abs=1e-3)
