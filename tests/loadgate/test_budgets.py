"""Budget expressions as people write them."""

from __future__ import annotations

import pytest

from loadgate.budgets import parse_budget
from loadgate.durations import format_ms, parse_duration, parse_latency_ms


@pytest.mark.parametrize(
    ("text", "metric", "limit", "quantile"),
    [
        ("p95 < 150ms", "p95", 150.0, 0.95),
        ("p99<=0.25s", "p99", 250.0, 0.99),
        ("p99.9 < 800us", "p99.9", 0.8, 0.999),
        ("errors < 1%", "errors", 0.01, None),
        ("error_rate < 0.1%", "errors", 0.001, None),
    ],
)
def test_parse(text: str, metric: str, limit: float, quantile: float | None) -> None:
    b = parse_budget("GET /x", text)
    assert (b.metric, b.quantile) == (metric, quantile)
    assert b.limit == pytest.approx(limit)


@pytest.mark.parametrize(
    "text", ["p95 > 1ms", "p95 < 1 parsec", "errors < 1", "errors < 120%", "p0 < 1ms", "avg < 1ms"]
)
def test_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_budget("GET /x", text)


def test_units() -> None:
    assert parse_duration("1h30m") == 5400.0
    assert parse_duration("2m") == 120.0
    assert parse_duration(45) == 45.0
    with pytest.raises(ValueError):
        parse_duration("5 minutes")
    with pytest.raises(ValueError):
        parse_duration(True)
    assert parse_latency_ms("2s") == 2000.0
    assert [format_ms(x) for x in (0.5, 12.34, 245.2, 2310)] == [
        "0.50 ms",
        "12.3 ms",
        "245 ms",
        "2.31 s",
    ]
