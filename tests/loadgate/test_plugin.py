"""The plugin's open model, in a process of its own (importing Locust monkey-patches the
process): every request an arrival makes carries the arrival's lateness, and the arrival's
journey closes when its user takes the next one."""

from __future__ import annotations

from pathlib import Path

from ..conftest import python

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import gevent
from locust.env import Environment

from loadgate import plugin
from loadgate.recording import JOURNEY

T0 = 1_000.0
wiring = plugin._Wiring(Environment())
recorder = wiring.recorder
recorder.open_model = True
recorder.start(T0)
me = gevent.getcurrent()
wiring.intended_of[me] = plugin.Arrival(T0 + 1.0)
# the user was free only 500 ms after the arrival's intended start
wiring.on_request("POST", "/bets", 2.0, start_time=T0 + 1.5, context={"outcome": "x"})
wiring.on_request("GET", "/markets/[id]", 1.0, start_time=T0 + 1.6)
wiring.on_request("POST", "/bets", 2.0, start_time=T0 + 1.7)  # the retry, 200 ms later
bets = recorder.window["POST /bets"].corrected
wiring.pacer.queue.put(T0 + 2.0)
taken = wiring.wait_for_arrival()  # takes the next arrival, closing this journey
journey = recorder.window[JOURNEY].corrected
print(bets.count, bets.min_us, bets.max_us, taken, journey.count, journey.max_us,
      wiring.intended_of[me].intended)
"""


def test_a_retried_bet_carries_its_arrivals_lateness() -> None:
    proc = python("-c", SCRIPT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    count, low, high, taken, journeys, journey_us, next_intended = proc.stdout.split()
    assert int(count) == 2
    # each bet carries the arrival's 500 ms, the retry not its own 700 ms (3 digits: ±0.1%)
    assert abs(int(low) - 502_000) <= 502 and abs(int(high) - 502_000) <= 502
    assert float(taken) == 0.0
    assert int(journeys) == 1
    assert abs(int(journey_us) - 702_000) <= 702  # intended start to last response
    assert float(next_intended) == 1_002.0
