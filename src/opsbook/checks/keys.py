"""Check names ↔ the integer keys results and rollups are stored under (`check_keys`).

Keys are looked up per batch (one query), never cached across transactions: a restored backup or a
second process may have numbered them differently, and a stale cache would file results under the
wrong check. Readers of one check join by name in SQL (`key_of`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ScalarSelect, select
from sqlalchemy.orm import Session

from opsbook.checks.models import CheckKeyRow

CHUNK = 500


def key_of(check_id: str) -> ScalarSelect[Any]:
    """`(SELECT id FROM check_keys WHERE name = :check_id)`, for a WHERE clause."""
    return select(CheckKeyRow.id).where(CheckKeyRow.name == check_id).scalar_subquery()


def all_keys() -> Any:
    """Every key, for `check_key IN (...)`: lets a time-range query use the (check_key, ts) index."""
    return select(CheckKeyRow.id)


def lookup(session: Session, names: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(names))
    out: dict[str, int] = {}
    for i in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(CheckKeyRow.name, CheckKeyRow.id).where(CheckKeyRow.name.in_(wanted[i : i + CHUNK]))
        )
        out.update({name: key for name, key in rows})
    return out


def ensure(session: Session, names: Iterable[str]) -> dict[str, int]:
    """The keys of these checks, numbering the new ones (safe against another process doing the same)."""
    wanted = set(names)
    found = lookup(session, wanted)
    missing = sorted(wanted - found.keys())
    if missing:
        session.execute(_insert_ignoring_duplicates(session), [{"name": n} for n in missing])
        found.update(lookup(session, missing))
    return found


def _insert_ignoring_duplicates(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(CheckKeyRow).on_conflict_do_nothing(index_elements=["name"])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(CheckKeyRow).on_conflict_do_nothing(index_elements=["name"])
