"""Every fixture document imported to a draft that opsbook's own loader accepts, with what each states.

The two example documents of the project and eight written in deliberately different styles: prose,
tables, emoji headings with lists, CRLF with Windows-1252 mojibake, a Windows-1252 file, commands in
fences, and one team's document split over two files.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from opsbook.config.loader import LoadedConfig
from tests.docimport.support import (
    DOCS,
    EXAMPLES,
    checks,
    imported,
    imported_bytes,
    levels,
    rules,
    slas,
    unknown_lines,
    validated,
)

MINUTE = 60


def slos(config: LoadedConfig) -> dict[str, tuple[str, int]]:
    """`service` → (availability target, window in days) of every SLO of the draft."""
    return {s.service: (str(s.availability), s.window.days) for s in config.config.slos}


def test_pazpaz_thresholds_severities_and_window() -> None:
    result = imported(EXAMPLES / "pazpaz-operations.md")
    config = validated(result)
    assert rules(config) == {
        "api/api-health-check-failures": ("failures >= 3", "P0"),
        "api/error-rate": ("error_rate > 10% over 5m for 5m", "P0"),
        "api/api-p95-response-time": ("p95(latency_ms) > 500 for 5m", "P1"),
        "db/database-connection-failures": ("failures >= 3", "P0"),
        "host/cpu-utilization": ("cpu_pct > 80 for 5m", "P1"),
        "host/memory-utilization": ("memory_pct > 85 for 5m", "P1"),
        "host/disk-space": ("disk_pct > 85", "P1"),
    }
    assert slas(config) == {"P0": "300s", "P1": "900s", "P2": "3600s", "P3": "next_business_day", "P4": None}
    assert sorted(checks(config)) == [
        "api/health",
        "db/select-1",
        "docker/compose-ps",
        "host/system",
        "redis/ping",
    ]
    found = checks(config)
    assert found["api/health"].url == "https://api.pazpaz.com/health"
    assert found["docker/compose-ps"].command == "docker compose ps"
    [window] = config.config.maintenance_windows
    assert (window.cron, window.duration.total_seconds(), window.timezone, window.services) == (
        "0 2 * * 0",
        7200,
        "UTC",
        ["db"],
    )
    # the Redis password keeps the document's own variable name; nothing literal is copied
    assert "${REDIS_PASSWORD}" in result.yaml and "${DATABASE_URL}" in result.yaml
    # the rotation schedule and the backups, on the secrets and backups domains' sections
    assert [(s.name, s.every.days, s.emergency_within.total_seconds()) for s in config.config.secrets] == [
        ("jwt-secrets", 90, 86400),
        ("database-credentials", 90, 86400),
        ("s3-credentials", 90, 86400),
        ("redis-password", 180, 86400),
    ]
    assert {s.owner for s in config.config.secrets} == {"secrets-owner"}  # a placeholder: no owner is named
    [job] = config.config.backups
    assert (job.name, job.schedule, job.retention.days if job.retention else None) == (
        "database",
        "0 2 * * *",
        7,
    )
    assert "${DATABASE_BACKUP_CRON}" in result.yaml  # "Daily", but not when: a variable, not a guess
    assert "emergency_within: pazpaz-operations.md:38" in result.yaml
    # understood but not mapped: "Encryption Keys: Versioned (not rotated)", links to other documents
    assert {9, 28} <= {f.statement.line for f in result.report.unsupported["secrets"]}
    # metrics listed without a threshold are reported, not turned into rules
    assert {165, 166, 171, 172, 189} <= set(unknown_lines(result))


def test_pazpaz_every_entry_names_its_line() -> None:
    text = imported(EXAMPLES / "pazpaz-operations.md").yaml
    assert '# pazpaz-operations.md:192 "- API p95 response time > 500ms for 5 minutes"' in text
    assert '# pazpaz-operations.md:86 "- P0: Immediate (5 minutes)"' in text
    assert (
        '# pazpaz-operations.md:51 "- **Migrations:** Deploy during maintenance window (Sundays 2-4 AM UTC)"'
        in text
    )


def test_template_tables_escalation_channels_and_placeholders() -> None:
    result = imported(EXAMPLES / "operations-template.md")
    config = validated(result)
    assert rules(config) == {
        "api/error-rate": ("error_rate > 0.5% over 5m", None),
        "api/api-response-time-p95": ("p95(latency_ms over 5m) > 2000", None),
        "host/cpu-usage": ("cpu_pct > 80", None),
        "host/memory-usage": ("memory_pct > 85", None),
        "host/database-disk": ("disk_pct > 80", None),
    }
    # the template's levels start at P1 (Critical); "immediately" is read as 5 minutes and said so
    assert slas(config) == {"P0": "300s", "P1": "300s", "P2": "900s", "P3": "3600s", "P4": None}
    assert "assumed: 'immediately' read as 5 minutes" in result.yaml
    assert levels(config) == [
        (["schedule:primary"], 10 * MINUTE),
        (["user:engineering-lead"], 20 * MINUTE),
        (["user:cto"], None),
    ]
    routing = config.config.routing
    assert [routing.for_severity(s).action for s in ("P1", "P2", "P3", "P4")] == [
        "page",
        "page",
        "notify",
        "log",
    ]
    assert routing.P1.channels == ["pagerduty"] and routing.P3.channels == ["email"]
    assert config.config.incidents.update_channels == ["slack-incidents"]
    # placeholders become variables listed at the top: the example.com host, [3 people], the rotation start
    header = result.yaml.split("\nversion:")[0]
    for name in (
        "API_HOST",
        "PAGERDUTY_URL",
        "SLACK_INCIDENTS_URL",
        "ON_CALL_ENGINEER_3_CONTACT",
        "ONCALL_START_DATE",
    ):
        assert f"export {name}=" in header
    assert checks(config)["api/health"].url == "https://service.invalid/health"
    assert [u.name for u in config.config.users][:3] == [
        "on-call-engineer-1",
        "on-call-engineer-2",
        "on-call-engineer-3",
    ]
    # "[99.9% / 99.99% / etc]": the first is the SLO of the service probed over HTTP, and it says so
    assert slos(config) == {"api": ("99.9", 30)}
    assert "the document offers 99.9%, 99.99%: the first is taken" in result.yaml
    assert [t.source.line for t in result.draft.targets if t.source] == [18]
    # the recurring checklists are chores of the on-call
    chores = {c.name: (c.procedure, c.schedule, c.oncall) for c in config.config.chores}
    assert chores == {
        "review-access-logs-for-suspicious-activity": ("Regular Security Tasks", "0 9 1 * *", "primary"),
        "audit-who-has-production-access": ("Regular Security Tasks", "0 9 1 1,4,7,10 *", "primary"),
        "before-your-on-call-shift": ("Before Your On-Call Shift", "0 9 * * 1", "primary"),
    }
    assert "assumed: monthly read as '0 9 1 * *', done within 7d" in result.yaml
    assert "recurring chores" not in result.report.unsupported
    # "Monthly: Rotate database passwords" is a rotation policy; the backup table and the scaling plan too
    assert [(s.name, s.every.days) for s in config.config.secrets] == [("database-passwords", 30)]
    assert "assumed: monthly read as every 30 days" in result.yaml
    [job] = config.config.backups
    assert (job.name, job.retention.days if job.retention else None) == ("database", 30)
    assert {269, 270} <= {
        f.statement.line for f in result.report.unsupported["backups"]
    }  # continuous, manual
    plan = {r.name: (r.check, r.value, list(r.actions().items())) for r in config.config.capacity.resources}
    assert plan == {
        "cpu": ("host/system", "cpu_pct", [(80.0, "Add more web servers")]),
        "memory": ("host/system", "memory_pct", [(85.0, "Optimize code or add memory")]),
        "disk": ("host/system", "disk_pct", [(80.0, "Increase volume or delete old data")]),
    }
    assert 142 in unknown_lines(result)  # "Request Queue >1000 pending": no check measures a queue
    why = "(a threshold on something no opsbook check measures)"
    assert f"Request Queue | >1000 pending | On-call engineer  {why}" in result.report_text
    lines = ", ".join(f"operations-template.md:{n}" for n in (42, 55, 79))
    assert f"  [YOUR_DEPLOY_COMMAND]  {lines}" in result.report_text


def test_prose_sentences() -> None:
    result = imported(DOCS / "prose.md")
    config = validated(result)
    assert config.config.timezone == "Europe/Berlin"
    assert rules(config) == {
        "app/p99-latency": ("p99(latency_ms) > 800 for 10m", "P2"),
        "app/error-rate": ("error_rate > 2% over 5m for 5m", "P1"),
        "app/down": ("failures >= 5", "P0"),
        "host/disk": ("disk_pct > 90", "P2"),
        "host/memory": ("memory_pct > 95 for 15m", "P2"),
    }
    assert slas(config) == {"P0": "300s", "P1": "600s", "P2": "1800s", "P3": "next_business_day", "P4": None}
    assert levels(config) == [
        (["schedule:primary"], 15 * MINUTE),
        (["user:engineering-manager"], 30 * MINUTE),
        (["user:cto"], None),
    ]
    [schedule] = config.config.schedules
    layer = schedule.layers[0]
    assert (layer.users, str(layer.handoff), schedule.timezone) == (
        ["ana", "ben", "chen"],
        "monday 10:00",
        "Europe/Berlin",
    )
    [window] = config.config.maintenance_windows
    assert (window.cron, window.duration.total_seconds(), window.timezone) == (
        "0 22 * * 2",
        5400,
        "Europe/Berlin",
    )
    assert checks(config)["app/tls"].host == "app.lumen.io"
    assert checks(config)["app/healthz"].interval.total_seconds() == 30  # "every thirty seconds"
    assert list(result.report.unsupported) == []
    assert slos(config) == {"app": ("99.95", 30)}  # "Our uptime target is 99.95% per calendar month."
    assert unknown_lines(result) == [13]


def test_tables() -> None:
    result = imported(DOCS / "tables.md")
    config = validated(result)
    assert rules(config) == {
        "gateway/gateway-latency-p95": ("p95(latency_ms) > 300 for 10m", "P2"),
        "gateway/gateway-error-rate": ("error_rate > 5% over 5m for 5m", "P1"),
        "ledger-db/ledger-db-connections": ("connections_pct > 80 for 2m", "P2"),
        "host/host-cpu": ("cpu_pct > 90 for 15m", "P3"),
    }
    service_rules = {r.name: r for s in config.config.services for r in s.rules}
    assert service_rules["ledger-db-connections"].labels == {"paged": "DBA"}
    assert slas(config) == {"P0": "300s", "P1": "600s", "P2": "3600s", "P3": "next_business_day", "P4": None}
    routing = config.config.routing
    assert (routing.P0.action, routing.P0.channels) == ("page", ["pagerduty"])
    assert (routing.P2.action, routing.P2.channels) == ("notify", ["slack"])
    assert routing.P4.action == "log"
    assert levels(config) == [
        (["schedule:primary"], 10 * MINUTE),
        (["user:secondary-on-call"], 15 * MINUTE),
        (["user:head-of-engineering"], None),
    ]
    [window] = config.config.maintenance_windows
    assert (window.cron, window.services) == ("0 1 * * 6", ["ledger-db"])
    found = checks(config)
    assert found["queue/ping"].password == "opsbook-draft-value"  # ${QUEUE_PASSWORD}, named by the document
    assert "${QUEUE_PASSWORD}" in result.yaml
    assert found["ledger-db/select-1"].kind == "postgres"
    [job] = config.config.backups
    assert (job.name, job.schedule, job.rto, job.rpo) == (
        "ledger",
        "0 * * * *",
        timedelta(hours=1),
        timedelta(minutes=5),
    )
    assert job.retention is not None and job.retention.days == 35
    assert list(result.report.unsupported) == []
    assert unknown_lines(result) == [19]  # "Refund backlog > 200 items": nothing measures it


def test_emoji_headings_and_lists() -> None:
    result = imported(DOCS / "emoji-lists.md")
    config = validated(result)
    assert result.draft.title == "Nimbus — Ops Handbook"
    assert rules(config) == {
        "api/api-down": ("failures >= 1 for 2m", "P1"),
        "api/checkout-error-rate": ("error_rate > 3% over 5m for 5m", "P1"),
        "api/p95-latency": ("p95(latency_ms) > 1500 for 10m", "P2"),
        "db/slow-queries": ("long_queries > 5 for 5m", "P2"),
        "host/disk": ("disk_pct > 80", "P2"),
        "host/swap": ("swap_pct > 50", "P3"),  # "Info" is P3 in this document, not opsbook's P4
    }
    assert checks(config)["db/select-1"].measure == ["long_queries"]
    assert slas(config) == {"P0": "300s", "P1": "600s", "P2": "1800s", "P3": "next_business_day", "P4": None}
    assert config.config.routing.P2.channels == ["slack-nimbus-alerts"]
    [schedule] = config.config.schedules
    layer = schedule.layers[0]
    assert (layer.users, layer.turn.days, str(layer.handoff)) == (["dana", "eli", "fatima"], 1, "08:00")
    assert schedule.timezone == "America/New_York"
    [restriction] = layer.restrictions
    assert (restriction.days, str(restriction.start), str(restriction.end)) == (
        [0, 1, 2, 3, 4],
        "08:00:00",
        "20:00:00",
    )
    assert levels(config) == [
        (["schedule:primary"], 20 * MINUTE),
        (["user:team-lead"], 20 * MINUTE),
        (["user:vp-engineering"], None),
    ]
    [window] = config.config.maintenance_windows
    assert (window.cron, window.duration.total_seconds(), window.match) == (
        "0 3 * * *",
        1800,
        {"service": ".*"},
    )
    assert [(s.name, s.every.days) for s in config.config.secrets] == [
        ("stripe-api-key", 90),
        ("database-password", 180),
    ]
    assert list(result.report.unsupported) == []
    assert unknown_lines(result) == [15, 57]


def test_crlf_and_mojibake() -> None:
    data = (DOCS / "crlf-mojibake.md").read_bytes()
    assert b"\r\n" in data and "ð".encode() in data  # the fixture really is CRLF and mojibake
    result = imported(DOCS / "crlf-mojibake.md")
    config = validated(result)
    assert result.draft.title == "Kestrel Ops – Betriebshandbuch"
    assert "ðŸ" not in result.yaml and "â€" not in result.yaml
    assert rules(config) == {
        "web/website-response-time": ("avg(latency_ms) >= 2000 for 3m", "P1"),
        "web/website-error-rate": ("error_rate >= 1% over 10m for 10m", "P1"),
        "redis/redis-memory": ("used_memory_pct > 90", "P2"),
        "host/cpu": ("cpu_pct >= 85 for 20m", "P2"),
    }
    assert slas(config)["P2"] == "7200s"
    assert [c.name for c in config.config.channels] == ["opsgenie", "teams", "email-ops"]
    assert "ops@kestrel.de" in result.yaml  # in the hint of the channel's variable
    [window] = config.config.maintenance_windows
    assert (window.cron, window.duration.total_seconds(), window.timezone) == (
        "0 1 * * 0",
        14400,
        "Europe/Berlin",
    )
    assert "${WEB_HOST}" in result.yaml  # www.kestrel.example is an example host
    assert unknown_lines(result) == [3, 39]
    assert "Café order" in result.report_text  # genuine accents are left as they are


def test_windows_1252_file() -> None:
    result = imported(DOCS / "legacy-cp1252.md")
    config = validated(result)
    assert result.draft.title == "Runbook de l'équipe Hélios"
    assert rules(config) == {
        "api/taux-d-erreur": ("error_rate > 5% over 5m for 5m", "P1"),
        "host/disk": ("disk_pct > 90", "P2"),
    }
    assert slas(config)["P1"] == "900s"
    [window] = config.config.maintenance_windows
    assert (window.cron, window.duration.total_seconds(), window.timezone) == (
        "0 23 * * 3",
        3540,
        "Europe/Paris",
    )
    assert unknown_lines(result) == []


def test_commands_in_fences() -> None:
    result = imported(DOCS / "code-heavy.md")
    config = validated(result)
    found = checks(config)
    assert sorted(found) == ["api/healthz", "db/select-1", "docker/ps", "host/system", "redis/ping"]
    assert found["docker/ps"].command == "docker-compose ps"
    assert rules(config) == {
        "api/api-p95-latency": ("p95(latency_ms) > 750 for 5m", "P1"),
        "api/api-error-rate": ("error_rate > 4% over 5m for 5m", "P1"),
        "host/disk-usage": ("disk_pct > 75", "P2"),
        "host/load-average": ("load1 > 8 for 10m", "P2"),
    }
    assert slas(config)["P1"] == "600s" and slas(config)["P2"] == "3600s"
    assert unknown_lines(result) == [23, 24, 25]  # another tool's YAML is not guessed at
    assert "runbook steps" in result.report_text


def test_several_files() -> None:
    result = imported(DOCS / "split" / "monitoring.md", DOCS / "split" / "oncall.md")
    config = validated(result)
    assert rules(config) == {
        "web/site-unreachable": ("failures >= 1 for 3m", "P1"),
        "web/5xx-error-rate": ("error_rate > 2% over 5m for 5m", "P1"),
        "web/p99-response-time": ("p99(latency_ms) > 1200 for 15m", "P2"),
        "web/certificate-expires": ("days_left < 21", "P3"),
        "db/postgres-connections": ("connections_pct > 85 for 5m", "P2"),
    }
    assert slas(config) == {"P0": "300s", "P1": "300s", "P2": "1200s", "P3": "14400s", "P4": None}
    assert levels(config) == [
        (["schedule:primary"], 10 * MINUTE),
        (["user:greta"], 20 * MINUTE),
        (["user:founders"], None),
    ]
    [schedule] = config.config.schedules
    assert str(schedule.layers[0].handoff) == "wednesday 16:00" and schedule.timezone == "Europe/Amsterdam"
    # each entry names its own file
    assert '# monitoring.md:21 "* [SEV1] 5xx error rate above 2% for 5 minutes"' in result.yaml
    assert '# oncall.md:18 "| SEV2 | 20 minutes | Page on-call via PagerDuty |"' in result.yaml
    assert config.config.maintenance_windows[0].services == ["db"]


@pytest.mark.parametrize(
    "name",
    ["prose.md", "tables.md", "emoji-lists.md", "crlf-mojibake.md", "legacy-cp1252.md", "code-heavy.md"],
)
def test_rendering_twice_gives_the_same_draft(name: str) -> None:
    from opsbook.docimport.draft import render

    result = imported(DOCS / name)
    assert render(result.draft, ["."]) == result.yaml


def test_setext_headings_severity_sections_and_an_arrow_chain() -> None:
    result = imported(DOCS / "headings-per-severity.md")
    config = validated(result)
    assert rules(config) == {
        "host/high-cpu": ("cpu_pct > 90 for 10m", "P2"),
        "web/api-5xx": ("error_rate > 1% over 5m for 5m", "P1"),
        "web/website-down": ("failures >= 3", "P1"),
    }
    # "### SEV-1 — Critical" over "Response: 15 minutes …"
    assert slas(config) == {"P0": "300s", "P1": "900s", "P2": "3600s", "P3": "next_business_day", "P4": None}
    assert config.config.routing.P2.business_hours_only
    assert config.config.routing.P2.channels == ["slack-acme-incidents"]
    assert levels(config) == [
        (["schedule:primary"], 15 * MINUTE),
        (["user:engineering-manager"], 30 * MINUTE),
        (["user:cto"], None),
    ]
    assert str(config.config.schedules[0].layers[0].handoff) == "monday 09:00"
    [window] = config.config.maintenance_windows
    assert window.cron == "0 3 * * 0#1"  # the first Sunday of each month, not every Sunday
    assert unknown_lines(result) == [16, 22, 38]


def test_front_matter_nested_lists_and_a_contacts_table() -> None:
    result = imported(DOCS / "nested-and-contacts.md")
    config = validated(result)
    assert result.draft.title == "Quill — operating the service"  # the front matter is not a heading
    # severities from the parent item ("- P1 (page the on-call):" over the rules)
    assert rules(config) == {
        "web/api-returns": ("error_rate > 2% over 5m for 5m", "P1"),
        "db/database-unreachable": ("failures >= 3", "P1"),
        "host/disk": ("disk_pct > 80", "P2"),
        "redis/redis-memory": ("used_memory_pct > 75 for 10m", "P2"),
    }
    assert (config.config.routing.P1.action, config.config.routing.P2.channels) == ("page", ["slack"])
    users = {u.name: u for u in config.config.users}
    assert (users["priya-shah"].full_name, users["priya-shah"].email) == ("Priya Shah", "priya@quill.dev")
    # the roles the escalation path names are the people the contacts table gives them to
    assert levels(config) == [
        (["schedule:primary"], 10 * MINUTE),
        (["user:priya-shah"], 20 * MINUTE),
        (["user:tom-berg"], None),
    ]
    assert slas(config)["P1"] == "600s" and slas(config)["P2"] == "14400s"
    assert slos(config) == {"web": ("99.5", 90)}  # "SLO: 99.5% availability per quarter" (line 35)
    [job] = config.config.backups  # "Nightly at 02:00 UTC, kept for 30 days"
    assert (job.schedule, job.timezone, job.retention.days if job.retention else None) == (
        "0 2 * * *",
        "UTC",
        30,
    )
    assert unknown_lines(result) == []


def test_escalation_tiers_with_ranges_and_lead_in_sentences() -> None:
    result = imported(DOCS / "tiers.md")
    config = validated(result)
    # "Tier 2: team lead (15-30 min)": paged from minute 15; "30+ min": from minute 30
    assert levels(config) == [
        (["schedule:primary"], 15 * MINUTE),
        (["user:team-lead"], 15 * MINUTE),
        (["user:head-of-engineering"], None),
    ]
    assert rules(config) == {
        "api/api-down": ("failures >= 1 for 2m", None),
        "api/api-latency": ("avg(latency_ms) > 800 for 10m", "P2"),  # "over 800 ms" is the threshold
        "api/p95-latency": ("p95(latency_ms) > 500 for 5m", "P1"),  # "(5m)" is how long
    }
    assert "${API_HEALTH_URL}" in result.yaml  # the API is named, its URL is not: a variable, no guess
    [window] = config.config.maintenance_windows
    assert (window.cron, window.duration.total_seconds()) == ("0 2 * * 0", 7200)  # "between 2 and 4 AM"
    assert unknown_lines(result) == []


def test_arrows_passive_voice_and_priorities_table() -> None:
    result = imported(DOCS / "arrows-and-passive.md")
    config = validated(result)
    assert rules(config) == {
        "host/cpu": ("cpu_pct > 90 for 5m", "P2"),
        "status/error-rate": ("error_rate > 1% over 10m for 10m", "P1"),
        "host/memory": ("memory_pct > 90", "P3"),
        "db/down": ("failures >= 3", "P0"),
    }
    check = checks(config)["status/ping"]
    assert (check.url, check.interval.total_seconds()) == (
        "https://service.invalid/ping",
        60,
    )  # "every minute"
    assert "${STATUS_HOST}" in result.yaml
    assert slas(config) == {
        "P0": "600s",
        "P1": "1800s",
        "P2": "14400s",
        "P3": "next_business_day",
        "P4": None,
    }
    # "2 business days" is no response time opsbook can hold: said so, and the default P3 stays
    assert "response time '2 business days' not understood" in result.report_text
    assert (config.config.routing.P0.action, config.config.routing.P3.action) == ("page", "notify")
    # "if no ack in 10 minutes, the secondary is paged; after 20 more minutes, the Head of Platform"
    assert levels(config) == [
        (["schedule:primary"], 10 * MINUTE),
        (["user:secondary"], 20 * MINUTE),
        (["user:head-of-platform"], None),
    ]
    assert "assumed: the document names nobody before the first escalation" in result.yaml
    layer = config.config.schedules[0].layers[0]
    assert (layer.users, str(layer.handoff)) == (["amy", "bo", "cy", "di"], "friday 17:00")
    [freeze] = config.config.deploys.freezes  # "No deploys on Fridays after 15:00."
    assert (freeze.cron, freeze.duration.total_seconds()) == ("0 15 * * 5", 9 * 3600)
    assert "assumed: 'after' read as until the end of the day" in result.yaml
    assert list(result.report.unsupported) == []
    assert unknown_lines(result) == [24]


def test_severity_words_the_document_does_not_define() -> None:
    """Under '## Critical alerts' a rule is P0 as opsbook reads 'critical', and the draft says so; in a rule's
    own words an undefined word is no severity ('High memory' is not P1)."""
    text = "# X\n\n## Critical alerts\n\n- CPU > 95% for 5 minutes\n\n## Warnings\n\n- High memory > 90%\n"
    result = imported_bytes(text.encode())
    config = validated(result)
    assert rules(config) == {
        "host/cpu": ("cpu_pct > 95 for 5m", "P0"),
        "host/high-memory": ("memory_pct > 90", "P2"),
    }
    assert "assumed: 'critical' read as P0, opsbook's meaning" in result.yaml
    assert "assumed: 'warning' read as P2, opsbook's meaning" in result.yaml
    alone = validated(imported_bytes(b"# Y\n\n## Alerts\n\n- High memory > 90%\n"))
    assert rules(alone) == {"host/high-memory": ("memory_pct > 90", None)}


def test_html_in_tables_a_quote_block_and_time_first_arrows() -> None:
    result = imported(DOCS / "notion-export.md")
    config = validated(result)
    # "≥ 1,000 ms<br>for 5 min": a tag separates words, 1,000 is a thousand
    assert rules(config) == {
        "payments/latency-p99": ("p99(latency_ms) >= 1000 for 5m", "P2"),
        "payments/5xx": ("error_rate >= 5% over 2m for 2m", "P1"),
    }
    # "after 15 min → team lead; after 45 min → CTO", the on-call first
    assert levels(config) == [
        (["schedule:primary"], 15 * MINUTE),
        (["user:team-lead"], 30 * MINUTE),
        (["user:cto"], None),
    ]
    layer = config.config.schedules[0].layers[0]
    assert (layer.users, str(layer.handoff), config.config.schedules[0].timezone) == (
        ["jo", "kim", "lou"],
        "monday 10:00",
        "Europe/Paris",
    )
    assert slas(config) == {"P0": "300s", "P1": "600s", "P2": "3600s", "P3": "next_business_day", "P4": None}
    assert unknown_lines(result) == []


def test_monitors_heartbeats_and_a_members_list() -> None:
    result = imported(DOCS / "monitors-and-heartbeats.md")
    config = validated(result)
    found = checks(config)
    assert sorted(found) == ["api/health", "db/select-1", "web/http", "worker/heartbeat"]
    assert (found["web/http"].url, found["web/http"].interval.total_seconds()) == (
        "https://www.shoply.io",
        30,
    )
    assert found["worker/heartbeat"].cron == "0 4 * * *"  # "the nightly job pings healthchecks at 04:00"
    assert rules(config) == {
        "api/p90-latency": ("p90(latency_ms) > 1200 for 3m", "P2"),
        "web/down": ("failures >= 1 for 5m", "P1"),
    }
    assert slas(config) == {"P0": "300s", "P1": "300s", "P2": "1800s", "P3": "next_business_day", "P4": None}
    assert config.config.routing.P2.action == "page"
    [schedule] = config.config.schedules
    layer = schedule.layers[0]
    assert (layer.users, str(layer.handoff), schedule.timezone) == (
        ["rae", "sam", "tia", "uma"],
        "monday 09:00",
        "America/Chicago",
    )
    assert unknown_lines(result) == []


def test_a_runbook_column_names_the_rules_procedure() -> None:
    text = (
        "# R\n\n## Alerts\n\n| Alert | Condition | Severity | Runbook |\n|---|---|---|---|\n"
        '| API slow | p95 latency > 800ms for 5m | P2 | "API is slow" |\n'
        "| Disk | disk > 90% | P1 | See Out of disk space |\n"
    )
    config = validated(imported_bytes(text.encode()))
    found = {r.name: (r.when, r.runbook) for s in config.config.services for r in s.rules}
    assert found == {
        "api-slow": ("p95(latency_ms) > 800 for 5m", "API is slow"),
        "disk": ("disk_pct > 90", "Out of disk space"),
    }


def test_percentiles_in_words() -> None:
    text = (
        "# T\n\n## Alerts (P2)\n\n- 99th percentile response time > 1.5 s for 10 mins\n"
        "- median latency > 200ms over 15 minutes\n- peak latency above 3000 ms for 1 minute\n"
    )
    config = validated(imported_bytes(text.encode()))
    assert sorted(when for when, _ in rules(config).values()) == [
        "max(latency_ms) > 3000 for 1m",
        "p50(latency_ms) > 200 for 15m",
        "p99(latency_ms) > 1500 for 10m",
    ]


def test_an_on_call_calendar_table() -> None:
    result = imported(DOCS / "oncall-calendar.md")
    config = validated(result)
    schedules = {s.name: s.layers[0] for s in config.config.schedules}
    assert (schedules["primary"].users, str(schedules["primary"].start)) == (
        ["ana", "ben", "cleo"],
        "2026-01-05",
    )
    assert schedules["secondary"].users == ["ben", "cleo", "ana"]
    assert "ONCALL_START_DATE" not in result.yaml  # the table gives the first week
    assert levels(config) == [
        (["schedule:primary"], 10 * MINUTE),
        (["schedule:secondary"], 20 * MINUTE),
        (["user:cto"], None),
    ]
    assert unknown_lines(result) == []


def test_one_rule_per_severity_column() -> None:
    result = imported(DOCS / "severity-columns.md")
    config = validated(result)
    assert rules(config) == {
        "host/cpu-warning": ("cpu_pct > 70 for 10m", "P2"),
        "host/cpu-critical": ("cpu_pct > 90 for 10m", "P0"),
        "api/api-p95-latency-warning": ("p95(latency_ms) > 400 for 5m", "P2"),
        "api/api-p95-latency-critical": ("p95(latency_ms) > 1000 for 5m", "P0"),
        "host/disk-warning": ("disk_pct > 80", "P2"),
        "host/disk-critical": ("disk_pct > 95", "P0"),
    }
    assert "assumed: the column 'Critical' read as P0, opsbook's meaning" in result.yaml
    assert unknown_lines(result) == []


def test_severities_inline_and_a_silent_worker() -> None:
    result = imported(DOCS / "inline-severities.md")
    config = validated(result)
    assert rules(config) == {
        "api/p99-latency": ("p99(latency_ms) > 2000 for 10m", "P2"),
        "api/search-api-returns": ("error_rate > 5% over 5m", "P1"),
        "redis/redis-memory-usage": ("used_memory_pct > 80", None),
    }
    # "Page if the queue worker has not sent a heartbeat for 15 minutes"
    assert checks(config)["queue-worker/heartbeat"].period.total_seconds() == 15 * MINUTE
    assert slas(config)["P1"] == "600s" and slas(config)["P2"] == "3600s"
    layer = config.config.schedules[0].layers[0]
    assert (layer.users, str(layer.handoff), config.config.schedules[0].timezone) == (
        ["aki", "ren", "sora"],
        "tuesday 11:00",
        "Asia/Tokyo",
    )
    assert unknown_lines(result) == []


def test_the_shift_checklist_is_due_at_the_handoff() -> None:
    text = (
        "# Ops\n\n## Rotation\n\n"
        "On-call rotates weekly among Ana and Ben, handing off Wednesdays at 16:00 UTC.\n\n"
        "## Before your on-call shift\n\n"
        "- [ ] Check you can log in to the VPN\n- [ ] Read the handoff note\n\n"
        "## Chores\n\n- Weekly: prune old Docker images\n"
    )
    result = imported_bytes(text.encode())
    config = validated(result)
    chores = {c.name: (c.procedure, c.schedule, c.oncall, c.within.days) for c in config.config.chores}
    assert chores == {
        "prune-old-docker-images": ("Chores", "0 9 * * 1", "primary", 2),
        "before-your-on-call-shift": ("Before your on-call shift", "0 16 * * 3", "primary", 1),
    }
    assert unknown_lines(result) == []


def test_an_uptime_target_becomes_the_slo_of_the_services_probed_over_http() -> None:
    result = imported_bytes(
        b"# Shop operations\n\n"
        b"We poll https://shop.example.org/healthz every minute.\n\n"
        b"| Setting | Value |\n|---|---|\n| **Uptime Target** | 99.9% |\n"
    )
    config = validated(result)
    assert slos(config) == {"shop": ("99.9", 30)}
    assert "assumed: a rolling window of 30 days (the document names none)" in result.yaml
    assert "uptime target" not in result.report.unsupported
