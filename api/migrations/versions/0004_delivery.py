"""delivery: section feeds page by an index in (updated_at, id) order

Revision ID: 0004_delivery
Revises: 0003_licensing
"""
from alembic import op

revision = "0004_delivery"
down_revision = "0003_licensing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.create_index("ix_article_section_sync", ["section", "updated_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_index("ix_article_section_sync")
