"""Uptime as people read it: as few decimals as tell the truth, never "100%" when there was downtime.

`uptime_text(up_seconds, known_seconds)`: "100%" only with no downtime at all; below 99% one decimal
("38.1%"); from 99% on, one decimal more than the run of nines after the point, up to three ("99.5%",
"99.95%", "99.98%", "99.999%"), trailing zeros dropped ("99.9%"). Figures are cut, not rounded, so a
little downtime never reads as more uptime than there was. Computed exactly, in integers (the floats'
own ratios: no rounding of the seconds, and no `fractions` import for the CLI).
"""

from __future__ import annotations

NO_DATA = "no data"
MAX_DECIMALS = 3
Share = tuple[int, int]
"""up / known as an exact (numerator, denominator)."""


def _cut(share: Share, decimals: int) -> int:
    """100 × share × 10^decimals, cut to an integer."""
    numerator, denominator = share
    return (100 * numerator * 10**decimals) // denominator


def _decimals(share: Share) -> int:
    finest = _cut(share, MAX_DECIMALS)
    if finest < 99 * 10**MAX_DECIMALS:
        return 1
    fraction = str(finest % 10**MAX_DECIMALS).rjust(MAX_DECIMALS, "0")
    nines = len(fraction) - len(fraction.lstrip("9"))
    return min(MAX_DECIMALS, nines + 1)


def uptime_text(up_seconds: float, known_seconds: float) -> str:
    """`up_seconds` of `known_seconds` as a percentage to read ("99.98%"); "no data" when nothing is known."""
    if known_seconds <= 0:
        return NO_DATA
    if up_seconds >= known_seconds:
        return "100%"
    up_n, up_d = max(up_seconds, 0.0).as_integer_ratio()
    known_n, known_d = float(known_seconds).as_integer_ratio()
    share = (up_n * known_d, up_d * known_n)
    decimals = _decimals(share)
    digits = str(_cut(share, decimals)).rjust(decimals + 1, "0")
    whole, fraction = digits[:-decimals], digits[-decimals:].rstrip("0")
    return f"{whole}.{fraction}%" if fraction else f"{whole}%"
