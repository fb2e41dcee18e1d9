"""issue 14, database care and capacity: tables

Revision ID: c14a00000001
Revises: c13a00000001
Create Date: 2026-12-02 17:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import opsbook.db.base
from sqlalchemy.dialects import postgresql

revision = 'c14a00000001'
down_revision = 'c13a00000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('capacity_value_hours',
    sa.Column('check_id', sa.String(length=140), nullable=False),
    sa.Column('field', sa.String(length=200), nullable=False),
    sa.Column('bucket', opsbook.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('low', sa.Float(), nullable=False),
    sa.Column('high', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('check_id', 'field', 'bucket', name=op.f('pk_capacity_value_hours'))
    )
    op.create_table('pg_snapshots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('check_id', sa.String(length=140), nullable=False),
    sa.Column('ts', opsbook.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('statements', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pg_snapshots'))
    )
    with op.batch_alter_table('pg_snapshots', schema=None) as batch_op:
        batch_op.create_index('ix_pg_snapshots_check_ts', ['check_id', 'ts'], unique=False)

    op.create_table('pg_maintenance_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('task', sa.String(length=64), nullable=False),
    sa.Column('scheduled_for', opsbook.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('started_at', opsbook.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', opsbook.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('oplog_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pg_maintenance_runs')),
    sa.UniqueConstraint('task', 'scheduled_for', name='uq_pg_maintenance_runs_task_scheduled')
    )


def downgrade() -> None:
    op.drop_table('pg_maintenance_runs')
    with op.batch_alter_table('pg_snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_pg_snapshots_check_ts')
    op.drop_table('pg_snapshots')
    op.drop_table('capacity_value_hours')
