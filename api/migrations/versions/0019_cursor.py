"""the change log behind the feed's change cursor, filled from the revisions kept so far

Revision ID: 0019_cursor
Revises: 0018_still_live
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

from api.core.db import UTCDateTime

revision = "0019_cursor"
down_revision = "0018_still_live"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_change",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("article_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("committed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["article.id"], name=op.f("fk_article_change_article_id_article"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_article_change")),
        sa.UniqueConstraint("article_id", "version", name=op.f("uq_article_change_article_id_version")),
    )
    # Every version so far, in the order it was made: history is settled, so its order is its commit order.
    op.execute("INSERT INTO article_change (article_id, version, change, committed_at) "
               "SELECT article_id, version, change, created_at FROM article_revision ORDER BY created_at, article_id, version")


def downgrade() -> None:
    op.drop_table("article_change")
