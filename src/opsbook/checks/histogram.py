"""A small fixed latency histogram, so percentiles over any window can be answered from rollups.

Bucket bounds are log-spaced from 1 ms to 60 s; the last bucket holds everything slower. Histograms
of minutes merge into hours by adding counts; percentiles interpolate within the bucket and are clamped
to the observed min and max, so the error is bounded by the bucket's width.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence

BOUNDS_MS: tuple[float, ...] = (
    1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 400, 500, 750,
    1000, 1500, 2000, 3000, 5000, 7500, 10000, 15000, 30000, 60000,
)  # fmt: skip
SIZE = len(BOUNDS_MS) + 1


def empty() -> list[int]:
    return [0] * SIZE


def bucket_of(latency_ms: float) -> int:
    """Index of the first bucket whose upper bound is >= latency."""
    return bisect.bisect_left(BOUNDS_MS, latency_ms)


def add(hist: list[int], latencies: Iterable[float]) -> list[int]:
    for value in latencies:
        hist[bucket_of(value)] += 1
    return hist


def merge(a: Sequence[int], b: Sequence[int]) -> list[int]:
    if not a:
        return list(b)
    if not b:
        return list(a)
    return [x + y for x, y in zip(a, b, strict=True)]


def percentile(
    hist: Sequence[int], q: float, lo: float | None = None, hi: float | None = None
) -> float | None:
    """The q-quantile (0..1) estimated from bucket counts; None when the histogram is empty."""
    total = sum(hist)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(hist):
        if count == 0:
            continue
        if seen + count >= rank:
            lower = BOUNDS_MS[i - 1] if i > 0 else 0.0
            upper = BOUNDS_MS[i] if i < len(BOUNDS_MS) else (hi if hi is not None else lower * 2)
            if lo is not None:
                lower = max(lower, lo)
            if hi is not None:
                upper = min(upper, hi)
            upper = max(upper, lower)
            fraction = (rank - seen) / count
            return lower + (upper - lower) * fraction
        seen += count
    return hi


def sparse(hist: Sequence[int]) -> dict[str, int]:
    """The non-zero buckets only, as stored (a fast check fills two or three of thirty)."""
    return {str(i): c for i, c in enumerate(hist) if c}


def dense(stored: Mapping[str, int] | Sequence[int] | None) -> list[int]:
    if not stored:
        return empty()
    if isinstance(stored, Mapping):
        hist = empty()
        for index, count in stored.items():
            hist[int(index)] += int(count)
        return hist
    return list(stored)
