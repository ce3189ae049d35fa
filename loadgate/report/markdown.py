"""The GitHub-flavoured Markdown summary (for ``$GITHUB_STEP_SUMMARY`` and merge-request notes):
the verdict, the checks that need attention, the endpoints. Every value from the run is escaped
so a hostile endpoint name cannot break a table or inject HTML.

For example::

    print(render_markdown(result, verdict).splitlines()[0])
    # ## ❌ FAIL · loadgate smoke on local
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from loadgate.baselines import Baseline
from loadgate.checks import Check
from loadgate.durations import format_ms
from loadgate.report.health import generator_summary, server_ms
from loadgate.report.server_metrics import server_view, summary_line
from loadgate.report.summary import (
    EndpointRow,
    Quantile,
    duration,
    endpoint_rows,
    headline_figures,
    percent,
    sorted_checks,
)
from loadgate.results import RunResult
from loadgate.verdict import Verdict

EMOJI = {"pass": "✅", "warn": "⚠️", "fail": "❌", "invalid": "⛔"}
WORDS = {"pass": "PASS", "fail": "FAIL", "invalid": "INVALID"}
# Inside a table cell only these can start formatting, links or break the row; "<", ">" and "&"
# are HTML-escaped first (GitHub renders inline HTML).
_MARKDOWN = re.compile(r"([\\`*_\[\]|~])")
_SPACE = re.compile(r"\s+")


def md(text: str) -> str:
    """Text safe in a table cell: HTML escaped, Markdown punctuation backslashed, one line."""
    return _MARKDOWN.sub(r"\\\1", html.escape(_SPACE.sub(" ", text).strip(), quote=False))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> list[str]:
    aligns = align or "l" * len(header)
    rule = ["---:" if a == "r" else "---" for a in aligns]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _check_rows(checks: Sequence[Check]) -> list[list[str]]:
    return [
        [f"{EMOJI[c.status]} {c.status}", c.kind, md(c.name), md(c.message)]
        for c in sorted_checks(checks)
    ]


def _q(q: Quantile) -> str:
    if q.low_ms is None:
        return format_ms(q.ms)
    return f"{format_ms(q.ms)} <sub>{md(q.ci_text)}</sub>"


def _endpoint_row(
    r: EndpointRow, budgets: bool, changes: bool, server: list[str] | None = None
) -> list[str]:
    """``server``: the server-side P95 cell, next to the client-side one (None: no column)."""
    row = [
        f"{EMOJI[r.status]} {md(r.name)}",
        f"{r.requests:,}",
        f"{r.rps:,.1f}",
        f"{r.failures:,} ({percent(r.error_rate)})",
        _q(r.p50),
        _q(r.p95),
        *(server or []),
        _q(r.p99),
        format_ms(r.max_ms),
    ]
    if budgets:
        row.append("<br>".join(f"{EMOJI[b.status]} {md(b.text)}" for b in r.budgets) or "–")
    if changes:
        row.append(
            "<br>".join(f"{c.metric.upper()} {md(c.text)} {c.outcome}" for c in r.changes) or "–"
        )
    return row


def _server_cell(ms: float | None) -> str:
    return "–" if ms is None else format_ms(ms)


def render_markdown(result: RunResult, verdict: Verdict, baseline: Baseline | None = None) -> str:
    """The summary as GitHub-flavoured Markdown (str)."""
    emoji = EMOJI[verdict.status]
    lines = [
        f"## {emoji} {WORDS[verdict.status]} · loadgate {md(result.scenario)} "
        f"on {md(result.target)}",
        "",
        f"**{md(verdict.headline)}**",
        "",
    ]
    figures = headline_figures(result)
    lines += _table(
        [f.label for f in figures], [[f"**{md(f.value)}** · {md(f.detail)}" for f in figures]]
    )
    generator = generator_summary(result)
    if generator is not None:
        lines += ["", f"**Load generator:** {md(generator.text)}"]
    attention = [c for c in verdict.checks if c.status != "pass"]
    passed = [c for c in verdict.checks if c.status == "pass"]
    lines += ["", f"### Checks: {len(attention)} need attention, {len(passed)} passed", ""]
    header = ["Status", "Kind", "Check", "Result"]
    if attention:
        lines += _table(header, _check_rows(attention))
    else:
        lines.append("Every check passed.")
    if passed:
        lines += ["", f"<details><summary>{len(passed)} passed checks</summary>", ""]
        lines += _table(header, _check_rows(passed))
        lines += ["", "</details>"]
    rows = endpoint_rows(result, verdict, baseline)
    budgets = any(r.budgets for r in rows)
    changes = any(r.changes for r in rows)
    server = {r.name: server_ms(result.endpoints[r.name], 0.95) for r in rows}
    with_server = any(v is not None for v in server.values())
    head = ["Endpoint", "Requests", "RPS", "Failures", "P50", "P95"]
    head += ["Server P95"] * with_server + ["P99", "Max"]
    head += ["Budget"] * budgets + ["vs baseline"] * changes
    lines += ["", "### Endpoints", ""]
    lines += _table(
        head,
        [
            _endpoint_row(
                r, budgets, changes, [_server_cell(server[r.name])] if with_server else None
            )
            for r in rows
        ],
        "lrrrrr" + "r" * with_server + "rr" + "l" * (budgets + changes),
    )
    if result.server_metrics is not None:
        seconds = duration(round(result.server_metrics.seconds, 1))
        line = summary_line(server_view(result.server_metrics))
        lines += ["", f"**The server's own metrics** over {md(seconds)}: {md(line)}"]
    commit = result.environment.get("git_commit")
    lines += [
        "",
        f"<sub>Run {md(result.run_id)} · started {md(result.started_at)} · "
        f"{md(duration(result.window_s))} measured after {md(duration(result.warmup_s))} warm-up · "
        f"{md(verdict.baseline or 'no baseline')}"
        + (f" · commit {md(str(commit)[:12])}" if commit else "")
        + " · latency intervals are 95% CIs</sub>",
        "",
    ]
    return "\n".join(lines)
