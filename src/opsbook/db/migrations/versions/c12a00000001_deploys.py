"""issue 12, deploys: tables

Revision ID: c12a00000001
Revises: c11a00000001
Create Date: 2026-12-02 17:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import opsbook.db.base
import opsbook.db.types
from sqlalchemy.dialects import postgresql

revision = 'c12a00000001'
down_revision = 'c11a00000001'
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def _id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, opsbook.db.base.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table('deploys',
    sa.Column('id', _id(), autoincrement=True, nullable=False),
    sa.Column('service', sa.String(length=64), nullable=False),
    sa.Column('env', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=200), nullable=False),
    sa.Column('previous_version', sa.String(length=200), nullable=True),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('forced', sa.Boolean(), nullable=False),
    sa.Column('force_reason', sa.Text(), nullable=False),
    sa.Column('commit', sa.String(length=100), nullable=True),
    _time('committed_at', nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    _time('started_at'),
    _time('ended_at', nullable=True),
    _time('heartbeat_at', nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('host', sa.String(length=200), nullable=True),
    sa.Column('checklist', _json(), nullable=False),
    sa.Column('output', sa.Text(), nullable=False),
    sa.Column('verdict', _json(), nullable=False),
    sa.Column('rollback_version', sa.String(length=200), nullable=True),
    _time('regression_at', nullable=True),
    _time('restored_at', nullable=True),
    sa.Column('restore_seconds', sa.Float(), nullable=True),
    sa.Column('incident_id', _id(), nullable=True),
    sa.Column('detail', _json(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deploys'))
    )
    with op.batch_alter_table('deploys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deploys_status'), ['status'], unique=False)
        batch_op.create_index('ix_deploys_service_env_started', ['service', 'env', 'started_at'], unique=False)
        batch_op.create_index('ix_deploys_started', ['started_at'], unique=False)

    op.create_table('deploy_locks',
    sa.Column('service', sa.String(length=64), nullable=False),
    sa.Column('env', sa.String(length=64), nullable=False),
    sa.Column('deploy_id', _id(), nullable=False),
    sa.Column('holder', sa.String(length=100), nullable=False),
    _time('acquired_at'),
    sa.PrimaryKeyConstraint('service', 'env', name=op.f('pk_deploy_locks'))
    )
    op.create_table('deploy_freezes',
    sa.Column('id', _id(), autoincrement=True, nullable=False),
    sa.Column('service', sa.String(length=64), nullable=False),
    _time('starts_at'),
    _time('ends_at'),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    _time('created_at'),
    _time('lifted_at', nullable=True),
    sa.Column('lifted_by', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deploy_freezes'))
    )
    with op.batch_alter_table('deploy_freezes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deploy_freezes_ends_at'), ['ends_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('deploy_freezes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deploy_freezes_ends_at'))
    op.drop_table('deploy_freezes')
    op.drop_table('deploy_locks')
    with op.batch_alter_table('deploys', schema=None) as batch_op:
        batch_op.drop_index('ix_deploys_started')
        batch_op.drop_index('ix_deploys_service_env_started')
        batch_op.drop_index(batch_op.f('ix_deploys_status'))
    op.drop_table('deploys')
