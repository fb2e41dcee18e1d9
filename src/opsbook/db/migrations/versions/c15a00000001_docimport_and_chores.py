"""issue 15, drift checks and chores: tables

Revision ID: c15a00000001
Revises: c14a00000001
Create Date: 2026-12-02 17:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = 'c15a00000001'
down_revision = 'c14a00000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('runbook_runs', schema=None) as batch_op:
        json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
        batch_op.add_column(sa.Column('session_state', json, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('runbook_runs', schema=None) as batch_op:
        batch_op.drop_column('session_state')
