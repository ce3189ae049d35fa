"""Scrape a target's Prometheus endpoint at the two edges of the measurement window, on a
thread of its own so the run's supervision never waits on it (the maths is in
:mod:`loadgate.scrape`).

The window is the Locust plugin's: it starts ``warmup_s`` after the test start the plugin
writes into the live progress file (``t0``) and lasts ``duration_s``. A scrape that fails or
cannot be parsed becomes a note; it never fails the run.

For example::

    scraper = WindowScraper("http://127.0.0.1:8000/metrics", workdir / "progress.json", 10, 50)
    scraper.start()   # ... the run ...
    scraper.stop()
    metrics, notes = scraper.outcome(t0=recording["t0"])
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from loadgate.scrape import parse_exposition, window_metrics
from loadgate.server_metrics import ServerMetrics

TIMEOUT_S = 2.0  # a scrape slower than this says the server is in trouble: note it, move on
MAX_BYTES = 8_000_000
POLL_S = 0.1  # how often the progress file is read until the test start appears in it

Fetch = Callable[[str], str]


def fetch_text(url: str, timeout_s: float = TIMEOUT_S) -> str:
    """The exposition at ``url``; httpx.HTTPError or ValueError (too large, not text)."""
    with httpx.stream("GET", url, timeout=timeout_s) as resp:
        resp.raise_for_status()
        body = bytearray()
        for chunk in resp.iter_bytes():
            body += chunk
            if len(body) > MAX_BYTES:
                raise ValueError(f"more than {MAX_BYTES:,} bytes")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text: {exc}") from None


def read_t0(progress_file: Path) -> float | None:
    """The test start (epoch seconds) the plugin wrote into its live progress file, if yet."""
    try:
        t0 = json.loads(progress_file.read_text()).get("t0")
    except (OSError, ValueError, AttributeError):
        return None
    return float(t0) if isinstance(t0, int | float) and not isinstance(t0, bool) else None


class WindowScraper:
    """Takes the scrape at the window's start and the one at its end; keeps the raw texts."""

    def __init__(
        self,
        url: str,
        progress_file: Path,
        warmup_s: float,
        duration_s: float,
        fetch: Fetch = fetch_text,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url, self.progress_file = url, progress_file
        self.warmup_s, self.duration_s = warmup_s, duration_s
        self.fetch, self.clock = fetch, clock
        self.texts: dict[str, tuple[float, str]] = {}  # edge -> (epoch seconds, exposition)
        self.notes: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loadgate-scraper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop waiting; a scrape under way may finish (bounded by its timeout)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(TIMEOUT_S + 1.0)

    def _run(self) -> None:
        t0 = read_t0(self.progress_file)
        while t0 is None:
            if self._stop.wait(POLL_S):
                return
            t0 = read_t0(self.progress_file)
        start = t0 + self.warmup_s
        for edge, at in (("start", start), ("end", start + self.duration_s)):
            if self._stop.wait(max(0.0, at - self.clock())):
                return
            taken = self.clock()
            try:
                self.texts[edge] = (taken, self.fetch(self.url))
            except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
                self.notes.append(
                    f"server metrics: the scrape of {self.url} at the window's {edge} failed: {exc}"
                )
                return

    def outcome(self, t0: float) -> tuple[ServerMetrics | None, list[str]]:
        """The window's server metrics (None when a scrape is missing or unreadable) and the
        notes for the result; ``t0`` is the recording's test start, so offsets match it."""
        notes = list(self.notes)
        if "start" not in self.texts or "end" not in self.texts:
            if not notes:
                missing = "start" if "start" not in self.texts else "end"
                notes.append(
                    f"server metrics: {self.url} was not scraped at the window's {missing} "
                    "(the run stopped before it)"
                )
            return None, notes
        parsed = []
        for edge in ("start", "end"):
            taken, text = self.texts[edge]
            try:
                parsed.append((taken, parse_exposition(text)))
            except ValueError as exc:
                notes.append(
                    f"server metrics: the scrape of {self.url} at the window's {edge}: {exc}"
                )
                return None, notes
        (t_start, first), (t_end, last) = parsed
        metrics = window_metrics(
            first,
            last,
            url=self.url,
            start_s=round(t_start - t0, 3),
            end_s=round(t_end - t0, 3),
        )
        return metrics, notes
