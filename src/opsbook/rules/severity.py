"""Severity levels P0 (most urgent) to P4, as the example runbooks define them.

- P0 critical: production down, data breach, security incident (acknowledge within 5 minutes)
- P1 high: major functionality broken, performance severely degraded (15 minutes)
- P2 medium: minor functionality broken, workaround available (1 hour)
- P3 low: cosmetic issues (next business day)
- P4 planning: technical debt, log only
"""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @property
    def rank(self) -> int:
        """0 for P0 (most urgent) … 4 for P4."""
        return int(self.value[1])

    def at_least(self, other: Severity) -> bool:
        """True if this severity is as urgent as `other` or more (P0 is at least P2)."""
        return self.rank <= other.rank

    @classmethod
    def parse(cls, value: str) -> Severity:
        """'P1', 'p1' or '1' → Severity.P1; ValueError naming the valid levels otherwise."""
        text = str(value).strip().upper()
        if text.isdigit():
            text = "P" + text
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a severity; use one of P0, P1, P2, P3, P4") from None
