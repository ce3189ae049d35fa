"""Proof of the verdict's quality on this machine: an A/A study (false alarms) and a power study
(detection of injected regressions), plus the run-to-run noise per endpoint and quantile.

    python benchmarks/verdict_study.py --rounds 10 [--duration 30s]
    python benchmarks/verdict_study.py --load pairs.json --stored runs/   # no new runs

Method (said again in the printed output):
1. Measure pairs as `loadgate ab` does: a pair is two runs of the bundled SUT side by side
   (both SUTs and both load generators at once, `run_side_by_side`), base = unchanged code,
   head = unchanged code (A/A) or a fixed latency on POST /bets equal to +10%, +20%, +50% of
   its P50 (a constant added to every request raises P50 by exactly that share, the tail
   quantiles by less), and one arm sized on P95 instead (+20% of P95: P95 rises by 20%, P50
   by more); P50 and P95 are measured in calibration pairs first. A round holds one pair of
   each arm, in a fresh random order; which side starts first alternates, as ABBA does.
2. Reduce each run to one value per gated metric, as the verdict does (`judged_quantiles`,
   `metric_value`: every endpoint's P50, P95, P99 with enough samples, plus budgeted ones).
3. Paired trials: up to 10 pairs drawn without replacement from an arm's pool, judged by
   `ab.look_at` after 3, 6 and 10 pairs, stopping when every metric is decided, exactly as
   `loadgate ab`. Trials reuse a finite pool, so their rates describe runs like these, not
   independent experiments; a parametric line draws log-ratios from a normal with the pool's
   mean and spread for POST /bets P50 and P95 (a smooth estimate of the same thing).
4. Stored-baseline trials: K = 1, 2, 5, 10 base-side runs blessed, another run judged by the
   gate's own procedure (not gated below 2 runs; Holm's weighted correction, budgeted endpoints
   holding most of alpha). Rates come with 95% Wilson intervals over the trials.
5. ``--stored DIR``: the stored-baseline mode as a team meets it, on independent solo runs
   (not the base sides of pairs, which ran beside another run) that
   ``benchmarks/stored_study.py --out DIR`` measured: A/A at K = 1, 2, 5 and 10 (the store's
   default) and detection of +20% on POST /bets P50 and +50% on its P95, injected by the SUT's
   latency fault and by a delaying proxy.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from loadgate import ab, config, stats
from loadgate.attribution import judged_quantiles
from loadgate.durations import parse_duration
from loadgate.files import write_json_atomic
from loadgate.policy import GatePolicy
from loadgate.runner import RunRequest, run_side_by_side
from loadgate.verdict import critical_endpoints, gate_family, relative_series

TARGET_ENDPOINT = "POST /bets"
TARGET_METRIC = (TARGET_ENDPOINT, 0.95)
LOOKS = (3, 6, 10)
Metric = tuple[str, float]
Values = dict[Metric, float]
Pair = tuple[Values, Values]


def _key(m: Metric) -> str:
    return f"{m[0]}|{m[1]}"


def _metric(key: str) -> Metric:
    name, q = key.rsplit("|", 1)
    return name, float(q)


class Study:
    """The measured pools: pairs per arm, every base-side run, and how long it took."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args, self.workdir = args, workdir
        self.target = config.load_target("local")
        self.profile = config.apply_overrides(
            config.load_profile("smoke"),
            {},
            {"users": args.users, "warmup_s": args.warmup, "duration_s": args.duration},
        )
        self.budgets = config.budgets_for(self.target, self.profile)
        self.policy = GatePolicy()
        self.metrics: list[Metric] = []
        self.pairs: dict[str, list[Pair]] = {}
        self.started = time.monotonic()
        self.n = 0

    def pair(self, head_fault: str | None, base_first: bool) -> Pair:
        self.n += 1
        runs = {
            "base": RunRequest(self.target, self.profile, self.workdir / f"{self.n}-base"),
            "head": RunRequest(
                self.target,
                self.profile,
                self.workdir / f"{self.n}-head",
                sut_faults=(head_fault,) if head_fault else (),
            ),
        }
        order = ["base", "head"] if base_first else ["head", "base"]
        outcomes = dict(zip(order, run_side_by_side([runs[s] for s in order]), strict=True))
        for side, outcome in outcomes.items():
            if outcome.infra_error or outcome.interrupted or outcome.result.status != "complete":
                raise SystemExit(f"pair {self.n} {side}: {outcome.infra_error or 'incomplete'}")
        base, head = outcomes["base"].result, outcomes["head"].result
        if not self.metrics:
            self.metrics = judged_quantiles(base, self.budgets, self.policy.quantiles)
        return (
            {m: ab.metric_value(base, m) for m in self.metrics},
            {m: ab.metric_value(head, m) for m in self.metrics},
        )

    def measure(self) -> None:
        args = self.args
        print(f"calibrating: {args.calibration} A/A pairs", flush=True)
        aa = [self.pair(None, i % 2 == 0) for i in range(args.calibration)]
        p50, p95 = (
            statistics.median(v[(TARGET_ENDPOINT, q)] for pair in aa for v in pair)
            for q in (0.5, 0.95)
        )
        # a constant delay of e x P50 makes the typical request e slower (P50 rises by e,
        # the tail quantiles by less); the tail arm sizes it on P95 instead
        faults: dict[str, str | None] = {"A/A": None}
        for e in args.effects:
            faults[f"+{e:.0%}"] = f"latency:{TARGET_ENDPOINT}={max(0.01, p50 * e):.3f}ms"
        if args.tail_effect:
            delay = max(0.01, p95 * args.tail_effect)
            faults[f"+{args.tail_effect:.0%} P95"] = f"latency:{TARGET_ENDPOINT}={delay:.3f}ms"
        print(f"{TARGET_ENDPOINT} P50 = {p50:.3f} ms, P95 = {p95:.3f} ms; head faults: {faults}",
              flush=True)  # fmt: skip
        self.pairs = {arm: [] for arm in faults}
        self.pairs["A/A"] += aa
        shuffle = random.Random(args.seed)
        for i in range(args.rounds):
            plan = list(faults.items())
            shuffle.shuffle(plan)
            for j, (arm, fault) in enumerate(plan):
                self.pairs[arm].append(self.pair(fault, (i + j) % 2 == 0))
            elapsed = time.monotonic() - self.started
            print(f"  round {i + 1}/{args.rounds} done, {elapsed / 60:.1f} min", flush=True)

    def save(self, path: Path) -> None:
        """Every pair's values, so the analysis can be repeated without running (--load)."""
        pairs = {
            arm: [[{_key(m): v for m, v in side.items()} for side in pair] for pair in pairs]
            for arm, pairs in self.pairs.items()
        }
        write_json_atomic(path, {"metrics": [_key(m) for m in self.metrics], "pairs": pairs})

    def load(self, path: Path) -> None:
        data = json.loads(path.read_text())
        self.metrics = [_metric(k) for k in data["metrics"]]
        self.pairs = {
            arm: [({_metric(k): v for k, v in b.items()}, {_metric(k): v for k, v in h.items()})
                  for b, h in pairs]
            for arm, pairs in data["pairs"].items()
        }  # fmt: skip


def paired_trial(
    rng: random.Random, pool: list[Pair], metrics: list[Metric]
) -> tuple[set[str], int]:
    """Endpoints flagged by the sequential paired test as `loadgate ab` runs it, and the pairs."""
    drawn = rng.sample(pool, min(len(pool), max(LOOKS)))
    while len(drawn) < max(LOOKS):  # a pool smaller than the last look: draw the rest again
        drawn.append(rng.choice(pool))
    policy = GatePolicy()
    looks: dict[Metric, stats.PairedLook] = {}
    for n in LOOKS:
        base = {m: [b[m] for b, _ in drawn[:n]] for m in metrics}
        head = {m: [h[m] for _, h in drawn[:n]] for m in metrics}
        looks = ab.look_at(base, head, metrics, LOOKS, policy)
        if ab.settled(looks):
            break
    flagged = {m[0] for m, look in looks.items() if look.decision == "regression"}
    return flagged, max(look.pairs for look in looks.values())


def parametric_power(mean: float, sd: float, n_metrics: int, trials: int, seed: int) -> float:
    """Detection rate of the sequential test for log-ratios ~ N(mean, sd), one metric of n."""
    rng = random.Random(seed)
    hits = 0
    for _ in range(trials):
        d = [rng.gauss(mean, sd) for _ in range(max(LOOKS))]
        for n in LOOKS:
            look = stats.paired_sequential_test(
                [1.0] * n, [math.exp(x) for x in d[:n]], looks=LOOKS, n_metrics=n_metrics
            )
            if look.decision != "continue":
                break
        hits += look.decision == "regression"
    return hits / trials


BASELINE_SIZES = (1, 2, 5, 10)  # K blessed runs in the stored-baseline trials (10: the default)


def baseline_trial(
    rng: random.Random,
    runs: list[Values],
    pair: Pair,
    metrics: list[Metric],
    k: int,
    critical: set[str],
) -> set[str]:
    """Endpoints flagged when the head of ``pair`` (for A/A, either side) is judged against
    ``k`` runs of other pairs, by the gate's own procedure (``verdict.gate_family``: not gated
    below two runs, Holm's weighted correction with the budgeted endpoints holding most of
    alpha). The judged run's own partner is never in its baseline: the two ran side by side,
    so they share that moment's noise as a stored baseline blessed earlier never would."""
    current = pair[1]
    base = rng.sample([r for r in runs if r is not pair[0] and r is not current], k)
    decisions = gate_family(
        [[b[m] for b in base] for m in metrics],
        [current[m] for m in metrics],
        [m[0] in critical for m in metrics],
        [0.10] * len(metrics),
        GatePolicy(),
        relative_series(base, current, metrics),
    )
    return {m[0] for m, d in zip(metrics, decisions, strict=True) if d.outcome == "regression"}


def _judged(rng: random.Random, pool: list[Pair], arm: str) -> Pair:
    """A pair whose head is judged; in A/A either side may be (both ran the same code)."""
    base, head = rng.choice(pool)
    return (head, base) if arm == "A/A" and rng.random() < 0.5 else (base, head)


def with_interval(hits: int, n: int) -> str:
    """``12.5% (9.1-16.9)``: a rate with its 95% Wilson interval."""
    low, high = stats.wilson_interval(hits, n, 0.95)
    return f"{hits / n:.1%} ({low:.1%}-{high:.1%})"


def sd_log(xs: Sequence[float]) -> float:
    return statistics.stdev(math.log(x) for x in xs)


def noise_table(study: Study) -> list[str]:
    """Per metric: run-to-run sd of log values, sd of the paired log-ratio in A/A pairs, and the
    smallest rise the paired test would flag 95% of the time by 10 pairs with that spread
    (significant and material: never below the +10% threshold)."""
    aa = study.pairs["A/A"]
    runs = [v for pair in aa for v in pair]
    n = len(study.metrics)
    lines = [
        f"{'metric':<28} {'median':>9} {'run sd':>7} {'pair sd':>8} {'detectable (10 pairs)':>22}"
    ]
    for m in study.metrics:
        pair_sd = ab.pair_noise([b[m] for b, _ in aa], [h[m] for _, h in aa]) or 0.0
        detectable = stats.paired_detectable(pair_sd, LOOKS, 0.01, n)
        lines.append(
            f"{m[0] + ' p' + format(m[1] * 100, 'g'):<28} "
            f"{statistics.median(v[m] for v in runs):>7.2f}ms {sd_log([v[m] for v in runs]):>7.1%} "
            f"{pair_sd:>8.1%} {'+' + format(detectable, '.0%'):>22}"
        )
    return lines


def report(study: Study, trials: int, seed: int) -> None:
    rng = random.Random(seed)
    metrics = study.metrics
    print(
        f"\ngated metrics ({len(metrics)}): " + ", ".join(f"{e} p{q * 100:g}" for e, q in metrics)
    )
    print("\nRun-to-run noise (A/A pairs: 'run sd' = sd of log values over every run, 'pair sd' =")
    print("sd of ln(head/base) within side-by-side pairs; detectable = approximate +x% caught 95%")
    print("of the time at 10 pairs):")
    print("\n".join(noise_table(study)))
    header = f"{'study':<32} {'pool':>5} {'trials':>7} {'flagged any':>18} {'flagged bets':>18} "
    print("\n" + header + f"{'flagged other':>18} {'mean pairs':>11}")

    def row(label: str, pool: int, results: list[tuple[set[str], int]]) -> None:
        n = len(results)
        any_ = sum(1 for f, _ in results if f)
        bets = sum(1 for f, _ in results if TARGET_ENDPOINT in f)
        other = sum(1 for f, _ in results if f - {TARGET_ENDPOINT})
        pairs = sum(p for _, p in results) / n
        rates = " ".join(f"{with_interval(x, n):>18}" for x in (any_, bets, other))
        print(f"{label:<32} {pool:>5} {n:>7} {rates} {pairs:>11.1f}")

    critical = critical_endpoints(study.budgets)
    base_runs = [b for pairs in study.pairs.values() for b, _ in pairs]
    for arm, pool in study.pairs.items():
        row(
            f"{arm}, paired (ab)",
            len(pool),
            [paired_trial(rng, pool, metrics) for _ in range(trials)],
        )
        for k in BASELINE_SIZES:
            if k >= len(base_runs):
                continue
            judged = [
                (baseline_trial(rng, base_runs, _judged(rng, pool, arm), metrics, k, critical), 0)
                for _ in range(trials)
            ]
            row(f"{arm}, stored baseline (K={k})", len(base_runs), judged)
    print(
        "\n(rates with a 95% Wilson interval over the trials; trials reuse the pools above, so\n"
        "the interval is honest about the trials, not the pool: a pool of N runs holds at most\n"
        "N independent outcomes)"
    )
    print("\nParametric check (log-ratios ~ normal with each arm's mean and sd; 20,000 sequences,")
    print("the test at the level of one metric among all gated):")
    for arm, pool in study.pairs.items():
        for q in (0.5, 0.95):
            m = (TARGET_ENDPOINT, q)
            d = [math.log(h[m] / b[m]) for b, h in pool]
            if len(d) < 2:
                continue
            mean, sd = statistics.fmean(d), statistics.stdev(d)
            rate = parametric_power(mean, sd, len(metrics), 20_000, seed)
            print(f"  {arm:<10} {TARGET_ENDPOINT} p{q * 100:g}: mean ratio {math.exp(mean):.3f}, "
                  f"sd {sd:.1%}: flagged {rate:.1%}")  # fmt: skip


def stored_rows(out: Path, trials: int, seed: int) -> None:
    """The stored-baseline mode on independent solo runs (``stored_study.py``'s analysis)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import stored_study

    found = [e for e in ("fault", "proxy") if (out / e / "index.json").exists()]
    if not found:
        raise SystemExit(f"{out}: no stored_study runs (fault/index.json or proxy/index.json)")
    print(f"Stored baseline, independent solo runs kept in {out} (benchmarks/stored_study.py):")
    for experiment in found:
        stored_study.analyse(out, experiment, min(trials, 400), seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="pairs per arm after calibration")
    parser.add_argument("--calibration", type=int, default=2, help="A/A pairs to measure P95")
    parser.add_argument("--users", type=int, default=None, help="[default: the smoke profile's]")
    parser.add_argument("--warmup", type=parse_duration, default=None)
    parser.add_argument("--duration", type=parse_duration, default=None)
    parser.add_argument(
        "--effects", type=float, nargs="+", default=[0.10, 0.20, 0.50], help="on P50"
    )
    parser.add_argument("--tail-effect", type=float, default=0.20, help="on P95 (0: none)")
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--save", type=Path, help="write every pair's values to this JSON file")
    parser.add_argument("--load", type=Path, help="analyse pairs saved earlier; run nothing")
    parser.add_argument(
        "--stored", type=Path, metavar="DIR",
        help="also analyse the independent solo runs benchmarks/stored_study.py kept in DIR "
        "(the stored-baseline mode as `loadgate run --baseline` meets it)",
    )  # fmt: skip
    args = parser.parse_args()
    started = time.monotonic()
    if args.stored:
        stored_rows(args.stored, args.trials, args.seed)
        if not args.load:  # analysis only: the solo runs were measured by stored_study.py
            return 0
    if args.load:
        study = Study(args, Path("."))
        study.load(args.load)
        report(study, args.trials, args.seed)
        return 0
    with tempfile.TemporaryDirectory(prefix="loadgate-study-") as tmp:
        study = Study(args, Path(tmp))
        p = study.profile
        arms = 1 + len(args.effects) + (1 if args.tail_effect else 0)
        print(f"profile smoke: {p.users} users, {p.warmup_s:g} s warm-up + {p.duration_s:g} s "
              f"measured per run; pairs side by side; {args.rounds} rounds of {arms} pairs",
              flush=True)  # fmt: skip
        study.measure()
    measured = time.monotonic() - started
    if args.save:
        study.save(args.save)
    n_pairs = sum(len(v) for v in study.pairs.values())
    print(f"\nmeasured {n_pairs} pairs ({2 * n_pairs} runs) in {measured / 60:.1f} min; "
          f"policy: material +10%, alpha 0.01 (Holm/Bonferroni across metrics)")  # fmt: skip
    report(study, args.trials, args.seed)
    print(f"\ntotal {(time.monotonic() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
