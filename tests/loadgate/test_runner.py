"""The run stage's own decisions, without starting anything: the Locust command a load plan
becomes, where a run's files go, and how a broken or interrupted run is raised. Runs against
the real SUT are in tests/e2e."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from loadgate.config import load_profile, load_target
from loadgate.errors import InfraError, Interrupted, UsageError
from loadgate.runner import (
    RunOutcome,
    RunRequest,
    _locust_command,
    make_run_id,
    prepare_out_dir,
    worker_command,
)

from .test_verdict import BETS, lognormal_ms, make_result


def _value(cmd: list[str], flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


def test_the_locust_command_runs_the_load_plan_past_the_window(tmp_path: Path) -> None:
    profile = dataclasses.replace(load_profile("smoke"), warmup_s=10.0, duration_s=50.0)
    request = RunRequest(load_target("local"), profile, locustfile=Path("locustfile.py"))
    cmd = _locust_command(request, "http://127.0.0.1:8000", tmp_path / "rec.json", tmp_path)
    assert _value(cmd, "--host") == "http://127.0.0.1:8000" and "--headless" in cmd
    assert (_value(cmd, "--loadgate-warmup"), _value(cmd, "--loadgate-window")) == ("10", "50")
    run_time = int(_value(cmd, "--run-time").rstrip("s"))
    assert run_time > 60  # the whole window fits: Locust's clock starts before ours
    assert _value(cmd, "--users") == str(profile.users)
    assert "--master" not in cmd and "--budgets" not in " ".join(cmd)


def test_a_capacity_plan_starts_from_its_first_step(tmp_path: Path) -> None:
    request = RunRequest(load_target("local"), load_profile("capacity"))
    cmd = _locust_command(request, "http://127.0.0.1:1", tmp_path / "rec.json", tmp_path)
    assert _value(cmd, "--users") == "200"  # capacity:start=200


def test_a_master_waits_for_its_workers_on_the_interface_asked(tmp_path: Path) -> None:
    request = RunRequest(
        load_target("local"), load_profile("smoke"), master=True, expect_workers=3,
        master_port=6000, master_bind_host="10.0.0.5",
    )  # fmt: skip
    cmd = _locust_command(request, "http://127.0.0.1:1", tmp_path / "rec.json", tmp_path)
    assert _value(cmd, "--master-bind-host") == "10.0.0.5"
    assert (_value(cmd, "--master-bind-port"), _value(cmd, "--expect-workers")) == ("6000", "3")


def test_a_worker_refuses_a_remote_master_unless_allowed() -> None:
    plain = worker_command("127.0.0.1", 5557, 1, Path("locustfile.py"))
    assert "--loadgate-allow-remote" not in plain and "--processes" not in plain
    allowed = worker_command("10.0.0.5", 5557, 4, Path("locustfile.py"), allow_remote=True)
    assert "--loadgate-allow-remote" in allowed and _value(allowed, "--processes") == "4"


def test_a_run_directory_is_never_overwritten(tmp_path: Path) -> None:
    out = prepare_out_dir(tmp_path / "r1", "r1")
    assert out.is_dir()
    (out / "result.json").write_text("{}")
    with pytest.raises(UsageError, match="already holds a run"):
        prepare_out_dir(out, "r1")
    assert re.fullmatch(r"\d{8}-\d{6}-smoke", make_run_id("smoke"))


def test_a_broken_or_interrupted_run_is_raised_after_it_is_kept(tmp_path: Path) -> None:
    result = make_result({BETS: (lognormal_ms(10, 100, 1), 0)})
    RunOutcome(result, tmp_path).raise_for_status()  # a run that went as planned: nothing
    with pytest.raises(InfraError, match="A/B run 2 \\(head\\): the target died"):
        RunOutcome(result, tmp_path, infra_error="the target died").raise_for_status(
            "A/B run 2 (head)"
        )
    with pytest.raises(Interrupted, match=f"what was measured is in {tmp_path}"):
        RunOutcome(result, tmp_path, infra_error="x", interrupted=True).raise_for_status()
    assert Interrupted.exit_code == 130 and InfraError.exit_code == 3
