"""Judging a run and writing what it found: the one path `run`, `micro` and `report` take from a
measured (or stored) result to a verdict, its reports and what the terminal shows; `compare`
and `ab` reach their verdicts their own way and report them through :func:`report_verdict`.

For example::

    judging = Judging(budgets, policy, baseline, Path("baselines/local/smoke.json"))
    judged = judge_and_report(result, Path("reports/r1"), judging)
    print(judged.terminal, end=""); raise SystemExit(judged.verdict.exit_code)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from loadgate import baselines, config, report
from loadgate.baselines import Baseline
from loadgate.budgets import Budget, budgets_from_list
from loadgate.errors import ConfigError, DataError, UsageError
from loadgate.policy import GatePolicy
from loadgate.results import BaselineIdentity, Judgement, RunResult, write_result
from loadgate.verdict import Verdict, judge

__all__ = [
    "Judged",
    "Judging",
    "baseline_for",
    "choose_baseline",
    "judge_and_report",
    "judging_again",
    "report_verdict",
]


@dataclass(frozen=True)
class Judging:
    """What to judge a run with: budgets, the gate policy, and the baseline with its file."""

    budgets: tuple[Budget, ...]
    policy: GatePolicy
    baseline: Baseline | None = None
    baseline_path: Path | None = None

    def record(self) -> Judgement:
        """What the result keeps of it, so that judging it again can do the same."""
        identity = None
        if self.baseline is not None and self.baseline_path is not None:
            identity = BaselineIdentity(
                str(self.baseline_path),
                self.baseline.label,
                tuple(r.run_id for r in self.baseline.runs),
            )
        return Judgement(self.policy, self.budgets, identity)


@dataclass(frozen=True)
class Judged:
    """A verdict with what was written of it: the judged result (recording what it was judged
    with; None for a comparison of two stored files), the report files and the terminal text."""

    result: RunResult | None
    verdict: Verdict
    paths: dict[str, Path]
    terminal: str


def judge_and_report(
    result: RunResult, out_dir: Path, judging: Judging, keep: bool = True
) -> Judged:
    """Judge ``result``, write its reports into ``out_dir`` and, with ``keep``, the result
    itself with the judgement it was given (``result.json``)."""
    verdict = judge(result, judging.budgets, judging.baseline, judging.policy)
    if keep:
        result = dataclasses.replace(result, judged_with=judging.record())
        write_result(out_dir / "result.json", result)
    return report_verdict(
        verdict, report.render_terminal(result, verdict), out_dir, result, judging.baseline
    )


def report_verdict(
    verdict: Verdict,
    terminal: str,
    out_dir: Path | None = None,
    result: RunResult | None = None,
    baseline: Baseline | None = None,
) -> Judged:
    """The reports of a verdict, however it was reached (one run judged, two files compared,
    paired A/B runs): written into ``out_dir`` for ``result`` when there is one to show."""
    paths = {}
    if out_dir is not None and result is not None:
        paths = report.write_reports(out_dir, result, verdict, baseline)
    return Judged(result, verdict, paths, terminal)


def choose_baseline(
    target: str, scenario: str, path: Path | None, disabled: bool
) -> tuple[Baseline | None, Path | None]:
    """The baseline to judge with and where it came from (None, None: judge budgets only):
    the file named, else ``baselines/<target>/<scenario>.json`` if it exists."""
    if disabled:
        return None, None
    if path is not None:
        found = baselines.load_baseline(path)
        if found is None:
            raise UsageError(f"{path}: baseline not found")
        return found, path
    default = baselines.baseline_path(target, scenario)
    found = baselines.load_baseline(default)
    return found, default if found is not None else None


def judging_again(result: RunResult, force: bool) -> tuple[GatePolicy, tuple[Budget, ...], str]:
    """The policy and budgets to judge a stored result with: its target's and profile's as they
    are now (a result file never sets its own), or, where this checkout has neither, the ones
    the result records it was judged with; and a sentence saying which."""
    record = result.judged_with
    try:
        target, profile = config.load_target(result.target), config.load_profile(result.scenario)
    except ConfigError:
        if record is not None:
            policy, budgets = record.policy, record.budgets
        else:  # a version 1 result judged before it was kept: its profile has both
            try:
                policy = GatePolicy.from_profile(result.profile)
                budgets = budgets_from_list(result.profile.get("budgets", []), "profile.budgets")
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise DataError(f"corrupt result: profile: {exc}") from None
        said = (
            f"the policy and budgets the result records (no target {result.target!r} or "
            f"profile {result.scenario!r} here)"
        )
        return dataclasses.replace(policy, force_compare=force), budgets, said
    policy = GatePolicy.from_profile(dataclasses.asdict(profile), force)
    said = f"the policy and budgets of target {target.name} and profile {profile.name}"
    if record is not None:
        changed = policy.differences(record.policy)
        if changed:
            said += "; the run was judged with " + ", ".join(changed)
    return policy, config.budgets_for(target, profile), said


def baseline_for(
    result: RunResult, path: Path | None, disabled: bool
) -> tuple[Baseline | None, Path | None, str]:
    """The baseline to judge a stored result with: the one named on the command line, else the
    one it was judged against (the same runs, where they are all still there), else none when
    it was judged without one; with its file and a sentence saying which."""
    record = result.judged_with
    if disabled or path is not None or record is None:
        found, at = choose_baseline(result.target, result.scenario, path, disabled)
        return found, at, f"baseline {at}" if found is not None else "no baseline"
    if record.baseline is None:
        return None, None, "no baseline, as when it was run (--baseline FILE to compare)"
    at, runs = Path(record.baseline.path), record.baseline.runs
    found = baselines.load_baseline(at)
    if found is None:
        raise UsageError(
            f"{at}: the baseline this run was judged against is gone; name one with "
            "--baseline FILE or judge budgets only with --no-baseline"
        )
    kept = [r for r in found.runs if r.run_id in runs]
    if len(kept) == len(runs):
        found.runs = kept
        return found, at, f"the baseline it was judged against ({at}, the same {len(runs)} runs)"
    return (
        found,
        at,
        (
            f"baseline {at} as it is now ({len(kept)} of the {len(runs)} runs it was judged "
            "against remain)"
        ),
    )
