"""A check: one named finding of the verdict, with its numbers and a plain sentence.

>>> Check("validity", "run completed", "pass", "The run completed as planned.").status
'pass'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CheckStatus = Literal["pass", "warn", "fail", "invalid"]
Kind = Literal["validity", "budget", "regression"]

__all__ = ["Check", "CheckStatus", "Kind"]


@dataclass(frozen=True)
class Check:
    """One named check with its numbers and a plain sentence saying what it found."""

    kind: Kind
    name: str
    status: CheckStatus
    message: str
    endpoint: str | None = None
    observed: float | None = None
    limit: float | None = None
    interval: tuple[float, float] | None = None
    outcome: str | None = None  # regression checks: pass / regression / improvement / inconclusive
    # what ``interval`` is, as the decision used it ("90% bounds", "noise band", ...)
    interval_label: str | None = None
