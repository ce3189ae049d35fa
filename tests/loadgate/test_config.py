"""Targets and profiles: validated, with errors that name the file, the key and the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgate.config import apply_overrides, budgets_for, is_loopback, load_profile, load_target
from loadgate.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "t.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_bundled_targets_and_smoke_profile_load() -> None:
    local = load_target("local")
    assert local.start is not None and "{port}" in local.base_url
    assert any(b.endpoint == "POST /bets" and b.metric == "p99" for b in local.budgets["smoke"])
    running = load_target("running")
    assert running.start is None
    smoke = load_profile("smoke")
    assert smoke.users > 0 and smoke.warmup_s > 0 and "Bettor" in smoke.user_classes


def test_target_by_path(tmp_path: Path) -> None:
    path = write(tmp_path, 'base_url = "http://127.0.0.1:9"\n')
    target = load_target(str(path))
    assert target.name == "t"
    assert target.health_url == "{base_url}/healthz"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("base_url = 'http://127.0.0.1:{port}'\n", "uses {port} but the target has no [start]"),
        ("base_url = 3\n", "base_url: expected str"),
        ("base_url = 'http://10.0.0.5:80'\n", "not a loopback address"),
        ("base_url = 'ftp://127.0.0.1'\n", "expected a http or https URL"),
        ("base_url = 'http://127.0.0.1:9'\nbogus = 1\n", "bogus: unknown key"),
        ("base_url = 'http://127.0.0.1:9'\n[start]\ncommand = []\n", "start.command"),
        ("base_url = 'http://127.0.0.1:9'\n[start]\ncommand=['x']\ntimeout='soon'\n", "timeout"),
        (
            "base_url = 'http://127.0.0.1:9'\n[budgets.smoke]\n'POST /bets' = ['p99 < fast']\n",
            "budgets.smoke.'POST /bets': expected a latency",
        ),
        (
            "base_url = 'http://127.0.0.1:9'\n[budgets.smoke]\n'GET /x' = ['p101 < 5ms']\n",
            "unknown metric",
        ),
        ("base_url = \n", "malformed TOML"),
    ],
)
def test_bad_target_files_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_target(str(path))
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_missing_target_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"targets/nope.toml: no such target \(known: .*local"):
        load_target("nope")


def test_remote_hosts_need_an_explicit_opt_in(tmp_path: Path) -> None:
    path = write(tmp_path, "allow_remote = true\nbase_url = 'http://perf.example:80'\n")
    assert load_target(str(path)).base_url == "http://perf.example:80"


def test_unknown_scenario_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"no scenario profile 'nope' \(known: .*smoke"):
        load_profile("nope")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("users = 0\nspawn_rate = 1\nduration = '1s'\nuser_classes = {A = 1}", "users: must be"),
        ("users = 1\nspawn_rate = 1\nduration = '1s'\nuser_classes = {}", "user_classes"),
        ("users = 1\nspawn_rate = 1\nduration = 'x'\nuser_classes = {A = 1}", "duration"),
        ("users = 1\nspawn_rate = 1\nuser_classes = {A = 1}", "duration: missing"),
        ("users = true\nspawn_rate = 1\nduration = '1s'\nuser_classes = {A=1}", "a number"),
    ],
)
def test_bad_profiles(tmp_path: Path, body: str, expected: str) -> None:
    path = write(tmp_path, f"[p]\n{body}\n", "profiles.toml")
    with pytest.raises(ConfigError, match=expected):
        load_profile("p", path)


def test_precedence_file_then_env_then_flags() -> None:
    smoke = load_profile("smoke")
    env = {"LOADGATE_USERS": "7", "LOADGATE_DURATION": "2m"}
    merged = apply_overrides(smoke, env, {"users": 9, "warmup_s": None})
    assert (merged.users, merged.duration_s, merged.warmup_s) == (9, 120.0, smoke.warmup_s)
    with pytest.raises(ConfigError, match="LOADGATE_USERS"):
        apply_overrides(smoke, {"LOADGATE_USERS": "many"}, {})


def test_target_budgets_override_profile_budgets_metric_by_metric(tmp_path: Path) -> None:
    profiles = write(
        tmp_path,
        "[p]\nusers=1\nspawn_rate=1\nduration='1s'\nuser_classes={A=1}\n"
        "[p.budgets]\n'*' = ['errors < 1%']\n'GET /a' = ['p95 < 10ms', 'p99 < 20ms']\n",
        "profiles.toml",
    )
    target = write(
        tmp_path,
        "base_url='http://127.0.0.1:9'\n[budgets.p]\n'GET /a' = ['p99 < 30ms']\n",
    )
    merged = {
        (b.endpoint, b.metric): b.limit
        for b in budgets_for(load_target(str(target)), load_profile("p", profiles))
    }
    assert merged == {("*", "errors"): 0.01, ("GET /a", "p95"): 10.0, ("GET /a", "p99"): 30.0}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("metrics_url = 'ftp://127.0.0.1:9/metrics'", "metrics_url: expected a http or https URL"),
        ("metrics_url = 'http://10.0.0.5/metrics'", "metrics_url: '10.0.0.5' is not a loopback"),
        ("metrics_url = 9", "metrics_url: expected str"),
    ],
)
def test_metrics_url_is_validated_like_the_other_urls(
    tmp_path: Path, line: str, expected: str
) -> None:
    path = write(tmp_path, f"base_url = 'http://127.0.0.1:9'\n{line}\n")
    with pytest.raises(ConfigError, match=expected) as err:
        load_target(str(path))
    assert str(path) in str(err.value)


def test_metrics_url_is_optional_and_the_bundled_targets_name_theirs(tmp_path: Path) -> None:
    plain = write(tmp_path, "base_url = 'http://127.0.0.1:9'\n")
    assert load_target(str(plain)).metrics_url is None
    for name in ("local", "local-pg", "running"):
        assert load_target(name).metrics_url == "{base_url}/metrics"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.2.1", True),  # all of 127.0.0.0/8
        ("::1", True),
        ("localhost", True),
        ("LocalHost", True),
        ("10.0.0.5", False),
        ("0.0.0.0", False),
        ("perf.example", False),
        ("", False),
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_audit_login_comes_from_the_target(tmp_path: Path) -> None:
    target = tmp_path / "t.toml"
    target.write_text(
        'base_url = "http://127.0.0.1:8000"\n'
        '[audit_login]\nurl = "{base_url}/auth/login"\nusername = "ops"\npassword = "s3cret"\n'
    )
    login = load_target(str(target)).audit_login
    assert login is not None and (login.username, login.password) == ("ops", "s3cret")
    target.write_text('base_url = "http://127.0.0.1:8000"\n[audit_login]\nurl = "x"\nuser = "a"\n')
    with pytest.raises(ConfigError, match=r"audit_login\.url: "):
        load_target(str(target))
    target.write_text('base_url = "http://127.0.0.1:8000"\n')
    assert load_target(str(target)).audit_login is None
