"""The recorder behind the plugin: exact merging, the corrected histogram, arrivals, stages."""

from __future__ import annotations

import random

import numpy as np

from loadgate.histogram import LatencyHistogram
from loadgate.recording import Recorder

T0 = 1_000.0


def _requests(n: int, seed: int) -> list[tuple[str, float, float]]:
    rng = random.Random(seed)
    names = ("GET /markets", "POST /bets", "WS odds")
    return [
        (rng.choice(names), T0 + rng.uniform(0, 30), rng.lognormvariate(1.5, 0.8)) for _ in range(n)
    ]


def test_merged_workers_equal_one_process_exactly() -> None:
    samples = _requests(20_000, seed=1)
    single = Recorder(warmup_s=5)
    single.start(T0)
    workers = [Recorder(warmup_s=5) for _ in range(3)]
    master = Recorder(warmup_s=5)
    for r in (*workers, master):
        r.start(T0)
    for i, (name, when, ms) in enumerate(samples):
        single.request(name, when, ms, None, None)
        workers[i % 3].request(name, when, ms, None, None)
        if i % 5000 == 0:  # workers report every few seconds, each time a fresh slice
            for w in workers:
                master.merge(w.drain())
    for w in workers:
        master.merge(w.drain())
    assert set(master.window) == set(single.window)
    for name, ep in single.window.items():
        merged = master.window[name].histogram
        assert merged.count == ep.histogram.count > 0
        for q in (0.5, 0.9, 0.95, 0.99, 0.999):
            assert merged.quantile(q) == ep.histogram.quantile(q)
        assert merged.quantile_interval(0.99) == ep.histogram.quantile_interval(0.99)


def test_window_excludes_warmup_and_counts_outcomes() -> None:
    r = Recorder(warmup_s=10, window_s=20)
    r.start(T0)
    r.request("WS odds", T0 + 5, 3.0, None, "gap", outcomes={"conflated": 4})  # warm-up
    r.request("WS odds", T0 + 15, 3.0, None, "gap", outcomes={"conflated": 2})
    r.request("WS odds", T0 + 16, 3.0, None, None)
    r.request("WS odds", T0 + 17, 0.0, RuntimeError("closed"), None)
    r.request("WS odds", T0 + 40, 3.0, None, None)  # after the window
    ep = r.window["WS odds"]
    assert ep.histogram.count == 2
    assert ep.outcomes == {"gap": 1, "conflated": 2}
    assert ep.failures == 1 and ep.failure_kinds == {"closed": 1}


def test_open_model_records_latency_from_the_intended_start() -> None:
    r = Recorder(warmup_s=0, open_model=True)
    r.start(T0)
    # sent 300 ms after it was meant to start (no user was free), answered in 2 ms
    r.request("POST /bets", T0 + 1.3, 2.0, None, None, intended=T0 + 1.0)
    r.request("POST /bets", T0 + 2.0, 2.0, None, None, intended=None)
    ep = r.window["POST /bets"]
    assert ep.corrected is not None
    assert ep.histogram.max_us == 2000
    assert abs(ep.corrected.max_us - 302_000) <= 302  # 3 significant digits
    assert ep.corrected.min_us == 2000


def test_open_model_survives_the_trip_through_a_master() -> None:
    worker = Recorder(warmup_s=0, open_model=True)
    worker.start(T0)
    worker.request("POST /bets", T0 + 1.5, 2.0, None, None, intended=T0 + 1.0)
    worker.arrival(T0 + 1.0, dropped=False)
    worker.arrival(T0 + 1.01, dropped=True)
    master = Recorder(warmup_s=0, open_model=True)
    master.start(T0)
    master.merge(worker.drain())
    recording = master.recording()
    assert recording["arrivals"] == {"intended": 2, "dropped": 1}
    corrected = LatencyHistogram.decode(recording["window"]["POST /bets"]["corrected"])
    assert corrected.quantile(1.0) >= 500_000


def test_stages_are_measured_apart() -> None:
    r = Recorder(warmup_s=0, stages=[(0, 10), (10, 20)])
    r.start(T0)
    r.request("GET /markets", T0 + 5, 1.0, None, None)
    r.request("GET /markets", T0 + 15, 100.0, None, None)
    r.request("GET /markets", T0 + 16, 0.0, RuntimeError("x"), None)
    stages = r.recording()["stages"]
    first = LatencyHistogram.decode(stages[0]["endpoints"]["GET /markets"][0])
    second = LatencyHistogram.decode(stages[1]["endpoints"]["GET /markets"][0])
    assert first.max_us < 2_000 and second.min_us > 90_000
    assert stages[1]["endpoints"]["GET /markets"][1] == 1


def test_a_stall_at_the_windows_end_shows_in_the_corrected_p99() -> None:
    """100 arrivals/s over a 10 s window; the generator stalls for the last 0.8 s, and the 80
    arrivals meant for it are sent after the window, each answered in 1 ms. Placed by their
    intended start they are in the window, and corrected they are as late as they were."""
    r = Recorder(warmup_s=0, window_s=10, open_model=True)
    r.start(T0)
    stall_end = T0 + 10.0
    for k in range(1000):
        intended = T0 + k / 100
        began = intended if intended < T0 + 9.2 else stall_end + (k - 920) * 1e-4
        r.arrival(intended)
        r.request("GET /markets", began, 1.0, None, None, intended=intended)
    ep = r.window["GET /markets"]
    assert ep.histogram.count == 1000  # the late ones too
    assert ep.corrected is not None
    ideal = np.array(
        [max(0.0, stall_end + (k - 920) * 1e-4 - (T0 + k / 100)) for k in range(920, 1000)]
    )
    # ideal P99 over all 1000: the 990th value, i.e. among the late ones
    late = np.sort(np.concatenate([np.zeros(920), ideal])) * 1e6 + 1000
    expected = late[int(np.ceil(0.99 * 1000)) - 1]
    assert abs(ep.corrected.quantile(0.99) - expected) <= expected * 1e-3
    assert ep.corrected.quantile(0.99) > 700_000  # ~0.7 s, not the 1 ms the requests took
    assert r.arrivals == {"intended": 1000, "dropped": 0}


def test_every_request_of_an_arrival_carries_its_lateness() -> None:
    """A bet retried after its odds changed: the retry (and the re-read before it) carry the
    arrival's 500 ms lateness, not their own start minus the intended one."""
    r = Recorder(warmup_s=0, open_model=True)
    r.start(T0)
    intended, began = T0 + 1.0, T0 + 1.5
    r.request("POST /bets", began, 2.0, None, "odds_changed", intended=intended, late_s=0.5)
    r.request("GET /markets/[id]", began + 0.002, 1.0, None, None, intended=intended, late_s=0.5)
    r.request("POST /bets", began + 0.003, 2.0, None, None, intended=intended, late_s=0.5)
    bets = r.window["POST /bets"].corrected
    assert bets is not None and bets.count == 2
    assert abs(bets.min_us - 502_000) <= 502 and abs(bets.max_us - 502_000) <= 502
    r.journey(intended, began, began + 0.005)
    journey = r.window["JOURNEY arrival"]
    assert journey.corrected is not None
    assert abs(journey.corrected.max_us - 505_000) <= 505  # intended start to last response
    assert abs(journey.histogram.max_us - 5_000) <= 5  # first request to last response


def test_a_dropped_arrival_counts_as_the_time_it_waited() -> None:
    r = Recorder(warmup_s=0, window_s=10, open_model=True)
    r.start(T0)
    r.arrival(T0 + 2.0)
    r.dropped(T0 + 2.0, T0 + 3.0)  # given up after a second without a free user
    journey = r.window["JOURNEY arrival"]
    assert journey.failures == 1 and journey.failure_kinds == {"dropped": 1}
    assert journey.corrected is not None
    assert abs(journey.corrected.max_us - 1_000_000) <= 1_000
    assert r.arrivals == {"intended": 1, "dropped": 1}
    # and in the second it was dropped
    assert r.open_seconds[int(T0 + 3.0)]["JOURNEY arrival"][1] == [1]
