"""issue 11, the responder's experience: tables

Revision ID: c11a00000001
Revises: b7d2f4a91c3e
Create Date: 2026-12-02 17:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import opsbook.db.base

revision = 'c11a00000001'
down_revision = 'b7d2f4a91c3e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
