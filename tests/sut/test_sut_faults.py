"""Fault spec parsing and the effect of each HTTP fault knob."""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

import sut
from sut import Settings
from sut.faults import FaultSpecError, parse_faults, route_key, split_env

if TYPE_CHECKING:
    from starlette.testclient import TestClient


def test_parse_every_kind() -> None:
    faults = parse_faults(
        [
            "latency:POST /bets=40ms",
            "latency:GET /markets/[id]=20%",
            "errors:GET /wallet=5%",
            "naive_dashboard",
            "n_plus_one_markets",
            "global_wallet_lock",
            "slow_consumer=15ms",
            "slow_fanout=2ms",
            "stall=5s/300ms",
        ]
    )
    bets = faults.latency_for("POST", "/bets")
    assert bets is not None and bets.fixed_ms == 40.0
    detail = faults.latency_for("GET", "/markets/{id}")
    assert detail is not None and detail.percent == 20.0
    assert faults.error_rate_for("GET", "/wallet") == 5.0
    assert faults.naive_dashboard and faults.n_plus_one_markets and faults.global_wallet_lock
    assert (faults.slow_consumer_ms, faults.slow_fanout_ms) == (15.0, 2.0)
    assert faults.stall is not None and faults.stall.pause_s == pytest.approx(0.3)


def test_route_templates_match_in_both_styles() -> None:
    assert route_key("/markets/[id]") == route_key("/markets/{id}") == route_key("/markets/{x}/")


def test_env_splitting() -> None:
    assert split_env(" naive_dashboard ; ;latency:GET /markets=5ms") == [
        "naive_dashboard",
        "latency:GET /markets=5ms",
    ]


@pytest.mark.parametrize(
    "spec",
    [
        "latency:POST /bets",
        "latency:POST /bets=40",
        "latency:FETCH /bets=4ms",
        "latency:POST bets=4ms",
        "errors:GET /wallet=5ms",
        "errors:GET /wallet=150%",
        "slow_consumer=fast",
        "stall=1s/2000ms",
        "stall=abc",
        "explode",
    ],
)
def test_invalid_specs_name_the_spec(spec: str) -> None:
    with pytest.raises(FaultSpecError, match="invalid fault spec"):
        parse_faults([spec])


def test_unknown_route_is_rejected_by_the_app_factory(settings: Settings) -> None:
    with pytest.raises(FaultSpecError, match="GET /nowhere"):
        sut.create_app(replace(settings, faults=parse_faults(["latency:GET /nowhere=5ms"])))


@pytest.mark.parametrize(
    "argv",
    [
        ["--fault", "latency:POST /bets=fast"],
        ["--fault", "latency:GET /nowhere=5ms"],
        ["--markets", "0"],
        ["--bogus-flag"],
    ],
)
def test_main_exits_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert sut.main(["--port", "0", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sut: error:")
    assert "\n" not in err


def test_invalid_env_spec_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUT_FAULTS", "naive_dashboard;latency:GET /markets=x")
    assert sut.main(["--port", "0"]) == 2
    assert "latency:GET /markets=x" in capsys.readouterr().err


def _median_latency(client: TestClient, path: str, headers: dict[str, str], n: int = 7) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        assert client.get(path, headers=headers).status_code == 200
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


@pytest.mark.parametrize("route", ["/markets/[id]", "/markets/{id}"])
def test_fixed_latency_fault_adds_its_delay(
    settings: Settings, running: Any, login: Any, route: str
) -> None:
    with running(settings) as client:
        headers = login(client, "bettor1")
        base = _median_latency(client, "/markets/1", headers)
    slow = replace(settings, faults=parse_faults([f"latency:GET {route}=60ms"]))
    with running(slow) as client:
        headers = login(client, "bettor1")
        faulty = _median_latency(client, "/markets/1", headers)
        other = _median_latency(client, "/wallet", headers)
    assert faulty - base >= 0.060 - 0.010
    assert other < 0.050  # only the named route is slowed


def test_proportional_latency_fault_scales_handler_time(
    settings: Settings, running: Any, login: Any
) -> None:
    # n_plus_one makes the handler measurably slow, so 300% of it is well above noise.
    # Both apps run at once and are measured alternately, the fastest of 7 each: on
    # PostgreSQL the server shares the 2 cores (autovacuum wakes after seeding), so
    # back-to-back medians of two apps measured minutes apart are too noisy to compare.
    base_settings = replace(settings, faults=parse_faults(["n_plus_one_markets"]))
    slow = replace(
        settings,
        faults=parse_faults(["n_plus_one_markets", "latency:GET /markets=300%"]),
        key_prefix=None,  # its own event stream (a fresh prefix, removed at exit)
    )
    with running(base_settings) as base_client, running(slow) as slow_client:
        base_headers = login(base_client, "bettor1")
        slow_headers = login(slow_client, "bettor1")
        base, faulty = [], []
        for _ in range(7):
            base.append(_server_ms(base_client, "/markets?limit=200", base_headers))
            faulty.append(_server_ms(slow_client, "/markets?limit=200", slow_headers))
    # the server's own time (Server-Timing), not the client's: the in-process client adds
    # milliseconds of its own that would dilute the 4x (handler + 300%) on a busy machine
    assert min(faulty) > min(base) * 3.0, (base, faulty)


def _server_ms(client: TestClient, path: str, headers: dict[str, str]) -> float:
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    match = re.fullmatch(r"app;dur=([0-9.]+)", response.headers["server-timing"])
    assert match is not None, response.headers["server-timing"]
    return float(match.group(1))


def test_error_fault_fails_its_share_with_503(settings: Settings, running: Any, login: Any) -> None:
    faulty = replace(settings, faults=parse_faults(["errors:GET /wallet=50%"]))
    with running(faulty) as client:
        headers = login(client, "bettor1")
        codes = [client.get("/wallet", headers=headers).status_code for _ in range(200)]
        assert client.get("/markets/1", headers=headers).status_code == 200
        metrics = client.get("/metrics").text
    failed = codes.count(503)
    assert set(codes) == {200, 503}
    assert 60 <= failed <= 140
    assert f"sut_injected_errors_total {float(failed)}" in metrics


def test_error_fault_body_is_json(settings: Settings, running: Any, login: Any) -> None:
    faulty = replace(settings, faults=parse_faults(["errors:GET /wallet=100%"]))
    with running(faulty) as client:
        response = client.get("/wallet", headers=login(client, "bettor1"))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "injected_fault"


def test_stall_fault_holds_requests_in_the_window(settings: Settings, running: Any) -> None:
    faulty = replace(settings, faults=parse_faults(["stall=0.5s/200ms"]))
    with running(faulty) as client:
        worst = 0.0
        deadline = time.monotonic() + 1.2
        while time.monotonic() < deadline:
            start = time.perf_counter()
            client.get("/healthz")
            worst = max(worst, time.perf_counter() - start)
    assert worst >= 0.1


def test_n_plus_one_returns_the_same_page(settings: Settings, running: Any, login: Any) -> None:
    with running(settings) as client:
        headers = login(client, "bettor1")
        normal = client.get("/markets?limit=30&sport=cricket", headers=headers).json()
    faulty = replace(settings, faults=parse_faults(["n_plus_one_markets"]))
    with running(faulty) as client:
        headers = login(client, "bettor1")
        slow = client.get("/markets?limit=30&sport=cricket", headers=headers).json()
    assert slow == normal
