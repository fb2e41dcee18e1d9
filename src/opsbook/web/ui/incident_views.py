"""The incidents domain as the pages read it (through its queries)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from opsbook.incidents.models import IncidentRow
from opsbook.incidents.queries import list_incidents


def open_incidents(session: Session, limit: int = 20) -> list[IncidentRow]:
    """Open incidents, newest first."""
    return list_incidents(session, open_only=True, limit=limit)
