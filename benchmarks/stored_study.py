"""How well a stored baseline gates on this machine (not a test): prints tables.

Independent solo runs of the gate's own profile (``smoke``: 60 users, 10 s warm-up, 50 s
measured, about 70 s a run; SUT pinned to core 0, generator to core 1), as `loadgate run
--baseline FILE` makes them, in two experiments:

* ``fault``: the bundled SUT started fresh for every run; clean runs, and runs with the SUT's
  latency fault on POST /bets sized to +20% of its P50 and to +50% of its P95 (a fixed delay
  raises the quantile it was sized on by exactly that share).
* ``proxy``: one SUT started once and left running; every run goes through a delaying TCP
  proxy (``benchmarks/delay_proxy.py``, also on core 0) that holds POST /bets by nothing
  (clean) or by the same shares, so the regression arrives as a slower server would send it.

The first two clean runs of each experiment size the delays; every run after them is in a
shuffled order, so arms are not confounded with the machine's drift. Each run's result is kept
(``--out``), and ``--load DIR`` analyses them again with the current code, running nothing.

Analysis: trials draw K clean runs as the stored baseline and judge another run with
``verdict.judge``, exactly as ``loadgate run --baseline`` does (the gate's policy, the
target's budgets). A/A: a clean run outside the baseline; false alarm: any regression check
fails. Detection: a run of the arm; caught: POST /bets fails a regression check. Runs the
verdict refuses as invalid (a late generator) are counted apart and never judged or blessed.
Trials reuse the finite pools: the Wilson interval is over the trials, and the pool size
says how many independent outcomes stand behind it (printed beside it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from loadgate import stats  # noqa: E402
from loadgate.baselines import Baseline, run_of  # noqa: E402
from loadgate.config import budgets_for, load_profile, load_target  # noqa: E402
from loadgate.files import write_json_atomic  # noqa: E402
from loadgate.policy import GatePolicy  # noqa: E402
from loadgate.processes import free_port, wait_healthy  # noqa: E402
from loadgate.results import RunResult, read_result, write_result  # noqa: E402
from loadgate.runner import RunRequest, run  # noqa: E402
from loadgate.verdict import judge  # noqa: E402

TARGET = "POST /bets"
PROFILE = "smoke"
SIZES = (1, 2, 5, 10)


# Arm name -> (quantile, share): the delay added to every POST /bets is that share of the
# quantile in the latest clean runs (a SUT left running slows as it runs, so a delay sized
# once, at the start, would be a smaller and smaller share of the quantile it was sized on).
ARMS = {"+20% P50": (0.5, 0.2), "+50% P95": (0.95, 0.5)}
RECENT = 3  # clean runs the delay is sized on


class Proxied:
    """One SUT, started once and left running on core 0, reached through the delaying proxy."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port, self.proxy_port = free_port(), free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = (workdir / "sut.log").open("ab")
        self.sut = subprocess.Popen(
            ["taskset", "-c", "0", sys.executable, "-m", "sut", "--host", "127.0.0.1",
             "--port", str(self.port), "--db", str(workdir / "sut.db")],
            cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_healthy(f"http://127.0.0.1:{self.port}/healthz", None, 120)
            path = workdir / "running.toml"
            source = (REPO / "targets" / "running.toml").read_text()
            path.write_text(source.replace("127.0.0.1:8000", f"127.0.0.1:{self.proxy_port}"))
            self.target = load_target(str(path))
        except BaseException:
            self.close()
            raise

    def run(self, out: Path, delay_ms: float) -> RunResult:
        cmd = [sys.executable, str(REPO / "benchmarks" / "delay_proxy.py"),
               "--listen", str(self.proxy_port), "--upstream", str(self.port),
               "--for", "5m"]  # fmt: skip
        if delay_ms > 0:
            cmd += ["--delay", f"{TARGET}={delay_ms:.4f}ms"]
        proxy = subprocess.Popen(
            ["taskset", "-c", "0", *cmd], stdout=self.log, stderr=subprocess.STDOUT
        )
        try:
            wait_healthy(f"http://127.0.0.1:{self.proxy_port}/healthz", None, 30)
            return one_run(out, self.target, ())
        finally:
            proxy.terminate()
            proxy.wait(10)

    def close(self) -> None:
        self.sut.terminate()
        self.sut.wait(30)
        self.log.close()


def one_run(out: Path, target: object, faults: tuple[str, ...]) -> RunResult:
    profile = load_profile(PROFILE)
    request = RunRequest(target, profile, out_dir=out, pin=True, sut_faults=faults)  # type: ignore[arg-type]
    outcome = run(request)
    if outcome.infra_error:
        raise SystemExit(f"run in {out} failed: {outcome.infra_error}")
    write_result(out / "result.json", outcome.result)
    return outcome.result


def collect(
    experiment: str,
    out: Path,
    per_arm: int,
    clean: int,
    seed: int,
    extra: dict[str, float] | None = None,
) -> None:
    """Run one experiment's runs into ``out/<experiment>/``; index.json lists them in order.
    ``extra`` (arm name -> delay in ms): add those arms' runs, and ``clean`` clean runs, in a
    shuffled order to an experiment measured before."""
    home = out / experiment
    home.mkdir(parents=True, exist_ok=True)
    index: list[dict[str, object]] = []
    if extra:
        index = json.loads((home / "index.json").read_text())
    proxied = Proxied(home / "sut") if experiment == "proxy" else None
    started = time.monotonic()
    recent: list[RunResult] = []  # the latest clean runs, which size the next delays

    def sized(arm: str) -> float:
        q, share = ARMS[arm]
        latest = recent[-RECENT:]
        return share * statistics.median(value(r, q) for r in latest)

    def go(arm: str, delay: float) -> RunResult:
        n = len(index) + 1
        where = home / f"{n:02d}-{arm.replace(' ', '').replace('%', 'pc')}"
        load = os.getloadavg()[0]
        if proxied is not None:
            result = proxied.run(where, delay)
        else:
            fault = (f"latency:{TARGET}={delay:.4f}ms",) if delay > 0 else ()
            result = one_run(where, load_target("local"), fault)
        index.append(
            {"arm": arm, "delay_ms": delay, "path": str(where.relative_to(out)), "load": load}
        )
        write_json_atomic(home / "index.json", index)
        if arm == "clean":
            recent.append(result)
        p50 = value(result, 0.5)
        print(f"  {experiment} {n:>3} {arm:<9} delay {delay:6.3f} ms  {TARGET} P50 {p50:6.3f} ms  "
              f"load {load:4.2f}  {(time.monotonic() - started) / 60:5.1f} min",
              flush=True)  # fmt: skip
        return result

    try:
        if extra:
            plan = [("clean", 0.0)] * clean
            for arm, delay in extra.items():
                plan += [(arm, delay)] * per_arm
            random.Random(seed).shuffle(plan)
            for arm, delay in plan:
                go(arm, delay)
            return
        for _ in range(2):
            go("clean", 0.0)
        order = ["clean"] * (clean - 2) + [arm for arm in ARMS for _ in range(per_arm)]
        random.Random(seed).shuffle(order)
        for arm in order:
            go(arm, 0.0 if arm == "clean" else sized(arm))
    finally:
        if proxied is not None:
            proxied.close()


def load_index(out: Path, experiment: str) -> list[tuple[str, RunResult]]:
    """Every run of an experiment, in the order it ran, with its arm."""
    index = json.loads((out / experiment / "index.json").read_text())
    return [(e["arm"], read_result(out / e["path"] / "result.json")) for e in index]


def by_arm(runs: list[tuple[str, RunResult]]) -> dict[str, list[RunResult]]:
    """The runs of each arm, in the order they ran."""
    pools: dict[str, list[RunResult]] = {}
    for arm, kept in runs:
        pools.setdefault(arm, []).append(kept)
    return pools


def analyse(out: Path, experiment: str, trials: int, seed: int) -> None:
    ordered = load_index(out, experiment)
    pools = by_arm(ordered)
    target = load_target("local")
    profile = load_profile(PROFILE)
    budgets = budgets_for(target, profile)
    policy = GatePolicy.from_profile(dataclasses.asdict(profile))  # as `loadgate run` does
    refused: Counter[str] = Counter()
    valid: dict[str, list[RunResult]] = {}
    for arm, runs in pools.items():
        for r in runs:
            if judge(r, budgets, None, policy).status == "invalid":
                refused[arm] += 1
            else:
                valid.setdefault(arm, []).append(r)
    clean = valid.get("clean", [])
    print(f"\n{experiment}: runs per arm (valid / refused as invalid without a baseline): "
          + ", ".join(f"{a} {len(valid.get(a, []))}/{refused[a]}" for a in pools))  # fmt: skip
    print(effects(ordered))
    print(f"{'arm':<10} {'K':>3} {'trials':>6} {'verdict FAIL':>17} {'POST /bets caught':>18} "
          f"{'by P50':>7} {'by P95':>7} {'by P99':>7} {'invalid':>8}")  # fmt: skip
    rng = random.Random(seed)
    for arm in pools:
        for k in SIZES:
            spare = 1 if arm == "clean" else 0
            if len(clean) < k + spare or not valid.get(arm):
                continue
            fails = caught = invalid = 0
            by: Counter[str] = Counter()
            for _ in range(trials):
                judged = rng.choice(valid[arm])
                base = rng.sample([r for r in clean if r is not judged], k)
                baseline = Baseline(judged.target, judged.scenario, [run_of(r) for r in base])
                verdict = judge(judged, budgets, baseline, policy)
                invalid += verdict.status == "invalid"
                failed = [c for c in verdict.of_kind("regression") if c.status == "fail"]
                fails += verdict.status == "fail"
                bets = [c for c in failed if c.endpoint == TARGET]
                caught += bool(bets) and verdict.status == "fail"
                for c in bets:
                    by[c.name.split()[2]] += 1
            n = trials
            print(f"{arm:<10} {k:>3} {n:>6} {rate(fails, n):>17} {rate(caught, n):>18} "
                  + " ".join(f"{by[q] / n:>7.0%}" for q in ("p50", "p95", "p99"))
                  + f" {invalid / n:>8.1%}")  # fmt: skip


def value(run: RunResult, q: float, name: str = TARGET) -> float:
    """An endpoint's quantile in ms."""
    return run.endpoints[name].histogram.quantile(q) / 1000


def against(run: RunResult, near: list[RunResult], q: float, name: str) -> float:
    """A run's quantile over the geometric mean of the same quantile in ``near``."""
    ref = math.exp(statistics.fmean(math.log(value(r, q, name)) for r in near))
    return value(run, q, name) / ref


def effects(runs: list[tuple[str, RunResult]]) -> str:
    """What each arm did to POST /bets P50 and P95, and to the other busy endpoints' P50: the
    median over its runs of each run's value against the clean runs just before and after it
    (their geometric mean; a SUT left running drifts, so neighbours are the fair reference)."""
    busy = ("GET /bets", "GET /wallet", "GET /markets", "GET /markets/[id]", "WS odds")
    others = [n for n in busy if all(n in r.endpoints for _, r in runs)]
    ratios: dict[str, dict[str, list[float]]] = {}
    for i, (arm, judged) in enumerate(runs):
        near = [r for a, r in runs[:i] if a == "clean"][-1:]
        near += [r for a, r in runs[i + 1 :] if a == "clean"][:1]
        if not near:
            continue
        into = ratios.setdefault(arm, {"p50": [], "p95": [], "rest": []})
        into["p50"].append(against(judged, near, 0.5, TARGET))
        into["p95"].append(against(judged, near, 0.95, TARGET))
        into["rest"].append(statistics.median(against(judged, near, 0.5, n) for n in others))
    return "\n".join(
        f"  {arm:<10} measured against the neighbouring clean runs: {TARGET} P50 "
        f"x{statistics.median(r['p50']):.3f}, P95 x{statistics.median(r['p95']):.3f}; other "
        f"endpoints' P50 x{statistics.median(r['rest']):.3f} ({len(r['p50'])} runs)"
        for arm, r in ratios.items()
    )


def rate(hits: int, n: int) -> str:
    low, high = stats.wilson_interval(hits, n, 0.95)
    return f"{hits / n:.1%} ({low:.0%}-{high:.0%})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--experiments", nargs="+", choices=("fault", "proxy"), default=["fault", "proxy"]
    )
    parser.add_argument("--per-arm", type=int, default=6, help="runs per regression arm")
    parser.add_argument(
        "--clean", type=int, default=14, help="clean runs (2 of them size the delays)"
    )
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="keep the runs here")
    parser.add_argument("--load", type=Path, default=None, help="analyse runs kept earlier")
    parser.add_argument(
        "--add", action="append", default=[], metavar="ARM=MS",
        help="add --per-arm runs of an arm with this delay (and --clean clean runs) to the "
        "experiments kept in --out, e.g. --add '+20% P50 (sized)=0.12'",
    )  # fmt: skip
    args = parser.parse_args()
    extra = {a.rsplit("=", 1)[0]: float(a.rsplit("=", 1)[1]) for a in args.add}
    out = args.load or args.out or Path(tempfile.mkdtemp(prefix="lg-stored-"))
    if args.load is None:
        print(f"machine: {platform.node()} · {psutil.cpu_count()} cores · Python "
              f"{platform.python_version()} · load average {os.getloadavg()[0]:.2f} · "
              f"runs in {out}",
              flush=True)  # fmt: skip
        for experiment in args.experiments:
            collect(experiment, out, args.per_arm, args.clean, args.seed, extra)
    for experiment in args.experiments:
        if (out / experiment / "index.json").exists():
            analyse(out, experiment, args.trials, args.seed)


if __name__ == "__main__":
    main()
