"""One run: start the target (if it has a start command), drive Locust headless in a subprocess
with the recorder plugin, sample CPU and RSS, fetch the SUT's audit, stop everything whatever
happens, and assemble a RunResult from what was recorded.

For example::

    outcome = run(RunRequest(load_target("local"), load_profile("smoke")))
    outcome.result.endpoints["POST /bets"].histogram.count
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from loadgate import provenance
from loadgate.assemble import assemble, read_recording
from loadgate.config import PROJECT_ROOT, AuditLogin, Profile, Target
from loadgate.errors import InfraError, Interrupted, UsageError
from loadgate.processes import Child, Sampler, free_port, pin, wait_healthy
from loadgate.results import ProcessSamples, RunResult
from loadgate.scraper import WindowScraper
from loadgate.shapes import parse_shape

Progress = Callable[[str], None]
RUN_TIME_SLACK_S = 2.0
LOCUST_GRACE_S = 30.0  # beyond the planned run time, before a silent Locust is killed
WORKERS_WAIT_S = 60.0  # a master waits this long for its remote workers


@dataclass(frozen=True)
class RunRequest:
    """Everything one run needs, validated at the edge."""

    target: Target
    profile: Profile
    out_dir: Path | None = None
    pin: bool | None = None  # None: pin when we start the SUT ourselves on >= 2 cores
    sut_faults: tuple[str, ...] = ()
    locustfile: Path = PROJECT_ROOT / "locustfile.py"
    command: tuple[str, ...] = ()
    keep_workdir: bool = False
    sut_root: Path | None = None  # another checkout's SUT (paired A/B); default: this one
    # distributed: this run is a Locust master waiting for ``expect_workers`` remote workers
    # (``loadgate worker --master-host H``) on ``master_port``
    master: bool = False
    expect_workers: int = 1
    master_port: int = 5557
    master_bind_host: str = "127.0.0.1"  # the interface the workers reach; Locust's default is all


@dataclass
class RunOutcome:
    """The assembled result and what happened on the way."""

    result: RunResult
    out_dir: Path
    infra_error: str | None = None
    interrupted: bool = False
    logs: dict[str, Path] = field(default_factory=dict)

    def raise_for_status(self, what: str = "") -> None:
        """Raise :class:`Interrupted` (Ctrl-C) or :class:`InfraError` (the target or Locust
        failed) once what was measured has been kept; nothing when the run went as planned.
        ``what`` names the run in the message ("A/B run 3 (head)")."""
        prefix = f"{what}: " if what else ""
        if self.interrupted:
            raise Interrupted(f"{prefix}interrupted; what was measured is in {self.out_dir}")
        if self.infra_error:
            raise InfraError(f"{prefix}{self.infra_error}")


def make_run_id(scenario: str) -> str:
    return f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{scenario}"


def prepare_out_dir(out_dir: Path | None, run_id: str) -> Path:
    """The run's directory; refuses one that already holds a run (nothing is overwritten)."""
    path = out_dir if out_dir is not None else Path("reports") / run_id
    if (path / "result.json").exists():
        raise UsageError(f"{path}: already holds a run (result.json); choose another --out")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def run(request: RunRequest, progress: Progress = lambda _line: None) -> RunOutcome:
    """Run once; raises InfraError when the target cannot be started or reached, UsageError
    for a bad output directory. A run that breaks down later still returns a (partial) result."""
    return run_side_by_side([request], progress)[0]


def run_side_by_side(
    requests: Sequence[RunRequest], progress: Progress = lambda _line: None
) -> list[RunOutcome]:
    """Several runs at once on this machine, one outcome each, in the order asked.

    Their targets start one after the other; their Locusts start within milliseconds of each
    other and run the same plan, so every run meets the same machine noise at the same time
    (duet benchmarking, Bulej et al., ICPE 2020: what a paired A/B needs on a shared
    machine). Pinning puts every target on core 0 and every generator on the others. Errors
    as for :func:`run`; if any target cannot start, every run is stopped.

    For example::

        base, head = run_side_by_side([RunRequest(t, p, sut_root=a), RunRequest(t, p)])
    """
    attempts: list[_Run] = []
    created: list[bool] = []
    try:
        for i, request in enumerate(requests):
            run_id = make_run_id(request.profile.name)
            if len(requests) > 1:
                run_id += f"-{i + 1}"
            created.append(request.out_dir is None or not request.out_dir.exists())
            out_dir = prepare_out_dir(request.out_dir, run_id)
            taken = {a.values["port"] for a in attempts}
            attempts.append(_Run(request, run_id, out_dir, progress, taken))
        _drive(attempts, progress)
        return [attempt.outcome() for attempt in attempts]
    except BaseException:
        for attempt, new in zip(attempts, created, strict=False):
            if new and attempt.out_dir.exists() and not any(attempt.out_dir.iterdir()):
                attempt.out_dir.rmdir()  # leave no empty run directory behind a failed start
        raise
    finally:
        for attempt in attempts:
            shutil.rmtree(attempt.workdir, ignore_errors=True)


def _drive(attempts: list[_Run], progress: Progress) -> None:
    try:
        for attempt in attempts:
            attempt.start_target()
        for attempt in attempts:
            attempt.start_locust()
        _supervise(attempts, progress)
        for attempt in attempts:
            if attempt.sut is None or attempt.sut.alive():
                attempt.audit = _fetch_audit(
                    attempt.urls["audit_url"],
                    attempt.request.target.audit_login,
                    attempt.values,
                    attempt.notes,
                )
    except KeyboardInterrupt:
        for attempt in attempts:
            attempt.interrupted = True
            attempt.notes.append("interrupted by the user (Ctrl-C)")
        progress("interrupted: stopping Locust and the target, keeping what was measured")
    finally:
        for attempt in attempts:
            attempt.stop_all()


class _Run:
    """The state of one run while its processes are up."""

    def __init__(
        self,
        request: RunRequest,
        run_id: str,
        out_dir: Path,
        progress: Progress,
        taken: Collection[str] = (),
    ):
        self.request, self.run_id, self.out_dir, self.progress = request, run_id, out_dir, progress
        self.workdir = Path(tempfile.mkdtemp(prefix=f"loadgate-{run_id}-"))
        target = request.target
        values = {"python": sys.executable, "workdir": str(self.workdir)}
        values["port"] = ""
        while target.start and values["port"] in ("", *taken):  # side by side: one port each
            values["port"] = str(free_port())
        values["base_url"] = _fill(target.base_url, values)
        self.values = values
        self.urls = {
            k: _fill(getattr(target, k) or "", values)
            for k in ("base_url", "ws_url", "health_url", "audit_url", "metrics_url")
        }
        self.notes: list[str] = []
        self.sut: Child | None = None
        self.locust: Child | None = None
        self.sampler: Sampler | None = None
        self.samples: list[ProcessSamples] = []
        self.audit: dict[str, Any] | None = None
        self.scraper: WindowScraper | None = None
        self.infra_error: str | None = None
        self.interrupted = False
        self.cores: dict[str, list[int] | None] = {"sut": None, "generator": None}
        self.t_start = time.time()
        self.recording_path = self.workdir / "recording.json"

    def start_target(self) -> None:
        start = self.request.target.start
        if start is None:
            self.progress(f"checking the target at {self.urls['health_url']}")
            wait_healthy(self.urls["health_url"], None, 10.0)
            return
        command = [_fill(c, self.values) for c in start.command]
        env = {k: _fill(v, self.values) for k, v in start.env.items()}
        if self.request.sut_faults:
            env["SUT_FAULTS"] = ";".join(self.request.sut_faults)
        root = self.request.sut_root or PROJECT_ROOT
        if self.request.sut_root is not None:
            # `python -m sut` run from that checkout imports its own sut package first
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p
            )
        self.progress(f"starting the target: {' '.join(command)}")
        self.sut = Child.spawn("target", command, self.workdir / "sut.log", env, root)
        wait_healthy(self.urls["health_url"], self.sut, start.timeout_s)

    def start_locust(self) -> None:
        profile = self.request.profile
        want_pin = self.request.pin if self.request.pin is not None else self.sut is not None
        cpu_count = os.cpu_count() or 1
        if want_pin and cpu_count >= 2:
            if self.sut is not None:
                self.cores["sut"] = pin(self.sut.pid, [0])
            self.cores["generator"] = list(range(1, cpu_count))
        elif want_pin:
            self.notes.append(f"not pinned: the machine has {cpu_count} core")
        command = _locust_command(
            self.request,
            self.urls["base_url"],
            self.recording_path,
            self.workdir,
            self.urls["ws_url"],
        )
        self.progress(
            f"running {profile.name}: {profile.users} users, {profile.warmup_s:.0f} s warm-up "
            f"+ {profile.duration_s:.0f} s measured, against {self.urls['base_url']}"
        )
        self.t_start = time.time()
        self.locust = Child.spawn(
            "locust", command, self.workdir / "locust.log", {"PYTHONUNBUFFERED": "1"}, PROJECT_ROOT
        )
        if self.cores["generator"]:
            self.cores["generator"] = pin(self.locust.pid, self.cores["generator"] or [])
        self.sampler = Sampler(self.t_start)
        if self.sut is not None:
            self.sampler.watch("sut", self.sut.pid, self.cores["sut"])
        # --processes N: the master and every forked worker, each sampled on its own
        self.sampler.watch("generator", self.locust.pid, self.cores["generator"], children=True)
        self.sampler.start()
        if self.urls["metrics_url"]:  # the server's own view of the window, from its thread
            progress_file = self.workdir / "progress.json"
            self.scraper = WindowScraper(
                self.urls["metrics_url"], progress_file, profile.warmup_s, profile.duration_s
            )
            self.scraper.start()

    def stop_all(self) -> None:
        if self.scraper is not None:
            self.scraper.stop()
        if self.locust is not None:
            self.locust.stop(grace_s=20)
        if self.sampler is not None:
            self.samples = self.sampler.stop()
        if self.sut is not None:
            code = self.sut.stop()
            clean = self.infra_error is None and not self.interrupted
            if clean and code not in (0, -15, None):
                self.notes.append(f"the target exited with code {code} when stopped")

    def outcome(self) -> RunOutcome:
        logs = _keep_logs(self.workdir, self.out_dir, self.request.keep_workdir)
        if not self.recording_path.exists():
            if self.interrupted:
                raise KeyboardInterrupt
            locust = self.locust
            code = locust.returncode if locust else "?"
            detail = (locust.tail() if locust else "") or "no output"
            where = logs.get("locust.log", self.out_dir)
            raise InfraError(f"Locust produced no recording (exit code {code}): {detail} ({where})")
        recording = read_recording(self.recording_path)
        server_metrics = None
        if self.scraper is not None:
            t0 = float(recording.get("t0") or self.t_start)
            server_metrics, scrape_notes = self.scraper.outcome(t0)
            self.notes.extend(scrape_notes)
        shift = self.t_start - float(recording.get("t0") or self.t_start)
        for s in self.samples:  # sampled from our own start: move onto the recording's axis
            s.t = [round(t + shift, 2) for t in s.t]
        environment = provenance.environment(PROJECT_ROOT)
        environment["cores"] = self.cores
        environment["sut_faults"] = list(self.request.sut_faults)
        environment["base_url"] = self.urls["base_url"]
        result = assemble(
            recording,
            run_id=self.run_id,
            target=self.request.target,
            profile=self.request.profile,
            complete=not (self.interrupted or self.infra_error),
            notes=self.notes,
            audit=self.audit,
            environment=environment,
            processes=self.samples,
            command=list(self.request.command),
            server_metrics=server_metrics,
        )
        return RunOutcome(result, self.out_dir, self.infra_error, self.interrupted, logs)


def _locust_command(
    request: RunRequest, host: str, recording: Path, workdir: Path, ws_url: str = ""
) -> list[str]:
    p = request.profile
    cmd = [
        sys.executable, "-m", "locust",
        "-f", str(request.locustfile),
        "--headless",
        # a load plan starts from its first target (capacity: the first step)
        "--users", str(parse_shape(p.shape).target(0.0, p.users, p.spawn_rate)[0]),
        "--spawn-rate", f"{p.spawn_rate:g}",
        # a little past the window, so the window is whole: Locust's clock starts before ours
        "--run-time", f"{math.ceil(p.run_time_s + RUN_TIME_SLACK_S)}s",
        "--host", host,
        "--stop-timeout", "5",
        "--only-summary",
        "--loadgate-record", str(recording),
        "--loadgate-progress", str(workdir / "progress.json"),
        "--loadgate-warmup", f"{p.warmup_s:g}",
        "--loadgate-window", f"{p.duration_s:g}",
    ]  # fmt: skip
    cmd += _scenario_options(p, ws_url)
    if p.processes > 1 and not request.master:
        cmd += ["--processes", str(p.processes)]
    if request.target.allow_remote:  # the target's consent, for --processes' forked workers
        cmd += ["--loadgate-allow-remote"]
    if request.master:
        cmd += [
            "--master",
            "--master-bind-host", request.master_bind_host,
            "--master-bind-port", str(request.master_port),
            "--expect-workers", str(request.expect_workers),
            "--expect-workers-max-wait", f"{WORKERS_WAIT_S:g}",
        ]  # fmt: skip
    return cmd + sorted({*p.user_classes, *p.fixed_users})


def _scenario_options(p: Profile, ws_url: str) -> list[str]:
    """The profile's mix, load plan and pace, as options of the locustfile and the plugin."""
    opts = [
        "--user-weights", ",".join(f"{k}={v}" for k, v in sorted(p.user_classes.items())),
        "--loadgate-shape", p.shape,
        "--think-scale", f"{p.think_scale:g}",
        "--loadgate-plan-users", str(p.users),
    ]  # fmt: skip
    if ws_url:
        opts += ["--ws-url", ws_url]
    if p.fixed_users:
        opts += ["--fixed-users", ",".join(f"{k}={v}" for k, v in sorted(p.fixed_users.items()))]
    if p.arrival_rate > 0:
        opts += ["--loadgate-arrival-rate", f"{p.arrival_rate:g}"]
    stages = parse_shape(p.shape).stages(p.users)
    if stages:
        opts += ["--loadgate-stages", ",".join(f"{st.start_s:g}-{st.end_s:g}" for st in stages)]
    return opts


def worker_command(
    master_host: str,
    master_port: int,
    processes: int,
    locustfile: Path,
    allow_remote: bool = False,
) -> list[str]:
    """A Locust worker for a remote ``loadgate run --master`` (it sends the options). Without
    ``allow_remote`` the worker refuses a master whose host is not on loopback."""
    cmd = [
        sys.executable, "-m", "locust", "-f", str(locustfile),
        "--worker", "--master-host", master_host, "--master-port", str(master_port),
    ]  # fmt: skip
    cmd += ["--processes", str(processes)] if processes > 1 else []
    return cmd + (["--loadgate-allow-remote"] if allow_remote else [])


def _supervise(attempts: list[_Run], progress: Progress) -> None:
    """Wait for every Locust to finish; stop one early if its target dies or it hangs."""
    started = time.monotonic()
    deadlines = [
        started
        + a.request.profile.run_time_s
        + RUN_TIME_SLACK_S
        + LOCUST_GRACE_S
        + (WORKERS_WAIT_S if a.request.master else 0.0)
        for a in attempts
    ]
    first = attempts[0]
    last_report = 0.0
    every = 2.0 if sys.stderr.isatty() else 10.0
    while any(a.locust is not None and a.locust.alive() for a in attempts):
        time.sleep(0.25)
        now = time.monotonic()
        for attempt, deadline in zip(attempts, deadlines, strict=True):
            error = _check(attempt, now - started, now > deadline)
            if error is not None:
                attempt.infra_error = error
                attempt.notes.append(error)
                progress(error + "; stopping Locust")
                assert attempt.locust is not None
                attempt.locust.stop(grace_s=20)
        if now - last_report >= every:
            last_report = now
            planned = first.request.profile.run_time_s
            progress(_progress_line(first.workdir / "progress.json", now - started, planned))
    for attempt in attempts:
        locust = attempt.locust
        # 1 = "some requests failed", Locust's own verdict
        if locust is not None and attempt.infra_error is None and locust.returncode not in (0, 1):
            attempt.notes.append(f"Locust exited with code {locust.returncode}: {locust.tail(3)}")


def _check(attempt: _Run, elapsed: float, overdue: bool) -> str | None:
    """Why this attempt's Locust must be stopped now, if it must."""
    locust, sut = attempt.locust, attempt.sut
    if locust is None or not locust.alive() or attempt.infra_error is not None:
        return None
    if sut is not None and not sut.alive():
        return (
            f"the target died {elapsed:.0f} s into the run "
            f"(exit code {sut.returncode}): {sut.tail(3)}"
        )
    if overdue:
        return f"Locust did not finish within {elapsed:.0f} s"
    return None


def _progress_line(progress_file: Path, elapsed: float, planned: float) -> str:
    try:
        live = json.loads(progress_file.read_text())
    except (OSError, ValueError):
        live = {}
    remaining = max(0.0, planned - elapsed)
    parts = [f"{elapsed:4.0f} s elapsed, {remaining:4.0f} s left"]
    if live:
        parts.append(f"{live.get('users', 0)} users")
        parts.append(f"{live.get('rps', 0)} req/s")
        p95 = live.get("worst_p95_ms")
        if p95 is not None:
            parts.append(f"worst P95 {p95:.1f} ms")
        parts.append(f"{live.get('failures', 0)} failures/s")
    return " · ".join(parts)


def _fetch_audit(
    url: str | None, login: AuditLogin | None, values: dict[str, str], notes: list[str]
) -> dict[str, Any] | None:
    """The target's invariants after the run, with the bearer token its ``audit_login`` gives;
    None (with a note) where the target has no audit."""
    if not url:
        return None
    try:
        with httpx.Client(timeout=30.0) as client:
            headers = {}
            if login is not None:
                answer = client.post(
                    _fill(login.url, values),
                    json={"username": login.username, "password": login.password},
                )
                answer.raise_for_status()
                headers = {"Authorization": f"Bearer {answer.json()['token']}"}
            resp = client.get(url, headers=headers)
            if resp.status_code == 404:
                notes.append("the target has no audit endpoint; invariants not checked")
                return None
            resp.raise_for_status()
            body = resp.json()
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        notes.append(f"the SUT audit could not be fetched: {exc}")
        return None
    return body if isinstance(body, dict) else None


def _keep_logs(workdir: Path, out_dir: Path, keep_all: bool) -> dict[str, Path]:
    kept: dict[str, Path] = {}
    for name in ("sut.log", "locust.log"):
        src = workdir / name
        if src.exists():
            dst = out_dir / name
            shutil.copyfile(src, dst)
            kept[name] = dst
    if keep_all:
        shutil.copytree(workdir, out_dir / "workdir", dirs_exist_ok=True)
    return kept
