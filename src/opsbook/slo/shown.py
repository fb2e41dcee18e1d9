"""SLO figures as people read them, the same on the command line, the pages and the status page: the
SLI as uptime is shown everywhere (`statuspage.figures.uptime_text`: cut, never rounded up), the budget
left in percent (negative once overspent), burn rates as multiples."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig
from opsbook.config.types import format_duration
from opsbook.slo.budget import Availability, Objective
from opsbook.slo.config import SloConfig
from opsbook.slo.latency import LatencyShare
from opsbook.statuspage.figures import NO_DATA, uptime_text
from opsbook.statuspage.snapshot import PublicObjective


def sli_text(figures: Objective | None) -> str:
    if isinstance(figures, Availability):
        return uptime_text(float(figures.good_us), float(figures.eligible_us))
    if isinstance(figures, LatencyShare):
        return uptime_text(float(figures.good), float(figures.total))
    return NO_DATA


def budget_text(left: Fraction | None) -> str:
    """`73.4%` of the budget left, `-12.0%` once overspent; cut toward less budget, never rounded up."""
    if left is None:
        return NO_DATA
    tenths = (left * 1000).__floor__()
    sign = "-" if tenths < 0 else ""
    return f"{sign}{abs(tenths) // 10}.{abs(tenths) % 10}%"


def budget_words(left: Fraction | None) -> str:
    """`73.4% of the error budget left`, `error budget overspent by 12.0%`, as a message says it."""
    if left is None:
        return "nothing measured yet"
    if left < 0:
        return f"error budget overspent by {budget_text(left).removeprefix('-')}"
    return f"{budget_text(left)} of the error budget left"


def rate_text(rate: Fraction | None) -> str:
    return "—" if rate is None else f"{float(rate):.2f}×"


def availability_objective(slo: SloConfig) -> str:
    return f"{slo.availability}% up over {format_duration(slo.window)}"


def latency_objective(slo: SloConfig) -> str:
    assert slo.latency is not None
    return (
        f"{slo.latency.target}% under {format_duration(slo.latency.below)} over {format_duration(slo.window)}"
    )


def maintenance_words(slo: SloConfig) -> str:
    """How the objective treats the service's maintenance, as a phrase."""
    if slo.maintenance == "exclude":
        return "maintenance left out"
    return "downtime in maintenance counted"


def window_words(slo: SloConfig) -> str:
    """The window as the public reads it: "30 days", "1 week", "12 hours"."""
    seconds = int(slo.window.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return format_duration(slo.window)


def public_objectives(session: Session, config: OpsbookConfig, now: datetime) -> dict[str, PublicObjective]:
    """The status page's line of each public service with an availability objective."""
    from opsbook.slo.service import public_uptime

    return {
        name: PublicObjective(window_words(slo), sli_text(figures), f"{slo.availability}%", figures.met)
        for name, (slo, figures) in public_uptime(session, config, now).items()
    }
