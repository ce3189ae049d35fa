"""Atomic writes and strict reads of the harness's files (results, baselines, reports).

A half-written file must never replace a good one: write to a temp file beside the
target, fsync, then rename over it. A file that cannot be parsed is a hard error that
names it, never a warning and a skip.

>>> write_text_atomic(Path("/tmp/x.json"), "{}")
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from loadgate.errors import DataError


def write_text_atomic(path: Path, text: str, durable: bool = True) -> None:
    """Write ``text`` to ``path`` so that readers see either the old file or the whole new one.

    ``durable=False`` skips the fsync: for throw-away files rewritten every second (the live
    progress), where a millisecond-long disk flush would stall the load generator."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); a report or baseline is for sharing
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    """Pretty, key-sorted JSON (stable diffs in merge requests), written atomically."""
    write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """Read a JSON object or raise DataError naming ``path`` and what it was supposed to be."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read {what}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: corrupt {what}: {exc}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: corrupt {what}: expected a JSON object")
    return data
