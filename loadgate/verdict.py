"""The verdict: validity, budgets and regression, each a list of named checks, all reported
every time (never first-fail). Pure: results and baselines in, a Verdict out.

For example::

    verdict = judge(result, budgets, baseline=None)
    verdict.status, verdict.exit_code  # ('pass', 0)
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from loadgate import stats
from loadgate.attribution import delays_to_test, generator_checks, judged_quantiles
from loadgate.baselines import Baseline, BaselineRun
from loadgate.budgets import Budget, expand
from loadgate.capacity import knee_check
from loadgate.checks import Check, CheckStatus, Kind, quantile_metric
from loadgate.durations import format_ms
from loadgate.policy import DEFAULT_GATED_QUANTILES, GatePolicy
from loadgate.results import EndpointResult, RunResult

ARRIVAL_RATE_TOLERANCE = 0.02  # of the arrivals due in the window
USERS_REACHED_FRACTION = 0.95
# how a verdict was reached: one run judged (budgets, a stored baseline), two stored results or
# baselines compared, or paired A/B runs of two revisions
Way = Literal["run", "compare", "paired"]


@dataclass(frozen=True)
class Verdict:
    """PASS, FAIL or INVALID with every check behind it and a one-sentence reason.

    Made with :meth:`of`, which decides the status and writes the headline from the checks'
    fields, the same way for every way of reaching a verdict.
    """

    status: Literal["pass", "fail", "invalid"]
    headline: str
    checks: tuple[Check, ...]
    baseline: str | None = None
    settings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        checks: Sequence[Check],
        way: Way = "run",
        baseline: str | None = None,
        settings: Mapping[str, float] | None = None,
        pairs: int = 0,
    ) -> Verdict:
        """The verdict of ``checks``: INVALID if any is invalid, else FAIL if any failed, else
        PASS. ``pairs``: how many pairs a paired A/B ran, for its headline.

        >>> ok = Check("validity", "run completed", "pass", "The run completed as planned.")
        >>> Verdict.of([ok]).headline.split(":")[0]
        'All 1 checks passed'
        """
        status: Literal["pass", "fail", "invalid"]
        if any(c.status == "invalid" for c in checks):
            status = "invalid"
        elif any(c.status == "fail" for c in checks):
            status = "fail"
        else:
            status = "pass"
        return cls(
            status=status,
            headline=write_headline(status, checks, way, pairs),
            checks=tuple(checks),
            baseline=baseline,
            settings=dict(settings or {}),
        )

    @property
    def exit_code(self) -> int:
        return {"pass": 0, "fail": 1, "invalid": 4}[self.status]

    def of_kind(self, kind: Kind) -> list[Check]:
        return [c for c in self.checks if c.kind == kind]


def write_headline(status: str, checks: Sequence[Check], way: Way = "run", pairs: int = 0) -> str:
    """One sentence for the verdict, written from the checks' fields: the first invalid or
    failing check (a regression as its value and change against what it was compared with),
    or what passed."""
    if status in ("invalid", "fail"):
        found = [c for c in checks if c.status == status]
        first = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        if status == "fail" and first.mode == "paired" and first.ratio is not None:
            return (
                f"{first.endpoint} {first.metric} is {first.ratio:.2f}× {first.against} in "
                f"paired runs{more}."
            )
        if status == "fail" and first.mode == "baseline":
            if first.value is None or first.ratio is None:
                return f"{first.endpoint} {first.metric}: a regression{more}."
            return (
                f"{first.endpoint} {first.metric} is {format_ms(first.value)}, "
                f"{stats.pct(first.ratio)} against {first.against}: a regression{more}."
            )
        return f"{first.message.rstrip('.')}{more}."
    if way == "compare":
        return f"No regression in {len(checks)} compared metrics."
    warnings = [c.message for c in checks if c.status == "warn"]
    if way == "paired":
        regs = [c for c in checks if c.mode == "paired"]
        unsure = sum(1 for c in regs if c.outcome == "inconclusive")
        noisy = sum(1 for c in regs if c.outcome == "not gated")
        against = regs[0].against if regs else "the base revision"
        return (
            f"No regression against {against} in {len(regs) - noisy} gated metrics (paired A/B)"
            + (f"; {unsure} inconclusive after {pairs} pairs" if unsure else "")
            + (f"; {noisy} too noisy to gate" if noisy else "")
            + "."
        )
    extra = f"; {len(warnings)} warning(s): {warnings[0].rstrip('.')}" if warnings else ""
    if not any(c.kind == "regression" for c in checks):
        return (
            f"All {len(checks)} checks passed{extra}: the budgets held; no regression was "
            "checked (no baseline to compare with)."
        )
    return f"All {len(checks)} checks passed{extra}."


def judge(
    result: RunResult,
    budgets: Sequence[Budget],
    baseline: Baseline | None = None,
    policy: GatePolicy | None = None,
) -> Verdict:
    """Judge one run against its budgets and, if given, a stored baseline."""
    policy = policy or GatePolicy()
    compared = baseline if baseline is not None and baseline.runs else None
    decisions = budget_checks(result, budgets, policy.confidence)
    if compared is not None:
        decisions += regression_checks(result, compared, budgets, policy)
    # a late generator makes the run invalid only when a decision rests on its delay
    changed, flips = None, True
    delays = delays_to_test(result, budgets, policy.quantiles)
    if delays is not None:
        again = budget_checks(result, budgets, policy.confidence, less=delays)
        if compared is not None:
            again += regression_checks(result, compared, budgets, policy, less=delays)
        changed = changed_decisions(decisions, again)
        flips = any(c.status == "fail" for c in decisions) != any(c.status == "fail" for c in again)
    knee = knee_check(result, budgets)
    checks = [
        *validity_checks(result, budgets, policy.quantiles, changed, flips),
        *decisions,
        *([knee] if knee is not None else []),
    ]
    return Verdict.of(
        checks,
        baseline=compared.label if compared is not None else None,
        settings={
            "min_effect": policy.min_effect,
            "alpha": policy.alpha,
            "confidence": policy.confidence,
        },
    )


def changed_decisions(before: Sequence[Check], after: Sequence[Check]) -> list[str]:
    """The checks whose failing changes between two judgements of the same run, each said as
    what it would be ("POST /bets p99 vs baseline would pass").

    >>> a = Check("budget", "X p99 < 5ms", "fail", "")
    >>> changed_decisions([a], [Check("budget", "X p99 < 5ms", "pass", "")])
    ['X p99 < 5ms would pass']
    """
    out = []
    for b, a in zip(before, after, strict=True):
        if (b.status == "fail") != (a.status == "fail"):
            out.append(f"{b.name} would {'fail' if a.status == 'fail' else 'pass'}")
    return out


# --- validity -------------------------------------------------------------------------------
def validity_checks(
    result: RunResult,
    budgets: Sequence[Budget],
    quantiles: Sequence[float] = DEFAULT_GATED_QUANTILES,
    changed: Sequence[str] | None = None,
    verdict_changes: bool = True,
) -> list[Check]:
    """Was the load delivered, the generator healthy, the SUT sound, with samples enough?
    ``changed``, ``verdict_changes``: what changes without the generator's delay (``judge``)."""
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
            value=result.users_reached,
            threshold=needed,
        )
    )
    out += _arrival_checks(result)
    out += generator_checks(result, budgets, quantiles, changed, verdict_changes)
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
            value=intended_rate,
            threshold=a.rate,
        ),
        Check(
            "validity",
            "arrival rate delivered",
            "pass" if ok else "invalid",
            f"{a.dropped} of {a.intended} arrivals at {a.rate:g}/s were given up after waiting "
            f"a second's backlog for a free user ({a.dropped_fraction * 100:.1f}% dropped"
            + (")." if ok else f", above {(1 - USERS_REACHED_FRACTION) * 100:.0f}%)."),
            value=a.dropped_fraction,
            threshold=1 - USERS_REACHED_FRACTION,
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
        status: CheckStatus = "pass"
        if ep is not None and have >= needed:
            said = (
                f"{b.endpoint} has {have} samples, enough for a {b.metric} interval"
                f"{_width(ep, b.quantile)}."
            )
        else:
            what = f"only {have} samples" if ep else "no requests recorded"
            status = "invalid"
            said = f"{b.endpoint} has {what}; its {b.metric} budget needs at least {needed}."
        check = Check(
            "validity", name, status, said, endpoint=b.endpoint,
            metric=b.metric, quantile=b.quantile, value=have, threshold=needed,
        )  # fmt: skip
        out.append(check)
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
    result: RunResult,
    budgets: Sequence[Budget],
    confidence: float = 0.95,
    less: Mapping[tuple[str, float], float] | None = None,
) -> list[Check]:
    """Fail when the interval lies above the ceiling; warn when only the point estimate does.
    ``less``: ms to take out of each (endpoint, quantile)'s value and interval."""
    out: list[Check] = []
    for name, b in expand(budgets, result.endpoints):
        ep = result.endpoints.get(name)
        if ep is None:
            continue  # reported by the validity checks
        check = (
            _error_budget(name, ep, b, confidence)
            if b.quantile is None
            else _latency_budget(name, ep, b, confidence, (less or {}).get((name, b.quantile), 0.0))
        )
        if check is not None:
            out.append(check)
    return out


def _latency_budget(
    name: str, ep: EndpointResult, b: Budget, confidence: float, less_ms: float = 0.0
) -> Check | None:
    assert b.quantile is not None
    label = f"{name} {b.text}"
    # open model: judge latency from the intended start (coordinated omission corrected)
    hist = ep.gated
    metric = f"{b.metric} (from intended start)" if ep.corrected is not None else b.metric
    interval = hist.quantile_interval(b.quantile, confidence)
    if interval is None:
        # too few samples to judge: a wildcard budget leaves such an endpoint alone, and for an
        # explicit budget the validity check has already made the run invalid
        return None
    point = max(hist.quantile(b.quantile) / 1000 - less_ms, 0.0)
    low, high = (max(v / 1000 - less_ms, 0.0) for v in interval)
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
    return Check(
        "budget", label, status, msg, endpoint=name, metric=b.metric, quantile=b.quantile,
        value=point, threshold=b.limit, interval=(low, high),
    )  # fmt: skip


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
    return Check(
        "budget", f"{name} {b.text}", status, msg, endpoint=name, metric=b.metric,
        value=rate, threshold=b.limit, interval=(low, high),
    )  # fmt: skip


# --- regression -----------------------------------------------------------------------------
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


# The run's own speed is taken out only with this many other endpoints to measure it by: their
# median then moves with the machine, not with one endpoint's regression.
MIN_PEERS = 3


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


# A value with the generator's delay taken out is never below a microsecond (logs stay finite).
MIN_VALUE_MS = 0.001
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
