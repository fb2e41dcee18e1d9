"""The deploy sections of opsbook.yaml: what they accept, and each mistake as FILE:LINE: field: message."""

from __future__ import annotations

from datetime import timedelta

import pytest

from opsbook.config.loader import parse_config
from opsbook.config.yamlpos import ConfigError

SERVICE = """services:
  - name: api
    checks:
      - {name: health, kind: http, url: "http://127.0.0.1:9/"}
    deploy:
"""


def problems(deploy: str, extra: str = "") -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(SERVICE + deploy + extra, "opsbook.yaml", {})
    return [str(issue) for issue in info.value.issues]


def test_a_full_deploy_section() -> None:
    loaded = parse_config(
        SERVICE
        + """      command: "./deploy.sh {env} {version} {previous_version}"
      rollback_command: "./deploy.sh {env} {version}"
      environments: [staging, {name: production, checks: [health]}]
      pre_checklist: "Pre-Deployment Checklist"
      post_checklist: ["Smoke tests pass"]
      verification: {window: 5m, interval: 5s, max_error_rate_increase: "0.5%", max_p95_ratio: 2}
deploys:
  change_failure_window: 2h
  freeze_severities: [P0]
  freezes: [{name: weekend, cron: "0 16 * * 5", duration: 64h, timezone: Europe/Berlin, services: [api]}]
""",
        "opsbook.yaml",
        {},
    )
    config = loaded.config
    [service] = config.services
    assert service.deploy is not None
    deploy = service.deploy
    assert [e.name for e in deploy.environments] == ["staging", "production"] and deploy.before(
        "production"
    ) == "staging"
    assert deploy.verification.max_error_rate_increase == 0.005 and deploy.verification.window == timedelta(
        minutes=5
    )
    production = deploy.environment(None)
    assert production is not None and production.name == "production"
    assert config.deploys.change_failure_window == timedelta(hours=2)
    assert [s.value for s in config.deploys.freeze_severities] == ["P0"]


def test_mistakes_name_their_line_and_field() -> None:
    assert problems('      command: "./deploy.sh {versio}"\n') == [
        "opsbook.yaml:6: services[0].deploy.command: './deploy.sh {versio}': placeholders are {version}, "
        "{previous_version}, {env}, {service} ('versio')"
    ]
    assert problems("      environments: [prod]\n") == [
        "opsbook.yaml:5: services[0].deploy: say how to deploy: command: '...' or procedure: NAME "
        "(one of them)"
    ]
    assert problems('      command: "x"\n      environments: [prod, prod]\n') == [
        "opsbook.yaml:5: services[0].deploy: environments: a name is used twice"
    ]
    assert problems('      command: "x"\n      verification: {checks: [helth]}\n') == [
        "opsbook.yaml:2: services[0]: deploy: verification names checks api lacks: helth"
    ]
    assert problems('      command: "x"\n      verification: {max_error_rate_increase: "lots"}\n') == [
        "opsbook.yaml:7: services[0].deploy.verification.max_error_rate_increase: 'lots' is not a "
        "percentage (e.g. '2%' or 0.02)"
    ]
    freeze = 'deploys: {freezes: [{name: x, cron: "every friday", duration: 1h}]}\n'
    [issue] = problems('      command: "x"\n', freeze)
    assert issue.startswith("opsbook.yaml:7: deploys.freezes[0].cron: ")
