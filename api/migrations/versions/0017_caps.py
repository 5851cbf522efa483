"""caps on live articles per licence (live_copy, max_live_articles); a partner's usage listing index

Revision ID: 0017_caps
Revises: 0016_tables
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

from api.core.db import UTCDateTime

revision = "0017_caps"
down_revision = "0016_tables"
branch_labels = None
depends_on = None

LIVE = sa.text("retired_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_usage_event_partner_at", "usage_event", ["partner_id", "at", "id"], unique=False)
    for table in ("licence_request", "licence"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("max_live_articles", sa.Integer(), nullable=True))
    op.create_table(
        "live_copy",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("licence_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("article_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=True),
        sa.Column("live_since", UTCDateTime(), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.Column("retired_by", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.ForeignKeyConstraint(["article_id"], ["article.id"], name=op.f("fk_live_copy_article_id_article")),
        sa.ForeignKeyConstraint(["licence_id"], ["licence.id"], name=op.f("fk_live_copy_licence_id_licence")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_copy")),
    )
    op.create_index("uq_live_copy_slot", "live_copy", ["licence_id", "slot"], unique=True,
                    sqlite_where=LIVE, postgresql_where=LIVE)
    op.create_index("uq_live_copy_article", "live_copy", ["licence_id", "article_id"], unique=True,
                    sqlite_where=LIVE, postgresql_where=LIVE)
    op.create_index("ix_live_copy_licence_article", "live_copy", ["licence_id", "article_id", "retired_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_live_copy_licence_article", table_name="live_copy")
    op.drop_index("uq_live_copy_article", table_name="live_copy")
    op.drop_index("uq_live_copy_slot", table_name="live_copy")
    op.drop_table("live_copy")
    for table in ("licence", "licence_request"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("max_live_articles")
    op.drop_index("ix_usage_event_partner_at", table_name="usage_event")
