"""Budgets: absolute ceilings per endpoint. A breach fails only when the quantile's (or the
error rate's) confidence interval lies above the ceiling; a point estimate above it warns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from loadgate import stats
from loadgate.budgets import Budget, expand
from loadgate.checks import Check, CheckStatus
from loadgate.durations import format_ms
from loadgate.results import EndpointResult, RunResult


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
