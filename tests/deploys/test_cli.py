"""`opsbook deploy` as a user runs it: real processes, the real clock, a one-second verification window.

A good deploy exits 0, a bad one is rolled back by itself (exit 4), a refused one exits 5 with the reason,
`deploy rollback` goes back to the last good version; `deploy list|show|record|freeze|unfreeze` and
`opsbook report deploys`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploys.conftest import Versioned, running

OPSBOOK = str(Path(sys.executable).parent / "opsbook")


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, Versioned]]:
    with running(tmp_path, delay=0.05) as service:
        config = tmp_path / "opsbook.yaml"
        config.write_text(f"""
timezone: Europe/Berlin
services:
  - name: api
    checks:
      - {{name: health, kind: http, url: "{service.url}", timeout: 2s}}
    deploy:
      command: "sh deploy.sh {{env}} {{version}}"
      rollback_command: "sh deploy.sh {{env}} {{version}}"
      env: {{VERSIONS: "{tmp_path}"}}
      environments: [staging, production]
      pre_checklist: ["Code review approved"]
      verification: {{window: 1s, interval: 100ms, min_samples: 4, healthy_samples: 2}}
""")
        yield config, service


def opsbook(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPSBOOK_USER": "ana", "COLUMNS": "80"}
    env.pop("OPSBOOK_DATABASE_URL", None)
    return subprocess.run(
        [OPSBOOK, *args, "-c", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_deploy_exit_codes_say_succeeded_rolled_back_and_refused(setup: tuple[Path, Versioned]) -> None:
    config, service = setup
    asks = opsbook(config, "deploy", "api", "1.9.1", "--env", "staging")
    assert asks.returncode == 2 and "pass --confirm" in asks.stderr  # no terminal to ask the checklist in

    refused = opsbook(config, "deploy", "api", "1.9.1", "--confirm")
    assert refused.returncode == 5
    assert "api 1.9.1 has not passed verification in staging" in refused.stderr

    staged = opsbook(config, "deploy", "api", "1.9.1", "--env", "staging", "--confirm")
    assert staged.returncode == 0, staged.stdout + staged.stderr
    assert "switching staging to 1.9.1" in staged.stdout and "succeeded" in staged.stdout
    good = opsbook(
        config, "deploy", "api", "1.9.1", "--confirm", "--commit", "9f2c1ab", "--committed-at", "-2h"
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert service.version == "1.9.1"

    bad = opsbook(config, "deploy", "run", "api", "2.0", "--confirm", "--force", "--reason", "hotfix")
    assert bad.returncode == 4, bad.stdout + bad.stderr  # forced past staging; rolled back by itself
    assert "regression: api/health: error rate" in bad.stdout and "ROLLED BACK" in bad.stdout
    assert service.version == "1.9.1"

    listing = opsbook(config, "deploy", "list")
    assert listing.returncode == 0 and "rolled back" in listing.stdout
    assert max(len(line) for line in listing.stdout.splitlines()) <= 80
    shown = opsbook(config, "deploy", "show", "3")
    assert (
        "forced:   hotfix" in shown.stdout
        and "[x] pre: Code review approved — ana (--confirm)" in shown.stdout
    )
    assert "rollback: to 1.9.1" in shown.stdout

    back = opsbook(config, "deploy", "rollback", "api")  # by hand: 1.9.1 is the only version that passed
    assert back.returncode == 2 and "to roll back to" in back.stderr
    assert opsbook(config, "deploy", "record", "api", "1.9.0", "--started", "-1d").returncode == 0
    back = opsbook(config, "deploy", "rollback", "api")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "api is back on 1.9.0 in production: health restored" in back.stdout and service.version == "1.9.0"


def test_record_freeze_and_report(setup: tuple[Path, Versioned]) -> None:
    config, _service = setup
    recorded = opsbook(
        config,
        "deploy",
        "record",
        "api",
        "1.8",
        "--commit",
        "abc",
        "--committed-at",
        "-3h",
        "--started",
        "-1h",
        "--summary",
        "CI release",
    )
    assert recorded.returncode == 0 and "api 1.8 deployed by ana (production)" in recorded.stdout
    assert opsbook(config, "deploy", "record", "api", "1.8", "--status", "running").returncode == 2

    frozen = opsbook(config, "deploy", "freeze", "api", "--until", "+2h", "--reason", "black friday")
    assert frozen.returncode == 0 and "api frozen until" in frozen.stdout
    refused = opsbook(config, "deploy", "api", "1.9", "--env", "staging", "--confirm")
    assert refused.returncode == 5 and "by ana: black friday" in refused.stderr
    assert "--force --reason" in refused.stderr
    assert opsbook(config, "deploy", "api", "1.9", "--force", "--confirm").returncode == 2  # no --reason
    assert opsbook(config, "deploy", "unfreeze", "api").returncode == 0
    assert opsbook(config, "deploy", "unfreeze", "api").returncode == 1  # nothing left to lift

    report = opsbook(config, "report", "deploys", "--since", "30d", "--json")
    assert report.returncode == 0, report.stderr
    api, total = json.loads(report.stdout)
    assert (api["service"], api["deployments"]) == ("api", 1)
    assert api["lead_time_s"] == pytest.approx(2 * 3600, abs=1)  # committed -3h, deployed -1h
    table = opsbook(config, "report", "deploys")
    assert "Failure rate" in table.stdout and max(len(line) for line in table.stdout.splitlines()) <= 80
    assert total["service"] == "all"


def test_a_killed_deploy_is_marked_interrupted_at_the_next_start_and_never_rerun(
    setup: tuple[Path, Versioned],
) -> None:
    config, service = setup
    short = config.read_text()
    config.write_text(short.replace("window: 1s", "window: 10m"))
    env = {**os.environ, "OPSBOOK_USER": "ana"}
    env.pop("OPSBOOK_DATABASE_URL", None)
    walk = subprocess.Popen(
        [OPSBOOK, "deploy", "api", "1.9.1", "--env", "staging", "--confirm", "-c", str(config)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert walk.stdout is not None
    for line in walk.stdout:  # killed while it watches the window
        if line.startswith("verifying for 10m"):
            break
    walk.kill()
    walk.wait()
    [held] = json.loads(opsbook(config, "deploy", "list", "--json").stdout)
    assert held["status"] == "running"  # nothing has started since

    config.write_text(short)
    again = opsbook(config, "deploy", "api", "1.9.2", "--env", "staging", "--confirm")
    assert again.returncode == 0, again.stdout + again.stderr  # the dead walk no longer holds staging
    second, first = json.loads(opsbook(config, "deploy", "list", "--json").stdout)
    assert (first["id"], first["status"], second["status"]) == (held["id"], "interrupted", "succeeded")
    assert first["verdict"]["interrupted"] == "opsbook stopped during the deploy; it is not re-run"
    assert (service.folder / "staging.txt").read_text() == "1.9.2"  # 1.9.1 was never deployed again
