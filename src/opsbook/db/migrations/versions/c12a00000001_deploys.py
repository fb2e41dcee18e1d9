"""issue 12, deploys: tables

Revision ID: c12a00000001
Revises: c11a00000001
Create Date: 2026-12-02 17:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import opsbook.db.base

revision = 'c12a00000001'
down_revision = 'c11a00000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
