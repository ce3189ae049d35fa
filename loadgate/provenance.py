"""Where a figure came from: git revision, tool versions and a machine fingerprint.

>>> environment()["machine"]["cores"]
2
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """The fingerprint that decides whether two runs are comparable."""
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count() or 1,
        "memory_gb": round(psutil.virtual_memory().total / 2**30),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.machine()}",
    }


def calibration_score(rounds: int = 5) -> float:
    """A short fixed CPU loop (~0.1 s), as million loop steps per second, best of ``rounds``.

    Recorded for diagnosing machine differences, never for rescaling results (DESIGN §8:
    implementations do not scale together across hardware).
    """
    steps = 200_000
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        acc = 0
        for i in range(steps):
            acc = (acc * 31 + i) & 0xFFFFFFFF
        best = min(best, time.perf_counter() - started)
    return round(steps / best / 1e6, 2)


def environment(repo: Path | None = None) -> dict[str, Any]:
    """Provenance recorded with every result."""
    repo = repo or Path.cwd()
    status = _git(["status", "--porcelain", "--untracked-files=no"], repo)
    return {
        "git_commit": _git(["rev-parse", "HEAD"], repo),
        "git_dirty": bool(status) if status is not None else None,
        "hostname": platform.node(),
        "machine": machine(),
        "calibration_mloops_per_s": calibration_score(),
        "versions": {
            name: _version(name)
            for name in ("loadgate", "locust", "hdrhistogram", "starlette", "uvicorn")
        },
    }
