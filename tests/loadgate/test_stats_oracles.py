"""The verdict's maths against oracles independent of the implementation: exact enumeration
with integer arithmetic, scipy's own tests, and closed forms. Written to kill the mutants that
survived the other tests and change a decision (``scripts/mutants``)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats as sp

from loadgate import stats
from loadgate.budgets import Budget
from loadgate.policy import GatePolicy
from loadgate.stats import BaselineComparison
from loadgate.stats._common import t_tails
from loadgate.verdict import (
    corrected_outcome,
    critical_endpoints,
    family_outcomes,
    gate_family,
)

# ------------------------------------------------------------ quantile intervals, exactly


def _binom_cdf(k: int, n: int, p: Fraction) -> Fraction:
    """P(B <= k) for B ~ Binomial(n, p), in exact rational arithmetic."""
    return sum((math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1)), Fraction(0))


def _exact_ranks(n: int, p: Fraction, tail: Fraction) -> tuple[int, int] | None:
    """By enumeration: r the largest rank with P(X(r) > q) = B(r-1) <= tail, s the smallest
    with P(X(s) < q) = 1 - B(s-1) <= tail; None when no rank meets either bound."""
    cdf = [_binom_cdf(k, n, p) for k in range(n + 1)]
    lows = [r for r in range(1, n + 1) if cdf[r - 1] <= tail]
    highs = [s for s in range(1, n + 1) if 1 - cdf[s - 1] <= tail]
    if not lows or not highs:
        return None
    return max(lows), min(highs)


@pytest.mark.parametrize(
    ("n", "p"),
    [(72, "0.95"), (80, "0.95"), (100, "0.5"), (101, "0.9"), (150, "0.95"), (200, "0.99"),
     (368, "0.99"), (400, "0.99"), (60, "0.05")],
)  # fmt: skip
def test_quantile_rank_interval_equals_exact_enumeration(n: int, p: str) -> None:
    tail = Fraction(1, 40)  # 95% two-sided
    assert stats.quantile_rank_interval(n, float(p), 0.95) == _exact_ranks(n, Fraction(p), tail)


@pytest.mark.parametrize(
    ("p", "confidence"),
    [(0.95, 0.95), (0.99, 0.95), (0.5, 0.9), (0.9, 0.99), (0.05, 0.95), (0.999, 0.95)],
)
def test_min_samples_for_interval_is_the_first_n_whose_widest_interval_covers(
    p: float, confidence: float
) -> None:
    tail = (1 - confidence) / 2
    q = max(p, 1 - p)
    first = next(n for n in range(1, 100_000) if q**n <= tail)  # P(all n on one side)
    assert stats.min_samples_for_interval(p, confidence) == first
    assert stats.quantile_rank_interval(first - 1, p, confidence) is None
    assert stats.quantile_rank_interval(first, p, confidence) is not None


def test_wilson_interval_closed_form() -> None:
    for k, n in [(0, 20), (3, 20), (20, 20), (7, 1000)]:
        z = sp.norm.ppf(0.975)
        centre = (k + z * z / 2) / (n + z * z)
        half = z * math.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
        low, high = stats.wilson_interval(k, n, 0.95)
        assert low == pytest.approx(max(0.0, centre - half), abs=1e-12)
        assert high == pytest.approx(min(1.0, centre + half), abs=1e-12)
    assert stats.wilson_interval(20, 20)[1] == 1.0
    with pytest.raises(ValueError):
        stats.wilson_interval(-1, -1)


# -------------------------------------------------------- the stored-baseline test, by scipy


@pytest.mark.parametrize("k", [2, 3, 5, 10])
def test_prediction_band_and_p_value_against_scipy(k: int) -> None:
    rng = np.random.default_rng(k)
    base = list(np.exp(rng.normal(2.0, 0.1, k)))
    x = np.log(base)
    sd, scale = np.std(x, ddof=1), np.std(x, ddof=1) * math.sqrt(1 + 1 / k)
    for rise in (1.05, 1.3, 0.7):
        y = math.exp(x.mean()) * rise
        cmp = stats.compare_to_baseline(base, y, alpha=0.01, min_effect=0.1)
        half = sp.t.ppf(0.99, k - 1) * scale
        assert cmp.ratio_high == pytest.approx(math.exp(half), rel=1e-9)
        assert cmp.ratio_low == pytest.approx(math.exp(-half), rel=1e-9)
        t = (math.log(y) - x.mean()) / scale
        expected = sp.t.sf(t, k - 1) if t >= 0 else sp.t.cdf(t, k - 1)
        assert cmp.p_value == pytest.approx(expected, rel=1e-9)
    assert sd > 0
    assert stats.detectable_change(base, 0.01) == pytest.approx(
        math.exp(sp.t.ppf(0.99, k - 1) * scale) - 1, rel=1e-9
    )


def test_one_run_never_claims_an_improvement_or_a_regression() -> None:
    assert stats.compare_to_baseline([100.0], 50.0).outcome == "pass"
    assert stats.compare_to_baseline([100.0], 200.0).outcome == "inconclusive"


@pytest.mark.parametrize(("ratio", "outcome"), [(0.85, "improvement"), (0.95, "pass"),
                                                 (1.05, "pass"), (1.3, "regression")])  # fmt: skip
def test_material_thresholds_both_ways(ratio: float, outcome: str) -> None:
    base = [100.0, 100.2, 99.8, 100.1, 99.9]  # so tight that any change is significant
    assert stats.compare_to_baseline(base, 100.0 * ratio, min_effect=0.1).outcome == outcome


def test_welch_against_scipy() -> None:
    rng = np.random.default_rng(3)
    for nx, ny in [(2, 2), (3, 5), (5, 3), (10, 10)]:
        base, head = np.exp(rng.normal(2, 0.1, nx)), np.exp(rng.normal(2.15, 0.2, ny))
        cmp = stats.compare_groups(list(base), list(head), alpha=0.05)
        ref = sp.ttest_ind(np.log(head), np.log(base), equal_var=False, alternative="greater")
        diff = np.log(head).mean() - np.log(base).mean()
        p = ref.pvalue if diff >= 0 else 1 - ref.pvalue
        assert cmp.p_value == pytest.approx(p, rel=1e-7)
        two = sp.ttest_ind(np.log(head), np.log(base), equal_var=False)
        low, high = two.confidence_interval(confidence_level=0.90)
        assert (cmp.ratio_low, cmp.ratio_high) == pytest.approx(
            (math.exp(low), math.exp(high)), rel=1e-7
        )
    with pytest.raises(ValueError):
        stats.compare_groups([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        stats.compare_groups([1.0], [1.0, 2.0])
    # a clear fall is an improvement; no change at all is a pass
    assert stats.compare_groups([10, 10.1, 9.9], [5, 5.1, 4.9]).outcome == "improvement"
    assert stats.compare_groups([10.0, 10.0], [10.0, 10.0]).outcome == "pass"


def test_t_tails_without_spread() -> None:
    assert t_tails(0.0, 0.0, 3) == (0.5, 0.5)
    assert t_tails(0.1, 0.0, 3) == (0.0, 1.0)
    assert t_tails(-0.1, 0.0, 3) == (1.0, 0.0)


# ----------------------------------------------------------------------- Holm and the family


def test_holm_bounds_and_inputs() -> None:
    assert stats.holm([0.01], 0.01) == [True]  # at the level is significant
    assert stats.holm([0.0, 1.0], 0.05) == [True, False]
    for bad in ([1.5], [-0.1], [math.nan]):
        with pytest.raises(ValueError):
            stats.holm(bad, 0.05)
    for weights in ([1.0], [1.0, 0.0], [1.0, -1.0], [1.0, math.inf]):
        with pytest.raises(ValueError):
            stats.holm([0.01, 0.02], 0.05, weights)
    # weights move alpha: the same p rejected with weight, not without
    assert stats.holm([0.03, 0.5], 0.05) == [False, False]
    assert stats.holm([0.03, 0.5], 0.05, [9.0, 1.0]) == [True, False]


def _cmp(outcome: str, p: float) -> BaselineComparison:
    return BaselineComparison(outcome, 1.5, 0.8, 1.2, p, "")  # type: ignore[arg-type]


def test_family_outcomes_edges() -> None:
    # a p-value exactly at its level is significant
    assert family_outcomes([_cmp("regression", 0.01)], [True], 0.01, 0.8) == [("regression", 0.01)]
    # a comparison without a p-value keeps its outcome
    [(outcome, level)] = family_outcomes([_cmp("inconclusive", math.nan)], [True], 0.01, 0.8)
    assert outcome == "inconclusive" and math.isnan(level)
    for share in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError):
            family_outcomes([_cmp("pass", 0.5)], [True], 0.01, share)
    with pytest.raises(ValueError):
        family_outcomes([_cmp("pass", 0.5)], [True, False], 0.01, 0.8)
    assert corrected_outcome("improvement", False) == "pass"
    assert corrected_outcome("regression", False) == "inconclusive"


def test_gate_family_uses_the_policys_alpha_and_each_metrics_effect() -> None:
    base = [10.0, 11.0, 9.0, 10.5, 9.5]
    # a material rise with p between 0.01 and 0.05: a regression at alpha 0.05 only
    y = next(
        v
        for v in np.arange(11.5, 16.0, 0.01)
        if 0.015 < stats.compare_to_baseline(base, v, alpha=0.05).p_value < 0.045
    )
    [loose] = gate_family([base], [y], [True], [0.1], GatePolicy(alpha=0.05))
    [strict] = gate_family([base], [y], [True], [0.1], GatePolicy(alpha=0.01))
    assert (loose.outcome, strict.outcome) == ("regression", "inconclusive")
    # a significant +50% is a pass when the endpoint's material effect is +60%
    [big] = gate_family([base], [15.0], [True], [0.6], GatePolicy())
    assert big.outcome == "pass"
    with pytest.raises(ValueError):
        gate_family([base], [15.0, 1.0], [True], [0.1], GatePolicy())


def test_critical_endpoints_are_those_named_in_a_latency_budget() -> None:
    budgets = [
        Budget("*", "p99", 100.0),
        Budget("POST /bets", "errors", 0.01),
        Budget("GET /markets", "p95", 50.0),
    ]
    assert critical_endpoints(budgets) == {"GET /markets"}


@pytest.mark.parametrize(("n", "p"), [(1, 0.5), (7, 0.3), (40, 0.95), (100, 0.99), (25, 0.02)])
def test_the_rank_searches_agree_with_exact_enumeration_from_any_start(n: int, p: float) -> None:
    """The interval's ranks come from a search that starts at a normal guess and walks to the
    exact answer; from starts on either side of it (near and far) and at levels on and
    between the distribution's own values it must land where exact
    enumeration of the binomial distribution says (the largest k with B(k) <= level; the
    smallest k with 1 - B(k) <= level)."""
    from loadgate.stats.intervals import _largest_k_with_cdf_at_most, _smallest_k_with_sf_at_most

    cdf = [float(sp.binom.cdf(k, n, p)) for k in range(n + 1)]
    sf = [float(sp.binom.sf(k, n, p)) for k in range(n + 1)]
    # levels on either side of every attained value, and exactly at some of them
    rng = np.random.default_rng(n)
    attained = [cdf[k] for k in rng.choice(n + 1, size=min(n + 1, 4), replace=False)]
    levels = {0.0, 1.0, 0.025, 0.975, *attained, *(c * 1.0001 for c in attained)}
    for level in sorted(levels):
        largest = max([-1] + [k for k in range(n + 1) if cdf[k] <= level])
        smallest = min([n] + [k for k in range(n + 1) if sf[k] <= level])
        near = {largest + d for d in range(-3, 4)} | {smallest + d for d in range(-3, 4)}
        for start in sorted(near | {-3, -1, 0, 1, n // 2, n - 1, n, n + 3}):
            assert _largest_k_with_cdf_at_most(n, p, level, start) == largest, (level, start)
            assert _smallest_k_with_sf_at_most(n, p, level, start) == smallest, (level, start)
