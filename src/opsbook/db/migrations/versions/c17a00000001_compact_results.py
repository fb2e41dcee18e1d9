"""issue 16, footprint: compact results and rollups: tables

Raw results and rollups move to the compact form of `opsbook.checks.compact`: checks numbered in
`check_keys`, integer times, status codes, MessagePack values, messages only when they change (and on
each check's first result of an hour), rollup buckets packed in chunks (an hour of minutes, a day of
hours per row), one index per table. Existing rows are converted, both ways.

Revision ID: c17a00000001
Revises: c16a00000001
Create Date: 2026-12-03 06:50:00.000000
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import opsbook.db.base
from opsbook.checks import compact, histogram
from opsbook.db.types import Json

revision = 'c17a00000001'
down_revision = 'c16a00000001'
branch_labels = None
depends_on = None

BATCH = 5000
HOUR = 3600

_old_results, _old_rollups = compact.v1_tables('check_results_v1', 'check_rollups_v1')
_keys = sa.table('check_keys', sa.column('id', sa.Integer()), sa.column('name', sa.String()))
_results = sa.table(
    'check_results', sa.column('check_key', sa.Integer()), sa.column('ts', sa.BigInteger()),
    sa.column('status', sa.SmallInteger()), sa.column('latency_ms', sa.Float()),
    sa.column('message', sa.Text()), sa.column('values', sa.LargeBinary()),
)
_rollups = sa.table(
    'check_rollups', sa.column('check_key', sa.Integer()), sa.column('resolution', sa.Integer()),
    sa.column('chunk', sa.BigInteger()), sa.column('data', sa.LargeBinary()),
)


def _create_v1() -> None:
    op.create_table('check_results_v1',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('check_id', sa.String(length=140), nullable=False),
    sa.Column('ts', opsbook.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('values', Json(), nullable=False),
    sa.PrimaryKeyConstraint('id', name='pk_check_results_v1')
    )
    op.create_table('check_rollups_v1',
    sa.Column('check_id', sa.String(length=140), nullable=False),
    sa.Column('resolution', sa.Integer(), nullable=False),
    sa.Column('bucket', opsbook.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('degraded', sa.Integer(), nullable=False),
    sa.Column('latency_count', sa.Integer(), nullable=False),
    sa.Column('latency_sum', sa.Float(), nullable=False),
    sa.Column('latency_min', sa.Float(), nullable=True),
    sa.Column('latency_max', sa.Float(), nullable=True),
    sa.Column('histogram', Json(), nullable=False),
    sa.PrimaryKeyConstraint('check_id', 'resolution', 'bucket', name='pk_check_rollups_v1')
    )


def _create_compact() -> None:
    op.create_table('check_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=140), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_check_keys')),
    sa.UniqueConstraint('name', name=op.f('uq_check_keys_name'))
    )
    op.create_table('check_results',
    sa.Column('check_key', sa.Integer(), nullable=False),
    sa.Column('ts', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.SmallInteger(), nullable=False),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('values', sa.LargeBinary(), nullable=True)
    )
    with op.batch_alter_table('check_results', schema=None) as batch_op:
        batch_op.create_index('ix_check_results_key_ts', ['check_key', 'ts'], unique=False)

    op.create_table('check_rollups',
    sa.Column('check_key', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('resolution', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('chunk', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('check_key', 'resolution', 'chunk', name=op.f('pk_check_rollups'))
    )


def _batches(conn: sa.Connection, query: sa.Select[Any]) -> Iterator[Sequence[Any]]:
    yield from conn.execute(query.execution_options(yield_per=BATCH)).partitions()


def upgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table('check_results', schema=None) as batch_op:
        batch_op.drop_index('ix_check_results_ts')
        batch_op.drop_index('ix_check_results_check_ts')
    with op.batch_alter_table('check_rollups', schema=None) as batch_op:
        batch_op.drop_index('ix_check_rollups_res_bucket')
    op.rename_table('check_results', 'check_results_v1')
    op.rename_table('check_rollups', 'check_rollups_v1')
    if conn.dialect.name == 'postgresql':  # constraint names are index names there: free the old ones
        op.execute('ALTER TABLE check_results_v1 RENAME CONSTRAINT pk_check_results TO pk_check_results_v1')
        op.execute('ALTER TABLE check_rollups_v1 RENAME CONSTRAINT pk_check_rollups TO pk_check_rollups_v1')
    _create_compact()

    names = sorted({*conn.scalars(sa.select(_old_results.c.check_id).distinct()),
                    *conn.scalars(sa.select(_old_rollups.c.check_id).distinct())})
    if names:
        conn.execute(_keys.insert(), [{'name': n} for n in names])
    key = {name: k for k, name in conn.execute(sa.select(_keys.c.id, _keys.c.name))}
    _results_up(conn, key)
    _rollups_up(conn, key)
    op.drop_table('check_results_v1')
    op.drop_table('check_rollups_v1')


def _results_up(conn: sa.Connection, key: dict[str, int]) -> None:
    o = _old_results.c
    query = sa.select(o.check_id, o.ts, o.status, o.latency_ms, o.message, o['values']).order_by(
        o.check_id, o.ts, o.id)
    previous: tuple[str, int, str] | None = None  # check, ts µs, message
    for part in _batches(conn, query):
        rows = []
        for check_id, ts, status, latency, message, values in part:
            us = compact.to_us(ts)
            message = message or ''
            keep = (previous is None or previous[0] != check_id or us <= previous[1]
                    or us // 1_000_000 // HOUR != previous[1] // 1_000_000 // HOUR or message != previous[2])
            previous = (check_id, us, message)
            rows.append({'check_key': key[check_id], 'ts': us, 'status': compact.STATUS_CODE[status],
                         'latency_ms': latency, 'message': message if keep else None,
                         'values': compact.pack_values(values or {})})
        conn.execute(_results.insert(), rows)


def _rollups_up(conn: sa.Connection, key: dict[str, int]) -> None:
    """Old rows come ordered by check, resolution and time, so each chunk's buckets arrive together."""
    o = _old_rollups.c
    query = sa.select(o.check_id, o.resolution, o.bucket, o.count, o.failures, o.degraded, o.latency_count,
                      o.latency_sum, o.latency_min, o.latency_max, o.histogram).order_by(
        o.check_id, o.resolution, o.bucket)
    current: tuple[int, int, int] | None = None
    buckets: dict[int, compact.Agg] = {}
    done: list[dict[str, Any]] = []
    for part in _batches(conn, query):
        for check_id, resolution, bucket, count, failures, degraded, lcount, lsum, lmin, lmax, hist in part:
            if resolution not in compact.CHUNK_OF:
                continue
            start = compact.to_s(bucket)
            chunk = (key[check_id], resolution, compact.chunk_of(start, resolution))
            if chunk != current:
                _close(current, buckets, done)
                current, buckets = chunk, {}
            buckets[start] = compact.Agg(count, failures, degraded, lcount, lsum or 0.0, lmin, lmax,
                                         histogram.dense(hist))
        if len(done) >= BATCH:
            conn.execute(_rollups.insert(), done)
            done = []
    _close(current, buckets, done)
    if done:
        conn.execute(_rollups.insert(), done)


def _close(
    chunk: tuple[int, int, int] | None, buckets: dict[int, compact.Agg], done: list[dict[str, Any]]
) -> None:
    if chunk is None or not buckets:
        return
    check_key, resolution, start = chunk
    done.append({'check_key': check_key, 'resolution': resolution, 'chunk': start,
                 'data': compact.pack_chunk(buckets, start, resolution)})


def downgrade() -> None:
    conn = op.get_bind()
    _create_v1()
    name = dict(conn.execute(sa.select(_keys.c.id, _keys.c.name)).all())
    c = _results.c
    query = sa.select(c.check_key, c.ts, c.status, c.latency_ms, c.message, c['values']).order_by(
        c.check_key, c.ts)
    carry: tuple[int, str] = (-1, '')
    for part in _batches(conn, query):
        rows = []
        for check_key, ts, status, latency, message, values in part:
            if message is None:
                message = carry[1] if carry[0] == check_key else ''
            carry = (check_key, message)
            rows.append({'check_id': name[check_key], 'ts': compact.from_us(ts),
                         'status': compact.STATUSES[status], 'latency_ms': latency, 'message': message,
                         'values': compact.unpack_values(values)})
        conn.execute(_old_results.insert(), rows)
    r = _rollups.c
    for part in _batches(conn, sa.select(r.check_key, r.resolution, r.chunk, r.data)):
        rows = []
        for check_key, resolution, chunk, data in part:
            for start, agg in compact.unpack_chunk(data, chunk, resolution).items():
                rows.append({'check_id': name[check_key], 'resolution': resolution,
                             'bucket': compact.from_s(start), 'count': agg.count, 'failures': agg.failures,
                             'degraded': agg.degraded, 'latency_count': agg.latency_count,
                             'latency_sum': agg.latency_sum, 'latency_min': agg.latency_min,
                             'latency_max': agg.latency_max, 'histogram': histogram.sparse(agg.hist)})
        if rows:
            conn.execute(_old_rollups.insert(), rows)

    op.drop_table('check_rollups')
    with op.batch_alter_table('check_results', schema=None) as batch_op:
        batch_op.drop_index('ix_check_results_key_ts')
    op.drop_table('check_results')
    op.drop_table('check_keys')
    op.rename_table('check_results_v1', 'check_results')
    op.rename_table('check_rollups_v1', 'check_rollups')
    if conn.dialect.name == 'postgresql':
        op.execute('ALTER TABLE check_results RENAME CONSTRAINT pk_check_results_v1 TO pk_check_results')
        op.execute('ALTER TABLE check_rollups RENAME CONSTRAINT pk_check_rollups_v1 TO pk_check_rollups')
    with op.batch_alter_table('check_results', schema=None) as batch_op:
        batch_op.create_index('ix_check_results_check_ts', ['check_id', 'ts'], unique=False)
        batch_op.create_index('ix_check_results_ts', ['ts'], unique=False)
    with op.batch_alter_table('check_rollups', schema=None) as batch_op:
        batch_op.create_index('ix_check_rollups_res_bucket', ['resolution', 'bucket'], unique=False)
