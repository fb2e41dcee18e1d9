"""The web forms read times and lengths through the same parser as the CLI (opsbook.timefmt): a Berlin
team's "tomorrow 02:00" is 02:00 in Berlin, "90 minutes" is a length, and what no form reads is shown on the
page with the accepted forms; the page shows the window back in CET."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from opsbook.clock import FakeClock
from opsbook.silences.models import MaintenanceRow, SilenceRow
from tests.web_ui.test_pages import sign_in
from tests.web_ui.ui_support import CONFIG, runtime_for, ui_app

NOW = datetime(2026, 3, 9, 3, 14, tzinfo=UTC)  # 04:14 in Berlin


def test_forms_read_times_in_the_teams_zone(sqlite_engine: Engine) -> None:
    berlin = CONFIG.replace("timezone: UTC", "timezone: Europe/Berlin", 1)
    runtime = runtime_for(sqlite_engine, FakeClock(NOW), berlin)
    app = ui_app(runtime)
    rick, token = sign_in(app, "rick")
    form = {"csrf_token": token, "title": "DB upgrade", "services": ["api"], "starts": "tomorrow 02:00",
            "duration": "90 minutes"}
    page = rick.post("/ui/maintenance", data=form)
    assert "scheduled" in page.text
    assert "2026-03-10 02:00 CET" in page.text  # shown back in the team's zone, with the zone
    with runtime.sessions() as session:
        row = session.scalars(select(MaintenanceRow)).one()
    assert row.starts_at == datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
    assert row.ends_at - row.starts_at == timedelta(minutes=90)

    page = rick.post("/ui/maintenance", data={**form, "starts": "after lunch"})
    assert "&#39;after lunch&#39; is not a time; use e.g. now, +2h" in page.text
    silence = {"csrf_token": token, "matchers": "service=api", "comment": "deploy"}
    page = rick.post("/ui/silences", data={**silence, "duration": "a bit"})
    assert "&#39;a bit&#39; is not a length of time; use e.g. 2h" in page.text
    page = rick.post("/ui/silences", data={**silence, "duration": "2 hours"})
    assert "created" in page.text
    with runtime.sessions() as session:
        made = session.scalars(select(SilenceRow)).one()
    assert made.ends_at - made.starts_at == timedelta(hours=2)
