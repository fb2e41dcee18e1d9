"""The secret watch: a supervised loop that feeds the secret checks' results into the pipeline.

Each round (woken by `Topic.SECRETS` and `Topic.RUNS` events, or at the next instant a secret becomes due
soon, overdue, or past its emergency deadline) it learns rotations (successful runs of rotation
procedures; the configured commands and files, each at most every `last_rotated.every`), records the
result of every `secrets/<name>` check, and tells the owner of a secret due soon or overdue
(`notify.messages.SecretReminder`, once per state and rotation).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from opsbook.checks.result import StoredResult
from opsbook.checks.scheduler import ResultSink
from opsbook.config.types import format_duration
from opsbook.loops import Loop, Looped, Supervisor
from opsbook.notify.messages import SecretReminder
from opsbook.notify.service import send
from opsbook.runtime import Runtime
from opsbook.secrets import service
from opsbook.secrets.checks import SERVICE
from opsbook.secrets.service import SecretView
from opsbook.secrets.sources import SourceError, read_last_rotation

log = logging.getLogger(__name__)

KEEPALIVE = timedelta(hours=1)


class SecretWatch(Looped):
    def __init__(self, runtime: Runtime, sink: ResultSink, supervisor: Supervisor | None = None) -> None:
        self.runtime = runtime
        self.sink = sink
        self.secrets = list(runtime.config.secrets)
        self.loop = Loop("secrets", self.step, runtime.clock, max_wait=KEEPALIVE, supervisor=supervisor)
        self.read_at: dict[str, datetime] = {}
        self.errors: dict[str, str] = {}

    async def step(self) -> datetime | None:
        if not self.secrets:
            return None
        results, wake_at = await asyncio.to_thread(self.round)
        for result in results:
            self.sink(result)
        return wake_at

    def read_sources(self, now: datetime) -> dict[str, datetime]:
        """The last rotations the configured commands and files show, for those due a read."""
        found: dict[str, datetime] = {}
        for secret in self.secrets:
            source = secret.last_rotated
            last_read = self.read_at.get(secret.name)
            if source is None or (last_read is not None and last_read + source.every > now):
                continue
            self.read_at[secret.name] = now
            try:
                found[secret.name] = read_last_rotation(source)
                self.errors.pop(secret.name, None)
            except SourceError as exc:
                self.errors[secret.name] = self.runtime.redact(str(exc))
                log.warning("secret %s: %s", secret.name, self.errors[secret.name])
        return found

    def round(self) -> tuple[list[StoredResult], datetime | None]:
        service.learn_rotations(self.runtime, self.read_sources(self.runtime.clock.now()))
        with self.runtime.sessions.begin() as session:
            now = self.runtime.clock.now()
            views = service.states(session, self.secrets, now)
            for view in views:
                self._remind(session, view, now)
        results = []
        wakes = []
        for view in views:
            result = view.state.result(view.config.every, self.runtime.config.timezone)
            error = self.errors.get(view.config.name)
            if error:
                result = type(result)(result.status, None, f"{result.message}; reading the last rotation "
                                                            f"failed: {error}", result.values)
            results.append(StoredResult(f"{SERVICE}/{view.config.name}", now, result))
            if view.state.next_change is not None:
                wakes.append(view.state.next_change)
            if view.config.last_rotated is not None and view.config.name in self.read_at:
                wakes.append(self.read_at[view.config.name] + view.config.last_rotated.every)
        future = [t for t in wakes if t > now]
        return results, min(future) if future else None

    def _remind(self, session: Session, view: SecretView, now: datetime) -> None:
        state, secret = view.state, view.config
        if state.overdue:
            word, severity = "overdue", secret.overdue_severity
        elif state.last_rotated is None:
            word, severity = "unknown", secret.due_severity
        elif state.due_soon:
            word, severity = "due soon", secret.due_severity
        else:
            return
        config = self.runtime.config
        send(session, config, SecretReminder(
            secret=secret.name, owner=secret.owner, state=word, severity=severity.value,
            protects=secret.protects,
            every=format_duration(secret.every),
            description=state.describe(secret.every, config.timezone, config.server),
            last_rotated=state.last_rotated, due_at=state.due_at, rotation=secret.rotation,
        ), now)
