"""outbox leases and operator listing; usage_event readers index for webhook fan-out

Revision ID: 0005_outbox
Revises: 0004_delivery
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005_outbox'
down_revision = "0004_delivery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_token', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.create_index('ix_outbox_message_status_id', ['status', 'id'], unique=False)
        batch_op.create_index('ix_outbox_message_topic_id', ['topic', 'id'], unique=False)
        batch_op.create_index('ix_outbox_message_topic_status_id', ['topic', 'status', 'id'], unique=False)
    with op.batch_alter_table('usage_event', schema=None) as batch_op:
        batch_op.create_index('ix_usage_event_article_readers', ['article_id', 'partner_id'], unique=False,
                              sqlite_where=sa.text('billable'), postgresql_where=sa.text('billable'))


def downgrade() -> None:
    with op.batch_alter_table('usage_event', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_event_article_readers', sqlite_where=sa.text('billable'),
                            postgresql_where=sa.text('billable'))
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_message_topic_status_id')
        batch_op.drop_index('ix_outbox_message_topic_id')
        batch_op.drop_index('ix_outbox_message_status_id')
        batch_op.drop_column('lease_token')
