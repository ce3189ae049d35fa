"""The recorder plugin: the ONLY harness module that imports locust (DESIGN §5.3).

Every request's latency goes into an HDR histogram per endpoint (µs, 3 significant digits) —
not Locust's rounded stats — plus per-second histograms for the timeline (see
:mod:`loadgate.recording`). Workers ship their histograms to the master through
``report_to_master``/``worker_report`` and reset; the master (or a local runner) merges them
and writes one recording file when Locust quits. WebSocket messages are recorded the same way:
scenarios fire ``events.request`` with ``request_type="WS"``.

It also drives the open model (``--loadgate-arrival-rate``): arrivals at a fixed rate,
independent of response times (k6's constant-arrival-rate); a user class opts in with
``arrivals = True`` and then waits for an arrival instead of thinking. An arrival that finds no
idle user waits in a backlog of at most one second of arrivals; one that finds the backlog full
is dropped (counted). Each request records its latency from its actual send and, corrected for
coordinated omission, from its arrival's intended start (wrk2): time spent waiting for a free
user, because the users were stuck on slow responses, counts.

Enable it from a locustfile::

    from loadgate import plugin
    plugin.install()

and point it at a file with ``--loadgate-record PATH`` (or ``LOADGATE_RECORD``). Without a
path it records nothing, so the web UI works as usual.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import gevent
import gevent.queue
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadgate.files import write_text_atomic
from loadgate.recording import Recorder

# a second is closed (reduced to quantiles, histogram dropped) this long after it ends; on a
# master, worker reports arrive every few seconds, so keep seconds open longer
CLOSE_AFTER_S = {"local": 2, "master": 10}


class Pacer:
    """Open-model arrivals at ``rate`` per second from ``t_start``, handed to idle users.

    The schedule is fixed in advance (intended start k/rate), so a late generator catches up
    with the original intended times instead of silently sending less."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.queue: gevent.queue.Queue[float] = gevent.queue.Queue()
        self.backlog = 1
        self.stopped = False

    def take(self) -> float:
        """Block until an arrival; returns its intended start (epoch seconds)."""
        return float(self.queue.get())

    def run(self, t_start: float, rate: float) -> None:
        interval, k = 1.0 / rate, 0
        self.backlog = max(1, round(rate))  # one second of arrivals may wait for a user
        while not self.stopped:
            intended = t_start + k * interval
            delay = intended - time.time()
            if delay > 0:
                gevent.sleep(delay)
            # a waiting user takes it at once; otherwise it waits, unless the backlog is full
            dropped = self.queue.qsize() >= self.backlog
            if not dropped:
                self.queue.put_nowait(intended)
            self.recorder.arrival(intended, dropped=dropped)
            k += 1


# --- wiring into Locust -------------------------------------------------------------------------
def install() -> None:
    """Register the recorder on Locust's events; call once from the locustfile."""
    events.init_command_line_parser.add_listener(_add_arguments)
    events.init.add_listener(_on_init)


def _add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("loadgate", "exact latency recording for loadgate")
    add = group.add_argument
    add(
        "--loadgate-record",
        default="",
        env_var="LOADGATE_RECORD",
        help="write loadgate's exact recording (JSON) to this file when Locust quits",
    )
    add(
        "--loadgate-progress",
        default="",
        env_var="LOADGATE_PROGRESS",
        help="rewrite this small JSON file every second with live figures (for progress display)",
    )
    add(
        "--loadgate-warmup",
        type=float,
        default=0.0,
        env_var="LOADGATE_WARMUP",
        help="seconds from the test start excluded from the measurement window",
    )
    add(
        "--loadgate-window",
        type=float,
        default=0.0,
        env_var="LOADGATE_WINDOW",
        help="length of the measurement window in seconds (0: until the test stops)",
    )
    add(
        "--loadgate-arrival-rate",
        type=float,
        default=0.0,
        env_var="LOADGATE_ARRIVAL_RATE",
        help="open model: requests started per second across all generator processes "
        "(0: closed model, users think between requests)",
    )
    add(
        "--loadgate-samples",
        default="",
        env_var="LOADGATE_SAMPLES",
        help="audit aid: each process also writes every measured sample to PREFIX.<pid>.tsv "
        "(slow; for proving the merged histograms exact)",
    )
    add(
        "--loadgate-stages",
        default="",
        env_var="LOADGATE_STAGES",
        help="load stages to measure apart, as start-end second offsets: '10-30,40-60'",
    )


def parse_stages(text: str) -> list[tuple[float, float]]:
    """``'10-30,40-60'`` -> ``[(10.0, 30.0), (40.0, 60.0)]``."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        begin, _, end = part.partition("-")
        out.append((float(begin), float(end)))
    return out


def _option(environment: Environment, name: str, default: Any) -> Any:
    options = environment.parsed_options
    value = getattr(options, name, default) if options else default
    return default if value is None else value


def _on_init(environment: Environment, **_kw: Any) -> None:
    _Wiring(environment).connect()


class _Wiring:
    """The recorder, the pacer and their listeners for one Locust environment."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.path = _option(environment, "loadgate_record", "")
        self.progress = _option(environment, "loadgate_progress", "")
        self.recorder = Recorder(0.0)
        self.pacer = Pacer(self.recorder)
        self.intended_of: dict[Any, float] = {}  # user greenlet -> its arrival's intended start
        self.runner = environment.runner
        self.is_worker = isinstance(self.runner, WorkerRunner)
        self.is_master = isinstance(self.runner, MasterRunner)

    def connect(self) -> None:
        if not self.is_worker:
            events.worker_report.add_listener(self.on_worker_report)
            events.quitting.add_listener(self.on_quitting)
        else:
            events.report_to_master.add_listener(self.on_report_to_master)
        # workers record too; a master receives no requests of its own
        events.request.add_listener(self.on_request)
        events.test_start.add_listener(self.on_test_start)
        events.test_stop.add_listener(self.on_test_stop)

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        exception: Any = None,
        context: Any = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        began = start_time if start_time is not None else time.time() - response_time / 1000
        outcome = outcomes = None
        if context:
            outcome = context.get("outcome")
            outcomes = context.get("outcomes")
        recorder = self.recorder
        intended = self.intended_of.pop(gevent.getcurrent(), None) if recorder.open_model else None
        recorder.request(
            f"{request_type} {name}", began, response_time, exception, outcome, intended, outcomes
        )

    def wait_for_arrival(self) -> float:
        """Replaces ``wait_time`` of users with ``arrivals = True`` in the open model."""
        self.intended_of[gevent.getcurrent()] = self.pacer.take()
        return 0.0

    def configure(self) -> float:
        """Read the options at test start (a worker has the master's only once told to spawn);
        returns this process's arrival rate (0: closed model)."""
        env, recorder = self.environment, self.recorder
        window = float(_option(env, "loadgate_window", 0.0))
        recorder.warmup_s = float(_option(env, "loadgate_warmup", 0.0))
        recorder.window_s = window if window > 0 else float("inf")
        recorder.stages = parse_stages(_option(env, "loadgate_stages", ""))
        rate = float(_option(env, "loadgate_arrival_rate", 0.0))
        recorder.open_model = rate > 0
        if rate <= 0 or self.is_master:
            return 0.0
        for cls in env.user_classes:
            if getattr(cls, "arrivals", False):
                # a bound method stays bound as a class attribute: user.wait_time() calls it
                setattr(cls, "wait_time", self.wait_for_arrival)  # noqa: B010 - typed as unbound
        share = max(1, int(_option(env, "expect_workers", 1))) if self.is_worker else 1
        return rate / share

    def open_samples(self) -> None:
        prefix = _option(self.environment, "loadgate_samples", "")
        if prefix and not self.is_master and self.recorder.sink is None:
            out = Path(f"{prefix}.{os.getpid()}.tsv").open("a", encoding="utf-8")  # noqa: SIM115
            self.recorder.sink = lambda key, us: print(key, us, sep="\t", file=out, flush=True)

    def on_test_start(self, **_: Any) -> None:
        self.open_samples()
        rate = self.configure()
        now = time.time()
        self.recorder.start(now)
        if rate > 0:
            self.pacer.stopped = False
            gevent.spawn(self.pacer.run, now, rate)
        if not self.is_worker:
            gevent.spawn(self.tick)

    def tick(self) -> None:
        """One sample per second of the active users, and closing of finished seconds."""
        recorder, runner = self.recorder, self.runner
        close_after = CLOSE_AFTER_S["master" if self.is_master else "local"]
        while runner is not None and recorder.end is None:
            now = time.time()
            recorder.users[int(now)] = runner.user_count
            recorder.close_seconds(now - close_after)
            if self.progress:
                write_text_atomic(Path(self.progress), json.dumps(recorder.live(now)))
            gevent.sleep(1.0 - (time.time() % 1.0))

    def on_test_stop(self, **_: Any) -> None:
        self.pacer.stopped = True
        self.recorder.end = time.time()

    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        data["loadgate"] = self.recorder.drain()

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        if "loadgate" in data:
            self.recorder.merge(data["loadgate"])

    def on_quitting(self, environment: Environment, **_: Any) -> None:
        if self.path:
            if self.recorder.end is None:
                self.recorder.end = time.time()
            write_text_atomic(Path(self.path), json.dumps(self.recorder.recording()))
