"""The incidents domain as the pages read it (through its service functions)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session


def open_incidents(session: Session, limit: int = 20) -> list[Any]:
    """Open incidents, newest first."""
    from opsbook.incidents.service import list_incidents

    return list_incidents(session, open_only=True, limit=limit)
