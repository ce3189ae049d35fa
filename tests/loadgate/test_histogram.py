"""Exact latency histograms: quantiles by rank, merging, encoding."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from loadgate.histogram import LatencyHistogram


def test_quantiles_match_exact_nearest_rank_within_hdr_precision() -> None:
    rng = np.random.default_rng(7)
    values = np.round(rng.lognormal(mean=9.0, sigma=0.6, size=20_000)).astype(int)
    h = LatencyHistogram.of(values)
    ordered = np.sort(values)
    for p in (0.5, 0.9, 0.95, 0.99, 0.999):
        exact = int(ordered[math.ceil(p * len(values)) - 1])
        assert h.quantile(p) == pytest.approx(exact, rel=1e-3)
    assert h.count == len(values)
    assert h.max_us == pytest.approx(int(ordered[-1]), rel=1e-3)


def test_merge_equals_one_histogram_of_all_samples() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.integers(100, 90_000, 5_000), rng.integers(2_000, 400_000, 3_000)
    merged = LatencyHistogram.of(a)
    merged.merge(LatencyHistogram.of(b))
    together = LatencyHistogram.of(np.concatenate([a, b]))
    for p in (0.5, 0.95, 0.99):
        assert merged.quantile(p) == together.quantile(p)
    assert merged.count == together.count


def test_encode_round_trip_and_corruption() -> None:
    h = LatencyHistogram.of([1, 50, 1_000, 250_000])
    back = LatencyHistogram.decode(h.encode(), out_of_range=2)
    assert back.count == 4 and back.quantile(0.99) == h.quantile(0.99)
    assert back.out_of_range == 2
    with pytest.raises(ValueError, match="corrupt histogram"):
        LatencyHistogram.decode("definitely not base64 hdr")


def test_out_of_range_values_are_counted_not_lost() -> None:
    h = LatencyHistogram()
    assert h.record(10**13) is False
    assert h.out_of_range == 1 and h.count == 0
    assert h.record(0) is True  # below resolution, recorded as 1 µs


def test_quantile_interval_needs_enough_samples() -> None:
    few = LatencyHistogram.of(range(1, 300))
    assert few.quantile_interval(0.99) is None
    many = LatencyHistogram.of(range(1, 10_001))
    low, high = many.quantile_interval(0.99) or (0, 0)
    assert low <= many.quantile(0.99) <= high
    assert 9_850 <= low < 9_900 < high <= 9_950


def test_distribution_is_monotone() -> None:
    h = LatencyHistogram.of(range(1, 5_000))
    points = h.distribution(50)
    assert points[-1][1] == pytest.approx(1.0)
    assert all(a[0] < b[0] and a[1] < b[1] for a, b in itertools.pairwise(points))


@pytest.mark.parametrize(
    ("lowest", "highest", "digits"), [(1, 3_600_000_000, 3), (1, 60_000_000, 2)]
)
def test_batched_recording_matches_hdrhistogram_bucket_for_bucket(
    lowest: int, highest: int, digits: int
) -> None:
    from hdrh.histogram import HdrHistogram

    rng = np.random.default_rng(5)
    edges = [1, 2, 1023, 1024, 1025, 2047, 2048, 4095, 4096, 65_535, 65_536, 10**6, highest]
    values = [*edges, *rng.integers(1, highest, 5_000).tolist(), *rng.lognormal(8, 2, 5_000)]
    values = [int(v) for v in values if 1 <= int(v) <= highest]
    reference = HdrHistogram(lowest, highest, digits)
    ours = LatencyHistogram(HdrHistogram(lowest, highest, digits))
    for v in values:
        reference.record_value(v)
        ours.record(v)
    assert ours.count == reference.get_total_count()
    assert ours.encode() == reference.encode().decode("ascii")
    assert (ours.min_us, ours.max_us) == (reference.get_min_value(), reference.get_max_value())
    beyond = LatencyHistogram(HdrHistogram(lowest, 60_000_000, 2))
    beyond.record(70_000_000)
    assert beyond.count == 0 and beyond.out_of_range == 1
