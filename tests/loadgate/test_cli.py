"""The CLI in-process (click's CliRunner) on stored files: baseline, compare and report, and
the one place errors become exit codes. Exit codes and signals of whole runs are checked on
real processes in tests/e2e."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from loadgate import cli as cli_module
from loadgate.errors import ConfigError, InfraError, Interrupted
from loadgate.histogram import LatencyHistogram
from loadgate.results import EndpointResult, RunResult, Timeline, write_result

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str) -> Ran:
    """``loadgate ARGS`` in this process, from the project's root."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        done = CliRunner().invoke(cli_module.cli, list(args), prog_name="loadgate")
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        raise done.exception
    return Ran(done.exit_code, done.stdout, done.stderr)


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (ConfigError("targets/x.toml: start.command: expected list"), 2, "loadgate: error: "),
        (InfraError("the target died"), 3, "loadgate: error: the target died"),
        (Interrupted("interrupted; what was measured is in r1"), 130, "loadgate: interrupted"),
    ],
)
def test_an_error_is_one_line_and_its_exit_code(
    error: Exception, code: int, line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr(cli_module.results, "read_result", fail)
    ran = cli("report", "anything.json")
    assert ran.returncode == code
    assert ran.stderr.startswith(line) and ran.stderr.count("\n") == 1
    assert ran.stdout == ""


def test_main_gives_the_exit_code_of_an_error_and_of_a_bug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        cli_module.main(["baseline", "show", "--file", "/no/such/baseline.json"])
    assert done.value.code == 2
    monkeypatch.setattr(cli_module.results, "read_result", lambda _p: 1 / 0)
    with pytest.raises(SystemExit) as done:
        cli_module.main(["report", "x.json"])
    assert done.value.code == cli_module.EXIT_INTERNAL
    assert "this is a bug in loadgate" in capsys.readouterr().err


def stored_result(path: Path, run_id: str, median_ms: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    samples = np.round(rng.lognormal(np.log(median_ms * 1000), 0.3, 5_000)).astype(int)
    result = RunResult(
        run_id=run_id, target="local", scenario="smoke", profile={"budgets": []},
        started_at=f"2026-11-2{seed % 10}T10:00:00+00:00", t0=0.0, warmup_s=0.0, window_s=50.0,
        status="complete",
        endpoints={"POST /bets": EndpointResult("POST /bets", LatencyHistogram.of(samples))},
        timeline=Timeline(), users_target=1, users_reached=1,
        environment={"machine": {"cpu_model": "x"}, "git_commit": "abcdef1234"},
    )  # fmt: skip
    write_result(path, result)
    return path


def test_bless_show_history_compare(tmp_path: Path) -> None:
    runs = [
        stored_result(tmp_path / f"r{i}.json", f"r{i}", m, i)
        for i, m in enumerate([10, 10.4, 9.7, 10.1, 9.9, 10.2])
    ]
    baseline = tmp_path / "smoke.json"
    blessed = cli("baseline", "bless", *map(str, runs), "--keep", "5", "--to", str(baseline))
    assert blessed.returncode == 0, blessed.stderr
    assert "baseline of 2026-11-25 (5 runs), keeping the last 5" in blessed.stderr
    shown = cli("baseline", "show", "--file", str(baseline))
    assert shown.returncode == 0 and "POST /bets" in shown.stdout and "±" in shown.stdout
    history = cli("baseline", "history", "--file", str(baseline))
    assert history.returncode == 0
    assert history.stdout.count("abcdef12") == 5 and "r0" not in history.stdout.split()
    slow = stored_result(tmp_path / "slow.json", "slow", 14, 9)
    assert cli("compare", str(baseline), str(runs[0])).returncode == 0
    failed = cli("compare", str(baseline), str(slow))
    assert failed.returncode == 1
    assert "POST /bets" in failed.stdout and "regression" in failed.stdout


def test_show_without_a_baseline_says_how_to_make_one(tmp_path: Path) -> None:
    proc = cli("baseline", "show", "--file", str(tmp_path / "none.json"))
    assert proc.returncode == 2
    assert "no baseline yet; bless one with 'loadgate baseline bless'" in proc.stderr


def test_gate_is_the_run_command_under_its_ci_name() -> None:
    gate, run = cli("gate", "--help"), cli("run", "--help")
    assert gate.returncode == run.returncode == 0
    assert gate.stdout.replace("loadgate gate", "loadgate run") == run.stdout
    assert "gate " in cli("--help").stdout


SMOKE_BUDGETED = ("POST /bets", "GET /markets", "GET /markets/[id]", "WS odds")


def smoke_result(path: Path, run_id: str, median_ms: float, seed: int, **extra: object) -> Path:
    """A stored smoke result on the local target with every endpoint its budgets name."""
    rng = np.random.default_rng(seed)
    endpoints = {
        name: EndpointResult(
            name,
            LatencyHistogram.of(
                np.round(rng.lognormal(np.log(median_ms * 1000), 0.3, 5_000)).astype(int)
            ),
        )
        for name in SMOKE_BUDGETED
    }
    result = RunResult(
        run_id=run_id, target="local", scenario="smoke",
        profile={"budgets": [], **extra.pop("profile", {})},  # type: ignore[dict-item]
        started_at=f"2026-11-2{seed % 10}T10:00:00+00:00", t0=0.0, warmup_s=0.0, window_s=50.0,
        status="complete", endpoints=endpoints, timeline=Timeline(), users_target=1,
        users_reached=1, environment={"machine": {"cpu_model": "x"}},
        judged_with=extra.pop("judged_with", None),  # type: ignore[arg-type]
    )  # fmt: skip
    write_result(path, result)
    return path


def _blessed(tmp_path: Path) -> Path:
    runs = [
        smoke_result(tmp_path / f"b{i}.json", f"b{i}", m, i)
        for i, m in enumerate([10, 10.4, 9.7, 10.1, 9.9])
    ]
    baseline = tmp_path / "smoke-baseline.json"
    assert cli("baseline", "bless", *map(str, runs), "--to", str(baseline)).returncode == 0
    return baseline


def test_report_judges_with_the_profiles_policy_not_the_files(tmp_path: Path) -> None:
    """A result that sets itself alpha = 1e-12 and a +1000% material effect cannot pass
    itself: the policy comes from the target and profile."""
    baseline = _blessed(tmp_path)
    slower = smoke_result(
        tmp_path / "slower.json", "s", 14.0, 42,
        profile={"alpha": 1e-12, "min_effect": 10.0},
    )  # fmt: skip
    proc = cli("report", str(slower), "--baseline", str(baseline), "--out", str(tmp_path / "o"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "with the policy and budgets of target local and profile smoke" in proc.stderr
    assert "regression" in proc.stdout


def test_report_judges_against_the_baseline_the_run_was_judged_against(tmp_path: Path) -> None:
    from loadgate.baselines import load_baseline
    from loadgate.judging import Judging
    from loadgate.policy import GatePolicy

    baseline_path = _blessed(tmp_path)
    baseline = load_baseline(baseline_path)
    record = Judging((), GatePolicy(alpha=0.05), baseline, baseline_path).record()
    slower = smoke_result(tmp_path / "slower.json", "s", 14.0, 42, judged_with=record)
    proc = cli("report", str(slower), "--out", str(tmp_path / "o"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"the baseline it was judged against ({baseline_path}, the same 5 runs)" in proc.stderr
    assert "the run was judged with alpha 0.05 (now 0.01)" in proc.stderr
    # told otherwise, it says so
    proc = cli("report", str(slower), "--no-baseline", "--out", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "against no baseline" in proc.stderr and "no regression was checked" in proc.stdout
    # the baseline it was judged against is gone: a clear error, nothing judged
    baseline_path.unlink()
    proc = cli("report", str(slower), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "the baseline this run was judged against is gone" in proc.stderr
