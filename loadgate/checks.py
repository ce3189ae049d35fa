"""A check: one finding of the verdict, with what it decided as typed fields and a plain sentence.

Every report format reads the fields; none parses the name or the sentence.

>>> c = Check("budget", "POST /bets p99 < 250 ms", "pass", "POST /bets p99 is 31 ms ...",
...           endpoint="POST /bets", metric="p99", quantile=0.99, value=31.0, threshold=250.0)
>>> c.kind, c.metric, c.threshold
('budget', 'p99', 250.0)
>>> Check("paired", "POST /bets p50 A/B", "fail", "...", ratio=1.3).kind
'regression'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CheckStatus = Literal["pass", "warn", "fail", "invalid"]
Kind = Literal["validity", "budget", "regression"]
# how a check decided: the run's validity, an absolute budget, against a stored baseline (or
# another result), or against the base revision in paired A/B runs
Mode = Literal["validity", "budget", "baseline", "paired"]

__all__ = ["Check", "CheckStatus", "Kind", "Mode", "quantile_metric"]


def quantile_metric(q: float) -> str:
    """The name of a quantile as budgets and reports write it.

    >>> quantile_metric(0.99), quantile_metric(0.5), quantile_metric(0.999)
    ('p99', 'p50', 'p99.9')
    """
    return f"p{q * 100:g}"


@dataclass(frozen=True)
class Check:
    """One check: its mode, what it measured against what, the outcome, and a sentence.

    Units: ``value``, ``reference`` and ``threshold`` are in the metric's unit (ms for a
    quantile, a fraction for the error rate, a count for samples or users). ``ratio`` is the
    change the decision judged (the value over the reference; head over base in paired runs).
    ``interval`` is the interval the decision used: of the value for a budget, of the ratio
    against a baseline or a base revision; ``interval_label`` says which ("90% bounds",
    "noise band", ...).
    """

    mode: Mode
    name: str
    status: CheckStatus
    message: str  # the sentence
    endpoint: str | None = None
    metric: str | None = None  # "p99", "errors"
    quantile: float | None = None  # 0.99 for p99; None for the error rate and validity
    value: float | None = None
    reference: float | None = None  # the baseline's centre (or one baseline run)
    # a budget's ceiling; the samples or users needed; for a regression check the material
    # change as a ratio (1.10: a rise of at least 10% matters)
    threshold: float | None = None
    ratio: float | None = None
    interval: tuple[float, float] | None = None
    interval_label: str | None = None
    # regression checks: pass / regression / improvement / inconclusive / not gated
    outcome: str | None = None
    # what a regression check compared with, in words: "the baseline of 2026-11-30 (5 runs)"
    against: str | None = None

    @property
    def kind(self) -> Kind:
        """The part of the verdict the check belongs to: baseline and paired checks are the
        regression part."""
        match self.mode:
            case "validity" | "budget" as kind:
                return kind
            case _:
                return "regression"
