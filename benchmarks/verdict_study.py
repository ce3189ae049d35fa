"""Proof of the verdict's quality on this machine: an A/A study (false alarms) and a power study
(detection of injected regressions), plus the run-to-run noise per endpoint and quantile.

    python benchmarks/verdict_study.py --runs 8 --duration 10s

Method (said again in the printed output):
1. Measure real short `loadgate run`s of the bundled SUT, interleaved across arms so machine
   drift hits every arm alike: arm A (unchanged code) and arms +10%, +20%, +50%, where a fixed
   latency equal to that share of A's measured POST /bets P95 is injected on POST /bets only
   (a constant added to every request raises P95 by exactly that share).
2. Reduce each run to one value per gated metric (endpoint × P95/P99), as the verdict does.
3. Draw trials from the measured runs: stored-baseline trials (5 A runs blessed, one other run
   judged) and paired A/B trials (sequences of (base, head) pairs through the sequential test
   with looks at 3, 6, 10 pairs). Trials reuse a finite pool of runs, so the rates estimate
   what the verdict would do on runs like these; they are not independent experiments.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loadgate import stats
from loadgate.verdict import GatePolicy

ROOT = Path(__file__).resolve().parent.parent
TARGET_ENDPOINT = "POST /bets"
QUANTILES = (0.95, 0.99)
LOOKS = (3, 6, 10)
Values = dict[tuple[str, float], float]


def one_run(out: Path, args: argparse.Namespace, fault: str | None) -> Values:
    cmd = [
        sys.executable, "-m", "loadgate.cli", "run", "--no-baseline", "--out", str(out),
        "--users", str(args.users), "--warmup", args.warmup, "--duration", args.duration,
    ]  # fmt: skip
    if fault:
        cmd += ["--fault", fault]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    # 1 and 4 are verdicts on the smoke budgets, which this study does not use
    if proc.returncode not in (0, 1, 4):
        raise SystemExit(f"run failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    data = json.loads((out / "result.json").read_text())
    values: Values = {}
    for name, ep in data["endpoints"].items():
        summary = ep["summary"]
        for q in QUANTILES:
            if summary["requests"] - summary["failures"] >= stats.min_samples_for_interval(q):
                values[(name, q)] = summary[f"p{q * 100:g}_ms"]
    return values


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, list[Values]]:
    arms: dict[str, list[Values]] = {"A": []}
    started = time.monotonic()
    print(f"calibrating: {args.calibration} A runs", flush=True)
    for i in range(args.calibration):
        arms["A"].append(one_run(workdir / f"cal{i}", args, None))
    p95 = sorted(v[(TARGET_ENDPOINT, 0.95)] for v in arms["A"])[len(arms["A"]) // 2]
    faults = {
        f"+{int(e * 100)}%": f"latency:{TARGET_ENDPOINT}={max(0.1, p95 * e):.2f}ms"
        for e in args.effects
    }
    for arm in faults:
        arms[arm] = []
    print(f"A: {TARGET_ENDPOINT} P95 = {p95:.2f} ms; faults: {faults}", flush=True)
    order = random.Random(args.seed)
    for i in range(args.runs):
        # a fresh order each round, so no arm always runs at the same point of a noise cycle
        plan = [("A", None), *faults.items()]
        order.shuffle(plan)
        for arm, fault in plan:
            arms[arm].append(one_run(workdir / f"{arm}-{i}", args, fault))
        print(f"  round {i + 1}/{args.runs} done, {time.monotonic() - started:.0f} s", flush=True)
    return arms


def baseline_trial(
    rng: random.Random, pool_a: list[Values], current: Values, policy: GatePolicy
) -> set[str]:
    """Endpoints flagged when ``current`` is judged against 5 A runs (Holm across metrics)."""
    base = rng.sample(pool_a, 5)
    metrics = [m for m in current if all(m in b for b in base)]
    if not metrics:
        return set()
    comparisons = [
        stats.compare_to_baseline([b[m] for b in base], current[m], alpha=policy.alpha)
        for m in metrics
    ]
    significant = stats.holm([c.p_value for c in comparisons], policy.alpha)
    return {
        m[0]
        for m, c, s in zip(metrics, comparisons, significant, strict=True)
        if c.outcome == "regression" and s
    }


def paired_trial(
    rng: random.Random, base_pool: list[Values], head_pool: list[Values], policy: GatePolicy
) -> tuple[set[str], int]:
    """Endpoints flagged by the sequential paired test, and the pairs it took."""
    metrics = [m for m in head_pool[0] if m in base_pool[0]]
    base: list[Values] = []
    head: list[Values] = []
    decisions: dict[tuple[str, float], str] = {}
    for pairs in range(1, max(LOOKS) + 1):
        if base_pool is head_pool:  # A/A: two different runs of the same code
            b, h = rng.sample(base_pool, 2)
        else:  # a pair is measured in the same round, side by side, as `loadgate ab` does
            r = rng.randrange(min(len(base_pool), len(head_pool)))
            b, h = base_pool[r], head_pool[r]
        base.append(b)
        head.append(h)
        if pairs not in LOOKS:
            continue
        decisions = {
            m: stats.paired_sequential_test(
                [b[m] for b in base],
                [h[m] for h in head],
                looks=LOOKS,
                alpha=policy.alpha,
                min_effect=policy.min_effect,
                n_metrics=len(metrics),
            ).decision
            for m in metrics
        }
        if "continue" not in decisions.values():
            break
    return {m[0] for m, d in decisions.items() if d == "regression"}, len(base)


def noise_table(pool: list[Values]) -> list[str]:
    lines = [f"{'metric':<26} {'median':>9} {'run-to-run sd':>14} {'detectable (K=5)':>17}"]
    for metric in sorted(pool[0]):
        xs = [v[metric] for v in pool if metric in v]
        logs = [math.log(x) for x in xs]
        mean = sum(logs) / len(logs)
        sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1))
        detectable = stats.detectable_change(xs[:5]) if len(xs) >= 5 else None
        det = f"+{detectable:.0%}" if detectable is not None else "-"
        label = f"{metric[0]} p{metric[1] * 100:g}"
        lines.append(f"{label:<26} {sorted(xs)[len(xs) // 2]:>7.2f}ms {sd:>13.1%} {det:>17}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=8, help="runs per arm after calibration")
    parser.add_argument("--calibration", type=int, default=4)
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--warmup", default="3s")
    parser.add_argument("--duration", default="20s")
    parser.add_argument("--effects", type=float, nargs="+", default=[0.10, 0.20, 0.50])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="loadgate-study-") as tmp:
        arms = measure(args, Path(tmp))
    measured_s = time.monotonic() - started
    rng = random.Random(args.seed)
    policy = GatePolicy()
    pool_a = arms["A"]
    rounds_a = pool_a[args.calibration :]  # the A runs measured in the same rounds as the arms
    print(f"\nmeasured {sum(len(v) for v in arms.values())} runs in {measured_s / 60:.1f} min "
          f"({args.users} users, {args.warmup} warm-up + {args.duration} each; "
          f"policy: material +{policy.min_effect:.0%}, alpha {policy.alpha})")  # fmt: skip
    print("\nRun-to-run noise of arm A (sd of log values; detectable = smallest rise that")
    print("stands out of a 5-run baseline at alpha 1%):")
    print("\n".join(noise_table(pool_a)))
    print(f"\n{'study':<34} {'trials':>7} {'flagged any':>12} {'flagged bets':>13} "
          f"{'flagged other':>14} {'mean pairs':>11}")  # fmt: skip

    def row(label: str, results: list[tuple[set[str], int]]) -> None:
        n = len(results)
        any_ = sum(1 for f, _ in results if f) / n
        bets = sum(1 for f, _ in results if TARGET_ENDPOINT in f) / n
        other = sum(1 for f, _ in results if f - {TARGET_ENDPOINT}) / n
        pairs = sum(p for _, p in results) / n
        print(f"{label:<34} {n:>7} {any_:>12.1%} {bets:>13.1%} {other:>14.1%} {pairs:>11.1f}")

    aa_base = []
    for _ in range(args.trials):
        current = rng.choice(pool_a)
        others = [v for v in pool_a if v is not current]
        aa_base.append((baseline_trial(rng, others, current, policy), 0))
    row("A/A, stored baseline (K=5)", aa_base)
    row(
        "A/A, paired sequential",
        [paired_trial(rng, pool_a, pool_a, policy) for _ in range(args.trials)],
    )
    for arm in (a for a in arms if a != "A"):
        row(f"{arm}, stored baseline (K=5)",
            [(baseline_trial(rng, pool_a, rng.choice(arms[arm]), policy), 0)
             for _ in range(args.trials)])  # fmt: skip
        row(f"{arm}, paired sequential",
            [paired_trial(rng, rounds_a, arms[arm], policy)
             for _ in range(args.trials)])  # fmt: skip
    print(f"\ntotal {(time.monotonic() - started) / 60:.1f} min; trials resample the measured "
          "runs (a finite pool), so rates are estimates for runs like these.")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
