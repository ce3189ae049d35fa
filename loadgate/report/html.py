"""The HTML report: one self-contained page (inline CSS and SVG, no network) that says PASS, FAIL
or INVALID and why at the top, then the figures, checks, endpoints, charts and provenance.

A pure function of the stored result, the verdict and the baseline; jinja2 autoescapes every
value, so endpoint names from the wild cannot inject markup.

For example::

    page = render_html(result, verdict, baseline)
    "<!doctype html>" in page  # True
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2

from loadgate.attribution import DELAY_FLOOR_MS, DELAY_SHARE
from loadgate.baselines import Baseline
from loadgate.checks import Kind
from loadgate.durations import format_ms
from loadgate.report import comparison_charts as compare
from loadgate.report import health_charts
from loadgate.report import time_charts as timed
from loadgate.report.charts import Chart
from loadgate.report.health import generator_figures, generator_summary, time_rows
from loadgate.report.server_metrics import server_view
from loadgate.report.summary import (
    EndpointRow,
    chart_order,
    checks_by_kind,
    duration,
    endpoint_rows,
    headline_figures,
    key_rows,
    percent,
)
from loadgate.results import RunResult
from loadgate.verdict import Verdict

KINDS_GATED: tuple[Kind, ...] = ("regression", "budget")
STATUS_WORDS = {"pass": "PASS", "fail": "FAIL", "invalid": "INVALID"}
STATUS_MEANING = {
    "pass": "The build may merge: every gate held.",
    "fail": "The gate failed: performance broke a budget or regressed against the baseline.",
    "invalid": "This run cannot be judged: the load or the measurement was not good enough.",
}
KIND_TITLES = {
    "validity": "Validity: was the test itself sound?",
    "budget": "Budgets: absolute ceilings",
    "regression": "Regression: change against the baseline",
}


@dataclass(frozen=True)
class Meta:
    """A row of the run-metadata table."""

    label: str
    value: str
    code: bool = False


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("loadgate.report", "templates"),
        autoescape=True,  # every value, including the .j2 template's
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ms"] = format_ms
    env.filters["percent"] = percent
    env.filters["duration"] = duration
    return env


def chart_budgets(verdict: Verdict) -> dict[str, list[tuple[str, float]]]:
    """Latency ceilings per endpoint, read from the verdict's budget checks."""
    out: dict[str, list[tuple[str, float]]] = {}
    for c in verdict.of_kind("budget"):
        if c.endpoint and c.metric and c.quantile is not None and c.threshold is not None:
            out.setdefault(c.endpoint, []).append((c.metric, c.threshold))
    return out


def gated_quantiles(verdict: Verdict, rows: list[EndpointRow]) -> dict[str, list[str]]:
    """Quantiles the verdict compared with the baseline, else the budgeted ones, else P95/P99."""
    found: dict[str, dict[str, float]] = {}
    for kind in KINDS_GATED:
        for c in verdict.of_kind(kind):
            if c.endpoint and c.metric and c.quantile is not None:
                found.setdefault(c.endpoint, {})[c.metric] = c.quantile
        if found:
            break
    if not found:
        found = {r.name: {"p95": 0.95, "p99": 0.99} for r in key_rows(rows)}
    return {name: sorted(metrics, key=metrics.__getitem__) for name, metrics in found.items()}


def build_charts(
    result: RunResult, verdict: Verdict, baseline: Baseline | None, rows: list[EndpointRow]
) -> list[Chart]:
    """Every chart the data allows, in reading order; panels follow the table (failing first)."""
    budgets = chart_budgets(verdict)
    order = chart_order(rows)
    gated = gated_quantiles(verdict, rows)
    gated = {n: gated[n] for n in order if n in gated}
    makers: list[Callable[[], Chart | None]] = [
        lambda: timed.latency_chart(result, order, budgets),
        # right under the latencies, on the same time axis: whose seconds were slow
        lambda: health_charts.generator_chart(result),
        lambda: compare.trend_chart(result, baseline, gated, budgets),
        lambda: compare.distribution_chart(result, order, baseline),
        lambda: compare.correction_chart(result, order),
        lambda: timed.load_chart(result),
        lambda: timed.errors_chart(result, order),
        lambda: timed.resources_chart(result),
        lambda: timed.latency_chart(result, order, budgets, streams=True),
        lambda: compare.stream_outcomes_chart(result),
    ]
    return [c for make in makers if (c := make()) is not None]


def metadata(result: RunResult, verdict: Verdict) -> list[Meta]:
    """Provenance: what ran where, when, and how to run it again."""
    env = result.environment
    commit = env.get("git_commit")
    if commit and env.get("git_dirty"):
        commit = f"{commit} (uncommitted changes)"
    rows = [
        Meta("Run", result.run_id, code=True),
        Meta("Target", result.target),
        Meta("Scenario", result.scenario),
        Meta("Profile", _pairs(result.profile), code=True),
        Meta("Started", f"{when(result.started_at)} ({result.started_at})"),
        Meta(
            "Measured window",
            f"{duration(result.window_s)} after a {duration(result.warmup_s)} warm-up "
            "(the warm-up is excluded from every figure and check)",
        ),
        Meta("Status", result.status + (f": {'; '.join(result.notes)}" if result.notes else "")),
        Meta("Baseline", verdict.baseline or "none"),
    ]
    if verdict.settings:
        rows.append(Meta("Verdict settings", _settings(verdict.settings)))
    if commit:
        rows.append(Meta("Git commit", str(commit), code=True))
    if env.get("hostname"):
        rows.append(Meta("Host", str(env["hostname"])))
    if isinstance(env.get("machine"), dict):
        rows.append(Meta("Machine fingerprint", _machine(env["machine"])))
    if env.get("calibration_mloops_per_s") is not None:
        score = env["calibration_mloops_per_s"]
        rows.append(Meta("CPU calibration", f"{score} M loop steps/s (for diagnosis, not scaling)"))
    if isinstance(env.get("versions"), dict):
        versions = ", ".join(f"{k} {v}" for k, v in sorted(env["versions"].items()) if v)
        rows.append(Meta("Tool versions", versions))
    known = {
        "git_commit",
        "git_dirty",
        "hostname",
        "machine",
        "versions",
        "calibration_mloops_per_s",
    }
    rows += [Meta(str(k), _compact(v), code=True) for k, v in sorted(env.items()) if k not in known]
    for p in result.processes:
        if p.cores:
            who = "SUT" if p.role == "sut" else f"The {p.role}"
            rows.append(Meta(f"{who} pinned to cores", ", ".join(map(str, p.cores))))
    if result.audit is not None:
        rows.append(Meta("SUT audit", "ok" if result.audit.get("ok") else "FAILED"))
    return rows


def _settings(settings: dict[str, float]) -> str:
    parts = []
    if "min_effect" in settings:
        parts.append(f"material change ≥ {settings['min_effect'] * 100:g}%")
    if "alpha" in settings:
        parts.append(f"false-alarm rate α = {settings['alpha']:g}")
    if "confidence" in settings:
        parts.append(f"intervals at {settings['confidence'] * 100:g}%")
    return ", ".join(parts)


def _machine(m: dict[str, Any]) -> str:
    """``AMD EPYC 7B13 · 2 cores · 8 GB · Linux x86_64 · Python 3.11.7`` (+ anything else)."""
    parts = [str(m["cpu_model"])] if m.get("cpu_model") else []
    if m.get("cores"):
        parts.append(f"{m['cores']} cores")
    if m.get("memory_gb"):
        parts.append(f"{m['memory_gb']} GB")
    if m.get("os"):
        parts.append(str(m["os"]))
    if m.get("python"):
        parts.append(f"Python {m['python']}")
    known = {"cpu_model", "cores", "memory_gb", "os", "python"}
    parts += [f"{k} {_compact(v)}" for k, v in sorted(m.items()) if k not in known]
    return " · ".join(parts)


def _pairs(profile: dict[str, Any]) -> str:
    return " ".join(f"{k}={_compact(v)}" for k, v in sorted(profile.items())) or "(defaults)"


def _compact(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _meaning(verdict: Verdict) -> str:
    """The verdict in one sentence; a pass with nothing compared says what was not checked."""
    if verdict.status == "pass" and not verdict.of_kind("regression"):
        return (
            "The budgets held. No regression was checked: there was no baseline to compare "
            "with (bless one, or run `loadgate ab`)."
        )
    return STATUS_MEANING[verdict.status]


def render_html(result: RunResult, verdict: Verdict, baseline: Baseline | None = None) -> str:
    """The whole report as one HTML document (str)."""
    rows = endpoint_rows(result, verdict, baseline)
    timing = time_rows(result, [r.name for r in rows])
    context = {
        "result": result,
        "verdict": verdict,
        "word": STATUS_WORDS[verdict.status],
        "meaning": _meaning(verdict),
        "figures": headline_figures(result) + generator_figures(generator_summary(result)),
        "key_rows": key_rows(rows),
        "groups": [(k, KIND_TITLES[k], checks) for k, checks in checks_by_kind(verdict)],
        "rows": rows,
        "time_rows": timing,
        "server": server_view(result.server_metrics) if result.server_metrics else None,
        "time_hot": any(any(t.delay_material) for t in timing),
        "delay_rule": f"{DELAY_FLOOR_MS:g} ms and {DELAY_SHARE:.0%}",
        "charts": build_charts(result, verdict, baseline, rows),
        "meta": metadata(result, verdict),
        "command": shlex.join(result.command) if result.command else "",
        "has_changes": any(r.changes for r in rows),
        "has_budgets": any(r.budgets for r in rows),
        "counts": _counts(verdict),
        "started": when(result.started_at),
    }
    return _environment().get_template("report.html.j2").render(context)


def when(started_at: str) -> str:
    """``2026-11-29 22:15 UTC`` from an ISO-8601 timestamp (as given if it does not parse)."""
    try:
        moment = dt.datetime.fromisoformat(started_at)
    except ValueError:
        return started_at
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _counts(verdict: Verdict) -> dict[str, int]:
    out = {"pass": 0, "warn": 0, "fail": 0, "invalid": 0}
    for c in verdict.checks:
        out[c.status] += 1
    return out
