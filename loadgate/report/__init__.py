"""Report renderers: pure functions of a stored result, its verdict and the baseline.

For example::

    paths = write_reports(Path("reports/r1"), result, verdict, baseline)
    sorted(paths)  # ['html', 'junit', 'markdown']
"""

from __future__ import annotations

from pathlib import Path

from loadgate.baselines import Baseline
from loadgate.files import write_text_atomic
from loadgate.report.html import render_html
from loadgate.report.junit import render_junit
from loadgate.report.markdown import render_markdown
from loadgate.report.terminal import render_comparison, render_terminal
from loadgate.results import RunResult
from loadgate.verdict import Verdict

__all__ = [
    "render_comparison",
    "render_html",
    "render_junit",
    "render_markdown",
    "render_terminal",
    "write_reports",
]

FILES = {"html": "report.html", "markdown": "summary.md", "junit": "junit.xml"}


def write_reports(
    out_dir: Path, result: RunResult, verdict: Verdict, baseline: Baseline | None
) -> dict[str, Path]:
    """Render all three reports and write each atomically into ``out_dir``."""
    texts = {
        "html": render_html(result, verdict, baseline),
        "markdown": render_markdown(result, verdict, baseline),
        "junit": render_junit(result, verdict),
    }
    paths: dict[str, Path] = {}
    for kind, text in texts.items():
        path = out_dir / FILES[kind]
        write_text_atomic(path, text)
        paths[kind] = path
    return paths
