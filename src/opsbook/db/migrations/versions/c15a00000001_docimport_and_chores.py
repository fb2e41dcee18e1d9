"""issue 15, drift checks and chores: tables

Revision ID: c15a00000001
Revises: c14a00000001
Create Date: 2026-12-02 17:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import opsbook.db.base

revision = 'c15a00000001'
down_revision = 'c14a00000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('runbook_runs', schema=None) as batch_op:
        json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
        batch_op.add_column(sa.Column('session_state', json, nullable=True))

    op.create_table('chore_dues',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('chore', sa.String(length=64), nullable=False),
    sa.Column('procedure', sa.String(length=400), nullable=False),
    sa.Column('due_at', opsbook.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('deadline', opsbook.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('assignee', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reminded_at', opsbook.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('overdue_at', opsbook.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', opsbook.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=100), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('oplog_entry', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chore_dues'))
    )
    op.create_index('uq_chore_dues_chore_due', 'chore_dues', ['chore', 'due_at'], unique=True)
    op.create_index('ix_chore_dues_status', 'chore_dues', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_chore_dues_status', table_name='chore_dues')
    op.drop_index('uq_chore_dues_chore_due', table_name='chore_dues')
    op.drop_table('chore_dues')
    with op.batch_alter_table('runbook_runs', schema=None) as batch_op:
        batch_op.drop_column('session_state')
