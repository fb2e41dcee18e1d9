"""issue 16, probes from several locations: tables

A location's probes are leased in partitions of their own: check_leases says which location's pool a
partition belongs to (NULL: the checks without locations, run by any worker). Results keep their location
in their check key (`service/check@location`, see opsbook.locations.units): no column of check_results.

Revision ID: c18a00000001
Revises: c17a00000001
Create Date: 2026-12-03 06:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'c18a00000001'
down_revision = 'c17a00000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('check_leases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('location', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('check_leases', schema=None) as batch_op:
        batch_op.drop_column('location')
