"""Words people read instead of identifiers: timeline kinds, escalation steps, alert names, counts."""

from __future__ import annotations

import pytest

from opsbook.incidents.words import TIMELINE_WORDS, alert_name, escalation_step, step_of_key, timeline_label
from opsbook.words import count, unnumbered


def test_every_timeline_kind_reads_as_words() -> None:
    assert timeline_label("all_alerts_resolved") == "All alerts resolved"
    assert timeline_label("alert_joined") == "Alert joined"
    assert timeline_label("sla_breach") == "Response time missed"
    assert timeline_label("something_new") == "Something new"  # a kind added later still reads as words
    for kind, words in TIMELINE_WORDS.items():
        assert "_" not in words and words[0].isupper(), kind


@pytest.mark.parametrize(
    ("level", "round_", "kind", "shown"),
    [(0, 0, "level", "level 1"), (1, 0, "level", "level 2"), (1, 1, "level", "level 2, round 2"),
     (0, 3, "renotify", "reminder 3")],
)
def test_escalation_steps_count_from_one(level: int, round_: int, kind: str, shown: str) -> None:
    assert escalation_step(level, round_, kind) == shown


def test_step_keys_in_words() -> None:
    assert step_of_key("r0-l0") == "level 1"
    assert step_of_key("r1-l2") == "level 3, round 2"
    assert step_of_key("renotify-2") == "reminder 2"
    assert step_of_key("sla") == "sla"


def test_alert_names() -> None:
    assert alert_name("api", "api/health", "api-down") == "api · health · rule api-down"
    assert alert_name("api", "db/select-1", None) == "api · db/select-1"  # another service's check in full
    assert alert_name("api", None, None) == "api"
    assert alert_name(None, None, None) == "—"


def test_counts() -> None:
    assert count(1, "command") == "1 command"
    assert count(0, "item") == "0 items"
    assert count(2, "entry", "entries") == "2 entries"


def test_step_titles_under_opsbooks_own_numbering() -> None:
    assert unnumbered("1. Check the health endpoint") == "Check the health endpoint"
    assert unnumbered("2) Restart the API") == "Restart the API"
    assert unnumbered("Restart 2 pods") == "Restart 2 pods"
    assert unnumbered("2026. Year in review") == "Year in review"  # a number and a dot at the start
    assert unnumbered("3.5 GB free?") == "3.5 GB free?"  # no space after the dot: not a list number
