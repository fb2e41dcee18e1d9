"""issue 16, workers on PostgreSQL: cluster members and check leases: tables (and the channels' rate-limit
buckets shared by the delivery workers)

Revision ID: c16a00000001
Revises: c15a00000001
Create Date: 2026-12-03 06:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import opsbook.db.base

revision = 'c16a00000001'
down_revision = 'c15a00000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cluster_members',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('roles', sa.String(length=100), nullable=False),
    sa.Column('location', sa.String(length=64), nullable=True),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('started_at', opsbook.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', opsbook.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', opsbook.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('duties', sa.Text(), nullable=False),
    sa.Column('lag_s', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cluster_members'))
    )
    with op.batch_alter_table('cluster_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cluster_members_heartbeat_at'), ['heartbeat_at'], unique=False)

    op.create_table('check_leases',
    sa.Column('partition', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('holder', sa.String(length=100), nullable=True),
    sa.Column('expires_at', opsbook.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('acquired_at', opsbook.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('partition', name=op.f('pk_check_leases'))
    )
    with op.batch_alter_table('check_leases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_check_leases_holder'), ['holder'], unique=False)

    op.create_table('notify_rate_buckets',
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('tokens', sa.Float(), nullable=False),
    sa.Column('updated_at', opsbook.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel', name=op.f('pk_notify_rate_buckets'))
    )


def downgrade() -> None:
    op.drop_table('notify_rate_buckets')
    with op.batch_alter_table('check_leases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_check_leases_holder'))

    op.drop_table('check_leases')
    with op.batch_alter_table('cluster_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cluster_members_heartbeat_at'))

    op.drop_table('cluster_members')
