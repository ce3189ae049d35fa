"""The gate policy: how strict the regression gate is. Read from the target, the profile and
the command line at judgement time; a result records the one it was judged with.

>>> GatePolicy(alpha=0.05).differences(GatePolicy())
['alpha 0.01 (now 0.05)']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_GATED_QUANTILES", "GatePolicy"]

# The median catches a shift of the whole distribution (the common regression) with a
# fraction of the tails' run-to-run noise; P95 and P99 catch what happens only in the tail.
DEFAULT_GATED_QUANTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class GatePolicy:
    """How strict the regression gate is: the material effect (default and per endpoint), the
    significance level, the gated quantiles, and whether other machines' baselines count."""

    min_effect: float = 0.10
    min_effects: Mapping[str, float] = field(default_factory=dict)
    alpha: float = 0.01
    confidence: float = 0.95
    quantiles: tuple[float, ...] = DEFAULT_GATED_QUANTILES
    force_compare: bool = False
    # a material rise inside a baseline's noise band this wide is said, not flagged (warn)
    max_detectable: float = 0.50
    # the share of alpha the critical journeys (endpoints with a latency budget) hold
    critical_share: float = 0.8

    def effect_for(self, endpoint: str) -> float:
        return self.min_effects.get(endpoint, self.min_effect)

    @classmethod
    def from_profile(cls, profile: Mapping[str, Any], force_compare: bool = False) -> GatePolicy:
        """The policy of a profile (``dataclasses.asdict`` of one, or a result's record)."""
        quantiles = profile.get("quantiles") or DEFAULT_GATED_QUANTILES
        return cls(
            min_effect=float(profile.get("min_effect", 0.10)),
            min_effects={str(k): float(v) for k, v in (profile.get("min_effects") or {}).items()},
            alpha=float(profile.get("alpha", 0.01)),
            confidence=float(profile.get("confidence", 0.95)),
            quantiles=tuple(float(q) for q in quantiles),
            force_compare=force_compare,
            max_detectable=float(profile.get("max_detectable", 0.50)),
            critical_share=float(profile.get("critical_share", 0.8)),
        )

    def to_dict(self) -> dict[str, Any]:
        """What a result records it was judged with (``from_profile`` reads it back)."""
        return {
            "min_effect": self.min_effect,
            "min_effects": dict(self.min_effects),
            "alpha": self.alpha,
            "confidence": self.confidence,
            "quantiles": list(self.quantiles),
            "max_detectable": self.max_detectable,
            "critical_share": self.critical_share,
        }

    def differences(self, other: GatePolicy) -> list[str]:
        """``alpha 0.05 (now 0.01)``-style notes where ``other`` (the earlier) differs."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [f"{k} {theirs[k]} (now {v})" for k, v in mine.items() if theirs[k] != v]
