"""Chart plumbing: downsampling long timelines, small and well-formed inline SVG."""

from __future__ import annotations

import dataclasses
import math
import re
import xml.etree.ElementTree as ET

import numpy as np

from loadgate.report.charts import MAX_POINTS, reduce_series
from loadgate.report.time_charts import latency_chart, load_chart
from loadgate.results import EndpointSeries, RunResult, Timeline


def test_reduce_keeps_short_series_as_they_are() -> None:
    x, (y,) = reduce_series([0, 1, 2], [[1.0, None, 3.0]], ["max"], 600)
    assert x.tolist() == [0, 1, 2]
    assert y[0] == 1.0 and math.isnan(y[1]) and y[2] == 3.0


def test_reduce_buckets_long_series() -> None:
    seconds = list(range(1800))
    p99: list[float | None] = [10.0] * 1800
    p99[901] = 500.0  # one bad second must survive the bucketing
    for i in range(300, 330):
        p99[i] = None  # a gap of 30 s stays a gap
    rate = [2] * 1800
    x, (worst, mean) = reduce_series(seconds, [p99, rate], ["max", "mean"], 600)
    assert len(x) == 600 and x[0] == 0 and x[1] == 3
    assert float(np.nanmax(worst)) == 500.0
    assert np.isnan(worst[100:110]).all()
    assert set(mean.tolist()) == {2.0}


def long_run(result: RunResult, seconds: int = 3600) -> RunResult:
    """The fixture's per-second series repeated to an hour."""
    reps = seconds // len(result.timeline.seconds)

    def stretch(s: EndpointSeries) -> EndpointSeries:
        return EndpointSeries(
            s.requests * reps, s.failures * reps, s.p50_ms * reps, s.p95_ms * reps, s.p99_ms * reps
        )

    timeline = Timeline(
        seconds=list(range(seconds)),
        users=result.timeline.users * reps,
        endpoints={n: stretch(s) for n, s in result.timeline.endpoints.items()},
    )
    return dataclasses.replace(result, timeline=timeline, processes=[])


def test_long_run_svg_is_small_and_rounded(result: RunResult) -> None:
    run = long_run(result)
    chart = load_chart(run)
    assert chart is not None
    paths = re.findall(r'\sd="([^"]*)"', chart.svg)
    points = max(len(re.findall(r"[ML]", d)) for d in paths)
    assert points <= MAX_POINTS + 1
    assert not re.search(r"\d\.\d\d", " ".join(paths))  # coordinates rounded to 0.1
    assert len(chart.svg) < 150_000
    assert "time since start (min)" in chart.svg  # an hour is read in minutes


def test_svg_is_well_formed_with_prefixed_ids(result: RunResult, hostile: str) -> None:
    chart = latency_chart(result, list(result.endpoints), {"POST /bets": [("p99", 100.0)]})
    assert chart is not None
    root = ET.fromstring(chart.svg)  # well-formed XML, the hostile name escaped
    assert root.get("role") == "img"
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert ids and all(i is not None and i.startswith("chart-latency-") for i in ids)
    assert len(ids) == len(set(ids))
    texts = ["".join(e.itertext()) for e in root.iter("{http://www.w3.org/2000/svg}text")]
    assert hostile in texts
    assert "<script" not in chart.svg
    assert root.find("{http://www.w3.org/2000/svg}title") is not None
