"""The recorder plugin: the ONLY harness module that imports locust (DESIGN §5.3).

Every request's latency goes into an HDR histogram per endpoint (µs, 3 significant digits) —
not Locust's rounded stats — plus per-second histograms for the timeline. Workers ship their
histograms to the master through ``report_to_master``/``worker_report`` and reset; the master
(or a local runner) merges them and writes one recording file when Locust quits.

Enable it from a locustfile::

    from loadgate import plugin
    plugin.install()

and point it at a file with ``--loadgate-record PATH`` (or ``LOADGATE_RECORD``). Without a
path it records nothing, so the web UI works as usual.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import gevent
from hdrh.histogram import HdrHistogram
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadgate.files import write_text_atomic
from loadgate.histogram import LatencyHistogram

RECORDING_SCHEMA = "loadgate.recording"
MAX_FAILURE_KINDS = 50
# a second is closed (reduced to quantiles, histogram dropped) this long after it ends; on a
# master, worker reports arrive every few seconds, so keep seconds open longer
CLOSE_AFTER_S = {"local": 2, "master": 10}


def second_histogram() -> LatencyHistogram:
    """Per-second histograms only feed charts: 2 digits and a smaller range keep them light."""
    return LatencyHistogram(HdrHistogram(1, 60_000_000, 2))


class Endpoint:
    """Accumulated figures of one endpoint within the measurement window."""

    __slots__ = ("failure_kinds", "failures", "histogram", "outcomes")

    def __init__(self) -> None:
        self.histogram = LatencyHistogram()
        self.failures = 0
        self.failure_kinds: dict[str, int] = {}
        self.outcomes: dict[str, int] = {}

    def add_failure(self, kind: str, count: int = 1) -> None:
        self.failures += count
        if kind in self.failure_kinds or len(self.failure_kinds) < MAX_FAILURE_KINDS:
            self.failure_kinds[kind] = self.failure_kinds.get(kind, 0) + count
        else:
            self.failure_kinds["(other)"] = self.failure_kinds.get("(other)", 0) + count

    def dump(self) -> dict[str, Any]:
        return {
            "histogram": self.histogram.encode(),
            "out_of_range": self.histogram.out_of_range,
            "failures": self.failures,
            "failure_kinds": self.failure_kinds,
            "outcomes": self.outcomes,
        }

    def load(self, d: dict[str, Any]) -> None:
        self.histogram.merge(LatencyHistogram.decode(d["histogram"], d["out_of_range"]))
        for kind, n in d["failure_kinds"].items():
            self.add_failure(kind, n)
        for name, n in d["outcomes"].items():
            self.outcomes[name] = self.outcomes.get(name, 0) + n


class Recorder:
    """Merges requests (local/worker) and worker reports (master) into exact histograms."""

    def __init__(self, warmup_s: float, window_s: float = float("inf")) -> None:
        self.warmup_s = warmup_s
        self.window_s = window_s
        self.t0: float | None = None
        self.end: float | None = None
        self.window: dict[str, Endpoint] = {}
        self.open_seconds: dict[int, dict[str, tuple[LatencyHistogram, list[int]]]] = {}
        self.closed_seconds: dict[int, dict[str, list[Any]]] = {}
        self.users: dict[int, int] = {}

    # --- recording ----------------------------------------------------------------------
    def start(self, now: float) -> None:
        if self.t0 is None:
            self.t0 = now

    def request(
        self,
        key: str,
        start_time: float,
        response_time_ms: float,
        exception: BaseException | None,
        outcome: str | None,
    ) -> None:
        if self.t0 is None:
            return  # before the test started (e.g. a web-UI user poking around)
        latency_us = int(response_time_ms * 1000 + 0.5)
        second = int(start_time)
        hist, failures = self._second(second, key)
        if exception is not None:
            failures[0] += 1
        else:
            hist.record(latency_us)
        window_start = self.t0 + self.warmup_s
        if not window_start <= start_time < window_start + self.window_s:
            return
        ep = self.window.get(key)
        if ep is None:
            ep = self.window[key] = Endpoint()
        if exception is not None:
            ep.add_failure(_failure_kind(exception))
            return
        ep.histogram.record(latency_us)
        if outcome:
            ep.outcomes[outcome] = ep.outcomes.get(outcome, 0) + 1

    def _second(self, second: int, key: str) -> tuple[LatencyHistogram, list[int]]:
        bucket = self.open_seconds.setdefault(second, {})
        entry = bucket.get(key)
        if entry is None:
            entry = bucket[key] = (second_histogram(), [0])
        return entry

    # --- shipping between processes ---------------------------------------------------------
    def drain(self) -> dict[str, Any]:
        """Everything recorded since the last drain, encoded; then start afresh (workers)."""
        data = {
            "window": {k: ep.dump() for k, ep in self.window.items()},
            "seconds": {
                str(s): {k: [h.encode(), f[0]] for k, (h, f) in bucket.items()}
                for s, bucket in self.open_seconds.items()
            },
        }
        self.window, self.open_seconds = {}, {}
        return data

    def merge(self, data: dict[str, Any]) -> None:
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
            "elapsed_s": now - self.t0 if self.t0 else 0.0,
            "users": self.users.get(int(now), 0),
            "rps": sum(row[0] + row[1] for row in bucket.values()),
            "failures": sum(row[1] for row in bucket.values()),
            "worst_p95_ms": max(p95, default=None),
        }

    def recording(self) -> dict[str, Any]:
        self.close_seconds(float("inf"))
        return {
            "schema": RECORDING_SCHEMA,
            "schema_version": 1,
            "t0": self.t0,
            "end": self.end,
            "warmup_s": self.warmup_s,
            "window": {k: ep.dump() for k, ep in sorted(self.window.items())},
            "seconds": {str(s): b for s, b in sorted(self.closed_seconds.items())},
            "users": {str(s): n for s, n in sorted(self.users.items())},
        }


def _failure_kind(exception: BaseException) -> str:
    text = str(exception) or type(exception).__name__
    return text if len(text) <= 160 else text[:157] + "..."


# --- wiring into Locust -------------------------------------------------------------------------
def install() -> None:
    """Register the recorder on Locust's events; call once from the locustfile."""
    events.init_command_line_parser.add_listener(_add_arguments)
    events.init.add_listener(_on_init)


def _add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("loadgate", "exact latency recording for loadgate")
    group.add_argument(
        "--loadgate-record",
        default="",
        env_var="LOADGATE_RECORD",
        help="write loadgate's exact recording (JSON) to this file when Locust quits",
    )
    group.add_argument(
        "--loadgate-progress",
        default="",
        env_var="LOADGATE_PROGRESS",
        help="rewrite this small JSON file every second with live figures (for progress display)",
    )
    group.add_argument(
        "--loadgate-warmup",
        type=float,
        default=0.0,
        env_var="LOADGATE_WARMUP",
        help="seconds from the test start excluded from the measurement window",
    )
    group.add_argument(
        "--loadgate-window",
        type=float,
        default=0.0,
        env_var="LOADGATE_WINDOW",
        help="length of the measurement window in seconds (0: until the test stops)",
    )


def _on_init(environment: Environment, **_kw: Any) -> None:
    options = environment.parsed_options
    path = getattr(options, "loadgate_record", "") if options else ""
    progress = getattr(options, "loadgate_progress", "") if options else ""
    warmup = float(getattr(options, "loadgate_warmup", 0.0) or 0.0)
    window = float(getattr(options, "loadgate_window", 0.0) or 0.0)
    recorder = Recorder(warmup, window if window > 0 else float("inf"))
    runner = environment.runner
    is_worker = isinstance(runner, WorkerRunner)
    role = "master" if isinstance(runner, MasterRunner) else "local"

    def on_request(
        request_type: str,
        name: str,
        response_time: float,
        exception: Any = None,
        context: Any = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        began = start_time if start_time is not None else time.time() - response_time / 1000
        outcome = context.get("outcome") if isinstance(context, dict) else None
        recorder.request(f"{request_type} {name}", began, response_time, exception, outcome)

    def on_test_start(**_: Any) -> None:
        recorder.start(time.time())
        if not is_worker:
            gevent.spawn(tick)

    def tick() -> None:
        # one sample per second of the active users, and closing of finished seconds
        while runner is not None and recorder.end is None:
            now = time.time()
            recorder.users[int(now)] = runner.user_count
            recorder.close_seconds(now - CLOSE_AFTER_S[role])
            if progress:
                write_text_atomic(Path(progress), json.dumps(recorder.live(now)))
            gevent.sleep(1.0 - (time.time() % 1.0))

    def on_test_stop(**_: Any) -> None:
        recorder.end = time.time()

    def on_report_to_master(client_id: str, data: dict[str, Any]) -> None:
        data["loadgate"] = recorder.drain()

    def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
        if "loadgate" in data:
            recorder.merge(data["loadgate"])

    def on_quitting(environment: Environment, **_: Any) -> None:
        if path and not is_worker:
            if recorder.end is None:
                recorder.end = time.time()
            write_text_atomic(Path(path), json.dumps(recorder.recording()))

    if not is_worker:
        events.worker_report.add_listener(on_worker_report)
        events.quitting.add_listener(on_quitting)
    else:
        events.report_to_master.add_listener(on_report_to_master)
    # workers record too; a master receives no requests of its own
    events.request.add_listener(on_request)
    events.test_start.add_listener(on_test_start)
    events.test_stop.add_listener(on_test_stop)
