"""What the load generator spends per event (not a test): prints a table.

The generator's performance budget is its CPU per event: every scenario request by kind, every
WebSocket odds message, every user start with its login. Each kind runs alone for a few
seconds in a Locust process pinned to core 1 (the bundled SUT is pinned to core 0), at a
moderate fixed pace, with the real scenario code and the loadgate recorder as a run uses them;
a tiny probe in the locustfile reads the process's CPU time (all threads) and counts the events
in a window after the users have settled. Next to each kind, in the same round: plain
``FastHttpUser`` on a trivial GET, so the ratio holds on a noisy machine. Medians over rounds.

``--repo DIR`` measures another checkout's scenarios and plugin (a before/after comparison):
the probe needs nothing from the code under test. Traffic goes only to 127.0.0.1; every phase
is bounded in time. Usage::

    python benchmarks/generator_cost.py [--rounds 3] [--window 8] [--repo DIR] [--only KIND]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from loadgate.processes import free_port  # noqa: E402

BETTOR_TASKS = ("browse_markets", "filter_markets", "view_market", "place_bet")
BETTOR_TASKS += ("check_wallet", "bet_history")

# The probe: counts the events and reads the CPU time at the edges of the window.
PROBE = """
import json, os, time
import gevent
from locust import events

_COUNT = {}
# a match-day generator holds thousands of connections: open files up to the same height, so
# every user's socket gets a number above 1023 as it would there
_HELD = [os.open(os.devnull, os.O_RDONLY) for _ in range(int(os.environ.get("COST_FDS", "0")))]

@events.request.add_listener
def _count(request_type, name, exception=None, **_kw):
    key = f"{request_type} {name}"
    _COUNT[key] = _COUNT.get(key, 0) + 1

@events.test_start.add_listener
def _window(environment, **_kw):
    def measure():
        gevent.sleep(float(os.environ["COST_SETTLE"]))
        t0, c0, n0 = time.monotonic(), sum(os.times()[:2]), dict(_COUNT)
        gevent.sleep(float(os.environ["COST_WINDOW"]))
        t1, c1, n1 = time.monotonic(), sum(os.times()[:2]), dict(_COUNT)
        events = {k: n1.get(k, 0) - n0.get(k, 0) for k in n1}
        with open(os.environ["COST_OUT"], "w") as fh:
            json.dump({"seconds": t1 - t0, "cpu_s": c1 - c0, "events": events}, fh)
    gevent.spawn(measure)
"""


@dataclass(frozen=True)
class Kind:
    """One kind of event, measured alone."""

    name: str
    body: str  # the locustfile's user class
    users: int = 50
    spawn_rate: float = 50.0
    settle_s: float = 3.0
    event: str = ""  # the event counted (default: every event of the phase)


def _bettor(task: str) -> str:
    return textwrap.dedent(
        f"""
        from locust import constant
        from scenarios.bettor import Bettor
        class Probe(Bettor):
            wait_time = constant(0.05)
        Probe.tasks = [Bettor.{task}]  # a subclass's own `tasks` would add to the inherited
        """
    )


def _agent(task: str) -> str:
    return textwrap.dedent(
        f"""
        from locust import constant
        from scenarios.agent import Agent
        class Probe(Agent):
            wait_time = constant(0.05)
        Probe.tasks = [Agent.{task}]
        """
    )


PLAIN = textwrap.dedent(
    """
    from locust import FastHttpUser, constant, task
    class Probe(FastHttpUser):
        wait_time = constant(0.05)
        @task
        def ping(self):
            self.client.get("/healthz")
    """
)
LEAN = textwrap.dedent(
    """
    from locust import constant, task
    from scenarios.leanhttp import LeanHttpUser
    class Probe(LeanHttpUser):
        wait_time = constant(0.05)
        @task
        def ping(self):
            self.client.get("/healthz")
    """
)
LOGIN = textwrap.dedent(
    """
    from locust import constant
    from scenarios.bettor import Bettor
    class Probe(Bettor):
        wait_time = constant(600)
    def idle(user):
        pass
    Probe.tasks = [idle]
    """
)
WATCH = textwrap.dedent(
    """
    from scenarios.watcher import OddsWatcher
    class Probe(OddsWatcher):
        pass
    """
)

KINDS = (
    Kind("trivial GET (plain FastHttpUser)", PLAIN),
    Kind("trivial GET (LeanHttpUser)", LEAN),
    *(Kind(f"Bettor.{t}", _bettor(t)) for t in BETTOR_TASKS),
    Kind("Agent.dashboard", _agent("dashboard"), users=25),
    Kind("Agent.downline", _agent("downline"), users=25),
    Kind("WS odds message (200 watchers)", WATCH, 200, 100.0, 5.0, "WS odds"),
    Kind("user start + login", LOGIN, 600, 100.0, 0.5, "POST /auth/login"),
)


@contextlib.contextmanager
def sut(repo: Path, workdir: Path) -> Iterator[str]:
    """The bundled SUT of ``repo`` on core 0, seeded, on a free port."""
    port = free_port()
    log = (workdir / "sut.log").open("wb")
    cmd = [sys.executable, "-m", "sut", "--port", str(port), "--db", str(workdir / "sut.db")]
    proc = subprocess.Popen(
        ["taskset", "-c", "0", *cmd],
        cwd=repo,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=2).is_success:
                    break
            if proc.poll() is not None:
                raise RuntimeError(f"the SUT exited: see {workdir / 'sut.log'}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def measure(
    kind: Kind, repo: Path, url: str, workdir: Path, window: float, fds: int
) -> dict[str, Any]:
    """One phase: CPU µs per event and events per second."""
    locustfile = workdir / "probe_locustfile.py"
    locustfile.write_text(
        f"import sys\nsys.path.insert(0, {str(repo)!r})\n{PROBE}\n{kind.body}\n"
        "from loadgate import plugin\nplugin.install()\n"
    )
    out = workdir / "cost.json"
    out.unlink(missing_ok=True)
    run_time = math.ceil(kind.settle_s + window + 2)
    cmd = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--only-summary",
        "-u", str(kind.users), "-r", f"{kind.spawn_rate:g}", "-t", f"{run_time:g}s",
        "--host", url, "--stop-timeout", "2",
        "--loadgate-record", str(workdir / "recording.json"),
        "Probe",  # only the probe's class: the module also holds the imported scenario classes
    ]  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": str(repo),
        "COST_SETTLE": f"{kind.settle_s:g}",
        "COST_WINDOW": f"{window:g}",
        "COST_OUT": str(out),
        "COST_FDS": str(fds),
    }
    with (workdir / "locust.log").open("wb") as log:
        subprocess.run(
            ["taskset", "-c", "1", *cmd],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=run_time + 90,
            check=False,
        )
    if not out.exists():
        raise RuntimeError(f"{kind.name}: no measurement; see {workdir / 'locust.log'}")
    data = json.loads(out.read_text())
    counted = data["events"]
    n = counted.get(kind.event, 0) if kind.event else sum(counted.values())
    if n == 0:
        raise RuntimeError(f"{kind.name}: no events in the window; see {workdir / 'locust.log'}")
    return {
        "us": data["cpu_s"] / n * 1e6,
        "rate": n / data["seconds"],
        "cpu": data["cpu_s"] / data["seconds"] * 100,
        "mix": counted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=float, default=8.0, help="measured seconds per phase")
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout to measure")
    parser.add_argument("--only", default="", help="measure only kinds containing this text")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument(
        "--fds",
        type=int,
        default=3500,
        help="open files the generator holds, as with match day's 3,450 users (0: none)",
    )
    args = parser.parse_args()
    repo = args.repo.resolve()
    kinds = [k for k in KINDS if args.only in k.name or k is KINDS[0]]
    if not (args.repo / "scenarios" / "leanhttp.py").exists():  # an older checkout
        kinds = [k for k in kinds if k.body is not LEAN]
    print(
        f"machine: {platform.node()} · {platform.processor() or platform.machine()} · "
        f"{psutil.cpu_count()} cores · Python {platform.python_version()} · "
        f"load average {os.getloadavg()[0]:.2f} · code: {repo}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="lg-cost-"))
    rows: dict[str, list[dict[str, Any]]] = {k.name: [] for k in kinds}
    with sut(repo, workdir) as url:
        for r in range(args.rounds):
            for kind in kinds:
                rows[kind.name].append(measure(kind, repo, url, workdir, args.window, args.fds))
            print(f"  round {r + 1}/{args.rounds} done", file=sys.stderr)
    reference = rows[kinds[0].name]
    print(
        f"\nCPU per event of the generator (one process on core 1, SUT on core 0; median of "
        f"{args.rounds} rounds, {args.window:g}-s windows, {args.fds} files held open; 'x trivial':"
        " ratio to the trivial GET of the same round)"
    )
    print(f"  {'event':<34} {'µs/event':>9} {'spread':>13} {'x trivial':>9} {'events/s':>9}"
          f" {'CPU %':>6}  mix")  # fmt: skip
    table = []
    for kind in kinds:
        measured = rows[kind.name]
        us = [m["us"] for m in measured]
        ratio = [m["us"] / ref["us"] for m, ref in zip(measured, reference, strict=True)]
        mix = measured[-1]["mix"]
        total = sum(mix.values()) or 1
        share = ", ".join(
            f"{k} {v / total:.0%}" for k, v in sorted(mix.items(), key=lambda x: -x[1])
        )
        row = {
            "event": kind.name,
            "us": statistics.median(us),
            "min": min(us),
            "max": max(us),
            "ratio": statistics.median(ratio),
            "rate": statistics.median(m["rate"] for m in measured),
            "cpu": statistics.median(m["cpu"] for m in measured),
        }
        table.append(row)
        print(
            f"  {kind.name:<34} {row['us']:>9.0f} {row['min']:>6.0f}-{row['max']:<6.0f}"
            f" {row['ratio']:>9.2f} {row['rate']:>9.0f} {row['cpu']:>6.0f}  {share}"
        )
    if args.json:
        args.json.write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
