"""write path: usage_event loses its foreign keys and an unused index; article an index

Every content delivery inserts a usage_event row, so each of its indexes and constraints costs
the hot path. Its foreign keys are per-row triggers on PostgreSQL (see UsageEvent's docstring for
why the log can do without them); no query filters usage by partner (billing and reports range
over `at`, quotas over licence and `at`). Article queries on a section are served by the
(section, published_at) and (section, updated_at, id) indexes.

Revision ID: 0006_write_path
Revises: 0005_outbox
"""
from alembic import op

revision = "0006_write_path"
down_revision = "0005_outbox"
branch_labels = None
depends_on = None

_PARENTS = ("licence", "partner", "article")


def upgrade() -> None:
    with op.batch_alter_table("usage_event", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_event_partner_at")
        for parent in _PARENTS:
            batch_op.drop_constraint(f"fk_usage_event_{parent}_id_{parent}", type_="foreignkey")
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_index("ix_article_section")


def downgrade() -> None:
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.create_index("ix_article_section", ["section"], unique=False)
    with op.batch_alter_table("usage_event", schema=None) as batch_op:
        batch_op.create_index("ix_usage_event_partner_at", ["partner_id", "at"], unique=False)
        for parent in _PARENTS:
            batch_op.create_foreign_key(f"fk_usage_event_{parent}_id_{parent}", parent, [f"{parent}_id"], ["id"])
