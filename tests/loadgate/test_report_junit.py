"""JUnit XML: one suite, one case per check, the counts CI systems read, numbers in failures."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from loadgate.report import render_junit
from loadgate.results import RunResult
from loadgate.verdict import Verdict


def test_counts_and_shape(result: RunResult, mixed_verdict: Verdict) -> None:
    root = ET.fromstring(render_junit(result, mixed_verdict))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    assert suite.get("name") == "loadgate"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("7", "2", "1")
    assert float(suite.get("time", "")) == result.warmup_s + result.window_s
    assert suite.get("timestamp") == "2026-11-29T22:15:00"
    cases = suite.findall("testcase")
    assert len(cases) == 7
    assert {c.get("classname") for c in cases} == {
        "loadgate.validity",
        "loadgate.budget",
        "loadgate.regression",
    }
    assert len(suite.findall("testcase/failure")) == 2
    assert len(suite.findall("testcase/error")) == 1
    assert len(suite.findall("testcase/system-out")) == 1


def test_failure_carries_numbers(result: RunResult, mixed_verdict: Verdict) -> None:
    suite = ET.fromstring(render_junit(result, mixed_verdict)).find("testsuite")
    assert suite is not None
    case = next(c for c in suite.iter("testcase") if c.get("name") == "POST /bets p99 < 100 ms")
    failure = case.find("failure")
    assert failure is not None
    assert "above its 100 ms budget" in failure.get("message", "")
    assert failure.text is not None
    assert "observed: 137 ms" in failure.text and "limit: 100 ms" in failure.text
    assert "95% interval: 131 ms–144 ms" in failure.text


def test_hostile_names_round_trip(result: RunResult, mixed_verdict: Verdict, hostile: str) -> None:
    xml = render_junit(result, mixed_verdict)
    assert "<script>" not in xml
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None
    names = [c.get("name") for c in suite.iter("testcase")]
    assert f"{hostile} samples for p99" in names
    warn = next(c for c in suite.iter("testcase") if c.get("name") == f"{hostile} errors < 1%")
    out = warn.find("system-out")
    assert out is not None and out.text is not None and out.text.startswith("WARNING: ")


def test_realistic_verdict_counts(result: RunResult, verdict: Verdict) -> None:
    suite = ET.fromstring(render_junit(result, verdict)).find("testsuite")
    assert suite is not None
    assert suite.get("tests") == str(len(verdict.checks))
    assert suite.get("failures") == str(sum(c.status == "fail" for c in verdict.checks))
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "fail"
    assert props["headline"] == verdict.headline
