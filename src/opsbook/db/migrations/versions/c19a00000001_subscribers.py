"""issue 17, status-page subscribers: tables

Revision ID: c19a00000001
Revises: c18a00000001
Create Date: 2026-12-03 06:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import opsbook.db.base

revision = 'c19a00000001'
down_revision = 'c18a00000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
