"""write path: drop indexes no query needs (usage by partner and time; section alone)

Every content delivery inserts a usage_event row, so each of its indexes costs the hot path; no
query filters usage by partner (billing and reports range over `at`, quotas over licence and
`at`). Article queries on a section are served by the (section, published_at) and
(section, updated_at, id) indexes.

Revision ID: 0006_write_path
Revises: 0005_outbox
"""
from alembic import op

revision = "0006_write_path"
down_revision = "0005_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_event", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_event_partner_at")
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_index("ix_article_section")


def downgrade() -> None:
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.create_index("ix_article_section", ["section"], unique=False)
    with op.batch_alter_table("usage_event", schema=None) as batch_op:
        batch_op.create_index("ix_usage_event_partner_at", ["partner_id", "at"], unique=False)
