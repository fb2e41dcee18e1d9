"""Incidents as the public sees them: only those touching a public service, with their public updates.

Reads the incidents domain through its service functions; until that domain exists, there are none.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy.orm import Session

from opsbook.statuspage.snapshot import PublicIncident


def public_incidents(
    session: Session, public_services: Collection[str], now: datetime, since: datetime
) -> tuple[list[PublicIncident], list[PublicIncident]]:
    """(open incidents, incidents resolved since `since`), newest first, public services only."""
    return [], []
