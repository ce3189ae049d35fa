"""Within one run: distribution-free quantile intervals from order statistics, and the Wilson
interval for error rates."""

from __future__ import annotations

import math

from scipy import stats as _sp

from loadgate.stats._common import (
    check_probability,
)


def min_samples_for_interval(p: float, confidence: float = 0.95) -> int:
    """Fewest samples for which :func:`quantile_rank_interval` exists.

    The equal-tailed interval needs each tail to miss with probability at most
    ``(1 - confidence) / 2``; the widest interval ``[X(1), X(n)]`` misses above with
    probability ``p**n`` (and below with ``(1-p)**n``), so
    ``n >= ln((1 - confidence) / 2) / ln(max(p, 1 - p))``.

    >>> min_samples_for_interval(0.95), min_samples_for_interval(0.99)
    (72, 368)
    >>> min_samples_for_interval(0.999)
    3688
    """
    check_probability("p", p)
    check_probability("confidence", confidence)
    tail = (1.0 - confidence) / 2.0
    q = max(p, 1.0 - p)
    n = max(1, math.ceil(math.log(tail) / math.log(q)))
    # The logarithm can land a hair either side of an integer; settle it exactly.
    while n > 1 and q ** (n - 1) <= tail:
        n -= 1
    while q**n > tail:
        n += 1
    return n


def quantile_rank_interval(n: int, p: float, confidence: float = 0.95) -> tuple[int, int] | None:
    """Distribution-free confidence interval for the p-quantile, as 1-based ranks.

    With ``n`` sorted samples ``X(1) <= ... <= X(n)`` from a continuous distribution,
    ``P(X(r) <= q_p <= X(s)) = B(s-1; n, p) - B(r-1; n, p)`` (B = binomial CDF). The
    interval is equal-tailed: ``r`` is the largest rank with ``P(X(r) > q_p) <= a/2`` and
    ``s`` the smallest with ``P(X(s) < q_p) <= a/2``, where ``a = 1 - confidence``. That
    is the narrowest interval with both tails bounded by ``a/2``, so the coverage is at
    least ``confidence`` (more for small ``n``, because ranks are discrete).

    Returns ``None`` when ``n < min_samples_for_interval(p, confidence)``. Read the
    values at these ranks from the sorted samples (or an HDR histogram).

    >>> quantile_rank_interval(1000, 0.95)
    (936, 964)
    >>> quantile_rank_interval(71, 0.95) is None
    True
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    if n < min_samples_for_interval(p, confidence):
        return None
    tail = (1.0 - confidence) / 2.0
    # Normal approximation (continuity-corrected) lands within a few ranks of the exact
    # answer even at n = 1e7; the exact binomial walk then costs a handful of CDF calls.
    z = float(_sp.norm.ppf(1.0 - tail))
    centre, sd = n * p, math.sqrt(n * p * (1.0 - p))
    below = _largest_k_with_cdf_at_most(n, p, tail, round(centre - z * sd - 0.5))
    above = _smallest_k_with_sf_at_most(n, p, tail, round(centre + z * sd - 0.5))
    # B(r-1) <= tail  ->  r = below + 1;  1 - B(s-1) <= tail  ->  s = above + 1.
    # Clamping only matters if scipy's tails disagree with q**n in the last bit.
    return max(1, below + 1), min(n, above + 1)


def _largest_k_with_cdf_at_most(n: int, p: float, level: float, start: int) -> int:
    """Largest k in [-1, n] with B(k; n, p) <= level (B(-1) = 0)."""
    k = min(max(start, -1), n)
    while k >= 0 and float(_sp.binom.cdf(k, n, p)) > level:
        k -= 1
    while k < n and float(_sp.binom.cdf(k + 1, n, p)) <= level:
        k += 1
    return k


def _smallest_k_with_sf_at_most(n: int, p: float, level: float, start: int) -> int:
    """Smallest k in [0, n] with 1 - B(k; n, p) <= level (sf(n) = 0)."""
    k = min(max(start, 0), n)
    while k < n and float(_sp.binom.sf(k, n, p)) > level:
        k += 1
    while k > 0 and float(_sp.binom.sf(k - 1, n, p)) <= level:
        k -= 1
    return k


# ------------------------------------------------------------------ error-rate interval


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval for a proportion ``k / n`` (e.g. an error rate).

    Unlike the textbook ``p ± z·sqrt(p(1-p)/n)`` it stays inside [0, 1] and does not
    collapse to zero width when no errors were seen. ``n == 0`` gives ``(0.0, 1.0)``.

    >>> lo, hi = wilson_interval(0, 20)
    >>> lo, round(hi, 4)
    (0.0, 0.1611)
    """
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k!r}, n={n!r}")
    check_probability("confidence", confidence)
    if n == 0:
        return 0.0, 1.0
    z = float(_sp.norm.ppf(0.5 + confidence / 2.0))
    z2 = z * z
    centre = (k + z2 / 2.0) / (n + z2)
    half = z / (n + z2) * math.sqrt(k * (n - k) / n + z2 / 4.0)
    # At k = 0 or k = n the formula hits the boundary exactly; floats may overshoot it.
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high
