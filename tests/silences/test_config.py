"""The maintenance_windows: section of opsbook.yaml: valid windows load, mistakes point at file:line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsbook.config.loader import parse_config
from opsbook.config.yamlpos import ConfigError
from opsbook.silences.matchers import AlertAttrs
from opsbook.silences.mute import muted_by
from opsbook.silences.windows import active_at

GOOD = """\
services:
  - name: db
  - name: api
maintenance_windows:
  - name: sunday-db
    title: "Weekly database maintenance"
    cron: "0 2 * * 0"
    duration: 2h
    timezone: UTC
    services: [db]
  - name: api-low
    cron: "@daily"
    duration: 30m
    timezone: Europe/Berlin
    services: [api]
    match: {severity: "P[2-4]"}
"""


def test_good_config_loads_and_mutes() -> None:
    cfg = parse_config(GOOD, "opsbook.yaml", {}).config
    sunday, api_low = cfg.maintenance_windows
    assert (sunday.name, sunday.duration, sunday.timezone) == ("sunday-db", timedelta(hours=2), "UTC")
    window = sunday.to_window()
    assert window.title == "Weekly database maintenance"
    assert active_at(window, datetime(2024, 1, 7, 3, tzinfo=UTC))
    low = api_low.to_window()
    assert low.cron == "0 0 * * *" and low.title == "api-low"
    midnight_berlin = datetime(2024, 1, 9, 23, 10, tzinfo=UTC)
    p3 = AlertAttrs(service="api", severity="P3")
    p1 = AlertAttrs(service="api", severity="P1")
    assert muted_by(p3, [], [low], midnight_berlin) is not None
    assert muted_by(p1, [], [low], midnight_berlin) is None  # match: severity P[2-4] only
    assert muted_by(AlertAttrs(service="db", severity="P3"), [], [low], midnight_berlin) is None


def test_section_is_optional() -> None:
    assert parse_config("services: []\n", "opsbook.yaml", {}).config.maintenance_windows == []


BAD = """\
maintenance_windows:
  - name: a
    cron: "0 2 * *"
    duration: 2h
    services: [db]
  - name: b
    cron: "0 2 * * 0"
    duration: 0s
    services: [db]
  - name: c
    cron: "0 2 * * 0"
    duration: 1h
    timezone: Mars/Olympus
    services: [db]
  - name: d
    cron: "0 2 * * 0"
    duration: 1h
    services: [db]
    match:
      severity: "P[2-4"
  - name: e
    cron: "0 2 * * 0"
    duration: 1h
  - name: f
    cron: "0 2 30 2 *"
    duration: 1h
    services: [db]
"""


def test_errors_name_file_and_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BAD, "ops.yaml", {})
    text = [str(issue) for issue in caught.value.issues]
    expected = [
        ("ops.yaml:3: maintenance_windows[0].cron:", "5 fields"),
        ("ops.yaml:8: maintenance_windows[1].duration:", "positive"),
        ("ops.yaml:13: maintenance_windows[2].timezone:", "IANA"),
        ("ops.yaml:20: maintenance_windows[3].match.severity:", "invalid regular expression"),
        ("ops.yaml:21: maintenance_windows[4]:", "say what this window mutes"),
        ("ops.yaml:25: maintenance_windows[5].cron:", "never fires"),
    ]
    for prefix, words in expected:
        assert any(t.startswith(prefix) and words in t for t in text), (prefix, text)


def test_duplicate_names_and_bad_match_names() -> None:
    dup = "maintenance_windows:\n" + "".join(
        f"  - name: same\n    cron: '0 2 * * 0'\n    duration: 1h\n    services: [db{i}]\n" for i in range(2)
    )
    with pytest.raises(ConfigError, match="used twice"):
        parse_config(dup, "ops.yaml", {})
    bad_name = "maintenance_windows:\n  - name: x\n    cron: '0 2 * * 0'\n    duration: 1h\n"
    bad_name += "    match: {'a b': x}\n"
    with pytest.raises(ConfigError, match=r"ops.yaml:5: maintenance_windows\[0\].match: 'a b' is not a"):
        parse_config(bad_name, "ops.yaml", {})
