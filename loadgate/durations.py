"""Parsing the human units used in targets and profiles: durations, latencies, rates.

>>> parse_duration("1m30s")
90.0
>>> parse_latency_ms("250ms"), parse_latency_ms("0.5s")
(250.0, 500.0)
"""

from __future__ import annotations

import re

_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m(?!s))?\s*(?:(\d+(?:\.\d+)?)s)?\s*$"
)
_LATENCY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s)\s*$")


def parse_duration(value: object) -> float:
    """Seconds from ``45``, ``"45s"``, ``"2m"``, ``"1h30m"``; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like '45s' or '2m', got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        m = _DURATION.match(value)
        if not m or not any(m.groups()):
            raise ValueError(f"expected a duration like '45s', '2m' or '1h30m', got {value!r}")
        h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        seconds = h * 3600 + mi * 60 + s
    else:
        raise ValueError(f"expected a duration like '45s' or '2m', got {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    return seconds


def parse_latency_ms(value: str) -> float:
    """Milliseconds from ``"150ms"``, ``"0.25s"``, ``"800us"``; ValueError otherwise."""
    m = _LATENCY.match(value)
    if not m:
        raise ValueError(f"expected a latency like '150ms' or '0.5s', got {value!r}")
    number, unit = float(m.group(1)), m.group(2)
    return {"us": number / 1000, "µs": number / 1000, "ms": number, "s": number * 1000}[unit]


def format_ms(ms: float) -> str:
    """A latency for people: ``0.84 ms``, ``12.3 ms``, ``245 ms``, ``2.31 s``."""
    number, unit = ms_parts(ms)
    return f"{number} {unit}"


def ms_parts(ms: float) -> tuple[str, str]:
    """:func:`format_ms` as its number and unit: ``('2.31', 's')``."""
    if ms >= 1000:
        return f"{ms / 1000:.2f}", "s"
    if ms >= 100:
        return f"{ms:.0f}", "ms"
    if ms >= 10:
        return f"{ms:.1f}", "ms"
    return f"{ms:.2f}", "ms"
