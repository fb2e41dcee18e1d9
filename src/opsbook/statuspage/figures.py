"""Uptime as people read it: as few decimals as tell the truth, never "100%" when there was downtime.

`uptime_text(up_seconds, known_seconds)`: "100%" only with no downtime at all; below 99% one decimal
("38.1%"); from 99% on, one decimal more than the run of nines after the point, up to three ("99.5%",
"99.95%", "99.98%", "99.999%"), trailing zeros dropped ("99.9%"). Figures are cut, not rounded, so a
little downtime never reads as more uptime than there was. Computed exactly (fractions of the seconds).
"""

from __future__ import annotations

from fractions import Fraction
from math import floor

NO_DATA = "no data"
MAX_DECIMALS = 3


def _cut(share: Fraction, decimals: int) -> int:
    """100 × share × 10^decimals, cut to an integer."""
    return floor(100 * share * 10**decimals)


def _decimals(share: Fraction) -> int:
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
    share = Fraction(max(up_seconds, 0.0)) / Fraction(known_seconds)
    decimals = _decimals(share)
    digits = str(_cut(share, decimals)).rjust(decimals + 1, "0")
    whole, fraction = digits[:-decimals], digits[-decimals:].rstrip("0")
    return f"{whole}.{fraction}%" if fraction else f"{whole}%"
