"""Paired A/B: ``loadgate ab --base REV [--head REV]`` re-measures the base revision's SUT in the
same job as the head's, in pairs of runs, one value per run and gated metric, and a
sequential paired test on log ratios with looks after 3, 6 and 10 pairs (DESIGN §3, §8).

A pair runs side by side by default: both SUTs and both load generators at once, measuring
over the same seconds, so the shared machine's noise (CPU steal, frequency, neighbours) hits
both sides alike and cancels in the ratio (duet benchmarking). Which side starts first
alternates (ABBA). ``side_by_side=False`` runs the two sides one after the other instead.

>>> outcome = run_ab(AbRequest(base_rev="main", head_rev=None, target=t, profile=p, ...))
>>> outcome.verdict.status
'pass'
"""

from __future__ import annotations

import contextlib
import math
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgate import stats
from loadgate.budgets import Budget
from loadgate.config import Profile, Target
from loadgate.durations import format_ms
from loadgate.errors import InfraError, InvalidRunError, UsageError
from loadgate.files import write_json_atomic
from loadgate.results import RunResult, write_result
from loadgate.runner import RunRequest, run_side_by_side
from loadgate.verdict import Check, GatePolicy, Verdict, gated_metrics, status_of

LOOKS = (3, 6, 10)
Progress = Callable[[str], None]
Metric = tuple[str, float]


@dataclass(frozen=True)
class AbRequest:
    """What to compare and how: revisions, target, profile, budgets and the gate policy."""

    base_rev: str
    head_rev: str | None  # None: the working tree as it is
    target: Target
    profile: Profile
    budgets: tuple[Budget, ...]
    out_dir: Path
    policy: GatePolicy = field(default_factory=GatePolicy)
    repo: Path = field(default_factory=Path.cwd)
    looks: tuple[int, ...] = LOOKS
    command: tuple[str, ...] = ()
    # both sides of a pair at once (duet), or one after the other (ABBA in time)
    side_by_side: bool = True


@dataclass
class AbOutcome:
    """The verdict and every run-level value behind it."""

    verdict: Verdict
    metrics: list[Metric]
    base: dict[Metric, list[float]]
    head: dict[Metric, list[float]]
    looks: dict[Metric, stats.PairedLook]
    last_head: RunResult | None
    runs: list[dict[str, Any]] = field(default_factory=list)
    noise: dict[Metric, float | None] = field(default_factory=dict)  # see pair_noise


def git_root(path: Path) -> Path:
    out = _git(["rev-parse", "--show-toplevel"], path)
    return Path(out)


def _git(args: list[str], cwd: Path) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as exc:
        raise InfraError(f"git is needed for A/B runs: {exc}") from None
    if done.returncode != 0:
        raise UsageError(f"git {' '.join(args)}: {done.stderr.strip() or 'failed'}")
    return done.stdout.strip()


@contextlib.contextmanager
def checkout(repo: Path, rev: str | None) -> Iterator[tuple[Path, str]]:
    """A temporary worktree of ``rev`` (or the working tree itself when None) and its commit."""
    if rev is None:
        commit = _git(["rev-parse", "HEAD"], repo)
        dirty = bool(_git(["status", "--porcelain", "--untracked-files=no"], repo))
        yield repo, commit[:12] + ("+dirty" if dirty else "")
        return
    commit = _git(["rev-parse", "--verify", f"{rev}^{{commit}}"], repo)
    where = Path(tempfile.mkdtemp(prefix="loadgate-ab-")) / "tree"
    _git(["worktree", "add", "--detach", str(where), commit], repo)
    try:
        yield where, commit[:12]
    finally:
        with contextlib.suppress(UsageError, InfraError):
            _git(["worktree", "remove", "--force", str(where)], repo)
        shutil.rmtree(where.parent, ignore_errors=True)


def order(pairs: int, side_by_side: bool = False) -> list[list[tuple[int, str]]]:
    """The plan: steps of (pair, side) run together, base first in even pairs, head first in
    odd ones (ABBA). One after the other, every step is one run; side by side, one pair.

    >>> order(2)
    [[(0, 'base')], [(0, 'head')], [(1, 'head')], [(1, 'base')]]
    >>> order(2, side_by_side=True)
    [[(0, 'base'), (0, 'head')], [(1, 'head'), (1, 'base')]]
    """
    steps: list[list[tuple[int, str]]] = []
    for i in range(pairs):
        sides = ("base", "head") if i % 2 == 0 else ("head", "base")
        pair = [(i, side) for side in sides]
        steps += [pair] if side_by_side else [[run] for run in pair]
    return steps


def run_ab(request: AbRequest, progress: Progress = lambda _line: None) -> AbOutcome:
    """Interleave base and head runs until every gated metric is decided or the last look."""
    if request.target.start is None:
        raise UsageError(f"{request.target.path}: A/B runs need a target the harness starts")
    if request.out_dir.exists() and any(request.out_dir.iterdir()):
        raise UsageError(f"{request.out_dir}: not empty; choose another --out")
    repo = git_root(request.repo)
    request.out_dir.mkdir(parents=True, exist_ok=True)
    with checkout(repo, request.base_rev) as base, checkout(repo, request.head_rev) as head:
        progress(f"A/B: base {request.base_rev} ({base[1]}) vs head ({head[1]})")
        return _interleave(request, {"base": base, "head": head}, progress)


def _interleave(
    request: AbRequest, trees: dict[str, tuple[Path, str]], progress: Progress
) -> AbOutcome:
    values: dict[str, dict[Metric, list[float]]] = {"base": {}, "head": {}}
    metrics: list[Metric] = []
    runs: list[dict[str, Any]] = []
    looks: dict[Metric, stats.PairedLook] = {}
    last_head: RunResult | None = None
    n = 0
    for step in order(max(request.looks), request.side_by_side):
        what = " and ".join(f"{side} {pair + 1}" for pair, side in step)
        progress(f"A/B runs {n + 1}-{n + len(step)} ({what}) ..." if len(step) > 1 else
                 f"A/B run {n + 1} ({what}) ...")  # fmt: skip
        results = _run_step(request, step, trees, n)
        for (pair, side), result in zip(step, results, strict=True):
            n += 1
            if not metrics:
                metrics = gated_metrics(result, request.budgets, request.policy.quantiles)
            for metric in metrics:
                values[side].setdefault(metric, []).append(metric_value(result, metric))
            if side == "head":
                last_head = result
            runs.append(
                {"pair": pair + 1, "side": side, "run_id": result.run_id, "rev": trees[side][1]}
            )
        done_pairs = min(len(v) for side_values in values.values() for v in side_values.values())
        if done_pairs in request.looks and n % 2 == 0:
            looks = look_at(values["base"], values["head"], metrics, request.looks, request.policy)
            undecided = [m for m, look in looks.items() if look.decision == "continue"]
            failed = [m for m, look in looks.items() if look.decision == "regression"]
            progress(
                f"A/B look after {done_pairs} pairs: "
                + (f"{len(undecided)} metric(s) undecided" if undecided else "all decided")
                + (f", {len(failed)} regression(s): stopping" if failed else "")
            )
            if settled(looks):
                break
    noise = {m: pair_noise(values["base"][m], values["head"][m]) for m in metrics}
    verdict = _verdict(metrics, looks, trees, noise, request)
    return AbOutcome(
        verdict, metrics, values["base"], values["head"], looks, last_head, runs, noise
    )


def settled(looks: dict[Metric, stats.PairedLook]) -> bool:
    """Whether the A/B can stop at this look: every metric decided, or a regression found
    (the gate fails whatever the rest would show; alpha was spent for this look already)."""
    decisions = {look.decision for look in looks.values()}
    return "continue" not in decisions or "regression" in decisions


def look_at(
    base: dict[Metric, list[float]],
    head: dict[Metric, list[float]],
    metrics: list[Metric],
    looks: tuple[int, ...],
    policy: GatePolicy,
) -> dict[Metric, stats.PairedLook]:
    """The sequential paired test of every gated metric at the last look reached
    (Bonferroni across the metrics, the level spent across looks)."""
    return {
        m: stats.paired_sequential_test(
            base[m],
            head[m],
            looks=looks,
            alpha=policy.alpha,
            min_effect=policy.effect_for(m[0]),
            n_metrics=len(metrics),
        )
        for m in metrics
    }


def _run_step(
    request: AbRequest, step: list[tuple[int, str]], trees: dict[str, tuple[Path, str]], done: int
) -> list[RunResult]:
    """Run one step of the plan (one run, or a pair side by side) and check every run."""
    outs = [request.out_dir / f"{done + i + 1:02d}-{side}" for i, (_, side) in enumerate(step)]
    outcomes = run_side_by_side(
        [
            RunRequest(
                target=request.target,
                profile=request.profile,
                out_dir=out,
                budgets=request.budgets,
                sut_root=trees[side][0],
                command=request.command,
            )
            for out, (_, side) in zip(outs, step, strict=True)
        ]
    )
    results = []
    for i, (outcome, out, (pair, side)) in enumerate(zip(outcomes, outs, step, strict=True)):
        result = outcome.result
        result.environment["ab"] = {
            "side": side, "pair": pair + 1, "rev": trees[side][1],
            "side_by_side": request.side_by_side,
        }  # fmt: skip
        write_result(out / "result.json", result)
        n = done + i + 1
        if outcome.interrupted:
            raise KeyboardInterrupt
        if outcome.infra_error:
            raise InfraError(f"A/B run {n} ({side}): {outcome.infra_error}")
        if result.status != "complete":
            raise InvalidRunError(f"A/B run {n} ({side}) is incomplete: {'; '.join(result.notes)}")
        results.append(result)
    return results


def metric_value(result: RunResult, metric: Metric) -> float:
    """The run-level value of one gated metric: the endpoint's quantile in ms."""
    name, q = metric
    ep = result.endpoints.get(name)
    if ep is None or ep.histogram.count == 0:
        raise InvalidRunError(f"{result.run_id}: no {name} requests; cannot compare p{q * 100:g}")
    return max(ep.histogram.quantile(q) / 1000, 0.001)


def _verdict(
    metrics: list[Metric],
    looks: dict[Metric, stats.PairedLook],
    trees: dict[str, tuple[Path, str]],
    noise: dict[Metric, float | None],
    request: AbRequest,
) -> Verdict:
    checks: list[Check] = []
    for name, q in metrics:
        look = looks[(name, q)]
        undecided = look.decision == "continue"  # stopped early by a regression elsewhere
        decision: str = "inconclusive" if undecided else look.decision
        spread = noise.get((name, q))
        catch = None
        if spread is not None and decision == "inconclusive" and not undecided:
            catch = stats.paired_detectable(
                spread,
                request.looks,
                request.policy.alpha,
                len(metrics),
                request.policy.effect_for(name),
            )
            if catch > request.policy.max_detectable:
                decision = "not gated"
        status = status_of(decision)
        metric = f"p{q * 100:g}"
        msg = (
            f"{name} {metric}: head/base = {look.ratio:.3f} "
            f"(90% bounds {look.ratio_low:.3f}–{look.ratio_upper90:.3f}) over {look.pairs} "
            f"pairs, p = {look.p_value:.2g} (α per look {look.alpha_look:.2g}): {decision}"
            + (f"; pair-to-pair noise {spread:.0%}" if spread is not None else "")
            + (": not decided, the A/B stopped at a regression elsewhere." if undecided
               else f": too noisy here to gate; {max(request.looks)} pairs would catch only "
                    f"a rise above +{catch:.0%} (lengthen the runs to gate it)."
               if decision == "not gated" and catch is not None
               else ": too noisy here to rule out a material change." if decision == "inconclusive"
               else ".")
        )  # fmt: skip
        checks.append(
            Check(
                "regression",
                f"{name} {metric} A/B",
                status,
                msg,
                endpoint=name,
                observed=look.ratio,
                interval=(look.ratio_low, look.ratio_upper90),
                outcome=decision,
            )
        )
    failed = [c for c in checks if c.status == "fail"]
    base_rev, head_rev = trees["base"][1], trees["head"][1]
    if failed:
        first = failed[0]
        headline = (
            f"{first.endpoint} {first.name.split()[-2]} is {first.observed:.2f}× the base "
            f"revision {base_rev} in paired runs"
            + (f" (and {len(failed) - 1} more regressions)" if len(failed) > 1 else "")
            + "."
        )
    else:
        unsure = sum(1 for c in checks if c.outcome == "inconclusive")
        noisy = sum(1 for c in checks if c.outcome == "not gated")
        gated = len(checks) - noisy
        pairs = max((lk.pairs for lk in looks.values()), default=0)
        headline = (
            f"No regression against {base_rev} in {gated} gated metrics (paired A/B)"
            + (f"; {unsure} inconclusive after {pairs} pairs" if unsure else "")
            + (f"; {noisy} too noisy to gate" if noisy else "")
            + "."
        )
    how = "side by side" if request.side_by_side else "one after the other"
    return Verdict(
        status="fail" if failed else "pass",
        headline=headline,
        checks=tuple(checks),
        baseline=f"paired A/B ({how}): base {base_rev}, head {head_rev}",
    )


def write_summary(path: Path, outcome: AbOutcome) -> None:
    """``ab.json``: every run-level value and the final look per metric."""
    write_json_atomic(
        path,
        {
            "schema": "loadgate.ab",
            "schema_version": 1,
            "status": outcome.verdict.status,
            "headline": outcome.verdict.headline,
            "runs": outcome.runs,
            "metrics": [
                {
                    "endpoint": name,
                    "quantile": q,
                    "base_ms": outcome.base.get((name, q), []),
                    "head_ms": outcome.head.get((name, q), []),
                    "decision": outcome.looks[(name, q)].decision if outcome.looks else None,
                    "ratio": outcome.looks[(name, q)].ratio if outcome.looks else None,
                    "pair_noise": outcome.noise.get((name, q)),
                }
                for name, q in outcome.metrics
            ],
        },
    )


def pair_noise(base: list[float], head: list[float]) -> float | None:
    """The spread of ln(head/base) over the pairs (None below two pairs): what the paired test
    has to see through. A +x% change needs to stand well clear of it to be caught.

    >>> round(pair_noise([1.0, 1.0, 1.0], [1.0, 1.1, 0.9]), 3)
    0.1
    """
    if len(base) < 2:
        return None
    d = [math.log(h / b) for b, h in zip(base, head, strict=False)]
    return statistics.stdev(d)


def describe(outcome: AbOutcome) -> list[str]:
    """A short table for the terminal."""
    lines = [
        f"{'metric':<28} {'base (median)':>14} {'head (median)':>14} {'ratio':>7} "
        f"{'pair noise':>10}  decision"
    ]
    for metric in outcome.metrics:
        base, head = sorted(outcome.base[metric]), sorted(outcome.head[metric])
        look = outcome.looks.get(metric)
        decision = look.decision if look else "-"
        ratio = f"{look.ratio:.3f}" if look else "-"
        noise = outcome.noise.get(metric)
        spread = f"{noise:.1%}" if noise is not None else "-"
        label = f"{metric[0]} p{metric[1] * 100:g}"
        lines.append(
            f"{label:<28} {format_ms(base[len(base) // 2]):>14} "
            f"{format_ms(head[len(head) // 2]):>14} {ratio:>7} {spread:>10}  {decision}"
        )
    return lines
