"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from opsbook.db.models import Base


def test_migrations_match_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    assert diff == [], f"models and migrations differ; run scripts/new_migration.py: {diff}"


def test_the_head_constant_is_alembics_head(engine: Engine) -> None:
    from alembic.script import ScriptDirectory

    from opsbook.db.migrate import alembic_config
    from opsbook.db.revision import HEAD, at_head

    assert ScriptDirectory.from_config(alembic_config(engine)).get_heads() == [HEAD]
    assert at_head(engine)  # the fixture's database was upgraded by Alembic
