"""The baseline store: blessing keeps the newest K complete runs, round-trips, and knows its
run-to-run spread."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest

from loadgate.baselines import bless, load_baseline
from loadgate.errors import DataError

from .test_verdict import BETS, _baseline, lognormal_ms, make_result


def test_bless_keeps_the_last_k_and_round_trips(tmp_path: Path) -> None:
    path = _baseline(tmp_path, [10, 11, 12])
    more = [
        make_result({BETS: (lognormal_ms(13, 1_000, 50 + i), 0)}, run_id=f"n{i}",
                    started_at=f"2026-11-29T1{i}:00:00+00:00")
        for i in range(3)
    ]  # fmt: skip
    stored = bless(more, path, keep=4)
    assert [r.run_id for r in stored.runs] == ["b2", "n0", "n1", "n2"]
    again = load_baseline(path)
    assert again is not None and [r.run_id for r in again.runs] == ["b2", "n0", "n1", "n2"]
    assert again.values(BETS, 0.99) == stored.values(BETS, 0.99)


def test_incomplete_runs_cannot_be_blessed(tmp_path: Path) -> None:
    bad = make_result({BETS: (lognormal_ms(10, 100, 1), 0)}, status="incomplete")
    with pytest.raises(DataError, match="incomplete run cannot be blessed"):
        bless([bad], tmp_path / "b.json")


def test_spread_is_the_sd_of_the_log_values_and_needs_two_runs(tmp_path: Path) -> None:
    stored = load_baseline(_baseline(tmp_path, [10, 11, 12]))
    assert stored is not None
    logs = [math.log(v) for v in stored.values(BETS, 0.5)]
    assert stored.spread(BETS, 0.5) == pytest.approx(statistics.stdev(logs))
    assert 0.05 < (stored.spread(BETS, 0.5) or 0) < 0.12  # medians 10, 11, 12 ms
    one = load_baseline(_baseline(tmp_path / "one", [10]))
    assert one is not None and one.spread(BETS, 0.5) is None
    assert one.spread("GET /nothing", 0.5) is None
