"""`opsbook doc check`: none on a fresh import; each kind of drift found, with both lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsbook.config.loader import parse_config
from opsbook.config.yamlpos import load_with_lines
from opsbook.docimport.drift import ConfigView, Drift, compare
from opsbook.docimport.samples import environment
from tests.docimport.support import DOCS, EXAMPLES, imported

FIXTURES = [
    [EXAMPLES / "pazpaz-operations.md"],
    [EXAMPLES / "operations-template.md"],
    [DOCS / "prose.md"],
    [DOCS / "tables.md"],
    [DOCS / "emoji-lists.md"],
    [DOCS / "crlf-mojibake.md"],
    [DOCS / "legacy-cp1252.md"],
    [DOCS / "code-heavy.md"],
    [DOCS / "headings-per-severity.md"],
    [DOCS / "nested-and-contacts.md"],
    [DOCS / "tiers.md"],
    [DOCS / "arrows-and-passive.md"],
    [DOCS / "notion-export.md"],
    [DOCS / "monitors-and-heartbeats.md"],
    [DOCS / "oncall-calendar.md"],
    [DOCS / "severity-columns.md"],
    [DOCS / "inline-severities.md"],
    [DOCS / "split" / "monitoring.md", DOCS / "split" / "oncall.md"],
]


def drift(paths: list[Path], edit: tuple[str, str] | None = None, yaml: str | None = None) -> list[Drift]:
    """The drift between the documents and their own draft, after one textual edit of the draft."""
    result = imported(*paths)
    text = yaml if yaml is not None else result.yaml
    if edit is not None:
        assert edit[0] in text, edit
        text = text.replace(edit[0], edit[1], 1)
    env = environment(result.draft.variables)
    loaded = parse_config(text, "opsbook.yaml", env)
    return compare(
        result.draft, ConfigView(loaded.config, "opsbook.yaml", load_with_lines(text, "x", env).lines)
    )


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("paths", FIXTURES, ids=lambda p: "+".join(x.name for x in p))
def test_no_drift_on_a_fresh_import(paths: list[Path]) -> None:
    assert drift(paths) == []


PAZPAZ = [EXAMPLES / "pazpaz-operations.md"]


def test_a_response_time_changed() -> None:
    draft = imported(*PAZPAZ).yaml
    [found] = drift(PAZPAZ, ("P1: 15m", "P1: 30m"))
    assert found.kind == "sla"
    assert found.message == "P1 response time: the document says 15m, the config says 30m"
    assert found.document == "pazpaz-operations.md:87"
    assert found.config == f"opsbook.yaml:{line_of(draft, 'P1: 15m')}"


def test_a_threshold_and_a_severity_changed() -> None:
    draft = imported(*PAZPAZ).yaml
    found = drift(
        PAZPAZ,
        (
            "when: cpu_pct > 80 for 5m\n        severity: P1",
            "when: cpu_pct > 90 for 5m\n        severity: P2",
        ),
    )
    assert [(d.kind, d.document) for d in found] == [("rule", "pazpaz-operations.md:193")] * 2
    assert (
        "the document says 'cpu_pct > 80 for 5m', the config says 'cpu_pct > 90 for 5m'" in found[0].message
    )
    assert found[0].config == f"opsbook.yaml:{line_of(draft, 'cpu_pct > 80 for 5m')}"
    assert "the document says P1, the config says P2" in found[1].message


def test_a_health_check_no_check_performs() -> None:
    found = drift(PAZPAZ, ("url: https://api.pazpaz.com/health", "url: https://elsewhere.pazpaz.com/health"))
    assert [d.kind for d in found] == ["check"]
    assert found[0].document == "pazpaz-operations.md:100"
    assert "https://api.pazpaz.com/health" in found[0].message


def test_a_rule_the_document_never_mentions_pages() -> None:
    extra = (
        "      - name: disk-space\n",
        "      - name: inodes\n        check: system\n        when: disk_pct > 99\n        severity: P0\n"
        "      - name: disk-space\n",
    )
    found = drift(PAZPAZ, extra)
    [unmentioned] = [d for d in found if d.kind == "unmentioned"]
    assert "host/inodes" in unmentioned.message and unmentioned.document == "(not in the document)"
    assert unmentioned.config.startswith("opsbook.yaml:")


def test_the_consecutive_failures_count_changed() -> None:
    found = drift(
        PAZPAZ, ("when: failures >= 3\n        severity: P0", "when: failures >= 5\n        severity: P0")
    )
    assert found[0].kind == "rule" and found[0].document == "pazpaz-operations.md:185"
    assert "'failures >= 3'" in found[0].message and "'failures >= 5'" in found[0].message


def test_a_maintenance_window_changed_and_removed() -> None:
    [longer] = drift(PAZPAZ, ("duration: 2h", "duration: 3h"))
    assert longer.kind == "window" and "the document says 2h, the config says 3h" in longer.message
    [moved] = drift(PAZPAZ, ("cron: 0 2 * * 0", "cron: 0 3 * * 0"))
    assert moved.kind == "window" and moved.document == "pazpaz-operations.md:51"


def test_an_escalation_level_changed() -> None:
    template = [EXAMPLES / "operations-template.md"]
    draft = imported(*template).yaml
    [found] = drift(template, ("after: 20m", "after: 30m"))
    assert found.kind == "escalation"
    assert "level 2" in found.message and "after 20m, the config after 30m" in found.message
    assert found.document == "operations-template.md:424"
    assert found.config == f"opsbook.yaml:{line_of(draft, 'after: 20m')}"


def test_routing_changed() -> None:
    template = [EXAMPLES / "operations-template.md"]
    found = drift(template, ("  P4:\n    action: log", "  P4:\n    action: notify"))
    assert [(d.kind, d.document) for d in found] == [("routing", "operations-template.md:166")]


def test_a_default_counts_as_what_the_config_says() -> None:
    """A response time the config leaves out is its default: the document's 10m disagrees with 15m."""
    prose = [DOCS / "prose.md"]
    result = imported(*prose)
    text = result.yaml.replace("    P1: 10m\n", "")
    found = drift(prose, yaml=text)
    assert [(d.kind, d.config) for d in found] == [
        ("sla", "opsbook.yaml:" + str(line_of(text, "sla:")) + " (not set: default)")
    ]


def test_the_rotation_changed() -> None:
    prose = [DOCS / "prose.md"]
    draft = imported(*prose).yaml
    found = drift(prose, ("handoff: monday 10:00", "handoff: tuesday 10:00"))
    assert [(d.kind, d.document) for d in found] == [("schedule", "prose.md:22")]
    assert "handoff monday 10:00, the config says tuesday 10:00" in found[0].message
    assert found[0].config == f"opsbook.yaml:{line_of(draft, 'handoff: monday 10:00')}"
    [people] = drift(prose, ("          - chen\n", ""))
    assert "the document rotates ana, ben, chen, the config ana, ben" in people.message


def test_a_rotation_period_changed() -> None:
    draft = imported(*PAZPAZ).yaml
    found = drift(PAZPAZ, ("every: 180d", "every: 365d"))
    assert [(d.kind, d.document) for d in found] == [("secret", "pazpaz-operations.md:32")]
    assert "redis-password: the document rotates it every 180d, the config every 365d" in found[0].message
    assert found[0].config == f"opsbook.yaml:{line_of(draft, 'every: 180d')}"


def test_backup_retention_and_the_scaling_plan_changed() -> None:
    template = [EXAMPLES / "operations-template.md"]
    [kept] = drift(template, ("      days: 30", "      days: 14"))
    assert (kept.kind, kept.document) == ("backup", "operations-template.md:268")
    assert "backup database: the document keeps 30 days, the config 14" in kept.message
    [plan] = drift(
        template,
        (
            "        - at: 80.0\n          action: Add more web servers",
            "        - at: 70.0\n          action: Add more web servers",
        ),
    )
    assert (plan.kind, plan.document) == ("capacity", "operations-template.md:361")
    assert "acts at 80, the config's at 70" in plan.message
