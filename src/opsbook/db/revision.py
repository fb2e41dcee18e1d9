"""Whether the database is at the schema this code expects, answered with one small query.

Every command opens the database; running Alembic each time (it imports itself, every model and the
migration scripts) cost most of a responder's command start-up. `at_head` reads `alembic_version` and
compares it with `HEAD`, the newest migration, kept here by hand (tests/test_migrations.py fails when it
is not the head Alembic finds); only when they differ is Alembic loaded to upgrade.
"""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

HEAD = "c20a00000001"
"""The newest migration in db/migrations/versions (update it with every new migration)."""


def at_head(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except SQLAlchemyError:  # no table yet: a new database
        return False
    return found == [HEAD]
