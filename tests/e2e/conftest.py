"""Helpers for end-to-end tests: the real CLI in a subprocess, real SUT, real Locust."""

from __future__ import annotations

import collections
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import psutil
import pytest

from loadgate.histogram import LatencyHistogram
from loadgate.results import RunResult

from ..conftest import python

ROOT = Path(__file__).resolve().parents[2]
# short but judgeable: enough requests for P99 intervals on the busy endpoints
SHORT = ["--users", "60", "--spawn-rate", "30", "--warmup", "5s", "--duration", "25s"]


def loadgate(
    *args: str, timeout: float = 240, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run the real ``loadgate`` CLI and capture its output."""
    return python("-m", "loadgate.cli", *args, timeout=timeout, cwd=cwd)


def generator_was_late(out: Path) -> bool:
    """Whether the run in ``out`` is invalid only because its load generator was late (on a
    shared machine the hypervisor or a neighbour can take the generator's core for seconds;
    the verdict then rightly refuses the run)."""
    from loadgate.results import read_result
    from loadgate.verdict import judge

    result = read_result(out / "result.json")
    record = result.judged_with
    assert record is not None, f"{out}: the run was never judged"
    verdict = judge(result, record.budgets, None, record.policy)
    invalid = {c.name for c in verdict.checks if c.status == "invalid"}
    return invalid == {"generator kept up"}


def run_judged(
    out: Path, *args: str, attempts: int = 3
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``loadgate run --out OUT ARGS``, again (into OUT-2, OUT-3) while a run is invalid only
    because the machine made its load generator late (a shared virtual machine's host takes
    its CPUs for seconds at a time). Returns the last run and its directory: callers accept
    exit 4 from it only if :func:`generator_was_late` says so, the verdict being right."""
    first = out
    proc = loadgate("run", "--out", str(out), *args)
    for attempt in range(2, attempts + 1):
        if not (proc.returncode == 4 and generator_was_late(out)):
            break
        out = first.with_name(f"{first.name}-{attempt}")
        proc = loadgate("run", "--out", str(out), *args)
    return proc, out


def leftovers(pattern: str) -> list[str]:
    """Command lines of processes still running that mention ``pattern``."""
    me = os.getpid()
    out = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if pattern in cmd and proc.info["pid"] != me and "pytest" not in cmd:
            out.append(cmd)
    return out


def assert_merge_exact(result: RunResult, sample_files: Sequence[Path]) -> None:
    """The merged histograms of ``result`` equal, quantile for quantile, one histogram per
    endpoint built from every sample the generator processes logged (``--loadgate-samples``)."""
    raw: dict[str, list[int]] = collections.defaultdict(list)
    for f in sample_files:
        for line in f.read_text().splitlines():
            key, us = line.split("\t")
            raw[key].append(int(us))
    assert set(raw) == set(result.endpoints)
    for name, values in raw.items():
        single = LatencyHistogram.of(values)
        merged = result.endpoints[name].histogram
        assert merged.count == single.count == len(values)
        for q in (0.5, 0.9, 0.95, 0.99, 0.999, 1.0):
            assert merged.quantile(q) == single.quantile(q), (name, q)


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"
