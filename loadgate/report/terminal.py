"""What the terminal shows after a run: the verdict, the load reached, the generator's health,
a per-endpoint table, every check that did not pass and a capacity run's knee. Pure: a stored
result and its verdict in, text out.

For example::

    print(render_terminal(result, verdict), end="")
"""

from __future__ import annotations

from loadgate.durations import format_ms
from loadgate.report.health import generator_summary, server_ms
from loadgate.results import RunResult
from loadgate.verdict import Verdict

__all__ = ["render_comparison", "render_terminal"]


def render_terminal(result: RunResult, verdict: Verdict) -> str:
    """The summary of one judged run (every line ends with a newline)."""
    lines = ["", f"{verdict.status.upper()}: {verdict.headline}"]
    if result.profile.get("kind") == "micro":
        lines.append(f"{len(result.endpoints)} benchmarks, {result.total_requests} rounds")
    else:
        lines.append(
            f"{result.users_reached}/{result.users_target} users, {result.rps:.0f} req/s over "
            f"{result.window_s:.0f} s ({result.warmup_s:.0f} s warm-up excluded)"
        )
    generator = generator_summary(result)
    if generator is not None:
        lines.append(f"generator: {generator.text}")
    width = max([24, *(len(n) for n in result.endpoints)])
    # the server's own P95 (Server-Timing) beside the client-side one, only when measured
    server = {name: server_ms(ep, 0.95) for name, ep in result.endpoints.items()}
    shown = any(v is not None for v in server.values())
    srv = f" {'server p95':>10}" if shown else ""
    head = f"{'endpoint':<{width}} {'requests':>9} {'fail':>6} {'p50':>9} {'p95':>9}"
    lines.append(f"{head}{srv} {'p99':>9}")
    for name, ep in sorted(result.endpoints.items()):
        q = [format_ms(ep.quantile_ms(p)) for p in (0.5, 0.95, 0.99)]
        ms = server[name]
        srv = f" {'–' if ms is None else format_ms(ms):>10}" if shown else ""
        lines.append(
            f"{name:<{width}} {ep.requests:>9} {ep.failures:>6} {q[0]:>9} {q[1]:>9}{srv} {q[2]:>9}"
        )
    # every check that did not pass, and a capacity run's knee (which never fails)
    said = [c for c in verdict.checks if c.status != "pass" or c.metric == "capacity"]
    lines += [f"  [{c.status}] {c.message}" for c in said]
    return "\n".join(lines) + "\n"


def render_comparison(verdict: Verdict) -> str:
    """A comparison of two stored results or baselines: the verdict and every metric's outcome."""
    lines = [f"{verdict.status.upper()}: {verdict.headline}"]
    lines += [f"  [{c.outcome or c.status}] {c.message}" for c in verdict.checks]
    return "\n".join(lines) + "\n"
