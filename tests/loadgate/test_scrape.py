"""Two scrapes of Prometheus text -> the window: histogram and counter deltas, gauges at both
edges, resets named without numbers, and a cap on the series kept."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from loadgate.scrape import parse_exposition, window_metrics
from loadgate.server_metrics import (
    CounterWindow,
    GaugeWindow,
    ResetSeries,
    ServerMetrics,
)

BEFORE = """\
# TYPE api_request_duration_seconds histogram
api_request_duration_seconds_bucket{le="0.01",method="POST",route="/bets"} 4
api_request_duration_seconds_bucket{le="0.1",method="POST",route="/bets"} 6
api_request_duration_seconds_bucket{le="+Inf",method="POST",route="/bets"} 6
api_request_duration_seconds_count{method="POST",route="/bets"} 6
api_request_duration_seconds_sum{method="POST",route="/bets"} 0.15
# TYPE api_dropped_total counter
api_dropped_total 2
# TYPE api_in_flight gauge
api_in_flight 3
# TYPE api_rpc_seconds summary
api_rpc_seconds{quantile="0.5"} 0.2
api_rpc_seconds_count 10
api_rpc_seconds_sum 2.5
api_untyped 9
"""
AFTER = """\
# TYPE api_request_duration_seconds histogram
api_request_duration_seconds_bucket{le="0.01",method="POST",route="/bets"} 10
api_request_duration_seconds_bucket{le="0.1",method="POST",route="/bets"} 36
api_request_duration_seconds_bucket{le="+Inf",method="POST",route="/bets"} 37
api_request_duration_seconds_count{method="POST",route="/bets"} 37
api_request_duration_seconds_sum{method="POST",route="/bets"} 2.15
# TYPE api_dropped_total counter
api_dropped_total 7
# TYPE api_in_flight gauge
api_in_flight 1
# TYPE api_rpc_seconds summary
api_rpc_seconds{quantile="0.5"} 0.3
api_rpc_seconds_count 14
api_rpc_seconds_sum 3.5
api_untyped 11
"""
ROUTE = {"method": "POST", "route": "/bets"}


def window(before: str, after: str, max_series: int = 400) -> ServerMetrics:
    return window_metrics(
        parse_exposition(before),
        parse_exposition(after),
        url="http://127.0.0.1:1/metrics",
        start_s=10.0,
        end_s=60.0,
        max_series=max_series,
    )


def test_deltas_of_histograms_and_counters_and_gauges_at_both_edges() -> None:
    m = window(BEFORE, AFTER)
    [h] = m.histograms
    assert (h.name, h.labels) == ("api_request_duration_seconds", ROUTE)
    # 31 requests in the window: 6 up to 10 ms, 24 in (10, 100] ms, 1 beyond
    assert h.count == 31 and h.sum == pytest.approx(2.0)
    assert h.buckets == ((0.01, 6), (0.1, 30), (math.inf, 31))
    # P50: rank 15.5, 9.5 into the 24 of (10, 100] ms
    assert h.quantile(0.5) == pytest.approx(0.01 + 0.09 * 9.5 / 24)
    assert h.quantile(0.99) == 0.1  # rank 30.69 falls in +Inf: the highest finite bound
    assert sorted(m.counters, key=lambda c: c.name) == [
        CounterWindow("api_dropped", {}, 5),
        CounterWindow("api_rpc_seconds_count", {}, 4),
        CounterWindow("api_rpc_seconds_sum", {}, 1.0),
    ]
    assert sorted(m.gauges, key=lambda g: g.name) == [
        GaugeWindow("api_in_flight", {}, 3, 1),
        GaugeWindow("api_rpc_seconds", {"quantile": "0.5"}, 0.2, 0.3),
        GaugeWindow("api_untyped", {}, 9, 11),
    ]
    assert m.resets == [] and m.notes == []
    assert (m.start_s, m.end_s, m.seconds) == (10.0, 60.0, 50.0)


def test_a_real_client_exposition_including_its_created_series() -> None:
    registry = CollectorRegistry()
    latency = Histogram(
        "app_latency_seconds", "x", ["route"], buckets=(0.001, 0.01), registry=registry
    )
    sent = Counter("app_sent", "x", registry=registry)
    busy = Gauge("app_busy", "x", registry=registry)
    latency.labels("/a").observe(0.0005)
    busy.set(2)
    before = generate_latest(registry).decode()
    for value in (0.002, 0.003, 0.5):
        latency.labels("/a").observe(value)
    latency.labels("/b").observe(0.0001)  # a series first seen in the window
    sent.inc(7)
    busy.set(5)
    m = window(before, generate_latest(registry).decode())
    assert [(h.labels, h.count, h.buckets) for h in m.histograms] == [
        ({"route": "/a"}, 3, ((0.001, 0), (0.01, 2), (math.inf, 3))),
        ({"route": "/b"}, 1, ((0.001, 1), (0.01, 1), (math.inf, 1))),
    ]
    assert m.histograms[0].sum == pytest.approx(0.505)
    assert m.counters == [CounterWindow("app_sent", {}, 7)]
    # the client's *_created timestamps are not gauges of the app
    assert m.gauges == [GaugeWindow("app_busy", {}, 2, 5)]
    assert m.notes == ["1 series appeared during the window and are counted from zero"]


def test_a_counter_that_went_backwards_is_named_as_reset_without_a_number() -> None:
    after = AFTER.replace("api_dropped_total 7", "api_dropped_total 1")
    m = window(BEFORE, after)
    assert ResetSeries("api_dropped", {}, "counter") in m.resets
    assert all(c.name != "api_dropped" for c in m.counters)
    assert any("went backwards" in n and "api_dropped" in n for n in m.notes)


@pytest.mark.parametrize(
    "after",
    [
        # fewer observations than at the start
        AFTER.replace(
            'seconds_count{method="POST",route="/bets"} 37',
            'seconds_count{method="POST",route="/bets"} 5',
        ),
        # one bucket lost observations while the count grew
        AFTER.replace(
            'le="0.01",method="POST",route="/bets"} 10', 'le="0.01",method="POST",route="/bets"} 1'
        ),
        # another bucket layout
        AFTER.replace('le="0.1"', 'le="0.2"'),
    ],
)
def test_a_reset_histogram_gives_no_figures(after: str) -> None:
    m = window(BEFORE, after)
    assert m.histograms == []
    assert m.resets == [ResetSeries("api_request_duration_seconds", ROUTE, "histogram")]


def test_a_changed_created_time_is_a_reset_even_when_counts_grew() -> None:
    created = "# TYPE api_dropped_created gauge\napi_dropped_created {}\n"
    m = window(BEFORE + created.format(1000.0), AFTER + created.format(2000.0))
    assert ResetSeries("api_dropped", {}, "counter") in m.resets
    same = window(BEFORE + created.format(1000.0), AFTER + created.format(1000.0))
    assert CounterWindow("api_dropped", {}, 5) in same.counters


def test_an_empty_window_has_counts_of_zero_and_no_quantile() -> None:
    [h] = window(BEFORE, BEFORE).histograms
    assert h.count == 0 and h.mean is None and h.quantile(0.5) is None


def test_series_gone_at_the_end_and_nan_values_are_noted() -> None:
    after = AFTER.replace("api_untyped 11", "api_untyped NaN").replace("api_in_flight 1\n", "")
    m = window(BEFORE, after)
    assert "1 series present at the window's start were gone at its end" in m.notes
    assert any(n.startswith("1 series left out: a NaN") for n in m.notes)
    assert {g.name for g in m.gauges} == {"api_rpc_seconds"}


def test_the_cap_keeps_the_busiest_of_every_metric_first_and_says_so() -> None:
    lines = ["# TYPE hits_total counter"]
    lines += [f'hits_total{{page="{i}"}} {i}' for i in range(10)]
    lines += ["# TYPE temp gauge", "temp 21"]
    zero = "\n".join(
        line if line.startswith("#") else line.rsplit(" ", 1)[0] + " 0" for line in lines
    )
    m = window(zero + "\n", "\n".join(lines) + "\n", max_series=4)
    assert [(c.labels["page"], c.delta) for c in m.counters] == [("7", 7), ("8", 8), ("9", 9)]
    assert [g.name for g in m.gauges] == ["temp"]  # one metric's many series crowd out no other
    assert "capped: 4 of 11 series kept (the busiest of each metric first)" in m.notes[-1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x{a=1} 2\n", "not Prometheus text exposition"),
        ("up 1\nup 1\n", "duplicate series up"),
        ("# TYPE h histogram\nh_bucket 1\n", "histogram h: a bucket without an 'le' label"),
        ('# TYPE h histogram\nh_bucket{le="soon"} 1\n', "histogram h: bucket bound 'soon'"),
    ],
)
def test_unparsable_text_is_a_clear_error(text: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        parse_exposition(text)


def test_a_histogram_without_an_inf_bucket_is_left_out() -> None:
    text = '# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1\nh_sum 1\n'
    m = window(text, text)
    assert m.histograms == [] and "a histogram without a +Inf bucket" in m.notes[0]


def test_gauges_absent_at_the_start_have_no_start_value() -> None:
    m = window("", "# TYPE g gauge\ng 4\n")
    assert m.gauges == [GaugeWindow("g", {}, None, 4)]
    assert m.histograms == [] and m.counters == []
