"""opsbook.yaml errors name file, line and field; ${ENV} substitution; secrets are collected."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsbook.config.loader import load_config, parse_config
from opsbook.config.yamlpos import ConfigError

GOOD = """\
services:
  - name: api
    checks:
      - name: health
        kind: http
        url: http://127.0.0.1:9/health
        interval: 30s
"""


def errors(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "ops.yaml", env or {})
    return [str(i) for i in info.value.issues]


def test_a_valid_file_loads_with_durations_parsed() -> None:
    loaded = parse_config(GOOD, "ops.yaml", {})
    check = loaded.config.checks()["api/health"]
    assert check.interval.total_seconds() == 30
    assert check.kind == "http"


def test_wrong_type_names_file_line_and_field() -> None:
    text = GOOD.replace("interval: 30s", "interval: soon")
    assert errors(text) == [
        "ops.yaml:7: services[0].checks[0].interval: 'soon' is not a duration: "
        "use a number of seconds or a string like '30s', '5m', '1h30m'"
    ]


def test_unknown_key_points_at_its_own_line() -> None:
    text = GOOD + "        retries: 3\n"
    assert errors(text) == ["ops.yaml:8: services[0].checks[0].retries: unknown field"]


def test_missing_field_points_at_the_item() -> None:
    text = GOOD.replace("        url: http://127.0.0.1:9/health\n", "")
    assert errors(text) == ["ops.yaml:4: services[0].checks[0].url: field required"]


def test_unknown_kind_lists_the_known_ones() -> None:
    (issue,) = errors(GOOD.replace("kind: http", "kind: gopher"))
    assert issue.startswith("ops.yaml:5: services[0].checks[0].kind: unknown kind 'gopher'; expected one of")
    assert "'heartbeat'" in issue


def test_bad_yaml_names_the_line() -> None:
    (issue,) = errors("services:\n  - name: api\n    checks: [\n")
    assert issue.startswith("ops.yaml:4: bad YAML:")


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = GOOD.replace("interval: 30s", "interval: -5") + "timezone: Mars/Base\n"
    found = errors(text)
    assert len(found) == 2
    assert found[0].startswith("ops.yaml:8: timezone:")
    assert found[1].startswith("ops.yaml:7: services[0].checks[0].interval:")


def test_duplicate_names_and_keys_are_errors() -> None:
    assert errors(GOOD + "  - name: api\n") == [
        "ops.yaml:8: services[1].name: 'api' is used twice in services"
    ]
    (issue,) = errors("title: a\ntitle: b\n")
    assert issue == "ops.yaml:2: title: duplicate key"


def test_env_substitution_with_defaults_and_secret_collection() -> None:
    text = GOOD.replace("http://127.0.0.1:9/health", "http://${HOST:-127.0.0.1}:${PORT}/h?token=${API_TOKEN}")
    loaded = parse_config(text, "ops.yaml", {"PORT": "8080", "API_TOKEN": "s3cr3t-value"})
    assert loaded.config.checks()["api/health"].url == "http://127.0.0.1:8080/h?token=s3cr3t-value"
    assert "s3cr3t-value" in loaded.secrets
    assert "8080" not in loaded.secrets  # a port is not a secret; names decide


def test_missing_env_var_is_an_error_at_its_line() -> None:
    text = GOOD.replace("http://127.0.0.1:9/health", "${API_URL}")
    assert errors(text) == ["ops.yaml:6: services[0].checks[0].url: environment variable API_URL is not set"]


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(str(tmp_path / "nope.yaml"))
    assert "nope.yaml:1: cannot read the file" in str(info.value)


def test_the_bundled_example_and_starter_are_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    example = load_config(str(root / "examples/opsbook.yaml"))
    assert {c for c in example.config.checks()} >= {"opsbook/health", "host/resources", "jobs/heartbeat"}
    starter = (root / "src/opsbook/config/starter.yaml").read_text()
    loaded = parse_config(
        starter, "starter.yaml", {"DATABASE_URL": "postgresql://u:p@h/db", "REDIS_PASSWORD": "pw"}
    )
    assert {c.kind for c in loaded.config.checks().values()} >= {
        "http",
        "postgres",
        "redis",
        "host",
        "heartbeat",
    }


def test_every_unset_variable_is_reported_at_once_with_the_other_problems() -> None:
    text = """\
title: a
title: b
services:
  - name: db
    checks:
      - name: select-1
        kind: postgres
        dsn: ${DATABASE_URL}
        interval: soon
  - name: cache
    checks:
      - name: ping
        kind: redis
        url: redis://:${REDIS_PASSWORD}@127.0.0.1:6379/${REDIS_DB}
  - name: api
    checks:
      - name: health
        kind: http
        url: ${API_URL}
"""
    assert errors(text) == [
        "ops.yaml:2: title: duplicate key",
        "ops.yaml:8: services[0].checks[0].dsn: environment variable DATABASE_URL is not set",
        "ops.yaml:14: services[1].checks[0].url: environment variable REDIS_PASSWORD is not set",
        "ops.yaml:14: services[1].checks[0].url: environment variable REDIS_DB is not set",
        "ops.yaml:19: services[2].checks[0].url: environment variable API_URL is not set",
        "ops.yaml:9: services[0].checks[0].interval: 'soon' is not a duration: "
        "use a number of seconds or a string like '30s', '5m', '1h30m'",
    ]  # and nothing about the empty url: its value is not known


def test_an_unset_variable_with_a_default_is_no_problem() -> None:
    text = GOOD.replace("http://127.0.0.1:9/health", "${API_URL:-http://127.0.0.1:9/health}")
    assert parse_config(text, "ops.yaml", {}).config.checks()["api/health"].target() == (
        "GET http://127.0.0.1:9/health"
    )


def test_a_control_character_names_its_line() -> None:
    text = GOOD.replace("name: health", "name: hea\x07lth")
    (issue,) = errors(text)
    assert issue.startswith("ops.yaml:4: bad YAML: character '\\x07' is not allowed")
