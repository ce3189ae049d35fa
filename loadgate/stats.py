"""Statistics behind the verdict: quantile intervals, error-rate intervals, baseline tests.

Everything here is pure (no I/O, no clocks, no globals) and works on plain numbers, so
the verdict can be recomputed from stored results and every rule can be tested by
simulation. The rules follow DESIGN §3 and §8:

- Within a run, a quantile's uncertainty comes from order statistics (distribution-free).
- Across runs, the unit of replication is the *run*: one value per run per metric, on a
  log scale, because per-request samples are autocorrelated and latency noise is
  multiplicative.
- A change is reported only when it is both material (at least ``min_effect``) and
  significant; material-but-not-significant is "inconclusive", never a guess.

All comparisons treat *higher as worse* (latency, error rate): a ratio above one is a
possible regression. Pass reciprocals for metrics where higher is better (throughput).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats as _sp

__all__ = [
    "BaselineComparison",
    "PairedLook",
    "compare_single",
    "compare_to_baseline",
    "holm",
    "min_samples_for_interval",
    "paired_sequential_test",
    "quantile_rank_interval",
    "wilson_interval",
]

Outcome = Literal["pass", "regression", "improvement", "inconclusive"]
Decision = Literal["regression", "pass", "continue", "inconclusive", "improvement"]

# Below this a sample standard deviation is rounding noise from logs of equal ratios
# (ln(a·r) - ln(a) is not bit-identical across a); treat it as exactly zero so that
# "no spread" gives clean infinities instead of t-statistics of 1e-17 / 1e-17.
_ZERO_SPREAD = 1e-12
_RATIO_SLACK = 1e-9


# --------------------------------------------------------------------------- validation


def _check_probability(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")


def _check_min_effect(min_effect: float) -> None:
    if not (min_effect >= 0.0 and math.isfinite(min_effect)):
        raise ValueError(f"min_effect must be a finite number >= 0, got {min_effect!r}")


def _logs(name: str, values: Sequence[float]) -> npt.NDArray[np.float64]:
    """Natural logs of strictly positive finite values (latencies, rates)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or not np.all(np.isfinite(arr)) or not np.all(arr > 0.0):
        raise ValueError(f"{name} must be finite values > 0, got {list(values)!r}")
    logs: npt.NDArray[np.float64] = np.log(arr)
    return logs


def _log(name: str, value: float) -> float:
    return float(_logs(name, [value])[0])


def _spread(logs: npt.NDArray[np.float64]) -> float:
    """Sample standard deviation (ddof=1), with rounding noise snapped to zero."""
    sd = float(np.std(logs, ddof=1))
    return 0.0 if sd <= _ZERO_SPREAD else sd


def _pct(ratio: float) -> str:
    return f"{(ratio - 1.0) * 100.0:+.1f}%"


# --------------------------------------------------------------- quantile rank intervals


def min_samples_for_interval(p: float, confidence: float = 0.95) -> int:
    """Fewest samples for which :func:`quantile_rank_interval` exists.

    The equal-tailed interval needs each tail to miss with probability at most
    ``(1 - confidence) / 2``; the widest interval ``[X(1), X(n)]`` misses above with
    probability ``p**n`` (and below with ``(1-p)**n``), so
    ``n >= ln((1 - confidence) / 2) / ln(max(p, 1 - p))``.

    >>> min_samples_for_interval(0.95), min_samples_for_interval(0.99)
    (72, 368)
    >>> min_samples_for_interval(0.999)
    3688
    """
    _check_probability("p", p)
    _check_probability("confidence", confidence)
    tail = (1.0 - confidence) / 2.0
    q = max(p, 1.0 - p)
    n = max(1, math.ceil(math.log(tail) / math.log(q)))
    # The logarithm can land a hair either side of an integer; settle it exactly.
    while n > 1 and q ** (n - 1) <= tail:
        n -= 1
    while q**n > tail:
        n += 1
    return n


def quantile_rank_interval(n: int, p: float, confidence: float = 0.95) -> tuple[int, int] | None:
    """Distribution-free confidence interval for the p-quantile, as 1-based ranks.

    With ``n`` sorted samples ``X(1) <= ... <= X(n)`` from a continuous distribution,
    ``P(X(r) <= q_p <= X(s)) = B(s-1; n, p) - B(r-1; n, p)`` (B = binomial CDF). The
    interval is equal-tailed: ``r`` is the largest rank with ``P(X(r) > q_p) <= a/2`` and
    ``s`` the smallest with ``P(X(s) < q_p) <= a/2``, where ``a = 1 - confidence``. That
    is the narrowest interval with both tails bounded by ``a/2``, so the coverage is at
    least ``confidence`` (more for small ``n``, because ranks are discrete).

    Returns ``None`` when ``n < min_samples_for_interval(p, confidence)``. Read the
    values at these ranks from the sorted samples (or an HDR histogram).

    >>> quantile_rank_interval(1000, 0.95)
    (936, 964)
    >>> quantile_rank_interval(71, 0.95) is None
    True
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    if n < min_samples_for_interval(p, confidence):
        return None
    tail = (1.0 - confidence) / 2.0
    # Normal approximation (continuity-corrected) lands within a few ranks of the exact
    # answer even at n = 1e7; the exact binomial walk then costs a handful of CDF calls.
    z = float(_sp.norm.ppf(1.0 - tail))
    centre, sd = n * p, math.sqrt(n * p * (1.0 - p))
    below = _largest_k_with_cdf_at_most(n, p, tail, round(centre - z * sd - 0.5))
    above = _smallest_k_with_sf_at_most(n, p, tail, round(centre + z * sd - 0.5))
    # B(r-1) <= tail  ->  r = below + 1;  1 - B(s-1) <= tail  ->  s = above + 1.
    # Clamping only matters if scipy's tails disagree with q**n in the last bit.
    return max(1, below + 1), min(n, above + 1)


def _largest_k_with_cdf_at_most(n: int, p: float, level: float, start: int) -> int:
    """Largest k in [-1, n] with B(k; n, p) <= level (B(-1) = 0)."""
    k = min(max(start, -1), n)
    while k >= 0 and float(_sp.binom.cdf(k, n, p)) > level:
        k -= 1
    while k < n and float(_sp.binom.cdf(k + 1, n, p)) <= level:
        k += 1
    return k


def _smallest_k_with_sf_at_most(n: int, p: float, level: float, start: int) -> int:
    """Smallest k in [0, n] with 1 - B(k; n, p) <= level (sf(n) = 0)."""
    k = min(max(start, 0), n)
    while k < n and float(_sp.binom.sf(k, n, p)) > level:
        k += 1
    while k > 0 and float(_sp.binom.sf(k - 1, n, p)) <= level:
        k -= 1
    return k


# ------------------------------------------------------------------ error-rate interval


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval for a proportion ``k / n`` (e.g. an error rate).

    Unlike the textbook ``p ± z·sqrt(p(1-p)/n)`` it stays inside [0, 1] and does not
    collapse to zero width when no errors were seen. ``n == 0`` gives ``(0.0, 1.0)``.

    >>> lo, hi = wilson_interval(0, 20)
    >>> lo, round(hi, 4)
    (0.0, 0.1611)
    """
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k!r}, n={n!r}")
    _check_probability("confidence", confidence)
    if n == 0:
        return 0.0, 1.0
    z = float(_sp.norm.ppf(0.5 + confidence / 2.0))
    z2 = z * z
    centre = (k + z2 / 2.0) / (n + z2)
    half = z / (n + z2) * math.sqrt(k * (n - k) / n + z2 / 4.0)
    # At k = 0 or k = n the formula hits the boundary exactly; floats may overshoot it.
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


# -------------------------------------------------------------------- stored baseline


@dataclass(frozen=True)
class BaselineComparison:
    """Outcome of comparing one run-level value with a baseline.

    ``ratio`` is current / baseline (the baseline's geometric mean when there are several
    runs). ``ratio_low``/``ratio_high`` are the bounds, as ratios to that same baseline,
    within which the current value counts as unremarkable: for
    :func:`compare_to_baseline` the one-sided-``alpha`` prediction interval (``0`` and
    ``inf`` with a single baseline run); for :func:`compare_single` the widest ratio the
    two within-run intervals allow. ``p_value`` is one-sided in the direction of the
    observed change, or NaN when no test was possible. ``detail`` is one sentence.

    >>> compare_to_baseline([100, 102, 98, 101, 99], 100.5).outcome
    'pass'
    """

    outcome: Outcome
    ratio: float
    ratio_low: float
    ratio_high: float
    p_value: float
    detail: str


def _material_rise(ratio: float, min_effect: float) -> bool:
    # Relative slack so that exactly "+10%" counts as +10%: ln(110) - ln(100) comes
    # back from exp() as 1.0999999999999999.
    return ratio >= (1.0 + min_effect) * (1.0 - _RATIO_SLACK)


def _material_fall(ratio: float, min_effect: float) -> bool:
    return ratio <= (1.0 + _RATIO_SLACK) / (1.0 + min_effect)


def _classify(ratio: float, min_effect: float, *, above: bool, below: bool) -> Outcome:
    """Shared rule: fail only when material AND significant (DESIGN §8, asv's rule).

    A material rise that is not significant is "inconclusive" (we cannot rule out a
    regression); a material fall that is not significant is a plain pass, since
    "inconclusive" exists to warn about possible regressions only.
    """
    rise, fall = _material_rise(ratio, min_effect), _material_fall(ratio, min_effect)
    if rise and above:
        return "regression"
    if fall and below:
        return "improvement"
    if rise:
        return "inconclusive"
    return "pass"


def compare_to_baseline(
    baseline: Sequence[float],
    current: float,
    *,
    alpha: float = 0.01,
    min_effect: float = 0.10,
) -> BaselineComparison:
    """Test one new run-level value against K stored baseline runs (DESIGN §8).

    Works on logs: with ``x = ln(baseline)``, ``y = ln(current)``, the prediction interval
    is ``mean(x) ± t(1-alpha, K-1) · sd(x) · sqrt(1 + 1/K)``; a value from the baseline's
    own distribution falls above it with probability ``alpha`` (and below with
    ``alpha``). With ``ratio = exp(y - mean(x))``:

    - regression: y above the interval AND ratio >= 1 + min_effect;
    - improvement: y below the interval AND ratio <= 1 / (1 + min_effect);
    - inconclusive: ratio >= 1 + min_effect but y inside the interval (the baseline's
      run-to-run spread is too wide to tell), or K == 1 (spread unknown; use
      :func:`compare_single` with within-run intervals) and ratio >= 1 + min_effect;
    - pass: everything else, i.e. a change smaller than min_effect either way (even when
      the baseline is so tight that it is significant), or a fall of at least
      min_effect that is inside the interval.

    A baseline with zero spread makes any difference significant (p = 0); min_effect
    still decides. Raises ValueError for an empty baseline or non-positive values.

    >>> r = compare_to_baseline([100, 104, 97, 101, 99], 150.0)
    >>> r.outcome, round(r.ratio, 2)
    ('regression', 1.5)
    """
    _check_probability("alpha", alpha)
    _check_min_effect(min_effect)
    if len(baseline) == 0:
        raise ValueError("baseline must hold at least one run")
    x = _logs("baseline", baseline)
    y = _log("current", current)
    if len(x) == 1:
        return _compare_one_run(float(np.exp(y - x[0])), min_effect)
    k = len(x)
    mean, sd = float(np.mean(x)), _spread(x)
    ratio = math.exp(y - mean)
    scale = sd * math.sqrt(1.0 + 1.0 / k)
    half = float(_sp.t.ppf(1.0 - alpha, k - 1)) * scale
    above, below = y > mean + half, y < mean - half
    p_up, p_down = _t_tails(y - mean, scale, k - 1)
    p_value = p_up if y >= mean else p_down
    outcome = _classify(ratio, min_effect, above=above, below=below)
    low, high = math.exp(-half), math.exp(half)
    detail = _baseline_detail(
        outcome,
        where=f"The value is {_pct(ratio)} against the mean of {k} baseline runs",
        noise=f"the run-to-run noise band of {_pct(low)} to {_pct(high)}",
        p=p_value,
        significant=above or below,
        min_effect=min_effect,
    )
    return BaselineComparison(outcome, ratio, low, high, p_value, detail)


def compare_groups(
    base: Sequence[float],
    head: Sequence[float],
    *,
    alpha: float = 0.01,
    min_effect: float = 0.10,
) -> BaselineComparison:
    """Two sets of run-level values (two baselines): Welch's t-test on logs.

    ``ratio`` is the ratio of geometric means head/base; ``ratio_low``/``ratio_high`` its
    two-sided ``1 - 2·alpha`` confidence interval; the outcome follows the shared rule
    (material AND significant). Each side needs at least two runs.

    >>> compare_groups([100, 102, 98], [150, 149, 152]).outcome
    'regression'
    """
    _check_probability("alpha", alpha)
    _check_min_effect(min_effect)
    if len(base) < 2 or len(head) < 2:
        raise ValueError("each side needs at least two runs")
    x, y = _logs("base", base), _logs("head", head)
    diff = float(np.mean(y) - np.mean(x))
    vx, vy = float(np.var(x, ddof=1)) / len(x), float(np.var(y, ddof=1)) / len(y)
    scale = math.sqrt(vx + vy)
    if scale > 0:
        df = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1))
        df = max(df, 1.0)
    else:
        df = float(len(x) + len(y) - 2)
    p_up, p_down = _t_tails(diff, scale, max(1, round(df)))
    half = float(_sp.t.ppf(1.0 - alpha, df)) * scale
    ratio = math.exp(diff)
    p_value = p_up if diff >= 0 else p_down
    outcome = _classify(ratio, min_effect, above=p_up < alpha, below=p_down < alpha)
    low, high = math.exp(diff - half), math.exp(diff + half)
    ci = f"{1 - 2 * alpha:.0%} CI {_pct(low)} to {_pct(high)}, p = {p_value:.2g}"
    verdicts = {
        "regression": "a regression",
        "improvement": "an improvement",
        "inconclusive": "a material rise, but too noisy to tell",
        "pass": "so it passes",
    }
    detail = (
        f"The geometric mean of {len(y)} runs is {_pct(ratio)} against {len(x)} runs "
        f"({ci}): {verdicts[outcome]}."
    )
    return BaselineComparison(outcome, ratio, low, high, p_value, detail)


def detectable_change(baseline: Sequence[float], alpha: float = 0.01) -> float | None:
    """The smallest rise a new run must show to stand out of the baseline's run-to-run noise,
    as a fraction (0.12 = +12%): the upper edge of the prediction interval. None for K < 2.

    >>> round(detectable_change([100, 110, 90, 105, 95]), 2)
    0.38
    """
    if len(baseline) < 2:
        return None
    x = _logs("baseline", baseline)
    k = len(x)
    half = float(_sp.t.ppf(1.0 - alpha, k - 1)) * _spread(x) * math.sqrt(1.0 + 1.0 / k)
    return math.exp(half) - 1.0


def _t_tails(diff: float, scale: float, df: int) -> tuple[float, float]:
    """One-sided p-values (upper, lower) of ``diff / scale`` under a t(df) null.

    Zero scale (no spread at all) is handled without dividing: any difference is then
    certain, and no difference is a coin toss, as for t = 0.
    """
    if scale == 0.0:
        if diff == 0.0:
            return 0.5, 0.5
        return (0.0, 1.0) if diff > 0.0 else (1.0, 0.0)
    t = diff / scale
    # sf and cdf separately rather than 1 - p: the small tail keeps its precision.
    return float(_sp.t.sf(t, df)), float(_sp.t.cdf(t, df))


def _compare_one_run(ratio: float, min_effect: float) -> BaselineComparison:
    outcome = _classify(ratio, min_effect, above=False, below=False)
    verdict = "a material rise" if outcome == "inconclusive" else "so it passes"
    detail = (
        f"The value is {_pct(ratio)} against a single baseline run, {verdict}, "
        "but with one run the run-to-run noise is unknown: bless more baseline runs."
    )
    return BaselineComparison(outcome, ratio, 0.0, math.inf, math.nan, detail)


def _baseline_detail(
    outcome: Outcome, *, where: str, noise: str, p: float, significant: bool, min_effect: float
) -> str:
    if outcome in ("regression", "improvement"):
        kind = "a regression" if outcome == "regression" else "an improvement"
        return f"{where}, outside {noise} (p = {p:.2g}): {kind}."
    if outcome == "inconclusive":
        return f"{where}, a material rise but inside {noise}: too noisy to tell."
    if significant:
        return (
            f"{where}, outside {noise} but smaller than the "
            f"{min_effect * 100:g}% material threshold, so it passes."
        )
    return f"{where}, inside {noise}, so it passes."


def compare_single(
    baseline_value: float,
    baseline_interval: tuple[float, float],
    current: float,
    current_interval: tuple[float, float],
    *,
    min_effect: float = 0.10,
) -> BaselineComparison:
    """Compare with a single baseline run through the two runs' within-run intervals.

    With one baseline run the run-to-run spread is unknown, so the only evidence is each
    run's own quantile interval (from :func:`quantile_rank_interval`). With
    ``ratio = current / baseline_value``:

    - regression: ratio >= 1 + min_effect and ``current_interval`` lies wholly above
      ``baseline_interval``; improvement: ratio <= 1 / (1 + min_effect) and wholly below;
    - inconclusive: ratio >= 1 + min_effect but the intervals overlap;
    - pass: otherwise.

    ``ratio_low``/``ratio_high`` are ``current_low / baseline_high`` and
    ``current_high / baseline_low``; ``p_value`` is NaN (no test is done). Run-to-run
    noise usually exceeds within-run uncertainty, so a "regression" here is weaker
    evidence than one from :func:`compare_to_baseline`, and the detail says so.

    >>> compare_single(100.0, (95.0, 105.0), 130.0, (124.0, 137.0)).outcome
    'regression'
    """
    _check_min_effect(min_effect)
    base_lo, base_hi = _interval("baseline", baseline_value, baseline_interval)
    cur_lo, cur_hi = _interval("current", current, current_interval)
    ratio = current / baseline_value
    outcome = _classify(ratio, min_effect, above=cur_lo > base_hi, below=cur_hi < base_lo)
    detail = (
        f"The value is {_pct(ratio)} against a single baseline run; "
        f"{_single_detail(outcome, ratio, min_effect)}; with one baseline run the "
        "run-to-run noise is unknown, so this is weaker evidence."
    )
    return BaselineComparison(outcome, ratio, cur_lo / base_hi, cur_hi / base_lo, math.nan, detail)


def _single_detail(outcome: Outcome, ratio: float, min_effect: float) -> str:
    if outcome == "regression":
        return "its interval lies wholly above the baseline's, a regression"
    if outcome == "improvement":
        return "its interval lies wholly below the baseline's, an improvement"
    if outcome == "inconclusive":
        return "a material rise, but the two runs' intervals overlap"
    if _material_fall(ratio, min_effect):
        return "a material fall, but the two runs' intervals overlap, so it passes"
    return "not a material change, so it passes"


def _interval(name: str, value: float, interval: tuple[float, float]) -> tuple[float, float]:
    low, high = interval
    _logs(name, [value, low, high])
    if not low <= value <= high:
        raise ValueError(f"{name} interval {interval!r} must contain its value {value!r}")
    return low, high


# ------------------------------------------------------------------ multiple testing


def holm(p_values: Sequence[float], alpha: float) -> list[bool]:
    """Holm-Bonferroni step-down: which hypotheses are rejected at family-wise ``alpha``.

    Sort the m p-values ascending; reject the i-th smallest (0-based) while
    ``p <= alpha / (m - i)``; stop at the first that is not. Uniformly more powerful than
    plain Bonferroni, with the same guarantee, so gating many metrics stays honest.

    >>> holm([0.01, 0.04, 0.03, 0.005], 0.05)
    [True, False, False, True]
    """
    _check_probability("alpha", alpha)
    if any(not 0.0 <= p <= 1.0 for p in p_values):  # also rejects NaN
        raise ValueError(f"p-values must lie in [0, 1], got {list(p_values)!r}")
    m = len(p_values)
    rejected = [False] * m
    for step, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        if p_values[index] > alpha / (m - step):
            break
        rejected[index] = True
    return rejected


# ------------------------------------------------------------------------- paired A/B


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
    fewer pairs than the first look is a ValueError. Each look is tested at
    ``alpha_look = alpha / (len(looks) * n_metrics)``: Bonferroni across looks, and
    across metrics when ``n_metrics > 1``. To use Holm across metrics instead, keep
    ``n_metrics=1`` and apply :func:`holm` to the metrics' ``p_value`` at level
    ``alpha_look``. Decisions, in this order:

    - regression: ``p < alpha_look`` AND ``R >= 1 + min_effect``;
    - improvement: ``R`` significantly below one at ``alpha_look`` AND
      ``R <= 1 / (1 + min_effect)``;
    - pass: the 90% upper bound of R is below ``1 + min_effect`` (stop early);
    - at the last look: inconclusive (not failed, but a material regression cannot be
      ruled out); before it: continue.

    Identical d (zero variance) gives an exact answer: p = 0 if d > 0, 1 if d < 0,
    0.5 if d == 0, and both bounds equal R.

    >>> look = paired_sequential_test([100, 100, 100], [150, 152, 149])
    >>> look.decision, look.pairs, round(look.ratio, 2)
    ('regression', 3, 1.5)
    """
    _check_probability("alpha", alpha)
    _check_min_effect(min_effect)
    if n_metrics < 1:
        raise ValueError(f"n_metrics must be >= 1, got {n_metrics!r}")
    plan = _check_looks(looks)
    pairs = _current_look(plan, len(base), len(head))
    d = _logs("head", head[:pairs]) - _logs("base", base[:pairs])
    alpha_look = alpha / (len(plan) * n_metrics)
    mean, se = float(np.mean(d)), _spread(d) / math.sqrt(pairs)
    p_up, p_down = _t_tails(mean, se, pairs - 1)
    margin = float(_sp.t.ppf(0.90, pairs - 1)) * se
    ratio, upper, lower = math.exp(mean), math.exp(mean + margin), math.exp(mean - margin)
    decision: Decision
    if p_up < alpha_look and _material_rise(ratio, min_effect):
        decision = "regression"
    elif p_down < alpha_look and _material_fall(ratio, min_effect):
        decision = "improvement"
    elif upper < 1.0 + min_effect:
        decision = "pass"
    else:
        decision = "inconclusive" if pairs == plan[-1] else "continue"
    return PairedLook(pairs, ratio, upper, lower, p_up, alpha_look, decision)


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
