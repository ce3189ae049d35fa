"""The A/B plan and its looks, without running anything (the real runs: tests/e2e/test_ab.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from loadgate.ab import look_at, order, pair_noise
from loadgate.checks import Check
from loadgate.policy import GatePolicy


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


def _trust(
    base: list[float],
    head: list[float],
    base_delay: list[float],
    head_delay: list[float],
    tmp_path: Path,
    late: int = 0,
) -> list[Check]:
    from loadgate import config
    from loadgate.ab import AbRequest, generator_trust, look_at

    request = AbRequest(
        base_rev="main", head_rev=None, target=config.load_target("local"),
        profile=config.load_profile("smoke"), budgets=(), out_dir=tmp_path, looks=(6,),
    )  # fmt: skip
    m = ("POST /bets", 0.95)
    looks = look_at({m: base}, {m: head}, [m], request.looks, request.policy)
    runs = [
        {"run_id": f"r{i}", "side": "head", "generator_kept_up": i >= late,
         "generator_note": "The load generator's own delay could account for it."}
        for i in range(2 * len(base))
    ]  # fmt: skip
    values = {"base": {m: base}, "head": {m: head}}
    delays = {"base": {m: base_delay}, "head": {m: head_delay}}
    return generator_trust([m], values, delays, looks, runs, request)


BASE = [2.0, 2.1, 1.9, 2.0, 2.05, 1.95]


def test_a_regression_made_of_the_generators_delay_is_invalid(tmp_path: Path) -> None:
    """Head's generator was 1 ms late at P95 in every run, base's not: the +50% is the
    generator's, and the A/B says so instead of failing the SUT."""
    head = [v + 1.0 for v in BASE]
    (check,) = _trust(BASE, head, [0.0] * 6, [1.0] * 6, tmp_path)
    assert check.status == "invalid"
    assert "POST /bets p95: the regression could be the load generators' own delay" in (
        check.message
    )
    assert check.outcome != "regression"


def test_a_regression_hidden_by_the_generators_delay_is_invalid(tmp_path: Path) -> None:
    """Base's generator added 1 ms to every base run: head's real +50% looks like nothing."""
    base = [v + 1.0 for v in BASE]
    head = [v * 1.5 for v in BASE]
    (check,) = _trust(base, head, [1.0] * 6, [0.0] * 6, tmp_path)
    assert check.status == "invalid"
    assert "could hide a regression" in check.message


def test_a_regression_the_delay_only_diluted_stands(tmp_path: Path) -> None:
    """Head is x3 slower. In one base run the generator's delay made up most of the value:
    taken out, the change is larger still (x5.5) but noisier and loses significance. The
    delay did not make the regression, so it stands (a warning) and the A/B is kept."""
    head = [v * 3.0 for v in BASE]
    base_delay = [0.0] * 5 + [1.9]
    (check,) = _trust(BASE, head, base_delay, [0.0] * 6, tmp_path)
    assert check.status == "warn", check.message
    assert "the regression stands" in check.message
    assert check.outcome == "inconclusive" and check.ratio is not None
    assert check.ratio > 3.0


def test_a_hidden_regression_beside_a_found_one_is_a_warning(tmp_path: Path) -> None:
    """The gate fails on POST /bets p50 either way; that p95 too would be a regression without
    base's generator delay is said, not made a reason to throw the A/B away."""
    from loadgate import config
    from loadgate.ab import AbRequest, generator_trust, look_at

    request = AbRequest(
        base_rev="main", head_rev=None, target=config.load_target("local"),
        profile=config.load_profile("smoke"), budgets=(), out_dir=tmp_path, looks=(6,),
    )  # fmt: skip
    found, hidden = ("POST /bets", 0.5), ("POST /bets", 0.95)
    values = {
        "base": {found: BASE, hidden: [v + 1.0 for v in BASE]},
        "head": {found: [v * 1.5 for v in BASE], hidden: [v * 1.5 for v in BASE]},
    }
    delays = {
        "base": {found: [0.0] * 6, hidden: [1.0] * 6},
        "head": {m: [0.0] * 6 for m in values["base"]},
    }
    metrics = [found, hidden]
    looks = look_at(values["base"], values["head"], metrics, request.looks, request.policy)
    assert looks[found].decision == "regression" and looks[hidden].decision != "regression"
    runs = [{"run_id": f"r{i}", "side": "base", "generator_kept_up": True} for i in range(12)]
    (check,) = generator_trust(metrics, values, delays, looks, runs, request)
    assert (check.status, check.endpoint) == ("warn", "POST /bets")
    assert (
        "could hide a regression" in check.message and "fails on the regressions" in check.message
    )


def test_a_delay_both_sides_met_alike_leaves_the_decision_and_warns(tmp_path: Path) -> None:
    head = [v * 1.5 + 0.5 for v in BASE]
    base = [v + 0.5 for v in BASE]
    assert _trust(base, head, [0.5] * 6, [0.5] * 6, tmp_path) == []  # every generator kept up
    (check,) = _trust(base, head, [0.5] * 6, [0.5] * 6, tmp_path, late=3)
    assert check.status == "warn"
    assert check.message.startswith("In 3 of 12 runs the load generator's own delay was material")
    assert "the comparison holds" in check.message


def test_a_late_generator_does_not_stop_the_a_b_but_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Side by side, both generators share a core; a run whose own generator was late is kept
    (its pair judged by :func:`generator_trust`), not thrown away."""
    import numpy as np

    from loadgate import ab, config
    from loadgate.histogram import LatencyHistogram
    from loadgate.results import GeneratorHealth
    from loadgate.runner import RunOutcome

    from .conftest import build_result

    def outcome(late_ms: float) -> RunOutcome:
        result = build_result()
        for ep in result.endpoints.values():
            ep.delay = LatencyHistogram.of(np.full(1000, int(late_ms * 1000)))
        late = GeneratorHealth("vm:1", "local", LatencyHistogram.of([late_ms * 1000] * 100))
        return RunOutcome(replace(result, generators=[late]), tmp_path)

    request = ab.AbRequest(
        base_rev="main", head_rev=None, target=config.load_target("local"),
        profile=config.load_profile("smoke"), budgets=(), out_dir=tmp_path,
    )  # fmt: skip
    trees = {"base": (tmp_path, "aaaa"), "head": (tmp_path, "bbbb")}
    step = [(0, "base"), (0, "head")]
    monkeypatch.setattr(ab, "run_side_by_side", lambda _reqs: [outcome(0.2), outcome(30.0)])
    base, head = ab._run_step(request, step, trees, 0)
    metric = next(iter(head.endpoints)), 0.95
    assert ab.delay_value(head, metric) == pytest.approx(30.0, rel=0.01)
    assert ab.delay_value(base, metric) == pytest.approx(0.2, rel=0.01)
