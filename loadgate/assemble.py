"""Turn the Locust plugin's recording into a RunResult: the exact histograms of the
measurement window, per-second series, capacity steps and open-model arrivals.

For example::

    result = assemble(read_recording(path), run_id="r1", target=t, profile=p, complete=True,
                      notes=[], audit=None, environment={}, processes=[], command=[])
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from loadgate.config import Profile, Target
from loadgate.errors import DataError
from loadgate.histogram import LatencyHistogram
from loadgate.results import (
    Arrivals,
    EndpointResult,
    EndpointSeries,
    ProcessSamples,
    RunResult,
    Stage,
    Timeline,
    endpoints_from_dict,
    generators_from_list,
)
from loadgate.server_metrics import ServerMetrics
from loadgate.shapes import parse_shape


def read_recording(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: corrupt recording from the Locust plugin: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != "loadgate.recording":
        raise DataError(f"{path}: not a loadgate recording")
    return data


def assemble(
    recording: dict[str, Any],
    *,
    run_id: str,
    target: Target,
    profile: Profile,
    complete: bool,
    notes: list[str],
    audit: dict[str, Any] | None,
    environment: dict[str, Any],
    processes: list[ProcessSamples],
    command: list[str],
    server_metrics: ServerMetrics | None = None,
) -> RunResult:
    """Turn the plugin's recording into a RunResult (histograms stay exact; series per second)."""
    t0 = float(recording.get("t0") or time.time())
    end = float(recording.get("end") or t0)
    window_start = t0 + profile.warmup_s
    window_s = max(0.0, min(end, t0 + profile.run_time_s) - window_start)
    endpoints = endpoints_from_dict(recording["window"], "recording.window")
    generators = generators_from_list(
        [{**g, **g.get("series", {})} for g in recording.get("generators", [])],
        "recording.generators",
    )
    # the plugin's own (a worker refused, ...) explain what follows, such as a short window
    notes.extend(str(n) for n in recording.get("notes", []))
    stages = _stages(recording, profile)
    arrivals = None
    if recording.get("open_model"):
        counts = recording.get("arrivals", {})
        arrivals = Arrivals(profile.arrival_rate, counts["intended"], counts["dropped"])
    timeline = _timeline(recording, int(t0))
    if complete and window_s < profile.duration_s * 0.95:
        complete = False
        notes.append(f"the measurement window covered {window_s:.0f} of {profile.duration_s:.0f} s")
    profile_dict = dataclasses.asdict(profile)
    del profile_dict["budgets"]  # judgement, not measurement: the verdict records its budgets
    # processes sampled relative to our own start; shift onto the recording's time axis
    return RunResult(
        run_id=run_id,
        target=target.name,
        scenario=profile.name,
        profile=profile_dict,
        started_at=dt.datetime.fromtimestamp(t0, dt.UTC).isoformat(timespec="seconds"),
        t0=t0,
        warmup_s=profile.warmup_s,
        window_s=round(window_s, 3),
        status="complete" if complete else "incomplete",
        endpoints=endpoints,
        timeline=timeline,
        users_target=profile.users,
        users_reached=max(timeline.users, default=0),
        processes=processes,
        notes=notes,
        audit=audit,
        environment=environment,
        command=command,
        arrivals=arrivals,
        stages=stages,
        generators=generators,
        server_metrics=server_metrics,
    )


def _stages(recording: dict[str, Any], profile: Profile) -> list[Stage]:
    """The capacity steps of the plan, each with what the recorder measured in it."""
    plan = parse_shape(profile.shape).stages(profile.users)
    recorded = recording.get("stages", [])
    return [
        Stage(
            users=step.users,
            start_s=step.start_s,
            end_s=step.end_s,
            endpoints={
                name: EndpointResult(name, LatencyHistogram.decode(encoded), failures=failures)
                for name, (encoded, failures) in data["endpoints"].items()
            },
        )
        for step, data in zip(plan, recorded, strict=False)
    ]


def _timeline(recording: dict[str, Any], base: int) -> Timeline:
    seconds = {int(s) - base: b for s, b in recording["seconds"].items()}
    users = {int(s) - base: n for s, n in recording["users"].items()}
    last = max([*seconds, *users, -1])
    offsets = list(range(0, last + 1))
    names = sorted({name for b in seconds.values() for name in b})
    series = {name: EndpointSeries([], [], [], [], []) for name in names}
    user_series: list[int] = []
    current_users = 0
    for off in offsets:
        current_users = users.get(off, current_users)
        user_series.append(current_users)
        bucket = seconds.get(off, {})
        for name in names:
            count, fails, p50, p95, p99 = bucket.get(name, [0, 0, None, None, None])
            s = series[name]
            s.requests.append(count + fails)
            s.failures.append(fails)
            s.p50_ms.append(p50)
            s.p95_ms.append(p95)
            s.p99_ms.append(p99)
    return Timeline(seconds=offsets, users=user_series, endpoints=series)
