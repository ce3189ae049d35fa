"""Latency and error-rate budgets, written as people say them: ``p99 < 250ms``, ``errors < 1%``.

>>> parse_budget("POST /bets", "p99 < 250ms")
Budget(endpoint='POST /bets', metric='p99', limit=250.0, source='')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from loadgate.durations import format_ms, parse_latency_ms

_QUANTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")
_EXPR = re.compile(r"^\s*([a-z_0-9.]+)\s*(<=?)\s*(.+?)\s*$")
ERROR_METRICS = ("errors", "error_rate")


@dataclass(frozen=True)
class Budget:
    """A ceiling for one metric of one endpoint (``*`` for every endpoint).

    ``metric`` is ``p50``..``p99.9`` (limit in ms) or ``errors`` (limit as a fraction).
    """

    endpoint: str
    metric: str
    limit: float
    source: str = ""

    @property
    def quantile(self) -> float | None:
        """0.99 for ``p99``; None for the error rate."""
        m = _QUANTILE.match(self.metric)
        return round(float(m.group(1)) / 100, 6) if m else None

    @property
    def text(self) -> str:
        return budget_text(self.metric, self.quantile, self.limit)

    def applies_to(self, endpoint: str) -> bool:
        return self.endpoint in ("*", endpoint)


def expand(budgets: Sequence[Budget], endpoints: Iterable[str]) -> list[tuple[str, Budget]]:
    """Each budget with the endpoints it judges, in the budgets' order: a wildcard's are every
    endpoint measured (sorted) except those with their own budget for that metric; an
    endpoint's own budget names it whether it was measured or not.

    >>> own, every = Budget("POST /bets", "p99", 250.0), Budget("*", "p99", 500.0)
    >>> [(name, b.limit) for name, b in expand([own, every], ["GET /bets", "POST /bets"])]
    [('POST /bets', 250.0), ('GET /bets', 500.0)]
    """
    explicit = {(b.endpoint, b.metric) for b in budgets if b.endpoint != "*"}
    measured = sorted(endpoints)
    out: list[tuple[str, Budget]] = []
    for b in budgets:
        if b.endpoint == "*":
            out += [(n, b) for n in measured if (n, b.metric) not in explicit]
        else:
            out.append((b.endpoint, b))
    return out


def budget_text(metric: str, quantile: float | None, limit: float) -> str:
    """A budget as people write it: ``p99 < 250 ms``, ``errors < 1%``.

    >>> budget_text("p99", 0.99, 250.0), budget_text("errors", None, 0.01)
    ('p99 < 250 ms', 'errors < 1%')
    """
    if quantile is None:
        return f"errors < {limit * 100:g}%"
    return f"{metric} < {format_ms(limit)}"


def parse_budget(endpoint: str, expression: str, source: str = "") -> Budget:
    """Parse one expression; ValueError with a plain reason when it is not understood."""
    m = _EXPR.match(expression)
    if not m:
        raise ValueError(f"expected e.g. 'p95 < 150ms' or 'errors < 1%', got {expression!r}")
    metric, _op, value = m.groups()
    if metric in ERROR_METRICS:
        if not value.endswith("%"):
            raise ValueError(f"an error-rate budget is a percentage like '1%', got {value!r}")
        try:
            percent = float(value[:-1])
        except ValueError:
            raise ValueError(f"not a percentage: {value!r}") from None
        if not 0 <= percent <= 100:
            raise ValueError(f"a percentage must be within 0..100, got {value!r}")
        return Budget(endpoint, "errors", percent / 100, source)
    q = _QUANTILE.match(metric)
    if not q or not 0 < float(q.group(1)) < 100:
        raise ValueError(f"unknown metric {metric!r}: use p50, p95, p99, p99.9 or errors")
    limit = parse_latency_ms(value)
    if limit <= 0:
        raise ValueError(f"a latency ceiling must be positive, got {value!r}")
    return Budget(endpoint, metric, limit, source)


def budgets_from_list(raw: object, where: str) -> tuple[Budget, ...]:
    """Budgets as a result stores them (a list of objects with endpoint, metric, limit and
    source), for judging it again; ValueError naming ``where`` when the list is malformed."""
    if not isinstance(raw, list):
        raise ValueError(f"{where}: expected a list")
    out = []
    for item in raw:
        if not isinstance(item, dict):
            raise ValueError(f"{where}: expected objects, got {item!r}")
        out.append(
            Budget(
                str(item["endpoint"]),
                str(item["metric"]),
                float(item["limit"]),
                str(item.get("source", "")),
            )
        )
    return tuple(out)
