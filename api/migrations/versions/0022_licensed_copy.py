"""the licensed copy of each article's body, made when it is written

Revision ID: 0022_licensed_copy
Revises: 0021_revision_fields
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

revision = "0022_licensed_copy"
down_revision = "0021_revision_fields"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable and empty: articles written before this are copied by the catalogue's periodic job
    # (and, until then, on their first delivery), not here: the copy needs the app's HTML parser.
    # Plain ADD COLUMN on both databases: SQLite must not rebuild `article` (its search index is keyed by rowid).
    op.add_column("article", sa.Column("licensed_html", sa.Text(), nullable=True))
    op.add_column("article", sa.Column("licensed_text", sa.Text(), nullable=True))
    op.add_column("article", sa.Column("licensed_words", sa.Integer(), nullable=True))
    op.add_column("article", sa.Column("licensed_from", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def downgrade() -> None:
    # DROP COLUMN in place (SQLite >= 3.35): a batch rebuild of `article` would drop the old table,
    # and with it, by cascade, every row that refers to an article.
    for name in ("licensed_from", "licensed_words", "licensed_text", "licensed_html"):
        op.execute(f"ALTER TABLE article DROP COLUMN {name}")
