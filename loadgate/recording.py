"""The recorder behind the Locust plugin: exact histograms per endpoint, per-second series,
open-model arrivals and load stages, mergeable across processes. Pure: no locust, no gevent,
so it is tested (and its merging proved exact) in-process.

Per request it is one dict lookup and one or two HDR updates (~2 µs), not an event log:

>>> r = Recorder(warmup_s=0.0)
>>> r.start(100.0)
>>> r.request("GET /markets", 100.5, 12.5, None, None)
>>> r.window["GET /markets"].histogram.count
1
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hdrh.histogram import HdrHistogram

from loadgate.health import ProcessHealth, delay_met
from loadgate.histogram import LatencyHistogram

RECORDING_SCHEMA = "loadgate.recording"
MAX_FAILURE_KINDS = 50
MAX_OUTCOME_KINDS = 50


def coarse_histogram() -> LatencyHistogram:
    """Per-second and per-stage histograms only feed charts and the capacity knee: 2 digits and
    a one-minute range keep them light (~10 KB instead of ~370 KB each)."""
    return LatencyHistogram(HdrHistogram(1, 60_000_000, 2))


def _add(counts: dict[str, int], kind: str, n: int, limit: int) -> None:
    if kind in counts or len(counts) < limit:
        counts[kind] = counts.get(kind, 0) + n
    else:
        counts["(other)"] = counts.get("(other)", 0) + n


def server_time_ms(header: str | None) -> float | None:
    """The server's own time from a W3C ``Server-Timing`` header: the longest ``dur`` of its
    metrics (the outermost span; ``db;dur=2, app;dur=5.5`` -> 5.5); None without one.

    >>> server_time_ms("app;dur=1.25")
    1.25
    """
    if not header:
        return None
    best: float | None = None
    for metric in header.split(","):
        for param in metric.split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "dur":
                try:
                    dur = float(value.strip().strip('"'))
                except ValueError:
                    continue
                if math.isfinite(dur) and dur >= 0 and (best is None or dur > best):
                    best = dur
    return best


# open model: every arrival from its intended start to its last response (or its drop)
JOURNEY = "JOURNEY arrival"


class Endpoint:
    """Accumulated figures of one endpoint within the measurement window."""

    __slots__ = (
        "corrected",
        "delay",
        "failure_kinds",
        "failures",
        "histogram",
        "outcomes",
        "server",
    )

    def __init__(self, corrected: bool = False) -> None:
        self.histogram = LatencyHistogram()
        # the server's own time (its Server-Timing header), for requests that carried one
        self.server: LatencyHistogram | None = None
        # the generator's own delay per request, where the client measured it (kernel stamps)
        self.delay: LatencyHistogram | None = None
        # open model: latency from the intended start (coordinated omission corrected)
        self.corrected: LatencyHistogram | None = LatencyHistogram() if corrected else None
        self.failures = 0
        self.failure_kinds: dict[str, int] = {}
        self.outcomes: dict[str, int] = {}

    def add_failure(self, kind: str, count: int = 1) -> None:
        self.failures += count
        _add(self.failure_kinds, kind, count, MAX_FAILURE_KINDS)

    def add_outcome(self, kind: str, count: int = 1) -> None:
        _add(self.outcomes, kind, count, MAX_OUTCOME_KINDS)

    def dump(self) -> dict[str, Any]:
        return {
            "histogram": self.histogram.encode(),
            "out_of_range": self.histogram.out_of_range,
            "corrected": self.corrected.encode() if self.corrected is not None else None,
            "corrected_out_of_range": self.corrected.out_of_range if self.corrected else 0,
            "server": self.server.encode() if self.server is not None else None,
            "delay_measured": self.delay.encode() if self.delay is not None else None,
            "failures": self.failures,
            "failure_kinds": self.failure_kinds,
            "outcomes": self.outcomes,
        }

    def load(self, d: Mapping[str, Any]) -> None:
        self.histogram.merge(LatencyHistogram.decode(d["histogram"], d["out_of_range"]))
        if d.get("corrected"):
            other = LatencyHistogram.decode(d["corrected"], d.get("corrected_out_of_range", 0))
            if self.corrected is None:
                self.corrected = LatencyHistogram()
            self.corrected.merge(other)
        if d.get("server"):
            if self.server is None:
                self.server = LatencyHistogram()
            self.server.merge(LatencyHistogram.decode(d["server"]))
        if d.get("delay_measured"):
            if self.delay is None:
                self.delay = LatencyHistogram()
            self.delay.merge(LatencyHistogram.decode(d["delay_measured"]))
        for kind, n in d["failure_kinds"].items():
            self.add_failure(kind, n)
        for kind, n in d["outcomes"].items():
            self.add_outcome(kind, n)


class Recorder:
    """Merges requests (local/worker) and worker reports (master) into exact histograms.

    ``open_model``: record a corrected histogram per endpoint (latency from the intended start).
    ``stages``: (start, end) offsets from the test start; each gets coarse per-endpoint
    histograms, from which the capacity knee is found.
    """

    def __init__(
        self,
        warmup_s: float,
        window_s: float = float("inf"),
        *,
        open_model: bool = False,
        stages: Sequence[tuple[float, float]] = (),
    ) -> None:
        self.warmup_s = warmup_s
        self.window_s = window_s
        self.open_model = open_model
        self.stages = list(stages)
        self.t0: float | None = None
        self.end: float | None = None
        self.window: dict[str, Endpoint] = {}
        self.open_seconds: dict[int, dict[str, tuple[LatencyHistogram, list[int]]]] = {}
        self.closed_seconds: dict[int, dict[str, list[Any]]] = {}
        self.stage_data: dict[int, dict[str, tuple[LatencyHistogram, list[int]]]] = {}
        self.users: dict[int, int] = {}
        self.arrivals = {"intended": 0, "dropped": 0}
        # generator health: this process's own probe, and every process's (a master's workers)
        self.own: ProcessHealth | None = None
        self.health: dict[str, ProcessHealth] = {}
        # audit aid (tests): every windowed sample, as (key, latency µs); None in real runs
        self.sink: Callable[[str, int], None] | None = None
        # what went wrong on the way that the run's result should say (e.g. a worker refused)
        self.notes: list[str] = []

    # --- recording ----------------------------------------------------------------------
    def watch_self(self, ident: str, role: str) -> ProcessHealth:
        """The health record this process's probe writes to (see :mod:`loadgate.health`)."""
        if self.own is None:
            self.own = self.health[ident] = ProcessHealth(ident, role)
        return self.own

    def start(self, now: float) -> None:
        if self.t0 is None:
            self.t0 = now

    def in_window(self, when: float) -> bool:
        if self.t0 is None:
            return False
        window_start = self.t0 + self.warmup_s
        return window_start <= when < window_start + self.window_s

    def request(
        self,
        key: str,
        start_time: float,
        response_time_ms: float,
        exception: BaseException | None,
        outcome: str | None,
        intended: float | None = None,
        outcomes: Mapping[str, int] | None = None,
        server_ms: float | None = None,
        delay_ms: float | None = None,
        late_s: float | None = None,
    ) -> None:
        """One request (or stream message). ``intended``: its arrival's scheduled start (open
        model), which places it in the window; ``late_s``: how late its arrival began, carried
        by every request of the arrival (default: how late this request began);
        ``outcomes``: extra expected-outcome counts carried by one entry (e.g. versions skipped);
        ``server_ms``: the server's own time for it (Server-Timing), when it said;
        ``delay_ms``: how long its response waited for the generator, when the client knew."""
        if self.t0 is None:
            return  # before the test started (e.g. a web-UI user poking around)
        latency_us = int(response_time_ms * 1000 + 0.5)
        # the timeline files a request under the second it completed: that second is still open
        # (a second is closed a moment after it ends), and its lateness is the hub's then
        hist, failures = self._second(int(start_time + response_time_ms / 1000), key)
        if exception is not None:
            failures[0] += 1
        else:
            hist.record(latency_us)
        if self.stages:
            self._stage(start_time, key, latency_us, exception is not None)
        # open model: an arrival's place in the window is its intended start, so arrivals
        # queued behind a stall at the window's end still count
        if not self.in_window(start_time if intended is None else intended):
            return
        ep = self.window.get(key)
        if ep is None:
            ep = self.window[key] = Endpoint(self.open_model)
        if exception is not None:
            ep.add_failure(_failure_kind(exception))
            return
        ep.histogram.record(latency_us)
        if server_ms is not None:
            if ep.server is None:
                ep.server = LatencyHistogram()
            ep.server.record(int(server_ms * 1000 + 0.5))
        if delay_ms is not None:
            if ep.delay is None:
                ep.delay = LatencyHistogram()
            ep.delay.record(int(delay_ms * 1000 + 0.5))
        if self.sink is not None:
            self.sink(key, latency_us)
        if ep.corrected is not None:
            if late_s is None:
                late_s = start_time - intended if intended is not None else 0.0
            ep.corrected.record(latency_us + max(0, int(late_s * 1e6)))
        if outcome:
            ep.add_outcome(outcome)
        if outcomes:
            for kind, n in outcomes.items():
                ep.add_outcome(kind, n)

    def arrival(self, intended: float, dropped: bool = False) -> None:
        """One open-model arrival; ``dropped`` when no user was free to take it at once (see
        :meth:`dropped` for one given up after waiting)."""
        if self.in_window(intended):
            self.arrivals["intended"] += 1
            self.arrivals["dropped"] += dropped

    def journey(self, intended: float, began: float, ended: float) -> None:
        """One arrival from its intended start to its last response (``JOURNEY arrival``):
        uncorrected from its first request's start, corrected from the intended start."""
        self.request(
            JOURNEY, began, (ended - began) * 1000, None, None, intended, late_s=began - intended
        )

    def dropped(self, intended: float, now: float) -> None:
        """An arrival given up after waiting from ``intended`` to ``now`` for a free user: a
        failure of ``JOURNEY arrival`` (counted in its second) whose corrected latency is at
        least the time it waited."""
        if self.t0 is None:
            return
        self._second(int(now), JOURNEY)[1][0] += 1
        if not self.in_window(intended):
            return
        self.arrivals["dropped"] += 1
        ep = self.window.get(JOURNEY)
        if ep is None:
            ep = self.window[JOURNEY] = Endpoint(self.open_model)
        ep.add_failure("dropped")
        if ep.corrected is not None:
            ep.corrected.record(max(0, int((now - intended) * 1e6)))

    def _second(self, second: int, key: str) -> tuple[LatencyHistogram, list[int]]:
        bucket = self.open_seconds.setdefault(second, {})
        entry = bucket.get(key)
        if entry is None:
            entry = bucket[key] = (coarse_histogram(), [0])
        return entry

    def _stage(self, when: float, key: str, latency_us: int, failed: bool) -> None:
        assert self.t0 is not None
        offset = when - self.t0
        for index, (begin, end) in enumerate(self.stages):
            if begin <= offset < end:
                bucket = self.stage_data.setdefault(index, {})
                entry = bucket.get(key)
                if entry is None:
                    entry = bucket[key] = (coarse_histogram(), [0])
                if failed:
                    entry[1][0] += 1
                else:
                    entry[0].record(latency_us)
                return

    # --- shipping between processes ---------------------------------------------------------
    def drain(self) -> dict[str, Any]:
        """Everything recorded since the last drain, encoded; then start afresh (workers)."""
        if self.own is not None:
            for second, bucket in self.open_seconds.items():
                self.own.add_requests(second, {k: h.count for k, (h, _f) in bucket.items()})
        data = {
            "window": {k: ep.dump() for k, ep in self.window.items()},
            "seconds": _encode_buckets(self.open_seconds),
            "stages": _encode_buckets(self.stage_data),
            "arrivals": dict(self.arrivals),
            "health": self.own.drain() if self.own is not None else None,
        }
        self.window, self.open_seconds, self.stage_data = {}, {}, {}
        self.arrivals = {"intended": 0, "dropped": 0}
        return data

    def merge(self, data: Mapping[str, Any]) -> None:
        for key, d in data["window"].items():
            self.window.setdefault(key, Endpoint()).load(d)
        for s, bucket in data["seconds"].items():
            second = int(s)
            if second in self.closed_seconds:
                continue  # arrived after the second was closed: drop rather than double-count
            for key, (encoded, failures) in bucket.items():
                hist, fails = self._second(second, key)
                hist.merge(LatencyHistogram.decode(encoded))
                fails[0] += failures
        for s, bucket in data.get("stages", {}).items():
            stage = self.stage_data.setdefault(int(s), {})
            for key, (encoded, failures) in bucket.items():
                entry = stage.get(key)
                if entry is None:
                    entry = stage[key] = (coarse_histogram(), [0])
                entry[0].merge(LatencyHistogram.decode(encoded))
                entry[1][0] += failures
        for kind, n in data.get("arrivals", {}).items():
            self.arrivals[kind] = self.arrivals.get(kind, 0) + n
        health = data.get("health")
        if health:
            ident = str(health["ident"])
            if ident not in self.health:
                self.health[ident] = ProcessHealth(ident, str(health["role"]))
            self.health[ident].load(health)

    # --- per-second reduction -----------------------------------------------------------------
    def close_seconds(self, before: float) -> None:
        for second in sorted(s for s in self.open_seconds if s < before):
            self.closed_seconds[second] = {
                key: [
                    hist.count,
                    failures[0],
                    *(hist.quantile(q) / 1000 if hist.count else None for q in (0.5, 0.95, 0.99)),
                ]
                for key, (hist, failures) in self.open_seconds.pop(second).items()
            }

    def live(self, now: float) -> dict[str, Any]:
        """Figures of the last closed second, for a progress line."""
        last = max(self.closed_seconds, default=None)
        bucket = self.closed_seconds.get(last, {}) if last is not None else {}
        p95 = [row[3] for row in bucket.values() if row[3] is not None]
        return {
            "t0": self.t0,  # the test start: the runner times its scrapes of the target from it
            "elapsed_s": now - self.t0 if self.t0 else 0.0,
            "users": self.users.get(int(now), 0),
            "rps": sum(row[0] + row[1] for row in bucket.values()),
            "failures": sum(row[1] for row in bucket.values()),
            "worst_p95_ms": max(p95, default=None),
        }

    def recording(self) -> dict[str, Any]:
        self.close_seconds(float("inf"))
        if self.own is not None and self.own.role == "local":
            # a local runner's requests are its own; a master's arrive with its workers' health
            self.own.requests = {}
            for second, bucket in self.closed_seconds.items():
                self.own.add_requests(second, {k: row[0] for k, row in bucket.items()})
        window = {k: ep.dump() for k, ep in sorted(self.window.items())}
        generators = []
        if self.t0 is not None:
            start = self.t0 + self.warmup_s
            end = start + self.window_s if math.isfinite(self.window_s) else float("inf")
            if self.end is not None:
                end = min(end, self.end)
            # the delay each endpoint's requests met: measured per request where the client
            # could (kernel receive stamps), else the lag of their seconds, weighted
            for key, hist in delay_met(self.health.values(), start, end).items():
                if key in window:
                    window[key]["delay"] = hist.encode()
            for key, ep in self.window.items():
                if ep.delay is not None and ep.delay.count:
                    window[key]["delay"] = ep.delay.encode()
            for proc in sorted(self.health.values(), key=lambda p: (p.role, p.ident)):
                lag = proc.window_lag(start, end)
                generators.append(
                    {
                        "ident": proc.ident,
                        "role": proc.role,
                        "lag": lag.encode(),
                        "lag_out_of_range": lag.out_of_range,
                        "series": proc.seconds_summary(self.t0),
                    }
                )
        return {
            "schema": RECORDING_SCHEMA,
            "schema_version": 1,
            "t0": self.t0,
            "end": self.end,
            "warmup_s": self.warmup_s,
            "window": window,
            "generators": generators,
            "seconds": {str(s): b for s, b in sorted(self.closed_seconds.items())},
            "users": {str(s): n for s, n in sorted(self.users.items())},
            "open_model": self.open_model,
            "notes": list(self.notes),
            "arrivals": dict(self.arrivals),
            "stages": [
                {
                    "start_s": begin,
                    "end_s": end,
                    "endpoints": _encode_buckets({0: self.stage_data.get(i, {})}).get("0", {}),
                }
                for i, (begin, end) in enumerate(self.stages)
            ],
        }


def _encode_buckets(
    buckets: Mapping[int, Mapping[str, tuple[LatencyHistogram, list[int]]]],
) -> dict[str, dict[str, list[Any]]]:
    return {
        str(s): {k: [h.encode(), f[0]] for k, (h, f) in bucket.items()}
        for s, bucket in buckets.items()
    }


def _failure_kind(exception: BaseException) -> str:
    text = str(exception) or type(exception).__name__
    return text if len(text) <= 160 else text[:157] + "..."
