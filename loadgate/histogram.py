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
_BATCH = 1024


class LatencyHistogram:
    """HDR histogram of latencies in integer µs, plus a count of values out of range."""

    __slots__ = ("_cum", "_hdr", "_pending", "out_of_range")

    def __init__(self, hdr: HdrHistogram | None = None, out_of_range: int = 0) -> None:
        self._hdr = (
            hdr if hdr is not None else HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
        )
        self.out_of_range = out_of_range
        self._cum: np.ndarray | None = None
        # Recording sits on the load generator's hot path: a request costs a list append, and
        # the values are folded into the HDR counts in vectorised batches (same buckets as
        # HdrHistogram.record_value, checked by the tests against it).
        self._pending: list[int] = []

    # --- recording -------------------------------------------------------------------------
    def record(self, value_us: int) -> bool:
        """Record one latency; returns False (and counts it) when it is above the range.

        Values beyond a smaller histogram's own range (the per-second ones) are counted as
        out of range when the batch is folded in.
        """
        if value_us > HIGHEST_US:
            self.out_of_range += 1
            return False
        # sub-microsecond timings are real, just below resolution
        self._pending.append(value_us if value_us >= LOWEST_US else LOWEST_US)
        if len(self._pending) >= _BATCH:
            self._fold()
        return True

    def _fold(self) -> None:
        """Fold the pending values into the HDR counts, vectorised."""
        if not self._pending:
            return
        values = np.asarray(self._pending, dtype=np.int64)
        self._pending = []
        self._add(values, 1)

    def record_many(self, values_us: np.ndarray, count: int) -> None:
        """Record every value of ``values_us`` ``count`` times (weighted recording)."""
        if count <= 0 or len(values_us) == 0:
            return
        self._fold()
        values = np.clip(np.asarray(values_us, dtype=np.int64), LOWEST_US, None)
        above = values > HIGHEST_US
        if above.any():
            self.out_of_range += int(above.sum()) * count
            values = values[~above]
        self._add(values, count)

    def _add(self, values: np.ndarray, count: int) -> None:
        self._cum = None
        h = self._hdr
        # bit length of (v | sub_bucket_mask), exact through frexp for values below 2**53
        bits = np.frexp((values | h.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
        bucket = bits - h.unit_magnitude - (h.sub_bucket_half_count_magnitude + 1)
        sub_bucket = values >> (bucket + h.unit_magnitude)
        index = ((bucket + 1) << h.sub_bucket_half_count_magnitude) + (
            sub_bucket - h.sub_bucket_half_count
        )
        inside = (index >= 0) & (index < h.counts_len)
        if not inside.all():
            self.out_of_range += int((~inside).sum()) * count
            values, index = values[inside], index[inside]
        if len(index) == 0:
            return
        counts = np.ctypeslib.as_array(h.counts)
        np.add.at(counts, index, count)
        h.total_count += len(index) * count
        h.min_value = min(h.min_value, int(values.min()))
        h.max_value = max(h.max_value, int(values.max()))

    def merge(self, other: LatencyHistogram) -> None:
        """Add every value of ``other`` into this histogram (exact: same bucket layout)."""
        self._fold()
        other._fold()
        self._cum = None
        self._hdr.add(other._hdr)
        self.out_of_range += other.out_of_range

    def reset(self) -> None:
        self._cum = None
        self._pending = []
        self._hdr.reset()
        self.out_of_range = 0

    # --- reading ---------------------------------------------------------------------------
    @property
    def count(self) -> int:
        self._fold()
        return int(self._hdr.get_total_count())

    @property
    def min_us(self) -> int:
        return int(self._hdr.get_min_value()) if self.count else 0  # count folds

    @property
    def max_us(self) -> int:
        return int(self._hdr.get_max_value()) if self.count else 0

    @property
    def mean_us(self) -> float:
        return float(self._hdr.get_mean_value()) if self.count else 0.0

    def _cumulative(self) -> np.ndarray:
        self._fold()
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
        self._fold()
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
