"""The public status page: states, daily uptime from state changes, incidents and maintenance of public
services only, the snapshot cache (rebuilt on change, not per reader), and nothing private leaking."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from opsbook.auth.roles import SYSTEM
from opsbook.checks.result import Status
from opsbook.clock import FakeClock
from opsbook.events import DomainEvent, Topic
from opsbook.incidents import lifecycle as incidents
from opsbook.incidents import public
from opsbook.runtime import Runtime
from opsbook.silences.store import create_maintenance
from opsbook.statuspage.cache import StatusCache
from opsbook.statuspage.snapshot import PublicState, daily_uptime, day_starts, service_state
from tests.web_ui.ui_support import CONFIG, PRIVATE_WORDS, runtime_for, ui_app, write


def test_service_state_rules() -> None:
    assert service_state(["up", "up"], False) is PublicState.OPERATIONAL
    assert service_state(["up", None], False) is PublicState.OPERATIONAL
    assert service_state(["up", "degraded"], False) is PublicState.DEGRADED
    assert service_state(["up", "down"], False) is PublicState.PARTIAL_OUTAGE
    assert service_state(["down", "down", None], False) is PublicState.MAJOR_OUTAGE
    assert service_state(["down"], True) is PublicState.MAINTENANCE
    assert service_state(["up"], False, ["P0"]) is PublicState.MAJOR_OUTAGE
    assert service_state(["up"], False, ["P1"]) is PublicState.PARTIAL_OUTAGE
    assert service_state(["up"], False, ["P3"]) is PublicState.DEGRADED
    assert service_state(["down", "down"], False, ["P3"]) is PublicState.MAJOR_OUTAGE


def test_daily_uptime_splits_at_midnights_in_the_team_zone() -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    starts = day_starts(now, 3, "Europe/Berlin")
    assert [s.isoformat() for s in starts] == [
        "2026-03-08T00:00:00+01:00",
        "2026-03-09T00:00:00+01:00",
        "2026-03-10T00:00:00+01:00",
    ]
    changes = [
        (datetime(2026, 3, 8, 22, 0, tzinfo=UTC), "down"),  # 23:00 Berlin: 1 h down on the 8th ...
        (datetime(2026, 3, 9, 0, 0, tzinfo=UTC), "up"),  # ... and 1 h on the 9th (01:00 Berlin)
    ]
    days = daily_uptime(changes, "up", starts, now)
    assert [d.down_seconds for d in days] == [3600, 3600, 0]
    assert days[0].known_seconds == 86400
    assert days[2].known_seconds == 13 * 3600  # today: until now (13:00 Berlin)
    unknown_before = daily_uptime([(datetime(2026, 3, 9, 23, 0, tzinfo=UTC), "up")], None, starts, now)
    assert unknown_before[0].known_seconds == 0 and unknown_before[1].known_seconds == 0
    assert unknown_before[2].known_seconds == 13 * 3600


@pytest.fixture
def runtime(engine: Engine, clock: FakeClock) -> Runtime:
    return runtime_for(engine, clock)


def seed(runtime: Runtime) -> None:
    now = runtime.clock.now()
    write(
        runtime,
        [
            ("api/health", now - timedelta(days=10), Status.UP, "ok"),
            ("api/login", now - timedelta(days=10), Status.UP, "ok"),
            ("web/home", now - timedelta(days=10), Status.UP, "ok"),
            ("api/health", now - timedelta(days=2, hours=3), Status.DOWN, "ZEBRA-LEAK refused by 10.1.2.3"),
            ("api/health", now - timedelta(days=2, hours=3) + timedelta(minutes=72), Status.UP, "ok"),
            ("secret-billing-db/replication-lag-zebra", now - timedelta(days=1), Status.DOWN, "ZEBRA-LEAK"),
        ],
    )
    with runtime.sessions.begin() as session:
        incidents.open_incident(
            session,
            runtime.config,
            now - timedelta(hours=1),
            title="ZEBRA-LEAK ledger",
            severity="P1",
            service="secret-billing-db",
            customer_facing=True,
        )
        quiet = incidents.open_incident(
            session,
            runtime.config,
            now - timedelta(minutes=30),
            title="ZEBRA-LEAK internal title",
            severity="P2",
            service="api",
        )
        incidents.add_note(session, runtime.config, quiet.id, "ZEBRA-LEAK note", now, SYSTEM)
        old = incidents.open_incident(
            session,
            runtime.config,
            now - timedelta(days=5),
            title="Slow checkout",
            severity="P2",
            service="web",
            customer_facing=True,
        )
        incidents.set_status(
            session,
            runtime.config,
            old.id,
            "identified",
            now - timedelta(days=5),
            SYSTEM,
            "A bad deploy; rolling back.",
        )
        incidents.resolve(
            session,
            runtime.config,
            old.id,
            now - timedelta(days=5) + timedelta(hours=1),
            SYSTEM,
            "ZEBRA-LEAK rolled back.",  # status and resolution messages are internal
        )
        earlier = incidents.open_incident(
            session, runtime.config, now - timedelta(days=4), title="ZEBRA-LEAK pool exhausted",
            severity="P1", service="web",
        )
        public.publish(session, earlier.id, now - timedelta(days=4), SYSTEM, "Checkout errors")
        public.post(session, earlier.id, "Some payments fail; we are on it.", now - timedelta(days=4), SYSTEM)
        incidents.set_status(session, runtime.config, earlier.id, "monitoring", now - timedelta(days=4),
                             SYSTEM, "ZEBRA-LEAK pool raised")
        public.post(session, earlier.id, "Payments work again.", now - timedelta(days=4) + timedelta(hours=1),
                    SYSTEM, "resolved")
        incidents.resolve(session, runtime.config, earlier.id, now - timedelta(days=4) + timedelta(hours=1),
                          SYSTEM)
        create_maintenance(
            session,
            now,
            SYSTEM,
            ["secret-billing-db"],
            starts_at=now + timedelta(days=1),
            ends_at=now + timedelta(days=1, hours=1),
            title="ZEBRA-LEAK vacuum",
        )
        create_maintenance(
            session,
            now,
            SYSTEM,
            ["web", "secret-billing-db"],
            starts_at=now + timedelta(days=2),
            ends_at=now + timedelta(days=2, hours=1),
            title="Web server upgrade",
        )


def test_page_json_and_feed_show_public_services_only(runtime: Runtime) -> None:
    seed(runtime)
    client = TestClient(ui_app(runtime))
    html = client.get("/status")
    data = client.get("/status.json")
    feed = client.get("/status/feed.atom")
    for response in (html, data, feed):
        assert response.status_code == 200
        for word in PRIVATE_WORDS:
            assert word not in response.text, (response.url, word)
        assert "10.1.2.3" not in response.text  # check messages never reach the page

    body = data.json()
    assert body["page"]["title"] == "Acme status"
    assert [s["name"] for s in body["services"]] == ["api", "web"]
    api = body["services"][0]
    assert len(api["bars"]) == 90
    down_day = api["bars"][-3]  # two days ago (the page's days are UTC days here)
    assert down_day["down_seconds"] == 72 * 60
    assert down_day["uptime_percent"] == pytest.approx(100 * (1 - 72 * 60 / (2 * 86400)), abs=0.001)
    assert api["bars"][0]["uptime_percent"] is None and api["bars"][0]["level"] == "no_data"
    assert api["state"] == "degraded"  # an open P2 incident on it, its checks up
    assert api["state_label"] == "Degraded performance"
    active = body["active_incidents"]
    assert [i["title"] for i in active] == ["Degraded performance: api"]  # the page's words for its state
    assert (active[0]["state"], active[0]["state_label"]) == ("degraded", "Degraded performance")
    assert body["sentence"] == "Degraded performance: api"
    assert [u["text"] for u in active[0]["updates"]] == ["We are investigating a problem."]
    past = body["past_incidents"]
    assert [i["title"] for i in past] == ["Checkout errors", "Slow checkout"]
    assert [(u["status"], u["text"]) for u in past[0]["updates"]] == [  # written for customers, and the
        ("resolved", "Payments work again."),  # monitoring change nobody wrote about, in generic words
        ("monitoring", "A fix has been applied; we are monitoring the results."),
        ("investigating", "Some payments fail; we are on it."),
    ]
    assert [u["text"] for u in past[1]["updates"]] == [
        "This incident has been resolved.",
        "The cause has been identified and a fix is being worked on.",
        "We are investigating a problem.",
    ]
    assert [(m["title"], m["services"]) for m in body["maintenance"]] == [("Web server upgrade", ["web"])]

    root = ET.fromstring(feed.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in root.findall("a:entry", ns)]
    assert "[Maintenance] Web server upgrade" in titles and "[Resolved] Slow checkout" in titles
    assert "Acme status" in html.text and "/static/favicon.svg" in html.text


def test_the_feed_says_times_in_the_team_zone_and_its_machine_fields_in_utc(
    engine: Engine, clock: FakeClock
) -> None:
    """Atom's `<updated>`/`<published>` are RFC 3339 UTC; the entries' text a person reads (update times,
    maintenance windows) is in the team's zone (Europe/Berlin here), named, as on the HTML page."""
    runtime = runtime_for(engine, clock, CONFIG.replace("timezone: UTC\n", "timezone: Europe/Berlin\n", 1))
    seed(runtime)
    client = TestClient(ui_app(runtime))
    body = client.get("/status.json").json()
    root = ET.fromstring(client.get("/status/feed.atom").content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    rfc3339_utc = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")
    entries = root.findall("a:entry", ns)
    stamps = [root.findtext("a:updated", namespaces=ns)] + [
        e.findtext(f"a:{field}", namespaces=ns) for e in entries for field in ("updated", "published")]
    assert len(stamps) > 1 and all(rfc3339_utc.fullmatch(t or "") for t in stamps), stamps
    text = {e.findtext("a:title", namespaces=ns): e.findtext("a:content", namespaces=ns) or ""
            for e in entries}
    assert not any("UTC" in t for t in text.values()), text

    def berlin(iso: str) -> str:
        local = datetime.fromisoformat(iso).astimezone(ZoneInfo("Europe/Berlin"))
        return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"

    [window] = body["maintenance"]
    assert text["[Maintenance] Web server upgrade"].startswith(
        f"{berlin(window['starts_at'])} – {berlin(window['ends_at'])}, web")
    updates = [u for i in body["active_incidents"] + body["past_incidents"] for u in i["updates"]]
    assert updates
    every_line = "\n".join(text.values()).splitlines()
    for update in updates:
        assert f"{berlin(update['ts'])} {update['status']}: {update['text']}" in every_line


def test_maintenance_in_progress_and_caching_headers(runtime: Runtime) -> None:
    now = runtime.clock.now()
    write(runtime, [("web/home", now - timedelta(hours=1), Status.DOWN, "down for maintenance")])
    with runtime.sessions.begin() as session:
        create_maintenance(
            session,
            now,
            SYSTEM,
            ["web"],
            starts_at=now - timedelta(hours=2),
            ends_at=now + timedelta(hours=1),
            title="Database upgrade",
        )
    client = TestClient(ui_app(runtime))
    r = client.get("/status.json")
    web = next(s for s in r.json()["services"] if s["name"] == "web")
    assert web["state"] == "maintenance"
    assert r.json()["state"] == "maintenance"
    assert "max-age=10" in r.headers["cache-control"]
    again = client.get("/status.json", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_disabled_page_is_not_found(engine: Engine, clock: FakeClock) -> None:
    runtime = runtime_for(
        engine,
        clock,
        CONFIG.replace("status_page:\n", "status_page:\n  enabled: false\n"),
    )
    client = TestClient(ui_app(runtime))
    assert client.get("/status").status_code == 404
    assert client.get("/status.json").status_code == 404


async def test_snapshot_is_rebuilt_on_public_changes_and_by_age_not_per_reader(
    sqlite_engine: Engine, clock: FakeClock
) -> None:
    runtime = runtime_for(sqlite_engine, clock)
    cache = StatusCache(runtime)
    first = await cache.get()
    for _ in range(50):
        assert await cache.get() is first  # a crowd of readers: one build
    assert cache.builds == 1
    assert json.loads(first.json)["state"] == "operational"

    now = clock.now()
    write(runtime, [("api/health", now, Status.DOWN, "refused"), ("api/login", now, Status.DOWN, "refused")])
    private = ["secret-billing-db/replication-lag-zebra"]
    runtime.bus.publish([DomainEvent(Topic.CHECKS, "state changed", detail={"check_ids": private})])
    assert await cache.get() is first  # a private check changing is no reason to rebuild
    runtime.bus.publish([DomainEvent(Topic.CHECKS, "state changed", detail={"check_ids": ["api/health"]})])
    rebuilt = await cache.get()  # the very next reader gets the change: it waits for the rebuild
    assert rebuilt is not first and cache.builds == 2
    api = json.loads(rebuilt.json)["services"][0]
    assert api["state"] == "major_outage"
    assert await cache.get() is rebuilt

    write(runtime, [("api/health", now + timedelta(seconds=5), Status.UP, "ok")])  # not told
    await clock.advance(runtime.config.status_page.refresh)
    assert await cache.get() is rebuilt  # only old: readers are not kept waiting while it rebuilds
    assert cache._task is not None
    await cache._task
    assert json.loads((await cache.get()).json)["services"][0]["state"] == "partial_outage"
    assert cache.builds == 3
