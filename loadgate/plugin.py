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

import gc
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gevent
import gevent.queue
import gevent.socket
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadgate import health
from loadgate.config import is_loopback
from loadgate.files import write_text_atomic
from loadgate.recording import Recorder, server_time_ms

# a second is closed (reduced to quantiles, histogram dropped) this long after it ends; on a
# master, worker reports arrive every few seconds, so keep seconds open longer
CLOSE_AFTER_S = {"local": 2, "master": 10}
GC_YOUNG_THRESHOLD = 50_000
REFUSED = "loadgate_refused"  # worker -> master: this worker will not load where it was sent


@dataclass
class Arrival:
    """The open-model arrival a user is serving: its intended start, when its first request
    began and its last response ended (epoch seconds)."""

    intended: float
    began: float | None = None
    ended: float | None = None


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
            else:
                gevent.sleep(0)  # catching up: let the users (and everything else) run too
            # a waiting user takes it at once; otherwise it waits. With the backlog full, the
            # oldest waiting arrival is given up: it counts as the time it waited
            if self.queue.qsize() >= self.backlog:
                self.recorder.dropped(self.queue.get_nowait(), time.time())
            self.queue.put_nowait(intended)
            self.recorder.arrival(intended)
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
    add(
        "--loadgate-allow-remote",
        action="store_true",
        env_var="LOADGATE_ALLOW_REMOTE",
        help="on a worker: send load to the non-loopback host a master names (default: refuse)",
    )


def parse_stages(text: str) -> list[tuple[float, float]]:
    """``'10-30,40-60'`` -> ``[(10.0, 30.0), (40.0, 60.0)]``."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        begin, _, end = part.partition("-")
        out.append((float(begin), float(end)))
    return out


def off_loopback(environment: Environment) -> str | None:
    """The first URL this process was told to load (the host, the odds stream) that is not on
    a loopback address, if any; a URL whose host cannot be read counts as off loopback."""
    for url in (environment.host, _option(environment, "ws_url", "")):
        if url and not is_loopback(urlsplit(url).hostname or ""):
            return str(url)
    return None


def _option(environment: Environment, name: str, default: Any) -> Any:
    options = environment.parsed_options
    value = getattr(options, name, default) if options else default
    return default if value is None else value


def _on_init(environment: Environment, **_kw: Any) -> None:
    # gevent's timers count from the loop's cached clock, last read before Locust's start-up
    # work (imports, parsing, this plugin): --run-time, set next, would end the run early by
    # that long (0.3 s alone, over 3 s with four processes starting at once)
    gevent.get_hub().loop.update_now()
    _Wiring(environment).connect()


class _Wiring:
    """The recorder, the pacer and their listeners for one Locust environment."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.path = _option(environment, "loadgate_record", "")
        self.progress = _option(environment, "loadgate_progress", "")
        self.recorder = Recorder(0.0)
        self.pacer = Pacer(self.recorder)
        self.intended_of: dict[Any, Arrival] = {}  # user greenlet -> the arrival it serves
        self.runner = environment.runner
        self.is_worker = isinstance(self.runner, WorkerRunner)
        self.is_master = isinstance(self.runner, MasterRunner)
        self.probing = False
        # this process's own say, read now: a master's spawn message overwrites the options
        self.allow_remote = bool(_option(environment, "loadgate_allow_remote", False))
        self.samples_prefix = str(_option(environment, "loadgate_samples", ""))

    def connect(self) -> None:
        if not self.is_worker:
            events.worker_report.add_listener(self.on_worker_report)
            events.quitting.add_listener(self.on_quitting)
        else:
            events.report_to_master.add_listener(self.on_report_to_master)
        if isinstance(self.runner, MasterRunner):
            self.runner.register_message(REFUSED, self.on_refused)
        # workers record too; a master receives no requests of its own
        events.request.add_listener(self.on_request)
        events.test_start.add_listener(self.on_test_start)
        events.test_stop.add_listener(self.on_test_stop)
        events.spawning_complete.add_listener(self.on_spawned)

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        exception: Any = None,
        context: Any = None,
        start_time: float | None = None,
        response: Any = None,
        generator_delay_ms: float | None = None,
        **_: Any,
    ) -> None:
        began = start_time if start_time is not None else time.time() - response_time / 1000
        headers = getattr(response, "headers", None) if response is not None else None
        # `is not None`: a geventhttpclient Headers' truth value counts every header line
        timing = headers.get("server-timing") if headers is not None else None
        if isinstance(timing, list):  # the header sent more than once
            timing = ",".join(timing)
        server_ms = server_time_ms(timing)
        outcome = outcomes = None
        if context:
            outcome = context.get("outcome")
            outcomes = context.get("outcomes")
        recorder = self.recorder
        arrival = self.intended_of.get(gevent.getcurrent()) if recorder.open_model else None
        intended = late = None
        if arrival is not None:
            # every request of an arrival carries the lateness of the arrival's first
            intended = arrival.intended
            if arrival.began is None:
                arrival.began = began
            late = arrival.began - intended
            arrival.ended = max(arrival.ended or 0.0, began + response_time / 1000)
        recorder.request(
            f"{request_type} {name}",
            began,
            response_time,
            exception,
            outcome,
            intended,
            outcomes,
            server_ms,
            generator_delay_ms,
            late,
        )

    def wait_for_arrival(self) -> float:
        """Replaces ``wait_time`` of users with ``arrivals = True`` in the open model: closes the
        journey of the user's last arrival and takes the next."""
        me = gevent.getcurrent()
        done = self.intended_of.pop(me, None)
        if done is not None and done.began is not None and done.ended is not None:
            self.recorder.journey(done.intended, done.began, done.ended)
        self.intended_of[me] = Arrival(self.pacer.take())
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
        prefix = self.samples_prefix
        if prefix and not self.is_master and self.recorder.sink is None:
            out = Path(f"{prefix}.{os.getpid()}.tsv").open("a", encoding="utf-8")  # noqa: SIM115
            self.recorder.sink = lambda key, us: print(key, us, sep="\t", file=out, flush=True)

    def start_probe(self) -> None:
        """Watch this process's own hub lag and CPU wait (see :mod:`loadgate.health`)."""
        if self.probing:
            return
        role = "worker" if self.is_worker else "master" if self.is_master else "local"
        own = self.recorder.watch_self(f"{socket.gethostname()}:{os.getpid()}", role)
        self.probing = True
        tick = health.ticker(health.PERIOD_S, gevent.sleep, gevent.socket.wait_read)
        gevent.spawn(health.watch, own, tick, lambda: not self.probing)
        gevent.spawn(self.freeze_while_spawning)

    def on_test_start(self, **_: Any) -> None:
        if self.is_worker and self.refuse_remote():
            return
        # Thousands of users thinking hold ~5 collector-tracked objects each (gevent's timer,
        # waiter, bound method...) for their whole pause; at the default threshold (700 new
        # objects) a young-generation collection walked ~15,000 of them, a 5-10 ms stall of the
        # hub, every second or so. Few objects here die in cycles, so collect far less often.
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        self.start_probe()
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
                write_text_atomic(
                    Path(self.progress), json.dumps(recorder.live(now)), durable=False
                )
            gevent.sleep(1.0 - (time.time() % 1.0))

    def on_spawned(self, **_: Any) -> None:
        """Users live as long as the run: once they are up, move everything out of the cyclic
        collector's reach (``gc.freeze``, constant time). Otherwise every full collection walks
        all of their objects, ~0.2 s with 3,000 users: a stall of the hub, added to every
        response in flight, every ten seconds or so."""
        gc.freeze()

    def freeze_while_spawning(self) -> None:
        """While users are being added (a ramp, a goal rush) the cyclic collector is off and
        everything is frozen once a second: the new users' objects would otherwise be walked
        by collection after collection, each one a stall of tens of milliseconds in a goal
        rush. It is back on as soon as the user count stops growing; what was frozen with the
        users (a few seconds' worth of cyclic garbage, if any) stays a one-off."""
        runner = self.runner
        last = runner.user_count if runner is not None else 0
        while self.probing and runner is not None:
            gevent.sleep(1.0)
            count = runner.user_count
            if count > last:
                gc.disable()
                gc.freeze()
            elif not gc.isenabled():
                gc.freeze()
                gc.enable()
            last = count
        gc.enable()

    def on_test_stop(self, **_: Any) -> None:
        self.probing = False
        self.pacer.stopped = True
        self.recorder.end = time.time()

    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        data["loadgate"] = self.recorder.drain()

    def refuse_remote(self) -> bool:
        """On a worker: refuse a test whose master sends it off loopback, unless this worker
        allows it; it then starts no user, tells its master why and quits with exit code 2."""
        url = None if self.allow_remote else off_loopback(self.environment)
        runner = self.runner
        if url is None or runner is None:
            return False
        reason = (
            f"refused to send load to {url}: not a loopback address; start the worker with "
            "--allow-remote (loadgate worker) or --loadgate-allow-remote (locust)"
        )
        logging.getLogger(__name__).error("loadgate: this worker %s", reason)
        ident = f"{socket.gethostname()}:{os.getpid()}"
        runner.send_message(REFUSED, {"worker": ident, "reason": reason})
        self.environment.process_exit_code = 2  # the project's "usage or configuration error"
        # quit from a greenlet of its own (this one is the runner's, which quit() kills); it
        # runs before the spawning greenlet Locust starts next, and cancels it unstarted
        gevent.spawn(runner.quit)
        return True

    def on_refused(self, environment: Environment, msg: Any, **_: Any) -> None:
        """On the master: a worker refused (see :meth:`refuse_remote`), so the plan cannot be
        delivered; the result says why, and the test stops."""
        note = f"worker {msg.data['worker']} {msg.data['reason']}"
        logging.getLogger(__name__).error("loadgate: %s", note)
        self.recorder.notes.append(note)
        if environment.runner is not None:
            gevent.spawn(environment.runner.quit)

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        if "loadgate" in data:
            self.recorder.merge(data["loadgate"])

    def on_quitting(self, environment: Environment, **_: Any) -> None:
        if self.path:
            if self.recorder.end is None:
                self.recorder.end = time.time()
            write_text_atomic(Path(self.path), json.dumps(self.recorder.recording()))
