"""Bad input gets one clear line naming the file or key, the right exit code, and loses nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from loadgate.processes import free_port
from loadgate.results import read_result

from .conftest import ROOT, leftovers, loadgate


def last_line(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stderr.strip().splitlines()[-1]


def test_unknown_scenario_is_a_usage_error(out_dir: Path) -> None:
    proc = loadgate("run", "--scenario", "nope", "--out", str(out_dir))
    assert proc.returncode == 2
    assert "profiles.toml: no scenario profile 'nope' (known: " in last_line(proc)
    assert not out_dir.exists()


def test_missing_target_is_a_usage_error(out_dir: Path) -> None:
    proc = loadgate("run", "--target", "nope", "--out", str(out_dir))
    assert proc.returncode == 2
    assert "targets/nope.toml: no such target" in last_line(proc)


def test_malformed_target_names_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('base_url = "http://127.0.0.1:1"\n[start]\ncommand = "python -m sut"\n')
    proc = loadgate("run", "--target", str(bad))
    assert proc.returncode == 2
    assert f"{bad}: start.command: expected list" in last_line(proc)


def test_unreachable_url_is_an_infrastructure_error(tmp_path: Path, out_dir: Path) -> None:
    target = tmp_path / "gone.toml"
    target.write_text(f'base_url = "http://127.0.0.1:{free_port()}"\n')
    proc = loadgate("run", "--target", str(target), "--out", str(out_dir), timeout=60)
    assert proc.returncode == 3
    assert "/healthz not healthy after 10 s" in last_line(proc)
    assert not out_dir.exists()


def test_target_that_fails_to_start(tmp_path: Path, out_dir: Path) -> None:
    target = tmp_path / "broken.toml"
    target.write_text(
        'base_url = "http://127.0.0.1:{port}"\n'
        "[start]\n"
        'command = ["{python}", "-c", "import sys; print(\'no database\'); sys.exit(5)"]\n'
    )
    proc = loadgate("run", "--target", str(target), "--out", str(out_dir), timeout=60)
    assert proc.returncode == 3
    assert "the target exited with code 5 before it was healthy: no database" in last_line(proc)


def test_corrupt_baseline_is_a_hard_error_naming_it(tmp_path: Path, out_dir: Path) -> None:
    baseline = tmp_path / "smoke.json"
    baseline.write_text('{"schema": "loadgate.baseline", "schema_version": 1, "runs": [')
    before = baseline.read_text()
    proc = loadgate("run", "--baseline", str(baseline), "--out", str(out_dir))
    assert proc.returncode == 2
    assert f"{baseline}: corrupt baseline" in last_line(proc)
    assert baseline.read_text() == before and not out_dir.exists()


def test_future_baseline_schema_is_refused(tmp_path: Path) -> None:
    baseline = tmp_path / "smoke.json"
    baseline.write_text('{"schema": "loadgate.baseline", "schema_version": 99, "runs": []}')
    proc = loadgate("run", "--baseline", str(baseline))
    assert proc.returncode == 2
    assert "schema_version 99 is newer than this loadgate reads" in last_line(proc)


def test_an_existing_run_directory_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text("precious")
    proc = loadgate("run", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "already holds a run" in last_line(proc)
    assert (tmp_path / "result.json").read_text() == "precious"


def test_corrupt_result_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "result.json"
    bad.write_text('{"schema": "loadgate.result", "schema_version": 1}')
    proc = loadgate("report", str(bad))
    assert proc.returncode == 2
    assert f"{bad}: corrupt result: missing key" in last_line(proc)


# runs these tests cut short: long enough that a slow, busy machine cannot finish it first
CUT_SHORT = ["--users", "60", "--spawn-rate", "30", "--warmup", "5s", "--duration", "180s"]


def _default_sigint() -> None:
    # a shell runs background jobs with SIGINT ignored, and Python then keeps it ignored:
    # give the run the Ctrl-C a user's terminal would deliver
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def _running(out_dir: Path) -> Iterator[subprocess.Popen[str]]:
    proc = _start_run(out_dir)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)  # and close the pipes


def _start_run(out_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loadgate.cli",
            "run",
            "--out",
            str(out_dir),
            "--no-baseline",
            *CUT_SHORT,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_default_sigint,  # noqa: PLW1509 - only a signal disposition, before exec
    )


def _wait_for_load(proc: subprocess.Popen[str], seconds: float = 60) -> psutil.Process:
    """The SUT child of a running `loadgate run`, once Locust has been running a while."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        kids = psutil.Process(proc.pid).children(recursive=True)
        sut = [k for k in kids if "-m sut" in " ".join(k.cmdline())]
        if sut and any("locust" in " ".join(k.cmdline()) for k in kids):
            time.sleep(10)  # into the measurement window
            return sut[0]
        time.sleep(0.5)
    proc.kill()
    raise AssertionError("the run did not start in time")


@pytest.mark.slow
def test_sut_dying_mid_run_keeps_what_was_measured(out_dir: Path) -> None:
    with _running(out_dir) as proc:
        _wait_for_load(proc).kill()
        stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 3, stdout + stderr
    assert "the target died" in stderr
    result = read_result(out_dir / "result.json")
    assert result.status == "incomplete"
    assert any("the target died" in note for note in result.notes)
    assert result.endpoints["POST /bets"].histogram.count > 0
    assert (out_dir / "report.html").exists()
    assert leftovers(str(out_dir)) == []


@pytest.mark.slow
def test_ctrl_c_stops_everything_and_keeps_the_partial_result(out_dir: Path) -> None:
    with _running(out_dir) as proc:
        _wait_for_load(proc)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - started < 30  # promptly
    assert proc.returncode == 130, stdout + stderr
    result = read_result(out_dir / "result.json")
    assert result.status == "incomplete"
    assert "interrupted by the user (Ctrl-C)" in result.notes
    assert result.total_requests > 0
    assert leftovers(str(out_dir)) == []
