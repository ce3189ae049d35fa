"""Paired A/B: the sequential paired test on log ratios of interleaved runs (DESIGN §3, §8)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy import stats as _sp

from loadgate.stats._common import (
    Decision,
    check_min_effect,
    check_probability,
    logs,
    material_fall,
    material_rise,
    spread,
    t_tails,
)


@dataclass(frozen=True)
class PairedLook:
    """One look of the sequential paired test (see :func:`paired_sequential_test`).

    ``ratio`` is the geometric-mean head/base ratio over ``pairs`` pairs;
    ``ratio_low``/``ratio_upper90`` are its one-sided 90% lower/upper confidence bounds
    (together an 80% two-sided interval); ``p_value`` is one-sided for "head is slower";
    ``alpha_look`` is the level this look was tested at.

    >>> paired_sequential_test([100, 101, 99], [100, 100, 100]).decision
    'pass'
    """

    pairs: int
    ratio: float
    ratio_upper90: float
    ratio_low: float
    p_value: float
    alpha_look: float
    decision: Decision


def paired_sequential_test(
    base: Sequence[float],
    head: Sequence[float],
    *,
    looks: Sequence[int] = (3, 6, 10),
    alpha: float = 0.01,
    min_effect: float = 0.10,
    n_metrics: int = 1,
) -> PairedLook:
    """Sequential one-sided paired t-test on log ratios of interleaved runs (DESIGN §8).

    ``base[i]`` and ``head[i]`` are one run-level value each (e.g. P95 in ms) from pair
    ``i``; ``d_i = ln(head_i) - ln(base_i)``, ``R = exp(mean d)``. The test is evaluated
    at the largest look ``<= len(base)`` using the first that-many pairs, so it can be
    called after every pair (between looks it repeats the previous look's decision);
    fewer pairs than the first look is a ValueError. The level ``alpha / n_metrics``
    (Bonferroni across metrics) is spent across the looks by :func:`look_levels`, nearly
    all of it at the last look; this look is tested at its share, ``alpha_look``. To use
    Holm across metrics instead, keep ``n_metrics=1`` and apply :func:`holm` to the
    metrics' ``p_value`` at level ``alpha_look``. Decisions, in this order:

    - regression: ``p < alpha_look`` AND ``R >= 1 + min_effect``;
    - improvement: ``R`` significantly below one at ``alpha_look`` AND
      ``R <= 1 / (1 + min_effect)``;
    - pass: the 90% upper bound of R is below ``1 + min_effect`` (stop early);
    - at the last look: inconclusive (not failed, but a material regression cannot be
      ruled out); before it: continue.

    Identical d (zero variance) gives an exact answer: p = 0 if d > 0, 1 if d < 0,
    0.5 if d == 0, and both bounds equal R.

    A clear +50% is not failed at the first look (3 pairs get almost none of ``alpha``),
    but is by the second:

    >>> base, head = [100, 98, 103, 101, 99, 100], [150, 152, 149, 151, 148, 150]
    >>> paired_sequential_test(base[:3], head[:3]).decision
    'continue'
    >>> look = paired_sequential_test(base, head)
    >>> look.decision, look.pairs, round(look.ratio, 2)
    ('regression', 6, 1.5)
    """
    check_probability("alpha", alpha)
    check_min_effect(min_effect)
    if n_metrics < 1:
        raise ValueError(f"n_metrics must be >= 1, got {n_metrics!r}")
    plan = _check_looks(looks)
    pairs = _current_look(plan, len(base), len(head))
    d = logs("head", head[:pairs]) - logs("base", base[:pairs])
    alpha_look = look_levels(plan, alpha / n_metrics)[plan.index(pairs)]
    mean, se = float(np.mean(d)), spread(d) / math.sqrt(pairs)
    p_up, p_down = t_tails(mean, se, pairs - 1)
    margin = float(_sp.t.ppf(0.90, pairs - 1)) * se
    ratio, upper, lower = math.exp(mean), math.exp(mean + margin), math.exp(mean - margin)
    decision: Decision
    if p_up < alpha_look and material_rise(ratio, min_effect):
        decision = "regression"
    elif p_down < alpha_look and material_fall(ratio, min_effect):
        decision = "improvement"
    elif upper < 1.0 + min_effect:
        decision = "pass"
    else:
        decision = "inconclusive" if pairs == plan[-1] else "continue"
    return PairedLook(pairs, ratio, upper, lower, p_up, alpha_look, decision)


def look_levels(looks: Sequence[int], alpha: float) -> list[float]:
    """The significance level spent at each look, summing to ``alpha``.

    O'Brien-Fleming-type spending (Lan & DeMets, 1983) over the information fraction
    ``t = pairs / last look``: by look k, ``A(t) = 2 - 2·Phi(z(1 - alpha/2) / sqrt(t))``
    has been spent, and look k tests at ``A(t_k) - A(t_(k-1))``. Early looks, with few
    degrees of freedom, get almost nothing (failing after 3 pairs takes overwhelming
    evidence) and the last look almost all of ``alpha``, where Bonferroni's ``alpha /
    looks`` would waste two thirds of it on looks that can rarely use it. The levels sum
    to ``alpha``, so the family-wise false-alarm rate across looks stays at or below
    ``alpha`` whatever the correlation between looks (early stopping for "pass" spends
    nothing: it is not an alarm).

    >>> [f"{a:.1e}" for a in look_levels((3, 6, 10), 0.01)]
    ['2.6e-06', '8.8e-04', '9.1e-03']
    """
    plan = _check_looks(looks)
    check_probability("alpha", alpha)
    z = float(_sp.norm.isf(alpha / 2.0))
    spent = [2.0 * float(_sp.norm.sf(z / math.sqrt(k / plan[-1]))) for k in plan]
    spent[-1] = alpha  # exactly alpha by the last look, whatever the rounding
    return [b - a for a, b in zip([0.0, *spent], spent, strict=False)]


def paired_detectable(
    spread: float,
    looks: Sequence[int] = (3, 6, 10),
    alpha: float = 0.01,
    n_metrics: int = 1,
    min_effect: float = 0.10,
    power: float = 0.95,
) -> float:
    """The smallest rise the sequential test flags with probability ``power`` by its last
    look, for pairs whose log-ratios spread by ``spread`` (their sd), as a fraction (0.2 =
    +20%). Both rules must hold at the last look (n pairs, ``se = spread / sqrt(n)``): the
    test is significant at its share of ``alpha / n_metrics``, a shift of
    ``(t(level) + t(power)) · se``; and the estimate is material, a shift of
    ``ln(1 + min_effect) + t(power) · se`` (the usual approximation of the noncentral t).

    >>> round(paired_detectable(0.02), 3)
    0.113
    """
    plan = _check_looks(looks)
    check_probability("power", power)
    check_min_effect(min_effect)
    if not (spread >= 0.0 and math.isfinite(spread)):
        raise ValueError(f"spread must be a finite number >= 0, got {spread!r}")
    n = plan[-1]
    se = spread / math.sqrt(n)
    level = look_levels(plan, alpha / n_metrics)[-1]
    t_power = float(_sp.t.ppf(power, n - 1))
    significant = (float(_sp.t.isf(level, n - 1)) + t_power) * se
    material = math.log1p(min_effect) + t_power * se
    return math.exp(max(significant, material)) - 1.0


def _check_looks(looks: Sequence[int]) -> list[int]:
    plan = list(looks)
    # A paired t-test needs a spread estimate, hence at least two pairs at the first look.
    if not plan or plan[0] < 2 or any(b <= a for a, b in pairwise(plan)):
        raise ValueError(f"looks must be strictly increasing pair counts >= 2, got {plan!r}")
    return plan


def _current_look(plan: list[int], n_base: int, n_head: int) -> int:
    """The largest planned look reached: alpha is spent only at planned looks."""
    if n_base != n_head:
        raise ValueError(f"base and head differ in length: {n_base} != {n_head}")
    reached = [look for look in plan if look <= n_base]
    if not reached:
        raise ValueError(f"need at least {plan[0]} pairs for the first look, got {n_base}")
    return reached[-1]
