"""outbox topics of the invoicing domain say `invoicing.`, as its URLs and tags do

Revision ID: 0013_names
Revises: 0012_desk

Messages queued before the rename (pending, retrying or dead) keep being delivered: their topic is
rewritten to the sender's new name. Audit entries are append-only and keep the action they were
written with; the console labels both spellings.
"""
from alembic import op

revision = "0013_names"
down_revision = "0012_desk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE outbox_message SET topic = 'invoicing.' || substr(topic, 9) WHERE topic LIKE 'billing.%'")


def downgrade() -> None:
    op.execute("UPDATE outbox_message SET topic = 'billing.' || substr(topic, 11) WHERE topic LIKE 'invoicing.%'")
