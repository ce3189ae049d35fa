"""The server's metrics over the window: PromQL's histogram_quantile on bucket deltas (checked
against hand computations), the compact bucket storage, and the result's wire format."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadgate.errors import DataError
from loadgate.histogram import LatencyHistogram
from loadgate.results import EndpointResult, RunResult, Timeline, read_result, write_result
from loadgate.server_metrics import (
    CounterWindow,
    Estimate,
    GaugeWindow,
    HistogramWindow,
    ResetSeries,
    ServerMetrics,
    bucket_quantile,
    compact_buckets,
)

INF = math.inf
# 10 observations in (1 ms, 2 ms], 30 in (2 ms, 5 ms], 10 in (5 ms, 10 ms]
BETS = ((0.0005, 0), (0.001, 0), (0.002, 10), (0.005, 40), (0.01, 50), (0.025, 50), (INF, 50))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # rank 25 lies in (2, 5] ms, 15 into its 30: 2 + 3 * 15/30
        (0.50, Estimate(0.0035, 0.002, 0.005)),
        # rank 47.5 lies in (5, 10] ms, 7.5 into its 10: 5 + 5 * 0.75
        (0.95, Estimate(0.00875, 0.005, 0.01)),
        (0.99, Estimate(0.00975, 0.005, 0.01)),
        # rank 10 is exactly the top of (1, 2] ms: its upper bound
        (0.20, Estimate(0.002, 0.001, 0.002)),
    ],
)
def test_quantiles_interpolate_within_the_bucket_as_prometheus(
    q: float, expected: Estimate
) -> None:
    found = bucket_quantile(q, BETS)
    assert found is not None
    assert found.value == pytest.approx(expected.value, rel=1e-12)
    assert (found.low, found.high) == (expected.low, expected.high)


def test_a_quantile_in_the_first_bucket_interpolates_from_zero() -> None:
    # rank 5 of 10, 8 observations in (0, 100 ms]: 0.1 * 5/8
    found = bucket_quantile(0.5, [(0.1, 8), (0.2, 10), (INF, 10)])
    assert found == Estimate(0.0625, 0.0, 0.1)


def test_a_first_bucket_at_or_below_zero_answers_its_bound() -> None:
    assert bucket_quantile(0.3, [(0.0, 5), (1.0, 10), (INF, 10)]) == Estimate(0.0, 0.0, 0.0)


def test_a_quantile_in_the_inf_bucket_is_the_highest_finite_bound_and_says_so() -> None:
    found = bucket_quantile(0.5, [(0.1, 1), (5.0, 1), (INF, 10)])
    assert found == Estimate(5.0, 5.0, INF)


@pytest.mark.parametrize(
    "buckets",
    [
        [(0.1, 0), (INF, 0)],  # nothing observed in the window
        [(INF, 7)],  # a lone +Inf bucket: NaN in PromQL
        [(0.1, 3), (1.0, 7)],  # no +Inf bucket: NaN in PromQL
    ],
)
def test_no_estimate_where_prometheus_answers_nan(buckets: list[tuple[float, float]]) -> None:
    assert bucket_quantile(0.99, buckets) is None


def test_the_zeroth_quantile_over_an_empty_first_bucket_is_nan_in_promql_too() -> None:
    assert bucket_quantile(0.0, [(0.1, 0), (0.2, 4), (INF, 4)]) is None
    with pytest.raises(ValueError, match=r"not within 0\.\.1"):
        bucket_quantile(1.5, [(0.1, 0), (INF, 4)])


def test_decreasing_counts_are_lifted_to_the_running_maximum() -> None:
    # envelope [5, 5, 10, 10]: rank 6 lies 1 into the 5 of (2, 3]
    buckets = [(1.0, 5), (2.0, 3), (3.0, 10), (INF, 10)]
    assert bucket_quantile(0.5, buckets) == Estimate(1.0, 0.0, 1.0)
    found = bucket_quantile(0.6, buckets)
    assert found is not None and found.value == pytest.approx(2.2)


def test_mean_and_quantile_of_a_window() -> None:
    h = HistogramWindow("lat_seconds", {}, 50, 0.2, BETS)
    assert h.mean == pytest.approx(0.004)
    assert h.quantile(0.5) == pytest.approx(0.0035)
    empty = HistogramWindow("lat_seconds", {}, 0, 0.0, ((0.1, 0), (INF, 0)))
    assert empty.mean is None and empty.quantile(0.5) is None


def test_compact_buckets_keep_only_what_an_estimate_reads() -> None:
    assert compact_buckets(BETS) == ((0.001, 0), (0.002, 10), (0.005, 40), (0.01, 50), (INF, 50))
    assert compact_buckets([(0.1, 0), (1.0, 0), (INF, 0)]) == ((INF, 0),)
    # the +Inf bucket gained: the highest finite bound is its lower bound
    assert compact_buckets([(0.1, 0), (1.0, 0), (INF, 2)]) == ((1.0, 0), (INF, 2))


@given(
    gains=st.lists(st.integers(0, 5), min_size=1, max_size=12),
    q=st.sampled_from([0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0]),
)
def test_compaction_never_changes_an_estimate(gains: list[int], q: float) -> None:
    bounds = [0.001 * 2**i for i in range(len(gains) - 1)] + [INF]
    cumulative = [sum(gains[: i + 1]) for i in range(len(gains))]
    full = list(zip(bounds, cumulative, strict=True))
    assert bucket_quantile(q, compact_buckets(full)) == bucket_quantile(q, full)


# --- in the result file -----------------------------------------------------------------------
def server_metrics() -> ServerMetrics:
    route = {"method": "POST", "route": "/bets"}
    return ServerMetrics(
        url="http://127.0.0.1:8000/metrics",
        start_s=10.02,
        end_s=60.03,
        histograms=[
            HistogramWindow(
                "sut_http_request_duration_seconds", route, 50, 0.2, compact_buckets(BETS)
            )
        ],
        counters=[CounterWindow("sut_stream_messages_dropped", {}, 3)],
        gauges=[
            GaugeWindow("sut_http_requests_in_flight", {}, 1, 4),
            GaugeWindow("sut_ws_connections", {}, None, 12.5),
        ],
        resets=[ResetSeries("sut_injected_errors", {}, "counter")],
        notes=["1 series appeared during the window and are counted from zero"],
    )


def run_result(metrics: ServerMetrics | None) -> RunResult:
    return RunResult(
        run_id="r1",
        target="local",
        scenario="smoke",
        profile={},
        started_at="2026-11-29T22:15:00+00:00",
        t0=0.0,
        warmup_s=10.0,
        window_s=50.0,
        status="complete",
        endpoints={"POST /bets": EndpointResult("POST /bets", LatencyHistogram.of([1000, 2000]))},
        timeline=Timeline(),
        users_target=1,
        users_reached=1,
        server_metrics=metrics,
    )


def test_server_metrics_round_trip_through_the_result_file(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    write_result(path, run_result(server_metrics()))
    stored = json.loads(path.read_text())["server_metrics"]
    # compact: only the buckets an estimate reads, counts as integers
    assert stored["histograms"][0]["buckets"] == {
        "0.001": 0,
        "0.002": 10,
        "0.005": 40,
        "0.01": 50,
        "+Inf": 50,
    }
    assert read_result(path).server_metrics == server_metrics()


def test_a_result_without_server_metrics_loads_and_writes_none(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    write_result(path, run_result(None))
    assert "server_metrics" not in json.loads(path.read_text())
    assert read_result(path).server_metrics is None


@pytest.mark.parametrize(
    ("part", "change", "expected"),
    [
        ("histograms", {"buckets": {"0.1": 2, "fast": 3, "+Inf": 3}}, "bucket bound 'fast'"),
        ("histograms", {"buckets": {"0.1": 2}}, "no +Inf bucket"),
        ("histograms", {"count": -1}, "server_metrics.histograms[0].count"),
        ("histograms", {"labels": {"route": 7}}, "server_metrics.histograms[0].labels.route"),
        ("counters", {"delta": "3"}, "server_metrics.counters[0].delta"),
        ("gauges", {"end": None}, "server_metrics.gauges[0].end"),
        ("resets", {"kind": "summary"}, "server_metrics.resets[0].kind"),
    ],
)
def test_a_corrupt_server_metrics_part_is_a_hard_error_naming_the_file(
    tmp_path: Path, part: str, change: dict[str, Any], expected: str
) -> None:
    path = tmp_path / "result.json"
    write_result(path, run_result(server_metrics()))
    data = json.loads(path.read_text())
    data["server_metrics"][part][0].update(change)
    path.write_text(json.dumps(data))
    with pytest.raises(DataError) as err:
        read_result(path)
    assert str(path) in str(err.value) and "corrupt result" in str(err.value)
    assert expected in str(err.value)


def test_a_window_ending_before_it_starts_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    write_result(path, run_result(server_metrics()))
    data = json.loads(path.read_text())
    data["server_metrics"]["end_s"] = 1.0
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"end_s 1\.0 is before start_s"):
        read_result(path)
