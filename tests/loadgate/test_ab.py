"""The A/B plan and its looks, without running anything (the real runs: tests/e2e/test_ab.py)."""

from __future__ import annotations

from pathlib import Path

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


def test_a_metric_too_noisy_to_gate_says_so_instead_of_warning(tmp_path: Path) -> None:
    from loadgate import config, stats
    from loadgate.ab import AbRequest, _verdict

    request = AbRequest(
        base_rev="main", head_rev=None, target=config.load_target("local"),
        profile=config.load_profile("smoke"), budgets=(), out_dir=tmp_path,
    )  # fmt: skip
    quiet, noisy = ("POST /bets", 0.5), ("POST /bets", 0.99)
    look = stats.PairedLook(10, 1.08, 1.15, 1.01, 0.02, 0.009, "inconclusive")
    trees = {"base": (tmp_path, "aaaa"), "head": (tmp_path, "bbbb")}
    verdict = _verdict(
        [quiet, noisy], {quiet: look, noisy: look}, trees,
        {quiet: 0.03, noisy: 0.40}, request,
    )  # fmt: skip
    by_name = {c.name: c for c in verdict.checks}
    assert by_name["POST /bets p50 A/B"].outcome == "inconclusive"
    assert by_name["POST /bets p50 A/B"].status == "warn"
    noisy_check = by_name["POST /bets p99 A/B"]
    assert (noisy_check.outcome, noisy_check.status) == ("not gated", "pass")
    assert "too noisy here to gate; 10 pairs would catch only a rise above +" in noisy_check.message
    assert verdict.status == "pass"
    assert "in 1 gated metrics" in verdict.headline and "1 too noisy to gate" in verdict.headline
