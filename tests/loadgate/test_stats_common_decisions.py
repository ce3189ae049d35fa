"""Decisions of the shared statistics pieces (``loadgate/stats/_common.py``) as seen through
:func:`loadgate.stats.compare_to_baseline`, against oracles independent of the implementation:
``math.log``, scipy's t distribution and values derived by hand in the comments. Written to
kill the mutants of the input validation, the material-fall threshold and the prediction
interval's edges that survived the other tests (triage in the mutation-testing notes)."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sp

from loadgate import stats

# ------------------------------------------------------------------------ input validation


def test_baseline_of_large_python_ints_is_read_as_floats() -> None:
    # 10**20 does not fit in an int64: the values must be converted to floats, not kept as
    # Python objects (which np.isfinite cannot handle). Equal values: ratio 1, a pass.
    r = stats.compare_to_baseline([10**20, 10**20], 10**20)
    assert r.outcome == "pass"
    assert r.ratio == pytest.approx(1.0, rel=1e-12)
    # the spread is zero, so the prediction interval collapses to the mean itself
    assert (r.ratio_low, r.ratio_high) == pytest.approx((1.0, 1.0), rel=1e-12)


def test_large_python_int_current_is_compared_on_its_log() -> None:
    # ln(2e20 / 1e20) = ln 2: current is twice the (zero-spread) baseline
    r = stats.compare_to_baseline([10**20, 10**20, 10**20], 2 * 10**20)
    assert r.outcome == "regression"
    assert math.log(r.ratio) == pytest.approx(math.log(2.0), rel=1e-12)


@pytest.mark.parametrize(
    "baseline",
    [
        [100.0, math.inf],  # finite values only
        [math.inf, math.inf],
        [[100.0, 101.0], [99.0, 100.0]],  # one value per run, not a table
    ],
)
def test_baseline_must_be_one_dimensional_and_finite(baseline: object) -> None:
    with pytest.raises(ValueError, match="baseline"):
        stats.compare_to_baseline(baseline, 100.0)  # type: ignore[arg-type]


# --------------------------------------------------------------- material fall at its edge


def test_fall_of_exactly_min_effect_against_a_tight_baseline_is_an_improvement() -> None:
    # 100 / 110 = 1 / 1.1: exactly the material fall for min_effect = 0.10. The baseline has
    # no spread, so any fall is outside the interval (p = 0). exp(ln 100 - ln 110) may come
    # back an ulp or two off 1/1.1; it must still count as a fall of 10%.
    r = stats.compare_to_baseline([110.0, 110.0, 110.0], 100.0, min_effect=0.10)
    assert r.ratio == pytest.approx(1 / 1.1, rel=1e-12)
    assert r.p_value == 0.0
    assert r.outcome == "improvement"


def test_fall_of_exactly_min_effect_against_a_noisy_baseline_is_an_improvement() -> None:
    # Same edge with spread: baseline 110·e^{±0.001}, so mean(ln x) = ln 110, sd = 0.001 and
    # the one-sided 1% prediction bound is t(0.99, 1)·0.001·sqrt(1.5) ≈ 0.039, far less than
    # ln 1.1 ≈ 0.095: the fall to 100 is significant.
    base = [110.0 * math.exp(-0.001), 110.0 * math.exp(0.001)]
    half = sp.t.ppf(0.99, 1) * math.sqrt(2) * 0.001 * math.sqrt(1.5)
    assert half < math.log(1.1)
    r = stats.compare_to_baseline(base, 100.0, min_effect=0.10)
    assert r.ratio == pytest.approx(1 / 1.1, rel=1e-9)
    assert r.outcome == "improvement"


# ----------------------------------------------------- a value on a zero-width interval


def test_value_equal_to_a_zero_spread_baseline_is_neither_above_nor_below() -> None:
    # [100, 100]: mean(ln x) = ln 100 exactly and sd = 0, so the prediction interval is the
    # single point ln 100. A current value of exactly 100 lies ON it: not above (no regression),
    # not below (no improvement). With min_effect = 0 the ratio 1 counts as a material rise
    # (1 >= 1 + 0), so the rule gives "inconclusive"; t = 0/0 is a coin toss, p = 0.5.
    r = stats.compare_to_baseline([100.0, 100.0], 100.0, min_effect=0.0)
    assert r.ratio == 1.0
    assert (r.ratio_low, r.ratio_high) == (1.0, 1.0)
    assert r.p_value == 0.5
    assert r.outcome == "inconclusive"
