"""From the plugin's recording to a RunResult: the window, the series, the stages and the
arrivals, measurement only (the budgets and the knee belong to the verdict)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from loadgate.assemble import assemble, read_recording
from loadgate.config import load_profile, load_target
from loadgate.errors import DataError
from loadgate.recording import Recorder

T0 = 1_800_000_000.0


def _assembled(recorder: Recorder, profile_name: str = "smoke", **changes: object):  # type: ignore[no-untyped-def]
    profile = dataclasses.replace(load_profile(profile_name), **changes)  # type: ignore[arg-type]
    return assemble(
        recorder.recording(), run_id="r1", target=load_target("local"), profile=profile,
        complete=True, notes=[], audit={"ok": True}, environment={}, processes=[], command=[],
    )  # fmt: skip


def test_the_window_keeps_exact_histograms_and_drops_the_warmup() -> None:
    r = Recorder(warmup_s=10, window_s=50)
    r.start(T0)
    r.request("POST /bets", T0 + 5, 900.0, None, None)  # warm-up: left out
    for i in range(100):
        r.request("POST /bets", T0 + 10 + i * 0.4, 1.0 + i / 100, None, None)
    r.request("POST /bets", T0 + 30, 3.0, RuntimeError("boom"), None)
    r.end = T0 + 60
    result = _assembled(r, warmup_s=10.0, duration_s=50.0)
    bets = result.endpoints["POST /bets"]
    assert (bets.histogram.count, bets.failures) == (100, 1)
    assert bets.histogram.max_us == pytest.approx(1_990, rel=1e-3)  # not the 900 ms warm-up
    assert result.window_s == 50.0 and result.status == "complete"
    assert "budgets" not in result.profile  # measurement only: the verdict records its budgets
    assert result.stages == [] and result.arrivals is None


def test_a_short_window_makes_the_run_incomplete_and_says_so() -> None:
    r = Recorder(warmup_s=10, window_s=50)
    r.start(T0)
    r.request("GET /markets", T0 + 12, 1.0, None, None)
    r.end = T0 + 30  # stopped 40 s early
    result = _assembled(r, warmup_s=10.0, duration_s=50.0)
    assert result.status == "incomplete"
    assert "the measurement window covered 20 of 50 s" in result.notes


def test_capacity_steps_are_kept_as_stages_without_judging_them() -> None:
    profile = load_profile("capacity")
    r = Recorder(warmup_s=profile.warmup_s, stages=[(10, 30), (40, 60)])
    r.start(T0)
    r.request("POST /bets", T0 + 15, 2.0, None, None)
    r.request("POST /bets", T0 + 45, 400.0, None, None)
    r.end = T0 + profile.run_time_s
    result = _assembled(r, "capacity")
    assert [s.users for s in result.stages][:2] == [200, 600]
    assert result.stages[1].endpoints["POST /bets"].histogram.max_us > 300_000
    assert not any(n.startswith("capacity") for n in result.notes)  # the knee is the verdict's


def test_a_corrupt_recording_is_a_data_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "recording.json"
    path.write_text("{not json")
    with pytest.raises(DataError, match=f"{path}: corrupt recording"):
        read_recording(path)
    path.write_text(json.dumps({"schema": "other"}))
    with pytest.raises(DataError, match="not a loadgate recording"):
        read_recording(path)
