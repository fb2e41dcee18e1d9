"""Monthly SLA reports: per service, its uptime over a calendar month of the team's zone, the minutes it
was down (and in maintenance), the incidents opened about it, and whether it met its availability
target, as Markdown and CSV. A month not over yet is reported up to now and says so.

Figures are those of the SLO (`slo.budget`): uptime is the up share of the time its state was known,
maintenance left out unless its SLO says `maintenance: count`; services without an SLO are measured the
same way over all their enabled checks, with no target.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.config.schema import OpsbookConfig
from opsbook.errors import Invalid
from opsbook.incidents.models import IncidentRow
from opsbook.slo import history
from opsbook.slo.budget import Availability, measure
from opsbook.slo.config import SloConfig, ratio
from opsbook.slo.service import counts, read_log
from opsbook.slo.timeline import SECOND, inside, micros
from opsbook.statuspage.figures import uptime_text
from opsbook.timefmt import show_time

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
COLUMNS = (
    "service",
    "target_percent",
    "uptime_percent",
    "uptime",
    "downtime_minutes",
    "maintenance_minutes",
    "incidents",
    "target_met",
)


@dataclass(frozen=True)
class SlaRow:
    service: str
    target: Decimal | None
    availability: Availability
    maintenance_us: int
    incidents: int

    @property
    def uptime(self) -> str:
        return uptime_text(float(self.availability.good_us), float(self.availability.eligible_us))

    @property
    def uptime_percent(self) -> str:
        """The exact share, cut (not rounded) to 4 decimals: never more uptime than there was."""
        sli = self.availability.sli
        return "" if sli is None else f"{Decimal(int(sli * 10**6)) / 10**4:.4f}"

    @property
    def downtime_minutes(self) -> str:
        return _minutes(self.availability.bad_us)

    @property
    def maintenance_minutes(self) -> str:
        return _minutes(self.maintenance_us)

    @property
    def met(self) -> str:
        if self.target is None:
            return ""
        met = self.availability.met
        return "no data" if met is None else "yes" if met else "no"


def _minutes(us: int) -> str:
    return str((Decimal(us) / (60 * SECOND)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class SlaReport:
    month: str
    zone: str
    start: datetime
    end: datetime
    complete: bool
    rows: list[SlaRow]

    @property
    def title(self) -> str:
        name = self.start.astimezone(ZoneInfo(self.zone)).strftime("%B %Y")
        return f"SLA report, {name}" + ("" if self.complete else " (to date)")


def month_bounds(month: str, zone: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of `YYYY-MM` in `zone`."""
    found = MONTH.match(month.strip())
    if not found:
        raise Invalid(f"{month!r} is not a month: write it as YYYY-MM, e.g. 2026-11")
    year, number = int(found.group(1)), int(found.group(2))
    tz = ZoneInfo(zone)
    start = datetime(year, number, 1, tzinfo=tz)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return start, end


def this_month(now: datetime, zone: str) -> str:
    """`YYYY-MM` of `now` in `zone`."""
    return now.astimezone(ZoneInfo(zone)).strftime("%Y-%m")


def _incidents(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    found: dict[str, int] = {}
    rows = session.execute(
        select(IncidentRow.service, IncidentRow.services).where(
            IncidentRow.opened_at >= start, IncidentRow.opened_at < end
        )
    )
    for main, others in rows:
        names: set[str] = {n for n in (main, *(others or [])) if n}
        for name in names:
            found[name] = found.get(name, 0) + 1
    return found


def sla_report(session: Session, config: OpsbookConfig, month: str, now: datetime) -> SlaReport:
    """The report of `month` (YYYY-MM, the team's zone) as it stands at `now`."""
    start, end = month_bounds(month, config.timezone)
    if start >= now:
        raise Invalid(f"{month} has not begun yet")
    stop = min(end, now)
    slos = {s.service: s for s in config.slos}
    opened = _incidents(session, start, stop)
    measured = [
        slos.get(service.name)
        or SloConfig.model_construct(
            service=service.name,
            availability=None,
            latency=None,
            checks=[],
            maintenance="exclude",
            burn_alerts=[],
        )
        for service in config.services
    ]
    measured = [slo for slo in measured if history.slo_checks(config, slo)]
    log = read_log(session, config, measured, start, stop)
    rows = []
    for slo in measured:
        target = slo.availability
        found = counts(session, config, slo, start, stop, log)
        figures = measure(found, micros(start), micros(stop), ratio(target) if target else Fraction(0))
        in_maintenance = 0
        if slo.maintenance == "exclude":
            spans = history.maintenance(session, config, slo.service, start, stop)
            in_maintenance = inside(spans, micros(start), micros(stop))
        rows.append(SlaRow(slo.service, target, figures, in_maintenance, opened.get(slo.service, 0)))
    return SlaReport(month, config.timezone, start, stop, stop == end, rows)


def _cells(row: SlaRow) -> list[str]:
    return [
        row.service,
        "" if row.target is None else str(row.target),
        row.uptime_percent,
        row.uptime,
        row.downtime_minutes,
        row.maintenance_minutes,
        str(row.incidents),
        row.met,
    ]


def to_csv(report: SlaReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in report.rows:
        writer.writerow(_cells(row))
    return out.getvalue()


def to_markdown(report: SlaReport) -> str:
    period = f"{show_time(report.start, report.zone)} – {show_time(report.end, report.zone)}"
    lines = [
        f"# {report.title}",
        "",
        f"Period: {period}. Uptime is the share of the time each service's state was known; maintenance "
        "is left out unless its SLO counts it.",
        "",
        "| Service | Target | Uptime | Downtime (min) | Maintenance (min) | Incidents | Target met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in report.rows:
        target = "—" if row.target is None else f"{row.target}%"
        lines.append(
            f"| {row.service} | {target} | {row.uptime} | {row.downtime_minutes} | "
            f"{row.maintenance_minutes} | {row.incidents} | {row.met or '—'} |"
        )
    if not report.rows:
        lines.append("| (no services with checks) | | | | | | |")
    return "\n".join(lines) + "\n"
