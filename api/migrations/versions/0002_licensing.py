"""licensing: auto-approval billing modes, list indexes, an append-only audit log

Revision ID: 0002_licensing
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = "0002_licensing"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rules keep their meaning for bounded modes and stop approving usage billing.
    with op.batch_alter_table("auto_approval_rule", schema=None) as batch_op:
        batch_op.add_column(sa.Column("billing_modes", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    with op.batch_alter_table("auto_approval_rule", schema=None) as batch_op:
        batch_op.alter_column("billing_modes", server_default=None)
        batch_op.create_index("ix_auto_approval_rule_created", ["created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("auto_approval_rule", schema=None) as batch_op:
        batch_op.drop_index("ix_auto_approval_rule_created")
        batch_op.drop_column("billing_modes")
