"""Exact-enough latency histograms: HDR (3 significant digits, microseconds), mergeable, encodable.

Locust keeps response times rounded to 2 significant digits above 100 ms and to whole
milliseconds below; we record every request in an HdrHistogram instead (0.1% worst-case
relative error) and read quantiles and their confidence intervals by rank.

>>> h = LatencyHistogram()
>>> for us in (1000, 2000, 3000):
...     _ = h.record(us)
>>> h.quantile(0.5)
2000
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from hdrh.histogram import HdrHistogram

from loadgate import stats

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour: anything slower is a hang, not a latency
SIGNIFICANT_DIGITS = 3


class LatencyHistogram:
    """HDR histogram of latencies in integer µs, plus a count of values out of range."""

    __slots__ = ("_cum", "_hdr", "out_of_range")

    def __init__(self, hdr: HdrHistogram | None = None, out_of_range: int = 0) -> None:
        self._hdr = (
            hdr if hdr is not None else HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
        )
        self.out_of_range = out_of_range
        self._cum: np.ndarray | None = None

    # --- recording -------------------------------------------------------------------------
    def record(self, value_us: int) -> bool:
        """Record one latency; returns False (and counts it) when it is outside the range."""
        self._cum = None
        value_us = max(
            value_us, LOWEST_US
        )  # sub-microsecond timings are real, just below resolution
        if value_us > HIGHEST_US or not self._hdr.record_value(value_us):
            self.out_of_range += 1
            return False
        return True

    def merge(self, other: LatencyHistogram) -> None:
        """Add every value of ``other`` into this histogram (exact: same bucket layout)."""
        self._cum = None
        self._hdr.add(other._hdr)
        self.out_of_range += other.out_of_range

    def reset(self) -> None:
        self._cum = None
        self._hdr.reset()
        self.out_of_range = 0

    # --- reading ---------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return int(self._hdr.get_total_count())

    @property
    def min_us(self) -> int:
        return int(self._hdr.get_min_value()) if self.count else 0

    @property
    def max_us(self) -> int:
        return int(self._hdr.get_max_value()) if self.count else 0

    @property
    def mean_us(self) -> float:
        return float(self._hdr.get_mean_value()) if self.count else 0.0

    def _cumulative(self) -> np.ndarray:
        if self._cum is None:
            counts = np.ctypeslib.as_array(self._hdr.counts)[: self._hdr.counts_len]
            self._cum = np.cumsum(counts, dtype=np.int64)
        return self._cum

    def value_at_rank(self, rank: int) -> int:
        """The ``rank``-th smallest value (1-based), as its bucket's highest equivalent value."""
        n = self.count
        if not 1 <= rank <= n:
            raise ValueError(f"rank {rank} outside 1..{n}")
        index = int(np.searchsorted(self._cumulative(), rank, side="left"))
        value = int(self._hdr.get_value_from_index(index))
        return min(int(self._hdr.get_highest_equivalent_value(value)), self.max_us)

    def quantile(self, p: float) -> int:
        """Nearest-rank p-quantile (0 < p <= 1) in µs; 0 for an empty histogram."""
        n = self.count
        if n == 0:
            return 0
        return self.value_at_rank(max(1, math.ceil(p * n)))

    def quantile_interval(self, p: float, confidence: float = 0.95) -> tuple[int, int] | None:
        """Distribution-free confidence interval of the p-quantile in µs; None if too few."""
        ranks = stats.quantile_rank_interval(self.count, p, confidence)
        if ranks is None:
            return None
        return self.value_at_rank(ranks[0]), self.value_at_rank(ranks[1])

    def distribution(self, points: int = 200) -> list[tuple[int, float]]:
        """(value µs, cumulative fraction) pairs for a CDF chart, at most ``points`` of them."""
        n = self.count
        if n == 0:
            return []
        fractions = np.linspace(0.0, 1.0, points + 1)[1:]
        out: list[tuple[int, float]] = []
        for f in fractions:
            value = self.quantile(float(f))
            if out and out[-1][0] == value:
                out[-1] = (value, float(f))
            else:
                out.append((value, float(f)))
        return out

    # --- wire format -----------------------------------------------------------------------
    def encode(self) -> str:
        """Compact base64 text (HdrHistogram's V2 compressed encoding)."""
        return str(self._hdr.encode().decode("ascii"))

    @classmethod
    def decode(cls, text: str, out_of_range: int = 0) -> LatencyHistogram:
        """Inverse of :meth:`encode`; raises ValueError on a corrupt blob."""
        try:
            hdr = HdrHistogram.decode(text.encode("ascii"))
        except Exception as exc:  # the codec raises a zoo of types on garbage
            raise ValueError(f"corrupt histogram encoding: {exc}") from exc
        return cls(hdr, out_of_range)

    @classmethod
    def of(cls, values_us: Iterable[int]) -> LatencyHistogram:
        """A histogram of the given values (tests and tools)."""
        h = cls()
        for v in values_us:
            h.record(int(v))
        return h
