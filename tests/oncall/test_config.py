"""The users, schedules and escalation_policies sections: natural YAML in, errors at file:line out."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from opsbook.config.loader import parse_config
from opsbook.config.schema import OpsbookConfig
from opsbook.config.yamlpos import ConfigError
from opsbook.oncall.config import Handoff
from tests.oncall.conftest import TEAM_YAML


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "opsbook.yaml", env={})
    return [str(i) for i in caught.value.issues]


def test_the_team_config_reads_naturally(team: OpsbookConfig) -> None:
    ana = team.users[0]
    assert ana.display == "Ana Ruiz" and ana.role == "responder"
    assert ana.contact_urls("P1") == ["json://127.0.0.1:9/ana-page"]
    assert ana.contact_urls("p2") == ["mailto://ana@example.com"]
    assert ana.contact_urls("P4") == []
    assert team.users[1].contact_urls("P4") == ["json://127.0.0.1:9/ben"]  # no urgency: every severity
    layer = team.schedules[0].layers[0]
    assert layer.turn == timedelta(weeks=1) and layer.handoff == Handoff(weekday=0, at=time(9, 0))
    r = team.schedules[1].layers[0].restrictions[0]
    assert (r.days, r.start, r.end, r.length) == ([0, 1, 2, 3, 4], time(9), time(18), timedelta(hours=9))
    policy = team.escalation_policies[0]
    assert [lv.after for lv in policy.levels] == [timedelta(minutes=10), timedelta(minutes=20), None]


def test_unquoted_times_and_end_of_day_are_understood() -> None:
    text = TEAM_YAML.replace('from: "09:00", to: "18:00"', "from: 22:00, to: 24:00")
    r = parse_config(text, "opsbook.yaml", env={}).config.schedules[1].layers[0].restrictions[0]
    assert (r.start, r.length) == (time(22), timedelta(hours=2))


def test_unknown_user_in_a_layer_is_reported_at_its_line() -> None:
    text = TEAM_YAML.replace("users: [ana, ben, chen]", "users: [ana, ben, dan]")
    line = text.splitlines().index("        users: [ana, ben, dan]") + 1
    assert errors(text) == [
        f"opsbook.yaml:{line}: schedules[0].layers[0].users[2]: unknown user 'dan'; add it under `users:`"
    ]


def test_unknown_policy_targets_are_reported_at_their_line() -> None:
    text = TEAM_YAML.replace("targets: [user:cto]", "targets: [user:ceo, schedule:nights]")
    line = text.splitlines().index("      - targets: [user:ceo, schedule:nights]") + 1
    assert errors(text) == [
        f"opsbook.yaml:{line}: escalation_policies[0].levels[2].targets[0]: unknown user 'ceo'; "
        "add it under `users:`",
        f"opsbook.yaml:{line}: escalation_policies[0].levels[2].targets[1]: unknown schedule 'nights'; "
        "add it under `schedules:`",
    ]


@pytest.mark.parametrize(("old", "new", "field", "message"), [
    ('handoff: "monday 09:00"', 'handoff: "someday 09:00"', "schedules[0].layers[0].handoff",
     "'someday' is not a weekday"),
    ('handoff: "monday 09:00"', 'handoff: "monday 9am"', "schedules[0].layers[0].handoff",
     "'9am' is not a time of day"),
    ("turn: 1d", "turn: 1d\n        end: 2026-01-01", "schedules[1].layers[0]", "end must be after start"),
    ("turn: 1w", "turn: 1d", "schedules[0].layers[0]", "a handoff with a weekday needs"),
    ("targets: [schedule:primary]", "targets: [primary]", "escalation_policies[0].levels[0].targets[0]",
     "'primary' is not a target; write user:NAME or schedule:NAME"),
    ("        after: 20m\n", "", "escalation_policies[0].levels[1]",
     "every level but the last needs `after`"),
    ("timezone: Europe/Berlin\n    layers", "timezone: Mars/Olympus\n    layers", "schedules[0].timezone",
     "is not an IANA time zone"),
    ("days: [mon, tue", "days: [mon, tuez, tue", "schedules[1].layers[0].restrictions[0].days[1]",
     "'tuez' is not a weekday"),
    ("urgency: [P0, P1]", "urgency: [P0, P9]", "users[0].contacts[0].urgency[1]", "'P9' is not a severity"),
    ("  - name: cto\n", "  - name: cto\n  - name: ana\n", "users", "user name 'ana' is used twice"),
])
def test_mistakes_name_the_field(old: str, new: str, field: str, message: str) -> None:
    assert TEAM_YAML.count(old) >= 1
    found = errors(TEAM_YAML.replace(old, new, 1))
    assert any(f": {field}: " in e and message in e for e in found), found
