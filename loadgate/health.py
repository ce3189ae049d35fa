"""Generator health: how late each load-generator process ran, and how long it waited for a CPU.

A client-side latency is the server's time plus everything on the way, the generator's own
delay included: a response that arrives while the generator's event hub is busy, or while the
process waits for a core, is read late and the wait is added to it. So every generator process
watches itself (the probe lives in the Locust plugin; this module is its pure bookkeeping):

* **hub lag** — a greenlet wakes on a fixed 10-ms grid and records how late it woke. When the
  hub was blocked past several grid points, each missed point is recorded with its own lateness
  (what HdrHistogram's ``record_corrected_value`` does), so the samples are time-weighted: the
  P99 of the lag is the delay exceeded 1% of the time, however long one stall lasted.
* **CPU** — about once a second, the process's CPU time (all threads) and, on Linux, its main
  thread's run-queue delay (``/proc/self/schedstat``, 2nd field: ns runnable but waiting for a
  CPU), which shows starvation by other processes even when the CPU share looks calm.

Each process keeps raw per-second lag samples and per-second request counts per endpoint; at
the end (on the master, for workers) they give each endpoint the *generator delay its requests
met*: the lag of every second weighted by that endpoint's requests in it.

>>> p = ProcessHealth("host:1", "local")
>>> p.lag_at(100.0, 100.0035)   # woke 3.5 ms late
>>> p.lag[100]
[3500]
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from loadgate.histogram import LatencyHistogram

PERIOD_S = 0.010  # the probe's grid: 100 samples a second
MAX_FILL = 100_000  # missed grid points recorded after one stall (1,000 s at 10 ms)
SCHEDSTAT = Path("/proc/self/schedstat")


def parse_schedstat(text: str) -> tuple[int, int, int]:
    """``/proc/<pid>/schedstat`` -> (ns on a CPU, ns runnable but waiting for one, times it was
    put on a CPU).

    >>> parse_schedstat("1234 5678 90\\n")
    (1234, 5678, 90)
    """
    fields = text.split()
    if len(fields) < 3:
        raise ValueError(f"schedstat: expected 3 numbers, got {text!r}")
    return int(fields[0]), int(fields[1]), int(fields[2])


def read_sched(path: Path = SCHEDSTAT) -> tuple[int, int] | None:
    """The main thread's run-queue delay so far (ns) and how many times it was put on a CPU;
    None where the kernel does not say."""
    try:
        _run, wait, slices = parse_schedstat(path.read_text())
    except (OSError, ValueError):
        return None
    return wait, slices


# (start, end, cpu s, wait s, wake-ups, stolen s): one CPU reading of a process
Reading = tuple[float, float, float, float | None, int | None, float | None]
PROC_STAT = Path("/proc/stat")


def parse_steal(text: str, cpus: Iterable[int]) -> float | None:
    """``/proc/stat`` -> the steal time of ``cpus`` (seconds, mean per CPU): time the
    hypervisor ran something else while these virtual CPUs had work. None if not reported.

    >>> parse_steal("cpu  1 2 3 4 5 6 7 80 0 0\\ncpu0 1 2 3 4 5 6 7 30 0 0\\n"
    ...             "cpu1 1 2 3 4 5 6 7 50 0 0\\n", [0, 1]) * os.sysconf("SC_CLK_TCK")
    40.0
    """
    wanted = {f"cpu{c}" for c in cpus}
    ticks = [
        int(fields[8])
        for line in text.splitlines()
        if (fields := line.split()) and fields[0] in wanted and len(fields) > 8
    ]
    if not ticks:
        return None
    return sum(ticks) / len(ticks) / os.sysconf("SC_CLK_TCK")


def read_steal(path: Path = PROC_STAT) -> float | None:
    """This process's CPUs' steal time so far (see :func:`parse_steal`); None off Linux."""
    try:
        return parse_steal(path.read_text(), os.sched_getaffinity(0))
    except (OSError, AttributeError, ValueError):
        return None


@dataclass
class ProcessHealth:
    """What one generator process saw of itself, per wall-clock second (epoch seconds)."""

    ident: str  # host:pid
    role: str  # local | worker | master
    lag: dict[int, list[int]] = field(default_factory=dict)  # second -> lateness µs samples
    # (start, end, cpu seconds, wait seconds or None, times put on a CPU or None, seconds
    # stolen by the hypervisor from each of its CPUs on average or None): one entry per CPU
    # reading interval
    cpu: list[Reading] = field(default_factory=list)
    # second -> endpoint -> successful requests started in it (weights for the delay)
    requests: dict[int, dict[str, int]] = field(default_factory=dict)

    def lag_at(self, intended: float, woke: float) -> None:
        """The probe meant to wake at ``intended`` and woke at ``woke`` (epoch seconds)."""
        late_us = max(0, round((woke - intended) * 1e6))
        self.lag.setdefault(int(intended), []).append(late_us)

    def cpu_between(
        self,
        start: float,
        end: float,
        cpu_s: float,
        wait_s: float | None,
        wakes: int | None = None,
        steal_s: float | None = None,
    ) -> None:
        if end > start:
            self.cpu.append((start, end, cpu_s, wait_s, wakes, steal_s))

    def add_requests(self, second: int, counts: Mapping[str, int]) -> None:
        bucket = self.requests.setdefault(second, {})
        for key, n in counts.items():
            if n:
                bucket[key] = bucket.get(key, 0) + n

    # --- shipping (worker -> master) ---------------------------------------------------------
    def drain(self) -> dict[str, Any]:
        data = self.dump()
        self.lag, self.cpu, self.requests = {}, [], {}
        return data

    def dump(self) -> dict[str, Any]:
        return {
            "ident": self.ident,
            "role": self.role,
            "lag": {str(s): v for s, v in self.lag.items()},
            "cpu": [list(c) for c in self.cpu],
            "requests": {str(s): dict(b) for s, b in self.requests.items()},
        }

    def load(self, data: Mapping[str, Any]) -> None:
        for s, values in data.get("lag", {}).items():
            self.lag.setdefault(int(s), []).extend(int(v) for v in values)
        for start, end, cpu_s, wait_s, wakes, *rest in data.get("cpu", []):
            steal_s = rest[0] if rest else None
            self.cpu_between(
                float(start),
                float(end),
                float(cpu_s),
                None if wait_s is None else float(wait_s),
                None if wakes is None else int(wakes),
                None if steal_s is None else float(steal_s),
            )
        for s, bucket in data.get("requests", {}).items():
            self.add_requests(int(s), {str(k): int(n) for k, n in bucket.items()})

    # --- summaries ----------------------------------------------------------------------------
    def seconds_summary(self, t0: float) -> dict[str, Any]:
        """Per-second series from ``int(t0)``: lag quantiles (ms) and CPU / CPU-wait (% of a
        core), aligned offsets; None where the probe has nothing for a second."""
        base = int(t0)
        cpu_ms, wait_ms, covered, wakes, steal_ms = _spread(self.cpu)
        seconds = sorted({*self.lag, *cpu_ms})
        offsets = [s - base for s in seconds if s >= base]
        out: dict[str, list[Any]] = {
            "t": offsets,
            "lag_p50_ms": [],
            "lag_p99_ms": [],
            "lag_max_ms": [],
            "cpu_percent": [],
            "cpu_wait_percent": [],
            "wake_wait_ms": [],
            "steal_percent": [],
        }
        for off in offsets:
            s = base + off
            samples = self.lag.get(s)
            if samples:
                arr = np.sort(np.asarray(samples, dtype=np.int64))
                out["lag_p50_ms"].append(_ms(_nearest_rank(arr, 0.5)))
                out["lag_p99_ms"].append(_ms(_nearest_rank(arr, 0.99)))
                out["lag_max_ms"].append(_ms(int(arr[-1])))
            else:
                for key in ("lag_p50_ms", "lag_p99_ms", "lag_max_ms"):
                    out[key].append(None)
            span = covered.get(s, 0.0)
            out["cpu_percent"].append(round(cpu_ms[s] / span / 10, 1) if span else None)
            wait = wait_ms.get(s)
            out["cpu_wait_percent"].append(
                round(wait / span / 10, 1) if span and wait is not None else None
            )
            # a process that is mostly asleep waits little in all, but up to a time slice at
            # each wake-up when another process holds its core: the mean wait per wake-up
            woke = wakes.get(s)
            out["wake_wait_ms"].append(round(wait / woke, 3) if woke and wait is not None else None)
            # a virtual machine's CPUs can be taken by its host: time neither run nor waited
            stolen = steal_ms.get(s)
            out["steal_percent"].append(
                round(stolen / span / 10, 1) if span and stolen is not None else None
            )
        return out

    def window_lag(self, start: float, end: float) -> LatencyHistogram:
        """Every lag sample of the seconds whose middle lies in [start, end)."""
        h = LatencyHistogram()
        for s, samples in self.lag.items():
            if in_window(s, start, end):
                h.record_many(np.asarray(samples, dtype=np.int64), 1)
        return h


def in_window(second: int, start: float, end: float) -> bool:
    """Is the wall-clock second ``second`` (mostly) inside [start, end)?"""
    return start <= second + 0.5 < end


def _nearest_rank(sorted_values: np.ndarray, p: float) -> int:
    return int(sorted_values[max(0, math.ceil(p * len(sorted_values)) - 1)])


def _ms(us: int) -> float:
    return round(us / 1000, 3)


def _spread(
    readings: Iterable[Reading],
) -> tuple[
    dict[int, float], dict[int, float], dict[int, float], dict[int, float], dict[int, float]
]:
    """Spread each CPU reading over the seconds it covers, in proportion to the time in each:
    (cpu ms per second, wait ms per second, seconds of each second covered, wake-ups, ms
    stolen per second)."""
    cpu: dict[int, float] = {}
    wait: dict[int, float] = {}
    covered: dict[int, float] = {}
    wakes: dict[int, float] = {}
    steal: dict[int, float] = {}
    for start, end, cpu_s, wait_s, woke, steal_s in readings:
        length = end - start
        second = int(start)
        while second < end:
            part = min(end, second + 1) - max(start, second)
            if part > 0:
                share = part / length
                cpu[second] = cpu.get(second, 0.0) + cpu_s * 1000 * share
                covered[second] = covered.get(second, 0.0) + part
                if wait_s is not None:
                    wait[second] = wait.get(second, 0.0) + wait_s * 1000 * share
                if woke is not None:
                    wakes[second] = wakes.get(second, 0.0) + woke * share
                if steal_s is not None:
                    steal[second] = steal.get(second, 0.0) + steal_s * 1000 * share
            second += 1
    return cpu, wait, covered, wakes, steal


def delay_met(
    processes: Iterable[ProcessHealth], start: float, end: float
) -> dict[str, LatencyHistogram]:
    """Per endpoint, the generator delay its window requests met: in every second, each of the
    process's lag samples counts once per request of the endpoint the process started then.
    Its q-quantile is the delay that all but a fraction 1-q of those requests stayed under."""
    out: dict[str, LatencyHistogram] = {}
    for proc in processes:
        for second, bucket in proc.requests.items():
            if not in_window(second, start, end):
                continue
            samples = proc.lag.get(second)
            if not samples:
                continue
            values = np.asarray(samples, dtype=np.int64)
            for key, n in bucket.items():
                hist = out.get(key)
                if hist is None:
                    hist = out[key] = LatencyHistogram()
                hist.record_many(values, n)
    return out


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class SleepTicker:
    """A grid of ``period`` kept by sleeping on the event loop's own timer. Portable, but an
    idle loop's timer wakes up to a millisecond late (libev rounds its poll timeout up to whole
    ms), which reads as lag: used only where :class:`TimerfdTicker` is not available."""

    def __init__(
        self,
        period: float,
        sleep: Callable[[float], object],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.period, self.sleep, self.clock = period, sleep, clock
        self.first = clock() + period
        self.seen = 0

    def wait(self) -> int:
        """Block until the next grid point has passed; the number of grid points passed."""
        self.sleep(max(0.0, self.first + self.seen * self.period - self.clock()))
        passed = math.floor((self.clock() - self.first) / self.period) + 1 - self.seen
        passed = max(0, passed)
        self.seen += passed
        return passed

    def close(self) -> None:
        pass


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _timespec(seconds: float) -> _Timespec:
    whole = math.floor(seconds)
    return _Timespec(whole, round((seconds - whole) * 1e9))


class TimerfdTicker:
    """A grid of ``period`` kept by the kernel (Linux ``timerfd``, CLOCK_MONOTONIC): the fd
    turns readable at each grid point and reading it tells how many have passed, so the probe
    wakes through the event loop's I/O poll, exactly like a response arriving, with no timer
    rounding (idle wake-up ~60 µs late here, against ~0.5 ms for a loop timer)."""

    _CLOCK_MONOTONIC = 1
    _TFD_NONBLOCK = os.O_NONBLOCK
    _TFD_CLOEXEC = os.O_CLOEXEC
    _TFD_TIMER_ABSTIME = 1

    def __init__(self, period: float, wait_readable: Callable[[int], object]) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = int(libc.timerfd_create(self._CLOCK_MONOTONIC, self._TFD_NONBLOCK | self._TFD_CLOEXEC))
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self.fd, self.period, self.wait_readable = fd, period, wait_readable
        self.first = time.monotonic() + period
        spec = _Itimerspec(_timespec(period), _timespec(self.first))
        if libc.timerfd_settime(fd, self._TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
            err = ctypes.get_errno()
            os.close(fd)
            raise OSError(err, "timerfd_settime failed")

    def wait(self) -> int:
        while True:
            try:
                return int.from_bytes(os.read(self.fd, 8), sys.byteorder)
            except BlockingIOError:
                self.wait_readable(self.fd)

    def close(self) -> None:
        os.close(self.fd)


Ticker = SleepTicker | TimerfdTicker


def ticker(
    period: float, sleep: Callable[[float], object], wait_readable: Callable[[int], object]
) -> Ticker:
    """The best grid this platform offers: a timerfd on Linux, the loop's timer elsewhere."""
    if sys.platform.startswith("linux"):
        try:
            return TimerfdTicker(period, wait_readable)
        except (OSError, AttributeError):
            pass
    return SleepTicker(period, sleep)


def watch(
    health: ProcessHealth,
    tick: Ticker,
    stopped: Callable[[], bool],
    clock: Callable[[], float] = time.monotonic,
    cpu: Callable[[], float] = _cpu_seconds,
    sched: Callable[[], tuple[int, int] | None] = read_sched,
    steal: Callable[[], float | None] = read_steal,
) -> None:
    """The probe loop, until ``stopped()``: at every grid point of ``tick`` record how late this
    process got round to it (each missed point too), and read the CPU figures about once a
    second. ``clock`` must be the ticker's (monotonic); samples are filed by epoch second."""
    to_epoch = time.time() - clock()
    passed = 0
    last_t, last_cpu, last_sched, last_steal = clock(), cpu(), sched(), steal()
    try:
        while not stopped():
            n = tick.wait()
            now = clock()
            for k in range(passed + max(0, n - MAX_FILL), passed + n):
                health.lag_at(to_epoch + tick.first + k * tick.period, to_epoch + now)
            passed += n
            if now - last_t >= 1.0:
                c, w, st = cpu(), sched(), steal()
                waited = woke = None
                if w is not None and last_sched is not None:
                    waited, woke = (w[0] - last_sched[0]) / 1e9, w[1] - last_sched[1]
                stolen = None if st is None or last_steal is None else max(0.0, st - last_steal)
                health.cpu_between(
                    to_epoch + last_t, to_epoch + now, c - last_cpu, waited, woke, stolen
                )
                last_t, last_cpu, last_sched, last_steal = now, c, w, st
    finally:
        tick.close()
