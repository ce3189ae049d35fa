"""Benchmark of the load generator (not a test): prints a table.

1. Recording overhead: requests/s of plain Locust ``FastHttpUser`` vs the same user with
   loadgate's recorder plugin, side by side against one trivial endpoint (Starlette on uvicorn,
   pinned to core 0; Locust pinned to core 1), alternated A B A B ..., medians quoted.
2. Users one generator process holds: 3,000 bettors + 250 agents + 200 odds watchers (their
   100 markets each cover all 20,000) against the bundled SUT, people-paced (think x3); the
   generator's CPU and RSS once all are up. Then 10,000 users with ``--processes 2``.
3. The ``peak`` profile against the bundled SUT, as ``loadgate run --scenario peak`` runs it.

Traffic goes only to 127.0.0.1; every phase is bounded in time. Usage::

    python benchmarks/generator_bench.py [--quick] [--skip-peak] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from loadgate.config import Profile, load_profile, load_target  # noqa: E402
from loadgate.processes import free_port  # noqa: E402
from loadgate.results import RunResult, write_result  # noqa: E402
from loadgate.runner import RunRequest, run  # noqa: E402

PING_APP = textwrap.dedent(
    """
    import sys, uvicorn
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    async def ping(request):
        return PlainTextResponse("pong")
    app = Starlette(routes=[Route("/ping", ping)])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=False,
                log_level="warning", loop="uvloop", http="httptools")
    """
)
PLAIN = textwrap.dedent(
    """
    from locust import FastHttpUser, constant, task
    class Ping(FastHttpUser):
        wait_time = constant(0)
        @task
        def ping(self):
            self.client.get("/ping")
    """
)
RECORDED = PLAIN + "\nfrom loadgate import plugin\nplugin.install()\n"


def _pinned(cmd: list[str], core: int, **kw: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["taskset", "-c", str(core), *cmd], **kw)  # type: ignore[call-overload]


def overhead(rounds: int, seconds: int, users: int) -> tuple[float, float]:
    """Median req/s of plain Locust and of Locust with the recorder, alternated."""
    work = Path(tempfile.mkdtemp(prefix="lg-bench-"))
    (work / "ping.py").write_text(PING_APP)
    (work / "plain.py").write_text(PLAIN)
    (work / "recorded.py").write_text(RECORDED)
    port = free_port()
    server = _pinned([sys.executable, str(work / "ping.py"), str(port)], 0)
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/ping")
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        rates: dict[str, list[float]] = {"plain": [], "recorded": []}
        for i in range(rounds * 2):
            kind = ("plain", "recorded")[i % 2]
            extra = ["--loadgate-record", str(work / f"rec{i}.json")] if kind == "recorded" else []
            cmd = [
                sys.executable, "-m", "locust", "-f", str(work / f"{kind}.py"), "--headless",
                "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--only-summary",
                "--host", f"http://127.0.0.1:{port}", "--csv", str(work / f"s{i}"), *extra,
            ]  # fmt: skip
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            _pinned(cmd, 1, env=env, cwd=work, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL).wait(seconds + 60)  # fmt: skip
            with (work / f"s{i}_stats.csv").open() as fh:
                total = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
            rates[kind].append(float(total["Requests/s"]))
        return statistics.median(rates["plain"]), statistics.median(rates["recorded"])
    finally:
        server.terminate()
        server.wait(10)


def listener_cost_us(n: int = 200_000) -> tuple[float, float]:
    """µs per ``events.request.fire`` with Locust's own listeners only, and with the recorder
    too (in-process, so the shared machine's noise barely touches it)."""
    code = textwrap.dedent(
        f"""
        import time
        from locust.env import Environment
        from loadgate.plugin import _Wiring
        env = Environment()
        env.create_local_runner()
        fire = env.events.request.fire
        def bench():
            t = time.perf_counter()
            for i in range({n}):
                fire(request_type="GET", name="/ping", response_time=1.0 + (i % 50) / 10,
                     response_length=4, exception=None, context={{}}, start_time=time.time(),
                     url="/ping", response=None)
            return (time.perf_counter() - t) / {n} * 1e6
        base = min(bench() for _ in range(3))
        wiring = _Wiring(env)
        env.events.request.add_listener(wiring.on_request)
        wiring.recorder.start(time.time())
        print(base, min(bench() for _ in range(3)))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)  # fmt: skip
    base, recorded = (float(x) for x in out.stdout.split())
    return base, recorded


def held(result: RunResult) -> tuple[float, float, list[str]]:
    """Mean CPU (% of a core, busiest generator process) and max RSS after the ramp."""
    gens = [p for p in result.processes if p.role.startswith("generator")]
    cpu, rss, each = 0.0, 0.0, []
    for p in gens:
        values = [c for t, c in zip(p.t, p.cpu_percent, strict=True) if t >= result.warmup_s]
        mean = statistics.mean(values) if values else 0.0
        cpu, rss = max(cpu, mean), max(rss, p.rss_max_mb)
        each.append(f"{p.role} {mean:.0f}% {p.rss_max_mb:.0f} MB")
    return cpu, rss, each


def users_run(users: dict[str, int], processes: int, think: float, warm: float) -> RunResult:
    total = sum(users.values())
    profile = Profile(
        f"hold{total}", users=total, spawn_rate=max(50, total / (warm - 5)), warmup_s=warm,
        duration_s=30, user_classes=users, processes=processes, think_scale=think,
    )  # fmt: skip
    out = Path(tempfile.mkdtemp(prefix="lg-bench-")) / "run"
    return run(RunRequest(load_target("local"), profile, out_dir=out)).result


def endpoint_rows(result: RunResult) -> list[str]:
    rows = []
    for name, ep in sorted(result.endpoints.items()):
        rows.append(
            f"  {name:<32} {ep.requests:>8} {ep.failures:>5} "
            f"{ep.quantile_ms(0.95):>9.1f} {ep.quantile_ms(0.99):>9.1f}  "
            + ", ".join(f"{k} {v}" for k, v in sorted(ep.outcomes.items()))
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases")
    parser.add_argument("--skip-peak", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    seconds = 8 if args.quick else 15
    print(f"machine: {platform.node()} · {platform.processor() or platform.machine()} · "
          f"{psutil.cpu_count()} cores · Python {platform.python_version()}")  # fmt: skip

    plain, recorded = overhead(args.rounds, seconds, users=20)
    print(
        "\n1. recording overhead (trivial GET /ping, server core 0, Locust core 1, median of "
        f"{args.rounds} alternated runs of {seconds} s, 20 users, no wait)"
    )
    print(f"  plain FastHttpUser      {plain:>9.0f} req/s")
    print(f"  with loadgate recorder  {recorded:>9.0f} req/s  ({recorded / plain * 100:.1f}%)")
    base, with_recorder = listener_cost_us()
    extra = with_recorder - base
    print(
        f"  per request, in-process: Locust's listeners {base:.1f} µs, + recorder {extra:.1f} µs"
        f" = {extra / (1e6 / plain) * 100:.1f}% of a request at the plain rate"
    )

    mix = {"Bettor": 3000, "Agent": 250, "OddsWatcher": 200}
    one = users_run(mix, 1, think=3.0, warm=45)
    cpu, rss, _ = held(one)
    ws = one.endpoints.get("WS odds")
    print("\n2. users one generator process holds (bundled SUT on core 0, think x3)")
    print(f"  {one.users_reached} users (3,000 bettors + 250 agents + 200 watchers x 100 markets)"
          f": {cpu:.0f}% of a core, {rss:.0f} MB RSS, {one.rps:.0f} req+msg/s, "
          f"WS odds {ws.histogram.count / one.window_s if ws else 0:.0f} msg/s")  # fmt: skip
    big = users_run({"Bettor": 9000, "Agent": 600, "OddsWatcher": 400}, 2, think=8.0, warm=70)
    cpu2, rss2, each = held(big)
    print(f"  {big.users_reached} users, --processes 2 (think x8): busiest {cpu2:.0f}% of a "
          f"core, max {rss2:.0f} MB; {'; '.join(each)}")  # fmt: skip

    if not args.skip_peak:
        out = Path(tempfile.mkdtemp(prefix="lg-bench-")) / "run"
        peak = run(RunRequest(load_target("local"), load_profile("peak"), out_dir=out)).result
        write_result(out / "result.json", peak)
        cpu3, rss3, _ = held(peak)
        print("\n3. peak profile against the bundled SUT (loadgate run --scenario peak)")
        print(f"  users reached {peak.users_reached} (target {peak.users_target} + goal rush), "
              f"{peak.rps:.0f} req+msg/s over {peak.window_s:.0f} s, generator {cpu3:.0f}% "
              f"of a core, {rss3:.0f} MB; result: {out / 'result.json'}")  # fmt: skip
        print(
            f"  {'endpoint':<32} {'requests':>8} {'fail':>5} {'p95 ms':>9} {'p99 ms':>9}  outcomes"
        )
        for row in endpoint_rows(peak):
            print(row)


if __name__ == "__main__":
    main()
