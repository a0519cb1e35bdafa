"""rollout safety: task rollout options, pause, wave and reason; record wave and first version; record history; audit log

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_id = sa.Integer().with_variant(sa.BigInteger(), "postgresql")


def upgrade() -> None:
    # server defaults: existing tasks and records get "no rollout options", wave 0, not paused.
    # Plain ALTER TABLE ADD/DROP COLUMN, never batch mode: on SQLite a batch rebuild of "task"
    # drops the old table, and with foreign keys on that deletes every record (ON DELETE CASCADE)
    op.add_column('task', sa.Column('rollout', sa.Text(), server_default='', nullable=False))
    op.add_column('task', sa.Column('paused', sa.Boolean(), server_default='0', nullable=False))
    op.add_column('task', sa.Column('current_wave', sa.Integer(), server_default='0', nullable=False))
    op.add_column('task', sa.Column('wave_done_time', sa.BigInteger(), server_default='0', nullable=False))
    op.add_column('task', sa.Column('status_reason', sa.Text(), server_default='', nullable=False))
    op.add_column('device_record', sa.Column('wave', sa.Integer(), server_default='0', nullable=False))
    op.add_column('device_record', sa.Column('from_version', sa.String(64), server_default='', nullable=False))
    op.create_table(
        'record_history',
        sa.Column('id', _id, primary_key=True, autoincrement=True),
        sa.Column('record_id', _id, sa.ForeignKey('device_record.id', ondelete='CASCADE'), nullable=False),
        sa.Column('task_uid', sa.String(64), nullable=False),
        sa.Column('product_id', sa.String(64), nullable=False),
        sa.Column('device_name', sa.String(64), nullable=False),
        sa.Column('time', sa.BigInteger(), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('desc', sa.Text(), nullable=False),
        sa.Column('retry_count', sa.Integer(), nullable=False),
        sa.Column('actor', sa.String(64), nullable=False),
    )
    op.create_index('ix_history_record', 'record_history', ['record_id', 'id'])
    op.create_index('ix_history_device', 'record_history', ['product_id', 'device_name', 'id'])
    op.create_table(
        'audit_log',
        sa.Column('id', _id, primary_key=True, autoincrement=True),
        sa.Column('time', sa.BigInteger(), nullable=False),
        sa.Column('actor', sa.String(64), nullable=False),
        sa.Column('client', sa.String(64), nullable=False),
        sa.Column('action', sa.String(128), nullable=False),
        sa.Column('target', sa.Text(), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
    )
    op.create_index('ix_audit_time', 'audit_log', ['time', 'id'])


def downgrade() -> None:
    op.drop_index('ix_audit_time', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_index('ix_history_device', table_name='record_history')
    op.drop_index('ix_history_record', table_name='record_history')
    op.drop_table('record_history')
    op.drop_column('device_record', 'from_version')
    op.drop_column('device_record', 'wave')
    for column in ('status_reason', 'wave_done_time', 'current_wave', 'paused', 'rollout'):
        op.drop_column('task', column)
