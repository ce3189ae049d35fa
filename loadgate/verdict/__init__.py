"""The verdict: validity, budgets and regression, each a list of named checks, all reported
every time (never first-fail). Pure: results and baselines in, a Verdict out.

For example::

    verdict = judge(result, budgets, baseline=None)
    verdict.status, verdict.exit_code  # ('pass', 0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from loadgate import stats
from loadgate.attribution import delays_to_test
from loadgate.baselines import Baseline
from loadgate.budgets import Budget
from loadgate.capacity import knee_check
from loadgate.checks import Check, Kind
from loadgate.durations import format_ms
from loadgate.policy import DEFAULT_GATED_QUANTILES, GatePolicy
from loadgate.results import RunResult
from loadgate.verdict.budget import budget_checks
from loadgate.verdict.family import (
    MIN_BASELINE_RUNS,
    MIN_PEERS,
    Decision,
    Relative,
    combine_outcomes,
    corrected_outcome,
    family_outcomes,
    gate_family,
    relative_series,
    run_speed,
)
from loadgate.verdict.regression import (
    MIN_VALUE_MS,
    critical_endpoints,
    regression_checks,
    relative_values,
    status_of,
)
from loadgate.verdict.validity import (
    ARRIVAL_RATE_TOLERANCE,
    USERS_REACHED_FRACTION,
    validity_checks,
)

__all__ = [
    "ARRIVAL_RATE_TOLERANCE",
    "DEFAULT_GATED_QUANTILES",
    "MIN_BASELINE_RUNS",
    "MIN_PEERS",
    "MIN_VALUE_MS",
    "USERS_REACHED_FRACTION",
    "Decision",
    "GatePolicy",
    "Relative",
    "Verdict",
    "Way",
    "budget_checks",
    "changed_decisions",
    "combine_outcomes",
    "corrected_outcome",
    "critical_endpoints",
    "family_outcomes",
    "gate_family",
    "judge",
    "regression_checks",
    "relative_series",
    "relative_values",
    "run_speed",
    "status_of",
    "validity_checks",
    "write_headline",
]


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
    warnings = [c.message for c in checks if c.status == "warn"]
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
