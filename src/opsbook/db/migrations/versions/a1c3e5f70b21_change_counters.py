"""change counters for domain events across processes

Revision ID: a1c3e5f70b21
Revises: 35112fe15132
Create Date: 2026-12-02 14:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = 'a1c3e5f70b21'
down_revision = '35112fe15132'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('change_counters',
    sa.Column('topic', sa.String(length=40), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('topic', name=op.f('pk_change_counters'))
    )


def downgrade() -> None:
    op.drop_table('change_counters')
