"""The paired A/B test against independent oracles: scipy's one-sample t-test and t quantiles
for each look, and a seeded simulation for the detectable effect the A/B reports."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from loadgate.stats import look_levels, paired_detectable, paired_sequential_test

LOOKS = (3, 6, 10)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("pairs", [3, 6, 10])
def test_each_look_is_scipys_one_sided_t_test(seed: int, pairs: int) -> None:
    rng = np.random.default_rng(seed)
    base = rng.lognormal(np.log(10.0), 0.1, pairs)
    head = base * rng.lognormal(rng.normal(0.0, 0.1), 0.05, pairs)
    look = paired_sequential_test(base.tolist(), head.tolist(), n_metrics=3)
    d = np.log(head) - np.log(base)
    oracle = sp.ttest_1samp(d, 0.0, alternative="greater")
    assert look.pairs == pairs
    assert look.p_value == pytest.approx(float(oracle.pvalue), rel=1e-9, abs=1e-15)
    se = d.std(ddof=1) / math.sqrt(pairs)
    margin = sp.t.ppf(0.90, pairs - 1) * se
    assert look.ratio == pytest.approx(math.exp(d.mean()), rel=1e-12)
    assert look.ratio_upper90 == pytest.approx(math.exp(d.mean() + margin), rel=1e-12)
    assert look.ratio_low == pytest.approx(math.exp(d.mean() - margin), rel=1e-12)
    assert look.alpha_look == pytest.approx(look_levels(LOOKS, 0.01 / 3)[LOOKS.index(pairs)])


def _decide(d: np.ndarray, alpha_look: float, min_effect: float, last: bool) -> str:
    """The documented rules, written again from scipy."""
    n = len(d)
    ratio = math.exp(d.mean())
    p_up = float(sp.ttest_1samp(d, 0.0, alternative="greater").pvalue)
    p_down = float(sp.ttest_1samp(d, 0.0, alternative="less").pvalue)
    upper = math.exp(d.mean() + sp.t.ppf(0.90, n - 1) * d.std(ddof=1) / math.sqrt(n))
    if p_up < alpha_look and ratio >= 1 + min_effect:
        return "regression"
    if p_down < alpha_look and ratio <= 1 / (1 + min_effect):
        return "improvement"
    if upper < 1 + min_effect:
        return "pass"
    return "inconclusive" if last else "continue"


def test_decisions_follow_the_documented_rules_on_many_cases() -> None:
    rng = np.random.default_rng(11)
    seen: set[str] = set()
    for _ in range(600):
        pairs = int(rng.choice(LOOKS))
        shift, sd = rng.normal(0.0, 0.25), rng.uniform(0.005, 0.3)
        d = rng.normal(shift, sd, pairs)
        base = np.full(pairs, 10.0)
        look = paired_sequential_test(base.tolist(), (base * np.exp(d)).tolist())
        want = _decide(d, look.alpha_look, 0.10, pairs == LOOKS[-1])
        assert look.decision == want, (pairs, shift, sd)
        seen.add(want)
    assert seen == {"regression", "improvement", "pass", "inconclusive", "continue"}


def test_alpha_is_split_across_metrics_before_it_is_spent_across_looks() -> None:
    d = np.array([0.30, 0.31, 0.29, 0.305, 0.295, 0.30])
    base = np.full(6, 10.0)
    one = paired_sequential_test(base.tolist(), (base * np.exp(d)).tolist())
    many = paired_sequential_test(base.tolist(), (base * np.exp(d)).tolist(), n_metrics=50)
    assert one.alpha_look == pytest.approx(look_levels(LOOKS, 0.01)[1])
    assert many.alpha_look == pytest.approx(look_levels(LOOKS, 0.01 / 50)[1])
    assert one.p_value == many.p_value


def _power(effect: float, spread: float, trials: int, seed: int) -> float:
    """Share of sequential A/Bs (looks 3, 6, 10) that flag a rise of ``effect``."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(trials):
        d = rng.normal(math.log1p(effect), spread, LOOKS[-1])
        base = np.full(LOOKS[-1], 10.0)
        head = base * np.exp(d)
        for n in LOOKS:
            look = paired_sequential_test(base[:n].tolist(), head[:n].tolist())
            if look.decision != "continue":
                break
        hits += look.decision == "regression"
    return hits / trials


@pytest.mark.parametrize("spread", [0.03, 0.08])
def test_the_detectable_effect_is_caught_95_percent_of_the_time(spread: float) -> None:
    """A seeded simulation of the whole sequential test is the oracle: at the effect
    ``paired_detectable`` names, about 95% of A/Bs flag it; at two thirds of it, far fewer."""
    effect = paired_detectable(spread, LOOKS)
    assert effect > 0.10
    at = _power(effect, spread, 1500, seed=5)
    # the approximation of the noncentral t is slightly conservative at 10 pairs
    assert 0.92 <= at <= 0.995, at
    below = _power(effect * 2 / 3, spread, 1500, seed=6)
    assert below < 0.80, below


def test_without_noise_the_detectable_effect_is_the_material_threshold() -> None:
    assert paired_detectable(0.0) == pytest.approx(0.10)
    assert paired_detectable(0.0, min_effect=0.25) == pytest.approx(0.25)


def test_the_detectable_effect_closed_form() -> None:
    """``(t(level) + t(power)) · sd/√n`` against the material floor, from scipy's quantiles."""
    spread, n_metrics = 0.15, 4  # wide enough that significance, not materiality, decides
    level = look_levels(LOOKS, 0.01 / n_metrics)[-1]
    se = spread / math.sqrt(10)
    t_power = sp.t.ppf(0.95, 9)
    significant = (sp.t.isf(level, 9) + t_power) * se
    material = math.log1p(0.10) + t_power * se
    want = math.expm1(max(significant, material))
    assert paired_detectable(spread, LOOKS, 0.01, n_metrics) == pytest.approx(want, rel=1e-12)
    assert paired_detectable(spread, LOOKS, 0.01, n_metrics, power=0.8) < want
    assert paired_detectable(spread, LOOKS, 0.05, n_metrics) < want


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf])
def test_the_detectable_effect_refuses_a_meaningless_spread(bad: float) -> None:
    with pytest.raises(ValueError, match="spread must be a finite number"):
        paired_detectable(bad)
