"""Runs side by side (the paired A/B's duet): both SUTs and both load generators at once, on the
same cores, measuring over the same seconds; a target that cannot start stops the other."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from loadgate.config import Profile, load_target
from loadgate.errors import InfraError
from loadgate.runner import RunRequest, run_side_by_side

from .conftest import leftovers

pytestmark = pytest.mark.slow

PROFILE = Profile(
    "duet",
    users=20,
    spawn_rate=20,
    warmup_s=3,
    duration_s=8,
    user_classes={"Bettor": 1},
)


def test_two_runs_measure_the_same_seconds_on_the_same_cores(tmp_path: Path) -> None:
    target = load_target("local")
    slow = RunRequest(
        target, PROFILE, out_dir=tmp_path / "b", sut_faults=("latency:POST /bets=20ms",)
    )
    outcomes = run_side_by_side([RunRequest(target, PROFILE, out_dir=tmp_path / "a"), slow])
    a, b = (o.result for o in outcomes)
    assert [o.out_dir for o in outcomes] == [tmp_path / "a", tmp_path / "b"]
    assert a.status == b.status == "complete", (a.notes, b.notes)
    assert a.run_id != b.run_id
    assert a.environment["base_url"] != b.environment["base_url"]  # one SUT each
    assert abs(a.t0 - b.t0) < 2.0, "the two load generators should start together"
    assert a.environment["sut_faults"] == [] and b.environment["sut_faults"] == list(
        slow.sut_faults
    )
    # each run measured its own SUT: only the slowed one shows the 20 ms
    assert a.endpoints["POST /bets"].histogram.quantile(0.5) < 15_000
    assert b.endpoints["POST /bets"].histogram.quantile(0.5) >= 20_000
    if (os.cpu_count() or 1) >= 2:
        assert a.environment["cores"] == b.environment["cores"]
        assert a.environment["cores"]["sut"] == [0]
    for result in (a, b):
        assert result.audit is not None and result.audit["ok"]


def test_a_target_that_cannot_start_stops_the_other(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(
        'base_url = "http://127.0.0.1:{port}"\n'
        "[start]\n"
        'command = ["{python}", "-c", "import sys; sys.exit(5)"]\n'
    )
    good = RunRequest(load_target("local"), PROFILE, out_dir=tmp_path / "good")
    bad = RunRequest(load_target(str(broken)), PROFILE, out_dir=tmp_path / "bad")
    with pytest.raises(InfraError, match="exited with code 5"):
        run_side_by_side([good, bad])
    # the SUT runs on a database in its run directory, named after the run id
    assert not leftovers("-duet-1-"), "the first target should have been stopped"
    assert not (tmp_path / "good").exists() and not (tmp_path / "bad").exists()
