"""write probes for /ready

Revision ID: b7d2f4a91c3e
Revises: a1c3e5f70b21
Create Date: 2026-12-02 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import opsbook.db.base


revision = 'b7d2f4a91c3e'
down_revision = 'a1c3e5f70b21'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('write_probes',
    sa.Column('node', sa.String(length=200), nullable=False),
    sa.Column('ts', opsbook.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('node', name=op.f('pk_write_probes'))
    )


def downgrade() -> None:
    op.drop_table('write_probes')
