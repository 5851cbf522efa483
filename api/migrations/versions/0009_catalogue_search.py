"""catalogue search: full-text search of headline and standfirst; tag and date listings by index

PostgreSQL gets a GIN index on the `simple` text-search document of headline and standfirst;
SQLite an external-content FTS5 table over article kept in step by triggers (both defined in
api/catalogue/models.py, whose statements this migration runs). article_tag carries the article's
updated_at and published_at so a tag's listing walks (tag, key, article_id); the section index by
publication date gains id, the listing's tie-break.

Revision ID: 0009_catalogue_search
Revises: 0008_webhooks
"""
import sqlalchemy as sa
from alembic import op

import api.core.db
from api.catalogue.models import (
    POSTGRES_SEARCH_INDEX, SQLITE_SEARCH_DDL, SQLITE_SEARCH_DROP, SQLITE_SEARCH_REBUILD, search_document,
)

revision = "0009_catalogue_search"
down_revision = "0008_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("article_tag", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_at", api.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("published_at", api.core.db.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE article_tag SET "
               "updated_at = (SELECT updated_at FROM article WHERE article.id = article_tag.article_id), "
               "published_at = (SELECT published_at FROM article WHERE article.id = article_tag.article_id)")
    with op.batch_alter_table("article_tag", schema=None) as batch_op:
        batch_op.alter_column("updated_at", existing_type=api.core.db.UTCDateTime(timezone=True), nullable=False)
        batch_op.alter_column("published_at", existing_type=api.core.db.UTCDateTime(timezone=True), nullable=False)
        batch_op.drop_index("ix_article_tag_tag")
        batch_op.create_index("ix_article_tag_sync", ["tag", "updated_at", "article_id"], unique=False)
        batch_op.create_index("ix_article_tag_published", ["tag", "published_at", "article_id"], unique=False)
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_index("ix_article_section_published")
        batch_op.create_index("ix_article_section_published", ["section", "published_at", "id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        article = sa.table("article", sa.column("headline"), sa.column("standfirst"))
        # The expression the queries use (the models' index holds PostgreSQL's printed form of it).
        op.create_index(POSTGRES_SEARCH_INDEX.name, "article", [search_document(article.c.headline, article.c.standfirst)],
                        postgresql_using="gin")
    else:
        for statement in SQLITE_SEARCH_DDL:
            op.execute(statement)
        op.execute(SQLITE_SEARCH_REBUILD)  # index the articles already there


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index(POSTGRES_SEARCH_INDEX.name, table_name="article")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS article_search_{trigger}")
        op.execute(SQLITE_SEARCH_DROP)
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_index("ix_article_section_published")
        batch_op.create_index("ix_article_section_published", ["section", "published_at"], unique=False)
    with op.batch_alter_table("article_tag", schema=None) as batch_op:
        batch_op.drop_index("ix_article_tag_published")
        batch_op.drop_index("ix_article_tag_sync")
        batch_op.create_index("ix_article_tag_tag", ["tag", "article_id"], unique=False)
        batch_op.drop_column("published_at")
        batch_op.drop_column("updated_at")
