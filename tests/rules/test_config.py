"""Rules in opsbook.yaml: validated at load time with FILE:LINE errors, compiled per check."""

from __future__ import annotations

from datetime import timedelta

import pytest

from opsbook.config.loader import parse_config
from opsbook.config.yamlpos import ConfigError
from opsbook.rules.ruleset import compile_rules
from opsbook.rules.severity import Severity

GOOD = """\
services:
  - name: api
    labels: {team: core}
    rules:
      - name: api-p95
        check: health
        when: "p95(latency_ms) > 500 for 5m"
        severity: P1
        summary: "API p95 {{ value }} ms > {{ threshold }} ms"
        runbook: "API Not Responding"
      - when: "error_rate > 10% over 5m for 5m"
        severity: p2
    checks:
      - name: health
        kind: heartbeat
        period: 30s
        grace: 10s
        failures: 1
        rules:
          - when: "heartbeat missing for 2m"
            severity: P0
            min_firing: 10m
      - name: beat
        kind: heartbeat
        period: 1h
        enabled: false
  - name: db
    rules:
      - name: beat
        when: heartbeat missing
    checks:
      - name: pg
        kind: heartbeat
        cron: "0 3 * * *"
alerting:
  default_failures: 4
  default_severity: P3
  resolve_after: 1m
  routing_keys:
    api: ${PD_ROUTING_KEY}
"""


def load(text: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return parse_config(text, "ops.yaml", env if env is not None else {"PD_ROUTING_KEY": "R0UT1NG"})


def test_rules_compile_per_check() -> None:
    loaded = load(GOOD)
    rules = compile_rules(loaded.config)
    assert set(rules) == {"api/health", "db/pg"}  # the disabled check has none
    health = {r.name: r for r in rules["api/health"]}
    assert list(health) == ["failures", "api-p95", "error_rate-over-5m-gt-10-pct-for-5m",
                            "heartbeat-missing-for-2m"]
    assert health["failures"].expr.threshold == 1.0  # the check's own `failures: 1`
    assert health["failures"].severity is Severity.P3
    assert health["failures"].min_firing == timedelta(minutes=1)
    assert health["api-p95"].severity is Severity.P1
    assert health["api-p95"].labels == {"team": "core"}
    assert health["api-p95"].lookback == timedelta(minutes=5)
    assert health["api-p95"].dedup_key == "api/health:api-p95"
    assert health["error_rate-over-5m-gt-10-pct-for-5m"].severity is Severity.P2
    assert health["heartbeat-missing-for-2m"].min_firing == timedelta(minutes=10)
    pg = {r.name: r for r in rules["db/pg"]}
    assert pg["failures"].expr.threshold == 1.0  # a heartbeat alerts on its first bad signal, not on 4
    assert "beat" in pg
    assert loaded.config.alerting.service_for_key("R0UT1NG") == "api"
    assert loaded.config.alerting.service_for_key("nope") is None
    assert "R0UT1NG" in loaded.all_secrets()


def test_failures_zero_disables_the_default_rule() -> None:
    text = "services:\n  - name: a\n    checks:\n      - {name: c, kind: heartbeat, period: 1m, failures: 0}"
    assert compile_rules(load(text).config) == {"a/c": []}


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(text)
    return [str(i) for i in info.value.issues]


def test_a_bad_expression_names_file_line_field_and_column() -> None:
    text = GOOD.replace('when: "p95(latency_ms) > 500 for 5m"', 'when: "p95(latency_ms) >> 500 for 5m"')
    assert errors(text) == [
        "ops.yaml:7: services[0].rules[0].when: expected a number after '>', found '>' at column 18 "
        "in 'p95(latency_ms) >> 500 for 5m'"
    ]


def test_a_bad_check_rule_expression() -> None:
    text = GOOD.replace('when: "heartbeat missing for 2m"', 'when: "heartbeat missing for 2 minutes"')
    (issue,) = errors(text)
    assert issue.startswith("ops.yaml:20: services[0].checks[0].rules[0].when: '2' after 'for' needs a unit")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("check: health", "check: nope", "ops.yaml:6: services[0].rules[0].check: no check named 'nope'"),
        ("severity: P1", "severity: P7", "ops.yaml:8: services[0].rules[0].severity: 'P7' is not a severity"),
        ("summary: \"API p95 {{ value }}", "summary: \"API p95 {{ value ", "ops.yaml:9: services[0].rules[0]"
         ".summary: invalid template"),
        ("kind: heartbeat\n        period: 30s\n        grace: 10s", "kind: tcp\n        host: x\n"
         "        port: 1", "services[0].checks[0].rules[0].when: 'heartbeat missing' needs a heartbeat"),
        ("name: api-p95", "name: failures",
         "ops.yaml:5: services[0].rules[0].name: 'failures' is the default"),
        ("      - name: beat\n        when: heartbeat missing", "      - name: beat\n        check: pg\n"
         "        when: cpu_pct > 1\n      - name: beat\n        when: heartbeat missing",
         "services[1].rules[1].name: rule name 'beat' is used twice"),
        ("default_failures: 4", "default_failures: -1", "alerting.default_failures: Input should be greater"),
        ("    api: ${PD_ROUTING_KEY}", "    web: ${PD_ROUTING_KEY}",
         "alerting.routing_keys.web: unknown service"),
    ],
)
def test_reference_and_value_errors(old: str, new: str, expected: str) -> None:
    assert old in GOOD
    found = errors(GOOD.replace(old, new))
    assert any(expected in e for e in found), found


def test_check_rule_name_clash_with_service_rule() -> None:
    text = GOOD.replace("          - when: \"heartbeat missing for 2m\"",
                        "          - name: api-p95\n            when: \"heartbeat missing for 2m\"")
    found = errors(text)
    assert any("services[0].rules[0].name: rule name 'api-p95' is also used by a rule of check 'health'" in e
               for e in found), found


def test_summary_template_renders_value_and_threshold() -> None:
    from opsbook.rules.evaluate import Evaluation

    spec = {r.name: r for r in compile_rules(load(GOOD).config)["api/health"]}["api-p95"]
    assert spec.render_summary(Evaluation(True, 612.345, 500.0, "x")) == "API p95 612.35 ms > 500 ms"
    failures = {r.name: r for r in compile_rules(load(GOOD).config)["api/health"]}["failures"]
    assert failures.render_summary(Evaluation(True, 1.0, 1.0, "x")) == "api/health failed 1 times in a row"
