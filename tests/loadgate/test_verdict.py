"""The verdict on known data: validity, budgets with intervals, regression against baselines."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from loadgate import stats
from loadgate.baselines import Baseline, bless, load_baseline
from loadgate.budgets import parse_budget
from loadgate.histogram import LatencyHistogram
from loadgate.results import EndpointResult, RunResult, Timeline
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
    result = replace(result, environment={"machine": {"cpu_model": "other", "cores": 64}})
    v = judge(result, [], baseline)
    assert v.status == "pass"
    checks = v.of_kind("regression")
    assert {c.outcome for c in checks} == {"regression"}
    assert all(c.status == "warn" and "Advisory only" in c.message for c in checks)


def test_a_noisy_metric_is_still_gated_and_a_rise_inside_its_band_is_said_not_flagged(
    tmp_path: Path,
) -> None:
    baseline = load_baseline(_baseline(tmp_path, [10.0, 16.0, 7.0, 13.0, 9.0]))
    assert baseline is not None
    within = judge(make_result({BETS: (lognormal_ms(13, 20_000, 5), 0)}), [], baseline)
    assert within.status == "pass"
    p50 = {c.name: c for c in within.of_kind("regression")}["POST /bets p50 vs baseline"]
    assert (p50.outcome, p50.status) == ("inconclusive", "pass")
    assert "only a change above +" in p50.message
    # gated all the same: chosen by the baseline's size, not by how quiet it came out
    # its noise band reaches about x7 (t at Holm's level over 4 degrees of freedom)
    tenfold = judge(make_result({BETS: (lognormal_ms(150, 20_000, 5), 0)}), [], baseline)
    assert tenfold.status == "fail"


def test_one_blessed_run_gates_nothing_and_says_why(tmp_path: Path) -> None:
    """A young baseline never fails the gate: one run says nothing about run-to-run noise."""
    baseline = load_baseline(_baseline(tmp_path, [10.0]))
    assert baseline is not None
    v = judge(make_result({BETS: (lognormal_ms(20, 20_000, 5), 0)}), [], baseline)
    assert v.status == "pass"
    checks = v.of_kind("regression")
    assert {(c.outcome, c.status) for c in checks} == {("not gated", "pass")}
    assert "×2.0" in checks[0].message and "run-to-run noise is unknown" in checks[0].message
    # a second blessed run and the same doubling is judged (and fails)
    two = load_baseline(_baseline(tmp_path, [10.0, 10.2]))
    assert two is not None
    tripled = judge(make_result({BETS: (lognormal_ms(200, 20_000, 5), 0)}), [], two)
    assert tripled.status == "fail"


def test_a_clear_rise_of_a_budgeted_journey_fails_among_many_metrics(tmp_path: Path) -> None:
    """The outside check's case: +82% of POST /bets P50 against ten blessed runs with ~9%
    run-to-run noise, among ten endpoints' P50/P95/P99. POST /bets has a latency budget, so
    it is a critical journey holding most of alpha; without a budget it would need more."""
    medians = [10.0, 10.9, 9.2, 10.4, 9.6, 11.0, 9.1, 10.2, 9.8, 10.7]
    others = [f"GET /other/{k}" for k in range(9)]
    baseline = load_baseline(_baseline_of(tmp_path, [BETS, *others], medians))
    assert baseline is not None
    current = {name: (lognormal_ms(10.0, 20_000, 600 + k), 0) for k, name in enumerate(others)}
    current[BETS] = (lognormal_ms(18.2, 20_000, 77), 0)
    result = make_result(current)
    budget = [parse_budget(BETS, "p99 < 1000ms")]
    v = judge(result, budget, baseline)
    p50 = {c.name: c for c in v.of_kind("regression")}["POST /bets p50 vs baseline"]
    assert v.status == "fail" and p50.outcome == "regression"
    assert "needed): a regression." in p50.message
    plain = {c.name: c for c in judge(result, [], baseline).of_kind("regression")}
    # the same p-value held to the level of one among thirty equal metrics
    assert plain["POST /bets p50 vs baseline"].message != p50.message


def test_a_generator_saturated_for_a_stretch_makes_the_run_invalid() -> None:
    from loadgate.results import ProcessSamples

    result = make_result({BETS: (lognormal_ms(10, 5_000, 1), 0)})
    t = [float(s) for s in range(10, 60)]
    calm = [40.0] * len(t)
    burst = [40.0] * 20 + [99.0] * 15 + [40.0] * 15  # 15 s pinned, mean 57%
    result = replace(result, processes=[ProcessSamples("generator", 1, t, calm, [100.0] * len(t))])
    assert judge(result, []).status == "pass"
    result = replace(result, processes=[ProcessSamples("generator", 1, t, burst, [100.0] * len(t))])
    v = judge(result, [])
    assert v.status == "invalid"
    assert "saturated (≥ 90% of a core) for 15 s from 30 s into the run" in v.headline


def _baseline_of(tmp_path: Path, names: list[str], medians: list[float]) -> Path:
    path = tmp_path / "baselines" / "local" / "many.json"
    runs = [
        make_result(
            {name: (lognormal_ms(m, 20_000, 10 + i + 100 * k), 0) for k, name in enumerate(names)},
            run_id=f"b{i}",
            started_at=f"2026-11-2{i}T10:00:00+00:00",
        )
        for i, m in enumerate(medians)
    ]
    bless(runs, path)
    return path


def bets_slowed_to_p(
    baseline: Baseline, names: list[str], low: float, high: float
) -> dict[str, tuple[np.ndarray, int]]:
    """A run's samples for ``names`` (medians of 10 ms), but with POST /bets slowed just
    enough that its P50's own-value test against ``baseline`` is a regression with a p-value
    strictly between ``low`` and ``high``."""
    for median in np.arange(10.8, 14.0, 0.05):
        current = {name: (lognormal_ms(10.0, 20_000, 500 + k), 0) for k, name in enumerate(names)}
        current[BETS] = (lognormal_ms(float(median), 20_000, 77), 0)
        result = make_result(current)
        y = result.endpoints[BETS].quantile_ms(0.5)
        cmp = stats.compare_to_baseline(baseline.values(BETS, 0.5), y, alpha=0.01, min_effect=0.1)
        if cmp.outcome == "regression" and low < cmp.p_value < high:
            return current
    pytest.fail(f"no slowdown of POST /bets with a p-value between {low:.2g} and {high:.2g}")


def test_holm_corrects_across_every_gated_metric_in_judge(tmp_path: Path) -> None:
    """One metric significant on its own (p below alpha) but not against alpha / m with m
    gated metrics: alone it is a regression; among three endpoints' metrics, Holm makes it
    inconclusive. The oracle is Holm's procedure applied by hand to the checks' p-values.
    (Two other endpoints are too few to take the run's speed out by, so each metric is
    tested once, on its own value; see test_relative_gate for the other test.)"""
    medians = [10.0, 10.3, 9.8, 10.1, 9.9]
    others = [f"GET /other/{k}" for k in range(2)]
    names = [BETS, *others]
    baseline = load_baseline(_baseline_of(tmp_path, names, medians))
    assert baseline is not None
    # pick the slowdown whose P50 lands between alpha / m and alpha against the baseline
    current = bets_slowed_to_p(baseline, names, 0.01 / 9, 0.004)
    result = make_result(current)
    alone = judge(
        make_result({BETS: current[BETS]}), [], load_baseline(_baseline(tmp_path, medians))
    )
    assert [
        c.outcome for c in alone.of_kind("regression") if c.name == "POST /bets p50 vs baseline"
    ] == ["regression"]
    among = judge(result, [], baseline)
    checks = {c.name: c for c in among.of_kind("regression")}
    assert len(checks) == 3 * len(names)  # P50, P95, P99 of each endpoint
    p_values = [
        stats.compare_to_baseline(
            baseline.values(c.endpoint or "", q), result.endpoints[c.endpoint or ""].quantile_ms(q),
            alpha=0.01, min_effect=0.1,
        ).p_value
        for c in checks.values()
        for q in [float(c.name.split()[-3][1:]) / 100]
    ]  # fmt: skip
    # Holm by hand: the smallest p must be below alpha / m before anything is rejected
    assert min(p_values) > 0.01 / len(p_values)
    assert checks["POST /bets p50 vs baseline"].outcome == "inconclusive"
    assert among.status == "pass"
    # the sentence agrees with the outcome: no "a regression" beside an inconclusive
    message = checks["POST /bets p50 vs baseline"].message
    assert "too noisy to call it a regression" in message and ": a regression" not in message


def test_a_pass_without_a_baseline_says_no_regression_was_checked() -> None:
    result = make_result({BETS: (lognormal_ms(10, 5_000, 1), 0)})
    v = judge(result, [parse_budget(BETS, "p99 < 100ms")])
    assert v.status == "pass"
    assert v.headline.endswith("the budgets held; no regression was checked (no baseline to "
                               "compare with).")  # fmt: skip
    from loadgate.report.html import _meaning

    assert _meaning(v).startswith("The budgets held. No regression was checked")


@pytest.mark.parametrize(
    ("intended", "status"), [(2500, "pass"), (2540, "pass"), (5000, "invalid"), (1250, "invalid")]
)
def test_the_arrivals_intended_are_checked_against_rate_times_window(
    intended: int, status: str
) -> None:
    """50/s over the 50 s window is 2,500 arrivals: twice that (each worker pacing the whole
    rate) or half is a run that did not ask what it says."""
    from loadgate.results import Arrivals

    result = make_result({BETS: (lognormal_ms(10, 5_000, 1), 0)})
    result = replace(result, arrivals=Arrivals(rate=50.0, intended=intended, dropped=0))
    check = next(c for c in judge(result, []).checks if c.name == "arrival rate intended")
    assert check.status == status, check.message
    assert f"intended {intended} arrivals in the 50 s window" in check.message


def test_the_open_model_is_compared_on_corrected_latency(tmp_path: Path) -> None:
    """Blessed and judged from the intended start: a run whose requests were as fast as the
    baseline's but waited 40% longer for a free user is a regression."""

    def open_result(median: float, late_ms: float, seed: int, run_id: str) -> RunResult:
        r = make_result({BETS: (lognormal_ms(median, 20_000, seed), 0)}, run_id=run_id)
        ep = r.endpoints[BETS]
        ep.corrected = LatencyHistogram.of(lognormal_ms(median, 20_000, seed) + int(late_ms * 1000))
        return r

    path = tmp_path / "open.json"
    bless(
        [open_result(m, 10.0, 10 + i, f"b{i}") for i, m in enumerate([10.0, 10.3, 9.8, 10.1, 9.9])],
        path,
    )
    baseline = load_baseline(path)
    assert baseline is not None
    assert baseline.values(BETS, 0.5)[0] > 15  # the corrected P50 was blessed
    slower = judge(open_result(10.0, 18.0, 99, "s"), [], baseline)
    (check,) = [c for c in slower.of_kind("regression") if c.name == "POST /bets p50 vs baseline"]
    assert check.outcome == "regression"
