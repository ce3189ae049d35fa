"""The family of gated metrics: each metric tested on its own value and relative to the run's
other endpoints, the significance level split between the critical journeys and the rest, and
Holm's weighted step-down correction. Pure maths on run-level values."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from loadgate import stats
from loadgate.policy import GatePolicy

# Fewer blessed runs than this say nothing about the run-to-run noise: reported, never failed.
MIN_BASELINE_RUNS = 2
# The run's own speed is taken out only with this many other endpoints to measure it by: their
# median then moves with the machine, not with one endpoint's regression.
MIN_PEERS = 3


def relative_series(
    runs: Sequence[Mapping[tuple[str, float], float]],
    current: Mapping[tuple[str, float], float],
    metrics: Sequence[tuple[str, float]],
) -> list[Relative | None]:
    """Per metric, its value with the run's own speed taken out, in each blessed run and in the
    current run; the metric's test then loses the run-to-run noise of the machine's speed
    (:func:`stats.compare_relative`). A run's speed, for one metric, is the median over the
    other endpoints at the same quantile of their value's ratio to their geometric mean over
    the blessed runs (:func:`run_speed`): robust to a peer that regressed or is noisy.
    None with fewer than :data:`MIN_PEERS` other endpoints; a blessed run that lacks the
    metric or one of its peers is left out of its series.

    >>> runs = [{("a", .5): 2.0, ("b", .5): 1.0, ("c", .5): 4.0, ("d", .5): 8.0},
    ...         {("a", .5): 4.0, ("b", .5): 2.0, ("c", .5): 8.0, ("d", .5): 16.0}]
    >>> now = {("a", .5): 6.0, ("b", .5): 2.0, ("c", .5): 8.0, ("d", .5): 16.0}
    >>> first = relative_series(runs, now, list(now))[0]
    >>> [round(x, 3) for x in first.baseline], round(first.current, 3), round(first.speed, 3)
    ([2.828, 2.828], 4.243, 1.414)
    """
    out: list[Relative | None] = []
    for name, q in metrics:
        group = [m for m in metrics if m[1] == q]
        peers = [m for m in group if m[0] != name]
        usable = [run for run in runs if all(run.get(m, 0.0) > 0 for m in group)]
        if len(peers) < MIN_PEERS or not usable or any(current[m] <= 0 for m in group):
            out.append(None)
            continue
        centres = {m: stats.geometric_mean([run[m] for run in usable]) for m in peers}
        speeds = [run_speed(run, centres) for run in usable]
        speed = run_speed(current, centres)
        series = [run[(name, q)] / v for run, v in zip(usable, speeds, strict=True)]
        out.append(Relative(series, current[(name, q)] / speed, speeds, speed))
    return out


def run_speed(
    values: Mapping[tuple[str, float], float], centres: Mapping[tuple[str, float], float]
) -> float:
    """How slow a run was against the baseline, as a ratio: the median of its endpoints'
    values over their baseline centres (1.1: the run was 10% slower than usual).

    >>> run_speed({("a", .5): 2.2, ("b", .5): 5.0, ("c", .5): 3.3},
    ...           {("a", .5): 2.0, ("b", .5): 2.5, ("c", .5): 3.0})
    1.1
    """
    return statistics.median(values[m] / centre for m, centre in centres.items())


@dataclass(frozen=True)
class Decision:
    """One metric's decision in the gated family: its outcome, the p-value level it was held
    to (NaN when untested) and its comparison (None when it was not gated)."""

    outcome: str
    level: float
    comparison: stats.BaselineComparison | None
    # the comparison relative to the run's other endpoints, and its level (NaN: none)
    relative: stats.BaselineComparison | None = None
    relative_level: float = math.nan
    by_relative: bool = False  # the relative comparison decided the outcome

    @property
    def decisive(self) -> stats.BaselineComparison | None:
        """The comparison whose band and ratio the outcome rests on."""
        return self.relative if self.by_relative else self.comparison


@dataclass(frozen=True)
class Relative:
    """One metric with the run's own speed taken out: its relative value in each blessed run
    and in this run, and each run's speed (:func:`run_speed`) by which it was divided."""

    baseline: Sequence[float]
    current: float
    speeds: Sequence[float]
    speed: float


def gate_family(
    baselines: Sequence[Sequence[float]],
    current: Sequence[float],
    critical: Sequence[bool],
    effects: Sequence[float],
    policy: GatePolicy,
    relative: Sequence[Relative | None] | None = None,
) -> list[Decision]:
    """The stored-baseline decision for a family of metrics, each given as its blessed runs'
    values and the new run's value: metrics with fewer than :data:`MIN_BASELINE_RUNS`
    values are not gated; the others are tested (:func:`stats.compare_to_baseline`) and
    corrected together (:func:`family_outcomes`). Pure, so its error rates can be simulated.

    ``relative`` gives, per metric, the same values relative to the run's other endpoints
    (the blessed runs' and the new run's; None where there are too few peers). Such a metric
    is tested twice, on its own value (which catches a change that slows every endpoint
    alike) and on its relative one (which loses the run-to-run noise of the machine's speed
    and so catches a change of one endpoint many times more often), and the two tests share
    its weight in the family: the family-wise alarm rate stays at most alpha.

    >>> [d.outcome for d in gate_family([[10.0], [10.0, 10.4, 9.7]], [30.0, 10.1],
    ...                                 [True, True], [0.1, 0.1], GatePolicy())]
    ['not gated', 'pass']
    """
    relative = relative if relative is not None else [None] * len(baselines)
    lists = (baselines, current, critical, effects, relative)
    if len({len(x) for x in lists}) != 1:
        raise ValueError("one baseline, value, critical flag, effect and relative per metric")
    tested = [i for i, values in enumerate(baselines) if len(values) >= MIN_BASELINE_RUNS]
    comparisons = {
        i: stats.compare_to_baseline(
            baselines[i], current[i], alpha=policy.alpha, min_effect=effects[i]
        )
        for i in tested
    }
    relatives: dict[int, stats.BaselineComparison] = {}
    for i in tested:
        rel = relative[i]
        if rel is not None and len(rel.baseline) >= MIN_BASELINE_RUNS:
            relatives[i] = _relative_test(rel, comparisons[i].ratio, effects[i], policy.alpha)
    family = [(i, comparisons[i]) for i in tested] + list(relatives.items())
    decided = family_outcomes(
        [cmp for _, cmp in family],
        [critical[i] for i, _ in family],
        policy.alpha,
        policy.critical_share,
        metric_of=[i for i, _ in family],
    )
    # the family lists the own-value tests first, then the relative ones
    own = dict(zip(tested, decided[: len(tested)], strict=True))
    rel_decided = dict(zip(relatives, decided[len(tested) :], strict=True))
    out = [Decision("not gated", math.nan, None)] * len(baselines)
    for i in tested:
        outcome, level = own[i]
        if i not in relatives:
            out[i] = Decision(outcome, level, comparisons[i])
            continue
        rel_outcome, rel_level = rel_decided[i]
        combined, by_relative = combine_outcomes(outcome, rel_outcome)
        out[i] = Decision(combined, level, comparisons[i], relatives[i], rel_level, by_relative)
    return out


def _relative_test(
    rel: Relative, absolute: float, effect: float, alpha: float
) -> stats.BaselineComparison:
    """The relative comparison, unless this run's speed is outside the blessed runs' own
    (their prediction interval at ``alpha``, either side): then the other endpoints moved for
    a reason of their own (a change of theirs, or of every endpoint alike), not the
    machine's speed, and taking it out would be wrong. That test is then skipped: it keeps
    its weight in the family (p = 1, never rejected), so which tests run never loosens the
    others' levels."""
    speed = stats.compare_to_baseline(rel.speeds, rel.speed, alpha=alpha, min_effect=0.0)
    if speed.ratio_low <= speed.ratio <= speed.ratio_high:
        return stats.compare_relative(
            rel.baseline, rel.current, absolute, alpha=alpha, min_effect=effect
        )
    detail = (
        f"The run's other endpoints ran {stats.pct(speed.ratio)} against the baseline, outside "
        f"the {stats.pct(speed.ratio_low)} to {stats.pct(speed.ratio_high)} of its own runs: "
        "they changed, not the machine's speed, so this metric is judged on its own value."
    )
    return stats.BaselineComparison("pass", math.nan, 0.0, math.inf, 1.0, detail)


def combine_outcomes(absolute: str, relative: str) -> tuple[str, bool]:
    """One metric's outcome from its two corrected tests, and whether the relative one decided.

    A regression by either test is a regression (the absolute test first: its sentence is
    the plainer). A material rise the relative test cannot confirm is inconclusive, and so
    is one of the own value that the relative value does not share (the whole run was
    slower: a slower machine, or a change that slows every endpoint alike, which only the
    own value's test can catch). An improvement is the absolute test's to call.

    >>> combine_outcomes("inconclusive", "regression"), combine_outcomes("pass", "inconclusive")
    (('regression', True), ('inconclusive', True))
    """
    if absolute == "regression":
        return absolute, False
    if relative in ("regression", "inconclusive"):
        return relative, True
    return absolute, False


def family_outcomes(
    comparisons: Sequence[stats.BaselineComparison],
    critical: Sequence[bool],
    alpha: float,
    critical_share: float,
    metric_of: Sequence[int] | None = None,
) -> list[tuple[str, float]]:
    """Each comparison's outcome after the correction for the family of gated metrics, with the
    p-value level it was held to.

    Holm's weighted step-down procedure keeps the chance of any false alarm in the family at
    most ``alpha``, whatever the dependence between metrics. The critical metrics share
    ``critical_share`` of the weight (so of alpha) and the rest share the remainder; when
    all or none are critical every metric weighs the same (plain Holm). ``metric_of`` names
    the metric each comparison tests (default: each its own); a metric tested twice splits
    its weight between its tests. A comparison without a p-value keeps its own outcome.

    >>> from loadgate.stats import compare_to_baseline
    >>> cmp = compare_to_baseline([10.0, 10.9, 9.2, 10.4, 9.6], 18.2)  # +82%, p = 0.0006
    >>> [o for o, _ in family_outcomes([cmp], [True], 0.01, 0.8)]
    ['regression']
    >>> quiet = compare_to_baseline([10.0, 10.9, 9.2, 10.4, 9.6], 10.1)
    >>> [o for o, _ in family_outcomes([cmp] + [quiet] * 29, [False] * 30, 0.01, 0.8)]
    ... # doctest: +ELLIPSIS
    ['inconclusive', 'pass', ...]
    >>> [o for o, _ in family_outcomes([cmp] + [quiet] * 29, [True] + [False] * 29, 0.01, 0.8)]
    ... # doctest: +ELLIPSIS
    ['regression', 'pass', ...]
    """
    n = len(comparisons)
    if len(critical) != n:
        raise ValueError("one critical flag per comparison")
    if n == 0:
        return []
    if not 0.0 < critical_share < 1.0:
        raise ValueError(f"critical_share must lie strictly between 0 and 1, got {critical_share}")
    owner = list(range(n)) if metric_of is None else list(metric_of)
    if len(owner) != n:
        raise ValueError("one metric index per comparison")
    tests = Counter(owner)
    kinds = {m: c for m, c in zip(owner, critical, strict=True)}
    if any(kinds[m] != c for m, c in zip(owner, critical, strict=True)):
        raise ValueError("the comparisons of one metric must agree on whether it is critical")
    m_all, m_critical = len(kinds), sum(kinds.values())
    if 0 < m_critical < m_all:
        rest = (1.0 - critical_share) / (m_all - m_critical)
        weights = [(critical_share / m_critical if c else rest) / tests[m]
                   for m, c in zip(owner, critical, strict=True)]  # fmt: skip
    else:
        weights = [1.0 / m_all / tests[m] for m in owner]
    tested = [i for i, c in enumerate(comparisons) if not math.isnan(c.p_value)]
    levels = [math.nan] * n
    if tested:
        found = stats.holm_thresholds(
            [comparisons[i].p_value for i in tested], alpha, [weights[i] for i in tested]
        )
        for i, level in zip(tested, found, strict=True):
            levels[i] = level
    out: list[tuple[str, float]] = []
    for cmp, level in zip(comparisons, levels, strict=True):
        if math.isnan(level):
            out.append((cmp.outcome, level))
        else:
            out.append((corrected_outcome(cmp.outcome, cmp.p_value <= level), level))
    return out


def corrected_outcome(outcome: str, significant: bool) -> str:
    """An outcome after the correction for the number of gated metrics: a regression that is
    no longer significant is a material rise the noise cannot confirm (inconclusive); an
    improvement that is not, a pass."""
    if outcome not in ("regression", "improvement") or significant:
        return outcome
    return "inconclusive" if outcome == "regression" else "pass"
