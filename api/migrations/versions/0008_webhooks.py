"""outbox lanes (bounded in flight per webhook endpoint); webhook endpoints disabled by 410 and secret rotation

Revision ID: 0008_webhooks
Revises: 0007_billing_cutoff
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

from api.core.db import UTCDateTime


revision = "0008_webhooks"
down_revision = "0007_billing_cutoff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lane", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.create_index("ix_outbox_message_lane", ["lane", "status"], unique=False)
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_secret_encrypted", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column("previous_secret_expires_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("disabled_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("disabled_reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.drop_column("disabled_reason")
        batch_op.drop_column("disabled_at")
        batch_op.drop_column("previous_secret_expires_at")
        batch_op.drop_column("previous_secret_encrypted")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_message_lane")
        batch_op.drop_column("lane")
