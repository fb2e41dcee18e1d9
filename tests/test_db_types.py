"""opsbook.db.types.Json: JSONB on PostgreSQL, JSON on SQLite, None kept apart from an unset value."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.schema import CreateTable

from opsbook.db.types import Json


class _Base(DeclarativeBase):
    pass


class _Row(_Base):
    __tablename__ = "json_rows"
    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[dict[str, Any] | None] = mapped_column(Json)


def test_json_is_jsonb_on_postgresql_and_json_on_sqlite() -> None:
    assert "value JSONB" in str(CreateTable(_Row.__table__).compile(dialect=postgresql.dialect()))  # type: ignore[arg-type]
    assert "value JSON" in str(CreateTable(_Row.__table__).compile(dialect=sqlite.dialect()))  # type: ignore[arg-type]


def test_none_is_json_null_and_unset_is_sql_null() -> None:
    engine = create_engine("sqlite://")
    _Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([_Row(id=1, value=None), _Row(id=2, value={"a": [1]}), _Row(id=3)])
        session.commit()
        stored = session.execute(text("SELECT id, value FROM json_rows ORDER BY id")).all()
        assert [tuple(row) for row in stored] == [(1, "null"), (2, '{"a": [1]}'), (3, None)]
        assert session.scalars(select(_Row.id).where(_Row.value.is_(None))).all() == [3]
        assert session.get(_Row, 2).value == {"a": [1]}  # type: ignore[union-attr]
