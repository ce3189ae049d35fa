"""Where the time went: the load generator's own delay, the server's own time, and the rest.

A client-side latency is the sum of the generator's delay (a response read late because the
generator's hub was busy or its process waited for a CPU), the time on the way (connection
setup, the server's accept queue and event loop, the network) and the server's handler. The
recorder has the first per request where the client measured it (the kernel's receive stamp
against the moment the response was read: ``scenarios/stamps.py``), and otherwise as the lag
of each second weighted by the endpoint's requests in it (:mod:`loadgate.health`); the last
comes from the target's ``Server-Timing`` header. Two checks come of it:

* **the generator kept up** (validity). For every judged quantile (every budgeted quantile and
  every gated quantile of an endpoint with enough samples) the generator's delay at the same
  quantile, δ, is set against the client-side value v. The run is invalid when, for any of
  them, δ ≥ 2 ms and δ ≥ 10% of v: the generator alone could have moved that quantile by a
  material amount (10% is the default regression threshold). Below 2 ms the delay is what any
  process on a shared machine meets now and then (its own work on the responses that arrived
  just before, the scheduler's and the hypervisor's hiccups), alike in every run and its
  baseline; a busy or starved generator shows milliseconds to seconds. (Quantiles under a few
  milliseconds are therefore judged with up to ~1 ms of client-side noise in them, as with any
  client.) The check names the seconds in which the generator was late and whether it was
  waiting for a CPU (other processes on its core) or busy with its own work.
* **the time is accounted for** (warning). When the client-side value exceeds the server's own
  time plus the generator's delay at that quantile by at least half and by 10 ms, the rest went
  outside both: connection setup, the server's accept queue or event loop, or the network.

Without the generator's own measurements (results of older versions) the CPU rule stands in:
a generator at 90% of a core on average, or for 10 s running, invalidates the run.

For example::

    [c.name for c in generator_checks(result, budgets, (0.5, 0.95, 0.99))]  # ['generator kept up']
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from loadgate import stats
from loadgate.budgets import Budget
from loadgate.checks import Check, CheckStatus, quantile_metric
from loadgate.durations import format_ms
from loadgate.results import GeneratorHealth, ProcessSamples, RunResult

DELAY_FLOOR_MS = 2.0
DELAY_SHARE = 0.10
OUTSIDE_FLOOR_MS = 10.0
OUTSIDE_SHARE = 0.5
STARVED_WAIT_PERCENT = 20.0  # a second with this much CPU wait: other processes took the core
BUSY_CPU_PERCENT = 80.0
# a mostly idle generator waits little in all when other processes share its core (the
# scheduler favours a task that wakes), but now and then a whole time slice: its mean wait per
# wake-up rises from a few microseconds (alone: 0.002-0.02 ms measured) to tens (0.05-0.1 ms
# with two CPU-bound processes on its core)
STARVED_WAKE_MS = 0.03
# a virtual machine's host running something else on its CPUs (steal time, /proc/stat)
STOLEN_PERCENT = 5.0
GENERATOR_CPU_LIMIT = 90.0  # the stand-in CPU rule (no health measurements)
SATURATED_STRETCH_S = 10.0


@dataclass(frozen=True)
class Attribution:
    """One judged quantile of one endpoint: client-side, server-side, generator delay (ms)."""

    endpoint: str
    quantile: float
    client_ms: float
    server_ms: float | None
    delay_ms: float | None

    @property
    def label(self) -> str:
        return f"{self.endpoint} {quantile_metric(self.quantile)}"

    @property
    def delay_material(self) -> bool:
        d = self.delay_ms
        return d is not None and d >= DELAY_FLOOR_MS and d >= DELAY_SHARE * self.client_ms

    @property
    def outside_ms(self) -> float | None:
        """Client-side time not explained by the server's own time nor the generator's delay."""
        if self.server_ms is None:
            return None
        return self.client_ms - self.server_ms - (self.delay_ms or 0.0)


def judged_quantiles(
    result: RunResult, budgets: Sequence[Budget], quantiles: Sequence[float]
) -> list[tuple[str, float]]:
    """(endpoint, quantile) pairs the verdict judges: every budgeted quantile, plus the gated
    quantiles of every endpoint with enough samples for an interval."""
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


def attribute(result: RunResult, pairs: Sequence[tuple[str, float]]) -> list[Attribution]:
    out = []
    for name, q in pairs:
        ep = result.endpoints[name]
        if ep.histogram.count == 0:
            continue
        server = ep.server.quantile(q) / 1000 if ep.server is not None and ep.server.count else None
        delay = ep.delay.quantile(q) / 1000 if ep.delay is not None and ep.delay.count else None
        out.append(Attribution(name, q, ep.histogram.quantile(q) / 1000, server, delay))
    return out


def generator_checks(
    result: RunResult,
    budgets: Sequence[Budget],
    quantiles: Sequence[float],
    changed: Sequence[str] | None = None,
    verdict_changes: bool = True,
) -> list[Check]:
    """Did the generator keep up, and is the client-side time accounted for?

    ``changed``: the decisions that change when each judged quantile's generator delay is
    taken out of its value (:func:`delays_to_test`); ``verdict_changes``: whether the gate's
    pass or fail changes with them. A material delay makes the run invalid when the verdict
    rests on it, or when that was not tested (``changed`` None); otherwise it is a warning
    that names any decision that would change, and the verdict stands."""
    gens = [g for g in result.generators if g.generates_load]
    if not gens:
        return cpu_checks(result)
    rows = attribute(result, judged_quantiles(result, budgets, quantiles))
    return [_kept_up(result, gens, rows, changed, verdict_changes), *_accounted(rows)]


def delays_to_test(
    result: RunResult, budgets: Sequence[Budget], quantiles: Sequence[float]
) -> dict[tuple[str, float], float] | None:
    """Each judged quantile's generator delay in ms, when any is material (else None): the
    verdict judges the run again with these taken out, to see whether a decision rests on
    them."""
    if not any(g.generates_load for g in result.generators):
        return None
    rows = attribute(result, judged_quantiles(result, budgets, quantiles))
    if not any(r.delay_material for r in rows):  # as _kept_up judges them
        return None
    return {(r.endpoint, r.quantile): r.delay_ms for r in rows if r.delay_ms is not None}


def _kept_up(
    result: RunResult,
    gens: list[GeneratorHealth],
    rows: list[Attribution],
    changed: Sequence[str] | None = None,
    verdict_changes: bool = True,
) -> Check:
    material = [r for r in rows if r.delay_material]
    measured = [r for r in rows if r.delay_ms is not None]
    if not material:
        worst = max(measured, key=lambda r: (r.delay_ms or 0) / r.client_ms, default=None)
        detail = (
            f" (largest share: {worst.label}, {format_ms(worst.delay_ms or 0)} of "
            f"{format_ms(worst.client_ms)})"
            if worst is not None
            else ""
        )
        return Check(
            "validity",
            "generator kept up",
            "pass",
            f"The load generator kept up: its own delay stayed under {DELAY_FLOOR_MS:g} ms or "
            f"{DELAY_SHARE:.0%} of every judged quantile{detail}.",
        )
    material.sort(key=lambda r: (r.delay_ms or 0) / r.client_ms, reverse=True)
    named = "; ".join(
        f"{r.label} is {format_ms(r.client_ms)}, of which the generator's delay could be "
        f"{format_ms(r.delay_ms or 0)}"
        for r in material[:3]
    )
    more = f" (and {len(material) - 3} more)" if len(material) > 3 else ""
    threshold = min(max(DELAY_FLOOR_MS, DELAY_SHARE * r.client_ms) for r in material)
    status: CheckStatus = "invalid"
    others = f" (and {len(changed) - 1} more)" if changed and len(changed) > 1 else ""
    if changed is None:
        rests = ""
    elif changed and verdict_changes:
        rests = f" The verdict rests on it: with that delay taken out, {changed[0]}{others}."
    elif changed:
        status = "warn"
        rests = (
            f" With that delay taken out, {changed[0]}{others}, but the verdict would be the "
            "same, so it stands."
        )
    else:
        status = "warn"
        rests = (
            " No decision rests on it: every budget and regression decision is the same with "
            "each judged quantile's generator delay taken out, so the verdict stands."
        )
    return Check(
        "validity",
        "generator kept up",
        status,
        f"The load generator's own delay could account for a material part of what was "
        f"measured: {named}{more}. {_late_seconds(result, gens, threshold)}{rests}",
        endpoint=material[0].endpoint,
        value=material[0].delay_ms,
        threshold=max(DELAY_FLOOR_MS, DELAY_SHARE * material[0].client_ms),
    )


def late_stretches(
    gen: GeneratorHealth, start: float, end: float, threshold_ms: float
) -> list[tuple[int, int]]:
    """Runs of consecutive seconds in [start, end) whose lag P99 reached ``threshold_ms``:
    (first offset, last offset)."""
    runs: list[tuple[int, int]] = []
    for t, p99 in zip(gen.t, gen.lag_p99_ms, strict=True):
        if not start <= t < end or p99 is None or p99 < threshold_ms:
            continue
        if runs and runs[-1][1] == t - 1:
            runs[-1] = (runs[-1][0], t)
        else:
            runs.append((t, t))
    return runs


def _late_seconds(result: RunResult, gens: list[GeneratorHealth], threshold_ms: float) -> str:
    """Which seconds the generator was late in, by how much, and why."""
    start, end = result.warmup_s, result.warmup_s + result.window_s
    found = []
    for gen in gens:
        for first, last in late_stretches(gen, start, end, threshold_ms):
            found.append((last - first + 1, first, last, gen))
    if not found:
        return (
            f"No single second's lag P99 reached {format_ms(threshold_ms)}: the delay was "
            "spread thinly over the window."
        )
    found.sort(key=lambda x: (-x[0], x[1]))
    length, first, last, gen = found[0]
    seconds = set(range(first, last + 1))
    worst = max(
        (m for t, m in zip(gen.t, gen.lag_max_ms, strict=True) if t in seconds and m is not None),
        default=0.0,
    )
    who = "" if len(gens) == 1 else f" ({gen.role} {gen.ident})"
    when = f"at {first} s" if length == 1 else f"for {length} s from {first} s"
    others = f" ({len(found) - 1} shorter stretch(es) too)" if len(found) > 1 else ""
    return (
        f"The generator{who} was late by {format_ms(threshold_ms)} or more (lag P99 per second) "
        f"{when} into the run, at worst {format_ms(worst)}{others}; {_why(gen, seconds)}"
    )


def _mean_over(t: list[int], values: list[float | None], seconds: set[int]) -> float | None:
    picked = [v for s, v in zip(t, values, strict=True) if s in seconds and v is not None]
    return statistics.mean(picked) if picked else None


def _why(gen: GeneratorHealth, seconds: set[int]) -> str:
    wait = _mean_over(gen.t, gen.cpu_wait_percent, seconds)
    cpu = _mean_over(gen.t, gen.cpu_percent, seconds)
    per_wake = _mean_over(gen.t, gen.wake_wait_ms, seconds) if gen.wake_wait_ms else None
    stolen = _mean_over(gen.t, gen.steal_percent, seconds) if gen.steal_percent else None
    if wait is not None and wait >= STARVED_WAIT_PERCENT:
        return (
            f"it waited for a CPU {wait:.0f}% of that time while using {cpu or 0:.0f}% of one: "
            "other processes took its core."
        )
    if stolen is not None and stolen >= STOLEN_PERCENT:
        return (
            f"the host took its CPU away for {stolen:.0f}% of that time (steal time, using "
            f"{cpu or 0:.0f}% of a core itself): this virtual machine's CPUs were given to "
            "others, not the generator's own work nor another process here."
        )
    if per_wake is not None and per_wake >= STARVED_WAKE_MS:
        return (
            f"each time it woke it waited {per_wake:.3f} ms on average for a CPU (a process "
            f"alone on its core waits a few microseconds), using {cpu or 0:.0f}% of one: other "
            "processes shared its core."
        )
    if cpu is not None and cpu >= BUSY_CPU_PERCENT:
        return f"it used {cpu:.0f}% of its core then: its own work was more than it could do."
    what = f"it used {cpu:.0f}% of its core" if cpu is not None else "its CPU was not measured"
    return f"{what}: something blocked its event hub."


def _accounted(rows: list[Attribution]) -> list[Check]:
    """Client-side time far beyond the server's own plus the generator's: say where it went."""
    with_server = [r for r in rows if r.outside_ms is not None]
    if not with_server:
        return []
    unexplained = [
        r
        for r in with_server
        if (r.outside_ms or 0) >= max(OUTSIDE_FLOOR_MS, OUTSIDE_SHARE * r.client_ms)
    ]
    if not unexplained:
        return [
            Check(
                "validity",
                "time accounted for",
                "pass",
                "Client-side latencies agree with the server's own time plus the generator's "
                f"delay (within half, or {OUTSIDE_FLOOR_MS:g} ms) at every judged quantile.",
            )
        ]
    unexplained.sort(key=lambda r: r.outside_ms or 0, reverse=True)
    named = "; ".join(
        f"{r.label} is {format_ms(r.client_ms)} client-side, {format_ms(r.server_ms or 0)} in "
        f"the server's handler and {format_ms(r.delay_ms or 0)} the generator's delay"
        for r in unexplained[:3]
    )
    more = f" (and {len(unexplained) - 3} more)" if len(unexplained) > 3 else ""
    return [
        Check(
            "validity",
            "time accounted for",
            "warn",
            f"Time went outside both the server's handler and the generator: {named}{more}. "
            "The rest is connection setup, the server's accept queue or event loop, or the "
            "network.",
            endpoint=unexplained[0].endpoint,
            value=unexplained[0].outside_ms,
        )
    ]


# --- the stand-in: CPU only ---------------------------------------------------------------------
def cpu_checks(result: RunResult) -> list[Check]:
    """For results without the generator's own measurements: its CPU share, on average and in
    stretches (CPU% misses a starved generator; this is the weaker rule)."""
    gens = [p for p in result.processes if p.role.startswith("generator") and p.cpu_percent]
    gen = max(gens, key=lambda p: p.cpu_mean, default=None)
    if gen is None:
        return []
    cpu = gen.cpu_mean
    ok = cpu < GENERATOR_CPU_LIMIT
    who = "The load generator" if len(gens) == 1 else f"The busiest generator ({gen.role})"
    out = [
        Check(
            "validity",
            "generator not saturated",
            "pass" if ok else "invalid",
            f"{who} used {cpu:.0f}% of a core on average"
            + ("." if ok else f", above {GENERATOR_CPU_LIMIT:.0f}%: it was the bottleneck."),
            value=cpu,
            threshold=GENERATOR_CPU_LIMIT,
        )
    ]
    return out + _saturated_stretches(result, gens)


def saturated_stretch(
    samples: ProcessSamples, start: float, end: float, limit: float = GENERATOR_CPU_LIMIT
) -> tuple[float, float]:
    """The longest run of consecutive samples at or above ``limit`` within [start, end]:
    (its start offset, its length in seconds); (0, 0) when there is none."""
    best = (0.0, 0.0)
    first: float | None = None
    for t, cpu in zip(samples.t, samples.cpu_percent, strict=False):
        if not start <= t <= end:
            continue
        if cpu >= limit:
            first = t if first is None else first
            length = t - first + 1.0  # a sample covers the second before it
            if length > best[1]:
                best = (first, length)
        else:
            first = None
    return best


def _saturated_stretches(result: RunResult, gens: list[ProcessSamples]) -> list[Check]:
    start, end = result.warmup_s, result.warmup_s + result.window_s
    gen, at, length = max(
        ((g, *saturated_stretch(g, start, end)) for g in gens), key=lambda x: x[2]
    )
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
            value=length,
            threshold=SATURATED_STRETCH_S,
        )
    ]
