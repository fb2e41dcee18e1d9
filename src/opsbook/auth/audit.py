"""The audit log: every mutating action records who, what, when and from where."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.auth.models import AuditRow
from opsbook.auth.roles import Principal


def record(
    session: Session, now: datetime, actor: Principal, action: str, target: str = "", **detail: Any
) -> AuditRow:
    """Add an audit row to the caller's transaction, so the action and its record commit together."""
    row = AuditRow(ts=now, actor=actor.name, action=action, target=target, source=actor.source, detail=detail)
    session.add(row)
    return row


def recent(session: Session, limit: int = 100) -> list[AuditRow]:
    return list(session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)))
