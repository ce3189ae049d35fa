"""Benchmark of the bundled SUT (not a test): prints a table of throughput and latency.

The SUT runs as ``python -m sut`` pinned to core 0 (``taskset``) and this load generator
pins itself to core 1, so they do not steal each other's CPU. Traffic goes only to
127.0.0.1 and every phase is bounded in time. Usage::

    python benchmarks/sut_bench.py [--seconds 10] [--concurrency 64] [--quick]

Targets (DESIGN §4/§7): >= 3,000 RPS mixed at P99 < 50 ms, dashboard P99 < 25 ms,
SUT RSS <= 150 MB with 20,000 markets streaming.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psutil

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


@dataclass
class Sample:
    """Latencies (seconds) and status counts of one named request kind."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, latency: float, status: int) -> None:
        self.latencies.append(latency)
        self.statuses[status] = self.statuses.get(status, 0) + 1


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (exact on the recorded samples)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))]


class Connection:
    """A minimal keep-alive HTTP/1.1 client: fast enough to load the SUT from one core."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, token: str | None = None, body: object = None
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        payload = orjson.dumps(body) if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: {len(payload)}\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        if payload:
            head += "Content-Type: application/json\r\n"
        self.writer.write(head.encode() + b"\r\n" + payload)
        header = await self.reader.readuntil(b"\r\n\r\n")
        status = int(header[9:12])
        length = 0
        for line in header.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        data = await self.reader.readexactly(length)
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def sut(db: Path, *extra: str) -> Iterator[tuple[int, psutil.Process]]:
    """Start the SUT pinned to core 0; yield (port, process)."""
    port = free_port()
    cmd = [sys.executable, "-m", "sut", "--port", str(port), "--db", str(db), *extra]
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        cmd = ["taskset", "-c", "0", *cmd]
    proc = subprocess.Popen(cmd, cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("SUT did not start")
        yield port, psutil.Process(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


async def login_many(port: int, names: list[str]) -> list[str]:
    conn = Connection(port)
    tokens = []
    for name in names:
        status, data = await conn.request(
            "POST", "/auth/login", body={"username": name, "password": "loadtest"}
        )
        assert status == 200, data
        tokens.append(orjson.loads(data)["token"])
    conn.close()
    return tokens


Action = Callable[[Connection, random.Random, dict[str, Sample]], Awaitable[None]]


async def timed(
    conn: Connection, samples: dict[str, Sample], name: str, method: str, path: str,
    token: str | None = None, body: object = None,
) -> bytes:  # fmt: skip
    start = time.perf_counter()
    status, data = await conn.request(method, path, token, body)
    samples.setdefault(name, Sample()).add(time.perf_counter() - start, status)
    return data


async def drive(
    port: int, action: Action, concurrency: int, seconds: float
) -> tuple[dict[str, Sample], float]:
    """Run ``action`` in a closed loop on ``concurrency`` connections for ``seconds``."""
    samples: dict[str, Sample] = {}
    deadline = time.monotonic() + seconds

    async def worker(seed: int) -> None:
        conn = Connection(port)
        rng = random.Random(seed)
        try:
            while time.monotonic() < deadline:
                await action(conn, rng, samples)
        finally:
            conn.close()

    start = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return samples, time.monotonic() - start


def market_reads(bettors: list[str], markets: int) -> Action:
    async def act(conn: Connection, rng: random.Random, samples: dict[str, Sample]) -> None:
        token = rng.choice(bettors)
        if rng.random() < 0.8:
            await timed(
                conn,
                samples,
                "GET /markets/[id]",
                "GET",
                f"/markets/{rng.randint(1, markets)}",
                token,
            )
        else:
            await timed(conn, samples, "GET /markets", "GET", "/markets?limit=50", token)

    return act


def bet_placement(bettors: list[str], markets: int) -> Action:
    async def act(conn: Connection, rng: random.Random, samples: dict[str, Sample]) -> None:
        token = rng.choice(bettors)
        market_id = rng.randint(1, markets)
        market = orjson.loads(
            await timed(conn, samples, "GET /markets/[id]", "GET", f"/markets/{market_id}", token)
        )
        selection = rng.choice(market["selections"])
        body = {
            "market_id": market_id,
            "selection_id": selection["id"],
            "stake": 1.0,
            "odds": selection["odds"],
            "idempotency_key": f"{time.time_ns()}-{rng.random()}",
        }
        await timed(conn, samples, "POST /bets", "POST", "/bets", token, body)

    return act


def dashboards(agents: list[str]) -> Action:
    async def act(conn: Connection, rng: random.Random, samples: dict[str, Sample]) -> None:
        await timed(
            conn,
            samples,
            "GET /agents/me/dashboard",
            "GET",
            "/agents/me/dashboard",
            rng.choice(agents),
        )

    return act


def mixed(bettors: list[str], agents: list[str], markets: int) -> Action:
    reads, bets, dash = (
        market_reads(bettors, markets),
        bet_placement(bettors, markets),
        dashboards(agents),
    )

    async def act(conn: Connection, rng: random.Random, samples: dict[str, Sample]) -> None:
        roll = rng.random()
        if roll < 0.55:
            await reads(conn, rng, samples)
        elif roll < 0.80:
            await bets(conn, rng, samples)
        elif roll < 0.90:
            await dash(conn, rng, samples)
        else:
            await timed(conn, samples, "GET /wallet", "GET", "/wallet", rng.choice(bettors))

    return act


def report(title: str, samples: dict[str, Sample], elapsed: float) -> None:
    total = sum(len(s.latencies) for s in samples.values())
    print(f"\n## {title}: {total / elapsed:,.0f} req/s total over {elapsed:.1f} s")
    print(f"{'request':28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  statuses")
    for name, s in sorted(samples.items()):
        print(
            f"{name:28} {len(s.latencies) / elapsed:8,.0f} {quantile(s.latencies, 0.5) * 1e3:8.2f}"
            f" {quantile(s.latencies, 0.99) * 1e3:8.2f} {max(s.latencies) * 1e3:8.2f}  {s.statuses}"
        )


async def stream_phase(
    port: int, token: str, subscribers: int, markets: int, seconds: float
) -> None:
    import websockets

    latencies: list[float] = []
    received = 0
    deadline = time.monotonic() + seconds

    async def client(seed: int) -> None:
        nonlocal received
        rng = random.Random(seed)
        async with websockets.connect(
            f"ws://{HOST}:{port}/stream?token={token}", max_queue=None
        ) as ws:
            await ws.send(
                orjson.dumps(
                    {"op": "subscribe", "markets": rng.sample(range(1, markets + 1), 20)}
                ).decode()
            )
            while (left := deadline - time.monotonic()) > 0:
                try:
                    raw = await asyncio.wait_for(ws.recv(), left)
                except TimeoutError:
                    break
                frame = orjson.loads(raw)
                if frame.get("type") == "odds":
                    received += 1
                    latencies.append(time.time() - frame["sent_at"])

    start = time.monotonic()
    results = await asyncio.gather(*(client(i) for i in range(subscribers)), return_exceptions=True)
    elapsed = time.monotonic() - start
    failures = sum(isinstance(r, BaseException) for r in results)
    print(f"\n## stream: {subscribers} subscribers x 20 markets, {elapsed:.1f} s")
    print(f"delivered {received / elapsed:,.0f} odds msg/s; send->receive p50 "
          f"{quantile(latencies, 0.5) * 1e3:.2f} ms p99 {quantile(latencies, 0.99) * 1e3:.2f} ms;"
          f" failed connections {failures}")  # fmt: skip


async def main_async(args: argparse.Namespace) -> None:
    markets = 20_000
    tmp = Path(tempfile.mkdtemp(prefix="sut-bench-"))
    db = tmp / "bench.db"
    seconds, conc = args.seconds, args.concurrency
    try:
        with sut(db) as (port, proc):
            bettors = await login_many(port, [f"bettor{i}" for i in range(1, 401)])
            agents = await login_many(port, [f"agent{i}" for i in range(1, 256)])
            admin = (await login_many(port, ["admin"]))[0]
            for title, action in [
                ("market reads", market_reads(bettors, markets)),
                ("bet placement (GET market + POST bet)", bet_placement(bettors, markets)),
                ("dashboard reads (aggregates)", dashboards(agents)),
                (
                    "mixed 55% reads / 25% bets / 10% dashboards / 10% wallet",
                    mixed(bettors, agents, markets),
                ),
            ]:
                samples, elapsed = await drive(port, action, conc, seconds)
                report(title, samples, elapsed)
            print(f"\nSUT RSS after HTTP phases: {proc.memory_info().rss / 2**20:.0f} MB")
            if not args.quick:
                await stream_phase(port, admin, args.subscribers, markets, seconds)
                print(f"SUT RSS with 20,000 markets streaming to {args.subscribers} clients:"
                      f" {proc.memory_info().rss / 2**20:.0f} MB")  # fmt: skip
        if not args.quick:
            with sut(db, "--fault", "naive_dashboard") as (port, _):
                agents = await login_many(port, [f"agent{i}" for i in range(1, 256)])
                samples, elapsed = await drive(port, dashboards(agents), conc, seconds)
                report("dashboard reads with fault naive_dashboard (same data)", samples, elapsed)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="HTTP phases only")
    args = parser.parse_args()
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cpus,", end=" ")
    print(f"python {platform.python_version()}; SUT on core 0, load on core 1;", end=" ")
    print(f"concurrency {args.concurrency}; {args.seconds:.0f} s per phase")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
