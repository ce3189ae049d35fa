"""The verdict on known data: validity, budgets with intervals, regression against baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loadgate.baselines import bless, load_baseline
from loadgate.budgets import parse_budget
from loadgate.errors import DataError
from loadgate.histogram import LatencyHistogram
from loadgate.results import EndpointResult, RunResult, Timeline, read_result, write_result
from loadgate.verdict import judge


def make_result(
    endpoints: dict[str, tuple[np.ndarray, int]],
    *,
    run_id: str = "r1",
    started_at: str = "2026-11-29T10:00:00+00:00",
    users: tuple[int, int] = (50, 50),
    status: str = "complete",
    audit: dict[str, object] | None = None,
) -> RunResult:
    return RunResult(
        run_id=run_id,
        target="local",
        scenario="smoke",
        profile={"users": users[0]},
        started_at=started_at,
        t0=1_800_000_000.0,
        warmup_s=10.0,
        window_s=50.0,
        status=status,  # type: ignore[arg-type]
        endpoints={
            name: EndpointResult(name, LatencyHistogram.of(samples), failures)
            for name, (samples, failures) in endpoints.items()
        },
        timeline=Timeline(seconds=[0, 1], users=[users[1], users[1]]),
        users_target=users[0],
        users_reached=users[1],
        audit=audit,
        environment={"machine": {"cpu_model": "test", "cores": 2}},
        notes=[] if status == "complete" else ["the target died 20 s into the run"],
    )


def lognormal_ms(median_ms: float, n: int, seed: int, sigma: float = 0.4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(rng.lognormal(np.log(median_ms * 1000), sigma, n)).astype(int)


BETS = "POST /bets"


def test_pass_within_budget() -> None:
    result = make_result({BETS: (lognormal_ms(10, 5_000, 1), 0)})
    budgets = [parse_budget(BETS, "p99 < 100ms"), parse_budget("*", "errors < 1%")]
    v = judge(result, budgets)
    assert v.status == "pass" and v.exit_code == 0
    assert {c.kind for c in v.checks} == {"validity", "budget"}


def test_budget_fails_only_when_the_interval_is_above_the_ceiling() -> None:
    samples = lognormal_ms(10, 5_000, 2)
    result = make_result({BETS: (samples, 0)})
    p99 = result.endpoints[BETS].quantile_ms(0.99)
    low, high = (x / 1000 for x in result.endpoints[BETS].histogram.quantile_interval(0.99) or ())
    clearly_below = judge(result, [parse_budget(BETS, f"p99 < {low * 0.9:.3f}ms")])
    assert clearly_below.status == "fail" and clearly_below.exit_code == 1
    assert BETS in clearly_below.headline
    hovering = judge(result, [parse_budget(BETS, f"p99 < {(low + p99) / 2:.3f}ms")])
    assert hovering.status == "pass"
    assert [c.status for c in hovering.of_kind("budget")] == ["warn"]
    above = judge(result, [parse_budget(BETS, f"p99 < {high * 1.1:.3f}ms")])
    assert [c.status for c in above.of_kind("budget")] == ["pass"]


def test_error_budget() -> None:
    result = make_result({BETS: (lognormal_ms(10, 1_000, 3), 100)})  # 9% errors
    v = judge(result, [parse_budget("*", "errors < 1%")])
    assert v.status == "fail"
    assert "error rate is 9.09% (100 of 1100)" in v.headline


def test_endpoint_budget_replaces_wildcard_for_that_metric() -> None:
    result = make_result(
        {BETS: (lognormal_ms(10, 1_000, 3), 8), "GET /x": (lognormal_ms(5, 500, 4), 0)}
    )
    v = judge(result, [parse_budget("*", "errors < 1%"), parse_budget(BETS, "errors < 5%")])
    names = sorted(c.name for c in v.of_kind("budget"))
    assert names == ["GET /x errors < 1%", "POST /bets errors < 5%"]
    assert v.status == "pass"


def test_too_few_samples_is_invalid_not_a_pass() -> None:
    result = make_result({BETS: (lognormal_ms(10, 300, 5), 0)})
    v = judge(result, [parse_budget(BETS, "p99 < 1s")])
    assert v.status == "invalid" and v.exit_code == 4
    assert "only 300 samples; its p99 budget needs at least 368" in v.headline


def test_every_check_is_reported_never_first_fail() -> None:
    result = make_result(
        {BETS: (lognormal_ms(100, 2_000, 6), 0)},
        users=(50, 30),
        status="incomplete",
        audit={"ok": False, "checks": [{"name": "money conserved", "ok": False}]},
    )
    v = judge(result, [parse_budget(BETS, "p95 < 1ms"), parse_budget("GET /gone", "p95 < 1s")])
    assert v.status == "invalid"
    statuses = {c.name: c.status for c in v.checks}
    assert statuses["run completed"] == "invalid"
    assert statuses["load delivered"] == "invalid"
    assert statuses["SUT invariants"] == "invalid"
    assert statuses["GET /gone samples for p95"] == "invalid"
    assert statuses["POST /bets p95 < 1.00 ms"] == "fail"
    assert "and 3 more" in v.headline


def _baseline(tmp_path: Path, medians: list[float]) -> Path:
    path = tmp_path / "baselines" / "local" / "smoke.json"
    runs = [
        make_result(
            {BETS: (lognormal_ms(m, 20_000, 10 + i), 0)},
            run_id=f"b{i}",
            started_at=f"2026-11-2{i}T10:00:00+00:00",
        )
        for i, m in enumerate(medians)
    ]
    bless(runs, path)
    return path


def test_regression_against_a_stored_baseline(tmp_path: Path) -> None:
    baseline = load_baseline(_baseline(tmp_path, [10.0, 10.3, 9.8, 10.1, 9.9]))
    assert baseline is not None and len(baseline.runs) == 5
    same = judge(make_result({BETS: (lognormal_ms(10, 20_000, 99), 0)}), [], baseline)
    assert same.status == "pass"
    assert {c.outcome for c in same.of_kind("regression")} == {"pass"}
    slower = judge(make_result({BETS: (lognormal_ms(14, 20_000, 98), 0)}), [], baseline)
    assert slower.status == "fail"
    assert {c.outcome for c in slower.of_kind("regression")} == {"regression"}
    assert "POST /bets p50 is" in slower.headline and "+39.8%" in slower.headline


def test_other_machine_makes_regressions_advisory(tmp_path: Path) -> None:
    baseline = load_baseline(_baseline(tmp_path, [10.0, 10.3, 9.8, 10.1, 9.9]))
    assert baseline is not None
    result = make_result({BETS: (lognormal_ms(14, 20_000, 98), 0)})
    result.environment = {"machine": {"cpu_model": "other", "cores": 64}}
    v = judge(result, [], baseline)
    assert v.status == "pass"
    checks = v.of_kind("regression")
    assert {c.outcome for c in checks} == {"regression"}
    assert all(c.status == "warn" and "Advisory only" in c.message for c in checks)


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


def test_result_round_trip(tmp_path: Path) -> None:
    result = make_result({BETS: (lognormal_ms(10, 3_000, 7), 4)})
    result.endpoints[BETS].outcomes = {"odds_changed": 12}
    path = tmp_path / "result.json"
    write_result(path, result)
    back = read_result(path)
    assert back.endpoints[BETS].histogram.quantile(0.99) == result.endpoints[
        BETS
    ].histogram.quantile(0.99)
    assert back.endpoints[BETS].outcomes == {"odds_changed": 12}
    assert (back.run_id, back.status, back.users_reached) == ("r1", "complete", 50)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.replace('"schema_version": 1', '"schema_version": 7'), "newer than this"),
        (lambda t: t.replace('"schema": "loadgate.result"', '"schema": "x"'), "not a loadgate"),
        (lambda t: t.replace('"failures": 4', '"failures": "4"'), "failures: expected"),
        (lambda t: t[: len(t) // 2], "corrupt result"),
        (lambda t: t.replace('"run_id": "r1",', ""), "missing key 'run_id'"),
    ],
)
def test_corrupt_results_name_the_file(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "result.json"
    write_result(path, make_result({BETS: (lognormal_ms(10, 100, 7), 4)}))
    path.write_text(mutate(path.read_text()))
    with pytest.raises(DataError, match=message) as err:
        read_result(path)
    assert str(path) in str(err.value)


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
    one_vs_one = compare(load_side(same), load_side(slow))  # within-run intervals only
    assert one_vs_one.status == "fail"
    assert "run-to-run noise is unknown" in one_vs_one.checks[0].message
    junk = tmp_path / "junk.json"
    junk.write_text('{"schema": "other"}')
    with pytest.raises(DataError, match="neither a loadgate result nor a baseline"):
        load_side(junk)


def test_a_metric_too_noisy_to_gate_is_reported_not_gated(tmp_path: Path) -> None:
    baseline = load_baseline(_baseline(tmp_path, [10.0, 16.0, 7.0, 13.0, 9.0]))
    assert baseline is not None
    v = judge(make_result({BETS: (lognormal_ms(30, 20_000, 5), 0)}), [], baseline)
    assert v.status == "pass"
    checks = v.of_kind("regression")
    assert {c.outcome for c in checks} == {"not gated"}
    assert "only a change above +" in checks[0].message


def test_a_generator_saturated_for_a_stretch_makes_the_run_invalid() -> None:
    from loadgate.results import ProcessSamples

    result = make_result({BETS: (lognormal_ms(10, 5_000, 1), 0)})
    t = [float(s) for s in range(10, 60)]
    calm = [40.0] * len(t)
    burst = [40.0] * 20 + [99.0] * 15 + [40.0] * 15  # 15 s pinned, mean 57%
    result.processes = [ProcessSamples("generator", 1, t, calm, [100.0] * len(t))]
    assert judge(result, []).status == "pass"
    result.processes = [ProcessSamples("generator", 1, t, burst, [100.0] * len(t))]
    v = judge(result, [])
    assert v.status == "invalid"
    assert "saturated (≥ 90% of a core) for 15 s from 30 s into the run" in v.headline
