"""Decisions of ``loadgate.stats`` at their edges, against oracles independent of the
implementation: exact rational enumeration, scipy's Wilson interval and Welch test, and values
derived by hand in the comments. Written to kill the mutants of ``loadgate/stats/`` that
survived the other tests and change a returned number, an outcome or an error for bad input
(triage in the mutation-testing notes)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats as sp

from loadgate import stats

from .test_stats_oracles import _exact_ranks as _enumerated

# ------------------------------------------------------------- how many samples an interval needs


def _first_n_exactly(p: float, confidence: float) -> int:
    """Smallest n for which the widest interval [X(1), X(n)] misses the p-quantile on either side
    with probability at most (1 - confidence) / 2; it misses with probability max(p, 1 - p)**n.
    Exact rational arithmetic on the floats given, so no rounding of logs or powers."""
    tail = (1 - Fraction(confidence)) / 2
    q = max(Fraction(p), 1 - Fraction(p))
    n = 1
    while q**n > tail:
        n += 1
    return n


@pytest.mark.timeout(10)  # a broken settling loop never ends: fail instead of hanging
@pytest.mark.parametrize(
    ("p", "confidence", "first"),
    [
        # tail = 1/8 = 0.5**3 exactly: three samples are enough, not four
        (0.5, 0.75, 3),
        # tail = 0.75**13 exactly (1 - 2·3**13/4**13 needs 27 bits, so the float is exact), and
        # ln(tail) / ln(0.75) lands just above 13: the first guess is 14, one too many
        (0.75, 1 - 2 * 0.75**13, 13),
        # in decimals tail would be 0.9**9 (1 - 2·0.387420489); in binary the float 0.9 is a
        # hair above 9/10, so 0.9**9 stays above tail and ten samples are needed, while
        # ln(tail) / ln(0.9) rounds onto 9: the first guess is one too few
        (0.9, 0.225159022, 10),
        # the same near 95%: the guess is 35, the answer 36
        (0.9, 0.9499368899001351, 36),
    ],
)
def test_min_samples_for_interval_is_exact_where_the_logarithm_lands_on_an_integer(
    p: float, confidence: float, first: int
) -> None:
    assert _first_n_exactly(p, confidence) == first  # the oracle agrees with the hand derivation
    assert stats.min_samples_for_interval(p, confidence) == first


# ------------------------------------------------------------------ quantile intervals, exactly


def _exact_ranks(n: int, p: float, confidence: float) -> tuple[int, int] | None:
    """The rank interval by enumeration of the binomial in rationals (test_stats_oracles)."""
    return _enumerated(n, Fraction(p), (1 - Fraction(confidence)) / 2)


@pytest.mark.parametrize(
    ("n", "p"), [(6, 0.5), (7, 0.5), (8, 0.5), (9, 0.5), (72, 0.05), (72, 0.95), (100, 0.02)]
)
def test_quantile_rank_interval_can_start_at_the_first_rank(n: int, p: float) -> None:
    # (6, 0.5): B(0) = 1/64 <= 1/40 and B(1) = 7/64 > 1/40, so the interval is [X(1), X(6)]
    assert stats.quantile_rank_interval(n, p, 0.95) == _exact_ranks(n, p, 0.95)
    assert stats.quantile_rank_interval(6, 0.5, 0.95) == (1, 6)


@pytest.mark.parametrize(("p", "confidence"), [(0.5, 0.95), (0.5, 0.5), (0.99, 0.5)])
def test_quantile_rank_interval_of_a_single_sample_is_none_not_an_error(
    p: float, confidence: float
) -> None:
    # one sample misses the p-quantile above with probability p and below with 1 - p, both at
    # least 1/2, more than any tail (1 - confidence) / 2 < 1/2 allows
    assert _exact_ranks(1, p, confidence) is None
    assert stats.quantile_rank_interval(1, p, confidence) is None
    with pytest.raises(ValueError):
        stats.quantile_rank_interval(0, p, confidence)


# ------------------------------------------------------------------------ Wilson error intervals


@pytest.mark.parametrize(
    ("k", "n", "confidence"),
    [(29, 29, 0.95), (40, 40, 0.99), (0, 29, 0.95), (3, 40, 0.95), (1, 7, 0.9),
     (999, 1000, 0.99)],
)  # fmt: skip
def test_wilson_interval_matches_scipy_including_the_edges(
    k: int, n: int, confidence: float
) -> None:
    ref = sp.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    low, high = stats.wilson_interval(k, n, confidence)
    assert (low, high) == pytest.approx((ref.low, ref.high), abs=1e-12)
    # all n failed: the upper bound is exactly 1 (scipy's too), not 1 minus a rounding error
    if k == n:
        assert high == ref.high == 1.0
    if k == 0:
        assert low == ref.low == 0.0


def test_wilson_interval_stays_a_probability_for_huge_counts() -> None:
    # for k < n the exact upper bound is below 1; at n = 1e16 floats round it just past 1
    low, high = stats.wilson_interval(10**16 - 1, 10**16, 0.9)
    assert 0.0 < low <= high <= 1.0


@pytest.mark.parametrize(("k", "n"), [(1, 0), (-1, 0), (11, 10), (-1, 10)])
def test_wilson_interval_refuses_counts_outside_zero_to_n(k: int, n: int) -> None:
    with pytest.raises(ValueError, match="need 0 <= k <= n"):
        stats.wilson_interval(k, n, 0.99)


# --------------------------------------------------------------------- two groups of runs (Welch)


def test_compare_groups_without_spread_collapses_the_interval_onto_the_ratio() -> None:
    # each side's runs are identical: the ratio 120/100 is certain, its interval has no width,
    # and a certain +20% is a regression with p = 0
    cmp = stats.compare_groups([100.0, 100.0], [120.0, 120.0])
    assert cmp.ratio == pytest.approx(1.2, rel=1e-12)
    assert (cmp.ratio_low, cmp.ratio_high) == pytest.approx((1.2, 1.2), rel=1e-12)
    assert (cmp.outcome, cmp.p_value) == ("regression", 0.0)


def test_compare_groups_reports_a_fall_with_scipys_lower_tail() -> None:
    base, head = [100.0, 104.0, 97.0, 101.0], [80.0, 83.0, 78.0, 81.0, 79.0]
    cmp = stats.compare_groups(base, head)
    ref = sp.ttest_ind(np.log(head), np.log(base), equal_var=False, alternative="less")
    assert cmp.p_value == pytest.approx(ref.pvalue, rel=1e-7)
    assert cmp.ratio == pytest.approx(sp.gmean(head) / sp.gmean(base), rel=1e-12)
    assert cmp.outcome == "improvement"
    # the sentence reports print: it is always there and names the interval it used
    assert isinstance(cmp.detail, str) and "98% CI" in cmp.detail


@pytest.mark.parametrize(
    ("head", "alternative", "at_alpha", "above_alpha"),
    [
        ([125.0, 140.0, 120.0, 131.0], "greater", "inconclusive", "regression"),
        ([80.0, 88.0, 75.0, 84.0], "less", "pass", "improvement"),
    ],
)
def test_compare_groups_p_value_equal_to_alpha_is_not_significant(
    head: list[float], alternative: str, at_alpha: str, above_alpha: str
) -> None:
    """Significant means p < alpha: at p == alpha the two-sided 1 - 2·alpha interval reaches 1
    exactly, so "no change" is still inside it (as with compare_to_baseline, where the value
    must lie strictly outside its band). A material change there is not confirmed."""
    base = [100.0, 110.0, 95.0, 105.0]
    p = stats.compare_groups(base, head).p_value  # alpha does not enter the p-value
    ref = sp.ttest_ind(np.log(head), np.log(base), equal_var=False, alternative=alternative)
    assert p == pytest.approx(ref.pvalue, rel=1e-7)
    assert 1e-4 < p < 1e-2
    assert stats.compare_groups(base, head, alpha=p).outcome == at_alpha
    assert stats.compare_groups(base, head, alpha=p * 1.001).outcome == above_alpha


# --------------------------------------------------------------------------- one baseline run


def test_a_single_baseline_run_reports_the_plain_ratio() -> None:
    # 130 against 100: +30%, material, but with one run nothing is significant
    cmp = stats.compare_to_baseline([100.0], 130.0)
    assert cmp.ratio == pytest.approx(1.3, rel=1e-12)
    assert (cmp.outcome, cmp.ratio_low, cmp.ratio_high) == ("inconclusive", 0.0, math.inf)
    assert math.isnan(cmp.p_value)


@pytest.mark.parametrize(
    ("current", "interval", "outcome"),
    [
        # +30%, and the intervals share the point 110: they overlap, so it is not confirmed
        (130.0, (110.0, 150.0), "inconclusive"),
        (130.0, (110.5, 150.0), "regression"),
        # -30%, sharing the point 90: a material fall that is not confirmed passes
        (70.0, (60.0, 90.0), "pass"),
        (70.0, (60.0, 89.5), "improvement"),
    ],
)
def test_compare_single_counts_touching_intervals_as_overlapping(
    current: float, interval: tuple[float, float], outcome: str
) -> None:
    cmp = stats.compare_single(100.0, (90.0, 110.0), current, interval)
    assert cmp.outcome == outcome


def test_compare_single_accepts_values_on_the_edges_of_their_intervals() -> None:
    # a run-level quantile may sit on its interval's edge (ties in the histogram's buckets)
    cmp = stats.compare_single(100.0, (100.0, 110.0), 130.0, (120.0, 130.0))
    assert cmp.outcome == "regression"  # +30%, and 120 lies wholly above 110
    assert cmp.ratio == pytest.approx(1.3, rel=1e-12)
    # widest ratios the intervals allow: 120/110 and 130/100
    assert (cmp.ratio_low, cmp.ratio_high) == pytest.approx((12 / 11, 1.3), rel=1e-12)


# ------------------------------------------------------------------------- paired A/B sizing


def test_paired_detectable_defaults_to_one_gated_metric() -> None:
    """With a spread wide enough that significance, not materiality, decides: the shift is
    (t_(n-1)(1 - level) + t_(n-1)(power)) · spread / sqrt(n) at the last of the looks (3, 6, 10),
    where O'Brien-Fleming spending (Lan-DeMets) of alpha = 0.01 leaves the last look
    level = alpha - (2 - 2·Phi(z_(1-alpha/2) / sqrt(6/10)))."""
    spread, n, alpha = 0.15, 10, 0.01
    level = alpha - 2 * sp.norm.sf(sp.norm.isf(alpha / 2) / math.sqrt(6 / 10))
    shift = (sp.t.isf(level, n - 1) + sp.t.ppf(0.95, n - 1)) * spread / math.sqrt(n)
    assert shift > math.log1p(0.10) + sp.t.ppf(0.95, n - 1) * spread / math.sqrt(n)
    assert stats.paired_detectable(spread) == pytest.approx(math.expm1(shift), rel=1e-9)
    assert stats.paired_detectable(spread) == stats.paired_detectable(spread, n_metrics=1)
