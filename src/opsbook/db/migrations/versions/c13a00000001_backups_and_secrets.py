"""issue 13, backups and secrets: tables

Revision ID: c13a00000001
Revises: c12a00000001
Create Date: 2026-12-02 17:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import opsbook.db.base

revision = 'c13a00000001'
down_revision = 'c12a00000001'
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
WHEN = opsbook.db.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('backup_drills',
    sa.Column('id', BIGID, autoincrement=True, nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('started_at', WHEN, nullable=False),
    sa.Column('finished_at', WHEN, nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('rto_s', sa.Float(), nullable=True),
    sa.Column('rto_target_s', sa.Float(), nullable=True),
    sa.Column('restored', sa.Text(), nullable=False),
    sa.Column('scratch', sa.String(length=100), nullable=False),
    sa.Column('scratch_dropped', sa.Boolean(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('output', sa.Text(), nullable=False),
    sa.Column('steps', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('operator', sa.String(length=100), nullable=False),
    sa.Column('oplog_id', BIGID, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backup_drills'))
    )
    op.create_index('ix_backup_drills_job_started', 'backup_drills', ['job', 'started_at'], unique=False)
    op.create_table('backup_jobs',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('watched_since', WHEN, nullable=False),
    sa.Column('listed_at', WHEN, nullable=True),
    sa.Column('list_error', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_backup_jobs'))
    )
    op.create_table('backups',
    sa.Column('id', BIGID, autoincrement=True, nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('ts', WHEN, nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('size_bytes', sa.Float(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('ident', sa.String(length=300), nullable=True),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('recorded_at', WHEN, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backups')),
    sa.UniqueConstraint('job', 'ident', name='uq_backups_job_ident')
    )
    op.create_index('ix_backups_job_ts', 'backups', ['job', 'ts'], unique=False)
    op.create_table('secret_compromises',
    sa.Column('id', BIGID, autoincrement=True, nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('reported_at', WHEN, nullable=False),
    sa.Column('reported_by', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('due_at', WHEN, nullable=False),
    sa.Column('incident_id', BIGID, nullable=True),
    sa.Column('alert_id', BIGID, nullable=True),
    sa.Column('rotated_at', WHEN, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_secret_compromises'))
    )
    op.create_index(op.f('ix_secret_compromises_secret'), 'secret_compromises', ['secret'], unique=False)
    op.create_table('secret_rotations',
    sa.Column('id', BIGID, autoincrement=True, nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('rotated_at', WHEN, nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('run_id', BIGID, nullable=True),
    sa.Column('recorded_at', WHEN, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_secret_rotations'))
    )
    op.create_index('ix_secret_rotations_secret_at', 'secret_rotations', ['secret', 'rotated_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_secret_rotations_secret_at', table_name='secret_rotations')
    op.drop_table('secret_rotations')
    op.drop_index(op.f('ix_secret_compromises_secret'), table_name='secret_compromises')
    op.drop_table('secret_compromises')
    op.drop_index('ix_backups_job_ts', table_name='backups')
    op.drop_table('backups')
    op.drop_table('backup_jobs')
    op.drop_index('ix_backup_drills_job_started', table_name='backup_drills')
    op.drop_table('backup_drills')
