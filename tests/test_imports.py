"""Locust stays in its box: importing the harness or the SUT must not monkey-patch the process."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["loadgate", "loadgate.cli", "sut", "scenarios"])
def test_import_pulls_in_neither_locust_nor_gevent(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
