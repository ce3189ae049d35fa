"""``loadgate run | report | baseline | sut`` — thin. The only place that turns errors into exit
codes: 0 pass · 1 gate failed · 2 usage/config · 3 infrastructure · 4 invalid run ·
70 internal error (a bug) · 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from loadgate import ab, baselines, compare, config, judging, micro, report, results, runner
from loadgate.durations import format_ms, parse_duration
from loadgate.errors import DataError, Interrupted, LoadgateError, UsageError
from loadgate.policy import GatePolicy

EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70  # EX_SOFTWARE


def _say(line: str) -> None:
    click.echo(f"loadgate: {line}", err=True)


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def baseline_options(f: Callable[..., None]) -> Callable[..., None]:
    """--baseline FILE, --no-baseline, --force-compare: shared by the commands that judge."""
    f = click.option(
        "--force-compare",
        "force",
        is_flag=True,
        help="let a baseline from another machine fail the gate (default: advisory only)",
    )(f)
    f = click.option("--no-baseline", is_flag=True, help="judge budgets only")(f)
    return click.option(
        "--baseline",
        "baseline_file",
        type=click.Path(path_type=Path),
        default=None,
        help="baseline file [default: baselines/<target>/<scenario>.json if present]",
    )(f)


class _Loadgate(click.Group):
    """The command group; the one place a LoadgateError becomes its exit code and one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Interrupted as exc:
            _say(str(exc))
            raise click.exceptions.Exit(exc.exit_code) from None
        except LoadgateError as exc:
            _say(f"error: {exc}")
            raise click.exceptions.Exit(exc.exit_code) from None


@click.group(cls=_Loadgate, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="loadgate")
def cli() -> None:
    """Load tests of the betting platform, with a verdict that gates merges."""


def distribution_options(fn: Callable[..., None]) -> Callable[..., None]:
    """Scale-out flags of `loadgate run`: local processes, master/worker, the open model."""
    options = [
        click.option("--processes", type=click.IntRange(1, 64), default=None,
                     help="Locust generator processes on this machine [default: the profile's]"),
        click.option("--arrival-rate", type=click.FloatRange(min=0), default=None,
                     help="open model: requests started per second (0: closed model)"),
        click.option("--master", is_flag=True,
                     help="be a Locust master; `loadgate worker --master-host H` elsewhere"),
        click.option("--expect-workers", type=click.IntRange(1), default=1, show_default=True,
                     help="with --master: workers to wait for before starting"),
        click.option("--master-port", type=int, default=5557, show_default=True,
                     help="with --master: port the workers connect to"),
        click.option("--master-bind-host", default="127.0.0.1", show_default=True,
                     help="with --master: the address to listen on for workers (only that one)"),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


def load_options(
    target_help: str, out_help: str
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """--target, --scenario, --out, --users, --duration, --warmup: the commands that run load."""

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        options = [
            click.option("--target", "-t", default="local", show_default=True, help=target_help),
            click.option("--scenario", "-s", default="smoke", show_default=True,
                         help="load profile from scenarios/profiles.toml"),
            click.option("--out", type=click.Path(path_type=Path), default=None, help=out_help),
            click.option("--users", "-u", type=int, default=None,
                         help="override the profile's users"),
            click.option("--duration", callback=_duration, default=None,
                         help="override the measured duration (e.g. 30s, 2m)"),
            click.option("--warmup", callback=_duration, default=None,
                         help="override the warm-up excluded from measurement"),
        ]  # fmt: skip
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


@cli.command()
@load_options(
    target_help="targets/NAME.toml, or a path to a target file",
    out_help="directory for this run's files [default: reports/<run-id>/]",
)
@click.option("--spawn-rate", type=float, default=None, help="override users started per second")
@baseline_options
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="SPEC",
    help="SUT fault knob, e.g. 'latency:POST /bets=40ms' (repeatable; started targets only)",
)
@click.option(
    "--pin/--no-pin",
    default=None,
    help="keep the SUT and Locust on separate cores [default: when we start the SUT]",
)
@distribution_options
def run(
    target: str,
    scenario: str,
    out: Path | None,
    users: int | None,
    spawn_rate: float | None,
    duration: float | None,
    warmup: float | None,
    baseline_file: Path | None,
    no_baseline: bool,
    force: bool,
    faults: tuple[str, ...],
    pin: bool | None,
    processes: int | None,
    arrival_rate: float | None,
    master: bool,
    expect_workers: int,
    master_port: int,
    master_bind_host: str,
) -> None:
    """Run one load test and judge it: writes result.json, report.html and summary.md."""
    tgt = config.load_target(target)
    profile = config.apply_overrides(
        config.load_profile(scenario),
        os.environ,
        {
            "users": users,
            "spawn_rate": spawn_rate,
            "duration_s": duration,
            "warmup_s": warmup,
            "processes": processes,
            "arrival_rate": arrival_rate,
        },
    )
    if faults and tgt.start is None:
        raise UsageError(f"--fault needs a target the harness starts; {tgt.path} has no [start]")
    # what the run is judged with is settled before it starts, as the baseline is: the gate
    # policy is the profile's (and the command line's), never a result file's
    policy = GatePolicy.from_profile(dataclasses.asdict(profile), force)
    budgets = config.budgets_for(tgt, profile)
    baseline, baseline_at = judging.choose_baseline(
        tgt.name, profile.name, baseline_file, no_baseline
    )
    request = runner.RunRequest(
        target=tgt,
        profile=profile,
        out_dir=out,
        pin=pin,
        sut_faults=faults,
        command=("loadgate", *sys.argv[1:]),
        master=master,
        expect_workers=expect_workers,
        master_port=master_port,
        master_bind_host=master_bind_host,
    )
    outcome = runner.run(request, progress=_say)
    # kept before judging, so a failure in the verdict or the reports loses no measurement
    results.write_result(outcome.out_dir / "result.json", outcome.result)
    how = judging.Judging(budgets, policy, baseline, baseline_at)
    _finish(judging.judge_and_report(outcome.result, outcome.out_dir, how), outcome)


# the CI step's name (DESIGN §1): the same command, one run judged, exit code = verdict
cli.add_command(run, name="gate")


@cli.command()
@click.option("--master-host", required=True, help="host of the `loadgate run --master`")
@click.option("--master-port", type=int, default=5557, show_default=True)
@click.option("--processes", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="send load to the master's host even when it is not on loopback (default: refuse)",
)
def worker(master_host: str, master_port: int, processes: int, allow_remote: bool) -> None:
    """Lend this machine's CPU to a `loadgate run --master` elsewhere (until it ends)."""
    locustfile = config.PROJECT_ROOT / "locustfile.py"
    command = runner.worker_command(master_host, master_port, processes, locustfile, allow_remote)
    _say(f"worker for {master_host}:{master_port}: {' '.join(command)}")
    sys.exit(subprocess.run(command, check=False, cwd=config.PROJECT_ROOT).returncode)


def _finish(judged: judging.Judged, outcome: runner.RunOutcome | None = None) -> None:
    """Show a verdict (run, micro, report, compare, ab) and exit with its code; an interrupted or
    broken run raises (after its result and reports are written), and the group maps it."""
    click.echo(judged.terminal, nl=False)
    if "html" in judged.paths:
        _say(f"report: {judged.paths['html']}")
    if outcome is not None:
        outcome.raise_for_status()
    sys.exit(judged.verdict.exit_code)


@cli.command("ab")
@click.option("--base", "base_rev", required=True, help="base revision (branch, tag, commit)")
@click.option(
    "--head", "head_rev", default=None, help="head revision [default: the working tree as it is]"
)
@load_options(
    target_help="a target the harness starts (its SUT is checked out per side)",
    out_help="directory for every run and the verdict [default: reports/ab-<time>/]",
)
@click.option(
    "--looks",
    default="3,6,10",
    show_default=True,
    help="pairs after which to look (the last is the most pairs run)",
)
@click.option(
    "--sequential",
    is_flag=True,
    help="run base and head one after the other (ABBA in time) instead of side by side; "
    "for targets that cannot run twice at once",
)
def ab_cmd(
    base_rev: str,
    head_rev: str | None,
    target: str,
    scenario: str,
    out: Path | None,
    users: int | None,
    duration: float | None,
    warmup: float | None,
    looks: str,
    sequential: bool,
) -> None:
    """Paired A/B: pairs of base and head runs until a sequential test decides.

    The mode for gating a merge request on a noisy shared runner: both revisions are
    measured in the same job, each pair side by side (both SUTs and both load generators
    at once, so machine noise hits both sides alike), the order alternated (ABBA).
    """
    tgt = config.load_target(target)
    profile = config.apply_overrides(
        config.load_profile(scenario),
        os.environ,
        {"users": users, "duration_s": duration, "warmup_s": warmup},
    )
    try:
        plan = tuple(sorted({int(x) for x in looks.split(",")}))
    except ValueError:
        raise UsageError(f"--looks: expected numbers like 3,6,10, got {looks!r}") from None
    if not plan or plan[0] < 2:
        raise UsageError("--looks: the first look needs at least 2 pairs")
    out_dir = out or Path("reports") / f"ab-{runner.make_run_id(profile.name)}"
    request = ab.AbRequest(
        base_rev=base_rev,
        head_rev=head_rev,
        target=tgt,
        profile=profile,
        budgets=config.budgets_for(tgt, profile),
        out_dir=out_dir,
        policy=GatePolicy.from_profile(dataclasses.asdict(profile)),
        looks=plan,
        command=("loadgate", *sys.argv[1:]),
        side_by_side=not sequential,
    )
    outcome = ab.run_ab(request, progress=_say)
    ab.write_summary(out_dir / "ab.json", outcome)
    text = ab.render_terminal(outcome)
    _finish(judging.report_verdict(outcome.verdict, text, out_dir, outcome.last_head))


@cli.command("micro")
@click.option(
    "--suite",
    default="sut",
    show_default=True,
    help="benchmarks/micro/test_<suite>_micro.py (sut, harness)",
)
@click.option(
    "--import",
    "imported",
    type=click.Path(path_type=Path),
    default=None,
    help="judge an existing pytest-benchmark JSON file instead of running the suite",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="directory for this run's files [default: reports/<run-id>/]",
)
@baseline_options
def micro_cmd(
    suite: str,
    imported: Path | None,
    out: Path | None,
    baseline_file: Path | None,
    no_baseline: bool,
    force: bool,
) -> None:
    """Run a micro-benchmark suite and judge it like a load test (median round time)."""
    baseline, at = judging.choose_baseline(micro.TARGET, suite, baseline_file, no_baseline)
    out_dir = runner.prepare_out_dir(out, runner.make_run_id(f"micro-{suite}"))
    json_path = imported or out_dir / "benchmark.json"
    if imported is None:
        _say(f"running micro-benchmark suite {suite!r} ...")
        micro.run_suite(suite, json_path)
    result = micro.import_benchmarks(json_path, suite, ["loadgate", *sys.argv[1:]])
    how = judging.Judging((), GatePolicy.from_profile(result.profile, force), baseline, at)
    _finish(judging.judge_and_report(result, out_dir, how))


@cli.command("report")
@click.argument("result_file", type=click.Path(path_type=Path))
@baseline_options
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="directory for the rendered files [default: beside RESULT_FILE]",
)
def report_cmd(
    result_file: Path,
    baseline_file: Path | None,
    no_baseline: bool,
    force: bool,
    out: Path | None,
) -> None:
    """Judge a stored result again and re-render its report, from stored files alone."""
    result = results.read_result(result_file)
    try:
        policy, budgets, policy_said = judging.judging_again(result, force)
        baseline, at, baseline_said = judging.baseline_for(result, baseline_file, no_baseline)
    except DataError as exc:
        raise DataError(f"{result_file}: {exc}") from None
    _say(f"judging {result_file} with {policy_said}; against {baseline_said}")
    how = judging.Judging(budgets, policy, baseline, at)
    _finish(judging.judge_and_report(result, out or result_file.parent, how, keep=False))


@cli.group()
def baseline() -> None:
    """The stored baselines under baselines/<target>/<scenario>.json."""


@baseline.command("bless")
@click.argument("result_files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--keep",
    type=click.IntRange(1, 100),
    default=baselines.DEFAULT_KEEP,
    show_default=True,
    help="blessed runs to keep (the newest)",
)
@click.option(
    "--to",
    "path",
    type=click.Path(path_type=Path),
    default=None,
    help="baseline file [default: baselines/<target>/<scenario>.json]",
)
def bless(result_files: tuple[Path, ...], keep: int, path: Path | None) -> None:
    """Add runs to the baseline of their target and scenario."""
    runs = [results.read_result(p) for p in result_files]
    dest = path or baselines.baseline_path(runs[0].target, runs[0].scenario)
    stored = baselines.bless(runs, dest, keep=keep)
    _say(f"{dest}: {stored.label}, keeping the last {keep}")


def _which_baseline(f: Callable[..., None]) -> Callable[..., None]:
    """--target / --scenario / --file: which stored baseline a command reads."""
    f = click.option(
        "--file",
        "path",
        type=click.Path(path_type=Path),
        default=None,
        help="baseline file [default: baselines/<target>/<scenario>.json]",
    )(f)
    f = click.option("--scenario", "-s", default="smoke", show_default=True)(f)
    return click.option("--target", "-t", default="local", show_default=True)(f)


def _stored(target: str, scenario: str, path: Path | None) -> tuple[Path, baselines.Baseline]:
    path = path or baselines.baseline_path(target, scenario)
    stored = baselines.load_baseline(path)
    if stored is None:
        raise UsageError(f"{path}: no baseline yet; bless one with 'loadgate baseline bless'")
    return path, stored


@baseline.command("show")
@_which_baseline
def show(target: str, scenario: str, path: Path | None) -> None:
    """Per endpoint P50/P95/P99: the median over the blessed runs and their spread."""
    path, stored = _stored(target, scenario, path)
    click.echo(f"{path}: {stored.target}/{stored.scenario}, {stored.label}")
    names = sorted({n for run in stored.runs for n in run.histograms})
    width = max([24, *(len(n) for n in names)])
    click.echo(f"{'endpoint':<{width}} {'p50':>18} {'p95':>18} {'p99':>18}")
    for name in names:
        cells = []
        for q in (0.5, 0.95, 0.99):
            values = sorted(stored.values(name, q))
            if not values:
                cells.append("-")
                continue
            mid = format_ms(values[len(values) // 2])
            sd = stored.spread(name, q)
            cells.append(f"{mid} (1 run)" if sd is None else f"{mid} ±{sd:.0%}")
        click.echo(f"{name:<{width}} {cells[0]:>18} {cells[1]:>18} {cells[2]:>18}")
    click.echo("(median over the blessed runs ± run-to-run standard deviation)")


@baseline.command("history")
@_which_baseline
def history(target: str, scenario: str, path: Path | None) -> None:
    """The blessed runs over time, with their provenance."""
    path, stored = _stored(target, scenario, path)
    click.echo(f"{path}: {stored.label}, keeping the last {stored.keep}")
    click.echo(f"{'started':<26} {'run':<28} {'commit':<9} {'machine':<34} {'calib':>6}")
    for run in stored.runs:
        env = run.environment
        commit = (env.get("git_commit") or "?")[:8] + ("+" if env.get("git_dirty") else "")
        machine = env.get("machine", {})
        where = f"{machine.get('cpu_model', '?')[:24]} x{machine.get('cores', '?')}"
        calib = env.get("calibration_mloops_per_s", "")
        click.echo(f"{run.started_at:<26} {run.run_id:<28} {commit:<9} {where:<34} {calib:>6}")


@cli.command("compare")
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@click.option(
    "--min-effect",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.10,
    show_default=True,
    help="smallest change that matters (0.1 = 10%)",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 0.5, min_open=True),
    default=0.01,
    show_default=True,
    help="false-alarm rate across all compared metrics",
)
@click.option(
    "--force-compare",
    "force",
    is_flag=True,
    help="let a baseline from another machine fail (default: advisory)",
)
def compare_cmd(a: Path, b: Path, min_effect: float, alpha: float, force: bool) -> None:
    """Is B a regression against A? A and B are results or baselines; nothing is run."""
    policy = GatePolicy(min_effect=min_effect, alpha=alpha, force_compare=force)
    verdict = compare.compare(compare.load_side(a), compare.load_side(b), policy)
    _finish(judging.report_verdict(verdict, report.render_comparison(verdict)))


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def sut(ctx: click.Context) -> None:
    """Serve the bundled SUT on 127.0.0.1 (flags as for 'python -m sut --help')."""
    import sut as bundled

    sys.exit(bundled.main(list(ctx.args)))


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    try:
        # an error's exit code comes back as the value (see _Loadgate.invoke)
        code = cli.main(args=argv, prog_name="loadgate", standalone_mode=False)
    except click.exceptions.Abort:
        _say("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _say("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except Exception:  # noqa: BLE001 - the last line of defence, reported as a bug
        # a crash must never read as "gate failed" (1) in CI
        traceback.print_exc()
        _say("internal error: this is a bug in loadgate; please report it with the trace above")
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
