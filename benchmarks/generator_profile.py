"""Where the load generator's CPU goes (not a test): py-spy on a real run, as a table.

Starts ``loadgate run`` (any target and scenario; ``peak`` by default), waits for its Locust
process, and samples it with py-spy (``pip install py-spy``, without pausing it) for a while
after the warm-up has begun. Prints the share of samples by part of the stack (the HTTP
client, Locust's own bookkeeping, loadgate's recorder, JSON, WebSocket frames, the scenarios,
gevent's hub, DNS resolution and connects), then the functions with the most samples of their
own and in total. A profile is for finding what to cut, not a figure: the sampler takes a little
CPU from the machine. Usage::

    python benchmarks/generator_profile.py [--scenario peak] [--after 40] [--seconds 60]
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

# first match wins, tested against every frame from the leaf up
PARTS = (
    ("DNS lookup (gevent resolver threads)", r"resolver|getaddrinfo|threadpool"),
    ("connect", r"\bconnect\b|_create_socket|create_connection"),
    ("JSON", r"orjson|json/|\bjson_of\b|\bloads\b|\bdumps\b"),
    ("WebSocket frames (websocket-client)", r"websocket/"),
    ("loadgate recorder", r"loadgate/(recording|histogram|health|plugin)"),
    ("Locust stats and events", r"locust/(stats|event)"),
    ("HTTP client (geventhttpclient)", r"geventhttpclient/|fasthttp"),
    ("scenarios (think time, tasks)", r"scenarios/"),
    ("Locust users and tasks", r"locust/(user|runners|dispatch)"),
    ("gevent hub and greenlet switches", r"gevent/|greenlet"),
)


def _frames(stack: str) -> list[str]:
    return [f for f in stack.split(";") if f]


def part_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, pattern in PARTS:
            if re.search(pattern, frame):
                return name
    return "other"


def report(raw: Path, top: int) -> None:
    total = 0
    parts: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = _frames(stack)
        if not frames:
            continue
        total += n
        parts[part_of(frames)] += n
        own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    if not total:
        print("no samples")
        return
    print(f"\n{total} samples of the Locust process")
    print(f"\n  {'part of the stack':<40} {'share':>6}")
    for name, n in parts.most_common():
        print(f"  {name:<40} {n / total:>6.1%}")
    print(f"\n  {'functions with the most samples of their own':<100} {'self':>6}")
    for frame, n in own.most_common(top):
        print(f"  {frame[:100]:<100} {n / total:>6.1%}")
    print(f"\n  {'functions with the most samples in total':<100} {'total':>6}")
    for frame, n in inclusive.most_common(top):
        print(f"  {frame[:100]:<100} {n / total:>6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="local")
    parser.add_argument("--scenario", default="peak")
    parser.add_argument("--after", type=float, default=40.0, help="seconds before sampling")
    parser.add_argument("--seconds", type=int, default=60, help="seconds of sampling")
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--raw", type=Path, default=None, help="report on an existing raw file")
    parser.add_argument(
        "--process",
        choices=("locust", "sut"),
        default="locust",
        help="profile the generator (default) or the bundled SUT",
    )
    args = parser.parse_args()
    if args.raw:
        report(args.raw, args.top)
        return
    if shutil.which("py-spy") is None:
        sys.exit("py-spy is not installed: pip install py-spy")
    work = Path(tempfile.mkdtemp(prefix="lg-profile-"))
    run = subprocess.Popen(
        ["loadgate", "run", "--target", args.target, "--scenario", args.scenario,
         "--no-baseline", "--out", str(work / "run")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        locust = None
        deadline = time.monotonic() + 180
        while locust is None and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.5)
            for proc in psutil.Process(run.pid).children(recursive=True):
                line = " ".join(proc.cmdline())
                if ("-m locust" if args.process == "locust" else "-m sut") in line:
                    locust = proc
        if locust is None:
            sys.exit(f"no {args.process} process appeared (see {work / 'run'})")
        time.sleep(args.after)
        raw = work / "profile.txt"
        subprocess.run(
            ["py-spy", "record", "--pid", str(locust.pid), "--rate", str(args.rate),
             "--duration", str(args.seconds), "--format", "raw", "--nonblocking",
             "--output", str(raw)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        print(f"run: {work / 'run'}; raw profile: {raw}")
        report(raw, args.top)
    finally:
        run.wait(600)


if __name__ == "__main__":
    main()
