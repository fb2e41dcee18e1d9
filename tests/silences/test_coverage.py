"""Which services a maintenance window covers (`silences.mute.covered_services`): what the status page,
the subscribers, the maintenance lists and the SLOs all take as "in maintenance". A recurring window
covers the services it lists and those its `match:` selects by name or label; matchers on an alert's
check, rule or severity narrow what it mutes, not which services it covers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from opsbook.config.loader import parse_config
from opsbook.db.engine import make_sessionmaker
from opsbook.silences import service
from opsbook.silences.mute import OneOffWindow, covered_services

CONFIG = """\
services:
  - {name: api, labels: {team: web}}
  - {name: api-admin, labels: {team: web}}
  - {name: web, labels: {team: web}}
  - {name: db, labels: {team: data}}
maintenance_windows:
  - {name: listed, cron: "0 2 * * 0", duration: 2h, services: [db]}
  - {name: by-name, cron: "0 3 * * 0", duration: 1h, match: {service: "api|web"}}
  - {name: by-label, cron: "0 4 * * 0", duration: 1h, match: {team: data}}
  - {name: listed-and-severity, cron: "0 5 * * 0", duration: 1h, services: [api], match: {severity: "P[34]"}}
  - {name: severity-only, cron: "0 6 * * 0", duration: 1h, match: {severity: P4}}
  - {name: check-only, cron: "0 7 * * 0", duration: 1h, match: {check: disk}}
  - {name: everything, cron: "0 8 * * 0", duration: 1h, match: {service: ".*"}}
  - {name: name-and-label, cron: "0 9 * * 0", duration: 1h, match: {service: "api.*", team: web}}
"""
LOADED = parse_config(CONFIG, "opsbook.yaml", {}).config


def test_recurring_windows_cover_by_list_name_and_label() -> None:
    covered = {w.name: covered_services(w.to_window(), LOADED.services) for w in LOADED.maintenance_windows}
    assert covered == {
        "listed": ("db",),
        "by-name": ("api", "web"),  # fully anchored: not api-admin
        "by-label": ("db",),
        "listed-and-severity": ("api",),  # mutes only P3/P4 alerts of api, but it is api's maintenance
        "severity-only": (),
        "check-only": (),
        "everything": ("api", "api-admin", "web", "db"),
        "name-and-label": ("api", "api-admin"),
    }


def test_a_one_off_window_covers_what_it_names() -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    window = OneOffWindow(1, ("web", "nope"), now, now + timedelta(hours=1))
    assert covered_services(window, LOADED.services) == ("web",)


def test_upcoming_maintenance_lists_the_services_a_match_selects(sqlite_engine: Engine) -> None:
    now = datetime(2026, 11, 1, 2, 30, tzinfo=UTC)  # a Sunday, inside `listed`
    with make_sessionmaker(sqlite_engine)() as session:
        found = service.upcoming_maintenance(
            session, now, LOADED.maintenance_windows, horizon=timedelta(hours=5), services=LOADED.services
        )
    shown = {m.ref.split(":")[1]: m.services for m in found}
    assert shown["by-name"] == ("api", "web") and shown["by-label"] == ("db",)
    assert shown["severity-only"] == () and shown["listed"] == ("db",)
