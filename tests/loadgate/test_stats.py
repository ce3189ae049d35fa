"""Tests for loadgate.stats: exact answers where they exist, seeded simulation elsewhere.

Simulations use a fixed numpy seed, so they are deterministic; their thresholds leave
Monte-Carlo slack of a few standard errors so a change of seed would not flip them.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import scipy.stats
from scipy import stats as sp

from loadgate.stats import (
    PairedLook,
    compare_single,
    compare_to_baseline,
    holm,
    look_levels,
    min_samples_for_interval,
    paired_detectable,
    paired_sequential_test,
    quantile_rank_interval,
    wilson_interval,
)


def _mc_slack(rate: float, trials: int, sigmas: float = 3.0) -> float:
    """A few binomial standard errors: room for Monte-Carlo noise around ``rate``."""
    return sigmas * math.sqrt(rate * (1.0 - rate) / trials)


# ------------------------------------------------------------------ quantile intervals


@pytest.mark.parametrize(
    ("p", "expected"), [(0.95, 72), (0.99, 368), (0.999, 3688), (0.5, 6), (0.05, 72)]
)
def test_min_samples_known_values(p: float, expected: int) -> None:
    assert min_samples_for_interval(p) == expected


@pytest.mark.parametrize("p", [0.5, 0.9, 0.95, 0.99, 0.999])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_interval_exists_exactly_from_min_samples(p: float, confidence: float) -> None:
    m = min_samples_for_interval(p, confidence)
    assert quantile_rank_interval(m - 1, p, confidence) is None
    assert quantile_rank_interval(m, p, confidence) is not None


def _brute_force_ranks(n: int, p: float, confidence: float) -> tuple[int, int]:
    """Equal-tailed ranks from the whole binomial CDF: the definition, no search."""
    tail = (1.0 - confidence) / 2.0
    cdf = sp.binom.cdf(np.arange(n + 1), n, p)  # cdf[k] = B(k)
    sf = sp.binom.sf(np.arange(n + 1), n, p)
    r = int(np.nonzero(cdf <= tail)[0].max()) + 1  # largest r with B(r-1) <= tail
    s = int(np.nonzero(sf <= tail)[0].min()) + 1  # smallest s with 1 - B(s-1) <= tail
    return r, s


def test_ranks_match_brute_force_and_cover() -> None:
    rng = np.random.default_rng(7)
    for _ in range(150):
        p = float(rng.choice([0.5, 0.75, 0.9, 0.95, 0.99, 0.999]))
        confidence = float(rng.choice([0.9, 0.95, 0.99]))
        n = int(rng.integers(min_samples_for_interval(p, confidence), 20_000))
        ranks = quantile_rank_interval(n, p, confidence)
        assert ranks == _brute_force_ranks(n, p, confidence), (n, p, confidence)
        r, s = ranks
        assert 1 <= r < s <= n
        coverage = sp.binom.cdf(s - 1, n, p) - sp.binom.cdf(r - 1, n, p)
        assert coverage >= confidence


def test_ranks_for_ten_million_samples_are_fast_and_central() -> None:
    started = time.perf_counter()
    for p in (0.5, 0.95, 0.99, 0.999):
        ranks = quantile_rank_interval(10_000_000, p)
        assert ranks is not None
        r, s = ranks
        half = 1.96 * math.sqrt(10_000_000 * p * (1 - p))
        assert abs((s - r) / 2 - half) < 3  # normal approximation is excellent here
        assert abs((r + s) / 2 - 10_000_000 * p) < 3
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("p", [0.95, 0.99])
def test_rank_interval_coverage_by_simulation(p: float) -> None:
    # 2,000 runs of 1,000 log-normal latencies (sigma 0.5): the interval read from the
    # sorted samples must contain the true quantile in at least ~95% of runs.
    rng = np.random.default_rng(20240501)
    sigma = 0.5
    samples = np.sort(rng.lognormal(0.0, sigma, size=(2_000, 1_000)), axis=1)
    truth = math.exp(sigma * float(sp.norm.ppf(p)))
    ranks = quantile_rank_interval(1_000, p)
    assert ranks is not None
    r, s = ranks
    covered = (samples[:, r - 1] <= truth) & (truth <= samples[:, s - 1])
    assert covered.mean() >= 0.94


def test_rank_interval_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        quantile_rank_interval(0, 0.95)
    with pytest.raises(ValueError):
        quantile_rank_interval(100, 1.0)
    with pytest.raises(ValueError):
        quantile_rank_interval(100, 0.95, confidence=1.0)


# ------------------------------------------------------------------------------ Wilson


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [  # Newcombe (1998), Statistics in Medicine 17:857, Table I, Wilson score method
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_known_values(k: int, n: int, low: float, high: float) -> None:
    got_low, got_high = wilson_interval(k, n)
    assert got_low == pytest.approx(low, abs=6e-5)
    assert got_high == pytest.approx(high, abs=6e-5)


def test_wilson_edges() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(0, 1000)[0] == 0.0
    assert wilson_interval(1000, 1000)[1] == 1.0
    low, high = wilson_interval(5, 10)
    assert low + high == pytest.approx(1.0)  # symmetric around one half
    assert wilson_interval(5, 10, confidence=0.99)[1] > high
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


# --------------------------------------------------------------- compare_to_baseline


def _baseline_trials(shift: float, noise: float, trials: int = 5_000) -> dict[str, int]:
    """Outcome counts for K=5 baseline runs and one current run, log-normal run noise."""
    rng = np.random.default_rng(11)
    runs = 200.0 * np.exp(rng.normal(0.0, noise, size=(trials, 6)))
    runs[:, 5] *= 1.0 + shift
    counts = {"pass": 0, "regression": 0, "improvement": 0, "inconclusive": 0}
    for row in runs:
        counts[compare_to_baseline(row[:5].tolist(), float(row[5])).outcome] += 1
    return counts


def test_baseline_false_alarms_at_most_alpha() -> None:
    counts = _baseline_trials(shift=0.0, noise=0.10)
    # The prediction interval is exact for log-normal noise, so regressions <= alpha.
    assert counts["regression"] / 5_000 <= 0.01 + _mc_slack(0.01, 5_000)
    assert counts["improvement"] / 5_000 <= 0.01 + _mc_slack(0.01, 5_000)


def test_baseline_interval_is_calibrated() -> None:
    # Under no change the current value lies above the interval with probability alpha
    # exactly; p_value < alpha is the same event.
    rng = np.random.default_rng(5)
    above = 0
    for row in np.exp(rng.normal(0.0, 0.02, size=(5_000, 6))):
        result = compare_to_baseline(row[:5].tolist(), float(row[5]), alpha=0.05)
        above += result.ratio > 1.0 and result.p_value < 0.05
    assert abs(above / 5_000 - 0.05) <= _mc_slack(0.05, 5_000, sigmas=4.0)


def test_baseline_detects_large_shift_in_quiet_baseline() -> None:
    counts = _baseline_trials(shift=0.50, noise=0.05)
    assert counts["regression"] / 5_000 >= 0.90


def test_baseline_moderate_shift_in_noisy_baseline_is_often_inconclusive() -> None:
    # DESIGN §8: K = 5, 10% noise, +15% -> often inconclusive; say so rather than guess.
    counts = _baseline_trials(shift=0.15, noise=0.10, trials=2_000)
    assert counts["inconclusive"] / 2_000 >= 0.40
    assert counts["regression"] / 2_000 <= 0.15


def test_baseline_significant_but_immaterial_change_passes() -> None:
    tight = [100.0, 100.5, 99.5, 100.2, 99.8]
    small = compare_to_baseline(tight, 105.0)
    assert small.p_value < 0.01  # significant ...
    assert small.outcome == "pass"  # ... but below min_effect
    assert "material threshold" in small.detail
    assert compare_to_baseline(tight, 112.0).outcome == "regression"
    assert compare_to_baseline(tight, 105.0, min_effect=0.02).outcome == "regression"


def test_baseline_improvement_and_result_fields() -> None:
    baseline = [100.0, 104.0, 97.0, 101.0, 99.0]
    result = compare_to_baseline(baseline, 60.0)
    assert result.outcome == "improvement"
    assert result.ratio == pytest.approx(60.0 / float(sp.gmean(baseline)))
    assert result.ratio_low < 1.0 < result.ratio_high
    assert result.ratio < result.ratio_low
    assert result.p_value < 0.01


def test_baseline_material_fall_inside_interval_passes() -> None:
    noisy = [100.0, 130.0, 80.0, 110.0, 90.0]
    assert compare_to_baseline(noisy, 60.0).outcome == "pass"
    assert compare_to_baseline(noisy, 118.0).outcome == "inconclusive"


def test_baseline_with_a_single_run_cannot_call_a_regression() -> None:
    rise = compare_to_baseline([100.0], 150.0)
    assert rise.outcome == "inconclusive"
    assert math.isnan(rise.p_value)
    assert (rise.ratio_low, rise.ratio_high) == (0.0, math.inf)
    assert "unknown" in rise.detail
    assert compare_to_baseline([100.0], 103.0).outcome == "pass"


def test_baseline_with_zero_spread() -> None:
    same = [100.0] * 5
    unchanged = compare_to_baseline(same, 100.0)
    assert (unchanged.outcome, unchanged.p_value) == ("pass", 0.5)
    assert compare_to_baseline(same, 110.0).outcome == "regression"  # exactly +10%
    assert compare_to_baseline(same, 101.0).outcome == "pass"


@pytest.mark.parametrize(
    ("baseline", "current", "kwargs"),
    [
        ([], 1.0, {}),
        ([1.0, -1.0], 1.0, {}),
        ([1.0, 2.0], 0.0, {}),
        ([1.0, 2.0], math.nan, {}),
        ([1.0, 2.0], 1.0, {"alpha": 0.0}),
        ([1.0, 2.0], 1.0, {"min_effect": -0.1}),
    ],
)
def test_baseline_rejects_bad_input(
    baseline: list[float], current: float, kwargs: dict[str, float]
) -> None:
    with pytest.raises(ValueError):
        compare_to_baseline(baseline, current, **kwargs)


# -------------------------------------------------------------------- compare_single


@pytest.mark.parametrize(
    ("current", "interval", "outcome"),
    [
        (130.0, (124.0, 137.0), "regression"),
        (112.0, (100.0, 125.0), "inconclusive"),  # material, intervals overlap
        (104.0, (103.0, 109.0), "pass"),  # not material
        (107.0, (105.5, 109.0), "pass"),  # apart but not material
        (80.0, (75.0, 85.0), "improvement"),
        (85.0, (80.0, 99.0), "pass"),  # material fall, intervals overlap
    ],
)
def test_compare_single(current: float, interval: tuple[float, float], outcome: str) -> None:
    result = compare_single(100.0, (95.0, 105.0), current, interval)
    assert result.outcome == outcome
    assert result.ratio == pytest.approx(current / 100.0)
    assert result.ratio_low == pytest.approx(interval[0] / 105.0)
    assert result.ratio_high == pytest.approx(interval[1] / 95.0)
    assert math.isnan(result.p_value)
    assert "run-to-run noise is unknown" in result.detail


def test_compare_single_rejects_interval_not_containing_value() -> None:
    with pytest.raises(ValueError):
        compare_single(100.0, (101.0, 105.0), 100.0, (95.0, 105.0))


# ------------------------------------------------------------------------------ Holm


@pytest.mark.parametrize(
    ("p_values", "alpha", "expected"),
    [
        ([0.01, 0.04, 0.03, 0.005], 0.05, [True, False, False, True]),
        ([0.01, 0.02, 0.03], 0.06, [True, True, True]),  # Bonferroni would keep 0.03
        ([0.001, 0.5, 0.011], 0.05, [True, False, True]),
        ([0.04, 0.001], 0.03, [False, True]),
        ([0.02, 0.02], 0.04, [True, True]),  # ties: 0.02 <= 0.04/2, then 0.02 <= 0.04
        ([0.2, 0.3], 0.05, [False, False]),
        ([], 0.05, []),
    ],
)
def test_holm_known_cases(p_values: list[float], alpha: float, expected: list[bool]) -> None:
    assert holm(p_values, alpha) == expected


def test_holm_rejects_invalid_p_values() -> None:
    with pytest.raises(ValueError):
        holm([0.1, math.nan], 0.05)


# ---------------------------------------------------------------------- paired A/B


def _sequence(base: np.ndarray, head: np.ndarray) -> PairedLook:
    """Run the procedure as `loadgate ab` would: look after 3, 6, 10 pairs, stop early."""
    look = paired_sequential_test(base[:3].tolist(), head[:3].tolist())
    for pairs in (6, 10):
        if look.decision != "continue":
            break
        look = paired_sequential_test(base[:pairs].tolist(), head[:pairs].tolist())
    return look


def _paired_trials(shift: float, noise: float, trials: int = 2_000) -> list[PairedLook]:
    """Each run gets its own log-normal noise, so the pair's log ratio has sd noise·√2."""
    rng = np.random.default_rng(3)
    base = 50.0 * np.exp(rng.normal(0.0, noise, size=(trials, 10)))
    head = 50.0 * (1.0 + shift) * np.exp(rng.normal(0.0, noise, size=(trials, 10)))
    return [_sequence(b, h) for b, h in zip(base, head, strict=True)]


def test_paired_false_alarms_at_most_alpha() -> None:
    looks = _paired_trials(shift=0.0, noise=0.05)
    alarms = sum(look.decision == "regression" for look in looks)
    assert alarms / len(looks) <= 0.01
    assert all(look.decision != "continue" for look in looks)
    # DESIGN §8: about four pairs on average when nothing changed.
    assert sum(look.pairs for look in looks) / len(looks) <= 4.5


@pytest.mark.parametrize("noise", [0.11, 0.20, 0.33])
def test_paired_false_alarms_at_most_alpha_when_noise_is_large(noise: float) -> None:
    """With large noise the ratio alone often clears +10% by chance; only the significance test
    keeps the A/A alarm rate within alpha (1%; 2,000 seeded trials, a 1.5% ceiling leaves about
    2.3 binomial sds for chance)."""
    looks = _paired_trials(shift=0.0, noise=noise)
    alarms = sum(look.decision == "regression" for look in looks)
    assert alarms / len(looks) <= 0.015


@pytest.mark.parametrize("seed", range(6))
def test_paired_p_value_and_bounds_are_scipys_t_test(seed: int) -> None:
    """Independent oracle: scipy's one-sample t-test of the log ratios (one-sided, "greater")
    and its 80% two-sided t interval, exponentiated."""
    rng = np.random.default_rng(seed)
    pairs = (3, 6, 10)[seed % 3]
    base = 20.0 * np.exp(rng.normal(0.0, 0.1, pairs))
    head = 20.0 * np.exp(rng.normal(0.05, 0.1, pairs))
    look = paired_sequential_test(base.tolist(), head.tolist(), looks=(pairs,))
    d = np.log(head) - np.log(base)
    oracle = scipy.stats.ttest_1samp(d, 0.0, alternative="greater")
    assert look.p_value == pytest.approx(oracle.pvalue, rel=1e-9)
    low, high = scipy.stats.t.interval(0.80, pairs - 1, loc=d.mean(), scale=scipy.stats.sem(d))
    assert look.ratio == pytest.approx(math.exp(d.mean()), rel=1e-12)
    assert (look.ratio_low, look.ratio_upper90) == pytest.approx((math.exp(low), math.exp(high)))
    assert look.alpha_look == pytest.approx(0.01)  # one look, one metric: all of alpha


def test_paired_a_large_but_insignificant_rise_is_not_a_regression() -> None:
    """+30% on average, but the pairs disagree (p about 0.1): not a regression, whatever the
    ratio. (Replacing the significance test by "p < 0.5" would fail here.)"""
    base = [10.0] * 6
    head = [13.0 * f for f in (0.55, 1.6, 0.7, 1.5, 0.9, 1.25)]
    look = paired_sequential_test(base, head, looks=(6,))
    assert look.ratio >= 1.1
    assert 0.02 < look.p_value < 0.5
    assert look.decision == "inconclusive"


@pytest.mark.parametrize("shift", [0.15, 0.20])
def test_paired_power_with_five_percent_noise(shift: float) -> None:
    looks = _paired_trials(shift=shift, noise=0.05)
    assert sum(look.decision == "regression" for look in looks) / len(looks) >= 0.90


def test_paired_passes_early_when_nothing_changed_and_noise_is_small() -> None:
    looks = _paired_trials(shift=0.0, noise=0.02, trials=500)
    early = sum(look.decision == "pass" and look.pairs == 3 for look in looks)
    assert early / len(looks) >= 0.95


def test_paired_zero_variance() -> None:
    same = paired_sequential_test([100.0] * 3, [100.0] * 3)
    assert (same.decision, same.p_value, same.ratio_upper90, same.ratio_low) == (
        "pass",
        0.5,
        1.0,
        1.0,
    )
    slower = paired_sequential_test([100.0, 200.0, 300.0], [120.0, 240.0, 360.0])
    assert (slower.decision, slower.p_value) == ("regression", 0.0)
    assert slower.ratio == pytest.approx(1.2)
    faster = paired_sequential_test([100.0, 200.0, 300.0], [80.0, 160.0, 240.0])
    assert (faster.decision, faster.p_value) == ("improvement", 1.0)


def test_paired_evaluates_at_largest_look_reached() -> None:
    base, head = [100.0] * 12, [100.0, 101.0] * 6
    assert paired_sequential_test(base[:4], head[:4]).pairs == 3
    assert paired_sequential_test(base[:7], head[:7]).pairs == 6
    assert paired_sequential_test(base, head).pairs == 10


def test_paired_unresolved_after_last_look_is_inconclusive() -> None:
    rng = np.random.default_rng(1)
    base = np.full(10, 100.0)
    head = 100.0 * np.exp(0.05 + rng.normal(0.0, 0.15, size=10))
    look = paired_sequential_test(base.tolist(), head.tolist())
    assert look.pairs == 10
    assert look.ratio_upper90 >= 1.10  # a +10% change cannot be ruled out ...
    assert look.decision == "inconclusive"  # ... nor shown
    continued = paired_sequential_test(base[:6].tolist(), head[:6].tolist())
    assert continued.decision == "continue"


def test_look_levels_spend_alpha_mostly_at_the_last_look() -> None:
    levels = look_levels((3, 6, 10), 0.01)
    assert sum(levels) == pytest.approx(0.01, rel=1e-12)
    assert levels[0] < levels[1] < levels[2]
    assert levels[0] < 1e-5 and levels[2] > 0.009  # Bonferroni would give each 0.0033
    assert look_levels((10,), 0.01) == [0.01]
    assert sum(look_levels((2, 3, 4, 5), 0.05)) == pytest.approx(0.05)


def test_paired_alpha_is_split_across_metrics_then_spent_across_looks() -> None:
    base, head = [1.0] * 10, [1.0] * 10
    levels = look_levels((3, 6, 10), 0.03 / 2)
    for pairs, level in zip((3, 6, 10), levels, strict=True):
        look = paired_sequential_test(base[:pairs], head[:pairs], alpha=0.03, n_metrics=2)
        assert look.alpha_look == pytest.approx(level)


@pytest.mark.parametrize(
    ("base", "head", "kwargs"),
    [
        ([1.0] * 2, [1.0] * 2, {}),  # fewer pairs than the first look
        ([1.0] * 3, [1.0] * 4, {}),
        ([1.0] * 3, [1.0, 0.0, 1.0], {}),
        ([1.0] * 3, [1.0] * 3, {"looks": (1, 3)}),
        ([1.0] * 3, [1.0] * 3, {"looks": (3, 3)}),
        ([1.0] * 3, [1.0] * 3, {"n_metrics": 0}),
    ],
)
def test_paired_rejects_bad_input(
    base: list[float], head: list[float], kwargs: dict[str, object]
) -> None:
    with pytest.raises(ValueError):
        paired_sequential_test(base, head, **kwargs)  # type: ignore[arg-type]


def test_paired_detectable_is_caught_about_95_percent_of_the_time() -> None:
    spread = 0.05
    detectable = paired_detectable(spread, n_metrics=4)
    assert paired_detectable(2 * spread, n_metrics=4) > detectable > 0
    rng = np.random.default_rng(11)
    d = rng.normal(math.log1p(detectable), spread, size=(1_000, 10))
    hits = 0
    for row in d:
        looks = [
            paired_sequential_test([1.0] * n, np.exp(row[:n]).tolist(), n_metrics=4)
            for n in (3, 6, 10)
        ]
        hits += any(look.decision == "regression" for look in looks)
    assert 0.90 <= hits / len(d) <= 0.995  # an approximation of the noncentral t
