"""Locust stays in its box: importing the harness or the SUT must not monkey-patch the process,
and every scenario module imports inert (no connection opened, base users abstract)."""

from __future__ import annotations

import pkgutil
import subprocess
from pathlib import Path

import pytest

from .conftest import python

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted(f"scenarios.{m.name}" for m in pkgutil.iter_modules([str(ROOT / "scenarios")]))
# the scenario modules that are plain data or pure helpers, for the harness to read too
PURE_SCENARIOS = {"scenarios.stamps", "scenarios.think", "scenarios.weights", "scenarios.wsframes"}


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return python("-c", code)


@pytest.mark.parametrize(
    "module", ["loadgate", "loadgate.cli", "sut", "scenarios", *sorted(PURE_SCENARIOS)]
)
def test_import_pulls_in_neither_locust_nor_gevent(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = _run(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_scenario_modules_are_all_listed() -> None:
    assert len(SCENARIOS) >= 10 and set(SCENARIOS) >= PURE_SCENARIOS


@pytest.mark.parametrize("module", SCENARIOS)
def test_every_scenario_module_imports_inert(module: str) -> None:
    """No connection is opened at import, and every User class it defines that is a base for
    others is abstract (Locust would otherwise run it as a user of its own)."""
    code = f"""
import socket, sys
def refuse(*_a, **_k):
    raise AssertionError("a connection was opened at import")
socket.socket.connect = refuse
socket.create_connection = refuse
import importlib
mod = importlib.import_module({module!r})
for other in {SCENARIOS!r}:  # every subclass of this module's users, wherever it is
    importlib.import_module(other)
concrete_bases = []
if "locust" in sys.modules:
    from locust import User
    def every(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from every(sub)
    concrete_bases = [u.__name__ for u in set(every(User))
                      if u.__module__ == mod.__name__ and u.__subclasses__()
                      and not u.__dict__.get("abstract")]
print(concrete_bases)
sys.exit(1 if concrete_bases else 0)
"""
    proc = _run(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr
