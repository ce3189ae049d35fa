"""The HTML report, rendered from synthetic runs: verdict, numbers, charts, escaping, structure."""

from __future__ import annotations

import itertools
import re
from html.parser import HTMLParser

import markupsafe
import pytest

from loadgate.baselines import Baseline
from loadgate.budgets import Budget
from loadgate.durations import format_ms
from loadgate.report import render_html
from loadgate.report.summary import span_ms
from loadgate.results import RunResult
from loadgate.verdict import Verdict, judge


@pytest.fixture(scope="module")
def page(result: RunResult, verdict: Verdict, baseline: Baseline) -> str:
    return render_html(result, verdict, baseline)


class Tags(HTMLParser):
    """Collects start tags with their attributes and the text of <script> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def parse(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


def test_verdict_and_headline_at_the_top(page: str, verdict: Verdict) -> None:
    assert verdict.status == "fail"
    banner = page[page.index("<header") : page.index("</header>")]
    assert ">FAIL<" in banner
    assert "POST /bets p99 is" in banner  # the headline sentence, in plain words
    assert page.index("FAIL") < page.index("Headline figures") < page.index('id="endpoints"')


def test_headline_figures(page: str, result: RunResult) -> None:
    assert f"{result.users_reached:,}" in page and f"of {result.users_target:,} planned" in page
    assert f"{result.rps:,.0f} req/s" in page
    assert f"{result.total_requests:,}" in page
    sut = result.process("sut")
    assert sut is not None
    assert f"{sut.cpu_mean:.0f}%" in page and f"{sut.rss_max_mb:,.0f} MB" in page


def test_endpoint_numbers_with_intervals(page: str, result: RunResult) -> None:
    bets = result.endpoints["POST /bets"]
    p99 = bets.histogram.quantile_interval(0.99)
    assert p99 is not None
    assert format_ms(bets.quantile_ms(0.99)) in page
    assert span_ms(p99[0] / 1000, p99[1] / 1000) in page
    assert f"{bets.requests:,}" in page
    assert "odds_changed: 37" in page and "conflated: 412" in page


def test_failing_rows_and_checks_first(page: str) -> None:
    table = page[page.index('id="endpoints"') :]
    first_row = re.search(
        r'<tbody>\s*<tr class="r-(\w+)">\s*<th scope="row" data-v="([^"]*)"', table
    )
    assert first_row is not None and first_row.groups() == ("fail", "POST /bets")
    budgets = page[page.index('id="checks-budget"') :]
    assert budgets.index("✗ fail") < budgets.index("✓ pass")


def test_checks_grouped_by_kind(page: str) -> None:
    ids = re.findall(r'<h3 id="checks-(\w+)"', page)
    assert ids == ["validity", "budget", "regression"]


def test_every_chart_present(page: str) -> None:
    for chart in (
        "chart-latency",
        "chart-generator",
        "chart-trend",
        "chart-distribution",
        "chart-load",
        "chart-errors",
        "chart-resources",
        "chart-ws-latency",
        "chart-ws-outcomes",
    ):
        assert f'<figure class="chart-box" id="{chart}"' in page, chart
        svg = page[page.index(f'id="{chart}"') :]
        assert svg.index("<svg") < svg.index("</figure>")
        assert f'<title id="{chart}-title">' in svg


def test_budget_line_and_warmup_in_latency_chart(page: str) -> None:
    chart = page[page.index('id="chart-latency"') : page.index('id="chart-trend"')]
    assert "P99 budget 100 ms" in chart and "P95 budget 120 ms" in chart
    assert "warm-up" in chart
    assert "latency (ms)" in chart and "time since start (s)" in chart


def test_hostile_names_escaped_everywhere(page: str, hostile_md: str) -> None:
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # the only script elements are ours
    tags = parse(page)
    assert [t for t, _ in tags.tags].count("script") == 1
    assert all("alert(1)" not in s for s in tags.scripts)
    # inside the SVG charts too, and "$" did not turn into mathtext
    charts = page[page.index('id="charts-h"') : page.index('id="meta-h"')]
    assert "GET /x?&lt;script&gt;" in charts
    assert hostile_md.replace("&", "&amp;") in page


def test_self_contained(page: str) -> None:
    tags = parse(page)
    for tag, attrs in tags.tags:
        assert tag not in ("link", "img", "iframe", "object")
        for key in ("src", "href"):
            value = attrs.get(key)
            if key == "src" or tag != "a":
                assert value is None, (tag, attrs)
            else:
                assert value is not None and value.startswith("#"), (tag, attrs)
    assert "http://" not in re.sub(r'xmlns(:\w+)?="http://www\.w3\.org/[^"]*"', "", page)
    assert "https://" not in page


def test_accessible_structure(page: str) -> None:
    assert page.startswith("<!doctype html>")
    assert '<html lang="en">' in page
    levels = [int(h) for h in re.findall(r"<h([1-6])[\s>]", page)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))
    tags = parse(page)
    ths = [a for t, a in tags.tags if t == "th"]
    assert ths and all(a.get("scope") in ("col", "row") for a in ths)
    assert page.count("<caption>") == page.count("<table")
    svgs = [a for t, a in tags.tags if t == "svg"]
    assert svgs and all(a.get("role") == "img" and a.get("aria-labelledby") for a in svgs)


def test_unique_ids(page: str) -> None:
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))


def test_metadata_and_command(page: str, result: RunResult) -> None:
    meta = page[page.index('id="meta-h"') :]
    assert result.run_id in meta
    assert "3f9c2a7d1e5b8c4f6a0d2e9b7c1f3a5d8e0b2c4f" in meta
    assert "AMD EPYC 7B13 · 2 cores · 8 GB · Linux x86_64 · Python 3.11.7" in meta
    assert "duration=60s spawn_rate=10 users=100 warmup=10s" in meta
    assert "locust 2.31.8" in meta
    assert "10 s warm-up" in meta
    assert "loadgate gate --target local --scenario smoke --out &#39;reports/run 1&#39;" in meta


def test_pass_without_baseline(result: RunResult, pass_verdict: Verdict) -> None:
    page = render_html(result, pass_verdict, None)
    assert ">PASS<" in page and "All " in page
    assert "chart-trend" not in page  # no history to show
    assert 'id="chart-distribution"' in page
    assert "no baseline to compare with" in page


def test_invalid_run(invalid_result: RunResult, budgets: list[Budget]) -> None:
    verdict = judge(invalid_result, budgets, None)
    assert verdict.status == "invalid"
    page = render_html(invalid_result, verdict, None)
    assert ">INVALID<" in page
    assert "60 of 100 users were reached" in page
    assert '<li class="c-invalid">' in page


def test_deterministic(result: RunResult, verdict: Verdict, baseline: Baseline, page: str) -> None:
    assert render_html(result, verdict, baseline) == page


def test_hostile_name_is_a_row(page: str, hostile: str) -> None:
    assert f'<th scope="row" data-v="{markupsafe.escape(hostile)}">' in page


def test_the_open_model_charts_latency_from_the_intended_start_and_from_the_send(
    result: RunResult, verdict: Verdict
) -> None:
    import copy

    import numpy as np

    from loadgate.histogram import LatencyHistogram

    assert 'id="chart-correction"' not in render_html(result, verdict)  # closed model
    open_model = copy.deepcopy(result)
    bets = open_model.endpoints["POST /bets"]
    rng = np.random.default_rng(5)
    waited = rng.exponential(40_000, bets.histogram.count).astype(int)  # µs before the send
    sent = np.array([bets.histogram.quantile(q) for q in rng.uniform(0, 1, len(waited))])
    bets.corrected = LatencyHistogram.of(sent.astype(int) + waited)
    page = render_html(open_model, judge(open_model, []))
    chart = page[page.index('id="chart-correction"') :]
    chart = chart[: chart.index("</figure>")]
    assert "from the intended start (judged)" in chart and "from the send" in chart
    assert "POST /bets" in chart and "<svg" in chart
