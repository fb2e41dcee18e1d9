"""Times of silences and windows as people read them, for a Berlin team: the alert page's "Silenced by"
(stored with an ISO UTC instant, which the API keeps and dependencies read back) and the refusal of a
silence or window that would end in the past say the time in CET, named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from opsbook.alerts.models import AlertRow
from opsbook.auth.roles import Principal, Role
from opsbook.clock import FakeClock
from opsbook.dependencies.causes import HELD, held_until
from opsbook.runtime import Runtime
from opsbook.silences import service
from opsbook.silences.matchers import parse_matcher
from opsbook.silences.mute import MuteReason
from opsbook.silences.store import SilenceError
from tests.web_ui.test_pages import sign_in
from tests.web_ui.ui_support import CONFIG, runtime_for, ui_app

NOW = datetime(2026, 3, 9, 3, 14, tzinfo=UTC)  # 04:14 in Berlin
RICK = Principal("rick", Role.RESPONDER, "test")


@pytest.fixture
def berlin(sqlite_engine: Engine) -> Runtime:
    config = CONFIG.replace("timezone: UTC", "timezone: Europe/Berlin", 1)
    return runtime_for(sqlite_engine, FakeClock(NOW), config)


def test_the_alert_page_says_until_when_it_is_silenced_in_the_team_zone(berlin: Runtime) -> None:
    by_silence = str(MuteReason("silence", "silence:3", NOW + timedelta(hours=2), "deploy of api 1.4"))
    held = f"{HELD}{(NOW + timedelta(minutes=5, microseconds=250)).isoformat()}"
    assert held_until(held) == NOW + timedelta(minutes=5, microseconds=250)  # the mark stays readable
    with berlin.sessions.begin() as session:
        for number, mark in enumerate((by_silence, held), start=1):
            session.add(AlertRow(id=number, dedup_key=f"api/health:{number}", service="api", severity="P2",
                                 state="firing", summary="api down", created_at=NOW, fired_at=NOW,
                                 silenced=True, silenced_by=mark))
    vera, _ = sign_in(ui_app(berlin), "vera")
    first = vera.get("/ui/alerts/1").text
    assert "<th>Silenced by</th><td>silence:3 until 2026-03-09 06:14 CET: deploy of api 1.4</td>" in first
    second = vera.get("/ui/alerts/2").text
    assert "<th>Silenced by</th><td>waiting for its dependents until 2026-03-09 04:19 CET</td>" in second
    assert "+00:00" not in first + second


def test_what_would_end_in_the_past_is_refused_in_the_team_zone(berlin: Runtime) -> None:
    with pytest.raises(SilenceError, match=r"must end in the future \(it would end 2026-03-09 03:44 CET\)"):
        service.add_silence(berlin, RICK, [parse_matcher("service=api")], comment="deploy",
                            starts_at=NOW - timedelta(hours=1), duration=timedelta(minutes=30))
    with pytest.raises(SilenceError, match=r"must end in the future \(it would end 2026-03-09 04:00 CET\)"):
        service.add_maintenance(berlin, RICK, ["api"], title="DB upgrade", starts_at=NOW - timedelta(hours=2),
                                ends_at=datetime(2026, 3, 9, 3, 0, tzinfo=UTC))
