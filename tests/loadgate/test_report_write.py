"""write_reports, rendering from stored files only, and runs at the edges (empty, very wide)."""

from __future__ import annotations

import dataclasses
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from loadgate.baselines import Baseline, load_baseline, write_baseline
from loadgate.checks import Check
from loadgate.report import render_html, render_junit, render_markdown, write_reports
from loadgate.results import RunResult, Timeline, read_result, write_result
from loadgate.verdict import Verdict, judge


def test_write_reports(
    tmp_path: Path, result: RunResult, verdict: Verdict, baseline: Baseline
) -> None:
    out = tmp_path / "reports" / result.run_id
    paths = write_reports(out, result, verdict, baseline)
    assert paths == {
        "html": out / "report.html",
        "markdown": out / "summary.md",
        "junit": out / "junit.xml",
    }
    assert paths["html"].read_text(encoding="utf-8") == render_html(result, verdict, baseline)
    assert paths["markdown"].read_text(encoding="utf-8") == render_markdown(
        result, verdict, baseline
    )
    ET.parse(paths["junit"])
    assert sorted(os.listdir(out)) == [
        "junit.xml",
        "report.html",
        "summary.md",
    ]  # no temp files left
    assert paths["html"].stat().st_size < 3 * 2**20  # a few MB at most


def test_renders_the_same_from_stored_files(
    tmp_path: Path, result: RunResult, verdict: Verdict, baseline: Baseline
) -> None:
    """Rendering is a pure function of what is stored: a JSON round trip changes nothing."""
    write_result(tmp_path / "result.json", result)
    write_baseline(tmp_path / "baseline.json", baseline)
    stored = read_result(tmp_path / "result.json")
    stored_baseline = load_baseline(tmp_path / "baseline.json")
    assert stored_baseline is not None
    assert render_html(stored, verdict, stored_baseline) == render_html(result, verdict, baseline)
    assert render_junit(stored, verdict) == render_junit(result, verdict)


def test_empty_run(result: RunResult) -> None:
    empty = dataclasses.replace(
        result,
        endpoints={},
        timeline=Timeline(),
        processes=[],
        generators=[],
        users_reached=0,
        environment={},
        command=[],
    )
    verdict = Verdict(
        "invalid",
        "0 of 100 users were reached, short of the 95 needed.",
        (
            Check(
                "validity",
                "load delivered",
                "invalid",
                "0 of 100 users were reached, short of the 95 needed.",
            ),
        ),
    )
    page = render_html(empty, verdict, None)
    assert ">INVALID<" in page and "nothing to chart" in page
    assert "<svg" not in page
    assert "⛔ INVALID" in render_markdown(empty, verdict, None)
    suite = ET.fromstring(render_junit(empty, verdict)).find("testsuite")
    assert suite is not None and suite.get("errors") == "1"


def test_many_endpoints_are_capped_in_charts(result: RunResult) -> None:
    """Small multiples stop at 8 panels and say so; the table keeps every endpoint."""
    name = "GET /markets"
    endpoints = dict(result.endpoints)
    series = dict(result.timeline.endpoints)
    for i in range(12):
        clone = f"GET /extra/{i:02d}"
        endpoints[clone] = dataclasses.replace(result.endpoints[name], name=clone)
        series[clone] = result.timeline.endpoints[name]
    wide = dataclasses.replace(
        result, endpoints=endpoints, timeline=dataclasses.replace(result.timeline, endpoints=series)
    )
    verdict = judge(wide, [], None)
    page = render_html(wide, verdict, None)
    assert "Showing 8 of 18 endpoints" in page  # request latency: 19 endpoints, one is a stream
    assert "Showing 8 of 19 endpoints" in page  # latency by percentile
    assert page.count('<th scope="row" data-v="GET /extra/') == 12
