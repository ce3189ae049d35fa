"""Prometheus text exposition -> the window's deltas between two scrapes. Pure: no I/O (the
scrapes themselves are taken by :mod:`loadgate.scraper`).

Histograms and counters become what they gained between the scrapes; gauges keep the value at
both. A series whose counts went backwards, or whose ``_created`` time changed, was reset
(the server restarted): it is listed as reset, without a number. A series first seen at the
end is counted from zero, as client libraries create a series on its first observation. The
number of series stored is capped; the busiest of every metric are kept first.

>>> before = '''# TYPE http_request_duration_seconds histogram
... http_request_duration_seconds_bucket{route="/bets",le="0.01"} 90
... http_request_duration_seconds_bucket{route="/bets",le="+Inf"} 100
... http_request_duration_seconds_count{route="/bets"} 100
... http_request_duration_seconds_sum{route="/bets"} 0.6
... '''
>>> after = '''# TYPE http_request_duration_seconds histogram
... http_request_duration_seconds_bucket{route="/bets",le="0.01"} 2100
... http_request_duration_seconds_bucket{route="/bets",le="+Inf"} 2234
... http_request_duration_seconds_count{route="/bets"} 2234
... http_request_duration_seconds_sum{route="/bets"} 14.1
... '''
>>> m = window_metrics(parse_exposition(before), parse_exposition(after),
...                    url="http://127.0.0.1:8000/metrics", start_s=10.0, end_s=60.0)
>>> [(h.count, h.buckets) for h in m.histograms if h.labels.get("route") == "/bets"]
[(2134, ((0.01, 2010), (inf, 2134)))]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from loadgate.server_metrics import (
    CounterWindow,
    GaugeWindow,
    HistogramWindow,
    Kind,
    ResetSeries,
    ServerMetrics,
)

MAX_SERIES = 400  # stored per run; a route-labelled metric of a big API stays within it

Labels = tuple[tuple[str, str], ...]
Key = tuple[str, Labels]  # (metric family name, sorted labels without "le")


@dataclass
class Histogram:
    """One histogram series in one scrape: cumulative bucket counts, count and sum."""

    buckets: dict[float, float] = field(default_factory=dict)
    count: float = 0.0
    sum: float = 0.0


@dataclass
class Scrape:
    """Every series of one exposition, by kind; ``created`` holds ``_created`` timestamps."""

    histograms: dict[Key, Histogram] = field(default_factory=dict)
    counters: dict[Key, float] = field(default_factory=dict)
    gauges: dict[Key, float] = field(default_factory=dict)
    created: dict[Key, float] = field(default_factory=dict)


def parse_exposition(text: str) -> Scrape:
    """Parse Prometheus text (0.0.4) into series; ValueError saying what is wrong.

    Summaries contribute ``_count`` and ``_sum`` as counters and their quantiles as gauges;
    untyped metrics are read as gauges (a value at each edge claims nothing about rates).
    """
    scrape = Scrape()
    created_families: dict[str, dict[Labels, float]] = {}
    try:
        families = list(text_string_to_metric_families(text))
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise ValueError(f"not Prometheus text exposition: {exc}") from None
    counted = {f.name for f in families if f.type in ("counter", "histogram", "summary")}
    for family in families:
        name, kind = family.name, family.type
        if kind == "gauge" and name.endswith("_created") and name[: -len("_created")] in counted:
            # the text format (0.0.4) writes a counter's creation time as a gauge of its own
            created_families[name[: -len("_created")]] = {
                _labels(s.labels): s.value for s in family.samples
            }
            continue
        for sample in family.samples:
            labels = _labels(sample.labels)
            if sample.name == f"{name}_created":
                scrape.created[(name, labels)] = sample.value
            elif kind == "histogram":
                _histogram_sample(scrape, name, sample.name, sample.labels, sample.value)
            elif kind == "counter":
                _put(scrape.counters, (name, labels), sample.value)
            elif kind == "summary" and sample.name != name:
                _put(scrape.counters, (sample.name, labels), sample.value)
            else:
                _put(scrape.gauges, (sample.name, labels), sample.value)
    for name, by_labels in created_families.items():
        scrape.created.update({(name, labels): v for labels, v in by_labels.items()})
    return scrape


def _labels(labels: dict[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def _put(into: dict[Key, float], key: Key, value: float) -> None:
    if key in into:
        raise ValueError(f"duplicate series {_series_name(key)}")
    into[key] = value


def _histogram_sample(
    scrape: Scrape, name: str, sample: str, labels: dict[str, str], value: float
) -> None:
    rest = {k: v for k, v in labels.items() if k != "le"}
    series = scrape.histograms.setdefault((name, _labels(rest)), Histogram())
    if sample == f"{name}_bucket":
        if "le" not in labels:
            raise ValueError(f"histogram {name}: a bucket without an 'le' label")
        try:
            bound = float(labels["le"])
        except ValueError:
            raise ValueError(f"histogram {name}: bucket bound {labels['le']!r}") from None
        if bound in series.buckets:
            raise ValueError(f"duplicate series {_series_name((name, _labels(labels)))}")
        series.buckets[bound] = value
    elif sample == f"{name}_count":
        series.count = value
    elif sample == f"{name}_sum":
        series.sum = value


def _series_name(key: Key) -> str:
    name, labels = key
    return name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}" if labels else "")


# --- the window -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Candidate:
    """A series of the window before the cap: its kind, how busy it was, and what to store."""

    key: Key
    kind: Kind
    activity: float
    item: HistogramWindow | CounterWindow | GaugeWindow | ResetSeries


def window_metrics(
    start: Scrape,
    end: Scrape,
    *,
    url: str,
    start_s: float,
    end_s: float,
    max_series: int = MAX_SERIES,
) -> ServerMetrics:
    """What changed between two scrapes of one target (offsets from the test start)."""
    candidates = [*_histograms(start, end), *_counters(start, end), *_gauges(start, end)]
    notes: list[str] = []
    finite = [c for c in candidates if _storable(c.item)]
    if len(finite) < len(candidates):
        notes.append(
            f"{len(candidates) - len(finite)} series left out: a NaN or infinite value, or a "
            "histogram without a +Inf bucket"
        )
    resets = [c for c in finite if isinstance(c.item, ResetSeries)]
    if resets:
        names = ", ".join(sorted({c.key[0] for c in resets}))
        notes.append(
            f"{len(resets)} series went backwards between the scrapes (the server restarted or "
            f"reset them), so their window is unknown: {names}"
        )
    new = sum(1 for c in finite if c.kind != "gauge" and _is_new(c.key, c.kind, start))
    if new:
        notes.append(f"{new} series appeared during the window and are counted from zero")
    gone = _gone(start, end)
    if gone:
        notes.append(f"{gone} series present at the window's start were gone at its end")
    kept = _cap(finite, max_series)
    if len(kept) < len(finite):
        notes.append(
            f"capped: {len(kept)} of {len(finite)} series kept (the busiest of each metric "
            "first); the rest are not stored"
        )
    metrics = ServerMetrics(url=url, start_s=start_s, end_s=end_s, notes=notes)
    for c in sorted(kept, key=lambda c: c.key):
        item = c.item
        if isinstance(item, HistogramWindow):
            metrics.histograms.append(item)
        elif isinstance(item, CounterWindow):
            metrics.counters.append(item)
        elif isinstance(item, GaugeWindow):
            metrics.gauges.append(item)
        else:
            metrics.resets.append(item)
    return metrics


def _histograms(start: Scrape, end: Scrape) -> Iterable[_Candidate]:
    for key, after in end.histograms.items():
        name, labels = key[0], dict(key[1])
        before = start.histograms.get(key, Histogram())
        reset = _recreated(key, start, end) or after.count < before.count
        if key in start.histograms and set(before.buckets) != set(after.buckets):
            reset = True  # another bucket layout: a restarted server with other settings
        deltas = {b: c - before.buckets.get(b, 0.0) for b, c in after.buckets.items()}
        if reset or any(d < 0 for d in deltas.values()):
            yield _Candidate(key, "histogram", 0.0, ResetSeries(name, labels, "histogram"))
            continue
        count = after.count - before.count
        item = HistogramWindow(
            name, labels, count, after.sum - before.sum, tuple(sorted(deltas.items()))
        )
        yield _Candidate(key, "histogram", count, item)


def _counters(start: Scrape, end: Scrape) -> Iterable[_Candidate]:
    for key, after in end.counters.items():
        name, labels = key[0], dict(key[1])
        before = start.counters.get(key, 0.0)
        if after < before or _recreated(key, start, end):
            yield _Candidate(key, "counter", 0.0, ResetSeries(name, labels, "counter"))
        else:
            yield _Candidate(
                key, "counter", after - before, CounterWindow(name, labels, after - before)
            )


def _gauges(start: Scrape, end: Scrape) -> Iterable[_Candidate]:
    for key, after in end.gauges.items():
        item = GaugeWindow(key[0], dict(key[1]), start.gauges.get(key), after)
        yield _Candidate(key, "gauge", abs(after), item)


def _recreated(key: Key, start: Scrape, end: Scrape) -> bool:
    before, after = start.created.get(key), end.created.get(key)
    return before is not None and after is not None and before != after


def _is_new(key: Key, kind: Kind, start: Scrape) -> bool:
    return key not in (start.histograms if kind == "histogram" else start.counters)


def _gone(start: Scrape, end: Scrape) -> int:
    return sum(
        len(set(getattr(start, part)) - set(getattr(end, part)))
        for part in ("histograms", "counters", "gauges")
    )


def _storable(item: HistogramWindow | CounterWindow | GaugeWindow | ResetSeries) -> bool:
    if isinstance(item, HistogramWindow):
        if not item.buckets or item.buckets[-1][0] != math.inf:
            return False
        values = [item.count, item.sum, *(c for _, c in item.buckets)]
    elif isinstance(item, CounterWindow):
        values = [item.delta]
    elif isinstance(item, GaugeWindow):
        values = [item.end] + ([item.start] if item.start is not None else [])
    else:
        return True
    return all(math.isfinite(v) for v in values)


def _cap(candidates: list[_Candidate], max_series: int) -> list[_Candidate]:
    """At most ``max_series``, taken round-robin over the metrics, busiest series first, so a
    metric with thousands of label sets cannot crowd out the others."""
    if len(candidates) <= max_series:
        return candidates
    by_family: dict[str, list[_Candidate]] = {}
    for c in candidates:
        by_family.setdefault(c.key[0], []).append(c)
    ranked = []
    for family in by_family.values():
        family.sort(key=lambda c: (-c.activity, c.key))
        ranked += [(rank, c.key, c) for rank, c in enumerate(family)]
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [c for _, _, c in ranked[:max_series]]
