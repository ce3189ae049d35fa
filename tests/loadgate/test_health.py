"""Generator health: the probe's bookkeeping (pure), and the probe itself in a real gevent hub."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from loadgate.health import (
    MAX_FILL,
    ProcessHealth,
    SleepTicker,
    delay_met,
    parse_schedstat,
    parse_steal,
    watch,
)
from loadgate.histogram import LatencyHistogram
from loadgate.recording import Recorder

from ..conftest import python

REPO = Path(__file__).resolve().parents[2]


def test_schedstat_gives_time_on_cpu_and_time_waiting() -> None:
    assert parse_schedstat("81234567 4567890 1234\n") == (81234567, 4567890, 1234)
    with pytest.raises(ValueError, match="schedstat"):
        parse_schedstat("12 34\n")
    with pytest.raises(ValueError):
        parse_schedstat("a b c")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ScriptedTicker:
    """Grid points passed per wake, as a stalled hub would see them."""

    def __init__(self, clock: FakeClock, wakes: list[float], period: float = 0.01) -> None:
        self.clock, self.wakes, self.period = clock, list(wakes), period
        self.first = clock.now + period
        self.seen = 0
        self.closed = False

    def wait(self) -> int:
        self.clock.now = self.wakes.pop(0)
        passed = int((self.clock.now - self.first) // self.period) + 1 - self.seen
        self.seen += passed
        return passed

    def close(self) -> None:
        self.closed = True


def test_a_stall_is_recorded_at_every_grid_point_it_swallowed() -> None:
    clock = FakeClock()
    # on time at 1000.01, then the hub blocks until 1000.2205: grid points 1000.02 .. 1000.22
    tick = ScriptedTicker(clock, [1000.0101, 1000.2205])
    health = ProcessHealth("h:1", "local")
    watch(
        health,
        tick,
        lambda: not tick.wakes,
        clock=clock,
        cpu=lambda: 0.0,
        sched=lambda: (0, 0),
        steal=lambda: None,
    )
    samples = sorted(v for values in health.lag.values() for v in values)
    assert tick.closed
    assert len(samples) == 22
    assert samples[0] == 100  # the on-time wake: 0.1 ms late
    # 21 points swallowed by the stall, each as late as a probe then would have been
    assert samples[1:] == [500 + 10_000 * k for k in range(21)]


def test_the_lag_is_time_weighted_whatever_the_stall_length() -> None:
    """One 1-s stall in 10 s: 10% of the time late, so P95 and P99 see it and P90 does not."""
    health = ProcessHealth("h:1", "local")
    for k in range(900):  # 9 s on time (0.2 ms late)
        health.lag_at(100 + k * 0.01, 100 + k * 0.01 + 0.0002)
    stall_end = 109.0 + 1.0
    for k in range(100):  # then grid points 109.00 .. 109.99, all woken at 110.0
        health.lag_at(109.0 + k * 0.01, stall_end)
    lag = health.window_lag(100.0, 110.0)
    assert lag.count == 1000
    assert lag.quantile(0.5) == lag.quantile(0.9) == 200
    assert 450_000 < lag.quantile(0.95) < 550_000  # halfway through the stall: half a second
    assert lag.max_us >= 999_000


def test_sleep_ticker_counts_the_grid_points_a_late_wake_passed() -> None:
    clock = FakeClock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds + (0.0501 if len(slept) == 2 else 0.0001)  # second wake is late

    tick = SleepTicker(0.01, sleep, clock)
    assert tick.wait() == 1
    assert tick.wait() == 6  # 50 ms late: five more grid points passed
    assert tick.wait() == 1


def test_cpu_readings_are_spread_over_the_seconds_they_cover() -> None:
    health = ProcessHealth("h:1", "local")
    health.cpu_between(100.5, 101.5, 0.4, 0.2, 100, 0.1)  # half in second 100, half in 101
    health.cpu_between(101.5, 102.0, 0.25, None)
    series = health.seconds_summary(100.0)
    assert series["t"] == [0, 1]
    assert series["cpu_percent"] == [40.0, 45.0]  # 0.2 s in 0.5 s; (0.2 + 0.25) s in 1 s
    assert series["cpu_wait_percent"] == [20.0, 10.0]
    assert series["wake_wait_ms"] == [2.0, 2.0]  # 100 ms waited over 50 wake-ups in each
    assert series["steal_percent"] == [10.0, 5.0]  # 50 ms stolen in 0.5 s; 50 ms in 1 s
    # a worker's readings survive the trip to its master, older 5-field ones too
    master = ProcessHealth("h:1", "local")
    master.load(
        {
            "cpu": [[100.5, 101.5, 0.4, 0.2, 100]],
            **{k: v for k, v in health.dump().items() if k != "cpu"},
        }
    )
    master.load({"cpu": [list(c) for c in health.cpu[1:]]})
    assert master.seconds_summary(100.0)["steal_percent"] == [None, None]


def test_steal_time_is_read_per_cpu_of_the_process() -> None:
    tick = os.sysconf("SC_CLK_TCK")
    text = "cpu  1 2 3 4 5 6 7 90 0 0\ncpu0 1 2 3 4 5 6 7 20 0 0\ncpu1 1 2 3 4 5 6 7 70 0 0\n"
    assert parse_steal(text, [1]) == pytest.approx(70 / tick)
    assert parse_steal(text, [0, 1]) == pytest.approx(45 / tick)  # the mean per CPU
    assert parse_steal(text, [5]) is None
    assert parse_steal("cpu0 1 2 3\n", [0]) is None  # an old kernel without the column


def test_the_delay_an_endpoint_met_weights_each_second_by_its_requests() -> None:
    """Quiet seconds with few bets, a late second with many: most bets met the late hub."""
    health = ProcessHealth("h:1", "local")
    for s, late_us in ((100, 100), (101, 100), (102, 30_000)):
        for k in range(100):
            health.lag_at(s + k * 0.01, s + k * 0.01 + late_us / 1e6)
    health.add_requests(100, {"POST /bets": 10, "GET /markets": 90})
    health.add_requests(101, {"POST /bets": 10, "GET /markets": 90})
    health.add_requests(102, {"POST /bets": 80, "GET /markets": 10})
    met = delay_met([health], 100.0, 103.0)
    assert met["POST /bets"].count == 100 * 100
    assert met["POST /bets"].quantile(0.5) == pytest.approx(30_000, rel=0.001)
    assert met["GET /markets"].quantile(0.5) == 100
    assert met["GET /markets"].quantile(0.99) == pytest.approx(30_000, rel=0.001)
    # the window keeps only the seconds mostly inside it
    assert delay_met([health], 100.0, 102.2)["POST /bets"].count == 20 * 100


def _worker(ident: str, rng: np.random.Generator) -> Recorder:
    r = Recorder(warmup_s=0.0, window_s=10.0)
    r.start(100.0)
    own = r.watch_self(ident, "worker")
    for k in range(1000):
        t = 100 + k * 0.01
        own.lag_at(t, t + float(rng.uniform(0, 0.004)))
    own.cpu_between(100.0, 110.0, 3.0, 0.5, 1000)
    for _ in range(500):
        r.request("GET /markets", float(rng.uniform(100, 110)), 2.0, None, None)
    return r


def test_workers_ship_their_health_and_the_master_keeps_each_apart() -> None:
    rng = np.random.default_rng(7)
    workers = [_worker(f"w{i}:1", rng) for i in range(2)]
    master = Recorder(warmup_s=0.0, window_s=10.0)
    master.start(100.0)
    master.watch_self("m:1", "master")
    expected: dict[str, LatencyHistogram] = {}
    for w in workers:
        assert w.own is not None
        own_copy = ProcessHealth(w.own.ident, w.own.role, dict(w.own.lag))
        data = w.drain()  # drains the per-second request counts into the health record
        own_copy.requests = {int(s): b for s, b in data["health"]["requests"].items()}
        for key, h in delay_met([own_copy], 100.0, 110.0).items():
            expected.setdefault(key, LatencyHistogram()).merge(h)
        master.merge(json.loads(json.dumps(data)))  # as it crosses the wire
    master.end = 110.0
    rec = master.recording()
    assert sorted((g["role"], g["ident"]) for g in rec["generators"]) == [
        ("master", "m:1"),
        ("worker", "w0:1"),
        ("worker", "w1:1"),
    ]
    for g in rec["generators"]:
        if g["role"] == "worker":
            assert LatencyHistogram.decode(g["lag"]).count == 1000
            assert g["series"]["cpu_percent"][0] == 30.0
            assert g["series"]["cpu_wait_percent"][0] == 5.0
    merged = LatencyHistogram.decode(rec["window"]["GET /markets"]["delay"])
    assert merged.encode() == expected["GET /markets"].encode()


PROBE_IN_GEVENT = textwrap.dedent(
    """
    import json, sys, time
    import gevent, gevent.socket
    from loadgate import health
    own = health.ProcessHealth("h:1", "local")
    stop = []
    tick = health.ticker(health.PERIOD_S, gevent.sleep, gevent.socket.wait_read)
    probe = gevent.spawn(health.watch, own, tick, lambda: bool(stop))
    gevent.sleep(0.3)  # quiet
    time.sleep(0.2)  # the unpatched sleep blocks the whole hub for 200 ms
    gevent.sleep(0.3)
    stop.append(1)
    probe.join()
    lag = [v for values in own.lag.values() for v in values]
    print(json.dumps({"kind": type(tick).__name__, "lag": lag}))
    """
)


@pytest.mark.slow
def test_the_probe_in_a_real_hub_sees_a_greenlet_that_blocks_it() -> None:
    out = python("-c", PROBE_IN_GEVENT, timeout=60, check=True)
    data = json.loads(out.stdout)
    lag = sorted(data["lag"])
    if sys.platform.startswith("linux"):
        assert data["kind"] == "TimerfdTicker"
    assert 75 <= len(lag) <= 85  # 0.8 s on a 10-ms grid
    assert 185_000 <= lag[-1] <= 260_000  # the first grid point the 200-ms block swallowed
    stalled = [v for v in lag if v >= 10_000]
    assert 17 <= len(stalled) <= 24  # about 200 ms of grid points, each as late as it was
    quiet = lag[: len(lag) // 2]
    assert max(quiet) < 5_000  # the quiet half: well under 5 ms late


HOG_ON_MY_CORE = textwrap.dedent(
    """
    import os, subprocess, sys, time
    from loadgate.health import read_sched
    os.sched_setaffinity(0, {0})
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    os.sched_setaffinity(hog.pid, {0})
    try:
        before, t = read_sched(), time.monotonic()
        while time.monotonic() - t < 1.0:
            pass  # runnable all the time: half of it waiting for the hog's share
        after = read_sched()
        print(after[0] - before[0], after[1] - before[1])
    finally:
        hog.kill()
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/schedstat").exists(), reason="Linux schedstat only")
def test_schedstat_shows_the_time_another_process_took_from_our_core() -> None:
    out = python("-c", HOG_ON_MY_CORE, timeout=60, check=True)
    waited_ns, wakes = (int(x) for x in out.stdout.split())
    assert waited_ns / 1e9 > 0.25  # two runnable processes on one core: ~0.5 s of 1 s waiting
    assert wakes > 0 and waited_ns / wakes > 500_000  # a time slice's wait each time: > 0.5 ms


def test_a_stall_longer_than_the_fill_limit_resumes_from_now() -> None:
    clock = FakeClock()
    tick = ScriptedTicker(clock, [1000.0 + (MAX_FILL + 50) * 0.01])
    health = ProcessHealth("h:1", "local")
    watch(
        health,
        tick,
        lambda: not tick.wakes,
        clock=clock,
        cpu=lambda: 0.0,
        sched=lambda: None,
        steal=lambda: None,
    )
    assert sum(len(v) for v in health.lag.values()) == MAX_FILL
