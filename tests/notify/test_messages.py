"""The typed messages, pure: where each goes (its destination) and what it says (its default template)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from opsbook.config.loader import parse_config
from opsbook.config.schema import OpsbookConfig
from opsbook.notify.contacts import contact_channel
from opsbook.notify.messages import (
    Escalation,
    GapWarning,
    HandoffBrief,
    IncidentFacts,
    IncidentPage,
    IncidentUpdate,
    Note,
    OpenIncident,
    RunbookLink,
    SlaBreach,
    Turn,
    Update,
)
from opsbook.notify.service import render_message

TEAM = """\
title: Acme
timezone: Europe/Berlin
users:
  - name: ana
    contacts:
      - {url: "json://127.0.0.1:9/ana-sms", urgency: [P0, P1]}
      - {url: "json://127.0.0.1:9/ana-mail", urgency: [P2, P3]}
channels:
  - {name: pager, url: "json://127.0.0.1:9/pager"}
  - {name: chat, url: "json://127.0.0.1:9/chat"}
routing:
  P1: {action: page, channels: [pager]}
  P3: {action: notify, channels: [chat], business_hours_only: true}
"""
T = datetime(2026, 1, 5, 13, 0, tzinfo=UTC)  # a Monday, 14:00 in Berlin
SATURDAY = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
MONDAY_0900 = datetime(2026, 1, 12, 8, 0, tzinfo=UTC)  # 09:00 in Berlin


def team(extra: str = "", templates: str = "") -> OpsbookConfig:
    return parse_config(TEAM + extra + templates, "opsbook.yaml", {}).config


FACTS = IncidentFacts(7, "API health check failing", "api", ("api", "db"), "investigating", "P1",
                      "Logins fail", "30 minutes", True)


def test_update_message_in_the_runbook_format() -> None:
    later = T + timedelta(minutes=12)
    update = IncidentUpdate(FACTS, (Update(later, "Investigating: pool"), Update(T, "Incident opened")), 3)
    message = render_message(team(), update)
    assert message.subject == "[P1] Incident #7 api: API health check failing — Investigating"
    assert message.body.splitlines() == [
        "api: API health check failing", "Also affects: db", "Status:   Investigating", "Severity: P1",
        "Impact:   Logins fail", "ETA:      30 minutes", "Customer-facing: yes", "", "Updates:",
        "- 14:12 CET  Investigating: pool", "- 14:00 CET  Incident opened", "",
        "Incident: http://127.0.0.1:8080/ui/incidents/7",
    ]
    across_days = IncidentUpdate(FACTS, (Update(T + timedelta(days=1), "Monitoring"), Update(T, "Opened")), 4)
    assert "- 2026-01-06 14:00 CET  Monitoring" in render_message(team(), across_days).body
    bare = IncidentUpdate(IncidentFacts(1, "x", None, (), "triggered", "P2", "", "", False), (), 1)
    body = render_message(team(), bare).body
    assert "Impact:   being assessed" in body and "ETA:      unknown" in body and "Updates:" not in body
    assert body.startswith("(no service): x")


def test_updates_go_to_the_update_channels_else_where_the_severity_routes() -> None:
    update = IncidentUpdate(FACTS, (), 3)
    assert update.destination(team(), SATURDAY).channels == ("pager",)  # P1 routing, never held
    assert update.destination(team(), SATURDAY).send_after is None
    own = team("incidents:\n  update_channels: [chat]\n")
    assert update.destination(own, SATURDAY).channels == ("chat",)
    quiet = IncidentUpdate(IncidentFacts(1, "x", None, (), "triggered", "P4", "", "", False), (), 1)
    assert quiet.destination(team(), T).channels == ()  # P4 is only logged
    assert update.dedup_key() == "incident:7:update:3"
    assert update.tags().refs == {"update": 3, "notify_type": "info"}


def test_an_sla_breach_is_an_update_that_says_so() -> None:
    breach = SlaBreach(FACTS, (Update(T, "SLA missed: not acknowledged within 15m"),), 5, T)
    message = render_message(team(), breach)
    assert message.subject == "[P1] SLA missed: Incident #7 api: API health check failing"
    assert "Status:   Investigating" in message.body and "SLA missed: not acknowledged" in message.body
    assert breach.kind == "sla" and breach.tags().refs["notify_type"] == "warning"


RUNBOOK = RunbookLink("API Not Responding", "http://opsbook.test/ui/procedures/api/api-not-responding",
                      'opsbook runbook run "API Not Responding" --incident 3',
                      ("Check /health", "Restart the API"))


def page(user: str = "ana", severity: str = "P1", escalation: Escalation | None = None) -> IncidentPage:
    return IncidentPage(3, "r0-l0", user, severity, "Checkout down", "triggered", "500s", "api", T,
                        "http://opsbook.test/ack/TOKEN", ("API Not Responding",),
                        link="http://opsbook.test/ui/incidents/3", ack_command="opsbook incident ack 3",
                        runbook_links=(RUNBOOK,), escalation=escalation)


def test_a_page_goes_to_the_persons_contacts_for_its_severity_with_ack_link_and_runbook() -> None:
    assert page().destination(team(), T).channels == (contact_channel("ana", 0),)
    assert page(severity="P3").destination(team(), T).channels == (contact_channel("ana", 1),)
    assert page(user="nobody").destination(team(), T).channels == ()
    message = render_message(team(), page())
    assert message.subject == "[P1] Incident #3 triggered: Checkout down"
    assert "\n\nAcknowledge: http://opsbook.test/ack/TOKEN\n  or: opsbook incident ack 3\n" in message.body
    assert "Incident: http://opsbook.test/ui/incidents/3" in message.body.splitlines()
    runbook = ("Runbook: API Not Responding (http://opsbook.test/ui/procedures/api/api-not-responding)\n"
               "  1. Check /health\n  2. Restart the API\n"
               '  Run it: opsbook runbook run "API Not Responding" --incident 3')
    assert runbook in message.body
    assert "scalat" not in message.body  # the first level's page is no escalation
    wiki = RunbookLink("https://wiki.example.com/api-down", "https://wiki.example.com/api-down")
    linked = render_message(team(), replace(page(), runbook_links=(wiki,))).body
    assert "Runbook: https://wiki.example.com/api-down\n" in linked + "\n"  # a URL once, not twice


def test_an_escalated_page_says_so_with_its_level_and_who_did_not_acknowledge() -> None:
    third = render_message(team(), page(escalation=Escalation(3, 3, 1, ("ana", "lead"))))
    assert third.subject == "[P1] ESCALATED to level 3: Incident #3 triggered: Checkout down"
    assert third.body.startswith("Escalation, level 3 of 3.\nPaged before, not acknowledged: ana, lead.\n")
    again = render_message(team(), page(escalation=Escalation(1, 2, 2, ("ana", "lead"), "SLA missed")))
    assert again.body.startswith("Escalation, level 1 of 2 (round 2): SLA missed.\n")
    first = render_message(team(), page(escalation=Escalation(1, 3)))
    assert first.subject == "[P1] Incident #3 triggered: Checkout down" and "scalat" not in first.body
    reminder = render_message(team(), page(escalation=Escalation(1, 3, reminder=2, acknowledged_by="ben")))
    assert reminder.subject.startswith("[P1] REMINDER: Incident #3")
    assert reminder.body.startswith("Reminder 2: acknowledged by ben, still not resolved.")


def test_a_custom_page_template_cannot_lose_the_ack_link() -> None:
    custom = team(templates='notifications:\n  templates:\n    incident: {body: "{{ title }} is down"}\n')
    body = render_message(custom, page()).body
    assert body == ("Checkout down is down\n\nAcknowledge: http://opsbook.test/ack/TOKEN\n\n"
                    "Incident: http://opsbook.test/ui/incidents/3")
    linked = team(templates='notifications:\n  templates:\n    incident: {body: "ack: {{ ack_link }}"}\n')
    assert render_message(linked, page()).body == (
        "ack: http://opsbook.test/ack/TOKEN\n\nIncident: http://opsbook.test/ui/incidents/3")


def test_a_handoff_brief_goes_to_the_least_urgent_contacts() -> None:
    brief = HandoffBrief(
        schedule="primary", zone="Europe/Berlin", user="ana", name="Ana Ruiz", start=MONDAY_0900,
        until=MONDAY_0900 + timedelta(days=7), previous=Turn("Chen Wei", MONDAY_0900 - timedelta(days=7),
                                                             MONDAY_0900),
        next=None, incidents=(OpenIncident(4, "P2", "triggered", None, "Slow search", T),),
        notes=(Note("Chen Wei", MONDAY_0900 - timedelta(minutes=30), "Replica lags.\n\nWatch it."),),
    )
    assert brief.destination(team(), T).channels == (contact_channel("ana", 1),)  # e-mail, not SMS
    message = render_message(team(), brief)
    assert message.subject == "Acme: you are on call for primary until Mon 2026-01-19 09:00 (Europe/Berlin)"
    assert message.body.splitlines() == [
        "Ana Ruiz, you are on call for primary from Mon 2026-01-12 09:00 until Mon 2026-01-19 09:00 "
        "(Europe/Berlin).",
        "Handing over: Chen Wei (on call since Mon 2026-01-05 09:00).",
        "Next: nobody is scheduled after you.",
        "",
        "Open incidents (1):",
        "  #4 P2 triggered: Slow search (since Mon 2026-01-05 14:00)",
        "",
        "Handoff notes:",
        "  From Chen Wei, Mon 2026-01-12 08:30:",
        "    Replica lags.",
        "",
        "    Watch it.",
        "",
        "On-call: http://127.0.0.1:8080/ui/oncall",
        "Incidents: http://127.0.0.1:8080/ui/incidents",
    ]


def gap(start: datetime) -> GapWarning:
    return GapWarning("primary", "Europe/Berlin", start, start + timedelta(hours=7), start,
                      "nobody is on call on primary ...", False, False, 35, 7)


def test_a_gap_warning_is_held_for_business_hours_unless_the_gap_begins_first() -> None:
    later = gap(MONDAY_0900 + timedelta(days=1)).destination(team(), SATURDAY)
    assert (later.channels, later.send_after) == (("chat",), MONDAY_0900)
    sooner = gap(SATURDAY + timedelta(hours=5)).destination(team(), SATURDAY)
    assert (sooner.channels, sooner.send_after) == (("chat",), None)  # held, it would come too late
    body = render_message(team(), gap(MONDAY_0900)).body
    assert "That is 7 h without anyone to page." in body
    assert "--from 2026-01-12T09:00 --to 2026-01-12T16:00" in body
