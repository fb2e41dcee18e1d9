"""The deploy walk against a real service process, on a FakeClock: a good deploy passes and records its
checklists; refusals while frozen (an open P1, a freeze, staging not passed, another deploy holding
the service) and a forced deploy with its reason audited; an interrupted walk marked at the next start."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from opsbook.alerts.changes import new_alert
from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Principal, Role
from opsbook.clock import FakeClock
from opsbook.deploys import queries, service, walk
from opsbook.deploys.models import DeployRow
from opsbook.deploys.plan import DeployRefused
from opsbook.errors import Invalid
from opsbook.incidents import service as incidents
from opsbook.oplog.models import OplogEntryRow
from opsbook.pipeline import Pipeline
from opsbook.runtime import Runtime
from tests.deploys.conftest import Answers, Versioned, deploy_yaml, drive, seed_baseline
from tests.support import make_runtime

START = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
ANA = Principal("ana", Role.RESPONDER, "cli")
CHECKLISTS = """      pre_checklist: ["All tests passing", "Rollback plan documented"]
      post_checklist: ["Smoke tests pass"]
"""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


async def good_deploy(
    runtime: Runtime, clock: FakeClock, console: Answers, version: str, env: str, **kw: Any
) -> walk.Outcome:
    work = walk.deploy(runtime, ANA, console, "api", version, env, **kw)
    outcome: walk.Outcome = await drive(clock, console, work)
    return outcome


async def test_a_good_deploy_passes_verification_and_records_its_checklists(
    sqlite_engine: Engine, clock: FakeClock, versioned: Versioned
) -> None:
    text = deploy_yaml(versioned).replace("      verification:", CHECKLISTS + "      verification:")
    runtime = make_runtime(sqlite_engine, clock, text)
    await seed_baseline(runtime, clock)
    console = Answers()
    staged = await good_deploy(runtime, clock, console, "1.9.1", "staging")
    assert (staged.status, staged.exit_code) == ("succeeded", 0)
    assert (versioned.folder / "staging.txt").read_text() == "1.9.1" and versioned.version == "1.9"
    assert console.asked == [
        ("pre", "All tests passing"),
        ("pre", "Rollback plan documented"),
        ("post", "Smoke tests pass"),
    ]
    assert "switching staging to 1.9.1" in console.lines  # the command's output, live
    assert console.rounds == 60  # 10 minutes of 10 s rounds

    with runtime.sessions() as session:
        row = queries.get_deploy(session, staged.deploy_id)
        assert [(a["phase"], a["item"], a["done"], a["by"], a["how"]) for a in row.checklist] == [
            ("pre", "All tests passing", True, "ana", "asked"),
            ("pre", "Rollback plan documented", True, "ana", "asked"),
            ("post", "Smoke tests pass", True, "ana", "asked"),
        ]
        assert row.verdict["regression"] is False
        [check] = row.verdict["checks"]
        assert check["check"] == "api/health" and check["window"]["count"] == 60
        assert check["baseline"]["count"] == 12 and check["window"]["failures"] == 0
        assert "switching staging to 1.9.1" in row.output and row.ended_at == clock.now()
        oplog = session.scalars(select(OplogEntryRow).where(OplogEntryRow.source == "deploy")).one()
        assert oplog.operation == "Deploy api 1.9.1 to staging" and oplog.impact == "succeeded"
        audit = [a.action for a in session.scalars(select(AuditRow).order_by(AuditRow.id))]
        assert audit == ["deploy.start", "deploy.finish"]

    # production takes it now that staging passed; --confirm answers for ana, recorded as such
    console = Answers(replies={"All tests passing": False})  # would refuse if asked
    prod = await good_deploy(runtime, clock, console, "1.9.1", "production", confirmed=True)
    assert prod.exit_code == 0 and console.asked == [] and versioned.version == "1.9.1"
    with runtime.sessions() as session:
        row = queries.get_deploy(session, prod.deploy_id)
        assert {a["how"] for a in row.checklist} == {"--confirm"}
        assert (
            row.previous_version is None and queries.current_version(session, "api", "production") == "1.9.1"
        )


async def test_an_unticked_checklist_item_refuses_the_deploy(
    sqlite_engine: Engine, clock: FakeClock, versioned: Versioned
) -> None:
    text = deploy_yaml(versioned, environments="[production]").replace(
        "      verification:", CHECKLISTS + "      verification:"
    )
    runtime = make_runtime(sqlite_engine, clock, text)
    console = Answers(replies={"Rollback plan documented": False})
    with pytest.raises(DeployRefused, match="checklist is not done: Rollback plan documented"):
        await walk.deploy(runtime, ANA, console, "api", "2.0")
    assert versioned.version == "1.9"  # nothing ran


async def test_staging_before_production(
    sqlite_engine: Engine, clock: FakeClock, versioned: Versioned
) -> None:
    runtime = make_runtime(sqlite_engine, clock, deploy_yaml(versioned))
    with pytest.raises(DeployRefused, match=r"api 2\.1 has not passed verification in staging") as refused:
        await walk.deploy(runtime, ANA, Answers(), "api", "2.1")  # production is the default environment
    assert refused.value.exit_code == walk.REFUSED_EXIT == 5
    with pytest.raises(
        Invalid, match="api has no environment 'qa'; its environments are staging, production"
    ):
        await walk.deploy(runtime, ANA, Answers(), "api", "2.1", "qa")
    assert versioned.version == "1.9"


async def test_refused_during_an_open_p1_and_accepted_with_force_and_reason(
    sqlite_engine: Engine, clock: FakeClock, versioned: Versioned
) -> None:
    runtime = make_runtime(sqlite_engine, clock, deploy_yaml(versioned, environments="[production]"))
    await seed_baseline(runtime, clock)
    incident = incidents.open_incident(runtime, ANA, title="checkout errors", severity="P1", service="api")
    with pytest.raises(
        DeployRefused, match=rf"incident #{incident.id} \(P1, triggered\) is open: checkout errors"
    ):
        await walk.deploy(runtime, ANA, Answers(), "api", "1.9.2")
    with pytest.raises(Invalid, match="--force needs --reason"):
        await walk.deploy(runtime, ANA, Answers(), "api", "1.9.2", force=True)
    console = Answers()
    outcome = await good_deploy(
        runtime, clock, console, "1.9.2", "production", force=True, reason="the hotfix for that incident"
    )
    assert outcome.exit_code == 0 and versioned.version == "1.9.2"
    assert any(s.startswith("forced past: api is frozen: incident") for s in console.said)
    with runtime.sessions() as session:
        row = queries.get_deploy(session, outcome.deploy_id)
        assert row.forced and row.force_reason == "the hotfix for that incident"
        start = session.scalars(select(AuditRow).where(AuditRow.action == "deploy.start")).one()
        assert start.actor == "ana" and start.detail["reason"] == "the hotfix for that incident"
        assert start.detail["overridden"][0].startswith(f"api is frozen: incident #{incident.id}")


async def test_a_freeze_refuses_until_it_ends_or_is_lifted(
    sqlite_engine: Engine, clock: FakeClock, versioned: Versioned
) -> None:
    extra = """deploys:
  freezes:
    - {name: tuesday, cron: "0 14 * * 2", duration: 2h, timezone: Europe/Berlin, reason: "release review"}
"""
    runtime = make_runtime(
        sqlite_engine, clock, deploy_yaml(versioned, environments="[production]", extra=extra)
    )
    # 13:00 UTC on Tuesday 10 March is 14:00 in Berlin: the declared window is on
    with pytest.raises(DeployRefused, match="frozen until 2026-03-10 16:00 CET by the freeze window tuesday"):
        await walk.deploy(runtime, ANA, Answers(), "api", "2.0")
    await clock.advance(timedelta(hours=2))
    service.freeze(runtime, ANA, "api", until=clock.now() + timedelta(days=1), reason="black friday")
    with pytest.raises(DeployRefused, match="by ana: black friday"):
        await walk.deploy(runtime, ANA, Answers(), "api", "2.0")
    assert len(service.unfreeze(runtime, ANA, "api")) == 1
    plan, reasons, holder = service.plan_for(runtime, "api", "2.0", None)
    assert reasons == [] and holder is None and plan.env == "production"


async def test_a_second_deploy_of_the_same_service_and_environment_is_refused_with_who_holds_it(
    sqlite_engine: Engine, clock: FakeClock, versioned: Versioned
) -> None:
    runtime = make_runtime(sqlite_engine, clock, deploy_yaml(versioned, environments="[production]"))
    await seed_baseline(runtime, clock, runs=2)
    first = Answers()
    running = asyncio.ensure_future(walk.deploy(runtime, ANA, first, "api", "1.9.3"))
    while first.rounds == 0:  # ana's deploy is verifying now
        await asyncio.sleep(0.002)
    ben = Principal("ben", Role.RESPONDER, "cli")
    with pytest.raises(
        DeployRefused, match=r"api production is being deployed by ana \(deploy #1 of 1\.9\.3"
    ):
        await walk.deploy(runtime, ben, Answers(), "api", "1.9.4")
    assert (await drive(clock, first, running)).exit_code == 0
    second = Answers()
    assert (await drive(clock, second, walk.deploy(runtime, ben, second, "api", "1.9.4"))).exit_code == 0


async def test_a_deploy_whose_process_died_is_marked_interrupted_and_not_rerun(
    sqlite_engine: Engine, clock: FakeClock, versioned: Versioned
) -> None:
    runtime = make_runtime(sqlite_engine, clock, deploy_yaml(versioned, environments="[production]"))
    plan, _, _ = service.plan_for(runtime, "api", "2.0", None)
    row = service.begin(runtime, ANA, plan)
    with runtime.sessions.begin() as session:  # as if its process (on this host) had been killed
        killed = session.get(DeployRow, row.id)
        assert killed is not None
        killed.pid = 2**22 + 12345
    assert service.mark_interrupted(runtime) == [row.id]
    with runtime.sessions() as session:
        dead = queries.get_deploy(session, row.id)
        assert dead.status == "interrupted" and queries.lock_of(session, "api", "production") is None
        entry = session.scalars(select(OplogEntryRow)).one()
        assert entry.issues.startswith("interrupted")
    assert versioned.version == "1.9"  # never re-run
    # a live walk of this process is left alone, however long it waits (a checklist being answered)
    again = service.begin(runtime, ANA, plan)
    await clock.advance(service.STALE * 3)
    assert service.mark_interrupted(runtime) == []
    with runtime.sessions.begin() as session:  # as if it ran on another host: known by its heartbeats
        elsewhere = session.get(DeployRow, again.id)
        assert elsewhere is not None
        elsewhere.host, elsewhere.heartbeat_at = "other-host", clock.now()
    await clock.advance(service.STALE + timedelta(seconds=1))
    pipeline = Pipeline(runtime)  # what `opsbook serve` does when it starts
    await pipeline.start()
    await pipeline.stop()
    with runtime.sessions() as session:
        assert queries.get_deploy(session, again.id).status == "interrupted"
    assert "opsbook_deploys_running 0.0" in pipeline.metrics.render().decode()


async def test_a_runbook_procedure_deploys_and_rolls_back(
    sqlite_engine: Engine, clock: FakeClock, versioned: Versioned
) -> None:
    folder = versioned.folder / "runbooks"
    folder.mkdir()
    script = f"VERSIONS={versioned.folder} sh {versioned.folder}/deploy.sh <env> <version>"
    (folder / "deploys.md").write_text(f"""# Deploys

## Deploy API
<!-- opsbook: auto=true -->

```bash
# Switch the environment to the version
{script}
```
""")
    text = deploy_yaml(versioned, environments="[production]", extra=f'runbooks: {{folders: ["{folder}"]}}\n')
    text = text.replace('      command: "sh deploy.sh {env} {version}"\n', '      procedure: "Deploy API"\n')
    text = text.replace(
        '      rollback_command: "sh deploy.sh {env} {version}"\n', '      rollback_procedure: "Deploy API"\n'
    )
    runtime = make_runtime(sqlite_engine, clock, text)
    await seed_baseline(runtime, clock)
    console = Answers()
    good = await drive(clock, console, walk.deploy(runtime, ANA, console, "api", "1.9.1"))
    assert good.exit_code == 0 and versioned.version == "1.9.1"
    assert any(line.startswith("runbook run #1 of 'Deploy API': succeeded") for line in console.lines)
    console = Answers()
    bad = await drive(clock, console, walk.deploy(runtime, ANA, console, "api", "2.0"))
    assert (bad.status, bad.exit_code) == ("rolled_back", 4) and versioned.version == "1.9.1"
    with runtime.sessions() as session:
        row = queries.get_deploy(session, bad.deploy_id)
        assert "runbook run #2 of 'Deploy API': succeeded" in row.output  # 2.0 deployed
        assert "runbook run #3 of 'Deploy API': succeeded" in row.output  # 1.9.1 back
        assert "production now on 1.9.1" in row.output


class RuleFires(Answers):
    """A console that, at the second verification round, has the rule api-p95 fire on api (as the
    running opsbook's alert engine would record it)."""

    runtime: Runtime | None = None

    def say(self, text: str) -> None:
        super().say(text)
        if self.rounds == 2 and self.runtime is not None:
            with self.runtime.sessions.begin() as session:
                now = self.runtime.clock.now()
                row = new_alert(
                    session,
                    dedup_key="api-p95:api/health",
                    open_key="api-p95:api/health",
                    now=now,
                    source="rule",
                    rule="api-p95",
                    check_id="api/health",
                    service="api",
                    condition="p95(latency_ms) > 500 for 5m",
                    severity="P1",
                )
                row.state, row.fired_at = "firing", now


async def test_a_watched_rule_firing_is_a_regression(
    sqlite_engine: Engine, clock: FakeClock, versioned: Versioned
) -> None:
    text = deploy_yaml(versioned, environments="[production]", verification=", rules: [api-p95]")
    runtime = make_runtime(sqlite_engine, clock, text)
    await seed_baseline(runtime, clock)
    good = Answers()
    assert (await drive(clock, good, walk.deploy(runtime, ANA, good, "api", "1.9.1"))).exit_code == 0
    console = RuleFires()
    console.runtime = runtime
    outcome = await drive(clock, console, walk.deploy(runtime, ANA, console, "api", "1.9.2"))
    assert (outcome.status, outcome.exit_code) == ("rolled_back", 4), (outcome.summary, console.said[-6:])
    assert versioned.version == "1.9.1"
    with runtime.sessions() as session:
        row = queries.get_deploy(session, outcome.deploy_id)
        assert row.verdict["reasons"] == ["rule api-p95 fired"] and row.verdict["rules_fired"] == ["api-p95"]


async def test_secrets_never_reach_the_record_or_the_screen(
    sqlite_engine: Engine, clock: FakeClock, versioned: Versioned
) -> None:
    text = (
        deploy_yaml(versioned, environments="[production]")
        .replace('      env: {VERSIONS: "', '      env: {DEPLOY_TOKEN: "${DEPLOY_TOKEN}", VERSIONS: "')
        .replace(
            'command: "sh deploy.sh {env} {version}"',
            'command: "echo token=$DEPLOY_TOKEN; sh deploy.sh {env} {version}"',
        )
    )
    runtime = make_runtime(sqlite_engine, clock, text, env={"DEPLOY_TOKEN": "tok-9f8e7d6c5b4a"})
    console = Answers()
    outcome = await drive(clock, console, walk.deploy(runtime, ANA, console, "api", "1.9.1"))
    assert outcome.exit_code == 0 and versioned.version == "1.9.1"  # the command had the token
    with runtime.sessions() as session:
        row = queries.get_deploy(session, outcome.deploy_id)
    assert "token=" in row.output and "tok-9f8e7d6c5b4a" not in row.output
    assert not any("tok-9f8e7d6c5b4a" in line for line in console.lines + console.said)
