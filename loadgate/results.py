"""RunResult: everything one run measured, stored as schema-versioned JSON with encoded HDR
histograms. Written atomically; read strictly (a corrupt or future file names itself).

For example::

    result = read_result(Path("reports/20261129-221500-smoke/result.json"))
    result.endpoints["POST /bets"].histogram.quantile(0.99)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from loadgate.budgets import Budget, budgets_from_list
from loadgate.errors import DataError
from loadgate.files import read_json_object, write_json_atomic
from loadgate.histogram import LatencyHistogram
from loadgate.policy import GatePolicy
from loadgate.server_metrics import ServerMetrics, server_metrics_from_dict, server_metrics_to_dict

SCHEMA = "loadgate.result"
# 2: the judgement's inputs are typed (``judged_with``: policy, budgets, baseline identity); the
# profile no longer carries the budgets; a capacity run's knee is a check of the verdict, not a
# note. Version 1 files are still read (see :func:`_from_v1`).
SCHEMA_VERSION = 2

Status = Literal["complete", "incomplete"]


@dataclass
class EndpointResult:
    """One named request type (``POST /bets``) or stream entry (``WS odds``) in the window."""

    name: str
    histogram: LatencyHistogram  # successful requests only, µs
    failures: int = 0
    failure_kinds: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)  # expected business outcomes
    # open model only: latency from the intended start (coordinated omission corrected), µs
    corrected: LatencyHistogram | None = None
    # the server's own time (Server-Timing header) of the requests that carried one, µs
    server: LatencyHistogram | None = None
    # the generator's delay these requests met (its hub lag, weighted by their seconds), µs
    delay: LatencyHistogram | None = None

    @property
    def gated(self) -> LatencyHistogram:
        """The histogram budgets judge: the corrected one in the open model."""
        return self.corrected if self.corrected is not None else self.histogram

    @property
    def requests(self) -> int:
        return self.histogram.count + self.histogram.out_of_range + self.failures

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def quantile_ms(self, p: float) -> float:
        return self.histogram.quantile(p) / 1000


@dataclass
class EndpointSeries:
    """Per-second figures of one endpoint; ``None`` where a second had no successful request."""

    requests: list[int]
    failures: list[int]
    p50_ms: list[float | None]
    p95_ms: list[float | None]
    p99_ms: list[float | None]


@dataclass
class Timeline:
    """Per-second series over the whole run, warm-up included (offsets from the test start)."""

    seconds: list[int] = field(default_factory=list)
    users: list[int] = field(default_factory=list)
    endpoints: dict[str, EndpointSeries] = field(default_factory=dict)


@dataclass
class ProcessSamples:
    """CPU (% of one core) and RSS of a process sampled through the run."""

    role: str  # "sut" or "generator"
    pid: int
    t: list[float] = field(default_factory=list)  # seconds from the test start
    cpu_percent: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    cores: list[int] | None = None

    @property
    def cpu_mean(self) -> float:
        return sum(self.cpu_percent) / len(self.cpu_percent) if self.cpu_percent else 0.0

    @property
    def rss_max_mb(self) -> float:
        return max(self.rss_mb, default=0.0)


@dataclass
class GeneratorHealth:
    """What one load-generator process measured of itself (see :mod:`loadgate.health`):
    its hub lag over the window (time-weighted, µs) and per-second series."""

    ident: str  # host:pid
    role: str  # local | worker | master
    lag: LatencyHistogram
    t: list[int] = field(default_factory=list)  # seconds from the test start
    lag_p50_ms: list[float | None] = field(default_factory=list)
    lag_p99_ms: list[float | None] = field(default_factory=list)
    lag_max_ms: list[float | None] = field(default_factory=list)
    cpu_percent: list[float | None] = field(default_factory=list)  # all threads, % of a core
    cpu_wait_percent: list[float | None] = field(default_factory=list)  # waiting for a CPU
    wake_wait_ms: list[float | None] = field(default_factory=list)  # mean wait per wake-up
    steal_percent: list[float | None] = field(default_factory=list)  # taken by the host

    @property
    def generates_load(self) -> bool:
        return self.role != "master"


SERIES = (
    "lag_p50_ms",
    "lag_p99_ms",
    "lag_max_ms",
    "cpu_percent",
    "cpu_wait_percent",
    "wake_wait_ms",
    "steal_percent",
)


@dataclass
class Arrivals:
    """Open model: the arrival rate asked for, and the arrivals in the window that found no
    free user (dropped: the generator could not offer the load)."""

    rate: float
    intended: int
    dropped: int

    @property
    def dropped_fraction(self) -> float:
        return self.dropped / self.intended if self.intended else 0.0


@dataclass
class Stage:
    """One load step of a capacity run, measured apart (coarse histograms: 2 digits)."""

    users: int
    start_s: float
    end_s: float
    endpoints: dict[str, EndpointResult] = field(default_factory=dict)


@dataclass(frozen=True)
class BaselineIdentity:
    """Which baseline a run was judged against: its file, label and the blessed runs it held."""

    path: str
    label: str
    runs: tuple[str, ...]


@dataclass(frozen=True)
class Judgement:
    """What a run was judged with, so that judging it again can use the same, or say what
    differs: the gate policy, the budgets and the baseline (None: judged without one)."""

    policy: GatePolicy
    budgets: tuple[Budget, ...]
    baseline: BaselineIdentity | None


@dataclass(frozen=True)
class RunResult:
    """The stored outcome of one run; the report and the verdict read nothing else. Frozen:
    a changed copy is made with ``dataclasses.replace``."""

    run_id: str
    target: str
    scenario: str
    profile: dict[str, Any]
    started_at: str  # ISO-8601 UTC
    t0: float  # epoch seconds of the test start (offset 0 of the timeline)
    warmup_s: float
    window_s: float  # length of the measurement window actually covered
    status: Status
    endpoints: dict[str, EndpointResult]
    timeline: Timeline
    users_target: int
    users_reached: int
    processes: list[ProcessSamples] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    audit: dict[str, Any] | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)
    arrivals: Arrivals | None = None  # open model only
    stages: list[Stage] = field(default_factory=list)  # capacity runs only
    generators: list[GeneratorHealth] = field(default_factory=list)  # each generator process
    server_metrics: ServerMetrics | None = None  # the target's own metrics over the window
    judged_with: Judgement | None = None  # None until judged (or judged before it was kept)

    @property
    def total_requests(self) -> int:
        return sum(e.requests for e in self.endpoints.values())

    @property
    def total_failures(self) -> int:
        return sum(e.failures for e in self.endpoints.values())

    @property
    def rps(self) -> float:
        return self.total_requests / self.window_s if self.window_s > 0 else 0.0

    def process(self, role: str) -> ProcessSamples | None:
        return next((p for p in self.processes if p.role == role), None)


# --- wire format ----------------------------------------------------------------------------
def result_to_dict(r: RunResult) -> dict[str, Any]:
    """The JSON form (stable key order is applied when writing)."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "run_id": r.run_id,
        "target": r.target,
        "scenario": r.scenario,
        "profile": r.profile,
        "started_at": r.started_at,
        "t0": r.t0,
        "warmup_s": r.warmup_s,
        "window_s": r.window_s,
        "status": r.status,
        "users_target": r.users_target,
        "users_reached": r.users_reached,
        "notes": r.notes,
        "audit": r.audit,
        "environment": r.environment,
        "command": r.command,
        "endpoints": {name: _endpoint_to_dict(e) for name, e in r.endpoints.items()},
        **_load_to_dict(r),
        **(
            {"server_metrics": server_metrics_to_dict(r.server_metrics)} if r.server_metrics else {}
        ),
        **({"judged_with": _judgement_to_dict(r.judged_with)} if r.judged_with else {}),
        "timeline": {
            "seconds": r.timeline.seconds,
            "users": r.timeline.users,
            "endpoints": {
                name: {
                    "requests": s.requests,
                    "failures": s.failures,
                    "p50_ms": s.p50_ms,
                    "p95_ms": s.p95_ms,
                    "p99_ms": s.p99_ms,
                }
                for name, s in r.timeline.endpoints.items()
            },
        },
        "generators": [_generator_to_dict(g) for g in r.generators],
        "processes": [
            {
                "role": p.role,
                "pid": p.pid,
                "t": p.t,
                "cpu_percent": p.cpu_percent,
                "rss_mb": p.rss_mb,
                "cores": p.cores,
            }
            for p in r.processes
        ],
    }


def _judgement_to_dict(j: Judgement) -> dict[str, Any]:
    return {
        "policy": j.policy.to_dict(),
        "budgets": [
            {"endpoint": b.endpoint, "metric": b.metric, "limit": b.limit, "source": b.source}
            for b in j.budgets
        ],
        "baseline": None
        if j.baseline is None
        else {"path": j.baseline.path, "label": j.baseline.label, "runs": list(j.baseline.runs)},
    }


def judgement_from_dict(raw: Any, where: str = "judged_with") -> Judgement:
    """A stored judgement record; ValueError naming the bad key."""
    d = _typed(raw, dict, where)
    try:
        policy = GatePolicy.from_profile(_typed(d["policy"], dict, f"{where}.policy"))
        budgets = budgets_from_list(d.get("budgets", []), "budgets")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{where}: {_describe(exc)}") from None
    base = d.get("baseline")
    if base is None:
        return Judgement(policy, budgets, None)
    base = _typed(base, dict, f"{where}.baseline")
    runs = _typed(base["runs"], list, f"{where}.baseline.runs")
    identity = BaselineIdentity(
        _typed(base["path"], str, f"{where}.baseline.path"),
        _typed(base["label"], str, f"{where}.baseline.label"),
        tuple(_typed(r, str, f"{where}.baseline.runs[]") for r in runs),
    )
    return Judgement(policy, budgets, identity)


def _from_v1(d: dict[str, Any]) -> dict[str, Any]:
    """A version 1 result as version 2: its knee note is dropped (the verdict computes the knee
    from the stages). Its judgement record has the same shape; its profile keeps the budgets
    it carried then (read only where the result was never judged)."""
    notes = [n for n in d.get("notes", []) if not str(n).startswith("capacity: ")]
    return {**d, "notes": notes}


def _endpoint_to_dict(e: EndpointResult) -> dict[str, Any]:
    d: dict[str, Any] = {
        "histogram": e.histogram.encode(),
        "out_of_range": e.histogram.out_of_range,
        "failures": e.failures,
        "failure_kinds": e.failure_kinds,
        "outcomes": e.outcomes,
        # derived, for people and other tools reading the JSON; never read back
        "summary": _summary(e),
    }
    if e.corrected is not None:
        d["corrected"] = e.corrected.encode()
        d["corrected_out_of_range"] = e.corrected.out_of_range
    if e.server is not None:
        d["server"] = e.server.encode()
    if e.delay is not None:
        d["delay"] = e.delay.encode()
    return d


def _generator_to_dict(g: GeneratorHealth) -> dict[str, Any]:
    return {
        "ident": g.ident,
        "role": g.role,
        "lag": g.lag.encode(),
        "lag_out_of_range": g.lag.out_of_range,
        "t": g.t,
        # a series not measured is written as gaps, so every series matches ``t``
        **{name: getattr(g, name) or [None] * len(g.t) for name in SERIES},
    }


def generators_from_list(raw: Any, where: str) -> list[GeneratorHealth]:
    out = []
    for i, g in enumerate(_typed(raw, list, where)):
        key = f"{where}[{i}]"
        _typed(g, dict, key)
        t = [int(_typed(x, int, f"{key}.t")) for x in _typed(g.get("t", []), list, f"{key}.t")]
        series = {}
        for name in SERIES:
            raw_values = g.get(name)
            if raw_values is None:  # a series this result's version did not measure
                raw_values = [None] * len(t)
            values = _typed(raw_values, list, f"{key}.{name}")
            if len(values) != len(t):
                raise ValueError(f"{key}.{name}: {len(values)} values for {len(t)} seconds")
            series[name] = [
                None if v is None else float(_typed(v, (int, float), f"{key}.{name}"))
                for v in values
            ]
        out.append(
            GeneratorHealth(
                ident=_typed(g["ident"], str, f"{key}.ident"),
                role=_typed(g["role"], str, f"{key}.role"),
                lag=LatencyHistogram.decode(
                    _typed(g["lag"], str, f"{key}.lag"),
                    _typed(g.get("lag_out_of_range", 0), int, f"{key}.lag_out_of_range"),
                ),
                t=t,
                **series,
            )
        )
    return out


def _load_to_dict(r: RunResult) -> dict[str, Any]:
    """The optional open-model and capacity parts (absent in a closed-model run)."""
    out: dict[str, Any] = {}
    if r.arrivals is not None:
        a = r.arrivals
        out["arrivals"] = {"rate": a.rate, "intended": a.intended, "dropped": a.dropped}
    if r.stages:
        out["stages"] = [
            {
                "users": st.users,
                "start_s": st.start_s,
                "end_s": st.end_s,
                "endpoints": {n: _endpoint_to_dict(e) for n, e in st.endpoints.items()},
            }
            for st in r.stages
        ]
    return out


def _summary(e: EndpointResult) -> dict[str, Any]:
    h = e.histogram
    return {
        "requests": e.requests,
        "failures": e.failures,
        "p50_ms": h.quantile(0.50) / 1000,
        "p95_ms": h.quantile(0.95) / 1000,
        "p99_ms": h.quantile(0.99) / 1000,
        "max_ms": h.max_us / 1000,
        **({"corrected_p99_ms": e.corrected.quantile(0.99) / 1000} if e.corrected else {}),
    }


def write_result(path: Path, result: RunResult) -> None:
    """Write ``result`` atomically as JSON."""
    write_json_atomic(path, result_to_dict(result))


def read_result(path: Path) -> RunResult:
    """Read and validate a stored result; DataError naming the file on any problem."""
    data = read_json_object(path, "result")
    try:
        return result_from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: corrupt result: {_describe(exc)}") from None


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing key {exc.args[0]!r}"
    return str(exc)


def check_schema(data: dict[str, Any], schema: str, version: int) -> None:
    """Raise ValueError unless ``data`` is of ``schema`` at a version we can read."""
    if data.get("schema") != schema:
        raise ValueError(f"not a {schema} file (schema={data.get('schema')!r})")
    found = data.get("schema_version")
    if not isinstance(found, int) or isinstance(found, bool):
        raise ValueError(f"schema_version must be an integer, got {found!r}")
    if found > version:
        raise ValueError(
            f"schema_version {found} is newer than this loadgate reads ({version}); "
            "upgrade loadgate"
        )
    if found < 1:
        raise ValueError(f"schema_version {found} is not valid")


def _typed(value: Any, kind: type | tuple[type, ...], key: str) -> Any:
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise TypeError(f"{key}: expected a number, got {value!r}")
    if not isinstance(value, kind):
        raise TypeError(f"{key}: expected {kind}, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{key}: not a finite number")
    return value


def _counts(value: Any, key: str) -> dict[str, int]:
    _typed(value, dict, key)
    return {str(k): int(_typed(v, int, f"{key}.{k}")) for k, v in value.items()}


def endpoints_from_dict(raw: Any, where: str) -> dict[str, EndpointResult]:
    endpoints: dict[str, EndpointResult] = {}
    for name, e in _typed(raw, dict, where).items():
        key = f"{where}.{name}"
        _typed(e, dict, key)
        hist = LatencyHistogram.decode(
            _typed(e["histogram"], str, f"{key}.histogram"),
            _typed(e.get("out_of_range", 0), int, f"{key}.out_of_range"),
        )
        corrected = None
        if e.get("corrected") is not None:
            corrected = LatencyHistogram.decode(
                _typed(e["corrected"], str, f"{key}.corrected"),
                _typed(e.get("corrected_out_of_range", 0), int, f"{key}.corrected_out_of_range"),
            )
        server, delay = (
            LatencyHistogram.decode(_typed(e[part], str, f"{key}.{part}"))
            if e.get(part) is not None
            else None
            for part in ("server", "delay")
        )
        endpoints[name] = EndpointResult(
            name=name,
            histogram=hist,
            failures=_typed(e["failures"], int, f"{key}.failures"),
            failure_kinds=_counts(e.get("failure_kinds", {}), f"{key}.failure_kinds"),
            outcomes=_counts(e.get("outcomes", {}), f"{key}.outcomes"),
            corrected=corrected,
            server=server,
            delay=delay,
        )
    return endpoints


def _arrivals_from_dict(raw: Any) -> Arrivals | None:
    if raw is None:
        return None
    _typed(raw, dict, "arrivals")
    return Arrivals(
        rate=float(_typed(raw["rate"], (int, float), "arrivals.rate")),
        intended=_typed(raw["intended"], int, "arrivals.intended"),
        dropped=_typed(raw["dropped"], int, "arrivals.dropped"),
    )


def _stages_from_dict(raw: Any) -> list[Stage]:
    return [
        Stage(
            users=_typed(st["users"], int, f"stages[{i}].users"),
            start_s=float(_typed(st["start_s"], (int, float), f"stages[{i}].start_s")),
            end_s=float(_typed(st["end_s"], (int, float), f"stages[{i}].end_s")),
            endpoints=endpoints_from_dict(st["endpoints"], f"stages[{i}].endpoints"),
        )
        for i, st in enumerate(_typed(raw, list, "stages"))
    ]


def result_from_dict(d: dict[str, Any]) -> RunResult:
    """Inverse of :func:`result_to_dict`; raises KeyError/TypeError/ValueError on bad data."""
    check_schema(d, SCHEMA, SCHEMA_VERSION)
    if d["schema_version"] == 1:
        d = _from_v1(d)
    endpoints = endpoints_from_dict(d["endpoints"], "endpoints")
    tl = _typed(d["timeline"], dict, "timeline")
    timeline = Timeline(
        seconds=list(_typed(tl["seconds"], list, "timeline.seconds")),
        users=list(_typed(tl["users"], list, "timeline.users")),
        endpoints={
            name: EndpointSeries(
                requests=list(s["requests"]),
                failures=list(s["failures"]),
                p50_ms=list(s["p50_ms"]),
                p95_ms=list(s["p95_ms"]),
                p99_ms=list(s["p99_ms"]),
            )
            for name, s in _typed(tl["endpoints"], dict, "timeline.endpoints").items()
        },
    )
    n = len(timeline.seconds)
    if len(timeline.users) != n or any(
        len(col) != n
        for s in timeline.endpoints.values()
        for col in (s.requests, s.failures, s.p50_ms, s.p95_ms, s.p99_ms)
    ):
        raise ValueError("timeline: series of different lengths")
    processes = [
        ProcessSamples(
            role=_typed(p["role"], str, "processes.role"),
            pid=_typed(p["pid"], int, "processes.pid"),
            t=list(p["t"]),
            cpu_percent=list(p["cpu_percent"]),
            rss_mb=list(p["rss_mb"]),
            cores=p.get("cores"),
        )
        for p in _typed(d.get("processes", []), list, "processes")
    ]
    status = d["status"]
    if status not in ("complete", "incomplete"):
        raise ValueError(f"status: expected 'complete' or 'incomplete', got {status!r}")
    return RunResult(
        run_id=_typed(d["run_id"], str, "run_id"),
        target=_typed(d["target"], str, "target"),
        scenario=_typed(d["scenario"], str, "scenario"),
        profile=_typed(d["profile"], dict, "profile"),
        started_at=_typed(d["started_at"], str, "started_at"),
        t0=float(_typed(d["t0"], (int, float), "t0")),
        warmup_s=float(_typed(d["warmup_s"], (int, float), "warmup_s")),
        window_s=float(_typed(d["window_s"], (int, float), "window_s")),
        status=status,
        endpoints=endpoints,
        timeline=timeline,
        users_target=_typed(d["users_target"], int, "users_target"),
        users_reached=_typed(d["users_reached"], int, "users_reached"),
        processes=processes,
        notes=[str(n) for n in _typed(d.get("notes", []), list, "notes")],
        audit=d.get("audit"),
        environment=_typed(d.get("environment", {}), dict, "environment"),
        command=[str(c) for c in _typed(d.get("command", []), list, "command")],
        arrivals=_arrivals_from_dict(d.get("arrivals")),
        stages=_stages_from_dict(d.get("stages", [])),
        generators=generators_from_list(d.get("generators", []), "generators"),
        server_metrics=server_metrics_from_dict(d.get("server_metrics")),
        judged_with=(
            None if d.get("judged_with") is None else judgement_from_dict(d["judged_with"])
        ),
    )
