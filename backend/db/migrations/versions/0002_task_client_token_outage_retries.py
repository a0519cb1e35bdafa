"""task.client_token (idempotent task/create), device_record.outage_retries (re-pushes after our outages)

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a unique INDEX rather than a UNIQUE column constraint: SQLite cannot add a column with a
    # constraint (ALTER TABLE ADD COLUMN), and both SQLite and PostgreSQL let any number of NULLs
    # (tasks created without a key) share it
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_token', sa.String(length=64), nullable=True))
        batch_op.create_index('uq_task_client_token', ['client_token'], unique=True)
    # existing rows get 0 (server default), so the column can be NOT NULL at once
    with op.batch_alter_table('device_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outage_retries', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('device_record', schema=None) as batch_op:
        batch_op.drop_column('outage_retries')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_index('uq_task_client_token')
        batch_op.drop_column('client_token')
