"""What every report format shows, computed once from the stored result, verdict and baseline.

The renderers (HTML, Markdown) only lay these figures out; none of them reads a histogram
or a check on its own, so the numbers agree across formats.

For example::

    rows = endpoint_rows(result, verdict, baseline)
    rows[0].name, rows[0].p99.text  # ('POST /bets', '312 ms (95% CI 298–331 ms)')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from loadgate.baselines import Baseline
from loadgate.budgets import budget_text
from loadgate.checks import Check, Kind
from loadgate.durations import format_ms, ms_parts
from loadgate.results import EndpointResult, RunResult
from loadgate.stats import pct
from loadgate.verdict import Verdict

QUANTILES = (0.50, 0.95, 0.99)
STATUS_RANK = {"invalid": 0, "fail": 1, "warn": 2, "pass": 3}
KIND_ORDER: tuple[Kind, ...] = ("validity", "budget", "regression")
WS_PREFIX = "WS "


@dataclass(frozen=True)
class Quantile:
    """A quantile in ms with its distribution-free 95% interval (None when too few samples)."""

    ms: float
    low_ms: float | None = None
    high_ms: float | None = None

    @property
    def text(self) -> str:
        if self.low_ms is None or self.high_ms is None:
            return format_ms(self.ms)
        return f"{format_ms(self.ms)} (95% CI {span_ms(self.low_ms, self.high_ms)})"

    @property
    def ci_text(self) -> str:
        if self.low_ms is None or self.high_ms is None:
            return "too few samples for an interval"
        return span_ms(self.low_ms, self.high_ms)


@dataclass(frozen=True)
class BudgetCell:
    """One budget check of an endpoint: ``p99 < 250 ms``, its status and the headroom left."""

    metric: str
    text: str
    status: str
    headroom_pct: float | None  # positive: room left; negative: over by that much
    message: str


@dataclass(frozen=True)
class ChangeCell:
    """One quantile of an endpoint against the baseline: the ratio the decision judged, with
    the bounds it used (``low``/``high`` as ratios; what they are in ``band``)."""

    metric: str
    ratio: float
    low: float | None
    high: float | None
    band: str
    outcome: str
    status: str
    message: str

    @property
    def change_pct(self) -> float:
        return (self.ratio - 1) * 100

    @property
    def text(self) -> str:
        if self.low is None or self.high is None:
            return pct(self.ratio)
        return f"{pct(self.ratio)} ({self.band} {pct(self.low)} to {pct(self.high)})"


@dataclass(frozen=True)
class EndpointRow:
    """One line of the per-endpoint table."""

    name: str
    requests: int
    rps: float
    failures: int
    error_rate: float
    p50: Quantile
    p95: Quantile
    p99: Quantile
    max_ms: float
    status: str  # the worst status of this endpoint's checks ("pass" when it has none)
    budgets: tuple[BudgetCell, ...] = ()
    changes: tuple[ChangeCell, ...] = ()
    outcomes: dict[str, int] = field(default_factory=dict)
    failure_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def is_stream(self) -> bool:
        return self.name.startswith(WS_PREFIX)

    @property
    def budgets_latency(self) -> bool:
        return any(b.metric.startswith("p") for b in self.budgets)

    def quantile(self, metric: str) -> Quantile | None:
        return {"p50": self.p50, "p95": self.p95, "p99": self.p99}.get(metric)


@dataclass(frozen=True)
class Stat:
    """A headline figure: label, value and an optional comparison line (budget, baseline)."""

    label: str
    value: str
    detail: str = ""
    status: str = ""  # "", "pass", "warn", "fail", "invalid": tints the figure


def signed(percent: float) -> str:
    """``+12``, ``-3``, ``+0`` (never ``-0``)."""
    return f"{round(percent) or 0:+d}"


def span_ms(low: float, high: float) -> str:
    """``48.6–49.5 ms``; ``812 ms–1.02 s`` when the units differ."""
    (a, unit_a), (b, unit_b) = ms_parts(low), ms_parts(high)
    return f"{a}–{b} {unit_b}" if unit_a == unit_b else f"{a} {unit_a}–{b} {unit_b}"


def worst(statuses: Sequence[str]) -> str:
    """The most severe of ``statuses`` (``pass`` for none)."""
    return min(statuses, key=lambda s: STATUS_RANK.get(s, 3), default="pass")


def sorted_checks(checks: Sequence[Check]) -> list[Check]:
    """Failing first, then warnings, then passes; stable within a status."""
    return sorted(checks, key=lambda c: STATUS_RANK[c.status])


def checks_by_kind(verdict: Verdict) -> list[tuple[str, list[Check]]]:
    """(kind, checks failing first) for each kind that has checks, in the fixed kind order."""
    return [(k, sorted_checks(verdict.of_kind(k))) for k in KIND_ORDER if verdict.of_kind(k)]


def _quantile(ep: EndpointResult, p: float) -> Quantile:
    iv = ep.histogram.quantile_interval(p)
    ms = ep.quantile_ms(p)
    if iv is None:
        return Quantile(ms)
    return Quantile(ms, iv[0] / 1000, iv[1] / 1000)


def _budget_cell(check: Check) -> BudgetCell:
    headroom = None
    if check.value is not None and check.threshold:
        headroom = (1 - check.value / check.threshold) * 100
    assert check.metric is not None and check.threshold is not None
    text = budget_text(check.metric, check.quantile, check.threshold)
    return BudgetCell(check.metric, text, check.status, headroom, check.message)


def _change_cell(check: Check) -> ChangeCell | None:
    """The change the decision judged: A/B, head/base over the pairs with its 90% bounds;
    stored baseline, the run against the baseline's mean with the noise band (or with one
    baseline run, the ratios the two runs' own intervals allow). No bounds where the decision
    had none (one baseline run and no intervals)."""
    if check.ratio is None or check.metric is None:
        return None
    low, high = check.interval or (None, None)
    if low is None or high is None or low <= 0 or math.isinf(high):
        low = high = None
    return ChangeCell(
        check.metric, check.ratio, low, high, check.interval_label or "bounds",
        check.outcome or check.status, check.status, check.message,
    )  # fmt: skip


def endpoint_rows(
    result: RunResult, verdict: Verdict, baseline: Baseline | None = None
) -> list[EndpointRow]:
    """One row per endpoint, failing rows first, then by name."""
    rows: list[EndpointRow] = []
    window = result.window_s
    for name, ep in result.endpoints.items():
        mine = [c for c in verdict.checks if c.endpoint == name]
        budgets = tuple(_budget_cell(c) for c in mine if c.kind == "budget")
        changes = tuple(
            cell
            for c in mine
            if c.kind == "regression"
            for cell in [_change_cell(c)]
            if cell is not None
        )
        rows.append(
            EndpointRow(
                name=name,
                requests=ep.requests,
                rps=ep.requests / window if window > 0 else 0.0,
                failures=ep.failures,
                error_rate=ep.error_rate,
                p50=_quantile(ep, 0.50),
                p95=_quantile(ep, 0.95),
                p99=_quantile(ep, 0.99),
                max_ms=ep.histogram.max_us / 1000,
                status=worst([c.status for c in mine]),
                budgets=budgets,
                changes=changes,
                outcomes=dict(sorted(ep.outcomes.items())),
                failure_kinds=dict(sorted(ep.failure_kinds.items())),
            )
        )
    rows.sort(key=lambda r: (STATUS_RANK.get(r.status, 3), r.name))
    return rows


def chart_order(rows: Sequence[EndpointRow]) -> list[str]:
    """Endpoint names in the order charts show them: failing, then budgeted, then busiest."""
    ranked = sorted(
        rows, key=lambda r: (STATUS_RANK.get(r.status, 3), not r.budgets_latency, -r.requests)
    )
    return [r.name for r in ranked]


def key_rows(rows: Sequence[EndpointRow], limit: int = 4) -> list[EndpointRow]:
    """The critical journeys for the headline: endpoints with a latency budget, else the busiest."""
    budgeted = [r for r in rows if r.budgets_latency]
    if budgeted:
        return budgeted[:limit]
    return sorted(rows, key=lambda r: -r.requests)[:limit]


def headline_figures(result: RunResult) -> list[Stat]:
    """Users, throughput, volume, errors and the SUT's CPU and memory, in plain words."""
    reached = result.users_reached >= result.users_target
    figures = [
        Stat(
            "Users reached",
            f"{result.users_reached:,}",
            f"of {result.users_target:,} planned",
            "" if reached else "warn",
        ),
        Stat(
            "Throughput", f"{rate(result.rps)} req/s", f"over {duration(result.window_s)} measured"
        ),
        Stat("Requests", f"{result.total_requests:,}", f"{len(result.endpoints)} endpoints"),
        Stat(
            "Error rate",
            percent(result.total_failures / result.total_requests if result.total_requests else 0),
            f"{result.total_failures:,} failed",
        ),
    ]
    sut = result.process("sut")
    if sut is not None and sut.cpu_percent:
        figures.append(Stat("SUT CPU", f"{sut.cpu_mean:.0f}%", "mean, % of one core"))
    if sut is not None and sut.rss_mb:
        figures.append(Stat("SUT memory", f"{sut.rss_max_mb:,.0f} MB", "peak resident (RSS)"))
    return figures


def rate(per_second: float) -> str:
    """``1,630``, ``58.2``, ``0.35``: three significant figures are plenty for a rate."""
    if per_second >= 100:
        return f"{per_second:,.0f}"
    return f"{per_second:.3g}"


def percent(fraction: float) -> str:
    """An error rate for people: ``0%``, ``0.012%``, ``1.3%``."""
    if fraction == 0:
        return "0%"
    value = fraction * 100
    if value >= 1:
        return f"{value:.1f}%"
    return f"{value:.2g}%"


def duration(seconds: float) -> str:
    """``45 s``, ``2 min 5 s``, ``1 h 3 min``."""
    s = round(seconds)
    if s < 60:
        return f"{seconds:g} s"
    if s < 3600:
        m, rest = divmod(s, 60)
        return f"{m} min {rest} s" if rest else f"{m} min"
    h, rest = divmod(s, 3600)
    return f"{h} h {rest // 60} min" if rest // 60 else f"{h} h"
