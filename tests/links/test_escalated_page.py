"""An escalated page names who was paged before and did not acknowledge: only those really reached (a
target without a contact for the severity was not paged), numbered levels from 1."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from opsbook.auth.roles import SYSTEM
from opsbook.clock import FakeClock
from opsbook.incidents import service
from tests.incidents.conftest import Receiver, make_team, receiver  # noqa: F401  (fixture re-used here)


async def test_an_escalated_page_names_only_who_was_really_paged(
    sqlite_engine: Engine, clock: FakeClock, receiver: Receiver  # noqa: F811
) -> None:
    team = make_team(sqlite_engine, clock, receiver.port)  # ana is on call; her contact is for P0-P2 only
    service.open_incident(team.runtime, SYSTEM, title="Disk filling", severity="P3", service="api")
    await team.deliver()
    assert receiver.bodies("/ana") == []  # no contact for P3: not paged
    await clock.advance(timedelta(minutes=10))
    team.engine().tick(clock.now())
    await team.deliver()
    (lead,) = receiver.bodies("/lead")
    assert lead["title"].startswith("[P3] ESCALATED to level 2: Incident #1")
    assert lead["message"].startswith(
        "Escalation, level 2 of 3.\nPaged before, not acknowledged: nobody could be reached.\n")
    await clock.advance(timedelta(minutes=20))
    team.engine().tick(clock.now())
    await team.deliver()
    (cto,) = receiver.bodies("/cto")
    assert cto["message"].startswith("Escalation, level 3 of 3.\nPaged before, not acknowledged: lead.\n")
