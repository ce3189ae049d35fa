"""The Markdown summary: verdict line, checks table, endpoint table, escaping."""

from __future__ import annotations

from loadgate.baselines import Baseline
from loadgate.durations import format_ms
from loadgate.report import render_markdown
from loadgate.report.health import generator_summary, server_ms
from loadgate.report.markdown import md
from loadgate.results import RunResult
from loadgate.verdict import Verdict


def _cells(line: str) -> list[str]:
    """Split a table row on pipes that are not escaped."""
    cells, cur, prev = [], "", ""
    for ch in line.strip()[1:-1]:
        if ch == "|" and prev != "\\":
            cells.append(cur.strip())
            cur = ""
        else:
            cur += ch
        prev = ch
    cells.append(cur.strip())
    return cells


def test_status_line_and_headline(result: RunResult, verdict: Verdict, baseline: Baseline) -> None:
    text = render_markdown(result, verdict, baseline)
    lines = text.splitlines()
    assert lines[0] == "## ❌ FAIL · loadgate smoke on local"
    assert lines[2].startswith("**POST /bets p99 is ")
    assert text.endswith("\n")


def test_tables_are_well_formed(result: RunResult, verdict: Verdict, baseline: Baseline) -> None:
    text = render_markdown(result, verdict, baseline)
    tables: list[list[str]] = []
    current: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    assert len(tables) == 4  # figures, checks needing attention, passed checks, endpoints
    for table in tables:
        widths = {len(_cells(row)) for row in table}
        assert len(widths) == 1, table[0]


def test_checks_and_endpoints(result: RunResult, verdict: Verdict, baseline: Baseline) -> None:
    text = render_markdown(result, verdict, baseline)
    failing = [c for c in verdict.checks if c.status == "fail"]
    assert f"### Checks: {sum(c.status != 'pass' for c in verdict.checks)} need attention" in text
    for c in failing:
        assert md(c.name) in text
    bets = result.endpoints["POST /bets"]
    assert format_ms(bets.quantile_ms(0.99)) in text
    endpoint_rows = [line for line in text.splitlines() if line.startswith("| ❌ POST /bets")]
    assert len(endpoint_rows) == 1
    assert "regression" in endpoint_rows[0]


def test_hostile_names_escaped(
    result: RunResult, verdict: Verdict, baseline: Baseline, hostile: str, hostile_md: str
) -> None:
    text = render_markdown(result, verdict, baseline)
    assert "<script>" not in text and hostile not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert hostile_md not in text
    assert "GET /price$\\_{x}\\|\\`rm -rf\\`\\*bold\\*" in text


def test_snapshot_of_a_passing_summary(result: RunResult, pass_verdict: Verdict) -> None:
    text = render_markdown(result, pass_verdict, None)
    head = text.splitlines()[:8]
    assert head[0] == "## ✅ PASS · loadgate smoke on local"
    assert head[2] == f"**{md(pass_verdict.headline)}**"
    assert (
        head[4] == "| Users reached | Throughput | Requests | Error rate | SUT CPU | SUT memory |"
    )
    assert head[5] == "| --- | --- | --- | --- | --- | --- |"
    assert head[6].startswith("| **100** · of 100 planned | ")
    assert "Every check passed." in text
    assert "vs baseline" not in text


def test_paired_ab_checks_show_their_ratio_per_endpoint(result: RunResult) -> None:
    from loadgate.checks import Check

    name = next(iter(result.endpoints))
    check = Check(
        "paired", f"{name} p95 A/B", "fail", f"{name} p95: head/base = 1.300 …",
        endpoint=name, metric="p95", quantile=0.95, ratio=1.3, interval=(1.2, 1.4),
        outcome="regression",
        interval_label="90% bounds",
    )  # fmt: skip
    verdict = Verdict(status="fail", headline="slower", checks=(check,), baseline="paired A/B")
    text = render_markdown(result, verdict, None)
    row = next(line for line in text.splitlines() if line.startswith(f"| ❌ {name} "))
    assert row.endswith("| P95 +30.0% (90% bounds +20.0% to +40.0%) regression |")


def test_a_stored_baseline_change_shows_the_band_the_decision_used(result: RunResult) -> None:
    """The interval beside a stored-baseline verdict is the noise band it was judged by (as
    ratios to the baseline's mean), not the run's own quantile interval; large changes read
    as factors."""
    from loadgate.checks import Check

    name = next(iter(result.endpoints))
    check = Check(
        "baseline", f"{name} p95 vs baseline", "warn", f"{name} p95 …: inconclusive.",
        endpoint=name, metric="p95", quantile=0.95, value=63.9, reference=10.0, ratio=6.39,
        interval=(0.7, 1.44),
        outcome="inconclusive", interval_label="noise band",
    )  # fmt: skip
    verdict = Verdict(status="pass", headline="…", checks=(check,), baseline="5 runs")
    text = render_markdown(result, verdict, None)
    row = next(line for line in text.splitlines() if line.startswith(f"| ⚠️ {name} "))
    assert "P95 ×6.39 (noise band -30.0% to +44.0%) inconclusive" in row


def test_generator_line_and_server_p95_beside_the_client_side(
    result: RunResult, verdict: Verdict, baseline: Baseline
) -> None:
    text = render_markdown(result, verdict, baseline)
    summary = generator_summary(result)
    assert summary is not None
    assert f"**Load generator:** {md(summary.text)}" in text.splitlines()
    assert "(1 load-generating process)" in summary.text
    lines = text.splitlines()
    head = _cells(next(line for line in lines if line.startswith("| Endpoint |")))
    assert head[4:8] == ["P50", "P95", "Server P95", "P99"]
    bets = _cells(next(line for line in lines if line.startswith("| ❌ POST /bets")))
    server = server_ms(result.endpoints["POST /bets"], 0.95)
    assert server is not None and bets[6] == format_ms(server)
    ws = _cells(next(line for line in lines if " WS odds |" in line))
    assert ws[6] == "–"  # no Server-Timing on a stream


def test_old_results_have_no_generator_line_nor_server_column(
    old_result: RunResult, pass_verdict: Verdict
) -> None:
    text = render_markdown(old_result, pass_verdict, None)
    assert "Load generator" not in text and "Server P95" not in text
