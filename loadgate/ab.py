"""Paired A/B: ``loadgate ab --base REV [--head REV]`` re-measures the base revision's SUT in the
same job as the head's, in pairs of runs, one value per run and gated metric, and a
sequential paired test on log ratios with looks after 3, 6 and 10 pairs (DESIGN §3, §8).

A pair runs side by side by default: both SUTs and both load generators at once, measuring
over the same seconds, so the shared machine's noise (CPU steal, frequency, neighbours) hits
both sides alike and cancels in the ratio (duet benchmarking). Which side starts first
alternates (ABBA). ``side_by_side=False`` runs the two sides one after the other instead.

For example::

    outcome = run_ab(AbRequest(base_rev="main", head_rev=None, target=t, profile=p, ...))
    outcome.verdict.status  # 'pass'
"""

from __future__ import annotations

import contextlib
import dataclasses
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
from loadgate.attribution import generator_checks, judged_quantiles
from loadgate.budgets import Budget
from loadgate.checks import Check, CheckStatus, quantile_metric
from loadgate.config import Profile, Target
from loadgate.durations import format_ms
from loadgate.errors import InfraError, InvalidRunError, UsageError
from loadgate.files import write_json_atomic
from loadgate.policy import GatePolicy
from loadgate.results import RunResult, write_result
from loadgate.runner import RunRequest, run_side_by_side
from loadgate.verdict import Verdict, status_of

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
    # the generators' own delay met at each metric's quantile, per run (see delay_value)
    base_delay: dict[Metric, list[float]] = field(default_factory=dict)
    head_delay: dict[Metric, list[float]] = field(default_factory=dict)


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
    delays: dict[str, dict[Metric, list[float]]] = {"base": {}, "head": {}}
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
                metrics = judged_quantiles(result, request.budgets, request.policy.quantiles)
            for metric in metrics:
                values[side].setdefault(metric, []).append(metric_value(result, metric))
                delays[side].setdefault(metric, []).append(delay_value(result, metric))
            if side == "head":
                last_head = result
            unfit = [
                c
                for c in generator_checks(result, request.budgets, request.policy.quantiles)
                if c.status == "invalid"
            ]
            runs.append(
                {
                    "pair": pair + 1, "side": side, "run_id": result.run_id,
                    "rev": trees[side][1], "generator_kept_up": not unfit,
                    "generator_note": unfit[0].message if unfit else None,
                }
            )  # fmt: skip
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
    trust = generator_trust(metrics, values, delays, looks, runs, request)
    verdict = _verdict(metrics, looks, trees, noise, request, trust)
    return AbOutcome(
        verdict, metrics, values["base"], values["head"], looks, last_head, runs, noise,
        delays["base"], delays["head"],
    )  # fmt: skip


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
                sut_root=trees[side][0],
                command=request.command,
            )
            for out, (_, side) in zip(outs, step, strict=True)
        ]
    )
    results = []
    for i, (outcome, out, (pair, side)) in enumerate(zip(outcomes, outs, step, strict=True)):
        ab = {
            "side": side, "pair": pair + 1, "rev": trees[side][1],
            "side_by_side": request.side_by_side,
        }  # fmt: skip
        result = dataclasses.replace(
            outcome.result, environment={**outcome.result.environment, "ab": ab}
        )
        write_result(out / "result.json", result)
        n = done + i + 1
        outcome.raise_for_status(f"A/B run {n} ({side})")
        if result.status != "complete":
            raise InvalidRunError(f"A/B run {n} ({side}) is incomplete: {'; '.join(result.notes)}")
        results.append(result)
    return results


def metric_value(result: RunResult, metric: Metric) -> float:
    """The run-level value of one gated metric: the endpoint's quantile in ms."""
    name, q = metric
    ep = result.endpoints.get(name)
    if ep is None or ep.histogram.count == 0:
        raise InvalidRunError(
            f"{result.run_id}: no {name} requests; cannot compare {quantile_metric(q)}"
        )
    return max(ep.gated.quantile(q) / 1000, 0.001)  # corrected in the open model


def delay_value(result: RunResult, metric: Metric) -> float:
    """The load generator's own delay met by the endpoint's requests at the metric's quantile
    (ms; 0 where the run measured none): the part of :func:`metric_value` that could be the
    generator's."""
    name, q = metric
    ep = result.endpoints.get(name)
    if ep is None or ep.delay is None or ep.delay.count == 0:
        return 0.0
    return ep.delay.quantile(q) / 1000


def generator_trust(
    metrics: list[Metric],
    values: dict[str, dict[Metric, list[float]]],
    delays: dict[str, dict[Metric, list[float]]],
    looks: dict[Metric, stats.PairedLook],
    runs: list[dict[str, Any]],
    request: AbRequest,
) -> list[Check]:
    """Does any decision rest on the load generators' own delays?

    A paired A/B judges ratios, not absolute values: a delay both sides met alike cancels in
    the pairs (it only dilutes the ratio toward 1), and one that came and went is noise the
    paired test sees through. What would make the verdict untrue is a decision that changes
    when each run's generator delay at the metric's quantile is taken out of its value. Each
    metric is tested again on those values (the same looks and levels): a regression that
    disappears could be the generators'; a regression that appears was hidden by them.
    The first is invalid, unless without the delay the change is as large or larger and only
    less certain (the delay diluted it; a warning, the regression stands); so is the second
    unless the gate fails on another regression anyway (then a warning). Runs whose own
    generator could not be trusted alone are a warning: the absolute values include that
    delay, the comparison holds."""
    checks: list[Check] = []
    gate_fails = any(look.decision == "regression" for look in looks.values())
    for metric in metrics:
        look = looks.get(metric)
        if look is None:
            continue
        base = _without_delay(values["base"][metric], delays["base"][metric])
        head = _without_delay(values["head"][metric], delays["head"][metric])
        bare = stats.paired_sequential_test(
            base[: look.pairs], head[: look.pairs],
            looks=request.looks, alpha=request.policy.alpha,
            min_effect=request.policy.effect_for(metric[0]), n_metrics=len(metrics),
        )  # fmt: skip
        was, now = look.decision == "regression", bare.decision == "regression"
        if was == now:
            continue
        label = f"{metric[0]} {quantile_metric(metric[1])}"
        # the delay only diluted it: without it the change is as large or larger, and only
        # less certain (each run's own delay taken out adds that delay's spread)
        diluted = was and bare.ratio >= look.ratio
        # a regression only the delay hid changes the gate when nothing else fails it
        status: CheckStatus = "invalid" if (was and not diluted) or not gate_fails else "warn"
        if diluted:
            what = "the regression is not the load generators' own delay"
            advice = "The delay made the change look smaller than it is; the regression stands."
        else:
            what = (
                "the regression could be the load generators' own delay"
                if was
                else "the load generators' own delay could hide a regression"
            )
            advice = (
                "Run the A/B with fewer users or on a quieter machine."
                if status == "invalid"
                else "The gate fails on the regressions found either way."
            )
        checks.append(
            Check(
                "validity",
                f"{label} A/B: generators",
                status,
                f"{label}: {what}: with each run's generator delay at that quantile taken out, "
                f"head/base = {bare.ratio:.3f} (p = {bare.p_value:.2g}): {bare.decision}, "
                f"against {look.ratio:.3f} (p = {look.p_value:.2g}) as measured. {advice}",
                endpoint=metric[0],
                metric=quantile_metric(metric[1]),
                quantile=metric[1],
                ratio=bare.ratio,
                outcome=bare.decision,
            )
        )
    late = [r for r in runs if not r.get("generator_kept_up", True)]
    if not any(c.status == "invalid" for c in checks) and late:
        first = late[0]
        checks.append(
            Check(
                "validity",
                "A/B generators",
                "warn",
                f"In {len(late)} of {len(runs)} runs the load generator's own delay was "
                f"material (run {first['run_id']}, {first['side']}: {first['generator_note']}) "
                "Every decision stands with each run's generator delay taken out, so the "
                "comparison holds; the absolute values include that delay, and a delay both "
                "sides met alike makes a change look smaller than it is.",
            )
        )
    return checks


def _without_delay(values: list[float], delays: list[float]) -> list[float]:
    return [max(v - d, 0.001) for v, d in zip(values, delays, strict=True)]


def _verdict(
    metrics: list[Metric],
    looks: dict[Metric, stats.PairedLook],
    trees: dict[str, tuple[Path, str]],
    noise: dict[Metric, float | None],
    request: AbRequest,
    trust: list[Check] | None = None,
) -> Verdict:
    checks: list[Check] = []
    base_rev = trees["base"][1]
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
        metric = quantile_metric(q)
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
                "paired",
                f"{name} {metric} A/B",
                status,
                msg,
                endpoint=name,
                metric=metric,
                quantile=q,
                ratio=look.ratio,
                threshold=1 + request.policy.effect_for(name),
                interval=(look.ratio_low, look.ratio_upper90),
                outcome=decision,
                interval_label="90% bounds",
                against=f"the base revision {base_rev}",
            )
        )
    checks += trust or []
    how = "side by side" if request.side_by_side else "one after the other"
    return Verdict.of(
        checks,
        way="paired",
        baseline=f"paired A/B ({how}): base {base_rev}, head {trees['head'][1]}",
        pairs=max((lk.pairs for lk in looks.values()), default=0),
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
                    "base_generator_delay_ms": outcome.base_delay.get((name, q), []),
                    "head_generator_delay_ms": outcome.head_delay.get((name, q), []),
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


def render_terminal(outcome: AbOutcome) -> str:
    """What the terminal shows of an A/B: the verdict and the table of :func:`describe`."""
    lines = ["", f"{outcome.verdict.status.upper()}: {outcome.verdict.headline}"]
    return "\n".join([*lines, *describe(outcome)]) + "\n"


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
        label = f"{metric[0]} {quantile_metric(metric[1])}"
        lines.append(
            f"{label:<28} {format_ms(base[len(base) // 2]):>14} "
            f"{format_ms(head[len(head) // 2]):>14} {ratio:>7} {spread:>10}  {decision}"
        )
    return lines
