"""``python -m sut`` as a real process: serves, stops cleanly, stays free of locust."""

from __future__ import annotations

import signal
from typing import Any

import httpx
import pytest

from sut.cli import parse_settings

from ..conftest import python

REPO_ARGS = ["--markets", "200", "--bettors", "50", "--agents", "10", "--odds-rate", "0"]


def test_flags_and_env_become_settings(tmp_path: Any) -> None:
    settings, host, port, _ = parse_settings(
        [
            "--port",
            "9001",
            "--db",
            str(tmp_path / "x.db"),
            "--seed",
            "3",
            "--fault",
            "latency:POST /bets=40ms",
        ],
        {"SUT_FAULTS": "naive_dashboard", "SUT_SECRET": "s3cret"},
    )
    assert (host, port, settings.seed) == ("127.0.0.1", 9001, 3)
    assert settings.db_path == tmp_path / "x.db"
    assert settings.faults.naive_dashboard
    assert settings.faults.latency_for("POST", "/bets") is not None
    assert settings.secret == b"s3cret"


@pytest.mark.slow
def test_serves_healthz_and_exits_0_on_sigterm(sut_process: Any, tmp_path: Any) -> None:
    with sut_process(*REPO_ARGS, "--db", str(tmp_path / "s.db")) as (base, proc):
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    assert (tmp_path / "s.db").exists()


@pytest.mark.slow
def test_sigint_also_exits_0(sut_process: Any) -> None:
    with sut_process(*REPO_ARGS) as (_, proc):
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0


@pytest.mark.slow
def test_invalid_fault_spec_exits_2() -> None:
    result = python("-m", "sut", "--port", "0", "--fault", "latency:GET /markets=oops", timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "latency:GET /markets=oops" in lines[0]


@pytest.mark.slow
def test_latency_fault_over_real_http(sut_process: Any) -> None:
    args = (*REPO_ARGS, "--fault", "latency:POST /auth/login=80ms")
    times = []
    with sut_process(*args) as (base, _), httpx.Client(base_url=base) as client:
        for _ in range(3):
            response = client.post(
                "/auth/login", json={"username": "bettor1", "password": "loadtest"}
            )
            assert response.status_code == 200
            times.append(response.elapsed.total_seconds())
    assert min(times) >= 0.075
