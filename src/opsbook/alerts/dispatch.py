"""Turns alert transitions into notifications, in the transaction that decided them.

For each fired or resolved alert: is it muted by a silence or a maintenance window, or caused by a
dependency that is down (dependencies/causes.py)? Then the alert is marked silenced (shown as such, still
evaluated) and nothing is sent; a root cause's message names the services it affects. Otherwise it becomes an
`AlertMessage` with its runbook's first steps (read from the runbook files as they are now) and the
check's last message, handed to notify, which routes it by severity (page / notify / business hours /
log) and queues it. When a mute ends, `unmute` sends the alerts that still fire.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.alerts.changes import transition_of
from opsbook.alerts.models import AlertRow
from opsbook.alerts.types import AlertTransition, TransitionKind
from opsbook.checks.models import CheckStateRow
from opsbook.config.schema import OpsbookConfig
from opsbook.dependencies.causes import affected_services, is_ours, mark_caused
from opsbook.deploys.queries import recent_line
from opsbook.notify.messages import AlertMessage
from opsbook.notify.service import send
from opsbook.runbooks.catalog import Catalog, current_catalog
from opsbook.runbooks.service import first_steps, procedure_link
from opsbook.silences.matchers import AlertAttrs
from opsbook.silences.mute import Mutes, newly_unmuted
from opsbook.silences.service import active_mutes

log = logging.getLogger(__name__)

ANNOUNCED = (TransitionKind.FIRED, TransitionKind.RESOLVED)


def attrs_of(alert: AlertRow | AlertTransition) -> AlertAttrs:
    check = alert.check_id.split("/", 1)[1] if alert.check_id and "/" in alert.check_id else ""
    return AlertAttrs(
        service=alert.service,
        check=check,
        rule=alert.rule or "",
        severity=str(alert.severity),
        labels=dict(alert.labels or {}),
    )


@dataclass
class Dispatcher:
    config: OpsbookConfig
    config_dir: str = "."

    def catalog(self) -> Catalog:
        """The runbooks as the files are now (an edit reaches the next message, without a restart)."""
        return current_catalog(self.config.runbooks, self.config_dir)

    def mutes(self, session: Session, now: datetime) -> Mutes:
        return active_mutes(session, now, self.config.maintenance_windows)

    def mark_muted(
        self, session: Session, transitions: Sequence[AlertTransition], now: datetime
    ) -> list[AlertTransition]:
        """Mark fired alerts that a silence or window mutes (on their rows and in the transitions)."""
        fired = [t for t in transitions if t.kind is TransitionKind.FIRED]
        if not fired:
            return list(transitions)
        return mark_caused(session, self.config, self._mark_silenced(session, transitions, now), now)

    def _mark_silenced(
        self, session: Session, transitions: Sequence[AlertTransition], now: datetime
    ) -> list[AlertTransition]:
        mutes = self.mutes(session, now)
        out = []
        for transition in transitions:
            reason = (
                mutes.muted_by(attrs_of(transition), now) if transition.kind is TransitionKind.FIRED else None
            )
            if reason is not None:
                row = session.get(AlertRow, transition.alert_id)
                if row is not None:
                    row.silenced, row.silenced_by = True, str(reason)
                transition = replace(transition, silenced=True)
            out.append(transition)
        return out

    def __call__(self, session: Session, transitions: Sequence[AlertTransition], now: datetime) -> None:
        """Send what is not muted (call `mark_muted` first): `hook(session, transitions, now)`."""
        for transition in transitions:
            if transition.kind not in ANNOUNCED or transition.silenced:
                continue
            if transition.kind is TransitionKind.RESOLVED:
                row = session.get(AlertRow, transition.alert_id)
                if row is not None and row.silenced:
                    continue  # its firing was never announced: neither is its end
            self.send(session, transition, now)

    def runbook_steps(self, name: str) -> tuple[str, tuple[str, ...]]:
        """The link to runbook `name` (its page, or the URL it is) and its first steps (none if not found)."""
        if name.startswith(("https://", "http://")):
            return name, ()
        try:
            found = self.catalog().resolve(name)
        except LookupError:
            return "", ()
        return procedure_link(found, self.config.base_url), tuple(first_steps(found.procedure))

    def send(self, session: Session, transition: AlertTransition, now: datetime) -> None:
        url, steps = self.runbook_steps(transition.runbook) if transition.runbook else ("", ())
        detail = ""
        if transition.check_id and transition.kind is TransitionKind.FIRED:
            state = session.get(CheckStateRow, transition.check_id)
            detail = state.last_message.splitlines()[0][:300] if state and state.last_message else ""
        link = f"{self.config.base_url.rstrip('/')}/ui/alerts/{transition.alert_id}"
        fired = transition.kind is TransitionKind.FIRED
        recent = recent_line(session, transition.service, now, self.config.server) if fired else ""
        affected = affected_services(session, transition.service, transition.check_id) if fired else ()
        send(session, self.config, AlertMessage(transition, url, steps, detail, link, recent, affected), now)

    def unmute(self, session: Session, now: datetime) -> tuple[Mutes, list[AlertTransition]]:
        """Alerts that still fire and are no longer muted: unmarked, and returned as fresh `fired`
        transitions for the hooks to announce (and open incidents for). Also the mutes now in force."""
        mutes = self.mutes(session, now)
        firing = {r.id: r for r in session.scalars(select(AlertRow).where(AlertRow.state == "firing"))}
        muted = {i for i, r in firing.items() if r.silenced and not is_ours(r.silenced_by)}
        out = []
        for alert_id in newly_unmuted({i: attrs_of(r) for i, r in firing.items()}, muted, mutes, now):
            row = firing[alert_id]
            row.silenced, row.silenced_by = False, None
            out.append(transition_of(row, TransitionKind.FIRED, now))
        return mutes, out


def config_dir(path: str) -> str:
    return str(Path(path).resolve().parent)
