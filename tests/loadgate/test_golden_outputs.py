"""Every output format for stored golden results, byte for byte: the HTML report (each chart by
its digest), the Markdown summary, the JUnit XML and what the terminal shows, for runs judged
with no baseline and against baselines of one, two and four runs, two results or baselines compared,
and a paired A/B verdict.

The results under ``tests/fixtures/golden/`` are real runs of the bundled SUT (smoke, smoke with
a latency fault on POST /bets, the open model, a short capacity ramp); the baselines are
blessed from the clean smoke runs (the four-run one from two more). A change that alters
any output fails here; when the change is intended, rewrite the expected files with
``LOADGATE_UPDATE_GOLDEN=1 pytest tests/loadgate/test_golden_outputs.py`` and review the diff.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from loadgate import config
from loadgate.ab import AbOutcome, AbRequest, _verdict, look_at, pair_noise, render_terminal
from loadgate.cli import cli
from loadgate.report import write_reports
from loadgate.results import read_result

GOLDEN = Path(__file__).parent.parent / "fixtures" / "golden"
EXPECTED = GOLDEN / "expected"
UPDATE = os.environ.get("LOADGATE_UPDATE_GOLDEN") == "1"
_SVG = re.compile(r"<svg\b.*?</svg>", re.S)

# case -> arguments of `loadgate report` after the result file
REPORTS = {
    "clean-no-baseline": ("clean1", ["--no-baseline"]),
    "clean-one-run-baseline": ("clean2", ["--baseline", "baseline-k1.json"]),
    "fault-two-run-baseline": ("fault", ["--baseline", "baseline-k2.json"]),
    "fault-four-run-baseline": ("fault", ["--baseline", "baseline-k4.json"]),
    "open-model": ("open", ["--no-baseline"]),
    "capacity": ("capacity", ["--no-baseline"]),
}
COMPARES = {
    "compare-results": ("clean1.result.json", "fault.result.json"),
    "compare-baseline-result": ("baseline-k4.json", "fault.result.json"),
    "compare-baselines": ("baseline-k2.json", "baseline-other.json"),
}


def _html(text: str) -> str:
    """The report with each inline chart replaced by its digest (charts are checked, not shown)."""
    return _SVG.sub(lambda m: f"<svg sha256={hashlib.sha256(m[0].encode()).hexdigest()}/>", text)


def _check(case: str, outputs: dict[str, str]) -> None:
    where = EXPECTED / case
    if UPDATE:
        where.mkdir(parents=True, exist_ok=True)
        for name, text in outputs.items():
            (where / name).write_text(text, encoding="utf-8")
    for name, text in outputs.items():
        expected = (where / name).read_text(encoding="utf-8")
        assert text == expected, f"{case}/{name} differs from the golden output"


def _rendered(out: Path) -> dict[str, str]:
    return {
        "report.html": _html((out / "report.html").read_text(encoding="utf-8")),
        "summary.md": (out / "summary.md").read_text(encoding="utf-8"),
        "junit.xml": (out / "junit.xml").read_text(encoding="utf-8"),
    }


@pytest.mark.parametrize("case", sorted(REPORTS))
def test_report_outputs_are_unchanged(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, args = REPORTS[case]
    monkeypatch.chdir(GOLDEN)
    invoked = CliRunner().invoke(
        cli, ["report", f"{name}.result.json", *args, "--out", str(tmp_path)]
    )
    assert invoked.exception is None or isinstance(invoked.exception, SystemExit), invoked.output
    _check(
        case,
        {**_rendered(tmp_path), "terminal.txt": f"exit {invoked.exit_code}\n{invoked.stdout}"},
    )


@pytest.mark.parametrize("case", sorted(COMPARES))
def test_compare_output_is_unchanged(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    invoked = CliRunner().invoke(cli, ["compare", *COMPARES[case]])
    assert invoked.exception is None or isinstance(invoked.exception, SystemExit), invoked.output
    _check(case, {"terminal.txt": f"exit {invoked.exit_code}\n{invoked.stdout}"})


def test_ab_outputs_are_unchanged(tmp_path: Path) -> None:
    rng = random.Random(7)
    metrics = [("POST /bets", 0.5), ("POST /bets", 0.95), ("GET /markets", 0.5)]
    rise = {metrics[0]: 1.3, metrics[1]: 1.0, metrics[2]: 1.0}
    base = {m: [rng.lognormvariate(0.5, 0.05) for _ in range(6)] for m in metrics}
    head = {m: [v * rise[m] * rng.lognormvariate(0, 0.03) for v in base[m]] for m in metrics}
    request = AbRequest(
        base_rev="main", head_rev=None, target=config.load_target("local"),
        profile=config.load_profile("smoke"), budgets=(), out_dir=tmp_path, looks=(3, 6),
    )  # fmt: skip
    looks = look_at(base, head, metrics, request.looks, request.policy)
    trees = {"base": (tmp_path, "1111111"), "head": (tmp_path, "2222222")}
    noise = {m: pair_noise(base[m], head[m]) for m in metrics}
    verdict = _verdict(metrics, looks, trees, noise, request)
    last = read_result(GOLDEN / "fault.result.json")
    outcome = AbOutcome(verdict, metrics, base, head, looks, last, noise=noise)
    write_reports(tmp_path, last, verdict, None)
    terminal = render_terminal(outcome)
    _check("ab", {**_rendered(tmp_path), "terminal.txt": f"exit {verdict.exit_code}\n{terminal}"})
