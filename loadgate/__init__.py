"""loadgate: load tests of a real-time betting platform with a verdict you can gate merges on.

The supported API (the CLI is built on it)::

    from loadgate import load_target, load_profile, run, RunRequest, judge, read_result

Importing loadgate never imports locust or gevent: Locust runs in a subprocess and only
``loadgate.plugin`` (loaded inside it) imports it.
"""

from loadgate.baselines import Baseline, baseline_path, bless, load_baseline
from loadgate.budgets import Budget, parse_budget
from loadgate.checks import Check
from loadgate.config import Profile, Target, load_profile, load_target
from loadgate.errors import (
    ConfigError,
    DataError,
    InfraError,
    Interrupted,
    InvalidRunError,
    LoadgateError,
    UsageError,
)
from loadgate.histogram import LatencyHistogram
from loadgate.policy import GatePolicy
from loadgate.results import EndpointResult, Judgement, RunResult, read_result, write_result
from loadgate.runner import RunOutcome, RunRequest, run, run_side_by_side
from loadgate.verdict import Verdict, judge

__version__ = "0.1.0"

__all__ = [
    "Baseline",
    "Budget",
    "Check",
    "ConfigError",
    "DataError",
    "EndpointResult",
    "GatePolicy",
    "InfraError",
    "Interrupted",
    "InvalidRunError",
    "Judgement",
    "LatencyHistogram",
    "LoadgateError",
    "Profile",
    "RunOutcome",
    "RunRequest",
    "RunResult",
    "Target",
    "UsageError",
    "Verdict",
    "baseline_path",
    "bless",
    "judge",
    "load_baseline",
    "load_profile",
    "load_target",
    "parse_budget",
    "read_result",
    "run",
    "run_side_by_side",
    "write_result",
]
