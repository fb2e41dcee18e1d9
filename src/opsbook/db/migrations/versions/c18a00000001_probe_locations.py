"""issue 16, probes from several locations: tables

Revision ID: c18a00000001
Revises: c17a00000001
Create Date: 2026-12-03 06:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import opsbook.db.base

revision = 'c18a00000001'
down_revision = 'c17a00000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
