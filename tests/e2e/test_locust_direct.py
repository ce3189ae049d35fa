"""`locust -f locustfile.py` from the repo root works against a SUT started by `loadgate sut`."""

from __future__ import annotations

import subprocess
import sys

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
