"""Error control of the stored-baseline gate at every baseline size, by seeded simulation.

The oracle is the simulation itself: runs of unchanged code are drawn from a known model of
this machine's noise (per-metric log-normal noise of 3-33% as measured, plus a machine-speed
factor of 8% shared by every metric of a run), and the gate's decision
(:func:`loadgate.verdict.gate_family`, what ``judge`` uses) is counted. A false alarm is any
gated metric failing; the rate is counted per gate run over the whole family, and per metric
among the metrics gated.

The prediction interval assumes log-normal run-to-run noise; Holm's levels (~0.0003 for 30
metrics) sit far in its tail. With heavier tails (a whole run 30% slower now and then) the
rate rises above alpha; such runs are what the validity checks on the machine must catch.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from loadgate import stats
from loadgate.policy import GatePolicy
from loadgate.verdict import MIN_BASELINE_RUNS, family_outcomes, gate_family

ALPHA = 0.01
TRIALS = 800
# 30 metrics as a smoke run gates them: 3 budgeted endpoints (critical) and 7 others, each at
# P50/P95/P99, with the noise this machine showed (P50 3-11%, tails 11-33%)
SIGMAS = [0.03, 0.20, 0.33] * 3 + [0.11, 0.20, 0.33] * 7
CRITICAL = [True] * 9 + [False] * 21
MACHINE = 0.08  # sd of the machine-speed factor all metrics of one run share


def _runs(rng: np.random.Generator, n: int, heavy: bool) -> np.ndarray:
    """n runs × metrics of log values around zero (unchanged code)."""
    sigmas = np.array(SIGMAS)
    if heavy:  # Student t with 3 degrees of freedom: a run with a stall now and then
        noise = rng.standard_t(3, size=(n, len(SIGMAS))) * sigmas / math.sqrt(3.0)
        machine = rng.standard_t(3, size=(n, 1)) * MACHINE / math.sqrt(3.0)
    else:
        noise = rng.normal(0.0, sigmas, size=(n, len(SIGMAS)))
        machine = rng.normal(0.0, MACHINE, size=(n, 1))
    return np.asarray(np.exp(3.0 + noise + machine))


def _false_alarms(k: int, seed: int, heavy: bool = False) -> tuple[int, np.ndarray, int]:
    """(gate runs with any false alarm, false alarms per metric, metrics gated per run)."""
    rng = np.random.default_rng(seed)
    policy = GatePolicy(alpha=ALPHA)
    runs_failed, per_metric, gated = 0, np.zeros(len(SIGMAS), dtype=int), 0
    for _ in range(TRIALS):
        values = _runs(rng, k + 1, heavy)
        decisions = gate_family(
            [list(values[:k, m]) for m in range(len(SIGMAS))],
            list(values[k]),
            CRITICAL,
            [0.10] * len(SIGMAS),
            policy,
        )
        failed = np.array([d.outcome == "regression" for d in decisions])
        runs_failed += bool(failed.any())
        per_metric += failed
        gated = sum(d.comparison is not None for d in decisions)
    return runs_failed, per_metric, gated


@pytest.mark.parametrize(
    ("k", "heavy"), [(1, False), (2, False), (2, True), (3, False), (5, False), (10, False)]
)
def test_unchanged_code_fails_at_most_alpha_of_gate_runs_at_every_baseline_size(
    k: int, heavy: bool
) -> None:
    runs_failed, per_metric, gated = _false_alarms(k, seed=1000 + k + 50 * heavy)
    # at most alpha of gate runs with any false alarm (800 runs: 1% is 8; 14 would be
    # beyond the binomial's 98th percentile were the rate really 1%)
    assert runs_failed <= 14, runs_failed
    # which metrics are gated depends on the baseline's size alone, never on its spread,
    # so the rate among gated metrics is the rate over all of them
    assert gated == (len(SIGMAS) if k >= MIN_BASELINE_RUNS else 0)
    # per gated metric, noisy or quiet alike, at most alpha of gate runs
    for sigma in sorted(set(SIGMAS)):
        group = [m for m, s in enumerate(SIGMAS) if s == sigma]
        assert per_metric[group].max() <= 14, (sigma, per_metric[group])


def test_without_holm_the_same_simulation_would_cry_wolf() -> None:
    """The simulation can fail: tested one by one at alpha, 30 metrics alarm in far more than
    1% of unchanged runs (so the bound above is the correction's doing)."""
    rng = np.random.default_rng(7)
    alarms = 0
    for _ in range(300):
        values = _runs(rng, 6, heavy=False)
        alarms += any(
            stats.compare_to_baseline(list(values[:5, m]), values[5, m], alpha=ALPHA).outcome
            == "regression"
            for m in range(len(SIGMAS))
        )
    assert alarms / 300 > 0.04


def test_a_clear_regression_of_a_critical_journey_fails_against_ten_blessed_runs() -> None:
    """+82% on a critical metric with 8.8% run-to-run noise among 30 gated metrics: the
    outside check's case, which Holm over equal weights and 5 runs let pass."""
    rng = np.random.default_rng(3)
    caught = 0
    for _ in range(200):
        values = _runs(rng, 11, heavy=False)
        values[:, 0] = np.exp(3.0 + rng.normal(0.0, 0.088, size=11))  # POST /bets P50
        values[10, 0] *= 1.82
        decisions = gate_family(
            [list(values[:10, m]) for m in range(len(SIGMAS))],
            list(values[10]),
            CRITICAL,
            [0.10] * len(SIGMAS),
            GatePolicy(alpha=ALPHA),
        )
        caught += decisions[0].outcome == "regression"
    assert caught / 200 >= 0.9


# --------------------------------------------------------------- the weighted Holm procedure
def _closed_testing(p: list[float], w: list[float], alpha: float) -> list[bool]:
    """Independent oracle: closed testing with weighted Bonferroni tests of every
    intersection. H_i is rejected when every subset J that holds i has some j in J with
    p_j <= alpha * w_j / sum(w over J). For weighted Bonferroni local tests this rejects
    exactly what Holm's weighted step-down rejects."""
    m = len(p)
    out = []
    for i in range(m):
        out.append(
            all(
                any(p[j] <= alpha * w[j] / sum(w[x] for x in subset) for j in subset)
                for r in range(1, m + 1)
                for subset in itertools.combinations(range(m), r)
                if i in subset
            )
        )
    return out


def test_weighted_holm_agrees_with_closed_testing_by_enumeration() -> None:
    rng = np.random.default_rng(11)
    for _ in range(300):
        m = int(rng.integers(1, 7))
        p = list(
            rng.choice([0.0005, 0.002, 0.004, 0.008, 0.02, 0.3], size=m) * rng.uniform(0.5, 1.5, m)
        )
        w = list(rng.choice([0.1, 0.5, 1.0, 3.0], size=m))
        levels = stats.holm_thresholds(p, 0.01, w)
        assert [pi <= lv for pi, lv in zip(p, levels, strict=True)] == _closed_testing(
            p, w, 0.01
        ), (p, w)


def test_critical_metrics_hold_their_share_of_alpha() -> None:
    cmp = stats.compare_to_baseline([10.0, 10.9, 9.2, 10.4, 9.6], 10.0)
    levels = [lv for _, lv in family_outcomes([cmp] * 10, [True] * 2 + [False] * 8, 0.01, 0.8)]
    # nothing rejected: each level is alpha times its weight
    assert levels[:2] == pytest.approx([0.004, 0.004])
    assert levels[2:] == pytest.approx([0.00025] * 8)
    plain = [lv for _, lv in family_outcomes([cmp] * 10, [False] * 10, 0.01, 0.8)]
    assert plain == pytest.approx([0.001] * 10)
