"""Shared pieces of the statistics: validation, logs, spreads, t tails, the material-and-
significant rule. Private to ``loadgate.stats``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import special as _special

Outcome = Literal["pass", "regression", "improvement", "inconclusive"]
Decision = Literal["regression", "pass", "continue", "inconclusive", "improvement"]

# Below this a sample standard deviation is rounding noise from logs of equal ratios
# (ln(a·r) - ln(a) is not bit-identical across a); treat it as exactly zero so that
# "no spread" gives clean infinities instead of t-statistics of 1e-17 / 1e-17.
_ZERO_SPREAD = 1e-12
_RATIO_SLACK = 1e-9


def check_probability(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")


def check_min_effect(min_effect: float) -> None:
    if not (min_effect >= 0.0 and math.isfinite(min_effect)):
        raise ValueError(f"min_effect must be a finite number >= 0, got {min_effect!r}")


def logs(name: str, values: Sequence[float]) -> npt.NDArray[np.float64]:
    """Natural logs of strictly positive finite values (latencies, rates)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or not np.all(np.isfinite(arr)) or not np.all(arr > 0.0):
        raise ValueError(f"{name} must be finite values > 0, got {list(values)!r}")
    out: npt.NDArray[np.float64] = np.log(arr)
    return out


def log(name: str, value: float) -> float:
    return float(logs(name, [value])[0])


def geometric_mean(values: Sequence[float]) -> float:
    """The centre of run-level values on the log scale the tests use.

    >>> geometric_mean([1.0, 4.0])
    2.0
    """
    return math.exp(sum(math.log(v) for v in values) / len(values))


def spread(logs: npt.NDArray[np.float64]) -> float:
    """Sample standard deviation (ddof=1), with rounding noise snapped to zero."""
    sd = float(np.std(logs, ddof=1))
    return 0.0 if sd <= _ZERO_SPREAD else sd


def pct(ratio: float) -> str:
    """A change as people read it: a percentage, or a factor once it is twofold or more.

    >>> pct(1.139), pct(0.8), pct(2.0), pct(43.16)
    ('+13.9%', '-20.0%', '×2.00', '×43.2')
    """
    if ratio >= 2.0:
        return f"×{ratio:.3g}" if ratio >= 10 else f"×{ratio:.2f}"
    return f"{(ratio - 1.0) * 100.0:+.1f}%"


def material_rise(ratio: float, min_effect: float) -> bool:
    # Relative slack so that exactly "+10%" counts as +10%: ln(110) - ln(100) comes
    # back from exp() as 1.0999999999999999.
    return ratio >= (1.0 + min_effect) * (1.0 - _RATIO_SLACK)


def material_fall(ratio: float, min_effect: float) -> bool:
    return ratio <= (1.0 + _RATIO_SLACK) / (1.0 + min_effect)


def classify(ratio: float, min_effect: float, *, above: bool, below: bool) -> Outcome:
    """Shared rule: fail only when material AND significant (DESIGN §8, asv's rule).

    A material rise that is not significant is "inconclusive" (we cannot rule out a
    regression); a material fall that is not significant is a plain pass, since
    "inconclusive" exists to warn about possible regressions only.
    """
    rise, fall = material_rise(ratio, min_effect), material_fall(ratio, min_effect)
    if rise and above:
        return "regression"
    if fall and below:
        return "improvement"
    if rise:
        return "inconclusive"
    return "pass"


def t_tails(diff: float, scale: float, df: float) -> tuple[float, float]:
    """One-sided p-values (upper, lower) of ``diff / scale`` under a t(df) null.

    Zero scale (no spread at all) is handled without dividing: any difference is then
    certain, and no difference is a coin toss, as for t = 0.
    """
    if scale == 0.0:
        if diff == 0.0:
            return 0.5, 0.5
        return (0.0, 1.0) if diff > 0.0 else (1.0, 0.0)
    t = diff / scale
    # upper and lower separately rather than 1 - p: the small tail keeps its precision.
    # scipy.special's t CDF is what scipy.stats.t calls, without its per-call overhead
    # (the gate tests dozens of metrics, its simulations hundreds of thousands).
    return float(_special.stdtr(df, -t)), float(_special.stdtr(df, t))


def t_ppf(q: float, df: float) -> float:
    """The q-quantile of Student's t with ``df`` degrees of freedom (``scipy.stats.t.ppf``).

    >>> round(t_ppf(0.99, 4), 3)
    3.747
    """
    return float(_special.stdtrit(df, q))
