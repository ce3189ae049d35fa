"""JUnit XML: one suite, one case per check, the counts CI systems read, numbers in failures."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from loadgate.checks import Check
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


# The shape CI systems read (Jenkins' junit-10.xsd, which GitLab, GitHub Actions reporters and
# Azure DevOps follow): allowed attributes and children per element, required ones marked.
SHAPE: dict[str, tuple[set[str], set[str], set[str]]] = {
    # element: (required attributes, optional attributes, allowed children)
    "testsuites": (
        set(),
        {"name", "time", "tests", "failures", "errors", "skipped", "disabled"},
        {"testsuite"},
    ),
    "testsuite": (
        {"name", "tests"},
        {
            "failures",
            "errors",
            "skipped",
            "time",
            "timestamp",
            "hostname",
            "id",
            "package",
            "disabled",
        },
        {"properties", "testcase", "system-out", "system-err"},
    ),
    "properties": (set(), set(), {"property"}),
    "property": ({"name", "value"}, set(), set()),
    "testcase": (
        {"name"},
        {"classname", "time", "assertions", "status"},
        {"skipped", "error", "failure", "system-out", "system-err"},
    ),
    "failure": (set(), {"message", "type"}, set()),
    "error": (set(), {"message", "type"}, set()),
    "skipped": (set(), {"message"}, set()),
    "system-out": (set(), set(), set()),
    "system-err": (set(), set(), set()),
}


def check_shape(element: ET.Element) -> None:
    required, optional, children = SHAPE[element.tag]
    attributes = set(element.attrib)
    assert required <= attributes, (element.tag, required - attributes)
    assert attributes <= required | optional, (element.tag, attributes - required - optional)
    for key in ("tests", "failures", "errors", "skipped"):
        if key in element.attrib:
            assert int(element.attrib[key]) >= 0
    if "time" in element.attrib:
        assert float(element.attrib["time"]) >= 0
    for child in element:
        assert child.tag in children, (element.tag, child.tag)
        check_shape(child)


def test_valid_junit_shape(result: RunResult, mixed_verdict: Verdict, verdict: Verdict) -> None:
    for v in (mixed_verdict, verdict):
        xml = render_junit(result, v)
        assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
        root = ET.fromstring(xml.encode("utf-8"))
        check_shape(root)
        for suite in [root, *root.iter("testsuite")]:
            cases = list(suite.iter("testcase"))
            assert int(suite.get("tests", "-1")) == len(cases)
            assert int(suite.get("failures", "-1")) == sum(
                c.find("failure") is not None for c in cases
            )
            assert int(suite.get("errors", "-1")) == sum(c.find("error") is not None for c in cases)


def test_control_characters_do_not_break_the_xml(result: RunResult) -> None:
    name = "GET /bad\x00\x1b[31mname\x7f"
    check = Check("budget", f"{name} errors < 1%", "fail", f"{name} failed.", endpoint=name)
    xml = render_junit(result, Verdict("fail", check.message, (check,)))
    case = ET.fromstring(xml).find("testsuite/testcase")
    assert case is not None
    assert case.get("name") == "GET /bad\ufffd\ufffd[31mname\x7f errors < 1%"
