"""JUnit XML for CI systems: one ``<testsuite name="loadgate">``, one ``<testcase>`` per check.

A failed check is a ``<failure>`` carrying its numbers, an invalid one an ``<error>`` (the run
could not be judged: not the code's fault, not a pass), a warning passes with a
``<system-out>`` note. ElementTree does the escaping; characters XML 1.0 cannot hold at all
(control characters from the wild) are replaced first.

For example::

    xml = render_junit(result, verdict)
    ET.fromstring(xml).find("testsuite").get("failures")  # '2'
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

from loadgate.checks import Check
from loadgate.durations import format_ms
from loadgate.results import RunResult
from loadgate.stats import pct
from loadgate.verdict import Verdict

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def _value(check: Check, value: float) -> str:
    if check.kind in ("budget", "regression") and check.quantile is not None:
        return format_ms(value)
    if check.metric == "errors":
        return f"{value * 100:.3g}%"
    return f"{value:g}"


def details(check: Check) -> str:
    """The check's numbers as plain lines, for the body of a failure or a note."""
    lines = [check.message, f"status: {check.status}"]
    if check.endpoint is not None:
        lines.append(f"endpoint: {check.endpoint}")
    if check.value is not None:
        lines.append(f"observed: {_value(check, check.value)}")
    if check.mode == "paired" and check.ratio is not None:
        lines.append(f"head/base ratio: {check.ratio:.3f}")
    if check.reference is not None:
        lines.append(f"baseline: {_value(check, check.reference)}")
    if check.threshold is not None and check.kind == "regression":
        lines.append(f"material change: {pct(check.threshold)}")
    elif check.threshold is not None:
        lines.append(f"limit: {_value(check, check.threshold)}")
    if check.interval is not None:
        low, high = check.interval
        if check.kind == "regression":
            bound = "inf" if math.isinf(high) else f"{high:.3f}"
            lines.append(f"expected ratio range: {low:.3f}–{bound}")
        else:
            lines.append(f"95% interval: {_value(check, low)}–{_value(check, high)}")
    if check.outcome is not None:
        lines.append(f"outcome: {check.outcome}")
    return "\n".join(lines)


def render_junit(result: RunResult, verdict: Verdict) -> str:
    """The verdict as a JUnit XML document (str, UTF-8 declared)."""
    counts = {s: sum(1 for c in verdict.checks if c.status == s) for s in ("fail", "invalid")}
    seconds = f"{result.warmup_s + result.window_s:.3f}"
    totals = {
        "tests": str(len(verdict.checks)),
        "failures": str(counts["fail"]),
        "errors": str(counts["invalid"]),
        "skipped": "0",
        "time": seconds,
    }
    root = ET.Element("testsuites", {"name": "loadgate", **totals})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": "loadgate",
            **totals,
            "timestamp": _timestamp(result.started_at),
            "hostname": _text(str(result.environment.get("hostname", "localhost"))),
        },
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("verdict", verdict.status),
        ("headline", verdict.headline),
        ("run_id", result.run_id),
        ("target", result.target),
        ("scenario", result.scenario),
        ("baseline", verdict.baseline or "none"),
    ):
        ET.SubElement(props, "property", {"name": name, "value": _text(value)})
    for check in verdict.checks:
        _testcase(suite, check)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=False).join(
        ['<?xml version="1.0" encoding="UTF-8"?>\n', "\n"]
    )


def _testcase(suite: ET.Element, check: Check) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        {"classname": f"loadgate.{check.kind}", "name": _text(check.name), "time": "0"},
    )
    body = _text(details(check))
    if check.status == "fail":
        failure = ET.SubElement(
            case, "failure", {"message": _text(check.message), "type": check.kind}
        )
        failure.text = body
    elif check.status == "invalid":
        error = ET.SubElement(case, "error", {"message": _text(check.message), "type": "invalid"})
        error.text = body
    elif check.status == "warn":
        out = ET.SubElement(case, "system-out")
        out.text = f"WARNING: {body}"


def _timestamp(started_at: str) -> str:
    """JUnit's schema wants ``YYYY-MM-DDTHH:MM:SS`` without a zone (ours are UTC)."""
    match = re.match(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", started_at)
    return match.group() if match else "1970-01-01T00:00:00"
