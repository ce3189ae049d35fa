"""The verdict: validity, budgets and regression, each a list of named checks, all reported
every time (never first-fail). Pure: results and baselines in, a Verdict out.

>>> verdict = judge(result, budgets, baseline=None)
>>> verdict.status, verdict.exit_code
('pass', 0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from loadgate import stats
from loadgate.baselines import Baseline
from loadgate.budgets import Budget
from loadgate.durations import format_ms
from loadgate.results import EndpointResult, ProcessSamples, RunResult

CheckStatus = Literal["pass", "warn", "fail", "invalid"]
Kind = Literal["validity", "budget", "regression"]

GENERATOR_CPU_LIMIT = 90.0
SATURATED_STRETCH_S = 10.0
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
    # a metric whose baseline noise hides any change smaller than this is reported, not gated
    max_detectable: float = 0.50

    def effect_for(self, endpoint: str) -> float:
        return self.min_effects.get(endpoint, self.min_effect)

    @classmethod
    def from_profile(cls, profile: Mapping[str, Any], force_compare: bool = False) -> GatePolicy:
        """The policy stored with a result (its profile), so a stored result is judged alike."""
        quantiles = profile.get("quantiles") or DEFAULT_GATED_QUANTILES
        return cls(
            min_effect=float(profile.get("min_effect", 0.10)),
            min_effects={str(k): float(v) for k, v in (profile.get("min_effects") or {}).items()},
            alpha=float(profile.get("alpha", 0.01)),
            quantiles=tuple(float(q) for q in quantiles),
            force_compare=force_compare,
        )


@dataclass(frozen=True)
class Check:
    """One named check with its numbers and a plain sentence saying what it found."""

    kind: Kind
    name: str
    status: CheckStatus
    message: str
    endpoint: str | None = None
    observed: float | None = None
    limit: float | None = None
    interval: tuple[float, float] | None = None
    outcome: str | None = None  # regression checks: pass / regression / improvement / inconclusive


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
        *validity_checks(result, budgets),
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
        return f"All {total} checks passed{extra}."
    head = reasons[0].rstrip(".")
    more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
    return f"{head}{more}."


# --- validity -------------------------------------------------------------------------------
def validity_checks(result: RunResult, budgets: Sequence[Budget]) -> list[Check]:
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
    # every generator process counts (--processes N: the master and each worker)
    gens = [p for p in result.processes if p.role.startswith("generator") and p.cpu_percent]
    gen = max(gens, key=lambda p: p.cpu_mean, default=None)
    if gen is not None:
        cpu = gen.cpu_mean
        ok = cpu < GENERATOR_CPU_LIMIT
        who = "The load generator" if len(gens) == 1 else f"The busiest generator ({gen.role})"
        out.append(
            Check(
                "validity",
                "generator not saturated",
                "pass" if ok else "invalid",
                f"{who} used {cpu:.0f}% of a core on average"
                + ("." if ok else f", above {GENERATOR_CPU_LIMIT:.0f}%: it was the bottleneck."),
                observed=cpu,
                limit=GENERATOR_CPU_LIMIT,
            )
        )
        out += _saturated_stretches(result, gens)
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


def saturated_stretch(
    samples: ProcessSamples, start: float, end: float, limit: float = GENERATOR_CPU_LIMIT
) -> tuple[float, float]:
    """The longest run of consecutive samples at or above ``limit`` within [start, end]:
    (its start offset, its length in seconds); (0, 0) when there is none."""
    best = (0.0, 0.0)
    first: float | None = None
    last = 0.0
    for t, cpu in zip(samples.t, samples.cpu_percent, strict=False):
        if not start <= t <= end:
            continue
        if cpu >= limit:
            first = t if first is None else first
            last = t
            length = last - first + 1.0  # a sample covers the second before it
            if length > best[1]:
                best = (first, length)
        else:
            first = None
    return best


def _saturated_stretches(result: RunResult, gens: list[ProcessSamples]) -> list[Check]:
    """A generator pinned at 100% for a while makes those seconds' latencies its own queueing,
    even when its average over the window looks fine (a spawn burst, a goal rush)."""
    start, end = result.warmup_s, result.warmup_s + result.window_s
    worst = max(
        ((g, *saturated_stretch(g, start, end)) for g in gens), key=lambda x: x[2], default=None
    )
    if worst is None:
        return []
    gen, at, length = worst
    ok = length < SATURATED_STRETCH_S
    msg = (
        f"The load generator never stayed at {GENERATOR_CPU_LIMIT:.0f}% of a core for "
        f"{SATURATED_STRETCH_S:.0f} s in the window."
        if ok
        else f"The load generator ({gen.role}) was saturated (≥ {GENERATOR_CPU_LIMIT:.0f}% of a "
        f"core) for {length:.0f} s from {at:.0f} s into the run: latencies then include its own "
        "queueing, not only the SUT's."
    )
    return [
        Check(
            "validity",
            "generator never saturated for long",
            "pass" if ok else "invalid",
            msg,
            observed=length,
            limit=SATURATED_STRETCH_S,
        )
    ]


def _arrival_checks(result: RunResult) -> list[Check]:
    """Open model: the arrivals asked for were offered (few found no free user)."""
    a = result.arrivals
    if a is None:
        return []
    ok = a.intended > 0 and a.dropped_fraction <= 1 - USERS_REACHED_FRACTION
    return [
        Check(
            "validity",
            "arrival rate delivered",
            "pass" if ok else "invalid",
            f"{a.dropped} of {a.intended} arrivals at {a.rate:g}/s found no free user "
            f"({a.dropped_fraction * 100:.1f}% dropped"
            + (")." if ok else f", above {(1 - USERS_REACHED_FRACTION) * 100:.0f}%)."),
            observed=a.dropped_fraction,
            limit=1 - USERS_REACHED_FRACTION,
        )
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
def gated_metrics(
    result: RunResult, budgets: Sequence[Budget], quantiles: Sequence[float]
) -> list[tuple[str, float]]:
    """(endpoint, quantile) pairs compared with the baseline: every budgeted quantile, plus the
    policy's quantiles of every endpoint with enough samples for an interval."""
    pairs: set[tuple[str, float]] = set()
    for b in budgets:
        if b.quantile is None:
            continue
        for name in sorted(result.endpoints) if b.endpoint == "*" else [b.endpoint]:
            if name in result.endpoints:
                pairs.add((name, b.quantile))
    for name, ep in result.endpoints.items():
        for q in quantiles:
            if ep.histogram.count >= stats.min_samples_for_interval(q):
                pairs.add((name, q))
    return sorted(pairs)


def regression_checks(
    result: RunResult,
    baseline: Baseline,
    budgets: Sequence[Budget],
    policy: GatePolicy,
) -> list[Check]:
    """Per endpoint and gated quantile: a regression is material AND significant against the
    baseline's run-to-run spread; Holm's correction keeps the family-wise alarm rate at alpha."""
    metrics = gated_metrics(result, budgets, policy.quantiles)
    advisory = not policy.force_compare and not baseline.comparable_with(result.environment)
    compared: list[tuple[str, float, float, stats.BaselineComparison]] = []
    out: list[Check] = []
    for name, q in metrics:
        current = result.endpoints[name].histogram
        interval = current.quantile_interval(q, policy.confidence)
        values = baseline.values(name, q)
        if not values or interval is None:
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
        y = current.quantile(q) / 1000
        effect = policy.effect_for(name)
        detectable = stats.detectable_change(values, policy.alpha)
        if detectable is not None and detectable > policy.max_detectable:
            out.append(_too_noisy(name, q, y, detectable, len(values)))
            continue
        if len(values) >= 2:
            cmp = stats.compare_to_baseline(values, y, alpha=policy.alpha, min_effect=effect)
        else:
            base_iv = baseline.interval(name, q) or (values[0], values[0])
            ours = (interval[0] / 1000, interval[1] / 1000)
            cmp = stats.compare_single(values[0], base_iv, y, ours, min_effect=effect)
        compared.append((name, q, y, cmp))
    significant = _holm_significant([c for *_, c in compared], policy.alpha)
    for (name, q, y, cmp), is_significant in zip(compared, significant, strict=True):
        outcome = corrected_outcome(cmp.outcome, is_significant)
        out.append(_regression_check(name, q, y, cmp, outcome, baseline, advisory))
    return out


def _too_noisy(name: str, q: float, y: float, detectable: float, runs: int) -> Check:
    metric = f"p{q * 100:g}"
    return Check(
        "regression",
        f"{name} {metric} vs baseline",
        "pass",
        f"{name} {metric} is {format_ms(y)}; not gated: across the {runs} baseline runs it "
        f"varies so much that only a change above +{detectable:.0%} would stand out. "
        "Make the runs longer or the load steadier to gate it.",
        endpoint=name,
        observed=y,
        outcome="not gated",
    )


def _holm_significant(comparisons: Sequence[stats.BaselineComparison], alpha: float) -> list[bool]:
    """Holm across the gated metrics; comparisons without a p-value keep their own outcome."""
    p_values = [c.p_value for c in comparisons]
    tested = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    rejected = stats.holm([p_values[i] for i in tested], alpha) if tested else []
    out = [c.outcome in ("regression", "improvement") for c in comparisons]
    for i, flag in zip(tested, rejected, strict=True):
        out[i] = flag
    return out


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
    cmp: stats.BaselineComparison,
    outcome: str,
    baseline: Baseline,
    advisory: bool,
) -> Check:
    metric = f"p{q * 100:g}"
    values = baseline.values(name, q)
    msg = f"{name} {metric} is {format_ms(y)} against the {baseline.label}: {outcome}. {cmp.detail}"
    status = status_of(outcome)
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
    )
