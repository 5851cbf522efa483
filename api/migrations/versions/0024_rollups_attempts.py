"""daily usage per licence and per article, kept by triggers on usage_daily; invoice.issue_attempts

`usage_licence_daily` and `usage_article_daily` are `usage_daily` summed per (day, licence) and
(day, article) (api/delivery/rollups.py): created, filled from the existing rows, then kept by
triggers. `invoice.issue_attempts` counts an invoice's failed attempts to be issued, which its
provider idempotency keys carry (api/invoicing/issuing.py).

Revision ID: 0024_rollups_attempts
Revises: 0023_outbox_done
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

from api.delivery import rollups

revision = "0024_rollups_attempts"
down_revision = "0023_outbox_done"
branch_labels = None
depends_on = None


def _counts() -> list[sa.Column]:
    return [sa.Column("deliveries", sa.Integer(), nullable=False),
            sa.Column("republications", sa.Integer(), nullable=False)]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "usage_licence_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("licence_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("partner_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        *_counts(),
        sa.PrimaryKeyConstraint("day", "licence_id", name=op.f("pk_usage_licence_daily")),
    )
    op.create_index("ix_usage_licence_daily_licence_day", "usage_licence_daily", ["licence_id", "day"], unique=False)
    op.create_index("ix_usage_licence_daily_partner_day", "usage_licence_daily", ["partner_id", "day"], unique=False)
    op.create_table(
        "usage_article_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("article_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        *_counts(),
        sa.PrimaryKeyConstraint("day", "article_id", name=op.f("pk_usage_article_daily")),
    )
    # Filled before the triggers exist, in the same transaction (PostgreSQL's DDL is transactional),
    # so no row is counted twice or missed.
    for statement in rollups.BACKFILL:
        op.execute(statement)
    for statement in rollups.triggers(dialect):
        op.execute(statement)
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issue_attempts", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.alter_column("issue_attempts", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_column("issue_attempts")
    for statement in rollups.drop_triggers(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("usage_article_daily")
    op.drop_index("ix_usage_licence_daily_partner_day", table_name="usage_licence_daily")
    op.drop_index("ix_usage_licence_daily_licence_day", table_name="usage_licence_daily")
    op.drop_table("usage_licence_daily")
