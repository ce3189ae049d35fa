"""Budgets and the stored-baseline gate at the edges mutation testing found unpinned.

Each test flips when one rule of the verdict changes: a budget judged at another confidence,
with the generator's delay added instead of taken off, or floored at a millisecond; an error
budget that fails when its Wilson interval only touches the ceiling; a quantile compared
without an interval; a metric dropped after one that was not compared or not gated; the
critical journeys' share of alpha handed to the others; the blessed runs judged with their
generator's delay left in; a wide noise band's rise flagged, or a narrow one's not.

Oracles: exact quantiles of evenly spaced samples (1..1000 µs: the p50 is 500 µs and its
interval's ends are the ranks the binomial distribution gives, computed here with scipy),
the Wilson interval written out from its formula, the prediction interval of the logs worked
by hand, weighted Holm's first step, and seeded log-normal runs whose planted change is far
from every threshold but the one a test is about.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sp

from loadgate.baselines import Baseline, load_baseline, run_of
from loadgate.budgets import parse_budget
from loadgate.checks import Check
from loadgate.histogram import LatencyHistogram
from loadgate.policy import GatePolicy
from loadgate.results import RunResult
from loadgate.verdict import (
    budget_checks,
    judge,
    regression_checks,
    relative_values,
)

from .test_verdict import BETS, _baseline_of, bets_slowed_to_p, lognormal_ms, make_result

STEADY = [10.0, 10.3, 9.8, 10.1, 9.9]  # blessed runs' medians (ms): about 2% run-to-run noise


def _even(n: int = 1000, step: int = 1) -> np.ndarray:
    """step, 2·step, ..., n·step µs: every value below 2048 µs, so the histogram holds each
    exactly and the p-quantile is the value at rank ceil(p·n)."""
    return np.arange(1, n + 1) * step


def _rank_interval(n: int, p: float, confidence: float) -> tuple[int, int]:
    """The distribution-free interval's ranks: the largest r with P(Bin(n, p) <= r - 1) <= a/2
    and the smallest s with P(Bin(n, p) >= s) <= a/2, a = 1 - confidence."""
    a = (1 - confidence) / 2
    r = max(r for r in range(1, n + 1) if sp.binom.cdf(r - 1, n, p) <= a)
    s = min(s for s in range(1, n + 1) if sp.binom.sf(s - 1, n, p) <= a)
    return r, s


def _blessed(results: list[RunResult]) -> Baseline:
    return Baseline("local", "smoke", [run_of(replace(r, run_id=f"b{i}")) for i, r in
                                       enumerate(results)])  # fmt: skip


def _with_delay(result: RunResult, delays_us: Mapping[str, int]) -> RunResult:
    """The run with each named endpoint's generator delay a constant ``delays_us[name]``."""
    endpoints = {
        name: replace(ep, delay=LatencyHistogram.of([delays_us[name]] * 100))
        if name in delays_us
        else ep
        for name, ep in result.endpoints.items()
    }
    return replace(result, endpoints=endpoints)


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


# --- latency budgets ------------------------------------------------------------------------
# 1..1000 µs: the p50 is 500 µs; its 95% interval is ranks (469, 532), its 50% one (489, 512)
@pytest.mark.parametrize(
    ("expression", "confidence", "less_ms", "status", "interval_ms"),
    [
        # sub-millisecond values are judged as they are: nothing is floored at 1 ms
        ("p50 < 600us", 0.95, 0.0, "pass", (0.469, 0.532)),
        ("p50 < 500us", 0.95, 0.0, "pass", (0.469, 0.532)),  # the estimate at the ceiling
        ("p50 < 499us", 0.95, 0.0, "warn", (0.469, 0.532)),
        ("p50 < 469us", 0.95, 0.0, "warn", (0.469, 0.532)),  # the interval's low end at it
        ("p50 < 468us", 0.95, 0.0, "fail", (0.469, 0.532)),
        # the policy's confidence sets the interval: at 50% it is narrower and clears 480 µs
        ("p50 < 480us", 0.50, 0.0, "fail", (0.489, 0.512)),
        ("p50 < 480us", 0.95, 0.0, "warn", (0.469, 0.532)),
        # the generator's delay comes off the estimate and the interval
        ("p50 < 400us", 0.95, 0.2, "pass", (0.269, 0.332)),
        ("p50 < 299us", 0.95, 0.2, "warn", (0.269, 0.332)),
        # more delay than latency leaves zero, not a negative value and not a millisecond
        ("p50 < 100us", 0.95, 1.0, "pass", (0.0, 0.0)),
    ],
)
def test_a_sub_millisecond_latency_budget_at_its_edges(
    expression: str, confidence: float, less_ms: float, status: str, interval_ms: tuple[float, ...]
) -> None:
    samples = _even()
    result = make_result({BETS: (samples, 0)})
    low, high = _rank_interval(len(samples), 0.5, confidence)
    if less_ms == 0.0:  # the oracle's interval is the binomial ranks' values
        assert (low / 1000, high / 1000) == pytest.approx(interval_ms)
    less = {(BETS, 0.5): less_ms} if less_ms else None
    [check] = budget_checks(result, [parse_budget(BETS, expression)], confidence, less=less)
    assert check.status == status, check.message
    assert check.interval == pytest.approx(interval_ms, abs=1e-12)
    assert check.endpoint == BETS and check.kind == "budget"


def test_a_budget_judged_without_the_delay_says_the_estimate_less_the_delay() -> None:
    """500 µs less 200 µs of generator delay is 0.30 ms, said in the sentence."""
    result = make_result({BETS: (_even(), 0)})
    [check] = budget_checks(result, [parse_budget(BETS, "p50 < 1ms")], less={(BETS, 0.5): 0.2})
    assert "is 0.30 ms (95% CI 0.27 ms–0.33 ms)" in check.message
    assert check.value == pytest.approx(0.3)


def test_a_wildcard_budget_names_each_endpoint_it_judged() -> None:
    result = make_result({BETS: (_even(), 0), "GET /x": (_even(step=2), 0)})
    budgets = [parse_budget("*", "p50 < 1.5ms"), parse_budget("*", "errors < 1%")]
    checks = budget_checks(result, budgets)
    assert sorted((c.endpoint, c.status) for c in checks) == [
        ("GET /x", "pass"), ("GET /x", "pass"), (BETS, "pass"), (BETS, "pass"),
    ]  # fmt: skip


# --- error budgets --------------------------------------------------------------------------
def _wilson(k: int, n: int, confidence: float) -> tuple[float, float]:
    """The Wilson score interval written out: with z the normal quantile at 1/2 + c/2,
    centre (k + z²/2) / (n + z²) and half-width z / (n + z²) · sqrt(k(n - k)/n + z²/4)."""
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    centre = (k + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * math.sqrt(k * (n - k) / n + z * z / 4)
    return max(centre - half, 0.0), min(centre + half, 1.0)


@pytest.mark.parametrize(("confidence", "status"), [(0.50, "fail"), (0.95, "warn")])
def test_an_error_budget_uses_the_policys_confidence_for_its_wilson_interval(
    confidence: float, status: str
) -> None:
    """13 failures in 1,000 requests against 1%: the 50% Wilson interval starts at 1.08%
    (above the budget: fail), the 95% one at 0.76% (overlapping it: warn)."""
    result = make_result({BETS: (_even(987), 13)})
    [check] = budget_checks(result, [parse_budget(BETS, "errors < 1%")], confidence)
    low, high = _wilson(13, 1000, confidence)
    assert (low > 0.01) == (status == "fail")
    assert check.status == status, check.message
    assert check.interval == pytest.approx((low, high), rel=1e-9)
    assert check.endpoint == BETS
    assert check.value == pytest.approx(0.013)
    assert check.threshold == pytest.approx(0.01)
    # a warning does not fail the run, and the verdict's sentence says it
    verdict = judge(
        result, [parse_budget(BETS, "errors < 1%")], None, GatePolicy(confidence=confidence)
    )
    assert verdict.status == ("fail" if status == "fail" else "pass")
    said = "above its 1% budget." if status == "fail" else "above its 1% budget, but within noise"
    assert f"{BETS} error rate is 1.30% (13 of 1000)" in verdict.headline
    assert said in verdict.headline


@pytest.mark.parametrize(("failures", "status"), [(0, "pass"), (1, "fail")])
def test_a_zero_error_budget_holds_a_run_without_errors(failures: int, status: str) -> None:
    """With no failures the Wilson interval starts at exactly 0 (k = 0: centre and half-width
    are both z²/2 / (n + z²)): not above a 0% ceiling, so it holds; one failure lifts the
    whole interval above it."""
    result = make_result({BETS: (_even(1000 - failures), failures)})
    [check] = budget_checks(result, [parse_budget(BETS, "errors < 0%")])
    assert check.status == status, check.message
    assert check.interval is not None and (check.interval[0] == 0.0) == (failures == 0)


# --- what is compared, and what is said instead ---------------------------------------------
def test_a_metric_without_an_interval_or_a_baseline_is_said_and_the_rest_still_compared() -> None:
    """At 99.9% confidence a p99 interval needs ln(0.0005) / ln(0.99) = 756.3, so 757
    samples (p95: 149, p50: 11); 500 give p50 and p95 an interval but not p99, though the
    p99 is judged (368 samples suffice at 95%) and blessed. GET /new sorts first and is not
    in the baseline at all. POST /bets is three times slower than its steady baseline."""
    baseline = _blessed([make_result({BETS: (lognormal_ms(m, 5_000, 10 + i), 0)})
                         for i, m in enumerate(STEADY)])  # fmt: skip
    result = make_result(
        {"GET /new": (lognormal_ms(5.0, 5_000, 2), 0), BETS: (lognormal_ms(30.0, 500, 3), 0)}
    )
    verdict = judge(result, [], baseline, GatePolicy(confidence=0.999))
    checks = _by_name(verdict.of_kind("regression"))
    assert sorted(checks) == [
        "GET /new p50 vs baseline", "GET /new p95 vs baseline", "GET /new p99 vs baseline",
        f"{BETS} p50 vs baseline", f"{BETS} p95 vs baseline", f"{BETS} p99 vs baseline",
    ]  # fmt: skip
    for name, endpoint in [("GET /new p50", "GET /new"), (f"{BETS} p99", BETS)]:
        said = checks[f"{name} vs baseline"]
        assert (said.status, said.outcome, said.endpoint) == ("pass", "inconclusive", endpoint)
        assert "not compared" in said.message
    for q in ("p50", "p95"):
        compared = checks[f"{BETS} {q} vs baseline"]
        assert (compared.status, compared.outcome) == ("fail", "regression"), compared.message
    assert verdict.status == "fail" and verdict.exit_code == 1


def test_a_metric_with_one_blessed_run_is_not_gated_and_the_next_still_is() -> None:
    """GET /a is in one blessed run only: not gated, said with its value (p50 1.00 ms, p99
    1.98 ms of 2..2000 µs) against that run's (0.50 ms, 0.99 ms of 1..1000 µs). POST /bets,
    after it, is in both runs and twenty times slower: gated, a regression."""
    both = make_result({"GET /a": (_even(), 0), BETS: (lognormal_ms(10.0, 5_000, 10), 0)})
    bets_only = make_result({BETS: (lognormal_ms(10.2, 5_000, 11), 0)})
    baseline = _blessed([both, bets_only])
    result = make_result({"GET /a": (_even(step=2), 0), BETS: (lognormal_ms(200.0, 5_000, 5), 0)})
    verdict = judge(result, [], baseline)
    checks = _by_name(verdict.of_kind("regression"))
    for q, now, then in [("p50", 1.0, 0.5), ("p95", 1.9, 0.95), ("p99", 1.98, 0.99)]:
        young = checks[f"GET /a {q} vs baseline"]
        assert (young.status, young.outcome, young.endpoint) == ("pass", "not gated", "GET /a")
        assert "against 1 baseline run; not gated" in young.message
        assert young.value == pytest.approx(now)
        assert young.reference == pytest.approx(then)
    bets = checks[f"{BETS} p50 vs baseline"]
    assert (bets.status, bets.outcome) == ("fail", "regression")
    assert verdict.status == "fail"


# --- the family's decisions -----------------------------------------------------------------
def test_a_budgeted_endpoint_holds_the_critical_share_of_alpha(tmp_path: Path) -> None:
    """Three endpoints, nine gated metrics; POST /bets P50 rises with a p-value between 1.2 x
    alpha / 9 and 0.8 x (0.8 x alpha / 3). Weighted Holm's first step holds the smallest
    p-value to alpha x its weight: 0.8 / 3 for each of a budgeted endpoint's three metrics
    (a regression), 0.2 / 6 for each of the others'. With no budget every metric weighs 1 / 9
    (inconclusive)."""
    names = [BETS, "GET /other/0", "GET /other/1"]
    baseline = load_baseline(_baseline_of(tmp_path, names, STEADY))
    assert baseline is not None
    result = make_result(bets_slowed_to_p(baseline, names, 0.01 / 9 * 1.2, 0.01 * 0.8 / 3 * 0.8))

    def p50(budgets: list[object]) -> Check:
        verdict = judge(result, budgets, baseline)  # type: ignore[arg-type]
        return _by_name(verdict.of_kind("regression"))[f"{BETS} p50 vs baseline"]

    budgeted = p50([parse_budget(BETS, "p99 < 10s")])
    assert (budgeted.outcome, budgeted.status) == ("regression", "fail")
    plain = p50([])
    assert (plain.outcome, plain.status) == ("inconclusive", "warn")


def test_a_rise_inside_the_noise_band_is_flagged_only_up_to_max_detectable() -> None:
    """A noisy baseline (10, 16, 7, 13, 9 ms) and a run at 13 ms: a material rise inside the
    band, inconclusive. The band by hand: the logs' mean ± t(0.99, 4) · sd · sqrt(1 + 1/5).
    A band reaching at most +max_detectable is flagged (warn); a wider one is said (pass)."""
    medians = [10.0, 16.0, 7.0, 13.0, 9.0]
    baseline = _blessed([make_result({BETS: (lognormal_ms(m, 20_000, 10 + i), 0)})
                         for i, m in enumerate(medians)])  # fmt: skip
    result = make_result({BETS: (lognormal_ms(13.0, 20_000, 5), 0)})
    logs = np.log(baseline.values(BETS, 0.5))
    half = sp.t.ppf(0.99, len(logs) - 1) * np.std(logs, ddof=1) * math.sqrt(1 + 1 / len(logs))

    def p50(max_detectable: float) -> Check:
        checks = regression_checks(result, baseline, [], GatePolicy(max_detectable=max_detectable))
        return _by_name(checks)[f"{BETS} p50 vs baseline"]

    check = p50(0.5)
    assert check.outcome == "inconclusive" and check.interval_label == "noise band"
    assert check.interval == pytest.approx((math.exp(-half), math.exp(half)), rel=1e-9)
    # the check's centre is the blessed runs' geometric mean
    assert check.reference == pytest.approx(math.exp(logs.mean()))
    assert check.interval is not None
    detectable = check.interval[1] - 1.0  # about +270%
    assert p50(detectable).status == "warn"  # the band reaches exactly max_detectable
    assert p50(detectable * 0.999).status == "pass"  # a hair wider than max_detectable
    assert p50(detectable * 1.5).status == "warn"
    assert check.status == "pass"  # wider than the default +50%


def test_a_run_whose_other_endpoints_all_moved_is_judged_on_its_own_value() -> None:
    """Every endpoint twice as slow: the run's speed (x2) is far outside the blessed runs' own
    (about ±9%), so it is not taken out; the own value's regression stands and says why."""
    names = [BETS, "GET /a", "GET /b", "GET /c"]
    baseline = _blessed([
        make_result({n: (lognormal_ms(m * (1 + k), 5_000, 10 + i + 100 * k), 0)
                     for k, n in enumerate(names)})
        for i, m in enumerate(STEADY)
    ])  # fmt: skip
    result = make_result(
        {n: (lognormal_ms(20.0 * (1 + k), 5_000, 500 + k), 0) for k, n in enumerate(names)}
    )
    checks = _by_name(regression_checks(result, baseline, [], GatePolicy()))
    check = checks[f"{BETS} p50 vs baseline"]
    assert (check.outcome, check.status) == ("regression", "fail")
    assert check.interval_label == "noise band"
    assert "so this metric is judged on its own value." in check.message


def test_a_relative_decision_is_centred_on_the_baseline_at_the_runs_own_speed() -> None:
    """Six blessed runs whose speed swings ±15% (every endpoint alike); the new run is 10%
    faster than their mean, with POST /bets 25% slower than the others: inside its own
    band, a regression only with the run's speed taken out. The centre it is judged against
    is then the baseline at this run's speed: 0.9 x the blessed geometric mean, x1.25 below
    the value."""
    names = [BETS, "GET /a", "GET /b", "GET /c", "GET /d"]

    def run(speed: float, seed: int, bets: float = 1.0) -> RunResult:
        return make_result({
            n: (lognormal_ms(speed * (1 + k) * (bets if n == BETS else 1.0), 20_000,
                             10 + seed + 100 * k, sigma=0.3), 0)
            for k, n in enumerate(names)
        })  # fmt: skip

    baseline = _blessed([run(s, i) for i, s in enumerate([1.0, 1.15, 0.87, 1.1, 0.9, 1.0])])
    result = run(0.9, 6, bets=1.25)
    check = _by_name(regression_checks(result, baseline, [], GatePolicy()))[
        f"{BETS} p50 vs baseline"
    ]
    assert (check.outcome, check.status) == ("regression", "fail"), check.message
    assert check.interval_label == "noise band, run speed taken out"
    value = result.endpoints[BETS].histogram.quantile(0.5) / 1000
    centre = math.exp(statistics.fmean(math.log(v) for v in baseline.values(BETS, 0.5)))
    assert check.reference == pytest.approx(0.9 * centre, rel=0.02)
    assert check.reference == pytest.approx(value / 1.25, rel=0.02)


# --- the generator's delay taken out of the blessed runs too --------------------------------
def test_without_the_delay_the_blessed_runs_lose_theirs_too() -> None:
    """Blessed at 10 ms of which 5 ms was the generator's delay; the new run is 7 ms with no
    delay. Judged as measured, it is 30% faster (improvement); with every run's delay taken
    out (5 ms against 7 ms) its P50 is 40% slower: a regression."""
    baseline = _blessed([
        _with_delay(make_result({BETS: (lognormal_ms(m, 20_000, 10 + i), 0)}), {BETS: 5_000})
        for i, m in enumerate(STEADY)
    ])  # fmt: skip
    result = make_result({BETS: (lognormal_ms(7.0, 20_000, 5), 0)})
    measured = _by_name(regression_checks(result, baseline, [], GatePolicy()))
    assert measured[f"{BETS} p50 vs baseline"].outcome == "improvement"
    bare = _by_name(regression_checks(result, baseline, [], GatePolicy(), less={(BETS, 0.5): 0.0}))
    check = bare[f"{BETS} p50 vs baseline"]
    assert (check.outcome, check.status) == ("regression", "fail"), check.message


def test_without_the_delay_the_run_speed_is_measured_on_bare_values_on_both_sides() -> None:
    """Four endpoints; the blessed runs' speed swings ±15%, and the three others each carried
    2 ms of generator delay in every run. The new run at the baseline's speed, POST /bets
    5% slower, judged with the others' 2 ms taken out: taken out of the blessed runs too,
    the run's speed is as usual and +5% is no material change. (Left in the blessed runs,
    the others would look 20% faster and POST /bets 30% slower than them.)"""
    names = [BETS, "GET /a", "GET /b", "GET /c"]
    delays = {n: 2_000 for n in names[1:]}
    baseline = _blessed([
        _with_delay(make_result({n: (lognormal_ms(10.0 * s, 20_000, 10 + i + 100 * k), 0)
                                 for k, n in enumerate(names)}), delays)
        for i, s in enumerate([1.0, 1.15, 0.87, 1.1, 0.9])
    ])  # fmt: skip
    result = make_result({
        n: (lognormal_ms(10.5 if n == BETS else 10.0, 20_000, 500 + k), 0)
        for k, n in enumerate(names)
    })  # fmt: skip
    less = {(n, q): 2.0 for n in names[1:] for q in (0.5, 0.95, 0.99)}
    checks = regression_checks(result, baseline, [], GatePolicy(), less=less)
    assert len(checks) == 12
    assert {(c.outcome, c.status) for c in checks} == {("pass", "pass")}


# --- relative values by hand ----------------------------------------------------------------
PEERS = ["GET /a", "GET /b", "GET /c"]
# two blessed runs, constant histograms (µs): each quantile is the value itself
BARE_US = [
    {"GET /a": 400, "GET /b": 800, "GET /c": 1600, BETS: 1000},
    {"GET /a": 900, "GET /b": 1800, "GET /c": 400, BETS: 1500},
]
DELAY_US = {"GET /a": 200, "GET /b": 200, "GET /c": 200, BETS: 500}


def _relative_baseline() -> Baseline:
    runs = [
        make_result({n: (np.full(100, v + DELAY_US[n]), 0) for n, v in run.items()})
        for run in BARE_US
    ]
    return _blessed([_with_delay(r, DELAY_US) for r in runs])


def _by_hand(
    runs: list[dict[str, float]], now: dict[str, float]
) -> tuple[list[float], float, list[float], float]:
    """relative_series's definition: each peer's centre is its geometric mean over the blessed
    runs; a run's speed is the median of its peers' ratios to their centres; POST /bets's
    relative value is its value over its run's speed."""
    centre = {p: math.exp(statistics.fmean(math.log(run[p]) for run in runs)) for p in PEERS}
    speeds = [statistics.median(run[p] / centre[p] for p in PEERS) for run in runs]
    speed = statistics.median(now[p] / centre[p] for p in PEERS)
    series = [run[BETS] / s for run, s in zip(runs, speeds, strict=True)]
    return series, now[BETS] / speed, speeds, speed


@pytest.mark.parametrize("bare", [True, False, None])
def test_relative_values_take_the_blessed_runs_delay_out_only_when_bare(bare: bool | None) -> None:
    """Bare, the worked example: peer centres 0.6, 1.2, 0.8 ms; run speeds 2/3 and 3/2;
    POST /bets 1.0 and 1.5 ms become 1.5 and 1.0; now at speed 1, 1.2 ms stays 1.2.
    Not bare (also the default, None here), the delays stay in the blessed runs' values."""
    now = {"GET /a": 0.6, "GET /b": 1.2, "GET /c": 0.8, BETS: 1.2}
    compared = [(n, 0.5, now[n]) for n in [BETS, *PEERS]]
    result = make_result({n: (np.full(100, int(v * 1000)), 0) for n, v in now.items()})
    if bare is None:
        [rel, *others] = relative_values(result, _relative_baseline(), compared)
    else:
        [rel, *others] = relative_values(result, _relative_baseline(), compared, bare=bare)
    assert rel is not None and len(others) == 3
    kept = dict.fromkeys(DELAY_US, 0) if bare else DELAY_US  # the delay left in each value
    runs = [{n: (v + kept[n]) / 1000 for n, v in run.items()} for run in BARE_US]
    series, current, speeds, speed = _by_hand(runs, now)
    if bare:
        assert series == pytest.approx([1.5, 1.0]) and speeds == pytest.approx([2 / 3, 1.5])
        assert (current, speed) == pytest.approx((1.2, 1.0))
    assert list(rel.baseline) == pytest.approx(series, rel=1e-12)
    assert list(rel.speeds) == pytest.approx(speeds, rel=1e-12)
    assert (rel.current, rel.speed) == pytest.approx((current, speed), rel=1e-12)
