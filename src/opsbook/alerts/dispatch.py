"""Turns alert transitions into notifications, in the transaction that decided them.

For each fired or resolved alert: is it muted by a silence or a maintenance window? Then the alert is
marked silenced (shown as such, still evaluated) and nothing is sent. Otherwise it is routed by
severity (page / notify / business hours / log) and rendered with its runbook's first steps, and one
outbox row per channel is added. When a mute ends, `unmute` sends the alerts that still fire.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.alerts.models import AlertRow
from opsbook.alerts.service import AlertTransition, TransitionKind, transition_of
from opsbook.checks.models import CheckStateRow
from opsbook.config.schema import OpsbookConfig
from opsbook.notify.service import enqueue_routed
from opsbook.runbooks.catalog import Catalog, load_catalog
from opsbook.runbooks.service import first_steps, procedure_link
from opsbook.silences.matchers import AlertAttrs
from opsbook.silences.mute import Mutes, newly_unmuted
from opsbook.silences.service import active_mutes

log = logging.getLogger(__name__)

KIND = {TransitionKind.FIRED: "firing", TransitionKind.RESOLVED: "resolved"}


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
    _catalog: Catalog | None = field(default=None, init=False)

    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = load_catalog(self.config.runbooks, self.config_dir)
        return self._catalog

    def runbook_context(self, name: str) -> dict[str, Any]:
        if not name:
            return {}
        try:
            found = self.catalog().resolve(name)
        except LookupError:
            return {"runbook_steps": []}
        return {
            "runbook_url": procedure_link(found, self.config.base_url),
            "runbook_steps": first_steps(found.procedure),
        }

    def mutes(self, session: Session, now: datetime) -> Mutes:
        return active_mutes(session, now, self.config.maintenance_windows)

    def mark_muted(
        self, session: Session, transitions: Sequence[AlertTransition], now: datetime
    ) -> list[AlertTransition]:
        """Mark fired alerts that a silence or window mutes (on their rows and in the transitions)."""
        fired = [t for t in transitions if t.kind is TransitionKind.FIRED]
        if not fired:
            return list(transitions)
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
            if transition.kind not in KIND or transition.silenced:
                continue
            if transition.kind is TransitionKind.RESOLVED:
                row = session.get(AlertRow, transition.alert_id)
                if row is not None and row.silenced:
                    continue  # its firing was never announced: neither is its end
            self.send(session, transition, now)

    def send(self, session: Session, transition: AlertTransition, now: datetime) -> None:
        context = {**transition.template_context(), **self.runbook_context(transition.runbook)}
        if transition.check_id and transition.kind is TransitionKind.FIRED:
            state = session.get(CheckStateRow, transition.check_id)
            context["detail"] = (
                state.last_message.splitlines()[0][:300] if state and state.last_message else ""
            )
        context["link"] = f"{self.config.base_url.rstrip('/')}/alerts/{transition.alert_id}"
        enqueue_routed(
            session,
            self.config,
            kind=KIND[transition.kind],
            severity=transition.severity,
            context=context,
            now=now,
            dedup_key=transition.notification_key(),
            service=transition.service,
            check_id=transition.check_id,
            alert_id=transition.alert_id,
        )

    def unmute(self, session: Session, now: datetime) -> tuple[Mutes, list[AlertTransition]]:
        """Alerts that still fire and are no longer muted: unmarked, and returned as fresh `fired`
        transitions for the hooks to announce (and open incidents for). Also the mutes now in force."""
        mutes = self.mutes(session, now)
        firing = {r.id: r for r in session.scalars(select(AlertRow).where(AlertRow.state == "firing"))}
        muted = {i for i, r in firing.items() if r.silenced}
        out = []
        for alert_id in newly_unmuted({i: attrs_of(r) for i, r in firing.items()}, muted, mutes, now):
            row = firing[alert_id]
            row.silenced, row.silenced_by = False, None
            out.append(transition_of(row, TransitionKind.FIRED, now))
        return mutes, out


def config_dir(path: str) -> str:
    return str(Path(path).resolve().parent)
