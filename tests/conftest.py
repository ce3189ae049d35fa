"""Shared by every test directory: what a missing real part (a server, a browser, root) means.

On a developer's own machine a test that needs one skips, saying what is missing. Under
``CI=true`` it fails instead: CI installs or starts every real part, so one missing is a broken
runner, and a green CI must never rest on skipped tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[1]

Missing = Callable[[str], NoReturn]


def missing_part(why: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (CI=true: every real part must be there)", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session")
def part_missing() -> Missing:
    """Call with the reason when a real part is missing: a skip here, a failure in CI."""
    return missing_part


def python(
    *args: str, timeout: float = 120, cwd: Path = ROOT, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in a process of its own (from the project's root, output captured): for
    what must not run in the test process, such as Locust, which patches whatever imports it,
    or the CLI's exit codes and signals. ``python("-m", "loadgate.cli", "run", ...)``."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=check,
    )
