"""`loadgate compare`: any two stored results or baselines, judged by the verdict's rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgate.errors import DataError
from loadgate.results import write_result

from .test_verdict import BETS, _baseline, lognormal_ms, make_result


def test_compare_any_two_stored_files(tmp_path: Path) -> None:
    from loadgate.compare import compare, load_side

    base_path = _baseline(tmp_path, [10.0, 10.3, 9.8, 10.1, 9.9])
    slow_path = _baseline(tmp_path / "slow", [15.0, 15.3, 14.8, 15.2, 14.9])
    same, slow = tmp_path / "same.json", tmp_path / "slow.json"
    write_result(same, make_result({BETS: (lognormal_ms(10, 20_000, 70), 0)}, run_id="s"))
    write_result(slow, make_result({BETS: (lognormal_ms(15, 20_000, 71), 0)}, run_id="x"))
    assert compare(load_side(base_path), load_side(same)).status == "pass"
    assert compare(load_side(base_path), load_side(slow)).status == "fail"
    groups = compare(load_side(base_path), load_side(slow_path))
    assert groups.status == "fail" and {c.outcome for c in groups.checks} == {"regression"}
    assert compare(load_side(base_path), load_side(base_path)).status == "pass"
    one_vs_one = compare(load_side(same), load_side(slow))  # a one-run baseline gates nothing
    assert one_vs_one.status == "pass"
    assert {c.outcome for c in one_vs_one.checks} == {"not gated"}
    assert "+" in one_vs_one.checks[0].message  # the change is shown, not judged
    assert "run-to-run noise is unknown" in one_vs_one.checks[0].message
    junk = tmp_path / "junk.json"
    junk.write_text('{"schema": "other"}')
    with pytest.raises(DataError, match="neither a loadgate result nor a baseline"):
        load_side(junk)
