"""A test whose real part is missing skips on a developer's machine and fails under CI=true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

NEEDS_A_SERVER = """
def test_needs_a_server(part_missing):
    part_missing("the server is not reachable at 127.0.0.1:9")
"""


def _pytest(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    where = tmp_path / "tests"
    where.mkdir(exist_ok=True)
    (where / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    (where / "test_part.py").write_text(NEEDS_A_SERVER)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(where)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip


def test_a_missing_part_skips_on_a_developers_machine(tmp_path: Path) -> None:
    proc = _pytest(tmp_path, None)
    assert proc.returncode == 0, proc.stdout
    assert "1 skipped" in proc.stdout and "not reachable at 127.0.0.1:9" in proc.stdout


def test_a_missing_part_fails_under_ci(tmp_path: Path) -> None:
    proc = _pytest(tmp_path, "true")
    assert proc.returncode == 1, proc.stdout
    assert "1 failed" in proc.stdout
    assert "every real part must be there" in proc.stdout
