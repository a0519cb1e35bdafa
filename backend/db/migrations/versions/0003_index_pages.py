"""indexes for the index pages at 100,000 devices / records: devices by product (and version),
a task's records (all, or by status), each in id order

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain CREATE / DROP INDEX (no batch mode: SQLite builds an index without copying the table)
    op.create_index('ix_device_product', 'device', ['product_id', 'id'], unique=False)
    op.create_index('ix_device_product_version', 'device', ['product_id', 'version', 'id'], unique=False)
    # the record indexes end in id, so PostgreSQL pages them in id order too (SQLite's end in the
    # row id anyway); replaced under the same name where the name stays
    op.drop_index('ix_device_record_task_uid', table_name='device_record')
    op.create_index('ix_record_task_uid', 'device_record', ['task_uid', 'id'], unique=False)
    op.drop_index('ix_record_task_status', table_name='device_record')
    op.create_index('ix_record_task_status', 'device_record', ['task_id', 'status', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_record_task_status', table_name='device_record')
    op.create_index('ix_record_task_status', 'device_record', ['task_id', 'status'], unique=False)
    op.drop_index('ix_record_task_uid', table_name='device_record')
    op.create_index('ix_device_record_task_uid', 'device_record', ['task_uid'], unique=False)
    op.drop_index('ix_device_product_version', table_name='device')
    op.drop_index('ix_device_product', table_name='device')
