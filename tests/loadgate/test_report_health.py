"""The load generator's health and where the time went, in the HTML report: the chart next to the
latency chart, the table, the headline figures; none of it for results of older versions."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET

import markupsafe
import numpy as np
import pytest

from loadgate.attribution import DELAY_FLOOR_MS, attribute
from loadgate.baselines import Baseline
from loadgate.durations import format_ms
from loadgate.histogram import LatencyHistogram
from loadgate.report import render_html
from loadgate.report.health import generator_figures, generator_summary, share, time_rows
from loadgate.report.health_charts import generator_chart, spans_decades
from loadgate.results import GeneratorHealth, RunResult
from loadgate.verdict import Verdict, judge

from .conftest import BUDGETS, GENERATOR_IDENT, WARMUP_S

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def page(result: RunResult, verdict: Verdict, baseline: Baseline) -> str:
    return render_html(result, verdict, baseline)


def _between(page: str, start: str, end: str) -> str:
    at = page.index(start)
    return page[at : page.index(end, at)]


def _calm(g: GeneratorHealth, ident: str, role: str, factor: float = 1.0) -> GeneratorHealth:
    """The fixture's process without its stalls: lag within a decade, scaled by ``factor``."""

    def cap(xs: list[float | None]) -> list[float | None]:
        return [None if v is None else min(v, 0.9) * factor for v in xs]

    return dataclasses.replace(
        g, ident=ident, role=role, lag_p99_ms=cap(g.lag_p99_ms), lag_max_ms=cap(g.lag_max_ms)
    )


def _texts(svg: str) -> list[str]:
    return ["".join(e.itertext()) for e in ET.fromstring(svg).iter(f"{SVG}text")]


# --- the numbers ---------------------------------------------------------------------------------
def test_summary_is_the_window_of_the_load_generating_processes(result: RunResult) -> None:
    summary = generator_summary(result)
    assert summary is not None
    gen = result.generators[0]
    assert summary.processes == 1
    assert summary.lag_p50_ms == gen.lag.quantile(0.5) / 1000
    assert summary.lag_p99_ms == gen.lag.quantile(0.99) / 1000
    # the stall in the window (HDR: within 0.1%); the 40 ms one was in the warm-up
    assert summary.lag_max_ms == pytest.approx(11.8, rel=1e-3)
    window = [i for i, t in enumerate(gen.t) if t >= WARMUP_S]
    assert summary.cpu_max_percent == max(gen.cpu_percent[i] or 0 for i in window)
    assert summary.wait_max_percent == max(gen.cpu_wait_percent[i] or 0 for i in window)
    assert summary.wait_max_percent >= 5.5  # the starved seconds
    assert summary.text == (
        f"hub lag P50 {format_ms(summary.lag_p50_ms)} · P99 {format_ms(summary.lag_p99_ms)} · "
        f"max 11.8 ms; CPU up to {share(summary.cpu_max_percent)} of a core; waited for a CPU "
        f"up to {share(summary.wait_max_percent)} of a second (1 load-generating process)"
    )


def test_a_master_sends_no_load_and_several_processes_give_the_worst(result: RunResult) -> None:
    gen = result.generators[0]
    master = dataclasses.replace(
        gen, ident="m:1", role="master", lag=LatencyHistogram.of([900_000] * 10)
    )
    one, two = _calm(gen, "w:2", "worker"), _calm(gen, "w:3", "worker")
    two = dataclasses.replace(
        two,
        lag=LatencyHistogram.of([2_000] * 100),
        cpu_percent=[None if c is None else c + 30 for c in gen.cpu_percent],
    )
    run = dataclasses.replace(result, generators=[master, one, two])
    summary = generator_summary(run)
    assert summary is not None and summary.processes == 2
    assert summary.lag_p99_ms == pytest.approx(2.0, rel=1e-3)  # not the master's 900 ms
    assert summary.lag_max_ms == pytest.approx(11.8, rel=1e-3)  # the other worker's stall
    assert summary.text.endswith("(worst of 2 load-generating processes)")
    lag, wait = generator_figures(summary)
    assert (lag.label, lag.value, lag.status) == ("Generator lag P99", "2.00 ms", "warn")
    assert "worst of 2 processes" in lag.detail
    assert wait.label == "Generator CPU wait" and wait.status == ""


def test_table_rows_split_each_quantile(result: RunResult) -> None:
    rows = {r.endpoint: r for r in time_rows(result, list(result.endpoints))}
    assert set(rows) == set(result.endpoints)
    bets = rows["POST /bets"]
    parts = attribute(result, [("POST /bets", q) for q in (0.5, 0.95, 0.99)])
    assert bets.client_ms == tuple(p.client_ms for p in parts)
    assert bets.server_ms == tuple(p.server_ms for p in parts)
    assert bets.delay_ms == tuple(p.delay_ms for p in parts)
    assert bets.rest_ms == tuple(p.outside_ms for p in parts)
    assert bets.server_ms is not None and bets.delay_ms is not None and bets.rest_ms is not None
    for client, server, delay, rest in zip(
        bets.client_ms, bets.server_ms, bets.delay_ms, bets.rest_ms, strict=True
    ):
        assert rest == pytest.approx(client - server - delay)
    ws = rows["WS odds"]  # no Server-Timing on a stream: no server time, no rest
    assert ws.server_ms is None and ws.rest_ms is None and ws.delay_ms is not None


def test_old_results_have_no_generator_figures_nor_rows(old_result: RunResult) -> None:
    assert generator_summary(old_result) is None
    assert generator_figures(None) == []
    assert time_rows(old_result, list(old_result.endpoints)) == []
    assert generator_chart(old_result) is None


# --- the page ------------------------------------------------------------------------------------
def test_headline_figures_name_the_generator(page: str, result: RunResult) -> None:
    summary = generator_summary(result)
    assert summary is not None and summary.lag_p99_ms is not None
    figures = _between(page, 'id="figures-h"', "</dl>")
    assert f'Generator lag P99</dt><dd class="value">{format_ms(summary.lag_p99_ms)}<' in figures
    wait = share(summary.wait_max_percent or 0)
    assert f'Generator CPU wait</dt><dd class="value">{wait}<' in figures


def test_chart_follows_the_latency_chart_on_its_time_axis(page: str, result: RunResult) -> None:
    ids = re.findall(r'<figure class="chart-box" id="([^"]+)"', page)
    assert ids[:2] == ["chart-latency", "chart-generator"]
    chart = _between(page, 'id="chart-generator"', "</figure>")
    assert '<h3 id="chart-generator-h">Load generator health</h3>' in chart
    # lag from ~0.2 ms to the 40 ms warm-up stall: two decades and more, so a log scale
    assert "hub lag (ms), log scale" in chart
    assert f"{DELAY_FLOOR_MS:g} ms: from here the generator's delay can invalidate a run" in chart
    assert "% of one core" in chart and "time since start (s)" in chart
    assert "warm-up" in chart and "hub lag P99" in chart and "CPU wait" in chart
    summary = generator_summary(result)
    assert summary is not None and summary.text in chart  # the caption gives the figures
    assert f"local {GENERATOR_IDENT}" in chart


def test_lag_within_two_decades_keeps_a_linear_scale(result: RunResult) -> None:
    calm = dataclasses.replace(result, generators=[_calm(result.generators[0], "h:1", "local")])
    chart = generator_chart(calm)
    assert chart is not None
    texts = _texts(chart.svg)
    assert "hub lag (ms)" in texts and "hub lag (ms), log scale" not in texts
    assert spans_decades([0.2, 40.0]) and not spans_decades([0.2, 1.5])
    assert not spans_decades([0.0, 5.0]) and not spans_decades(np.array([np.nan, 3.0]))


def test_several_processes_are_named_escaped_and_the_master_left_out(
    result: RunResult, hostile: str
) -> None:
    gen = result.generators[0]
    run = dataclasses.replace(
        result,
        generators=[
            _calm(gen, "master-host:1", "master"),
            _calm(gen, f"{hostile}:2", "worker"),
            _calm(gen, "w:3", "worker", factor=1.5),
        ],
    )
    chart = generator_chart(run)
    assert chart is not None
    texts = _texts(chart.svg)  # well-formed XML: the name is text, not markup
    assert f"worker {hostile}:2"[:39] + "…" in texts and "worker w:3" in texts
    assert "solid: lag P99, CPU" in texts and "dashed: lag max, CPU wait" in texts
    assert not any("master" in t for t in texts)
    assert "<script>" not in chart.svg
    assert "for 2 load-generating processes" in chart.description


def test_time_table_numbers(page: str, result: RunResult) -> None:
    table = _between(page, '<table id="time-went">', "</table>")
    assert page.index('id="endpoints"') < page.index('id="time-went"') < page.index('id="charts-h"')
    row = _between(table, '<th scope="row">POST /bets</th>', "</tr>")
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    (bets,) = time_rows(result, ["POST /bets"])
    assert bets.server_ms and bets.delay_ms and bets.rest_ms
    expected = [*bets.client_ms, *bets.server_ms, *bets.delay_ms, *bets.rest_ms]
    assert cells == [format_ms(v) for v in expected]
    ws = re.findall(r"<td[^>]*>([^<]*)</td>", _between(table, ">WS odds</th>", "</tr>"))
    assert ws[3:6] == ["—"] * 3 and ws[9:] == ["—"] * 3 and "—" not in ws[6:9]
    lede = _between(page, 'id="time-h"', "</p>")
    for words in ("client-side", "handler", "Generator delay", "The rest", "accept queue"):
        assert words in lede
    assert "A dash means not measured" in lede
    assert "hot" not in table  # this generator kept up


def test_time_table_escapes_names(page: str, hostile: str) -> None:
    table = _between(page, '<table id="time-went">', "</table>")
    assert f'<th scope="row">{markupsafe.escape(hostile)}</th>' in table
    assert "<script>" not in table


def test_a_delay_that_matters_is_marked_and_a_negative_rest_signed(
    result: RunResult, baseline: Baseline
) -> None:
    bets = result.endpoints["POST /bets"]
    slow = dataclasses.replace(
        bets,
        server=bets.histogram,  # the handler took everything the client saw …
        delay=LatencyHistogram.of([30_000] * bets.histogram.count),  # … and the generator 30 ms
    )
    run = dataclasses.replace(result, endpoints={**result.endpoints, "POST /bets": slow})
    page = render_html(run, judge(run, BUDGETS, baseline), baseline)
    table = _between(page, '<table id="time-went">', "</table>")
    row = _between(table, '<th scope="row">POST /bets</th>', "</tr>")
    assert row.count('class="num hot"') + row.count('class="num g-start hot"') == 3
    assert row.count("−30.0 ms") == 3  # client − server − delay, signed with a real minus
    assert (
        f"Highlighted: the generator's delay is at least {DELAY_FLOOR_MS:g} ms and 10% of the value"
        in page
    )


def test_old_results_render_without_any_of_it(old_result: RunResult, baseline: Baseline) -> None:
    page = render_html(old_result, judge(old_result, BUDGETS, baseline), baseline)
    for absent in (
        "chart-generator",
        "time-went",
        "Where the time went",
        "Generator",
        "g-start",
    ):
        assert absent not in page
    assert page.count("<svg") == 8
