"""release capsules: trusted publishers, capsule log, task drafts, evidence

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_id = sa.Integer().with_variant(sa.BigInteger(), "postgresql")


def upgrade() -> None:
    op.create_table(
        'trusted_publisher',
        sa.Column('fingerprint', sa.String(80), primary_key=True),
        sa.Column('name', sa.String(128), nullable=False),
        sa.Column('public_key', sa.Text(), nullable=False),
        sa.Column('created_time', sa.BigInteger(), nullable=False),
    )
    op.create_table(
        'capsule_log',
        sa.Column('capsule_id', sa.String(36), primary_key=True),
        sa.Column('direction', sa.String(8), primary_key=True),
        sa.Column('firmware_id', _id, sa.ForeignKey('firmware.id', ondelete='SET NULL'), nullable=True),
        sa.Column('product_id', sa.String(64), nullable=False),
        sa.Column('version', sa.String(64), nullable=False),
        sa.Column('publisher_fingerprint', sa.String(80), nullable=False),
        sa.Column('created_time', sa.BigInteger(), nullable=False),
        sa.Column('expires_time', sa.BigInteger(), nullable=False),
        sa.Column('handled_time', sa.BigInteger(), nullable=False),
    )
    op.create_table(
        'task_draft',
        sa.Column('id', _id, primary_key=True, autoincrement=True),
        sa.Column('firmware_id', _id, sa.ForeignKey('firmware.id', ondelete='CASCADE'), nullable=False),
        sa.Column('capsule_id', sa.String(36), nullable=False),
        sa.Column('publisher_name', sa.String(128), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_time', sa.BigInteger(), nullable=False),
    )
    op.create_table(
        'evidence',
        sa.Column('id', _id, primary_key=True, autoincrement=True),
        sa.Column('station_fingerprint', sa.String(80), nullable=False),
        sa.Column('station_name', sa.String(128), nullable=False),
        sa.Column('capsule_id', sa.String(36), nullable=False),
        sa.Column('product_id', sa.String(64), nullable=False),
        sa.Column('version', sa.String(64), nullable=False),
        sa.Column('task_uid', sa.String(64), nullable=False),
        sa.Column('created_time', sa.BigInteger(), nullable=False),
        sa.Column('imported_time', sa.BigInteger(), nullable=False),
        sa.UniqueConstraint('station_fingerprint', 'task_uid', name='uq_evidence_task'),
    )
    op.create_table(
        'evidence_device',
        sa.Column('id', _id, primary_key=True, autoincrement=True),
        sa.Column('evidence_id', _id, sa.ForeignKey('evidence.id', ondelete='CASCADE'), nullable=False),
        sa.Column('device_name', sa.String(64), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('version_before', sa.String(64), nullable=False),
        sa.Column('version_after', sa.String(64), nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('desc', sa.Text(), nullable=False),
        sa.Column('retries', sa.Integer(), nullable=False),
        sa.Column('created_time', sa.BigInteger(), nullable=False),
        sa.Column('updated_time', sa.BigInteger(), nullable=False),
    )
    op.create_index('ix_evidence_device', 'evidence_device', ['evidence_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_evidence_device', table_name='evidence_device')
    op.drop_table('evidence_device')
    op.drop_table('evidence')
    op.drop_table('task_draft')
    op.drop_table('capsule_log')
    op.drop_table('trusted_publisher')
