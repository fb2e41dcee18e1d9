"""issue 17, status-page subscribers: tables

Revision ID: c19a00000001
Revises: c18a00000001
Create Date: 2026-12-03 06:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import opsbook.db.base

revision = 'c19a00000001'
down_revision = 'c18a00000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('status_subscribers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('address', sa.String(length=2048), nullable=False),
    sa.Column('address_key', sa.String(length=64), nullable=False),
    sa.Column('services', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('pending_services', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('confirm_nonce', sa.String(length=32), nullable=False),
    sa.Column('unsubscribe_nonce', sa.String(length=32), nullable=False),
    sa.Column('created_at', opsbook.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('confirm_sent_at', opsbook.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', opsbook.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_subscribers'))
    )
    with op.batch_alter_table('status_subscribers', schema=None) as batch_op:
        batch_op.create_index('uq_status_subscribers_address_key', ['address_key'], unique=True)
        batch_op.create_index('ix_status_subscribers_status', ['status'], unique=False)

    op.create_table('status_announcements',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('ts', opsbook.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('services', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('told', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_status_announcements'))
    )
    with op.batch_alter_table('status_announcements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_status_announcements_ts'), ['ts'], unique=False)

    op.create_table('subscribe_requests',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('ts', opsbook.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ip_key', sa.String(length=64), nullable=False),
    sa.Column('address_key', sa.String(length=64), nullable=False),
    sa.Column('sent', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscribe_requests'))
    )
    with op.batch_alter_table('subscribe_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscribe_requests_address_key'), ['address_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_subscribe_requests_ip_key'), ['ip_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_subscribe_requests_ts'), ['ts'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('subscribe_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscribe_requests_ts'))
        batch_op.drop_index(batch_op.f('ix_subscribe_requests_ip_key'))
        batch_op.drop_index(batch_op.f('ix_subscribe_requests_address_key'))

    op.drop_table('subscribe_requests')
    with op.batch_alter_table('status_announcements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_status_announcements_ts'))

    op.drop_table('status_announcements')
    with op.batch_alter_table('status_subscribers', schema=None) as batch_op:
        batch_op.drop_index('ix_status_subscribers_status')
        batch_op.drop_index('uq_status_subscribers_address_key')

    op.drop_table('status_subscribers')
