"""The walk of one deploy, from the pre-deploy checklist to the post-deploy one:

    plan (refused while frozen, unless forced) → checklist → deploy command (live output) →
    verification window (the checks run every `interval`, judged against the baseline) →
    passed: post-deploy checklist, succeeded
    regressed: roll back to the last version that passed (once, only to a known-good version) →
      the rollback verified the same way (health restored: `healthy_samples` healthy rounds in a row) →
      rolled back (an incident at `deploys.rollback_severity`), or failed (`failed_rollback_severity`)

Time is the runtime's clock: a FakeClock drives the window in tests. The record is written as the walk
goes (`service.note`), so a walk killed mid-way is found and marked interrupted at the next start.
`deploy` and `rollback` return an `Outcome` whose `exit_code` the CLI exits with.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from sqlalchemy import select

from opsbook.alerts.models import AlertRow
from opsbook.auth.roles import Principal
from opsbook.checks.result import StoredResult
from opsbook.checks.runner import run_check
from opsbook.checks.spec import CheckSpec, RunContext
from opsbook.checks.store import results, write_batch
from opsbook.config.types import format_duration
from opsbook.deploys import queries, service
from opsbook.deploys.commands import Ran, run_command
from opsbook.deploys.models import DEPLOY, FAILED, ROLLBACK, ROLLED_BACK, SUCCEEDED
from opsbook.deploys.plan import DeployRefused, Plan, plan_deploy
from opsbook.deploys.service import Answer, Ending
from opsbook.deploys.verify import Limits, Sample, Verdict, healthy_round, judge
from opsbook.errors import Invalid, OpsbookError
from opsbook.runtime import Runtime

EXIT_CODES = {SUCCEEDED: 0, FAILED: 1, "interrupted": 1, ROLLED_BACK: 4}
"""`opsbook deploy` exits 0 succeeded, 1 failed, 4 rolled back, 5 refused (2 bad input, 3 not allowed)."""
REFUSED_EXIT = DeployRefused.exit_code


class Console(Protocol):
    """Where a walk shows what it does and asks its checklists (the terminal, or a test)."""

    def output(self, line: str) -> None:
        """A line of the command's output, as it comes."""

    def say(self, text: str) -> None:
        """What the walk does now."""

    def confirm(self, item: str, phase: str) -> bool:
        """Ask one checklist item: done?"""


@dataclass(frozen=True)
class Outcome:
    deploy_id: int
    status: str
    summary: str
    restore_seconds: float | None = None
    incident_id: int | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.status, 1)


def ask(
    console: Console, items: Sequence[str], phase: str, actor: Principal, confirmed: bool
) -> list[Answer]:
    """The checklist's answers: `--confirm` answers every item for `actor`, else each is asked."""
    if confirmed:
        return [Answer(item, True, phase, actor.name, "--confirm") for item in items]
    return [Answer(item, console.confirm(item, phase), phase, actor.name) for item in items]


class Walker:
    """One deploy or rollback under way: runs its commands and watches its checks."""

    def __init__(
        self, runtime: Runtime, actor: Principal, plan: Plan, deploy_id: int, console: Console
    ) -> None:
        self.runtime = runtime
        self.actor = actor
        self.plan = plan
        self.deploy_id = deploy_id
        self.console = console
        self.clock = runtime.clock
        verification = plan.spec.verification
        self.verification = verification
        self.limits = Limits(
            verification.max_error_rate_increase,
            verification.max_p95_ratio,
            verification.min_p95_increase.total_seconds() * 1000,
            verification.min_samples,
        )
        checks = runtime.config.checks()
        self.specs: dict[str, CheckSpec] = {cid: checks[cid] for cid in plan.checks}
        self.started = self.clock.now()
        self.confirmed_at: datetime | None = None
        self.baseline = self._baseline()

    # --- reading and probing ---------------------------------------------------------------------

    def _baseline(self) -> dict[str, list[Sample]]:
        since = self.started - self.verification.baseline
        with self.runtime.sessions() as session:
            return {
                cid: [
                    Sample(cid, r.ts, r.status != "down", r.latency_ms)
                    for r in results(session, cid, since, self.started, limit=10_000)
                ]
                for cid in self.specs
            }

    async def _round(self) -> list[Sample]:
        """Run every watched check once, now; store the results (they show on the check's chart)."""
        at = self.clock.now()
        ctx = RunContext(clock=self.clock, zone=self.runtime.config.timezone)
        found = await asyncio.gather(*(run_check(spec, ctx) for spec in self.specs.values()))
        stored = [StoredResult(cid, at, result) for cid, result in zip(self.specs, found, strict=True)]
        with self.runtime.sessions.begin() as session:
            write_batch(session, stored)
        return [Sample(s.check_id, at, s.result.ok, s.result.latency_ms) for s in stored]

    def _rules_fired(self, since: datetime) -> list[str]:
        if not self.verification.rules:
            return []
        with self.runtime.sessions() as session:
            query = select(AlertRow.rule).where(
                AlertRow.service == self.plan.service,
                AlertRow.rule.in_(self.verification.rules),
                AlertRow.fired_at >= since,
            )
            return sorted({r for r in session.scalars(query) if r})

    # --- commands --------------------------------------------------------------------------------

    async def run(self, command: str, version: str, previous: str, what: str) -> Ran:
        """Run a deploy or rollback command with live output, noting it on the record as it goes."""
        text = command.format(
            version=version, previous_version=previous, env=self.plan.env, service=self.plan.service
        )
        self.console.say(f"{what}: {self.runtime.redact(text)}")
        pending: list[str] = [f"$ {text}\n"]

        def line(out: str) -> None:
            shown = self.runtime.redact(out)
            pending.append(shown + "\n")
            self.console.output(shown)

        def flush() -> None:
            chunk = "".join(pending)
            pending.clear()
            service.note(self.runtime, self.deploy_id, chunk)

        async def heartbeat() -> None:
            while True:
                await self.clock.sleep_until(self.clock.now() + service.HEARTBEAT)
                flush()

        beat = asyncio.create_task(heartbeat())
        try:
            ran = await run_command(
                text,
                clock=self.clock,
                timeout=self.plan.spec.timeout.total_seconds(),
                on_line=line,
                env=self.plan.spec.env,
                cwd=self._cwd(),
            )
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        pending.append(f"[{ran.error or 'exit 0'}]\n")
        flush()
        return ran

    async def step(self, rollback: bool, version: str, previous: str, what: str) -> Ran:
        """The deploy (or the rollback): its shell command, or its runbook procedure run unattended."""
        spec = self.plan.spec
        command, procedure = (
            (spec.rollback_command, spec.rollback_procedure) if rollback else (spec.command, spec.procedure)
        )
        if procedure is not None:
            return await self.procedure(procedure, version, previous, what)
        return await self.run(command or "", version, previous, what)

    async def procedure(self, name: str, version: str, previous: str, what: str) -> Ran:
        """Run a runbook procedure as opsbook (its steps marked auto), its placeholders version,
        previous_version, env and service given; its steps' output goes to the record when it ends."""
        from opsbook.runbooks.records import get_run, steps_of
        from opsbook.runbooks.service import find_procedure, run_unattended

        self.console.say(f"{what}: runbook procedure {name!r}")
        given = {
            "version": version,
            "previous_version": previous,
            "env": self.plan.env,
            "service": self.plan.service,
        }
        try:
            found = find_procedure(self.runtime, name)
            wanted = {
                k: v for k, v in given.items() if (p := found.procedure.parameter(k)) and p.kind != "env"
            }
            run_id = await run_unattended(
                self.runtime, found, params=wanted, reason=f"{what} (deploy #{self.deploy_id})"
            )
        except (OpsbookError, LookupError) as exc:
            text = f"cannot run the procedure {name!r}: {exc}"
            self.console.output(text)
            service.note(self.runtime, self.deploy_id, text + "\n")
            return Ran(None, text, text)
        with self.runtime.sessions() as session:
            run, steps = get_run(session, run_id), steps_of(session, run_id)
            lines = [f"runbook run #{run_id} of {name!r}: {run.status}"]
            for st in steps:
                lines.append(
                    f"[{st.status}] {st.title}"
                    + (f" (exit {st.exit_code})" if st.exit_code is not None else "")
                )
                lines += [f"  {line}" for line in (st.output or "").splitlines()]
        for line in lines:
            self.console.output(self.runtime.redact(line))
        service.note(self.runtime, self.deploy_id, "\n".join(lines) + "\n")
        ok = run.status == "succeeded"
        return Ran(0 if ok else 1, "\n".join(lines), "" if ok else f"runbook run #{run_id} {run.status}")

    def _cwd(self) -> str:
        from pathlib import Path

        base = Path(self.runtime.loaded.path).resolve().parent
        return str(base / self.plan.spec.cwd) if self.plan.spec.cwd else str(base)

    # --- verification ----------------------------------------------------------------------------

    async def watch(self) -> tuple[Verdict, datetime | None]:
        """Watch the window: the verdict, and when a regression was detected (None: passed)."""
        start = self.clock.now()
        end = start + self.verification.window
        window: dict[str, list[Sample]] = {cid: [] for cid in self.specs}
        self.console.say(
            f"verifying for {format_duration(self.verification.window)} against the "
            f"{format_duration(self.verification.baseline)} before: {', '.join(self.specs)}"
        )
        due = start
        while True:
            for sample in await self._round():
                window[sample.check_id].append(sample)
            last = self.clock.now() + self.verification.interval >= end
            limits = replace(self.limits, min_samples=1) if last else self.limits
            verdict = judge(self.baseline, window, limits, self._rules_fired(start))
            service.note(self.runtime, self.deploy_id, verification=verdict.as_dict())
            self._progress(verdict)
            if verdict.regression:
                return verdict, self.clock.now()
            if last:
                return verdict, None
            due += self.verification.interval
            await self.clock.sleep_until(due)

    def _progress(self, verdict: Verdict) -> None:
        parts = []
        for check in verdict.checks:
            w = check.window
            p95 = f", p95 {w.p95_ms:.0f} ms" if w.p95_ms is not None else ""
            parts.append(f"{check.check_id}: {w.count} runs, {w.error_rate * 100:.1f} % errors{p95}")
        self.console.say("  " + "; ".join(parts))

    async def restored(self) -> datetime | None:
        """After a rollback: when health was restored (the first of `healthy_samples` healthy rounds in a
        row), or None if the window passed without. The last of those rounds is `self.confirmed_at`."""
        end = self.clock.now() + self.verification.window
        streak_start: datetime | None = None
        streak = 0
        due = self.clock.now()
        while self.clock.now() <= end:
            samples = await self._round()
            if healthy_round(samples, self.baseline, self.limits):
                streak_start = streak_start or samples[0].ts
                streak += 1
            else:
                streak_start, streak = None, 0
            self.console.say(
                f"  after the rollback: {'healthy' if streak else 'not healthy yet'} "
                f"({streak}/{self.verification.healthy_samples})"
            )
            if streak_start is not None and streak >= self.verification.healthy_samples:
                self.confirmed_at = samples[0].ts
                return streak_start
            due += self.verification.interval
            await self.clock.sleep_until(due)
        return None

    # --- the walks -------------------------------------------------------------------------------

    async def deploy(self, confirmed: bool) -> Outcome:
        plan = self.plan
        ran = await self.step(False, plan.version, plan.previous_version or "", "deploying")
        if not ran.ok:
            reasons = [f"the deploy command failed ({ran.error})"]
            return await self.regressed(self.clock.now(), {"regression": True, "reasons": reasons})
        verdict, detected = await self.watch()
        if detected is not None:
            return await self.regressed(detected, verdict.as_dict())
        answers = ask(self.console, plan.post_checklist, "post", self.actor, confirmed)
        undone = [a.item for a in answers if not a.done]
        summary = f"post-deploy checklist not done: {'; '.join(undone)}" if undone else ""
        self.console.say(f"{plan.service} {plan.version} passed verification in {plan.env}")
        return self._finish(Ending(SUCCEEDED, verdict.as_dict(), summary, answers=tuple(answers)))

    async def regressed(self, detected: datetime, verdict: dict[str, object]) -> Outcome:
        """Roll back to the last version that passed, once, and verify it; or say why not."""
        plan, settings = self.plan, self.runtime.config.deploys
        reasons = "; ".join(str(r) for r in verdict.get("reasons", []) or [])  # type: ignore[attr-defined]
        self.console.say(f"regression: {reasons}")
        why_not = self._no_rollback()
        if why_not:
            self.console.say(f"not rolled back: {why_not}")
            title = f"{plan.service} {plan.version} failed verification in {plan.env}; not rolled back"
            return self._finish(
                Ending(
                    FAILED,
                    {**verdict, "not_rolled_back": why_not},
                    why_not,
                    regression_at=detected,
                    incident=(settings.failed_rollback_severity, title),
                )
            )
        good = plan.known_good or ""
        ran = await self.step(True, good, plan.version, f"rolling back to {good}")
        restored = await self.restored() if ran.ok else None
        if restored is None:
            why = "the rollback command failed" if not ran.ok else "health was not restored in the window"
            title = f"{plan.service} rollback from {plan.version} to {good} did not restore health"
            return self._finish(
                Ending(
                    FAILED,
                    {**verdict, "rollback": why},
                    why,
                    good,
                    detected,
                    incident=(settings.failed_rollback_severity, title),
                )
            )
        took = (restored - detected).total_seconds()
        confirmed = ((self.confirmed_at or restored) - detected).total_seconds()
        self.console.say(
            f"rolled back to {good}: health restored {took:.1f}s after the regression was detected "
            f"(confirmed by {self.verification.healthy_samples} healthy rounds {confirmed:.1f}s after it)"
        )
        title = f"{plan.service} {plan.version} rolled back"
        return self._finish(
            Ending(
                ROLLED_BACK,
                {**verdict, "rollback": "health restored", "healthy_confirmed_after_s": confirmed},
                f"rolled back to {good}: {reasons}",
                good,
                detected,
                restored,
                incident=(settings.rollback_severity, title),
            )
        )

    def _no_rollback(self) -> str:
        if not self.verification.auto_rollback:
            return "automatic rollback is off (verification.auto_rollback)"
        if not self.plan.spec.can_roll_back:
            return "no rollback_command or rollback_procedure is configured"
        if self.plan.known_good is None:
            return f"no version of {self.plan.service} passed in {self.plan.env} before: nothing known-good"
        return ""

    async def rollback(self) -> Outcome:
        """A rollback asked for by hand: to the last version that passed, verified."""
        plan = self.plan
        started = self.clock.now()
        ran = await self.step(
            True, plan.version, plan.previous_version or "", f"rolling back to {plan.version}"
        )
        restored = await self.restored() if ran.ok else None
        if restored is None:
            why = "the rollback command failed" if not ran.ok else "health was not restored in the window"
            return self._finish(Ending(FAILED, {"rollback": why}, why))
        verdict = {"rollback": "health restored", "restored_after_s": (restored - started).total_seconds()}
        self.console.say(f"{plan.service} is back on {plan.version} in {plan.env}: health restored")
        return self._finish(
            Ending(SUCCEEDED, verdict, f"rolled back from {plan.previous_version}", restored_at=restored)
        )

    def _finish(self, ending: Ending) -> Outcome:
        row = service.finish(self.runtime, self.actor, self.deploy_id, ending)
        return Outcome(row.id, row.status, row.summary, row.restore_seconds, row.incident_id)


async def deploy(
    runtime: Runtime,
    actor: Principal,
    console: Console,
    service_name: str,
    version: str,
    env: str | None = None,
    *,
    force: bool = False,
    reason: str = "",
    confirmed: bool = False,
    commit: str | None = None,
    committed_at: datetime | None = None,
) -> Outcome:
    """`opsbook deploy SERVICE VERSION`: refused (DeployRefused) while frozen or held, else walked."""
    service.mark_interrupted(runtime)
    plan, reasons, holder = service.plan_for(runtime, service_name, version, env)
    if holder is not None:
        raise DeployRefused(holder)
    if reasons and not force:
        raise DeployRefused("; ".join(reasons) + " (override with --force --reason TEXT)")
    for why in reasons:
        console.say(f"forced past: {why}")
    answers = ask(console, plan.pre_checklist, "pre", actor, confirmed)
    row = service.begin(
        runtime,
        actor,
        plan,
        kind=DEPLOY,
        force=force,
        reason=reason,
        answers=answers,
        commit=commit,
        committed_at=committed_at,
    )
    console.say(
        f"deploy #{row.id}: {plan.service} {plan.previous_version or '(none)'} → {plan.version} in {plan.env}"
    )
    return await Walker(runtime, actor, plan, row.id, console).deploy(confirmed)


async def rollback(
    runtime: Runtime, actor: Principal, console: Console, service_name: str, env: str | None = None
) -> Outcome:
    """`opsbook deploy rollback SERVICE`: back to the last version that passed in the environment."""
    service.mark_interrupted(runtime)
    with runtime.sessions() as session:
        probe = plan_deploy(runtime, session, service_name, "-", env)
        current = queries.current_version(session, service_name, probe.env)
        good = queries.known_good(session, service_name, probe.env, current)
    if not probe.spec.can_roll_back:
        raise Invalid(f"{service_name} has no rollback_command or rollback_procedure in opsbook.yaml")
    if good is None:
        raise Invalid(
            f"no version of {service_name} other than {current or 'the current one'} passed in "
            f"{probe.env}: nothing known-good to roll back to"
        )
    plan = replace(probe, version=good, previous_version=current, known_good=good)
    row = service.begin(runtime, actor, plan, kind=ROLLBACK)
    console.say(f"rollback #{row.id}: {plan.service} {current or '(unknown)'} → {good} in {plan.env}")
    return await Walker(runtime, actor, plan, row.id, console).rollback()
