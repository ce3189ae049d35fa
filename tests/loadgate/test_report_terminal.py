"""The terminal renderer: the verdict, the load, the generator, a per-endpoint table."""

from __future__ import annotations

from loadgate.durations import format_ms
from loadgate.report import render_comparison, render_terminal
from loadgate.report.health import generator_summary, server_ms
from loadgate.results import RunResult
from loadgate.verdict import Verdict


def test_terminal_summary_names_the_generator_and_the_server_p95(
    result: RunResult, old_result: RunResult
) -> None:
    ok = Verdict("pass", "Every gate held.", ())
    lines = render_terminal(result, ok).splitlines()
    assert lines[:2] == ["", "PASS: Every gate held."]
    summary = generator_summary(result)
    assert summary is not None and f"generator: {summary.text}" in lines
    header = next(line for line in lines if line.startswith("endpoint"))
    assert header.split()[-3:] == ["server", "p95", "p99"]
    bets = next(line for line in lines if line.startswith("POST /bets "))
    server = server_ms(result.endpoints["POST /bets"], 0.95)
    assert server is not None and bets.split()[-4:-2] == format_ms(server).split()
    assert len(header) <= max(len(n) for n in result.endpoints) + 60  # narrow: one short column
    old = render_terminal(old_result, ok)
    assert "generator:" not in old and "server p95" not in old


def test_terminal_lists_every_check_that_did_not_pass(
    result: RunResult, mixed_verdict: Verdict
) -> None:
    text = render_terminal(result, mixed_verdict)
    shown = [c for c in mixed_verdict.checks if c.status != "pass"]
    assert [line for line in text.splitlines() if line.startswith("  [")] == [
        f"  [{c.status}] {c.message}" for c in shown
    ]
    assert text.endswith("\n")


def test_a_comparison_shows_each_metrics_outcome(mixed_verdict: Verdict) -> None:
    lines = render_comparison(mixed_verdict).splitlines()
    assert lines[0] == f"INVALID: {mixed_verdict.headline}"
    regression = next(c for c in mixed_verdict.checks if c.kind == "regression")
    assert f"  [regression] {regression.message}" in lines
