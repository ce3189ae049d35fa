"""Shared by every test directory: what a missing real part (a server, a browser, root) means.

On a developer's own machine a test that needs one skips, saying what is missing. Under
``CI=true`` it fails instead: CI installs or starts every real part, so one missing is a broken
runner, and a green CI must never rest on skipped tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NoReturn

import pytest

Missing = Callable[[str], NoReturn]


def missing_part(why: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (CI=true: every real part must be there)", pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session")
def part_missing() -> Missing:
    """Call with the reason when a real part is missing: a skip here, a failure in CI."""
    return missing_part
