"""The monthly SLA report over a constructed November 2026 in Europe/Berlin (30 days, 43,200 minutes,
from 2026-10-31 23:00 UTC): figures exact to the minute, maintenance left out where the SLO says so,
incidents counted by every service they name, as Markdown and CSV; a month not begun or not a month is
refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from opsbook.checks.models import StateChangeRow
from opsbook.clock import FakeClock
from opsbook.errors import Invalid
from opsbook.incidents.models import IncidentRow
from opsbook.runtime import Runtime
from opsbook.silences.models import MaintenanceRow
from opsbook.slo.report import sla_report, to_csv, to_markdown
from tests.support import make_runtime

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
CONFIG = """
timezone: Europe/Berlin
services:
  - name: api
    public: true
    checks: [{name: health, kind: tcp, host: 127.0.0.1, port: 1, interval: 30s}]
  - name: web
    checks: [{name: home, kind: tcp, host: 127.0.0.1, port: 1, interval: 30s}]
  - name: db
    checks: [{name: ping, kind: tcp, host: 127.0.0.1, port: 1, interval: 30s}]
slos:
  - {service: api, availability: 99.9%}
  - {service: web, availability: "99.99", maintenance: count}
"""


def d(day: int, hour: int = 0, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def history(engine: Engine) -> None:
    """api down 30 min on the 10th, and an hour inside two hours of maintenance on the 20th; web down
    10 min on the 5th and 30 min in the same maintenance (its SLO counts it); db first seen on the 15th,
    down an hour on the 16th. Three incidents: api's, db's naming api too, and one of api in October."""
    changes = [
        ("api/health", d(1, month=10), "up"),
        ("api/health", d(10, 12), "down"),
        ("api/health", d(10, 12, 30), "up"),
        ("api/health", d(20, 1), "down"),
        ("api/health", d(20, 2), "up"),
        ("web/home", d(1, month=10), "up"),
        ("web/home", d(5), "down"),
        ("web/home", d(5, 0, 10), "up"),
        ("web/home", d(20, 1), "down"),
        ("web/home", d(20, 1, 30), "up"),
        ("db/ping", d(15), "up"),
        ("db/ping", d(16), "down"),
        ("db/ping", d(16, 1), "up"),
    ]
    with Session(engine) as s, s.begin():
        for check, ts, status in changes:
            s.add(StateChangeRow(check_id=check, ts=ts, from_status=None, to_status=status, message=""))
        s.add(
            MaintenanceRow(
                services=["api", "web"],
                starts_at=d(20, 1),
                ends_at=d(20, 3),
                title="upgrade",
                description="",
                created_by="ana",
                created_at=d(19),
            )
        )
        for service, services, opened in (
            ("api", ["api"], d(10, 12, 1)),
            ("db", ["db", "api"], d(16, 0, 2)),
            ("api", ["api"], d(20, month=10)),
        ):
            s.add(
                IncidentRow(
                    title="down",
                    severity="P1",
                    status="resolved",
                    service=service,
                    services=services,
                    opened_at=opened,
                    updated_at=opened,
                )
            )


@pytest.fixture
def runtime(engine: Engine) -> Runtime:
    history(engine)
    return make_runtime(engine, FakeClock(NOW), CONFIG)


def test_the_report_of_a_constructed_month(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        report = sla_report(session, runtime.config, "2026-11", NOW)
    assert report.complete and report.title == "SLA report, November 2026"
    assert (report.start, report.end) == (
        datetime(2026, 10, 31, 23, tzinfo=UTC),
        datetime(2026, 11, 30, 23, tzinfo=UTC),
    )
    # api: 43,080 eligible minutes (two of maintenance left out), 30 down: 43,050 / 43,080 = 99.93036...%
    # web: 43,200 eligible (maintenance counted), 10 + 30 down: 43,160 / 43,200 = 99.90740...%
    # db: watched from the 15th 00:00 UTC to the end, 22,980 minutes, 60 down: 99.73890...%
    assert to_csv(report) == (
        "service,target_percent,uptime_percent,uptime,downtime_minutes,maintenance_minutes,incidents,target_met\n"
        "api,99.9,99.9303,99.93%,30.00,120.00,2,yes\n"
        "web,99.99,99.9074,99.9%,40.00,0.00,0,no\n"
        "db,,99.7389,99.7%,60.00,0.00,1,\n"
    )
    markdown = to_markdown(report)
    assert markdown.startswith("# SLA report, November 2026\n")
    assert "Period: 2026-11-01 00:00 CET – 2026-12-01 00:00 CET." in markdown
    assert "| api | 99.9% | 99.93% | 30.00 | 120.00 | 2 | yes |" in markdown
    assert "| web | 99.99% | 99.9% | 40.00 | 0.00 | 0 | no |" in markdown
    assert "| db | — | 99.7% | 60.00 | 0.00 | 1 | — |" in markdown


def test_a_month_to_date_and_refusals(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        partial = sla_report(session, runtime.config, "2026-11", d(10, 12, 15))
        assert partial.title == "SLA report, November 2026 (to date)" and not partial.complete
        api = partial.rows[0]
        assert api.availability.bad_us == 15 * 60 * 10**6 and api.incidents == 1
        with pytest.raises(Invalid, match="has not begun"):
            sla_report(session, runtime.config, "2027-01", NOW)
        with pytest.raises(Invalid, match="YYYY-MM"):
            sla_report(session, runtime.config, "November", NOW)
