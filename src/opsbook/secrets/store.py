"""Reading and writing the secrets domain's rows, inside the caller's transaction: rotations (from any
source), open compromises, and the rotations learned from successful runbook runs of a rotation procedure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsbook.runbooks.models import RunRow
from opsbook.secrets.config import SecretConfig
from opsbook.secrets.models import CompromiseRow, RotationRow


def last_rotations(session: Session, names: Sequence[str]) -> dict[str, RotationRow]:
    """Each secret's latest rotation (any source)."""
    latest = (select(RotationRow.secret, func.max(RotationRow.rotated_at).label("at"))
              .where(RotationRow.secret.in_(names)).group_by(RotationRow.secret).subquery())
    rows = session.scalars(
        select(RotationRow).join(latest, (RotationRow.secret == latest.c.secret)
                                 & (RotationRow.rotated_at == latest.c.at)).order_by(RotationRow.id)
    )
    return {r.secret: r for r in rows}


def rotations(session: Session, name: str, limit: int = 20) -> list[RotationRow]:
    return list(session.scalars(select(RotationRow).where(RotationRow.secret == name)
                                .order_by(RotationRow.rotated_at.desc(), RotationRow.id.desc()).limit(limit)))


def open_compromises(session: Session, names: Sequence[str] | None = None) -> dict[str, CompromiseRow]:
    """Each secret's earliest compromise not rotated yet."""
    query = (select(CompromiseRow).where(CompromiseRow.rotated_at.is_(None))
             .order_by(CompromiseRow.reported_at))
    if names is not None:
        query = query.where(CompromiseRow.secret.in_(names))
    out: dict[str, CompromiseRow] = {}
    for row in session.scalars(query):
        out.setdefault(row.secret, row)
    return out


def add_rotation(session: Session, name: str, at: datetime, source: str, now: datetime, *, actor: str = "",
                 note: str = "", run_id: int | None = None) -> RotationRow | None:
    """Record a rotation; None if this source already recorded one at that instant (read again)."""
    if run_id is None and session.scalar(select(RotationRow.id).where(
            RotationRow.secret == name, RotationRow.source == source, RotationRow.rotated_at == at)):
        return None
    row = RotationRow(secret=name, rotated_at=at, source=source, actor=actor[:100], note=note[:2000],
                      run_id=run_id, recorded_at=now)
    session.add(row)
    session.flush()
    return row


def runbook_rotations(session: Session, procedures: Mapping[str, Sequence[SecretConfig]],
                      now: datetime) -> list[RotationRow]:
    """Rotations from successful runs of the secrets' rotation procedures (`procedures`: a procedure's ref
    → the secrets it rotates) that are not recorded yet."""
    if not procedures:
        return []
    recorded = {(secret, run_id) for secret, run_id in session.execute(
        select(RotationRow.secret, RotationRow.run_id).where(RotationRow.run_id.is_not(None)))}
    runs = session.scalars(
        select(RunRow).where(RunRow.status == "succeeded", RunRow.finished_at.is_not(None),
                             RunRow.procedure_ref.in_(list(procedures)))
        .order_by(RunRow.finished_at)
    )
    added = []
    for run in runs:
        for secret in procedures.get(run.procedure_ref, []):
            if (secret.name, run.id) in recorded or run.finished_at is None:
                continue
            row = add_rotation(session, secret.name, run.finished_at, "runbook", now, actor=run.operator,
                               note=f"runbook run {run.id}: {run.procedure_title}", run_id=run.id)
            if row is not None:
                added.append(row)
    return added
