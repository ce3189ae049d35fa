"""The stored-baseline gate with the run's own speed taken out, by seeded simulation.

The oracle is a model of this machine's runs, not the implementation: every metric of a run
shares one machine-speed factor (sd 10% of the log, as measured between runs), and each has
its own noise on top, small for P50 and larger in the tail (1.5-3% and 6-15%, as measured
between one endpoint and the others of the same run). A false alarm is any gated metric
failing in a run of unchanged code; detection is the regressed endpoint failing. The
decision counted is :func:`loadgate.verdict.gate_family`, which ``judge`` uses, given each
metric's value with the run's own speed taken out (:func:`relative_series`: divided by the
median of the other endpoints' ratios to their baseline).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from loadgate import stats
from loadgate.baselines import Baseline, run_of
from loadgate.policy import GatePolicy
from loadgate.verdict import (
    Relative,
    combine_outcomes,
    family_outcomes,
    gate_family,
    judge,
    relative_series,
)

from .test_verdict import BETS, lognormal_ms, make_result

ENDPOINTS = [
    "POST /bets",
    "GET /markets",
    "GET /markets/[id]",
    "WS odds",
    "GET /wallet",
    "GET /bets",
]
QUANTILES = (0.5, 0.95, 0.99)
OWN = {0.5: 0.02, 0.95: 0.08, 0.99: 0.15}  # each metric's own noise (sd of the log)
MACHINE = 0.10  # the run-wide speed factor every metric of a run shares
CRITICAL = {"POST /bets", "GET /markets", "GET /markets/[id]", "WS odds"}
METRICS = [(e, q) for e in ENDPOINTS for q in QUANTILES]
TRIALS = 600


def _level(k: int, q: float) -> float:
    """The log value of metric k at quantile q: endpoints differ, tails lie above medians."""
    return math.log(2.0 + k) + 1.2 * q


def _run(
    rng: np.random.Generator, slower: dict[tuple[str, float], float] | None = None
) -> dict[tuple[str, float], float]:
    machine = rng.normal(0.0, MACHINE)
    out = {}
    for k, (e, q) in enumerate(METRICS):
        out[(e, q)] = math.exp(_level(k, q) + machine + rng.normal(0.0, OWN[q]))
    for m, factor in (slower or {}).items():
        out[m] *= factor
    return out


def _gate(
    rng: np.random.Generator, k: int, slower: dict[tuple[str, float], float], relative: bool = True
) -> list[str]:
    """Outcomes per metric when a run (slower where said) is judged against k clean runs."""
    base = [_run(rng) for _ in range(k)]
    current = _run(rng, slower)
    return [
        d.outcome
        for d in gate_family(
            [[b[m] for b in base] for m in METRICS],
            [current[m] for m in METRICS],
            [m[0] in CRITICAL for m in METRICS],
            [0.10] * len(METRICS),
            GatePolicy(alpha=0.01),
            relative_series(base, current, METRICS) if relative else None,
        )
    ]


@pytest.mark.parametrize("k", [2, 3, 5, 10])
def test_unchanged_code_fails_at_most_alpha_of_gate_runs(k: int) -> None:
    """Each metric is tested twice (own value and relative one), and the family of all those
    tests holds its alarm rate at alpha: 600 runs at 1% would give 6; 12 is beyond the
    binomial's 99th percentile."""
    rng = np.random.default_rng(4000 + k)
    alarms = sum("regression" in _gate(rng, k, {}) for _ in range(TRIALS))
    assert alarms <= 12, alarms


def test_without_the_correction_the_same_simulation_cries_wolf() -> None:
    """The simulation can fail: 36 tests each at alpha alarm in well over 1% of clean runs."""
    rng = np.random.default_rng(11)
    alarms = 0
    for _ in range(300):
        base = [_run(rng) for _ in range(10)]
        current = _run(rng)
        relative = relative_series(base, current, METRICS)
        alarms += any(
            stats.compare_to_baseline([b[m] for b in base], current[m], alpha=0.01).outcome
            == "regression"
            or (
                rel is not None
                and stats.compare_to_baseline(rel.baseline, rel.current, alpha=0.01).outcome
                == "regression"
            )
            for m, rel in zip(METRICS, relative, strict=True)
        )
    assert alarms / 300 > 0.05


def test_a_20_percent_rise_of_one_p50_is_caught_nine_times_in_ten_against_ten_runs() -> None:
    """+20% on POST /bets P50 among 10% machine noise: its own value alone cannot tell (the
    band is wider than the change), its value relative to the other endpoints can."""
    rng = np.random.default_rng(21)
    slower = {(BETS, 0.5): 1.2}
    with_relative = sum(_gate(rng, 10, slower)[0] == "regression" for _ in range(300))
    alone = sum(_gate(rng, 10, slower, relative=False)[0] == "regression" for _ in range(300))
    assert with_relative / 300 >= 0.9, with_relative
    assert alone / 300 < 0.3, alone


def test_a_delay_that_adds_50_percent_to_one_p95_is_caught_nine_times_in_ten() -> None:
    """A fixed delay of half of POST /bets P95 on every request (as the study injects it):
    P95 rises by 50%, P50 by more; the endpoint fails nine times in ten or more."""
    rng = np.random.default_rng(22)
    p50, p95 = math.exp(_level(0, 0.5)), math.exp(_level(1, 0.95))  # POST /bets's levels
    delay = 0.5 * p95
    slower = {(BETS, 0.5): 1 + delay / p50, (BETS, 0.95): 1.5, (BETS, 0.99): 1.4}
    caught = sum("regression" in _gate(rng, 10, slower)[:3] for _ in range(300))
    assert caught / 300 >= 0.9, caught


def test_a_rise_of_the_tail_alone_is_caught_when_it_doubles() -> None:
    """Only P95 moves (x2), P50 and P99 stay: the P95 test alone must catch it. (A tail-only
    +50% is inside the band of P95's own noise of 8% at the level Holm asks for among 36
    tests: such a tail needs longer runs or more blessed runs.)"""
    rng = np.random.default_rng(25)
    caught = sum(_gate(rng, 10, {(BETS, 0.95): 2.0})[1] == "regression" for _ in range(300))
    assert caught / 300 >= 0.9, caught


def test_a_uniform_slowdown_is_still_the_absolute_tests_to_catch() -> None:
    """Every endpoint x2.5: no endpoint moved against the others, yet the gate fails (the own
    value's test), so a change that slows everything alike is not hidden. (Against 10% of
    machine noise and ten blessed runs, the own value's band at Holm's level reaches about
    x1.9: a uniform change must be that large to stand out of a whole run being slower.)"""
    rng = np.random.default_rng(23)
    slower = {m: 2.5 for m in METRICS}
    caught = sum(_gate(rng, 10, slower)[0] == "regression" for _ in range(100))
    assert caught / 100 >= 0.9, caught


def test_the_others_getting_faster_is_not_a_regression_of_this_one() -> None:
    """Every endpoint but POST /bets twice as fast: POST /bets rises against them, but it did
    not change. The run's speed (x0.5) is far outside the blessed runs' speeds, so it is not
    taken out and POST /bets is judged on its own value: it does not fail. (Nearer the
    machine's own range, -30% say, one run cannot tell the other endpoints' change from a
    faster machine; the check then names how fast the other endpoints ran.)"""
    rng = np.random.default_rng(24)
    faster = {m: 0.5 for m in METRICS if m[0] != BETS}
    failed = sum(_gate(rng, 10, faster)[0] == "regression" for _ in range(300))
    assert failed / 300 <= 0.02, failed


def test_a_metric_tested_twice_splits_its_weight() -> None:
    """Two metrics, the first tested twice: nothing rejected, so each test is held to
    alpha x its weight (1/2 for the single one, 1/4 for each of the pair)."""
    cmp = stats.compare_to_baseline([10.0, 10.5, 9.6], 10.1)
    levels = [
        lv for _, lv in family_outcomes([cmp] * 3, [False] * 3, 0.01, 0.8, metric_of=[0, 0, 1])
    ]
    assert levels == pytest.approx([0.0025, 0.0025, 0.005])
    # critical metric 0 (tested twice) holds 80% of alpha, the other 20%
    levels = [
        lv
        for _, lv in family_outcomes([cmp] * 3, [True, True, False], 0.01, 0.8, metric_of=[0, 0, 1])
    ]
    assert levels == pytest.approx([0.004, 0.004, 0.002])
    with pytest.raises(ValueError, match="agree"):
        family_outcomes([cmp] * 2, [True, False], 0.01, 0.8, metric_of=[0, 0])


def test_gate_family_splits_a_metrics_weight_only_between_its_own_tests() -> None:
    """Metric A has two blessed runs and peers (tested on its own value and relative to the
    run: two tests); metric B has none (one test). Nothing is rejected, so A's tests are each
    held to alpha/4 and B's to alpha/2: A's two tests share A's half of alpha. (Three tests
    weighed alike would each get alpha/3.) Two blessed runs are enough for both tests."""
    base = [10.0, 10.4]
    rel = Relative(baseline=[1.0, 1.02], current=1.01, speeds=[1.0, 1.01], speed=1.005)
    a, b = gate_family(
        [base, base], [10.1, 10.1], [False, False], [0.1, 0.1], GatePolicy(alpha=0.01), [rel, None]
    )
    assert a.relative is not None and b.relative is None
    assert (a.level, a.relative_level, b.level) == pytest.approx((0.0025, 0.0025, 0.005))


@pytest.mark.parametrize(
    ("absolute", "relative", "expected"),
    [
        ("regression", "pass", ("regression", False)),
        ("regression", "regression", ("regression", False)),
        ("pass", "regression", ("regression", True)),
        ("inconclusive", "regression", ("regression", True)),
        ("pass", "inconclusive", ("inconclusive", True)),
        ("inconclusive", "pass", ("inconclusive", False)),
        ("improvement", "pass", ("improvement", False)),
        ("pass", "pass", ("pass", False)),
    ],
)
def test_combine_outcomes(absolute: str, relative: str, expected: tuple[str, bool]) -> None:
    assert combine_outcomes(absolute, relative) == expected


def test_compare_relative_against_the_prediction_interval_by_hand() -> None:
    """The relative test is the prediction-interval test on the ratios; the t quantile from
    scipy is the oracle for the band."""
    from scipy import stats as sps

    ratios = [1.50, 1.52, 1.49, 1.51, 1.50]
    logs = np.log(ratios)
    half = sps.t.ppf(0.99, 4) * np.std(logs, ddof=1) * math.sqrt(1 + 1 / 5)
    cmp = stats.compare_relative(ratios, 1.82, 1.07)
    assert cmp.ratio_high == pytest.approx(math.exp(half))
    assert cmp.ratio == pytest.approx(1.82 / math.exp(logs.mean()))
    assert cmp.p_value == pytest.approx(
        sps.t.sf((math.log(1.82) - logs.mean()) / (half / sps.t.ppf(0.99, 4)), 4)
    )
    assert cmp.outcome == "regression"
    # own value fell: the others got faster
    assert stats.compare_relative(ratios, 1.82, 0.97).outcome == "pass"
    # a relative fall is never an improvement here (the own value's test calls those)
    assert stats.compare_relative(ratios, 1.2, 0.8).outcome == "pass"
    with pytest.raises(ValueError, match="absolute"):
        stats.compare_relative(ratios, 1.82, 0.0)


def test_a_relative_rise_the_noise_cannot_confirm_passes_only_if_the_own_value_fell() -> None:
    """A material relative rise inside a wide band is inconclusive (a warning); when the
    endpoint's own value fell it passes instead, and says why. Not falling (x1.00) is not
    falling: it stays inconclusive."""
    noisy = [1.2, 1.8, 1.4, 1.6, 1.5]
    rising = math.exp(np.log(noisy).mean()) * 1.3
    assert stats.compare_relative(noisy, rising, 1.05).outcome == "inconclusive"
    assert stats.compare_relative(noisy, rising, 1.0).outcome == "inconclusive"
    fell = stats.compare_relative(noisy, rising, 0.99)
    assert fell.outcome == "pass"
    assert "the other endpoints got faster, this one did not get slower" in fell.detail
    # the level is the caller's: at alpha = 0.2 the same rise is a regression
    assert stats.compare_relative(noisy, rising, 1.05, alpha=0.2).outcome == "regression"
    # the own-value rule holds from two blessed runs on
    assert stats.compare_relative(noisy[:2], 1.5 * 1.6, 0.9).outcome == "pass"
    assert stats.compare_relative(noisy[:2], 1.5 * 1.6, 1.1).outcome != "pass"


def _results(medians: list[float], bets: float = 1.0) -> list:
    names = ENDPOINTS[:5]
    return [
        make_result(
            {
                name: (
                    lognormal_ms(
                        m * (1 + k) * (bets if name == BETS and i == len(medians) - 1 else 1.0),
                        20_000,
                        10 + i + 100 * k,
                        sigma=0.3,
                    ),
                    0,
                )
                for k, name in enumerate(names)
            },
            run_id=f"b{i}",
            started_at=f"2026-11-2{i}T10:00:00+00:00",
        )
        for i, m in enumerate(medians)
    ]


def test_judge_fails_a_rise_of_one_endpoint_that_only_the_relative_test_sees(
    tmp_path: Path,
) -> None:
    """Six blessed runs whose speed varies by ±15% (every endpoint alike) and a new run at the
    baseline's mean speed with POST /bets 25% slower: inside its own noise band, far outside
    the band of its ratio to the other endpoints. The check says so, and its change and band
    are the relative ones the decision used."""
    runs = _results([1.0, 1.15, 0.87, 1.1, 0.9, 1.0, 1.0], bets=1.25)
    blessed, current = runs[:-1], runs[-1]
    baseline = Baseline("local", "smoke", [run_of(r) for r in blessed])
    verdict = judge(current, [], baseline)
    check = next(c for c in verdict.checks if c.name == "POST /bets p50 vs baseline")
    assert (check.outcome, check.status) == ("regression", "fail"), check.message
    assert "With the run's own speed taken out it is +2" in check.message
    assert "Its own value is" in check.message and "other endpoints ran" in check.message
    assert check.interval_label == "noise band, run speed taken out"
    assert check.ratio is not None and check.interval is not None
    assert check.ratio == pytest.approx(1.25, rel=0.03)
    assert check.interval[1] < 1.1  # the relative band, not the own value's (±15% and more)
    assert verdict.status == "fail"
    # the same run without the rise passes everywhere
    same = judge(_results([1.0, 1.15, 0.87, 1.1, 0.9, 1.0, 1.0])[-1], [], baseline)
    assert same.status == "pass", same.headline


def test_a_rise_the_whole_run_shared_says_what_is_left_without_the_runs_speed() -> None:
    """Every endpoint 30% slower than the baseline's mean, inside its ±15% run-to-run swings'
    band: the own values are inconclusive, and each says that with the run's speed taken out
    nothing is left."""
    runs = _results([1.0, 1.15, 0.87, 1.1, 0.9, 1.0, 1.3])
    baseline = Baseline("local", "smoke", [run_of(r) for r in runs[:-1]])
    verdict = judge(runs[-1], [], baseline)
    check = next(c for c in verdict.checks if c.name == "POST /bets p50 vs baseline")
    assert check.outcome == "inconclusive", check.message
    assert "With the run's own speed taken out it is" in check.message
    assert verdict.status == "pass"
