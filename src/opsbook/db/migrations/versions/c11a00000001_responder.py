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
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_title', sa.String(length=500), nullable=True))

    op.create_table('incident_public_updates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('incident_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('ts', opsbook.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=100), nullable=False),
    sa.Column('edited_at', opsbook.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('edited_by', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_public_updates_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_public_updates')),
    sa.UniqueConstraint('incident_id', 'number', name='uq_incident_public_updates_number')
    )

    op.create_table('heartbeat_pings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('check_id', sa.String(length=140), nullable=False),
    sa.Column('ts', opsbook.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('exit_code', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_heartbeat_pings'))
    )
    with op.batch_alter_table('heartbeat_pings', schema=None) as batch_op:
        batch_op.create_index('ix_heartbeat_pings_check_ts', ['check_id', 'ts'], unique=False)

    # Incidents resolved without an acknowledgement used to be stamped acknowledged at their resolution,
    # making their time to acknowledge their time to resolve: those (no "acknowledged" timeline entry)
    # become unacknowledged again, so MTTA leaves them out.
    op.execute(
        "UPDATE incidents SET acknowledged_at = NULL, acknowledged_by = NULL "
        "WHERE acknowledged_at IS NOT NULL AND acknowledged_at = resolved_at AND NOT EXISTS ("
        "SELECT 1 FROM incident_timeline t WHERE t.incident_id = incidents.id AND t.kind = 'acknowledged')"
    )


def downgrade() -> None:
    with op.batch_alter_table('heartbeat_pings', schema=None) as batch_op:
        batch_op.drop_index('ix_heartbeat_pings_check_ts')
    op.drop_table('heartbeat_pings')
    op.drop_table('incident_public_updates')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_column('public_title')
