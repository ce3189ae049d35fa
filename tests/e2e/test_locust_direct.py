"""`locust -f locustfile.py` from the repo root works against a SUT started by `loadgate sut`."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import pytest

from loadgate.processes import Child, free_port, wait_healthy

from .conftest import ROOT

pytestmark = pytest.mark.slow


def test_plain_locust_against_loadgate_sut(tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    sut_cmd = [sys.executable, "-m", "loadgate.cli", "sut", "--port", str(port),
               "--markets", "500", "--bettors", "200", "--agents", "20"]  # fmt: skip
    with Child.spawn("sut", sut_cmd, tmp_path / "sut.log", cwd=ROOT) as sut:
        wait_healthy(f"http://127.0.0.1:{port}/healthz", sut, 60)
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                "locustfile.py",
                "--headless",
                "--users",
                "10",
                "--spawn-rate",
                "10",
                "--run-time",
                "6s",
                "--host",
                f"http://127.0.0.1:{port}",
                "--sut-bettors",
                "200",
                "--sut-agents",
                "20",
                "--sut-markets",
                "500",
                "Bettor",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert sut.alive()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for name in ("/markets", "/markets/[id]", "/bets"):
        assert name in out


def test_locust_web_ui_serves_from_the_repo_root(tmp_path) -> None:  # type: ignore[no-untyped-def]
    web = free_port()
    cmd = [sys.executable, "-m", "locust", "-f", "locustfile.py", "--web-host", "127.0.0.1",
           "--web-port", str(web), "--host", "http://127.0.0.1:9"]  # fmt: skip
    with Child.spawn("locust", cmd, tmp_path / "locust.log", cwd=ROOT) as ui:
        wait_healthy(f"http://127.0.0.1:{web}/", ui, 60)


SLOW_START = """
import time

from locust import User, constant, task

from loadgate import plugin

plugin.install()
_until = time.perf_counter() + 1.5
while time.perf_counter() < _until:  # start-up work that never yields to gevent's loop
    pass


class Idle(User):
    wait_time = constant(0.2)

    @task
    def nothing(self) -> None:
        pass
"""


def test_run_time_counts_from_the_start_however_slow_the_start_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """gevent's timers count from its loop's cached clock: read before a slow start-up, it made
    --run-time end the run early by the start-up's length (and the window came up short)."""
    locustfile = tmp_path / "slowstart.py"
    locustfile.write_text(SLOW_START)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--users", "1",
         "--run-time", "2s", "--host", "http://127.0.0.1:9", "--only-summary"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    stamps = {
        what: dt.datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f")
        for line in proc.stderr.splitlines()
        for what in ("Run time limit set", "--run-time limit reached")
        if what in line
    }
    ran = (stamps["--run-time limit reached"] - stamps["Run time limit set"]).total_seconds()
    assert 1.9 <= ran <= 2.5, f"--run-time 2s ran {ran:.2f} s"
    assert time.monotonic() - started >= 3.4  # the start-up really was slow
