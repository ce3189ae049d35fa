"""The verdict: validity, budgets and regression, each a list of named checks, all reported
every time (never first-fail). Pure: results and baselines in, a Verdict out.

For example::

    verdict = judge(result, budgets, baseline=None)
    verdict.status, verdict.exit_code  # ('pass', 0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from loadgate import stats
from loadgate.attribution import generator_checks, judged_quantiles
from loadgate.baselines import Baseline
from loadgate.budgets import Budget
from loadgate.checks import Check, CheckStatus, Kind
from loadgate.durations import format_ms
from loadgate.results import EndpointResult, RunResult

ARRIVAL_RATE_TOLERANCE = 0.02  # of the arrivals due in the window
USERS_REACHED_FRACTION = 0.95
# The median catches a shift of the whole distribution (the common regression) with a
# fraction of the tails' run-to-run noise; P95 and P99 catch what happens only in the tail.
DEFAULT_GATED_QUANTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class GatePolicy:
    """How strict the regression gate is: the material effect (default and per endpoint), the
    significance level, the gated quantiles, and whether other machines' baselines count."""

    min_effect: float = 0.10
    min_effects: Mapping[str, float] = field(default_factory=dict)
    alpha: float = 0.01
    confidence: float = 0.95
    quantiles: tuple[float, ...] = DEFAULT_GATED_QUANTILES
    force_compare: bool = False
    # a material rise inside a baseline's noise band this wide is said, not flagged (warn)
    max_detectable: float = 0.50
    # the share of alpha the critical journeys (endpoints with a latency budget) hold
    critical_share: float = 0.8

    def effect_for(self, endpoint: str) -> float:
        return self.min_effects.get(endpoint, self.min_effect)

    @classmethod
    def from_profile(cls, profile: Mapping[str, Any], force_compare: bool = False) -> GatePolicy:
        """The policy of a profile (``dataclasses.asdict`` of one, or a result's record)."""
        quantiles = profile.get("quantiles") or DEFAULT_GATED_QUANTILES
        return cls(
            min_effect=float(profile.get("min_effect", 0.10)),
            min_effects={str(k): float(v) for k, v in (profile.get("min_effects") or {}).items()},
            alpha=float(profile.get("alpha", 0.01)),
            confidence=float(profile.get("confidence", 0.95)),
            quantiles=tuple(float(q) for q in quantiles),
            force_compare=force_compare,
            max_detectable=float(profile.get("max_detectable", 0.50)),
            critical_share=float(profile.get("critical_share", 0.8)),
        )

    def to_dict(self) -> dict[str, Any]:
        """What a result records it was judged with (``from_profile`` reads it back)."""
        return {
            "min_effect": self.min_effect,
            "min_effects": dict(self.min_effects),
            "alpha": self.alpha,
            "confidence": self.confidence,
            "quantiles": list(self.quantiles),
            "max_detectable": self.max_detectable,
            "critical_share": self.critical_share,
        }

    def differences(self, other: GatePolicy) -> list[str]:
        """``alpha 0.05 (now 0.01)``-style notes where ``other`` (the earlier) differs."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [f"{k} {theirs[k]} (now {v})" for k, v in mine.items() if theirs[k] != v]


@dataclass(frozen=True)
class Verdict:
    """PASS, FAIL or INVALID with every check behind it and a one-sentence reason."""

    status: Literal["pass", "fail", "invalid"]
    headline: str
    checks: tuple[Check, ...]
    baseline: str | None = None
    settings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return {"pass": 0, "fail": 1, "invalid": 4}[self.status]

    def of_kind(self, kind: Kind) -> list[Check]:
        return [c for c in self.checks if c.kind == kind]


def judge(
    result: RunResult,
    budgets: Sequence[Budget],
    baseline: Baseline | None = None,
    policy: GatePolicy | None = None,
) -> Verdict:
    """Judge one run against its budgets and, if given, a stored baseline."""
    policy = policy or GatePolicy()
    checks = [
        *validity_checks(result, budgets, policy.quantiles),
        *budget_checks(result, budgets, policy.confidence),
    ]
    label = None
    if baseline is not None and baseline.runs:
        label = baseline.label
        checks += regression_checks(result, baseline, budgets, policy)
    status: Literal["pass", "fail", "invalid"]
    if any(c.status == "invalid" for c in checks):
        status = "invalid"
    elif any(c.status == "fail" for c in checks):
        status = "fail"
    else:
        status = "pass"
    return Verdict(
        status=status,
        headline=_headline(status, checks),
        checks=tuple(checks),
        baseline=label,
        settings={
            "min_effect": policy.min_effect,
            "alpha": policy.alpha,
            "confidence": policy.confidence,
        },
    )


def _headline(status: str, checks: Sequence[Check]) -> str:
    wanted = {"invalid": "invalid", "fail": "fail", "pass": "warn"}[status]
    reasons = [c.message for c in checks if c.status == wanted]
    if status == "pass":
        total = len(checks)
        extra = f"; {len(reasons)} warning(s): {reasons[0].rstrip('.')}" if reasons else ""
        if not any(c.kind == "regression" for c in checks):
            return (
                f"All {total} checks passed{extra}: the budgets held; no regression was "
                "checked (no baseline to compare with)."
            )
        return f"All {total} checks passed{extra}."
    head = reasons[0].rstrip(".")
    more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
    return f"{head}{more}."


# --- validity -------------------------------------------------------------------------------
def validity_checks(
    result: RunResult,
    budgets: Sequence[Budget],
    quantiles: Sequence[float] = DEFAULT_GATED_QUANTILES,
) -> list[Check]:
    """Was the load delivered, the generator healthy, the SUT sound, with samples enough?"""
    out: list[Check] = []
    if result.status == "complete":
        out.append(Check("validity", "run completed", "pass", "The run completed as planned."))
    else:
        why = "; ".join(result.notes) or "stopped early"
        out.append(
            Check("validity", "run completed", "invalid", f"The run did not complete: {why}.")
        )
    needed = math.ceil(result.users_target * USERS_REACHED_FRACTION)
    ok = result.users_reached >= needed
    out.append(
        Check(
            "validity",
            "load delivered",
            "pass" if ok else "invalid",
            f"{result.users_reached} of {result.users_target} users were reached"
            + ("." if ok else f", short of the {needed} needed."),
            observed=result.users_reached,
            limit=needed,
        )
    )
    out += _arrival_checks(result)
    out += generator_checks(result, budgets, quantiles)
    if result.audit is not None:
        ok = bool(result.audit.get("ok"))
        broken = [c.get("name", "?") for c in result.audit.get("checks", []) if not c.get("ok")]
        out.append(
            Check(
                "validity",
                "SUT invariants",
                "pass" if ok else "invalid",
                "The SUT's audit held after the run."
                if ok
                else f"The SUT's audit failed after the run: {', '.join(broken) or 'not ok'}.",
            )
        )
    out += _sample_checks(result, budgets)
    return out


def _arrival_checks(result: RunResult) -> list[Check]:
    """Open model: the generators together intended the rate asked for (not a share of it, not
    a multiple), and few arrivals were given up for want of a free user."""
    a = result.arrivals
    if a is None:
        return []
    expected = a.rate * result.window_s
    # the schedule is exact (k / rate from each generator's start): a count off by more than a
    # few arrivals per generator means the rate was split or multiplied wrongly
    slack = max(2.0 * max(1, len(result.generators)), ARRIVAL_RATE_TOLERANCE * expected)
    on_rate = a.intended > 0 and abs(a.intended - expected) <= slack
    intended_rate = a.intended / result.window_s if result.window_s > 0 else 0.0
    ok = a.intended > 0 and a.dropped_fraction <= 1 - USERS_REACHED_FRACTION
    return [
        Check(
            "validity",
            "arrival rate intended",
            "pass" if on_rate else "invalid",
            f"The generators intended {a.intended} arrivals in the {result.window_s:.0f} s "
            f"window, {intended_rate:.4g}/s, for {a.rate:g}/s asked"
            + ("." if on_rate else f": {expected:.0f} were due; the rate was not what was asked."),
            observed=intended_rate,
            limit=a.rate,
        ),
        Check(
            "validity",
            "arrival rate delivered",
            "pass" if ok else "invalid",
            f"{a.dropped} of {a.intended} arrivals at {a.rate:g}/s were given up after waiting "
            f"a second's backlog for a free user ({a.dropped_fraction * 100:.1f}% dropped"
            + (")." if ok else f", above {(1 - USERS_REACHED_FRACTION) * 100:.0f}%)."),
            observed=a.dropped_fraction,
            limit=1 - USERS_REACHED_FRACTION,
        ),
    ]


def _sample_checks(result: RunResult, budgets: Sequence[Budget]) -> list[Check]:
    out: list[Check] = []
    for b in budgets:
        if b.endpoint == "*" or b.quantile is None:
            continue
        ep = result.endpoints.get(b.endpoint)
        needed = stats.min_samples_for_interval(b.quantile)
        have = ep.histogram.count if ep else 0
        name = f"{b.endpoint} samples for {b.metric}"
        if have >= needed and ep is not None:
            out.append(
                Check(
                    "validity",
                    name,
                    "pass",
                    f"{b.endpoint} has {have} samples, enough for a {b.metric} interval"
                    f"{_width(ep, b.quantile)}.",
                    endpoint=b.endpoint,
                    observed=have,
                    limit=needed,
                )
            )
        else:
            what = f"only {have} samples" if ep else "no requests recorded"
            out.append(
                Check(
                    "validity",
                    name,
                    "invalid",
                    f"{b.endpoint} has {what}; its {b.metric} budget needs at least {needed}.",
                    endpoint=b.endpoint,
                    observed=have,
                    limit=needed,
                )
            )
    return out


def _width(ep: EndpointResult, q: float) -> str:
    """How wide the quantile's 95% interval is, relative to the estimate: ' (-4%/+6%)'."""
    interval = ep.histogram.quantile_interval(q)
    point = ep.histogram.quantile(q)
    if interval is None or point <= 0:
        return ""
    return f" (95% CI {interval[0] / point - 1:+.0%}/{interval[1] / point - 1:+.0%})"


# --- budgets --------------------------------------------------------------------------------
def budget_checks(
    result: RunResult, budgets: Sequence[Budget], confidence: float = 0.95
) -> list[Check]:
    """Fail when the interval lies above the ceiling; warn when only the point estimate does."""
    out: list[Check] = []
    # an endpoint's own budget for a metric replaces the wildcard's for that metric
    explicit = {(b.endpoint, b.metric) for b in budgets if b.endpoint != "*"}
    for b in budgets:
        if b.endpoint == "*":
            names = [n for n in sorted(result.endpoints) if (n, b.metric) not in explicit]
        else:
            names = [b.endpoint]
        for name in names:
            ep = result.endpoints.get(name)
            if ep is None:
                continue  # reported by the validity checks
            check = (
                _error_budget(name, ep, b, confidence)
                if b.quantile is None
                else _latency_budget(name, ep, b, confidence)
            )
            if check is not None:
                out.append(check)
    return out


def _latency_budget(name: str, ep: EndpointResult, b: Budget, confidence: float) -> Check | None:
    assert b.quantile is not None
    label = f"{name} {b.text}"
    # open model: judge latency from the intended start (coordinated omission corrected)
    hist = ep.gated
    metric = f"{b.metric} (from intended start)" if ep.corrected is not None else b.metric
    interval = hist.quantile_interval(b.quantile, confidence)
    if interval is None:
        if b.endpoint == "*":
            return None  # a wildcard budget does not judge endpoints too rare to judge
        return None  # explicit budgets: the validity check already made the run invalid
    point = hist.quantile(b.quantile) / 1000
    low, high = interval[0] / 1000, interval[1] / 1000
    ci = f"{format_ms(point)} (95% CI {format_ms(low)}–{format_ms(high)})"
    if low > b.limit:
        status: CheckStatus = "fail"
        msg = f"{name} {metric} is {ci}, above its {format_ms(b.limit)} budget."
    elif point > b.limit:
        status = "warn"
        msg = (
            f"{name} {metric} is {ci}: the estimate is above its {format_ms(b.limit)} "
            "budget but the interval overlaps it."
        )
    else:
        status = "pass"
        headroom = (1 - point / b.limit) * 100
        msg = (
            f"{name} {metric} is {ci}, within its {format_ms(b.limit)} budget "
            f"({headroom:.0f}% headroom)."
        )
    return Check("budget", label, status, msg, name, point, b.limit, (low, high))


def _error_budget(name: str, ep: EndpointResult, b: Budget, confidence: float) -> Check | None:
    if ep.requests == 0:
        return None
    rate = ep.error_rate
    low, high = stats.wilson_interval(ep.failures, ep.requests, confidence)
    text = f"{rate * 100:.2f}% ({ep.failures} of {ep.requests})"
    if low > b.limit:
        status: CheckStatus = "fail"
        msg = f"{name} error rate is {text}, above its {b.limit * 100:g}% budget."
    elif rate > b.limit:
        status = "warn"
        msg = f"{name} error rate is {text}: above its {b.limit * 100:g}% budget, but within noise."
    else:
        status = "pass"
        msg = f"{name} error rate is {text}, within its {b.limit * 100:g}% budget."
    return Check("budget", f"{name} {b.text}", status, msg, name, rate, b.limit, (low, high))


# --- regression -----------------------------------------------------------------------------
def regression_checks(
    result: RunResult,
    baseline: Baseline,
    budgets: Sequence[Budget],
    policy: GatePolicy,
) -> list[Check]:
    """Per endpoint and gated quantile: a regression is material AND significant against the
    baseline's run-to-run spread, with the family-wise alarm rate held at alpha by Holm's
    weighted procedure (:func:`family_outcomes`).

    Which metrics are gated depends only on the baseline's size and the samples a metric has,
    never on the spread the test then uses: choosing the quiet metrics by their measured
    spread would gate exactly those whose spread came out small by chance, and their alarm
    rate would exceed alpha. With fewer than :data:`MIN_BASELINE_RUNS` blessed runs the
    run-to-run noise is unknown and nothing is gated; the check says so."""
    metrics = judged_quantiles(result, budgets, policy.quantiles)
    advisory = not policy.force_compare and not baseline.comparable_with(result.environment)
    critical = critical_endpoints(budgets)
    compared: list[tuple[str, float, float, list[float]]] = []
    out: list[Check] = []
    for name, q in metrics:
        current = result.endpoints[name].gated  # corrected in the open model
        values = baseline.values(name, q)
        if not values or current.quantile_interval(q, policy.confidence) is None:
            out.append(
                Check(
                    "regression",
                    f"{name} p{q * 100:g} vs baseline",
                    "pass",
                    f"{name} p{q * 100:g}: not in the baseline; not compared.",
                    endpoint=name,
                    outcome="inconclusive",
                )
            )
            continue
        compared.append((name, q, current.quantile(q) / 1000, values))
    decisions = gate_family(
        [values for *_, values in compared],
        [y for _, _, y, _ in compared],
        [name in critical for name, *_ in compared],
        [policy.effect_for(name) for name, *_ in compared],
        policy,
    )
    gated = sum(1 for d in decisions if d.comparison is not None)
    for (name, q, y, values), decision in zip(compared, decisions, strict=True):
        cmp = decision.comparison
        if cmp is None:
            out.append(_too_young(name, q, y, values))
            continue
        detail = _corrected_detail(cmp, decision.outcome, decision.level, len(values), gated)
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
                name, q, y, values, cmp, decision.outcome, status, detail, baseline.label, advisory
            )
        )
    return out


@dataclass(frozen=True)
class Decision:
    """One metric's decision in the gated family: its outcome, the p-value level it was held
    to (NaN when untested) and its comparison (None when it was not gated)."""

    outcome: str
    level: float
    comparison: stats.BaselineComparison | None


def gate_family(
    baselines: Sequence[Sequence[float]],
    current: Sequence[float],
    critical: Sequence[bool],
    effects: Sequence[float],
    policy: GatePolicy,
) -> list[Decision]:
    """The stored-baseline decision for a family of metrics, each given as its blessed runs'
    values and the new run's value: metrics with fewer than :data:`MIN_BASELINE_RUNS`
    values are not gated; the others are tested (:func:`stats.compare_to_baseline`) and
    corrected together (:func:`family_outcomes`). Pure, so its error rates can be simulated.

    >>> [d.outcome for d in gate_family([[10.0], [10.0, 10.4, 9.7]], [30.0, 10.1],
    ...                                 [True, True], [0.1, 0.1], GatePolicy())]
    ['not gated', 'pass']
    """
    lists = (baselines, current, critical, effects)
    if len({len(x) for x in lists}) != 1:
        raise ValueError("one baseline, value, critical flag and effect per metric")
    tested = [i for i, values in enumerate(baselines) if len(values) >= MIN_BASELINE_RUNS]
    comparisons = [
        stats.compare_to_baseline(
            baselines[i], current[i], alpha=policy.alpha, min_effect=effects[i]
        )
        for i in tested
    ]
    decided = family_outcomes(
        comparisons, [critical[i] for i in tested], policy.alpha, policy.critical_share
    )
    out = [Decision("not gated", math.nan, None)] * len(baselines)
    for i, cmp, (outcome, level) in zip(tested, comparisons, decided, strict=True):
        out[i] = Decision(outcome, level, cmp)
    return out


# Fewer blessed runs than this say nothing about the run-to-run noise: reported, never failed.
MIN_BASELINE_RUNS = 2


def critical_endpoints(budgets: Sequence[Budget]) -> set[str]:
    """The critical journeys: endpoints named in a latency budget (not through ``*``)."""
    return {b.endpoint for b in budgets if b.endpoint != "*" and b.quantile is not None}


def family_outcomes(
    comparisons: Sequence[stats.BaselineComparison],
    critical: Sequence[bool],
    alpha: float,
    critical_share: float,
) -> list[tuple[str, float]]:
    """Each comparison's outcome after the correction for the family of gated metrics, with the
    p-value level it was held to.

    Holm's weighted step-down procedure keeps the chance of any false alarm in the family at
    most ``alpha``, whatever the dependence between metrics. The critical metrics share
    ``critical_share`` of the weight (so of alpha) and the rest share the remainder; when
    all or none are critical every metric weighs the same (plain Holm). A comparison
    without a p-value keeps its own outcome.

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
    n_critical = sum(critical)
    if 0 < n_critical < n:
        rest = (1.0 - critical_share) / (n - n_critical)
        weights = [critical_share / n_critical if c else rest for c in critical]
    else:
        weights = [1.0 / n] * n
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


def _too_young(name: str, q: float, y: float, values: Sequence[float]) -> Check:
    metric = f"p{q * 100:g}"
    ratio = y / values[0]
    runs = f"{len(values)} baseline run{'s' if len(values) != 1 else ''}"
    return Check(
        "regression",
        f"{name} {metric} vs baseline",
        "pass",
        f"{name} {metric} is {format_ms(y)}, {stats.pct(ratio)} against {runs}; not gated: "
        f"with fewer than {MIN_BASELINE_RUNS} runs the run-to-run noise is unknown, and a "
        "difference between two runs of the same code is often larger than a regression. "
        "Bless more runs of the main branch to gate it.",
        endpoint=name,
        observed=y,
        limit=values[0],
        outcome="not gated",
    )


def _corrected_detail(
    cmp: stats.BaselineComparison, outcome: str, level: float, runs: int, family: int
) -> str:
    """The comparison's sentence, made to agree with the outcome after the correction."""
    if cmp.outcome not in ("regression", "improvement") or math.isnan(level):
        return cmp.detail
    band = f"the run-to-run noise band of {stats.pct(cmp.ratio_low)} to {stats.pct(cmp.ratio_high)}"
    where = f"The value is {stats.pct(cmp.ratio)} against the mean of {runs} baseline runs"
    among = f"among the {family} gated metrics" if family > 1 else "for this metric"
    kind = "a regression" if cmp.outcome == "regression" else "an improvement"
    if outcome == cmp.outcome:
        needed = f"{among} p ≤ {level:.2g} needed"
        return f"{where}, outside {band} (p = {cmp.p_value:.2g}, {needed}): {kind}."
    return (
        f"{where}, outside {band} (p = {cmp.p_value:.2g}), but {among} it needed "
        f"p ≤ {level:.2g} (Holm's correction): too noisy to call it {kind}."
    )


def corrected_outcome(outcome: str, significant: bool) -> str:
    """An outcome after the correction for the number of gated metrics: a regression that is
    no longer significant is a material rise the noise cannot confirm (inconclusive); an
    improvement that is not, a pass."""
    if outcome not in ("regression", "improvement") or significant:
        return outcome
    return "inconclusive" if outcome == "regression" else "pass"


def status_of(outcome: str) -> CheckStatus:
    """How a comparison's outcome weighs in the verdict."""
    return "fail" if outcome == "regression" else "warn" if outcome == "inconclusive" else "pass"


def _regression_check(
    name: str,
    q: float,
    y: float,
    values: Sequence[float],
    cmp: stats.BaselineComparison,
    outcome: str,
    status: CheckStatus,
    detail: str,
    label: str,
    advisory: bool,
) -> Check:
    metric = f"p{q * 100:g}"
    msg = f"{name} {metric} is {format_ms(y)} against the {label}: {outcome}. {detail}"
    if advisory and status == "fail":
        status = "warn"
        msg += " Advisory only: the baseline was measured on a different machine."
    return Check(
        "regression",
        f"{name} {metric} vs baseline",
        status,
        msg,
        endpoint=name,
        observed=y,
        limit=math.exp(sum(math.log(v) for v in values) / len(values)),
        interval=(cmp.ratio_low, cmp.ratio_high),
        outcome=outcome,
        # the bounds the decision used: where a value from the baseline's own runs falls
        interval_label="noise band",
    )
