"""The server's own view of the measurement window: what its Prometheus metrics changed by
between a scrape at the window's start and one at its end (see :mod:`loadgate.scrape`).

Histograms keep their bucket counts (cumulative, as Prometheus writes them) so quantiles are
estimated exactly as PromQL's ``histogram_quantile`` does: linear interpolation within the
bucket the rank falls in, 0 as the lower bound of the first bucket, and the highest finite
bound when the rank falls in the ``+Inf`` bucket. Stored compactly: only the buckets that
gained observations and the bucket below each of them, which is all the estimate reads.

>>> h = HistogramWindow("lat_seconds", {}, 4, 0.01, ((0.001, 0), (0.005, 4), (math.inf, 4)))
>>> h.quantile(0.5)
0.003
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["histogram", "counter", "gauge"]
KINDS: tuple[Kind, ...] = ("histogram", "counter", "gauge")


@dataclass(frozen=True)
class Estimate:
    """A quantile estimated from buckets, with the bucket it lies in (``high`` may be inf:
    the rank fell in the ``+Inf`` bucket and ``value`` is only a lower bound)."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class HistogramWindow:
    """One histogram series (a label set) over the window: observations, their sum, and the
    cumulative count per bucket upper bound, in ascending order."""

    name: str
    labels: dict[str, str]
    count: float
    sum: float
    buckets: tuple[tuple[float, float], ...]

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count > 0 else None

    def quantile(self, q: float) -> float | None:
        """PromQL's ``histogram_quantile(q, ...)``; None where it would answer NaN."""
        found = self.estimate(q)
        return found.value if found is not None else None

    def estimate(self, q: float) -> Estimate | None:
        """The quantile with its bucket; None for an empty window or no ``+Inf`` bucket."""
        return bucket_quantile(q, self.buckets)


@dataclass(frozen=True)
class CounterWindow:
    """A counter series: how much it grew in the window (``name`` is the metric family's,
    without the ``_total`` its samples carry)."""

    name: str
    labels: dict[str, str]
    delta: float


@dataclass(frozen=True)
class GaugeWindow:
    """A gauge series read at both scrapes (``start`` is None if it did not exist yet)."""

    name: str
    labels: dict[str, str]
    start: float | None
    end: float


@dataclass(frozen=True)
class ResetSeries:
    """A series whose counts went backwards between the scrapes (the server restarted or
    reset it): no figure is given for it, since the window's true count is unknown."""

    name: str
    labels: dict[str, str]
    kind: Kind


@dataclass
class ServerMetrics:
    """What the target's metrics endpoint said about the window (offsets from the test start)."""

    url: str
    start_s: float
    end_s: float
    histograms: list[HistogramWindow] = field(default_factory=list)
    counters: list[CounterWindow] = field(default_factory=list)
    gauges: list[GaugeWindow] = field(default_factory=list)
    resets: list[ResetSeries] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s


def bucket_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> Estimate | None:
    """Prometheus' ``bucketQuantile`` (promql/quantile.go) on (upper bound, cumulative count)
    pairs; None where it returns NaN. Decreasing counts are lifted to the running maximum as
    Prometheus does; its 1e-12 float-precision correction cannot matter for integer counts.

    >>> bucket_quantile(0.99, [(0.1, 0), (0.2, 10), (math.inf, 10)]).value
    0.199
    """
    if not 0 <= q <= 1:
        raise ValueError(f"quantile {q!r} is not within 0..1")
    ordered = sorted(buckets)
    if len(ordered) < 2 or not math.isinf(ordered[-1][0]):
        return None
    bounds = [b for b, _ in ordered]
    counts, top = [], -math.inf
    for _, c in ordered:
        top = max(top, c)
        counts.append(top)
    observations = counts[-1]
    if observations <= 0:
        return None
    rank = q * observations
    b = next((i for i in range(len(counts) - 1) if counts[i] >= rank), len(counts) - 1)
    if b == len(counts) - 1:
        return Estimate(bounds[-2], bounds[-2], math.inf)
    if b == 0 and bounds[0] <= 0:
        return Estimate(bounds[0], bounds[0], bounds[0])
    start, end, count = 0.0, bounds[b], counts[b]
    if b > 0:
        start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    if count <= 0:  # q = 0 on an empty first bucket: 0/0, NaN in PromQL
        return None
    return Estimate(start + (end - start) * (rank / count), start, end)


def compact_buckets(buckets: Sequence[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """Drop the buckets no quantile estimate reads: keep a bucket if it or the next one gained
    observations (the next one's lower bound), and always the last.

    >>> compact_buckets([(1, 0), (2, 0), (3, 0), (4, 5), (math.inf, 5)])
    ((3, 0), (4, 5), (inf, 5))
    """
    ordered = sorted(buckets)
    gained = [c - (ordered[i - 1][1] if i else 0.0) != 0 for i, (_, c) in enumerate(ordered)]
    return tuple(
        pair
        for i, pair in enumerate(ordered)
        if gained[i] or i == len(ordered) - 1 or gained[i + 1]
    )


# --- wire format ------------------------------------------------------------------------------
def _num(x: float) -> float | int:
    """Counts as integers in the JSON (1234, not 1234.0); other values as they are."""
    return int(x) if float(x).is_integer() and abs(x) < 2**53 else x


def _bound_text(bound: float) -> str:
    return "+Inf" if bound == math.inf else repr(bound)


def server_metrics_to_dict(m: ServerMetrics) -> dict[str, Any]:
    """The JSON form of :class:`ServerMetrics` (the ``server_metrics`` part of a result)."""
    return {
        "url": m.url,
        "start_s": m.start_s,
        "end_s": m.end_s,
        "histograms": [
            {
                "name": h.name,
                "labels": h.labels,
                "count": _num(h.count),
                "sum": _num(h.sum),
                "buckets": {_bound_text(b): _num(c) for b, c in compact_buckets(h.buckets)},
            }
            for h in m.histograms
        ],
        "counters": [
            {"name": c.name, "labels": c.labels, "delta": _num(c.delta)} for c in m.counters
        ],
        "gauges": [
            {
                "name": g.name,
                "labels": g.labels,
                "start": None if g.start is None else _num(g.start),
                "end": _num(g.end),
            }
            for g in m.gauges
        ],
        "resets": [{"name": r.name, "labels": r.labels, "kind": r.kind} for r in m.resets],
        "notes": m.notes,
    }


def _typed(value: Any, kind: type | tuple[type, ...], key: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{key}: expected {kind}, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{key}: not a finite number")
    return value


def _number(value: Any, key: str) -> float:
    return float(_typed(value, (int, float), key))


def _count(value: Any, key: str) -> float:
    number = _number(value, key)
    if number < 0:
        raise ValueError(f"{key}: a count in the window cannot be negative, got {value!r}")
    return number


def _labels(value: Any, key: str) -> dict[str, str]:
    _typed(value, dict, key)
    return {str(k): _typed(v, str, f"{key}.{k}") for k, v in value.items()}


def _bucket_pairs(value: Any, key: str) -> tuple[tuple[float, float], ...]:
    pairs = []
    for bound, count in _typed(value, dict, key).items():
        try:
            upper = float(bound)
        except ValueError:
            raise ValueError(f"{key}: bucket bound {bound!r} is not a number") from None
        pairs.append((upper, _count(count, f"{key}.{bound}")))
    if not pairs or max(b for b, _ in pairs) != math.inf:
        raise ValueError(f"{key}: no +Inf bucket")
    return tuple(sorted(pairs))


def server_metrics_from_dict(raw: Any, where: str = "server_metrics") -> ServerMetrics | None:
    """Inverse of :func:`server_metrics_to_dict` (None stays None); KeyError, TypeError or
    ValueError naming the key on bad data."""
    if raw is None:
        return None
    _typed(raw, dict, where)

    def each(part: str) -> list[tuple[str, dict[str, Any]]]:
        items = _typed(raw.get(part, []), list, f"{where}.{part}")
        return [
            (f"{where}.{part}[{i}]", _typed(x, dict, f"{where}.{part}[{i}]"))
            for i, x in enumerate(items)
        ]

    histograms = [
        HistogramWindow(
            name=_typed(h["name"], str, f"{k}.name"),
            labels=_labels(h.get("labels", {}), f"{k}.labels"),
            count=_count(h["count"], f"{k}.count"),
            sum=_number(h["sum"], f"{k}.sum"),
            buckets=_bucket_pairs(h["buckets"], f"{k}.buckets"),
        )
        for k, h in each("histograms")
    ]
    counters = [
        CounterWindow(
            name=_typed(c["name"], str, f"{k}.name"),
            labels=_labels(c.get("labels", {}), f"{k}.labels"),
            delta=_count(c["delta"], f"{k}.delta"),
        )
        for k, c in each("counters")
    ]
    gauges = [
        GaugeWindow(
            name=_typed(g["name"], str, f"{k}.name"),
            labels=_labels(g.get("labels", {}), f"{k}.labels"),
            start=None if g.get("start") is None else _number(g["start"], f"{k}.start"),
            end=_number(g["end"], f"{k}.end"),
        )
        for k, g in each("gauges")
    ]
    resets = []
    for k, r in each("resets"):
        kind = r["kind"]
        if kind not in KINDS:
            raise ValueError(f"{k}.kind: expected one of {', '.join(KINDS)}, got {kind!r}")
        resets.append(
            ResetSeries(
                _typed(r["name"], str, f"{k}.name"),
                _labels(r.get("labels", {}), f"{k}.labels"),
                kind,
            )
        )
    start_s = _number(raw["start_s"], f"{where}.start_s")
    end_s = _number(raw["end_s"], f"{where}.end_s")
    if end_s < start_s:
        raise ValueError(f"{where}: end_s {end_s} is before start_s {start_s}")
    return ServerMetrics(
        url=_typed(raw["url"], str, f"{where}.url"),
        start_s=start_s,
        end_s=end_s,
        histograms=histograms,
        counters=counters,
        gauges=gauges,
        resets=resets,
        notes=[
            _typed(n, str, f"{where}.notes")
            for n in _typed(raw.get("notes", []), list, f"{where}.notes")
        ],
    )
