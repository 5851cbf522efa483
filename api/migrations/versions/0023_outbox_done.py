"""an index for the outbox retention's delete of done messages past a cut-off

Revision ID: 0023_outbox_done
Revises: 0022_licensed_copy
"""
from alembic import op

revision = "0023_outbox_done"
down_revision = "0022_licensed_copy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_message_done", "outbox_message", ["status", "done_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_message_done", table_name="outbox_message")
