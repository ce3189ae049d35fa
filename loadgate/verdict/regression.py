"""Regression against a stored baseline: one check per endpoint and gated quantile, material
AND significant against the baseline's run-to-run noise, corrected for the family of gated
metrics (:mod:`loadgate.verdict.family`), each said as a plain sentence."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from loadgate import stats
from loadgate.attribution import judged_quantiles
from loadgate.baselines import Baseline, BaselineRun
from loadgate.budgets import Budget
from loadgate.checks import Check, CheckStatus, quantile_metric
from loadgate.durations import format_ms
from loadgate.policy import GatePolicy
from loadgate.results import RunResult
from loadgate.verdict.family import (
    MIN_BASELINE_RUNS,
    Decision,
    Relative,
    gate_family,
    relative_series,
)

# A value with the generator's delay taken out is never below a microsecond (logs stay finite).
MIN_VALUE_MS = 0.001


def regression_checks(
    result: RunResult,
    baseline: Baseline,
    budgets: Sequence[Budget],
    policy: GatePolicy,
    less: Mapping[tuple[str, float], float] | None = None,
) -> list[Check]:
    """Per endpoint and gated quantile: a regression is material AND significant against the
    baseline's run-to-run spread, with the family-wise alarm rate held at alpha by Holm's
    weighted procedure (:func:`family_outcomes`).

    Which metrics are gated depends only on the baseline's size and the samples a metric has,
    never on the spread the test then uses: choosing the quiet metrics by their measured
    spread would gate exactly those whose spread came out small by chance, and their alarm
    rate would exceed alpha. With fewer than :data:`MIN_BASELINE_RUNS` blessed runs the
    run-to-run noise is unknown and nothing is gated; the check says so.

    Each metric is also tested relative to the run's other endpoints
    (:func:`relative_values`, :func:`gate_family`); when that test decides, the check's
    change and band are the relative ones. ``less``: ms to take out of each current value
    (the generator's delay, to see whether a decision rests on it)."""
    less = less or {}
    metrics = judged_quantiles(result, budgets, policy.quantiles)
    advisory = not policy.force_compare and not baseline.comparable_with(result.environment)
    critical = critical_endpoints(budgets)
    compared: list[tuple[str, float, float, list[float]]] = []
    out: list[Check] = []
    for name, q in metrics:
        current = result.endpoints[name].gated  # corrected in the open model
        values = baseline.values(name, q)
        if less:  # every run judged again without its generator's delay, blessed runs too
            values = [
                max(v - d, MIN_VALUE_MS)
                for v, d in zip(values, baseline.delays(name, q), strict=True)
            ]
        if not values or current.quantile_interval(q, policy.confidence) is None:
            out.append(
                Check(
                    "baseline",
                    f"{name} {quantile_metric(q)} vs baseline",
                    "pass",
                    f"{name} {quantile_metric(q)}: not in the baseline; not compared.",
                    endpoint=name,
                    metric=quantile_metric(q),
                    quantile=q,
                    outcome="inconclusive",
                )
            )
            continue
        y = max(current.quantile(q) / 1000 - less.get((name, q), 0.0), MIN_VALUE_MS)
        compared.append((name, q, y, values))
    relatives = relative_values(
        result, baseline, [(name, q, y) for name, q, y, _ in compared], bare=bool(less)
    )
    decisions = gate_family(
        [values for *_, values in compared],
        [y for _, _, y, _ in compared],
        [name in critical for name, *_ in compared],
        [policy.effect_for(name) for name, *_ in compared],
        policy,
        relatives,
    )
    gated = sum((d.comparison is not None) + (d.relative is not None) for d in decisions)
    for (name, q, y, values), decision, rel in zip(compared, decisions, relatives, strict=True):
        cmp = decision.decisive
        if cmp is None:
            out.append(_too_young(name, q, y, values))
            continue
        level = decision.relative_level if decision.by_relative else decision.level
        runs = len(rel.baseline) if decision.by_relative and rel is not None else len(values)
        detail = _corrected_detail(cmp, decision.outcome, level, runs, gated, decision.by_relative)
        if decision.by_relative and decision.comparison is not None:
            detail = f"{_own_value(decision.comparison, cmp, len(values))} {detail}"
        elif decision.relative is not None and math.isnan(decision.relative.ratio):
            detail += f" {decision.relative.detail}"  # the run's speed could not be taken out
        elif decision.relative is not None and decision.outcome == "inconclusive":
            # the own value rose with the whole run: say what is left with its speed taken out
            left = decision.relative
            detail += (
                f" With the run's own speed taken out it is {stats.pct(left.ratio)} (noise band "
                f"{stats.pct(left.ratio_low)} to {stats.pct(left.ratio_high)}): the rise is the "
                "whole run's, a slower machine or a change that slows every endpoint alike."
            )
        status = status_of(decision.outcome)
        detectable = cmp.ratio_high - 1.0  # the band's upper edge: the change that stands out
        if decision.outcome == "inconclusive" and detectable > policy.max_detectable:
            # a material rise no test on this baseline could confirm: said, not flagged
            status = "pass"
            detail += (
                f" Across the {len(values)} baseline runs it varies so much that only a "
                f"change above +{detectable:.0%} would stand out: make the runs longer or "
                "the load steadier, or bless more runs."
            )
        out.append(
            _regression_check(
                name,
                q,
                y,
                values,
                decision,
                status,
                detail,
                baseline.label,
                advisory,
                policy.effect_for(name),
            )
        )
    return out


def _own_value(cmp: stats.BaselineComparison, relative: stats.BaselineComparison, runs: int) -> str:
    """The own value's comparison and the run's speed, before a relative decision."""
    return (
        f"Its own value is {stats.pct(cmp.ratio)} against the mean of {runs} baseline runs "
        f"(noise band {stats.pct(cmp.ratio_low)} to {stats.pct(cmp.ratio_high)}); the run's "
        f"other endpoints ran {stats.pct(cmp.ratio / relative.ratio)} against theirs."
    )


def relative_values(
    result: RunResult,
    baseline: Baseline,
    compared: Sequence[tuple[str, float, float]],
    bare: bool = False,
) -> list[Relative | None]:
    """Per compared metric (endpoint, quantile, this run's value in ms), its value relative to
    the run's other compared endpoints, in every blessed run and in this run
    (:func:`relative_series`); ``bare``: the blessed runs' values without their generator's
    delay."""
    metrics = [(e, q) for e, q, _ in compared]

    def value(run: BaselineRun, e: str, q: float) -> float:
        v = run.histograms[e].quantile(q) / 1000
        return max(v - run.delay_ms(e, q), MIN_VALUE_MS) if bare else v

    runs = [{(e, q): value(run, e, q) for e, q in metrics if run.has(e)} for run in baseline.runs]
    return relative_series(runs, {(e, q): y for e, q, y in compared}, metrics)


def critical_endpoints(budgets: Sequence[Budget]) -> set[str]:
    """The critical journeys: endpoints named in a latency budget (not through ``*``)."""
    return {b.endpoint for b in budgets if b.endpoint != "*" and b.quantile is not None}


def _too_young(name: str, q: float, y: float, values: Sequence[float]) -> Check:
    metric = quantile_metric(q)
    ratio = y / values[0]
    runs = f"{len(values)} baseline run{'s' if len(values) != 1 else ''}"
    return Check(
        "baseline",
        f"{name} {metric} vs baseline",
        "pass",
        f"{name} {metric} is {format_ms(y)}, {stats.pct(ratio)} against {runs}; not gated: "
        f"with fewer than {MIN_BASELINE_RUNS} runs the run-to-run noise is unknown, and a "
        "difference between two runs of the same code is often larger than a regression. "
        "Bless more runs of the main branch to gate it.",
        endpoint=name,
        metric=metric,
        quantile=q,
        value=y,
        reference=values[0],
        ratio=ratio,
        outcome="not gated",
        against=runs,
    )


def _corrected_detail(
    cmp: stats.BaselineComparison,
    outcome: str,
    level: float,
    runs: int,
    family: int,
    relative: bool = False,
) -> str:
    """The comparison's sentence, made to agree with the outcome after the correction."""
    if cmp.outcome not in ("regression", "improvement") or math.isnan(level):
        return cmp.detail
    bounds = f"{stats.pct(cmp.ratio_low)} to {stats.pct(cmp.ratio_high)}"
    if relative:
        band = f"the noise band of {bounds} left then"
        where = (
            f"With the run's own speed taken out it is {stats.pct(cmp.ratio)} against the "
            f"{runs} baseline runs"
        )
    else:
        band = f"the run-to-run noise band of {bounds}"
        where = f"The value is {stats.pct(cmp.ratio)} against the mean of {runs} baseline runs"
    among = f"among the {family} gated tests" if family > 1 else "for this metric"
    kind = "a regression" if cmp.outcome == "regression" else "an improvement"
    if outcome == cmp.outcome:
        needed = f"{among} p ≤ {level:.2g} needed"
        return f"{where}, outside {band} (p = {cmp.p_value:.2g}, {needed}): {kind}."
    return (
        f"{where}, outside {band} (p = {cmp.p_value:.2g}), but {among} it needed "
        f"p ≤ {level:.2g} (Holm's correction): too noisy to call it {kind}."
    )


def status_of(outcome: str) -> CheckStatus:
    """How a comparison's outcome weighs in the verdict."""
    return "fail" if outcome == "regression" else "warn" if outcome == "inconclusive" else "pass"


def _regression_check(
    name: str,
    q: float,
    y: float,
    values: Sequence[float],
    decision: Decision,
    status: CheckStatus,
    detail: str,
    label: str,
    advisory: bool,
    effect: float,
) -> Check:
    metric = quantile_metric(q)
    outcome = decision.outcome
    cmp = decision.decisive
    assert cmp is not None
    msg = f"{name} {metric} is {format_ms(y)} against the {label}: {outcome}. {detail}"
    if advisory and status == "fail":
        status = "warn"
        msg += " Advisory only: the baseline was measured on a different machine."
    # the bounds the decision used: where a value from the baseline's own runs falls; for a
    # relative decision, the reference is what the baseline predicts at this run's own speed,
    # so the ratio is the relative change the band is about
    return Check(
        "baseline",
        f"{name} {metric} vs baseline",
        status,
        msg,
        endpoint=name,
        metric=metric,
        quantile=q,
        value=y,
        reference=y / cmp.ratio if decision.by_relative else stats.geometric_mean(values),
        ratio=cmp.ratio,
        threshold=1 + effect,
        interval=(cmp.ratio_low, cmp.ratio_high),
        outcome=outcome,
        against=f"the {label}",
        interval_label="noise band, run speed taken out" if decision.by_relative else "noise band",
    )
