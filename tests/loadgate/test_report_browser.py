"""The HTML report opened in a real headless browser: it renders, runs its script without console
errors, and a screenshot is taken (kept under the test's tmp_path for people to look at)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest
from PIL import Image

from loadgate.baselines import Baseline
from loadgate.report import write_reports
from loadgate.results import RunResult
from loadgate.verdict import Verdict

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(autouse=True)
def _browser(part_missing: Callable[[str], NoReturn]) -> None:
    if CHROMIUM is None:
        part_missing("chromium is not installed (apt-get install -y chromium)")


# What Chromium prints on stderr for a page's uncaught exceptions and console errors
CONSOLE_ERROR = re.compile(r"Uncaught|:ERROR:CONSOLE|CONSOLE\(\d+\)\].*(error|Error)")


def chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE_ERROR.search(line)]


def test_console_errors_are_detected(tmp_path: Path) -> None:
    """The scan below is not vacuous: a page that throws is caught."""
    page = tmp_path / "broken.html"
    page.write_text("<!doctype html><title>x</title><script>undefinedFunction();</script>")
    run = chromium(tmp_path, page, "--dump-dom")
    assert console_errors(run.stderr), run.stderr[-2000:]


def test_report_renders_in_chromium(
    tmp_path: Path, result: RunResult, verdict: Verdict, baseline: Baseline
) -> None:
    paths = write_reports(tmp_path / "out", result, verdict, baseline)
    shot = tmp_path / "report.png"
    run = chromium(tmp_path, paths["html"], f"--screenshot={shot}", "--window-size=1280,2400")
    assert run.returncode == 0, run.stderr[-2000:]
    assert console_errors(run.stderr) == []
    with Image.open(shot) as image:
        assert image.size == (1280, 2400)
        rgb = image.convert("RGB")
        # the FAIL banner is at the top, in the report's red
        pixel = rgb.getpixel((8, 8))
        assert isinstance(pixel, tuple)
        red, green, blue = pixel[:3]
        assert red > 150 and green < 80 and blue < 80
        # and the page below it is not blank: many distinct colours (text, tables, badges)
        colours = rgb.crop((0, 300, 1280, 2400)).getcolors(1 << 22) or []
        assert len(colours) > 50


def test_script_enhances_the_table(
    tmp_path: Path, result: RunResult, verdict: Verdict, baseline: Baseline
) -> None:
    paths = write_reports(tmp_path / "out", result, verdict, baseline)
    run = chromium(tmp_path, paths["html"], "--dump-dom")
    assert run.returncode == 0, run.stderr[-2000:]
    assert console_errors(run.stderr) == []
    dom = run.stdout
    assert dom.count('<button type="button" class="sort">') == 10
    assert dom.count("<svg") == 9
