"""``loadgate compare A B``: any two stored results or baselines, without running anything.

A result on the B side is judged exactly as a new run would be against A (A may be one
result: a one-run baseline, reported, not gated); two baselines are compared group against group
(Welch's test on log quantiles). Same rule everywhere: material AND significant.

For example::

    verdict = compare(load_side(Path("baselines/local/smoke.json")), load_side(Path("r.json")))
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from loadgate import stats
from loadgate.baselines import Baseline, load_baseline, run_of
from loadgate.checks import Check, quantile_metric
from loadgate.errors import DataError
from loadgate.policy import GatePolicy
from loadgate.results import RunResult, read_result
from loadgate.verdict import Verdict, family_outcomes, regression_checks, status_of


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a baseline (possibly of one run) and, if it was a result, it."""

    path: Path
    baseline: Baseline
    result: RunResult | None = None


def load_side(path: Path) -> Side:
    """Read a result or a baseline file, whichever it is; DataError naming the file otherwise."""
    try:
        head = json.loads(path.read_text(encoding="utf-8"))
        schema = head.get("schema") if isinstance(head, dict) else None
    except FileNotFoundError:
        raise DataError(f"{path}: not found") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: corrupt file: {exc}") from None
    if schema == "loadgate.baseline":
        baseline = load_baseline(path)
        assert baseline is not None
        if not baseline.runs:
            raise DataError(f"{path}: the baseline holds no runs")
        return Side(path, baseline)
    if schema == "loadgate.result":
        result = read_result(path)
        return Side(path, Baseline(result.target, result.scenario, [run_of(result)]), result)
    raise DataError(f"{path}: neither a loadgate result nor a baseline (schema={schema!r})")


def compare(a: Side, b: Side, policy: GatePolicy | None = None) -> Verdict:
    """Is B a regression against A?"""
    policy = policy or GatePolicy()
    if b.result is not None:
        checks = regression_checks(b.result, a.baseline, (), policy)
    else:
        checks = _groups(a.baseline, b.baseline, policy)
    return Verdict.of(checks, way="compare", baseline=f"{a.path} ({a.baseline.label})")


def _groups(a: Baseline, b: Baseline, policy: GatePolicy) -> list[Check]:
    names = sorted(
        {n for run in a.runs for n in run.histograms}
        & {n for run in b.runs for n in run.histograms}
    )
    rows: list[tuple[str, float, stats.BaselineComparison]] = []
    for name in names:
        for q in policy.quantiles:
            xs, ys = a.values(name, q), b.values(name, q)
            if len(xs) >= 2 and len(ys) >= 2:
                cmp = stats.compare_groups(
                    xs, ys, alpha=policy.alpha, min_effect=policy.effect_for(name)
                )
                rows.append((name, q, cmp))
    # every metric weighs the same here (no budgets): plain Holm
    decided = family_outcomes(
        [c for *_, c in rows], [False] * len(rows), policy.alpha, policy.critical_share
    )
    out = []
    for (name, q, cmp), (outcome, _level) in zip(rows, decided, strict=True):
        metric = quantile_metric(q)
        out.append(
            Check(
                "baseline",
                f"{name} {metric}",
                status_of(outcome),
                f"{name} {metric}: {outcome}. {cmp.detail}",
                endpoint=name,
                metric=metric,
                quantile=q,
                ratio=cmp.ratio,
                threshold=1 + policy.effect_for(name),
                interval=(cmp.ratio_low, cmp.ratio_high),
                outcome=outcome,
                against=f"the {a.label}",
            )
        )
    return out
