"""Helpers for end-to-end tests: the real CLI in a subprocess, real SUT, real Locust."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
# short but judgeable: enough requests for P99 intervals on the busy endpoints
SHORT = ["--users", "60", "--spawn-rate", "30", "--warmup", "5s", "--duration", "25s"]


def loadgate(
    *args: str, timeout: float = 240, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run the real ``loadgate`` CLI and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "loadgate.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )


def leftovers(pattern: str) -> list[str]:
    """Command lines of processes still running that mention ``pattern``."""
    me = os.getpid()
    out = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if pattern in cmd and proc.info["pid"] != me and "pytest" not in cmd:
            out.append(cmd)
    return out


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"
