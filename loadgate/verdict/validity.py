"""Validity: was the run what was asked (completed, users reached, arrivals intended and
delivered, the generator kept up, the SUT's audit held, enough samples for each budgeted
quantile)? An invalid run is never passed or failed."""

from __future__ import annotations

import math
from collections.abc import Sequence

from loadgate import stats
from loadgate.attribution import generator_checks
from loadgate.budgets import Budget
from loadgate.checks import Check, CheckStatus
from loadgate.policy import DEFAULT_GATED_QUANTILES
from loadgate.results import EndpointResult, RunResult

ARRIVAL_RATE_TOLERANCE = 0.02  # of the arrivals due in the window


USERS_REACHED_FRACTION = 0.95


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
