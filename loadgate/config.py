"""Targets (``targets/*.toml``) and scenario profiles (``scenarios/profiles.toml``) as frozen,
validated objects. Read once at the edge; precedence file -> ``LOADGATE_*`` env -> CLI flags.

Every error names the file, the key and the bad value:

>>> load_target("local").start is not None
True
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from loadgate.budgets import Budget, parse_budget
from loadgate.durations import parse_duration
from loadgate.errors import ConfigError
from loadgate.shapes import parse_shape

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDERS = ("{port}", "{python}", "{workdir}", "{base_url}")


@dataclass(frozen=True)
class StartSpec:
    """How the harness starts a target itself: the command, its environment, the health wait."""

    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 60.0


@dataclass(frozen=True)
class AuditLogin:
    """How the harness gets a bearer token for the audit: POST ``{"username", "password"}`` as
    JSON to ``url`` and read ``token`` from the answer (the bundled SUT's login)."""

    url: str
    username: str
    password: str


@dataclass(frozen=True)
class Target:
    """What to hit and, optionally, how to start it. URLs may hold ``{port}`` when started."""

    name: str
    path: Path
    base_url: str
    ws_url: str
    health_url: str
    audit_url: str | None
    start: StartSpec | None
    budgets: Mapping[str, tuple[Budget, ...]]
    description: str = ""
    allow_remote: bool = False
    # Prometheus text exposition, scraped at the edges of the measurement window
    metrics_url: str | None = None
    audit_login: AuditLogin | None = None  # None: the audit is fetched without a token


@dataclass(frozen=True)
class Profile:
    """A named load profile: how many users of which kinds, for how long."""

    name: str
    users: int
    spawn_rate: float
    warmup_s: float
    duration_s: float
    user_classes: Mapping[str, int]
    description: str = ""
    budgets: tuple[Budget, ...] = ()
    processes: int = 1
    min_effect: float = 0.10
    alpha: float = 0.01
    min_effects: Mapping[str, float] = field(default_factory=dict)
    quantiles: tuple[float, ...] = (0.5, 0.95, 0.99)
    critical_share: float = 0.8  # of alpha, for the endpoints with a latency budget
    fixed_users: Mapping[str, int] = field(default_factory=dict)  # e.g. a few Traders
    shape: str = "constant"  # load plan, see loadgate/shapes.py
    arrival_rate: float = 0.0  # open model: requests started per second (0: closed model)
    think_scale: float = 1.0  # multiplies every think time of the scenarios

    @property
    def run_time_s(self) -> float:
        return self.warmup_s + self.duration_s


# --------------------------------------------------------------------------------------------
def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc}") from None


class _Reader:
    """Typed access to one TOML table with errors that name file and key."""

    def __init__(self, path: Path, table: Mapping[str, Any], prefix: str = "") -> None:
        self.path, self.table, self.prefix = path, table, prefix
        self.used: set[str] = set()

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {self.prefix}{key}: {message}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.table:
            if default is ...:
                raise self.fail(key, "missing (required)")
            return default
        value = self.table[key]
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise self.fail(key, f"expected a number, got {value!r}")
        if not isinstance(value, kind):
            names = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise self.fail(key, f"expected {names}, got {value!r}")
        return value

    def duration(self, key: str, default: Any = ...) -> float:
        raw = self.get(key, (str, int, float), default)
        try:
            return parse_duration(raw)
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise self.fail(unknown[0], f"unknown key (known: {', '.join(sorted(self.used))})")


def _parse_budget_table(path: Path, table: Any, prefix: str) -> tuple[Budget, ...]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{path}: {prefix}: expected a table of endpoint = [budgets]")
    out: list[Budget] = []
    for endpoint, exprs in table.items():
        where = f"{prefix}.{endpoint!r}" if " " in endpoint else f"{prefix}.{endpoint}"
        items = [exprs] if isinstance(exprs, str) else exprs
        if not isinstance(items, list) or not all(isinstance(e, str) for e in items):
            raise ConfigError(f"{path}: {where}: expected a list of strings like 'p95 < 150ms'")
        for expr in items:
            try:
                out.append(parse_budget(endpoint, expr, source=f"{path.name}: {where}"))
            except ValueError as exc:
                raise ConfigError(f"{path}: {where}: {exc}") from None
    return tuple(out)


def _check_url(r: _Reader, key: str, url: str, schemes: tuple[str, ...], allow_remote: bool) -> str:
    probe = url.replace("{port}", "1").replace("{base_url}", "http://127.0.0.1:1")
    parts = urlsplit(probe)
    if parts.scheme not in schemes or not parts.hostname:
        raise r.fail(key, f"expected a {' or '.join(schemes)} URL, got {url!r}")
    if not allow_remote and not is_loopback(parts.hostname):
        raise r.fail(
            key,
            f"{parts.hostname!r} is not a loopback address; load goes only to 127.0.0.1 unless "
            "the target sets allow_remote = true",
        )
    return url


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a URL's hostname) names this machine's loopback: 127.0.0.0/8, ::1
    or localhost. Load goes elsewhere only when asked (``allow_remote``).

    >>> is_loopback("127.0.0.2"), is_loopback("localhost"), is_loopback("10.0.0.5")
    (True, True, False)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_target_path(name_or_path: str, root: Path | None = None) -> Path:
    """``local`` -> ``targets/local.toml`` (cwd first, then the project); a path is taken as is."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        return Path(name_or_path)
    for base in (Path.cwd(), root or PROJECT_ROOT):
        candidate = base / "targets" / f"{name_or_path}.toml"
        if candidate.exists():
            return candidate
    known = sorted(p.stem for p in (root or PROJECT_ROOT).glob("targets/*.toml"))
    raise ConfigError(
        f"targets/{name_or_path}.toml: no such target (known: {', '.join(known) or 'none'})"
    )


def load_target(name_or_path: str) -> Target:
    """Read and validate a target file."""
    path = resolve_target_path(name_or_path)
    r = _Reader(path, _read_toml(path, "target file"))
    allow_remote = r.get("allow_remote", bool, False)
    base_url = _check_url(r, "base_url", r.get("base_url", str), ("http", "https"), allow_remote)
    default_ws = base_url.replace("http", "ws", 1).rstrip("/") + "/stream"
    ws_url = _check_url(r, "ws_url", r.get("ws_url", str, default_ws), ("ws", "wss"), allow_remote)
    health = r.get("health_url", str, "{base_url}/healthz")
    health_url = _check_url(r, "health_url", health, ("http", "https"), allow_remote)
    audit = r.get("audit_url", str, "{base_url}/admin/audit")
    audit_url = (
        _check_url(r, "audit_url", audit, ("http", "https"), allow_remote) if audit else None
    )
    metrics = r.get("metrics_url", str, "")
    metrics_url = (
        _check_url(r, "metrics_url", metrics, ("http", "https"), allow_remote) if metrics else None
    )
    login = _parse_audit_login(path, r.get("audit_login", dict, None), allow_remote)
    start = _parse_start(path, r.get("start", dict, None))
    if start is None and "{port}" in base_url:
        raise r.fail("base_url", "uses {port} but the target has no [start] command to pick it")
    budgets_table = r.get("budgets", dict, {})
    budgets = {
        scenario: _parse_budget_table(path, table, f"budgets.{scenario}")
        for scenario, table in budgets_table.items()
    }
    description = r.get("description", str, "")
    r.reject_unknown()
    return Target(
        name=path.stem,
        path=path,
        base_url=base_url,
        ws_url=ws_url,
        health_url=health_url,
        audit_url=audit_url,
        start=start,
        budgets=budgets,
        description=description,
        allow_remote=allow_remote,
        metrics_url=metrics_url,
        audit_login=login,
    )


def _parse_audit_login(
    path: Path, table: dict[str, Any] | None, allow_remote: bool
) -> AuditLogin | None:
    if table is None:
        return None
    r = _Reader(path, table, "audit_login.")
    url = _check_url(r, "url", r.get("url", str), ("http", "https"), allow_remote)
    login = AuditLogin(url, r.get("username", str), r.get("password", str))
    r.reject_unknown()
    return login


def _parse_start(path: Path, table: dict[str, Any] | None) -> StartSpec | None:
    if table is None:
        return None
    r = _Reader(path, table, "start.")
    command = r.get("command", list)
    if not command or not all(isinstance(c, str) for c in command):
        raise r.fail("command", "expected a non-empty list of strings")
    env = r.get("env", dict, {})
    if not all(isinstance(v, str) for v in env.values()):
        raise r.fail("env", "expected a table of strings")
    timeout = r.duration("timeout", 60.0)
    r.reject_unknown()
    return StartSpec(command=tuple(command), env=dict(env), timeout_s=timeout)


# --------------------------------------------------------------------------------------------
def profiles_path() -> Path:
    return PROJECT_ROOT / "scenarios" / "profiles.toml"


def load_profile(name: str, path: Path | None = None) -> Profile:
    """Read one named profile from the profiles file."""
    path = path or profiles_path()
    data = _read_toml(path, "profiles file")
    if name not in data:
        known = ", ".join(sorted(data)) or "none"
        raise ConfigError(f"{path}: no scenario profile {name!r} (known: {known})")
    table = data[name]
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {name}: expected a table")
    r = _Reader(path, table, f"{name}.")
    users = r.get("users", int)
    if users < 1:
        raise r.fail("users", f"must be at least 1, got {users}")
    spawn_rate = float(r.get("spawn_rate", (int, float)))
    if spawn_rate <= 0:
        raise r.fail("spawn_rate", f"must be positive, got {spawn_rate}")
    classes = r.get("user_classes", dict)
    if not classes or not all(isinstance(w, int) and w > 0 for w in classes.values()):
        raise r.fail("user_classes", "expected a table of UserClass = positive integer weight")
    duration = r.duration("duration")
    if duration <= 0:
        raise r.fail("duration", "must be positive")
    fixed = r.get("fixed_users", dict, {})
    if not all(isinstance(n, int) and n > 0 for n in fixed.values()):
        raise r.fail("fixed_users", "expected a table of UserClass = positive integer count")
    shape = r.get("shape", str, "constant")
    try:
        parse_shape(shape)
    except ValueError as exc:
        raise r.fail("shape", str(exc)) from None
    arrival_rate = float(r.get("arrival_rate", (int, float), 0.0))
    think_scale = float(r.get("think_scale", (int, float), 1.0))
    if arrival_rate < 0 or think_scale <= 0:
        raise r.fail("arrival_rate" if arrival_rate < 0 else "think_scale", "out of range")
    profile = Profile(
        name=name,
        users=users,
        spawn_rate=spawn_rate,
        warmup_s=r.duration("warmup", 0.0),
        duration_s=duration,
        user_classes=dict(classes),
        description=r.get("description", str, ""),
        budgets=_parse_budget_table(path, r.get("budgets", dict, {}), f"{name}.budgets"),
        processes=r.get("processes", int, 1),
        min_effect=_fraction(r, "min_effect", r.get("min_effect", (int, float), 0.10)),
        alpha=_fraction(r, "alpha", r.get("alpha", (int, float), 0.01)),
        min_effects={
            str(k): _fraction(r, f"min_effects.{k}", v)
            for k, v in r.get("min_effects", dict, {}).items()
        },
        quantiles=_quantiles(r, r.get("gate_quantiles", list, ["p50", "p95", "p99"])),
        critical_share=_fraction(r, "critical_share", r.get("critical_share", (int, float), 0.8)),
        fixed_users=dict(fixed),
        shape=shape,
        arrival_rate=arrival_rate,
        think_scale=think_scale,
    )
    r.reject_unknown()
    return profile


def _fraction(r: _Reader, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise r.fail(key, f"expected a fraction between 0 and 1 (e.g. 0.1 for 10%), got {value!r}")
    return float(value)


def _quantiles(r: _Reader, names: list[Any]) -> tuple[float, ...]:
    out = []
    for name in names:
        if not isinstance(name, str) or not name.startswith("p"):
            raise r.fail("gate_quantiles", f"expected names like 'p95', got {name!r}")
        try:
            q = round(float(name[1:]) / 100, 6)
        except ValueError:
            raise r.fail("gate_quantiles", f"expected names like 'p95', got {name!r}") from None
        if not 0 < q < 1:
            raise r.fail("gate_quantiles", f"expected a quantile within p0..p100, got {name!r}")
        out.append(q)
    return tuple(out)


def budgets_for(target: Target, profile: Profile) -> tuple[Budget, ...]:
    """The profile's budgets, overridden metric by metric by the target's for that scenario."""
    merged: dict[tuple[str, str], Budget] = {(b.endpoint, b.metric): b for b in profile.budgets}
    for b in target.budgets.get(profile.name, ()):
        merged[(b.endpoint, b.metric)] = b
    return tuple(merged.values())


# --------------------------------------------------------------------------------------------
_ENV_OVERRIDES: dict[str, tuple[str, type]] = {
    "LOADGATE_USERS": ("users", int),
    "LOADGATE_SPAWN_RATE": ("spawn_rate", float),
    "LOADGATE_DURATION": ("duration_s", float),
    "LOADGATE_WARMUP": ("warmup_s", float),
    "LOADGATE_PROCESSES": ("processes", int),
    "LOADGATE_ARRIVAL_RATE": ("arrival_rate", float),
}


def apply_overrides(
    profile: Profile, env: Mapping[str, str], flags: Mapping[str, Any | None]
) -> Profile:
    """Environment (``LOADGATE_USERS``...) then CLI flags (``users=...``) over the profile file."""
    changes: dict[str, Any] = {}
    for var, (attr, kind) in _ENV_OVERRIDES.items():
        if var in env:
            raw = env[var]
            try:
                value = parse_duration(raw) if attr.endswith("_s") else kind(raw)
            except ValueError:
                raise ConfigError(f"environment {var}={raw!r}: not a valid {attr}") from None
            changes[attr] = value
    changes.update({k: v for k, v in flags.items() if v is not None})
    if changes.get("users", 1) < 1 or changes.get("duration_s", 1) <= 0:
        raise ConfigError(f"invalid override: {changes}")
    return dataclasses.replace(profile, **changes)


def environ() -> Mapping[str, str]:
    return os.environ
