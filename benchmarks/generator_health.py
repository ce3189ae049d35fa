"""Does the verdict tell the generator's delays from the SUT's? (not a test): prints tables.

Acceptance experiments for the generator's self-measurement, each a real ``smoke`` run against
the bundled SUT (SUT pinned to core 0, Locust to core 1), judged as ``loadgate run`` judges:

* quiet — nothing else runs: the run should be valid and pass;
* hog on the generator's core — two CPU-bound processes pinned to core 1: the generator is
  starved, so the run should be INVALID, and the check should name the generator's delay and
  its CPU wait, not a budget;
* hog on the SUT's core — the same two processes on core 0: the generator is fine, so the run
  stays valid, and the slower SUT shows in its latencies (compared with the quiet run of the
  same round beyond both runs' within-run intervals, and in the server's own Server-Timing
  figures).

Then, with ``--peak``, the ``peak`` profile (match day), and what limited it. Rounds repeat the
conditions in turn; figures are medians over rounds with their spread. Traffic goes only to
127.0.0.1; every run and every hog is bounded in time. Usage::

    python benchmarks/generator_health.py [--rounds 3] [--peak] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from loadgate import stats  # noqa: E402
from loadgate.attribution import attribute, judged_quantiles  # noqa: E402
from loadgate.config import budgets_for, load_profile, load_target  # noqa: E402
from loadgate.policy import GatePolicy  # noqa: E402
from loadgate.results import RunResult, write_result  # noqa: E402
from loadgate.runner import RunRequest, run  # noqa: E402
from loadgate.verdict import Verdict, judge  # noqa: E402

HOG = "import time\nend = time.time() + {s}\nwhile time.time() < end:\n    pass\n"
CONDITIONS = {"quiet": None, "hog on the generator's core": 1, "hog on the SUT's core": 0}
WATCHED = ("GET /markets/[id]", "POST /bets", "WS odds")


@contextmanager
def hogs(core: int | None, seconds: float, count: int = 2) -> Iterator[None]:
    """``count`` CPU-bound processes pinned to ``core`` for at most ``seconds``."""
    procs = []
    if core is not None:
        for _ in range(count):
            procs.append(
                subprocess.Popen(
                    ["taskset", "-c", str(core), sys.executable, "-c", HOG.format(s=seconds)]
                )
            )
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait(10)


@dataclass
class Outcome:
    """One judged run."""

    result: RunResult
    verdict: Verdict
    vs_quiet: list[str] = field(default_factory=list)  # regressions against the round's quiet run

    def check(self, name: str) -> str:
        found = next((c for c in self.verdict.checks if c.name == name), None)
        return found.status if found else "-"

    def generator(self) -> tuple[float, float, float]:
        """Window lag P99 (ms), max CPU-wait %, max CPU % over the load-generating processes."""
        start, end = self.result.warmup_s, self.result.warmup_s + self.result.window_s
        lag = cpu = wait = 0.0
        for g in self.result.generators:
            if not g.generates_load:
                continue
            lag = max(lag, g.lag.quantile(0.99) / 1000)
            for t, c, w in zip(g.t, g.cpu_percent, g.cpu_wait_percent, strict=True):
                if start <= t < end:
                    cpu, wait = max(cpu, c or 0.0), max(wait, w or 0.0)
        return lag, wait, cpu


def one_run(profile_name: str, out: Path, hog_core: int | None) -> Outcome:
    target = load_target("local")
    profile = load_profile(profile_name)
    budgets = budgets_for(target, profile)
    with hogs(hog_core, profile.run_time_s + 120):
        result = run(RunRequest(target, profile, out_dir=out)).result
    write_result(out / "result.json", result)
    policy = GatePolicy.from_profile(result.profile)
    return Outcome(result, judge(result, budgets, None, policy))


def regressions(against: RunResult, result: RunResult) -> list[str]:
    """Metrics of ``result`` materially slower than in ``against`` beyond both runs' within-run
    intervals. A diagnostic for two runs side by side in one round, not the gate: the gate
    judges nothing against a single run, whose run-to-run noise is unknown."""
    policy = GatePolicy()
    out = []
    for name, q in judged_quantiles(result, (), policy.quantiles):
        base = against.endpoints.get(name)
        ours, theirs = result.endpoints[name].gated, base.gated if base else None
        mine_iv = ours.quantile_interval(q, policy.confidence)
        their_iv = theirs.quantile_interval(q, policy.confidence) if theirs else None
        if theirs is None or mine_iv is None or their_iv is None:
            continue
        cmp = stats.compare_single(
            theirs.quantile(q), their_iv, ours.quantile(q), mine_iv, min_effect=policy.min_effect
        )
        if cmp.outcome == "regression":
            out.append(f"{name} p{q * 100:g}")
    return out


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    return f"{fmt.format(med)} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def quantile_ms(outcome: Outcome, name: str, q: float, side: str) -> float | None:
    ep = outcome.result.endpoints.get(name)
    hist = None if ep is None else ep.histogram if side == "client" else ep.server
    return hist.quantile(q) / 1000 if hist is not None and hist.count else None


def table(by_condition: dict[str, list[Outcome]]) -> None:
    print("\nsmoke under three conditions (median over rounds, spread in brackets)")
    for cond, outcomes in by_condition.items():
        statuses = ", ".join(o.verdict.status.upper() for o in outcomes)
        kept = ", ".join(o.check("generator kept up") for o in outcomes)
        gen = [o.generator() for o in outcomes]
        print(f"\n  {cond}")
        print(f"    verdict per round        {statuses}")
        print(f"    'generator kept up'      {kept}")
        print(f"    generator lag P99 (ms)   {spread([g[0] for g in gen])}")
        print(f"    generator CPU-wait max % {spread([g[1] for g in gen], '{:.0f}')}")
        print(f"    generator CPU max %      {spread([g[2] for g in gen], '{:.0f}')}")
        for name in WATCHED:
            for side in ("client", "server"):
                values = [v for o in outcomes if (v := quantile_ms(o, name, 0.95, side))]
                if values:
                    print(f"    {name + ' p95 ' + side + ' (ms)':<25}{spread(values)}")
        if any(o.vs_quiet for o in outcomes):
            found = "; ".join(f"round {i + 1}: {len(o.vs_quiet)}" for i, o in enumerate(outcomes))
            print(
                f"    slower than quiet        {found} (e.g. {', '.join(outcomes[0].vs_quiet[:4])})"
            )
        first = next((c for c in outcomes[0].verdict.checks if c.status != "pass"), None)
        if first is not None:
            print(f"    first finding, round 1   [{first.status}] {first.message}")


def peak_table(outcomes: list[Outcome]) -> None:
    print("\npeak (match day) against the bundled SUT")
    for i, o in enumerate(outcomes):
        r = o.result
        lag, wait, cpu = o.generator()
        sut = r.process("sut")
        sut_cpu = max(sut.cpu_percent, default=0.0) if sut else 0.0
        print(f"\n  round {i + 1}: {o.verdict.status.upper()}: {o.verdict.headline}")
        print(f"    users {r.users_reached}/{r.users_target}, {r.rps:.0f} req+msg/s over "
              f"{r.window_s:.0f} s; generator lag P99 {lag:.2f} ms, CPU max {cpu:.0f}%, "
              f"CPU-wait max {wait:.0f}%; SUT CPU max {sut_cpu:.0f}%")  # fmt: skip
        print(
            f"    {'endpoint':<26}{'requests':>9}  client p50/p95/p99 ms   "
            "server p50/p95/p99 ms   generator delay p99"
        )
        for name, ep in sorted(r.endpoints.items()):
            rows = {a.quantile: a for a in attribute(r, [(name, q) for q in (0.5, 0.95, 0.99)])}
            if not rows:
                continue
            client = "/".join(f"{rows[q].client_ms:.1f}" for q in (0.5, 0.95, 0.99))
            server = (
                "/".join(f"{rows[q].server_ms:.1f}" for q in (0.5, 0.95, 0.99))
                if rows[0.5].server_ms is not None
                else "-"
            )
            delay = rows[0.99].delay_ms
            print(f"    {name:<26}{ep.requests:>9}  {client:<23}  {server:<23}  "
                  f"{'-' if delay is None else f'{delay:.2f} ms'}")  # fmt: skip
        for c in o.verdict.checks:
            if c.status != "pass":
                print(f"    [{c.status}] {c.message}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peak", action="store_true", help="also run the peak profile")
    parser.add_argument("--skip-smoke", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="lg-health-"))
    print(f"machine: {platform.node()} · {platform.processor() or platform.machine()} · "
          f"{psutil.cpu_count()} cores · Python {platform.python_version()} · load average "
          f"{os.getloadavg()[0]:.2f} · runs in {out}")  # fmt: skip
    by_condition: dict[str, list[Outcome]] = {c: [] for c in CONDITIONS}
    peaks: list[Outcome] = []
    for r in range(args.rounds):
        quiet: RunResult | None = None
        if not args.skip_smoke:
            for cond, core in CONDITIONS.items():
                slug = cond.replace(" ", "-").replace("'", "")
                outcome = one_run("smoke", out / f"{r + 1}-{slug}", core)
                if core is None:
                    quiet = outcome.result
                elif quiet is not None:
                    outcome.vs_quiet = regressions(quiet, outcome.result)
                by_condition[cond].append(outcome)
                print(f"  round {r + 1}: {cond}: {outcome.verdict.status}", file=sys.stderr)
        if args.peak:
            peaks.append(one_run("peak", out / f"{r + 1}-peak", None))
            print(f"  round {r + 1}: peak: {peaks[-1].verdict.status}", file=sys.stderr)
        time.sleep(2)
    if not args.skip_smoke:
        table(by_condition)
    if peaks:
        peak_table(peaks)


if __name__ == "__main__":
    main()
