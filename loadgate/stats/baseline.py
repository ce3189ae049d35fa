"""Across runs, against stored baselines: one new run against K blessed runs (prediction
interval), two sets of runs (Welch), one run against one run (within-run intervals), and
Holm's correction across gated metrics."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from loadgate.stats._common import (
    Outcome,
    check_min_effect,
    check_probability,
    classify,
    log,
    logs,
    material_fall,
    pct,
    spread,
    t_ppf,
    t_tails,
)


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
    check_probability("alpha", alpha)
    check_min_effect(min_effect)
    if len(baseline) == 0:
        raise ValueError("baseline must hold at least one run")
    x = logs("baseline", baseline)
    y = log("current", current)
    if len(x) == 1:
        return _compare_one_run(float(np.exp(y - x[0])), min_effect)
    k = len(x)
    mean, sd = float(np.mean(x)), spread(x)
    ratio = math.exp(y - mean)
    scale = sd * math.sqrt(1.0 + 1.0 / k)
    half = t_ppf(1.0 - alpha, k - 1) * scale
    above, below = y > mean + half, y < mean - half
    p_up, p_down = t_tails(y - mean, scale, k - 1)
    p_value = p_up if y >= mean else p_down
    outcome = classify(ratio, min_effect, above=above, below=below)
    low, high = math.exp(-half), math.exp(half)
    detail = _baseline_detail(
        outcome,
        where=f"The value is {pct(ratio)} against the mean of {k} baseline runs",
        noise=f"the run-to-run noise band of {pct(low)} to {pct(high)}",
        p=p_value,
        significant=above or below,
        min_effect=min_effect,
    )
    return BaselineComparison(outcome, ratio, low, high, p_value, detail)


def compare_relative(
    baseline: Sequence[float],
    current: float,
    absolute: float,
    *,
    alpha: float = 0.01,
    min_effect: float = 0.10,
) -> BaselineComparison:
    """Test a metric against its baseline after taking out the run's own speed.

    Each value is a *relative* one: the metric divided by the run's own speed, measured in the
    same run (the verdict uses the median of the other endpoints' ratios to their baseline,
    :func:`loadgate.verdict.relative_series`). A run on a slower moment of a shared machine
    is slower everywhere at once, so the relative value keeps the endpoint's own changes and
    loses most of the run-to-run noise. The test is
    :func:`compare_to_baseline` on those ratios (prediction interval, one-sided ``alpha``),
    so its false-alarm rate is the same whatever the machine does, as long as the ratio of
    a run of unchanged code is drawn like the baseline's.

    ``absolute`` is the metric's own ratio to the baseline's mean. A relative rise of an
    endpoint that did not get slower itself (``absolute < 1``) is the other endpoints
    getting faster, not a regression of this one: it passes, and the detail says so. A
    relative fall is left to the absolute test (only rises are gated here).

    >>> compare_relative([1.50, 1.52, 1.49, 1.51, 1.50], 1.82, 1.07).outcome
    'regression'
    >>> compare_relative([1.50, 1.52, 1.49, 1.51, 1.50], 1.82, 0.95).outcome
    'pass'
    """
    check_probability("alpha", alpha)
    if not (absolute > 0 and math.isfinite(absolute)):
        raise ValueError(f"absolute must be a finite ratio > 0, got {absolute!r}")
    cmp = compare_to_baseline(baseline, current, alpha=alpha, min_effect=min_effect)
    if len(baseline) == 1:
        return cmp
    where = (
        f"With the run's own speed taken out it is {pct(cmp.ratio)} against the "
        f"{len(baseline)} baseline runs"
    )
    noise = f"the noise band of {pct(cmp.ratio_low)} to {pct(cmp.ratio_high)} left then"
    outcome = cmp.outcome
    if outcome == "improvement" or (outcome == "pass" and cmp.ratio < 1.0):
        detail = f"{where}: not a rise, so it passes (a fall is judged by its own value)."
        return dataclasses.replace(cmp, outcome="pass", detail=detail)
    if outcome in ("regression", "inconclusive") and absolute < 1.0:
        detail = (
            f"{where}, but its own value is {pct(absolute)} against the baseline: the other "
            "endpoints got faster, this one did not get slower, so it passes."
        )
        return dataclasses.replace(cmp, outcome="pass", detail=detail)
    significant = cmp.ratio > cmp.ratio_high or cmp.ratio < cmp.ratio_low
    detail = _baseline_detail(
        outcome, where=where, noise=noise, p=cmp.p_value, significant=significant,
        min_effect=min_effect,
    )  # fmt: skip
    return dataclasses.replace(cmp, outcome=outcome, detail=detail)


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
    check_probability("alpha", alpha)
    check_min_effect(min_effect)
    if len(base) < 2 or len(head) < 2:
        raise ValueError("each side needs at least two runs")
    x, y = logs("base", base), logs("head", head)
    diff = float(np.mean(y) - np.mean(x))
    vx, vy = float(np.var(x, ddof=1)) / len(x), float(np.var(y, ddof=1)) / len(y)
    scale = math.sqrt(vx + vy)
    if scale > 0:
        df = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1))
        df = max(df, 1.0)
    else:
        df = float(len(x) + len(y) - 2)
    p_up, p_down = t_tails(diff, scale, df)
    half = t_ppf(1.0 - alpha, df) * scale
    ratio = math.exp(diff)
    p_value = p_up if diff >= 0 else p_down
    outcome = classify(ratio, min_effect, above=p_up < alpha, below=p_down < alpha)
    low, high = math.exp(diff - half), math.exp(diff + half)
    ci = f"{1 - 2 * alpha:.0%} CI {pct(low)} to {pct(high)}, p = {p_value:.2g}"
    verdicts = {
        "regression": "a regression",
        "improvement": "an improvement",
        "inconclusive": "a material rise, but too noisy to tell",
        "pass": "so it passes",
    }
    detail = (
        f"The geometric mean of {len(y)} runs is {pct(ratio)} against {len(x)} runs "
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
    x = logs("baseline", baseline)
    k = len(x)
    half = t_ppf(1.0 - alpha, k - 1) * spread(x) * math.sqrt(1.0 + 1.0 / k)
    return math.exp(half) - 1.0


def _compare_one_run(ratio: float, min_effect: float) -> BaselineComparison:
    outcome = classify(ratio, min_effect, above=False, below=False)
    verdict = "a material rise" if outcome == "inconclusive" else "so it passes"
    detail = (
        f"The value is {pct(ratio)} against a single baseline run, {verdict}, "
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
    check_min_effect(min_effect)
    base_lo, base_hi = _interval("baseline", baseline_value, baseline_interval)
    cur_lo, cur_hi = _interval("current", current, current_interval)
    ratio = current / baseline_value
    outcome = classify(ratio, min_effect, above=cur_lo > base_hi, below=cur_hi < base_lo)
    detail = (
        f"The value is {pct(ratio)} against a single baseline run; "
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
    if material_fall(ratio, min_effect):
        return "a material fall, but the two runs' intervals overlap, so it passes"
    return "not a material change, so it passes"


def _interval(name: str, value: float, interval: tuple[float, float]) -> tuple[float, float]:
    low, high = interval
    logs(name, [value, low, high])
    if not low <= value <= high:
        raise ValueError(f"{name} interval {interval!r} must contain its value {value!r}")
    return low, high


def holm(
    p_values: Sequence[float], alpha: float, weights: Sequence[float] | None = None
) -> list[bool]:
    """Holm-Bonferroni step-down: which hypotheses are rejected at family-wise ``alpha``.

    Sort the m p-values ascending; reject the i-th smallest (0-based) while
    ``p <= alpha / (m - i)``; stop at the first that is not. Uniformly more powerful than
    plain Bonferroni, with the same guarantee, so gating many metrics stays honest.
    With ``weights`` it is Holm's weighted procedure (see :func:`holm_thresholds`).

    >>> holm([0.01, 0.04, 0.03, 0.005], 0.05)
    [True, False, False, True]
    """
    levels = holm_thresholds(p_values, alpha, weights)
    return [p <= level for p, level in zip(p_values, levels, strict=True)]


def holm_thresholds(
    p_values: Sequence[float], alpha: float, weights: Sequence[float] | None = None
) -> list[float]:
    """The level each p-value is held to by Holm's weighted step-down procedure: a hypothesis
    is rejected exactly when its p-value is at most its level.

    Hypothesis i carries a weight w_i > 0 (equal weights: plain Holm). Order by p_i / w_i;
    while the next one has ``p_i <= alpha * w_i / W`` (W the summed weight of those not yet
    rejected) reject it and go on; at the first that is not, stop. A rejected hypothesis's
    level is the one it met; every other's is ``alpha * w_i / W`` at the stop, what it would
    have needed. The family-wise error rate is at most ``alpha`` whatever the dependence
    between the tests (Holm 1979): more weight on the critical metrics gates them more
    strongly and the rest more weakly, never the family more loosely.

    >>> [round(t, 4) for t in holm_thresholds([0.001, 0.2, 0.03], 0.05, [2, 1, 1])]
    [0.025, 0.025, 0.025]
    """
    check_probability("alpha", alpha)
    if any(not 0.0 <= p <= 1.0 for p in p_values):  # also rejects NaN
        raise ValueError(f"p-values must lie in [0, 1], got {list(p_values)!r}")
    m = len(p_values)
    w = [1.0] * m if weights is None else [float(x) for x in weights]
    if len(w) != m or any(not x > 0 or math.isinf(x) for x in w):
        raise ValueError(f"weights must be {m} positive numbers, got {weights!r}")
    remaining = math.fsum(w)
    levels = [0.0] * m
    order = sorted(range(m), key=lambda i: p_values[i] / w[i])
    for step, index in enumerate(order):
        level = alpha * w[index] / remaining
        if p_values[index] > level:
            for rest in order[step:]:
                levels[rest] = alpha * w[rest] / remaining
            break
        levels[index] = level
        remaining -= w[index]
    return levels
