"""The verdict on the load itself: open-model arrivals, every generator process, and budgets
judged on the corrected (intended-start) histogram when there is one."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

from loadgate.budgets import parse_budget
from loadgate.histogram import LatencyHistogram
from loadgate.results import Arrivals, ProcessSamples
from loadgate.verdict import judge

from .conftest import build_result


def _check(verdict: object, name: str) -> object:
    return next(c for c in verdict.checks if c.name == name)  # type: ignore[attr-defined]


def test_budgets_judge_the_corrected_histogram_in_the_open_model() -> None:
    result = build_result()
    ep = result.endpoints["POST /bets"]
    ep.corrected = LatencyHistogram.of([400_000] * ep.histogram.count)
    verdict = judge(result, [parse_budget("POST /bets", "p99 < 250ms")])
    check = next(c for c in verdict.checks if c.kind == "budget" and c.endpoint == "POST /bets")
    assert check.status == "fail" and "from intended start" in check.message  # type: ignore[attr-defined]


def test_dropped_arrivals_make_the_run_invalid() -> None:
    ok = dataclasses.replace(build_result(), arrivals=Arrivals(100, 6000, 60))
    assert _check(judge(ok, []), "arrival rate delivered").status == "pass"  # type: ignore[attr-defined]
    short = dataclasses.replace(build_result(), arrivals=Arrivals(100, 6000, 900))
    verdict = judge(short, [])
    assert verdict.status == "invalid"
    assert "900 of 6000 arrivals" in _check(verdict, "arrival rate delivered").message  # type: ignore[attr-defined]


def test_any_saturated_generator_process_makes_the_run_invalid() -> None:
    result = build_result(health=False)  # the CPU rule stands in only without probe data
    processes = [
        ProcessSamples("generator", 1, [1.0, 2.0], [5.0, 5.0], [100, 100]),
        ProcessSamples("generator-1", 2, [1.0, 2.0], [40.0, 40.0], [100, 100]),
        ProcessSamples("generator-2", 3, [1.0, 2.0], [97.0, 96.0], [100, 100]),
    ]
    result = replace(result, processes=processes)
    check = _check(judge(result, []), "generator not saturated")
    assert check.status == "invalid" and "generator-2" in check.message  # type: ignore[attr-defined]
