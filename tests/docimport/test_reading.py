"""The pure parts on their own: decoding, statements with their lines and context, English numbers."""

from __future__ import annotations

import codecs

import pytest

from opsbook.docimport import words
from opsbook.docimport.encoding import decode, repair
from opsbook.docimport.statements import read
from opsbook.docimport.yamlwrite import Noted, dump


@pytest.mark.parametrize(
    "original", ["📋 Quick Facts", "☐ Health check passes", "P0 → page", "⚙️ Ops – résumé"]
)
@pytest.mark.parametrize("legacy", ["cp1252", "mac_roman", "latin-1"])
def test_mojibake_is_undone(original: str, legacy: str) -> None:
    try:
        broken = original.encode("utf-8").decode(legacy)
    except UnicodeDecodeError:
        pytest.skip(f"{legacy} cannot show these bytes")
    assert repair(broken) == original


def test_genuine_accents_and_line_count_are_kept() -> None:
    text = "Café\r\nnaïve Ærø\rÜber\n"
    assert repair(text) == "Café\nnaïve Ærø\nÜber\n"


def test_byte_order_marks_and_legacy_files() -> None:
    assert decode(codecs.BOM_UTF8 + b"# Ops\n") == "# Ops\n"
    assert decode("# Ops ✓\n".encode("utf-16")) == "# Ops ✓\n"
    assert decode("Délai: 15 minutes\n".encode("cp1252")) == "Délai: 15 minutes\n"


def test_statements_carry_lines_sections_labels_and_context() -> None:
    text = (
        "# 🚨 Ops\n\n## 📊 Alerts\n\n**Critical Alerts (P0):**\n- API down\n- **P1 (High):** slow\n\n"
        "| Metric | Threshold |\n|---|---|\n| CPU | >80% |\n\n"
        "```bash\n# Check health\ncurl -f \\\n  https://x.io/health\n```\n\n1. first\n2. second\n"
    )
    found = {s.line: s for s in read(text, "OPS.md")}
    assert found[3].kind == "heading" and found[3].text == "Alerts"
    assert found[6].section == ("Ops", "Alerts") and found[6].context == "Critical Alerts (P0)"
    assert (found[7].label, found[7].text) == ("P1 (High)", "slow")
    assert found[11].cells == ("CPU", ">80%") and found[11].header == ("Metric", "Threshold")
    assert found[14].kind == "comment" and found[14].text == "Check health"
    assert found[15].kind == "command" and found[15].text == "curl -f https://x.io/health"
    assert (found[19].ordinal, found[20].ordinal) == (1, 2)
    assert found[19].block == found[20].block


def test_plain_labels_and_checklist_lines_in_fences() -> None:
    found = {s.line: s for s in read("```\n☐ Monthly: Rotate database passwords\n↓\n```\n", "A.md")}
    assert list(found) == [2]
    assert (found[2].kind, found[2].label, found[2].text) == ("line", "Monthly", "Rotate database passwords")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Error rate > 10% for 5 minutes", (">", 10.0, "%")),
        ("p95 response time exceeds 500ms", (">", 500.0, "ms")),
        (">2 seconds", (">", 2.0, "s")),
        ("Disk ≥ 85 %", (">=", 85.0, "%")),
        ("expires in less than 21 days", ("<", 21.0, "")),
    ],
)
def test_thresholds(text: str, expected: tuple[str, float, str]) -> None:
    found = words.threshold(text)
    assert found is not None and (found.op, found.value, found.unit) == expected


def test_no_threshold_in_a_plain_duration() -> None:
    assert words.threshold("for 5 minutes") is None
    assert words.hold_duration("Error rate > 10% for 5 minutes") == 300


@pytest.mark.parametrize(
    ("text", "days", "span", "zone"),
    [
        ("Sundays 2-4 AM UTC", [0], (120, 240), "UTC"),
        ("every Tuesday from 22:00 to 23:30 Europe/Berlin", [2], (1320, 1410), "Europe/Berlin"),
        ("weekdays 8am-8pm PST", [1, 2, 3, 4, 5], (480, 1200), "America/Los_Angeles"),
        ("Mon-Wed 01:00–02:00", [1, 2, 3], (60, 120), None),
    ],
)
def test_days_times_and_zones(text: str, days: list[int], span: tuple[int, int], zone: str | None) -> None:
    assert words.weekdays(text) == days
    assert words.time_range(text) == span
    found = words.time_zone(text)
    assert (found[0] if found else None) == zone


def test_severities_named_and_ranged() -> None:
    assert [s.value for s in words.severities("SEV1 and P3, P0-P2")] == ["P0", "P1", "P2", "P3"]
    assert words.severity("Critical alerts", {"critical": words.Severity.P1}) == words.Severity.P1
    assert words.severity("nothing here", {"critical": words.Severity.P1}) is None


def test_yaml_comments_sit_above_their_entries() -> None:
    text = dump({"services": [Noted({"name": "api", "checks": []}, ['OPS.md:3 "curl"'])]}, ["head"])
    assert text == '# head\nservices:\n  # OPS.md:3 "curl"\n  - name: api\n    checks: []\n'


@pytest.mark.parametrize(
    ("text", "hold"),
    [
        ("latency over 500 ms", None),
        ("error rate over 2% over 10 minutes", 600),
        ("p95 > 500ms (5m)", 300),
        ("CPU > 90% 10 min sustained", 600),
        ("for 5+ minutes", 300),
    ],
)
def test_how_long_a_condition_holds(text: str, hold: int | None) -> None:
    assert words.hold_duration(text) == hold


def test_time_ranges_said_as_their_start() -> None:
    assert words.times_said("Tier 2: team lead (15-30 min)") == [900]
    assert words.times_said("head of engineering (30+ min)") == [1800]


def test_thousands_and_symbols_after_a_name() -> None:
    found = words.threshold("Latency p99 ≥ 1,000 ms for 5 min")
    assert found is not None and (found.op, found.value, found.unit) == (">=", 1000.0, "ms")
    found = words.threshold("disk 85% or more")
    assert found is not None and (found.op, found.value) == (">=", 85.0)
