"""The gated family (``gate_family``, ``family_outcomes``) against oracles independent of the
implementation: a hand-written weighted Holm and small cases worked out by hand. Written to
kill the mutants of the family that survived the other tests and change a decision
(``scripts/mutants``)."""

from __future__ import annotations

import math

import pytest

from loadgate.policy import GatePolicy
from loadgate.stats import BaselineComparison
from loadgate.verdict import Relative, family_outcomes, gate_family

BASE = [10.0, 10.9, 9.2, 10.4, 9.6]


def _weighted_holm(p: list[float], w: list[float], alpha: float) -> list[float]:
    """Each hypothesis's level by Holm's weighted step-down, as plainly as it can be written:
    take the smallest p / w of those left; if p <= alpha * w / (weight left) it is rejected at
    that level and leaves, else every one left is held to alpha * w / (weight left)."""
    left = list(range(len(p)))
    levels = [math.nan] * len(p)
    while left:
        total = sum(w[j] for j in left)
        i = min(left, key=lambda j: p[j] / w[j])
        if p[i] > alpha * w[i] / total:
            for j in left:
                levels[j] = alpha * w[j] / total
            break
        levels[i] = alpha * w[i] / total
        left.remove(i)
    return levels


def test_a_metric_with_too_few_runs_is_not_gated_at_a_nan_level() -> None:
    # metric 0 has no blessed run, metric 1 one (fewer than two: the noise is unknown) and a
    # relative series of its own, which does not make it gated; metric 2 is gated
    rel = Relative([1.0, 1.1], 3.0, [1.0, 1.0], 1.0)
    decisions = gate_family(
        [[], [10.0], BASE],
        [30.0, 30.0, 10.1],
        [True, True, False],
        [0.1, 0.1, 0.1],
        GatePolicy(),
        [None, rel, None],
    )
    for untested in decisions[:2]:
        assert untested.outcome == "not gated"
        assert isinstance(untested.level, float) and math.isnan(untested.level)
        assert untested.comparison is None and untested.relative is None
        assert math.isnan(untested.relative_level) and not untested.by_relative
    # the one gated metric is alone in the family: held to the whole alpha
    assert decisions[2].outcome == "pass"
    assert decisions[2].level == GatePolicy().alpha


def test_gate_family_levels_are_weighted_holms_over_the_gated_metrics_only() -> None:
    # A critical and +82%; B not gated (one run); C and D not critical, +1% and +25%
    alpha, share = 0.05, 0.8
    decisions = gate_family(
        [BASE, [10.0], BASE, BASE],
        [18.2, 30.0, 10.1, 12.5],
        [True, True, False, False],
        [0.1] * 4,
        GatePolicy(alpha=alpha, critical_share=share),
    )
    gated = [decisions[i] for i in (0, 2, 3)]
    p = []
    for d in gated:
        assert d.comparison is not None
        p.append(d.comparison.p_value)
    # the one critical metric carries the critical share, the two others split the rest; the
    # not-gated metric is no member of the family. Worked: A (p ~ 0.0006) is held to
    # 0.05 * 0.8 / 1.0 = 0.04 and rejected; D (p ~ 0.019) then to 0.05 * 0.1 / 0.2 = 0.025 and
    # rejected; C (p ~ 0.45) needs 0.05 * 0.1 / 0.1 = 0.05: a pass
    levels = _weighted_holm(p, [share, (1 - share) / 2, (1 - share) / 2], alpha)
    assert [d.level for d in gated] == pytest.approx(levels, rel=1e-12)
    for d, level in zip(gated, levels, strict=True):
        assert d.comparison is not None
        raw = d.comparison.outcome
        if raw in ("regression", "improvement") and d.comparison.p_value > level:
            raw = "inconclusive" if raw == "regression" else "pass"
        assert d.outcome == raw
    assert [d.outcome for d in gated] == ["regression", "pass", "regression"]
    assert decisions[1].outcome == "not gated" and math.isnan(decisions[1].level)


def _cmp(outcome: str, p: float) -> BaselineComparison:
    return BaselineComparison(outcome, 1.5, 0.8, 1.2, p, "")  # type: ignore[arg-type]


def test_a_metric_tested_twice_splits_its_weight_worked_by_hand() -> None:
    # metric 0 is critical and tested twice, metric 1 is not critical; share 0.8, alpha 0.05:
    # weights 0.4, 0.4 (metric 0's two tests) and 0.2. Order by p / w: test 2 (0.045) first,
    # level 0.05 * 0.2 / 1.0 = 0.01 >= 0.009, rejected; test 0 (0.0475) next, level
    # 0.05 * 0.4 / 0.8 = 0.025 >= 0.019, rejected; test 1 then needs 0.05 * 0.4 / 0.4 = 0.05.
    comparisons = [_cmp("regression", 0.019), _cmp("pass", 0.5), _cmp("regression", 0.009)]
    out = family_outcomes(comparisons, [True, True, False], 0.05, 0.8, metric_of=[0, 0, 1])
    assert [o for o, _ in out] == ["regression", "pass", "regression"]
    assert [level for _, level in out] == pytest.approx([0.025, 0.05, 0.01], rel=1e-12)
