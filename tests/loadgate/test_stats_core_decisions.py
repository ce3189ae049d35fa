"""Decisions of the relative gate and the paired sequential test at their edges, against oracles
independent of the implementation: scipy's t distribution for the prediction intervals, and
values derived by hand in the comments. Written to kill the mutants of ``compare_relative``,
``paired_sequential_test``, ``relative_series`` and the relative test inside ``gate_family``
that survived the other tests and change an outcome, a returned number or an error for bad
input (triage in the mutation-testing notes)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from loadgate import stats
from loadgate.policy import GatePolicy
from loadgate.verdict import Decision, Relative, gate_family, relative_series

# A tight relative series (sd of the logs about 0.0075) and a run about +20% above it.
TIGHT = [1.50, 1.52, 1.49, 1.51, 1.50]
RISEN = 1.80
# Own values of the same metric: unremarkable, a little above their mean (absolute ratio >= 1).
OWN = [10.0, 10.4, 9.7, 10.1, 9.9]
OWN_NOW = 10.3
STEADY_SPEEDS = [1.0, 1.02, 0.98, 1.01, 0.99]


def _band(values: list[float], alpha: float) -> tuple[float, float]:
    """Mean of the logs and the half-width of the one-sided-alpha prediction interval for one
    new value: t(1 - alpha, K - 1) * sd * sqrt(1 + 1/K) (scipy's t, not the implementation's)."""
    x = np.log(values)
    k = len(x)
    half = float(sp.t.ppf(1.0 - alpha, k - 1)) * float(np.std(x, ddof=1)) * math.sqrt(1 + 1 / k)
    return float(np.mean(x)), half


def _gate_one(rel: Relative, effect: float, policy: GatePolicy) -> Decision:
    """One gated metric with its own values OWN/OWN_NOW and the relative values ``rel``."""
    [decision] = gate_family([OWN], [OWN_NOW], [True], [effect], policy, [rel])
    return decision


# ------------------------------------------------------------------------------ compare_relative


def test_compare_relative_min_effect_decides_a_significant_rise() -> None:
    # oracle: RISEN is far above the 1% prediction band of TIGHT, and its ratio to the geometric
    # mean is about 1.197, material at min_effect 0.1 but not at 0.3
    mean, half = _band(TIGHT, 0.01)
    ratio = math.exp(math.log(RISEN) - mean)
    assert math.log(RISEN) > mean + half
    assert 1.1 < ratio < 1.3
    assert stats.compare_relative(TIGHT, RISEN, 1.05, min_effect=0.1).outcome == "regression"
    assert stats.compare_relative(TIGHT, RISEN, 1.05, min_effect=0.3).outcome == "pass"


def test_compare_relative_keeps_an_inconclusive_rise_within_the_ratio_slack() -> None:
    # With min_effect 0 a "material" rise is ratio >= 1 * (1 - 1e-9) (the documented relative
    # slack that lets exactly +10% count as +10%), so a ratio of 1 - 5e-10 is one, though just
    # below 1. It is well inside the noise band, so it is inconclusive, and the endpoint's own
    # value did not fall (absolute 1): the relative test keeps it inconclusive, not a pass.
    centre = math.exp(float(np.mean(np.log(TIGHT))))
    cmp = stats.compare_relative(TIGHT, centre * (1 - 5e-10), 1.0, min_effect=0.0)
    assert cmp.ratio < 1.0
    assert cmp.outcome == "inconclusive"


# ------------------------------------------------------------------------ paired_sequential_test


@pytest.mark.parametrize("alpha", [0.01, 0.5])
def test_paired_identical_runs_with_no_material_threshold_are_inconclusive(alpha: float) -> None:
    # Identical pairs: every d is 0, so (documented) p is 0.5 either way and both bounds equal
    # R = 1. A single look spends all of alpha, so alpha_look = alpha. With min_effect 0, R = 1
    # is both a "material" rise and fall, but p = 0.5 is not < alpha_look (not even at alpha
    # 0.5), and the upper bound 1 is not < 1 + 0: at the last look that is inconclusive.
    look = stats.paired_sequential_test(
        [100.0, 100.0], [100.0, 100.0], looks=(2,), alpha=alpha, min_effect=0.0
    )
    assert look.pairs == 2
    assert look.p_value == 0.5
    assert look.decision == "inconclusive"


def test_paired_too_few_pairs_for_a_single_look_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="at least 5 pairs"):
        stats.paired_sequential_test([100.0, 101.0], [100.0, 102.0], looks=(5,))


# ---------------------------------------------------- the relative test inside gate_family


def test_relative_test_runs_when_the_speed_sits_exactly_on_its_band() -> None:
    # Speeds with no spread at all give a zero-width band [1, 1]; a current speed of exactly 1
    # is on both of its edges, inside it, so the relative test runs: RISEN against TIGHT is a
    # significant +20% (see the oracle above), a regression at min_effect 0.1.
    rel = Relative(TIGHT, RISEN, [1.0] * 5, 1.0)
    decision = _gate_one(rel, 0.1, GatePolicy())
    assert decision.relative is not None
    assert decision.relative.outcome == "regression"
    assert decision.relative.ratio == pytest.approx(RISEN / math.exp(float(np.mean(np.log(TIGHT)))))


def test_relative_test_uses_the_metric_effect() -> None:
    # the same significant +20%, but the metric's material effect is 30%: a pass
    rel = Relative(TIGHT, RISEN, [1.0] * 5, 1.0)
    decision = _gate_one(rel, 0.3, GatePolicy())
    assert decision.relative is not None
    assert decision.relative.outcome == "pass"
    assert decision.outcome == "pass"


def test_relative_test_is_skipped_when_the_speed_left_its_band() -> None:
    # The run's speed doubled against speeds within +-2%: far outside any band. The relative
    # test is skipped as a pass with no ratio, the widest band and p = 1 (never rejected).
    rel = Relative(TIGHT, RISEN, STEADY_SPEEDS, 2.0)
    decision = _gate_one(rel, 0.1, GatePolicy())
    skipped = decision.relative
    assert skipped is not None
    assert skipped.outcome == "pass"
    assert math.isnan(skipped.ratio)
    assert skipped.ratio_low == 0.0
    assert skipped.ratio_high == math.inf
    assert skipped.p_value == 1.0
    assert "judged on its own value" in skipped.detail
    assert decision.outcome == "pass"


def test_relative_speed_band_is_held_to_the_policy_alpha() -> None:
    # A speed between the 5% and the 1% prediction bands of the blessed runs' speeds (scipy's
    # t): outside the band at the policy's alpha 0.05, so the relative test is skipped.
    mean, half05 = _band(STEADY_SPEEDS, 0.05)
    _, half01 = _band(STEADY_SPEEDS, 0.01)
    assert half05 < half01
    speed = math.exp(mean + (half05 + half01) / 2)
    rel = Relative(TIGHT, RISEN, STEADY_SPEEDS, speed)
    decision = _gate_one(rel, 0.1, GatePolicy(alpha=0.05))
    assert decision.relative is not None
    assert decision.relative.outcome == "pass"
    assert math.isnan(decision.relative.ratio)


def test_relative_value_band_is_held_to_the_policy_alpha() -> None:
    # Speed exactly at the blessed speeds' geometric mean (inside any band). The relative value
    # sits between the 5% and the 1% prediction bands of its series (scipy's t): at the policy's
    # alpha 0.05 it is above its band, and with min_effect 0 any rise is material, so the raw
    # relative comparison is a regression whose band edge is the 5% one.
    series = [1.50, 1.56, 1.46, 1.53, 1.48]
    mean, half05 = _band(series, 0.05)
    _, half01 = _band(series, 0.01)
    current = math.exp(mean + (half05 + half01) / 2)
    centre = math.exp(float(np.mean(np.log(STEADY_SPEEDS))))
    rel = Relative(series, current, STEADY_SPEEDS, centre)
    decision = _gate_one(rel, 0.0, GatePolicy(alpha=0.05))
    assert decision.relative is not None
    assert decision.relative.outcome == "regression"
    assert decision.relative.ratio_high == pytest.approx(math.exp(half05), rel=1e-9)


# ------------------------------------------------------------------------------ relative_series

A, B, C, D = ("a", 0.5), ("b", 0.5), ("c", 0.5), ("d", 0.5)
RUN1 = {A: 2.0, B: 1.0, C: 4.0, D: 8.0}
RUN2 = {A: 4.0, B: 2.0, C: 8.0, D: 16.0}
NOW = {A: 6.0, B: 2.0, C: 8.0, D: 16.0}


@pytest.mark.parametrize(
    "third",
    [{A: 3.0, B: 1.5, C: 6.0}, {A: 3.0, B: 1.5, C: 6.0, D: 0.0}],
    ids=["lacks-a-peer", "zero-peer"],
)
def test_relative_series_leaves_out_a_run_without_every_value(
    third: dict[tuple[str, float], float],
) -> None:
    # The third run lacks d (or has d = 0), so it is left out of every metric's series (d is
    # in every metric's group). By hand for a, on RUN1 and RUN2: the peers' centres are
    # sqrt(2), 4 sqrt(2), 8 sqrt(2); RUN1's speed is the median of 1/sqrt(2) (all three),
    # RUN2's sqrt(2), so a's series is 2 sqrt(2), 2 sqrt(2); NOW's speed is sqrt(2), so a's
    # current is 6 / sqrt(2) = 3 sqrt(2).
    first = relative_series([RUN1, RUN2, third], NOW, [A, B, C, D])[0]
    assert first is not None
    assert first.baseline == pytest.approx([2 * math.sqrt(2)] * 2)
    assert first.current == pytest.approx(3 * math.sqrt(2))
    assert first.speeds == pytest.approx([1 / math.sqrt(2), math.sqrt(2)])


def test_relative_series_is_none_when_the_current_run_has_a_zero() -> None:
    # d = 0 in the current run: no metric of the group can be taken relative to it
    now = {**NOW, D: 0.0}
    assert relative_series([RUN1, RUN2], now, [A, B, C, D]) == [None] * 4


def test_relative_series_is_none_when_no_blessed_run_has_every_value() -> None:
    runs = [{A: 2.0, B: 1.0, C: 4.0}, {A: 4.0, B: 2.0, C: 8.0}]
    assert relative_series(runs, NOW, [A, B, C, D]) == [None] * 4


def test_relative_series_takes_values_below_one() -> None:
    # Latencies in seconds: the doctest's runs scaled by 0.1. Speeds are ratios, unchanged
    # (1/sqrt(2) and sqrt(2)); the relative values scale by 0.1.
    runs = [{m: v / 10 for m, v in run.items()} for run in (RUN1, RUN2)]
    now = {m: v / 10 for m, v in NOW.items()}
    first = relative_series(runs, now, [A, B, C, D])[0]
    assert first is not None
    assert first.baseline == pytest.approx([0.2 * math.sqrt(2)] * 2)
    assert first.current == pytest.approx(0.3 * math.sqrt(2))
