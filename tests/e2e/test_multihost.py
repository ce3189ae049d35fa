"""Distributed for real, across addresses that are not loopback: the SUT, a Locust master and
two workers each in a network namespace of its own, joined by a bridge. The workers' exact
histograms merge without loss and each worker's own health reaches the result; a worker not
started with --allow-remote refuses a master that sends it off loopback, and the run says why;
--processes' own workers load a target whose file allows remote load.

Needs root and iproute2's ``ip`` (skipped, saying why, without them; under CI=true their
absence fails). Traffic never leaves the namespaces, which are removed with every process in
them whatever happens.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn

import psutil
import pytest

from loadgate.processes import Child
from loadgate.results import read_result

from .conftest import ROOT, assert_merge_exact

pytestmark = pytest.mark.slow

PREFIX = "lgt"  # namespaces: lgt-<test process pid>-<n>-<role>, so stale ones can be told apart
SUBNET = "10.77.0"  # exists only inside the namespaces: the machine's interfaces never see it
SUT_PORT = 8000
MASTER_PORT = 5557
_labs = itertools.count()

# polls a URL from inside a namespace (the test process itself cannot reach it)
POLL = """import sys, time, urllib.request
deadline = time.monotonic() + float(sys.argv[2])
while True:
    try:
        sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())
        break
    except OSError as exc:
        if time.monotonic() > deadline:
            sys.exit(f"{sys.argv[1]}: {exc}")
        time.sleep(0.2)
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


def _sweep(ns: str) -> None:
    """SIGKILL whatever still runs in ``ns`` (a run's Locust has a session of its own, so it
    is not in the process group its parent was stopped with)."""
    for _ in range(50):
        listed = subprocess.run(
            ["ip", "netns", "pids", ns], capture_output=True, text=True, check=False, timeout=10
        )
        pids = [int(p) for p in listed.stdout.split()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def _remove(ns: str) -> None:
    _sweep(ns)
    subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False, timeout=10)


def _remove_stale() -> None:
    """Namespaces of a test process that was killed before it could clean up."""
    listed = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=False, timeout=10
    )
    for line in listed.stdout.splitlines():
        name = line.split(" ")[0]
        parts = name.split("-")
        owner = int(parts[1]) if parts[0] == PREFIX and parts[1:] and parts[1].isdigit() else 0
        if owner and not psutil.pid_exists(owner):
            _remove(name)


class Lab:
    """Network namespaces on one subnet, each joined by a veth pair to a bridge in a hub
    namespace, and the processes started in them; :meth:`close` removes all of it."""

    def __init__(self, tmp: Path) -> None:
        self.name = f"{PREFIX}-{os.getpid()}-{next(_labs)}"
        self.tmp = tmp
        self.spaces: list[str] = []
        self.children: list[Child] = []

    def open(self) -> None:
        self.hub = self._netns("hub")
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.hub, "link", "set", "br0", "up")

    def _netns(self, role: str) -> str:
        ns = f"{self.name}-{role}"
        _ip("netns", "add", ns)
        self.spaces.append(ns)
        _ip("-n", ns, "link", "set", "lo", "up")
        return ns

    def node(self, role: str, host: int) -> tuple[str, str]:
        """A namespace on the bridge; returns it and its address, ``10.77.0.<host>``."""
        ns = self._netns(role)
        veth = f"v-{role}"[:15]  # named inside the hub: no clash with the machine's interfaces
        _ip("-n", self.hub, "link", "add", veth, "type", "veth", "peer", "name", "eth0")
        _ip("-n", self.hub, "link", "set", "eth0", "netns", ns)
        _ip("-n", self.hub, "link", "set", veth, "master", "br0", "up")
        address = f"{SUBNET}.{host}"
        _ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        return ns, address

    def spawn(
        self, ns: str, name: str, command: Sequence[str], env: dict[str, str] | None = None
    ) -> Child:
        """Start ``command`` in ``ns``, in a process group of its own, logging to ``name.log``."""
        argv = ["ip", "netns", "exec", ns, *command]
        child = Child.spawn(name, argv, self.tmp / f"{name}.log", env, ROOT)
        self.children.append(child)
        return child

    def get(self, ns: str, url: str, wait_s: float = 0.0) -> str:
        """GET ``url`` from inside ``ns`` (retrying up to ``wait_s``); the body."""
        argv = ["ip", "netns", "exec", ns, sys.executable, "-c", POLL, url, str(wait_s)]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=wait_s + 30, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def close(self) -> None:
        try:
            for child in reversed(self.children):
                with contextlib.suppress(subprocess.TimeoutExpired):  # swept below anyway
                    child.stop(grace_s=10)
        finally:
            for ns in reversed(self.spaces):
                _remove(ns)


@pytest.fixture
def lab(tmp_path: Path, part_missing: Callable[[str], NoReturn]) -> Iterator[Lab]:
    if os.geteuid() != 0:
        part_missing("network namespaces need root")
    if shutil.which("ip") is None:
        part_missing("network namespaces need iproute2's ip (apt-get install -y iproute2)")
    _remove_stale()
    made = Lab(tmp_path)
    try:
        try:
            made.open()
        except subprocess.CalledProcessError as exc:
            part_missing(f"cannot create network namespaces: {exc.stderr.strip()}")
        yield made
    finally:
        made.close()


def _loadgate(*args: str) -> list[str]:
    return [sys.executable, "-m", "loadgate.cli", *args]


def _start_sut(lab: Lab, ns: str, address: str, probe_from: str) -> None:
    """The bundled SUT on ``address``, healthy as seen from namespace ``probe_from``."""
    db = lab.tmp / "sut.db"
    command = [sys.executable, "-m", "sut", "--host", address, "--port", str(SUT_PORT)]
    lab.spawn(ns, "sut", [*command, "--db", str(db)])
    lab.get(probe_from, f"http://{address}:{SUT_PORT}/healthz", wait_s=60)


def _target(tmp: Path, address: str) -> Path:
    """A target already running elsewhere: no [start], a non-loopback address allowed."""
    path = tmp / "remote.toml"
    path.write_text(
        'description = "the bundled SUT in a namespace of its own"\n'
        f'base_url = "http://{address}:{SUT_PORT}"\n'
        "allow_remote = true\n"
    )
    return path


def _listening(pid: int, port: int, timeout_s: float = 30) -> list[str]:
    """The addresses a TCP port listens on in the network namespace of process ``pid``, once
    something listens on it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = []
        with contextlib.suppress(OSError):  # the process may not have started yet
            for row in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
                local, state = row.split()[1], row.split()[3]
                addr, _, hex_port = local.partition(":")
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    found.append(socket.inet_ntoa(struct.pack("=I", int(addr, 16))))
        if found:
            return found
        time.sleep(0.2)
    return []


def _wait(child: Child, timeout_s: float) -> int:
    try:
        return child.popen.wait(timeout_s)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{child.name} still running after {timeout_s:.0f} s: {child.tail(20)}")


def test_two_remote_workers_merge_exactly_and_report_their_health(lab: Lab, tmp_path: Path) -> None:
    sut_ns, sut_ip = lab.node("sut", 1)
    master_ns, master_ip = lab.node("master", 2)
    workers_ns, _ = lab.node("workers", 3)
    _start_sut(lab, sut_ns, sut_ip, probe_from=master_ns)  # across the bridge
    out = tmp_path / "run"
    short = ["--users", "12", "--spawn-rate", "12", "--warmup", "3s", "--duration", "10s"]
    master = lab.spawn(
        master_ns,
        "master",
        _loadgate(
            "run", "--target", str(_target(tmp_path, sut_ip)), "--scenario", "smoke", *short,
            "--no-baseline", "--out", str(out),
            "--master", "--master-bind-host", master_ip, "--expect-workers", "2",
        ),
    )  # fmt: skip
    prefix = tmp_path / "samples"  # the workers' own option: the master does not have it
    for i in (1, 2):
        lab.spawn(
            workers_ns,
            f"worker{i}",
            _loadgate("worker", "--master-host", master_ip, "--allow-remote"),
            {"LOADGATE_SAMPLES": str(prefix)},
        )
    assert _listening(master.pid, MASTER_PORT) == [master_ip]  # not every interface
    code = _wait(master, 120)
    log = master.log.read_text()
    assert code in (0, 1, 4), log  # judged; on a busy machine possibly invalid, never broken
    result = read_result(out / "result.json")
    assert result.users_reached == 12, log
    files = sorted(tmp_path.glob("samples.*.tsv"))
    assert len(files) == 2, log  # one per worker, each recording its own share
    assert_merge_exact(result, files)
    workers = [g for g in result.generators if g.role == "worker"]
    assert sorted(int(g.ident.rsplit(":", 1)[1]) for g in workers) == sorted(
        int(f.name.split(".")[1]) for f in files
    )
    for g in workers:
        assert g.lag.count > 0, g.ident
        assert any(v is not None for v in g.cpu_percent), g.ident
        assert any(v is not None for v in g.cpu_wait_percent), g.ident


def test_a_worker_refuses_a_master_that_sends_it_off_loopback(lab: Lab, tmp_path: Path) -> None:
    # one namespace: the master and the worker meet on its loopback, the SUT is on its eth0
    ns, address = lab.node("solo", 1)
    _start_sut(lab, ns, address, probe_from=ns)
    out = tmp_path / "run"
    master = lab.spawn(
        ns,
        "master",
        _loadgate(
            "run", "--target", str(_target(tmp_path, address)), "--scenario", "smoke",
            "--users", "4", "--spawn-rate", "4", "--warmup", "2s", "--duration", "5s",
            "--no-baseline", "--out", str(out), "--master", "--expect-workers", "1",
        ),
    )  # fmt: skip
    assert _listening(master.pid, MASTER_PORT) == ["127.0.0.1"]  # the default
    worker = lab.spawn(ns, "worker", _loadgate("worker", "--master-host", "127.0.0.1"))
    assert _wait(worker, 60) == 2, worker.tail(20)
    said = f"refused to send load to http://{address}:{SUT_PORT}: not a loopback address"
    worker_log = worker.log.read_text()
    assert said in worker_log and "--allow-remote" in worker_log, worker_log
    code = _wait(master, 60)
    log = master.log.read_text()
    assert code == 4, log  # invalid: the load was not delivered, and the verdict says why
    assert said in log, log
    assert any(said in note for note in read_result(out / "result.json").notes)
    # no user started: the SUT saw only the harness's health check and audit (an admin login)
    metrics = lab.get(ns, f"http://{address}:{SUT_PORT}/metrics")
    hits: dict[str, float] = {}
    for line in metrics.splitlines():
        if line.startswith("sut_http_requests_total{"):
            route = line.split('route="', 1)[1].split('"', 1)[0]
            hits[route] = hits.get(route, 0) + float(line.rsplit(" ", 1)[1])
    assert set(hits) <= {"/healthz", "/auth/login", "/admin/audit", "/metrics"}, hits
    assert hits.get("/auth/login", 0) <= 1, hits


def test_processes_load_a_remote_target_that_allows_it(lab: Lab, tmp_path: Path) -> None:
    # the target's allow_remote = true is the consent: --processes' forked workers do not refuse
    ns, address = lab.node("solo", 1)
    _start_sut(lab, ns, address, probe_from=ns)
    out = tmp_path / "run"
    run = lab.spawn(
        ns,
        "run",
        _loadgate(
            "run", "--target", str(_target(tmp_path, address)), "--scenario", "smoke",
            "--users", "4", "--spawn-rate", "4", "--warmup", "2s", "--duration", "4s",
            "--no-baseline", "--out", str(out), "--processes", "2",
        ),
    )  # fmt: skip
    code = _wait(run, 90)
    log = run.log.read_text()
    assert code in (0, 1, 4), log
    result = read_result(out / "result.json")
    assert result.users_reached == 4 and result.total_requests > 0, log
    assert not any("refused" in note for note in result.notes), result.notes
