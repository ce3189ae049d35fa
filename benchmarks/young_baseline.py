"""A young baseline never cries wolf (not a test): prints a table.

Real ``smoke`` runs of the bundled SUT (SUT pinned to core 0, Locust to core 1), unchanged
code throughout, judged exactly as ``loadgate run --baseline FILE`` judges them:

* ``--mode one`` (default): one clean run is blessed into a fresh baseline file, then every
  further run is judged against that single blessed run. None may fail: one run says nothing
  about the run-to-run noise, so the gate must not judge against it.
* ``--mode grow``: a baseline built one run at a time as a team would, each run judged first
  and then blessed (K = 1, 2, 3, ... up to the store's default of the newest 10). None may
  fail either: judging before blessing must be as safe as blessing ten at once.

A run may be INVALID when the machine made the load generator late (the verdict is right to
refuse it; the table says so); it is not a false alarm and is counted apart. Traffic goes only
to 127.0.0.1; every run is bounded in time. Usage::

    python benchmarks/young_baseline.py [--runs 20] [--mode one|grow] [--out DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
from collections import Counter
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from loadgate.baselines import bless, load_baseline  # noqa: E402
from loadgate.config import budgets_for, load_profile, load_target  # noqa: E402
from loadgate.policy import GatePolicy  # noqa: E402
from loadgate.results import RunResult, write_result  # noqa: E402
from loadgate.runner import RunRequest, run  # noqa: E402
from loadgate.verdict import Verdict, judge  # noqa: E402


def one_run(out: Path) -> RunResult:
    target, profile = load_target("local"), load_profile("smoke")
    outcome = run(RunRequest(target, profile, out_dir=out, pin=True))
    if outcome.infra_error:
        raise SystemExit(f"run in {out} failed: {outcome.infra_error}")
    write_result(out / "result.json", outcome.result)
    return outcome.result


def judged(result: RunResult, baseline_file: Path) -> Verdict:
    target, profile = load_target("local"), load_profile("smoke")
    baseline = load_baseline(baseline_file)
    # the profile's policy, as `loadgate run` judges (never the result file's own record)
    policy = GatePolicy.from_profile(dataclasses.asdict(profile))
    return judge(result, budgets_for(target, profile), baseline, policy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=20,
        help="runs to judge (default 20); a run refused because the machine made the generator "
        "late is not judged, and another is made in its place (at most twice as many in all)",
    )  # fmt: skip
    parser.add_argument("--mode", choices=("one", "grow"), default="one")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="lg-young-"))
    baseline_file = out / "baseline.json"
    print(f"machine: {platform.node()} · {platform.processor() or platform.machine()} · "
          f"{psutil.cpu_count()} cores · Python {platform.python_version()} · load average "
          f"{os.getloadavg()[0]:.2f} · mode {args.mode} · runs in {out}")  # fmt: skip
    first = one_run(out / "blessed-0")
    bless([first], baseline_file)
    print(f"{'run':>4}  {'K':>3}  {'verdict':<8} {'fail':>4} {'warn':>4} {'not gated':>9}  "
          "first finding")  # fmt: skip
    tally: Counter[str] = Counter()
    i = 0
    while i - tally["invalid (generator late)"] < args.runs and i < 2 * args.runs:
        i += 1
        result = one_run(out / f"run-{i}")
        k = len(load_baseline(baseline_file).runs)  # type: ignore[union-attr]
        verdict = judged(result, baseline_file)
        regs = verdict.of_kind("regression")
        counts = Counter(c.status for c in regs)
        not_gated = sum(1 for c in regs if c.outcome == "not gated")
        finding = next((c for c in verdict.checks if c.status in ("fail", "invalid")), None)
        text = "" if finding is None else f"[{finding.status}] {finding.message[:110]}"
        print(f"{i:>4}  {k:>3}  {verdict.status.upper():<8} {counts['fail']:>4} "
              f"{counts['warn']:>4} {not_gated:>9}  {text}", flush=True)  # fmt: skip
        late = verdict.status == "invalid" and all(
            c.name == "generator kept up" for c in verdict.checks if c.status == "invalid"
        )
        tally["invalid (generator late)" if late else verdict.status] += 1
        if args.mode == "grow" and verdict.status == "pass":
            bless([result], baseline_file)
    judged_runs = i - tally["invalid (generator late)"]
    print(f"\n{tally['pass']} of {judged_runs} judged runs passed against a "
          f"{'single blessed run' if args.mode == 'one' else 'baseline grown one run at a time'}"
          f"; {tally['fail']} failed; {tally['invalid (generator late)']} refused because the "
          f"machine made the generator late; {tally['invalid']} invalid otherwise")  # fmt: skip


if __name__ == "__main__":
    main()
