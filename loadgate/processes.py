"""Child processes of a run: the target (when the harness starts it) and Locust. Each runs in its
own process group, logs to a file in the run's work directory, and is stopped whatever happens.

For example::

    with Child.spawn(["python", "-m", "sut", "--port", "8123"], log=Path("/tmp/sut.log")) as sut:
        wait_healthy("http://127.0.0.1:8123/healthz", sut, timeout_s=30)
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx
import psutil

from loadgate.errors import InfraError
from loadgate.results import ProcessSamples


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Child:
    """A child process in its own session, with its output in a log file."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log: Path) -> None:
        self.name, self.popen, self.log = name, popen, log

    @classmethod
    def spawn(
        cls,
        name: str,
        command: Sequence[str],
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Child:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            try:
                popen = subprocess.Popen(
                    list(command),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env={**os.environ, **(env or {})},
                    cwd=cwd,
                    start_new_session=True,  # Ctrl-C reaches us, not the children directly
                )
            except OSError as exc:
                raise InfraError(f"cannot start {name} ({command[0]}): {exc}") from None
        return cls(name, popen, log)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def tail(self, lines: int = 5) -> str:
        try:
            text = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text[-lines:])

    def stop(self, grace_s: float = 10.0, sig: int = signal.SIGTERM) -> int | None:
        """Ask the process group to stop, then kill it if it has not within ``grace_s``."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        return self.popen.returncode

    def __enter__(self) -> Child:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def wait_healthy(url: str, child: Child | None, timeout_s: float) -> None:
    """Poll ``url`` until it answers 2xx; InfraError if the child dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if child is not None and not child.alive():
                raise InfraError(
                    f"the target exited with code {child.returncode} before it was healthy: "
                    f"{child.tail() or 'no output'} (log: {child.log})"
                )
            try:
                resp = client.get(url)
                if resp.is_success:
                    return
                last = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.1 if child is not None else 0.5)
    where = f" (log: {child.log})" if child is not None else ""
    raise InfraError(f"{url} not healthy after {timeout_s:.0f} s: {last}{where}")


def pin(pid: int, cores: list[int]) -> list[int] | None:
    """Restrict a process, every thread it already has and its children to ``cores``; None
    where not supported. (Affinity is per thread on Linux: pinning only the main thread would
    leave a started server's threadpool free to run anywhere.)"""
    try:
        proc = psutil.Process(pid)
        for p in [proc, *proc.children(recursive=True)]:
            p.cpu_affinity(cores)
            for thread in p.threads():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(thread.id, cores)
        return cores
    except (AttributeError, psutil.Error, OSError):
        return None


class Sampler:
    """Samples CPU and RSS of named processes once a second in a background thread."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.samples: dict[str, ProcessSamples] = {}
        self._procs: dict[str, psutil.Process] = {}
        self._parents: dict[str, tuple[psutil.Process, list[int] | None]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="loadgate-sampler", daemon=True)

    def watch(
        self, role: str, pid: int, cores: list[int] | None = None, children: bool = False
    ) -> None:
        """Sample ``pid`` as ``role``; with ``children``, each child it starts later too, as
        ``role-1``, ``role-2``... (Locust's --processes workers)."""
        try:
            proc = psutil.Process(pid)
            proc.cpu_percent(None)  # prime: the first reading is meaningless
        except psutil.Error:
            return
        self._procs[role] = proc
        self.samples[role] = ProcessSamples(role=role, pid=pid, cores=cores)
        if children:
            self._parents[role] = (proc, cores)

    def _adopt_children(self) -> None:
        known = {s.pid for s in self.samples.values()}
        for role, (parent, cores) in list(self._parents.items()):
            try:
                kids = parent.children(recursive=True)
            except psutil.Error:
                continue
            for kid in kids:
                if kid.pid not in known:
                    n = sum(1 for r in self.samples if r.startswith(f"{role}-")) + 1
                    self.watch(f"{role}-{n}", kid.pid, cores)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> list[ProcessSamples]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        return list(self.samples.values())

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self._adopt_children()
            now = time.time() - self.t0
            for role, proc in list(self._procs.items()):
                try:
                    cpu = proc.cpu_percent(None)
                    rss = proc.memory_info().rss / 2**20
                except psutil.Error:
                    del self._procs[role]
                    continue
                s = self.samples[role]
                s.t.append(round(now, 2))
                s.cpu_percent.append(round(cpu, 1))
                s.rss_mb.append(round(rss, 1))
