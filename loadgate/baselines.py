"""The baseline store: ``baselines/<target>/<scenario>.json`` holds the last K blessed runs, so the
run-to-run spread is known. Written only by ``loadgate baseline bless``; reviewed in merge requests
(stable key order, encoded histograms, schema-versioned); a corrupt file is a hard error.

For example::

    baseline = bless([read_result(Path("reports/r1/result.json"))], baseline_path("local", "smoke"))
    baseline.values("POST /bets", 0.99)  # [41.2]
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgate.config import PROJECT_ROOT
from loadgate.errors import DataError
from loadgate.files import read_json_object, write_json_atomic
from loadgate.histogram import LatencyHistogram
from loadgate.results import RunResult, check_schema

SCHEMA = "loadgate.baseline"
SCHEMA_VERSION = 1
# Ten runs, not five: at the levels Holm's correction asks of each metric (~0.001) the t
# quantile with 4 degrees of freedom is 1.6x the one with 9 (7.2 vs 4.3), so a five-run
# baseline needs a change 1.6x larger to stand out of the same noise.
DEFAULT_KEEP = 10


@dataclass
class BaselineRun:
    """One blessed run reduced to what comparisons need: histograms and provenance."""

    run_id: str
    started_at: str
    blessed_at: str
    environment: dict[str, Any]
    profile: dict[str, Any]
    histograms: dict[str, LatencyHistogram]
    failures: dict[str, int]
    # the load generator's own delay met per endpoint (absent in older baselines)
    delays: dict[str, LatencyHistogram] = field(default_factory=dict)

    def has(self, endpoint: str) -> bool:
        """Whether this run measured ``endpoint`` at all."""
        h = self.histograms.get(endpoint)
        return h is not None and h.count > 0

    def delay_ms(self, endpoint: str, q: float) -> float:
        """The generator's delay at the q-quantile in ms (0 where it was not recorded)."""
        d = self.delays.get(endpoint)
        return d.quantile(q) / 1000 if d is not None and d.count else 0.0


@dataclass
class Baseline:
    """The blessed runs of one (target, scenario), oldest first."""

    target: str
    scenario: str
    runs: list[BaselineRun] = field(default_factory=list)
    keep: int = DEFAULT_KEEP

    @property
    def label(self) -> str:
        if not self.runs:
            return "empty baseline"
        last = self.runs[-1].started_at[:10]
        return f"baseline of {last} ({len(self.runs)} run{'s' if len(self.runs) != 1 else ''})"

    def values(self, endpoint: str, q: float) -> list[float]:
        """The q-quantile of ``endpoint`` in ms, one value per blessed run that has it."""
        return [
            run.histograms[endpoint].quantile(q) / 1000 for run in self.runs if run.has(endpoint)
        ]

    def spread(self, endpoint: str, q: float) -> float | None:
        """The run-to-run standard deviation of the q-quantile's log (0.1: runs differ by about
        10%); None below two runs."""
        logs = [math.log(v) for v in self.values(endpoint, q) if v > 0]
        return statistics.stdev(logs) if len(logs) >= 2 else None

    def delays(self, endpoint: str, q: float) -> list[float]:
        """The generator's delay at the q-quantile in ms, one per run of :meth:`values` (0 where
        a run did not record it)."""
        return [run.delay_ms(endpoint, q) for run in self.runs if run.has(endpoint)]

    def interval(self, endpoint: str, q: float) -> tuple[float, float] | None:
        """The latest run's within-run confidence interval of the q-quantile, in ms."""
        for run in reversed(self.runs):
            h = run.histograms.get(endpoint)
            if h is not None and h.count:
                iv = h.quantile_interval(q)
                return (iv[0] / 1000, iv[1] / 1000) if iv else None
        return None

    def comparable_with(self, environment: dict[str, Any]) -> bool:
        """Same machine fingerprint as every blessed run (else comparisons are advisory)."""
        mine = environment.get("machine")
        return mine is not None and all(r.environment.get("machine") == mine for r in self.runs)


def run_of(result: RunResult, blessed_at: str = "") -> BaselineRun:
    """A result reduced to what a baseline keeps of it."""
    return BaselineRun(
        run_id=result.run_id,
        started_at=result.started_at,
        blessed_at=blessed_at,
        environment=result.environment,
        profile=result.profile,
        # in the open model, latency from the intended start (what the gate judges)
        histograms={n: e.gated for n, e in result.endpoints.items()},
        failures={n: e.failures for n, e in result.endpoints.items()},
        delays={
            n: e.delay for n, e in result.endpoints.items() if e.delay is not None and e.delay.count
        },
    )


def baseline_path(target: str, scenario: str, root: Path | None = None) -> Path:
    return (root or PROJECT_ROOT) / "baselines" / target / f"{scenario}.json"


def bless(results: list[RunResult], path: Path, keep: int = DEFAULT_KEEP) -> Baseline:
    """Add ``results`` to the baseline at ``path`` (created if absent); keep the last ``keep``."""
    if not results:
        raise ValueError("nothing to bless")
    first = results[0]
    for r in results:
        if (r.target, r.scenario) != (first.target, first.scenario):
            raise DataError(
                f"cannot bless {r.run_id} ({r.target}/{r.scenario}) with "
                f"{first.run_id} ({first.target}/{first.scenario}) into one baseline"
            )
        if r.status != "complete":
            raise DataError(f"{r.run_id}: an incomplete run cannot be blessed")
    baseline = load_baseline(path) or Baseline(first.target, first.scenario, keep=keep)
    if (baseline.target, baseline.scenario) != (first.target, first.scenario):
        raise DataError(
            f"{path}: holds {baseline.target}/{baseline.scenario}, "
            f"not {first.target}/{first.scenario}"
        )
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    known = {run.run_id for run in baseline.runs}
    for r in results:
        if r.run_id in known:
            continue
        baseline.runs.append(run_of(r, blessed_at=now))
    baseline.keep = keep
    baseline.runs = sorted(baseline.runs, key=lambda run: run.started_at)[-keep:]
    write_baseline(path, baseline)
    return baseline


def write_baseline(path: Path, baseline: Baseline) -> None:
    write_json_atomic(
        path,
        {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "target": baseline.target,
            "scenario": baseline.scenario,
            "keep": baseline.keep,
            "runs": [
                {
                    "run_id": run.run_id,
                    "started_at": run.started_at,
                    "blessed_at": run.blessed_at,
                    "environment": run.environment,
                    "profile": run.profile,
                    "endpoints": {
                        name: {
                            "histogram": h.encode(),
                            "failures": run.failures.get(name, 0),
                            **(
                                {"generator_delay": run.delays[name].encode()}
                                if name in run.delays
                                else {}
                            ),
                            # for reviewers reading the diff; never read back
                            "p50_ms": h.quantile(0.5) / 1000,
                            "p95_ms": h.quantile(0.95) / 1000,
                            "p99_ms": h.quantile(0.99) / 1000,
                        }
                        for name, h in sorted(run.histograms.items())
                    },
                }
                for run in baseline.runs
            ],
        },
    )


def load_baseline(path: Path) -> Baseline | None:
    """The baseline at ``path``; None when there is none; DataError naming the file if corrupt."""
    if not path.exists():
        return None
    data = read_json_object(path, "baseline")
    try:
        check_schema(data, SCHEMA, SCHEMA_VERSION)
        runs = [
            BaselineRun(
                run_id=str(run["run_id"]),
                started_at=str(run["started_at"]),
                blessed_at=str(run["blessed_at"]),
                environment=dict(run["environment"]),
                profile=dict(run["profile"]),
                histograms={
                    name: LatencyHistogram.decode(str(e["histogram"]))
                    for name, e in run["endpoints"].items()
                },
                failures={name: int(e["failures"]) for name, e in run["endpoints"].items()},
                delays={
                    name: LatencyHistogram.decode(str(e["generator_delay"]))
                    for name, e in run["endpoints"].items()
                    if "generator_delay" in e
                },
            )
            for run in data["runs"]
        ]
        keep = int(data["keep"])
        return Baseline(str(data["target"]), str(data["scenario"]), runs, keep)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        detail = f"missing key {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
        raise DataError(f"{path}: corrupt baseline: {detail}") from None
