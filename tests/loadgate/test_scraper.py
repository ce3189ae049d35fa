"""The scrapes at the window's edges, timed from the test start the plugin writes; a failed or
unreadable scrape is a note, never an error."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loadgate import scraper as scraper_module
from loadgate.scraper import WindowScraper, fetch_text, read_t0

TEXT = '# TYPE hits_total counter\nhits_total{{route="/bets"}} {}\n'


def progress(tmp_path: Path, t0: float | None) -> Path:
    path = tmp_path / "progress.json"
    path.write_text(json.dumps({"t0": t0, "elapsed_s": 0.0}))
    return path


def test_scrapes_at_both_edges_of_the_window_and_computes_its_deltas(tmp_path: Path) -> None:
    taken: list[float] = []

    def fetch(url: str) -> str:
        taken.append(time.time())
        return TEXT.format(10 + 25 * len(taken))

    t0 = time.time()
    scraper = WindowScraper("http://x/metrics", progress(tmp_path, t0), 0.2, 0.3, fetch=fetch)
    scraper.start()
    time.sleep(0.8)
    scraper.stop()
    metrics, notes = scraper.outcome(t0)
    assert notes == []
    assert metrics is not None and metrics.url == "http://x/metrics"
    assert [c.delta for c in metrics.counters] == [25]
    assert taken[0] - t0 == pytest.approx(0.2, abs=0.1)
    assert taken[1] - t0 == pytest.approx(0.5, abs=0.1)
    assert metrics.start_s == pytest.approx(taken[0] - t0, abs=0.001)
    assert metrics.end_s == pytest.approx(taken[1] - t0, abs=0.001)


def test_waits_for_the_test_start_to_appear(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    scraper = WindowScraper("http://x/metrics", path, 0.0, 0.1, fetch=lambda _u: TEXT.format(1))
    scraper.start()
    time.sleep(0.3)
    assert scraper.texts == {}  # no test start yet: nothing scraped
    progress(tmp_path, time.time())
    time.sleep(0.5)
    scraper.stop()
    assert set(scraper.texts) == {"start", "end"}


def test_a_failed_scrape_is_a_note(tmp_path: Path) -> None:
    def fetch(url: str) -> str:
        raise httpx.ConnectError("connection refused")

    scraper = WindowScraper("http://x/metrics", progress(tmp_path, time.time()), 0.0, 0.1, fetch)
    scraper.start()
    time.sleep(0.3)
    scraper.stop()
    metrics, notes = scraper.outcome(0.0)
    assert metrics is None
    assert notes == [
        "server metrics: the scrape of http://x/metrics at the window's start failed: "
        "connection refused"
    ]


def test_an_unparsable_scrape_is_a_note(tmp_path: Path) -> None:
    scraper = WindowScraper(
        "http://x/metrics", progress(tmp_path, time.time()), 0.0, 0.1, lambda _u: "x{a=1} 2\n"
    )
    scraper.start()
    time.sleep(0.3)
    scraper.stop()
    metrics, notes = scraper.outcome(0.0)
    assert metrics is None and len(notes) == 1
    assert "at the window's start: not Prometheus text exposition" in notes[0]


def test_a_run_that_stops_before_the_window_ends_has_no_server_metrics(tmp_path: Path) -> None:
    scraper = WindowScraper(
        "http://x/metrics", progress(tmp_path, time.time()), 0.0, 60.0, lambda _u: TEXT.format(1)
    )
    scraper.start()
    time.sleep(0.2)
    started = time.monotonic()
    scraper.stop()
    assert time.monotonic() - started < 0.5  # stopping does not wait for the window's end
    metrics, notes = scraper.outcome(0.0)
    assert metrics is None
    assert notes == [
        "server metrics: http://x/metrics was not scraped at the window's end "
        "(the run stopped before it)"
    ]


def test_read_t0(tmp_path: Path) -> None:
    assert read_t0(tmp_path / "missing.json") is None
    assert read_t0(progress(tmp_path, None)) is None
    assert read_t0(progress(tmp_path, 1234.5)) == 1234.5
    (tmp_path / "bad.json").write_text("[1, 2")
    assert read_t0(tmp_path / "bad.json") is None


# --- fetching over HTTP -----------------------------------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = {"/metrics": b"up 1\n", "/big": b"x" * 2000}.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_fetch_text_reads_the_exposition_and_refuses_errors_and_huge_bodies(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert fetch_text(f"{server}/metrics") == "up 1\n"
    with pytest.raises(httpx.HTTPStatusError):
        fetch_text(f"{server}/nothing")
    monkeypatch.setattr(scraper_module, "MAX_BYTES", 1000)
    with pytest.raises(ValueError, match="more than 1,000 bytes"):
        fetch_text(f"{server}/big")
