"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Integer
from sqlalchemy.dialects.postgresql import JSONB

BigId = BigInteger().with_variant(Integer(), "sqlite")
"""An auto-incrementing 64-bit key (SQLite only auto-increments INTEGER PRIMARY KEY)."""

Json = JSON().with_variant(JSONB(), "postgresql")
