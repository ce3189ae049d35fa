"""Benchmark (not a test): the SUT's two profiles side by side, through the real harness.

For each scenario (default ``smoke`` and ``peak``) it runs ``loadgate run`` against
``targets/local.toml`` (SQLite, in-process bus) and ``targets/local-pg.toml``
(PostgreSQL + Redis) back to back, alternating which goes first per repeat, and prints one
table: throughput and P95/P99 per endpoint, DB retries and deadlocks, event-bus lag and
SUT RSS. While a run is going it scrapes the SUT's ``/metrics`` every 0.5 s (found as the
``python -m sut`` child of the ``loadgate`` process) for the bus lag and retry counters.

The harness pins the SUT to core 0 and Locust to the other cores; the PostgreSQL and
Redis servers are not pinned (they compete with both), and their memory is not in the
SUT's RSS. Usage::

    python benchmarks/pg_bench.py [--scenario smoke --scenario peak] [--repeats 1]
        [--duration 2m] [--users N] [--out DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from loadgate.results import read_result

REPO = Path(__file__).resolve().parents[1]
TARGETS = ("local", "local-pg")
ENDPOINTS = ("POST /bets", "GET /markets", "GET /markets/[id]", "GET /wallet",
             "GET /agents/me/dashboard", "WS odds")  # fmt: skip


@dataclass
class Scrape:
    """Maxima and last values of the SUT's gauges over one run."""

    lag_max_s: float = 0.0
    pending_max: float = 0.0
    last: dict[str, float] = field(default_factory=dict)


def _sut_port(parent: psutil.Process) -> int | None:
    for child in parent.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            cmd = child.cmdline()
            if "sut" in cmd and "--port" in cmd and "-m" in cmd:
                return int(cmd[cmd.index("--port") + 1])
    return None


def _scrape(pid: int, stop: threading.Event, into: Scrape) -> None:
    parent = psutil.Process(pid)
    port = None
    while not stop.wait(0.5):
        with contextlib.suppress(psutil.Error, httpx.HTTPError, ValueError):
            port = port or _sut_port(parent)
            if port is None:
                continue
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            for line in text.splitlines():
                if line.startswith("sut_") and " " in line and "{" not in line:
                    name, value = line.split(" ", 1)
                    into.last[name] = float(value)
            into.lag_max_s = max(into.lag_max_s, into.last.get("sut_event_bus_lag_seconds", 0))
            into.pending_max = max(into.pending_max, into.last.get("sut_event_bus_pending", 0))


def run_once(target: str, scenario: str, out: Path, extra: list[str]) -> tuple[Path, Scrape, int]:
    """One ``loadgate run``; returns (result path, scraped gauges, exit code)."""
    cmd = [sys.executable, "-m", "loadgate.cli", "run", "--target", target, "--scenario",
           scenario, "--out", str(out), "--no-baseline", *extra]  # fmt: skip
    log = out.with_suffix(".log")
    with log.open("w") as sink:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
        scraped, stop = Scrape(), threading.Event()
        thread = threading.Thread(target=_scrape, args=(proc.pid, stop, scraped), daemon=True)
        thread.start()
        code = proc.wait()
        stop.set()
        thread.join(5)
    return out / "result.json", scraped, code


def rows_for(target: str, scenario: str, path: Path, scraped: Scrape, code: int) -> list[str]:
    """Table rows for one run: one per endpoint, the run-level figures on the first."""
    result = read_result(path)
    sut = next((p for p in result.processes if p.role == "sut"), None)
    rss = f"{sut.rss_max_mb:.0f}" if sut else "?"
    retries = scraped.last.get("sut_db_retries", 0)
    deadlocks = scraped.last.get("sut_db_deadlocks", 0)
    audit = "ok" if result.audit and result.audit.get("ok") else "BROKEN"
    head = (f"{target} | {scenario} | {code} | {result.total_requests / result.window_s:.0f}"
            f" | {retries:.0f} / {deadlocks:.0f} | {scraped.lag_max_s * 1000:.1f}"
            f" | {scraped.pending_max:.0f} | {rss} | {audit}")  # fmt: skip
    lines = [f"| {head} | | | | |"]
    for name in ENDPOINTS:
        ep = result.endpoints.get(name)
        if ep is None or ep.histogram.count == 0:
            continue
        rate = ep.histogram.count / result.window_s
        lines.append(
            f"| | | | | | | | | | {name} | {rate:.0f}/s | {ep.quantile_ms(0.95):.1f}"
            f" | {ep.quantile_ms(0.99):.1f} |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", default=None)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--duration", default=None, help="override each scenario's duration")
    parser.add_argument("--users", default=None, help="override each scenario's users")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    scenarios = args.scenario or ["smoke", "peak"]
    extra = [f for flag, value in (("--duration", args.duration), ("--users", args.users))
             if value for f in (flag, value)]  # fmt: skip
    out = args.out or Path(tempfile.mkdtemp(prefix="pg-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores,"
          f" python {platform.python_version()}; runs in {out}", flush=True)  # fmt: skip
    table = [
        "| target | scenario | exit | req/s | DB retries / deadlocks | bus lag max ms"
        " | bus pending max | SUT RSS MB | audit | endpoint | req/s | P95 ms | P99 ms |",
        "|" + "---|" * 13,
    ]
    for scenario in scenarios:
        for repeat in range(args.repeats):
            order = TARGETS if repeat % 2 == 0 else TARGETS[::-1]
            for target in order:
                started = time.monotonic()
                path, scraped, code = run_once(
                    target, scenario, out / f"{scenario}-{target}-{repeat}", extra
                )
                print(f"{scenario} {target} #{repeat}: exit {code} in"
                      f" {time.monotonic() - started:.0f} s", flush=True)  # fmt: skip
                if path.is_file():
                    table.extend(rows_for(target, scenario, path, scraped, code))
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
