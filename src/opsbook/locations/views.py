"""What the check page, the API and `opsbook status` show of a check probed from several locations: each
location's newest result (and whether it still counts), and the verdict as of now, naming the locations
that disagree ("down from ap only"). A check no location has reported yet has no view (on SQLite a check
with locations runs once, unnamed, and looks like any check)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from opsbook.locations.combine import location_reports
from opsbook.locations.quorum import Verdict, fresh_for, is_fresh, verdict
from opsbook.locations.units import located


@dataclass(frozen=True)
class LocationLine:
    location: str
    status: str | None  # its newest result's; None: no result yet
    last_ts: datetime | None
    latency_ms: float | None
    message: str
    reporting: bool  # its newest result is fresh enough to count
    agrees: bool  # reporting, and its result is the verdict's


@dataclass(frozen=True)
class LocatedView:
    check_id: str
    quorum: str  # "2 of 3"
    verdict: Verdict
    lines: list[LocationLine]

    @property
    def summary(self) -> str:
        return self.verdict.message

    @property
    def disagreeing(self) -> list[str]:
        return list(self.verdict.disagreeing)


def located_views(
    session: Session, checks: Mapping[str, Any], check_ids: Iterable[str], now: datetime
) -> dict[str, LocatedView]:
    """The views of those of `check_ids` that list locations (one query for all)."""
    specs = {cid: spec for cid, spec in located(checks).items() if cid in set(check_ids)}
    reports = location_reports(session, {cid: spec.locations for cid, spec in specs.items()})
    out: dict[str, LocatedView] = {}
    for check_id, spec in specs.items():
        bound = fresh_for(spec.interval, spec.timeout)
        latest = reports.get(check_id, {})
        if not any(latest.values()):
            continue  # never probed per location (SQLite runs it once, unnamed; or no worker yet)
        found = verdict(spec.locations, spec.quorum, latest, now, bound)
        lines = []
        for location in spec.locations:
            report = latest.get(location)
            fresh = is_fresh(report, now, bound)
            lines.append(LocationLine(
                location, report.status if report else None, report.ts if report else None,
                report.latency_ms if report else None, report.message if report else "", fresh,
                fresh and location not in found.disagreeing,
            ))
        out[check_id] = LocatedView(check_id, spec.quorum.text, found, lines)
    return out
