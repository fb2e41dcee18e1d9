"""Autogenerates an Alembic revision from the models against a scratch SQLite database at head.

Usage: python scripts/new_migration.py "what changed"
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from opsbook.db.engine import make_engine
from opsbook.db.migrate import alembic_config, upgrade


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/scratch.db")
        upgrade(engine)
        script = command.revision(alembic_config(engine), message=sys.argv[1], autogenerate=True)
    for rev in script if isinstance(script, list) else [script]:
        if rev is None:
            continue
        path = Path(rev.path)
        # Alembic renders JSONB's astext_type without its module prefix.
        path.write_text(path.read_text().replace("astext_type=Text()", "astext_type=sa.Text()"))


if __name__ == "__main__":
    main()
