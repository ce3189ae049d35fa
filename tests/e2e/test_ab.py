"""Paired A/B end to end: a revision against itself passes; a revision whose SUT got slower on
bet placement fails, naming that endpoint. Runs in a throwaway clone with real git worktrees."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadgate.results import read_result

from .conftest import ROOT

pytestmark = pytest.mark.slow

# the first look (3 pairs, df = 2) can only pass early; a regression needs the second
SHORT_AB = ["--users", "40", "--warmup", "2s", "--duration", "6s", "--looks", "3,6"]
GIT = ["git", "-c", "user.name=loadgate-test", "-c", "user.email=test@loadgate.invalid"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository with one extra commit that slows ``POST /bets`` by 30 ms."""
    where = tmp_path_factory.mktemp("ab") / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(where)], check=True)
    cli = where / "sut" / "cli.py"
    text = cli.read_text()
    needle = "*args.fault])"
    assert needle in text, "sut/cli.py changed: update this test's injected regression"
    cli.write_text(text.replace(needle, '*args.fault, "latency:POST /bets=30ms"])', 1))
    subprocess.run([*GIT, "commit", "-qam", "slower bets"], cwd=where, check=True)
    return where


def ab(repo: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # run the clone's own loadgate (cwd first on sys.path), as CI would in that checkout
    return subprocess.run(
        [sys.executable, "-m", "loadgate.cli", "ab", "--out", str(out), *SHORT_AB, *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )


def test_a_revision_against_itself_passes(repo: Path, tmp_path: Path) -> None:
    # one look at 3 pairs (its last, so it decides): unchanged code needs no more
    proc = ab(repo, tmp_path / "same", "--base", "HEAD~1", "--head", "HEAD~1", "--looks", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((tmp_path / "same" / "ab.json").read_text())
    assert summary["status"] == "pass"
    assert len(summary["runs"]) == 6  # three ABBA pairs
    assert [r["side"] for r in summary["runs"][:4]] == ["base", "head", "head", "base"]
    assert all(m["decision"] != "regression" for m in summary["metrics"])
    for name in ("report.html", "summary.md", "junit.xml"):
        assert (tmp_path / "same" / name).is_file()
    # side by side: each pair's two runs measured over the same seconds
    first, second = (
        read_result(tmp_path / "same" / d / "result.json") for d in ("01-base", "02-head")
    )
    assert abs(first.t0 - second.t0) < 2.0
    assert first.environment["ab"]["side_by_side"] is True


def test_sequential_runs_one_side_after_the_other(repo: Path, tmp_path: Path) -> None:
    proc = ab(repo, tmp_path / "seq", "--base", "HEAD~1", "--head", "HEAD~1", "--sequential",
              "--looks", "3")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((tmp_path / "seq" / "ab.json").read_text())
    assert [r["side"] for r in summary["runs"]] == ["base", "head", "head", "base", "base", "head"]
    runs = [read_result(tmp_path / "seq" / f"{i + 1:02d}-{r['side']}" / "result.json")
            for i, r in enumerate(summary["runs"])]  # fmt: skip
    for before, after in itertools.pairwise(runs):
        assert after.t0 >= before.t0 + before.window_s  # one at a time


def test_a_slower_revision_fails_naming_the_endpoint(repo: Path, tmp_path: Path) -> None:
    proc = ab(repo, tmp_path / "slow", "--base", "HEAD~1")  # head: the working tree (slower)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    headline = next(line for line in proc.stdout.splitlines() if line.startswith("FAIL:"))
    assert "POST /bets" in headline
    summary = json.loads((tmp_path / "slow" / "ab.json").read_text())
    decisions = {(m["endpoint"], m["quantile"]): m["decision"] for m in summary["metrics"]}
    assert decisions[("POST /bets", 0.95)] == "regression"
    flagged = {name for (name, _q), d in decisions.items() if d == "regression"}
    assert flagged == {"POST /bets"}
