"""Validation of request input: bodies, query parameters, path ids and cursors.

Every function raises a DomainError (400/404/413/422) for bad input, so no input can
reach storage in a shape that would make it fail with a 500.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping

import orjson
from starlette.requests import Request

from sut.domain import DomainError, InvalidRequest, NotFound

MAX_ID = 2**53  # far beyond any row, far inside SQLite's 64-bit integers
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
_CURSOR = re.compile(r"^([a-z]):(\d{1,16})$")
_DIGITS = re.compile(r"^\d{1,16}$")


async def read_json(request: Request, max_bytes: int) -> dict[str, object]:
    """Read a bounded JSON object body; 413 if too large, 400 if not a JSON object."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise DomainError(413, "payload_too_large", f"body exceeds {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise DomainError(413, "payload_too_large", f"body exceeds {max_bytes} bytes")
        chunks.append(chunk)
    try:
        body = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise DomainError(400, "invalid_json", "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("body must be a JSON object")
    return body


def field_int(body: Mapping[str, object], name: str) -> int:
    """A required positive integer id field."""
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{name} must be an integer")
    if not 1 <= value <= MAX_ID:
        raise InvalidRequest(f"{name} is out of range")
    return value


def field_number(body: Mapping[str, object], name: str, low: float, high: float) -> float:
    """A required finite number within [low, high]."""
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(f"{name} must be a number")
    number = float(value) if abs(value) < 1e300 else math.inf
    if not (math.isfinite(number) and low <= number <= high):
        raise InvalidRequest(f"{name} must be between {low:g} and {high:g}")
    return number


def field_money(body: Mapping[str, object], name: str, low_cents: int, high_cents: int) -> int:
    """A required amount in major units with at most 2 decimals, returned in cents."""
    number = field_number(body, name, low_cents / 100, high_cents / 100)
    cents = round(number * 100)
    if abs(number * 100 - cents) > 1e-6:
        raise InvalidRequest(f"{name} must have at most 2 decimals")
    return cents


def field_str(body: Mapping[str, object], name: str, max_len: int) -> str:
    """A required non-empty printable string of bounded length."""
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{name} must be a non-empty string")
    if len(value) > max_len:
        raise InvalidRequest(f"{name} must be at most {max_len} characters")
    if not value.isprintable() or not _encodable(value):
        raise InvalidRequest(f"{name} must be printable text")
    return value


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def path_id(request: Request, name: str = "id") -> int:
    """A numeric path id; anything else cannot exist, so 404."""
    raw = str(request.path_params.get(name, ""))
    if not _DIGITS.match(raw) or not 1 <= int(raw) <= MAX_ID:
        raise NotFound(f"no object with id {raw[:40]!r}")
    return int(raw)


def query_limit(request: Request) -> int:
    """The ``limit`` query parameter: 1..200, default 50."""
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not _DIGITS.match(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be an integer 1..{MAX_LIMIT}", code="invalid_limit")
    return int(raw)


def encode_cursor(kind: str, last_id: int) -> str:
    """An opaque keyset cursor (the last id seen, tagged with the list kind)."""
    return base64.urlsafe_b64encode(f"{kind}:{last_id}".encode()).decode().rstrip("=")


def query_cursor(request: Request, kind: str) -> int:
    """Decode the ``cursor`` query parameter to the last id seen (0 when absent)."""
    raw = request.query_params.get("cursor")
    if raw is None or raw == "":
        return 0
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise InvalidRequest("cursor is malformed", code="invalid_cursor") from None
    match = _CURSOR.match(text)
    if len(raw) > 64 or match is None or match[1] != kind:
        raise InvalidRequest("cursor is malformed", code="invalid_cursor")
    return int(match[2])


def next_cursor(kind: str, ids: list[int], limit: int) -> str | None:
    """The cursor for the page after ``ids``, or None when this was the last page."""
    return encode_cursor(kind, ids[-1]) if len(ids) == limit else None


def query_choice(request: Request, name: str, choices: frozenset[str]) -> str | None:
    """An optional enumerated query parameter (e.g. ``sport``)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw not in choices:
        shown = raw[:40]
        raise InvalidRequest(f"{name} {shown!r} is not one of {sorted(choices)}", "invalid_filter")
    return raw
