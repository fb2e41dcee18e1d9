"""issue 13, backups and secrets: tables

Revision ID: c13a00000001
Revises: c12a00000001
Create Date: 2026-12-02 17:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import opsbook.db.base

revision = 'c13a00000001'
down_revision = 'c12a00000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
