"""Holm's correction (``holm_thresholds``) at the edge where a surviving mutant changed a
decision: a p-value exactly at its level is rejected, and the next one is held to the level the
step down leaves. The oracle is a hand-written weighted Holm on :class:`fractions.Fraction`,
independent of the implementation's floating-point order of operations (``scripts/mutants``).

Mutants that move a level only in its last binary digit (weights scaled by a constant, halving
in the subnormal range) are not pinned here: a test at that edge would fail a harmless
reordering of the arithmetic."""

from __future__ import annotations

from fractions import Fraction

from loadgate.stats import BaselineComparison, holm_thresholds
from loadgate.stats._common import Outcome
from loadgate.verdict import family_outcomes


def _exact_holm(p: list[float], w: list[float], alpha: float) -> list[tuple[bool, Fraction]]:
    """(rejected, level) per hypothesis by Holm's weighted step-down in exact arithmetic: take
    the smallest p / w of those left; if p <= alpha * w / (weight left) it is rejected at that
    level and leaves, else every one left is held to alpha * w / (weight left)."""
    ps, ws, a = [Fraction(x) for x in p], [Fraction(x) for x in w], Fraction(alpha)
    left = list(range(len(p)))
    out: list[tuple[bool, Fraction]] = [(False, Fraction(0))] * len(p)
    while left:
        total = sum(ws[j] for j in left)
        i = min(left, key=lambda j: ps[j] / ws[j])
        if ps[i] > a * ws[i] / total:
            for j in left:
                out[j] = (False, a * ws[j] / total)
            break
        out[i] = (True, a * ws[i] / total)
        left.remove(i)
    return out


def _cmp(outcome: Outcome, p: float) -> BaselineComparison:
    return BaselineComparison(outcome, 1.5, 0.9, 1.1, p, "d")


def test_holm_rejects_a_p_value_exactly_at_its_level_and_steps_down() -> None:
    # alpha = 0.05, two tests: 0.025 = alpha / 2 exactly (halving is exact in binary), so
    # it is rejected (p <= level) and the second is then held to alpha / 1 = 0.05 >= 0.04
    alpha = 0.05
    p = [alpha / 2, 0.04]
    oracle = _exact_holm(p, [1.0, 1.0], alpha)
    assert [rejected for rejected, _ in oracle] == [True, True]
    levels = holm_thresholds(p, alpha)
    assert levels == [float(level) for _, level in oracle] == [0.025, 0.05]
    outcomes = family_outcomes([_cmp("regression", x) for x in p], [True, True], alpha, 0.8)
    assert outcomes == [("regression", 0.025), ("regression", 0.05)]
