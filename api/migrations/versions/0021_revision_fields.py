"""revisions keep what a rendering of their version needs; embargo lifts get a marker

`article_revision` gains standfirst, byline, authors, tags and assets (the pictures as they were:
position, kind, url, caption, credit, relicensable), so a past version renders as it was
(api/delivery/versions.py). Existing rows are filled from their article as it stands now, the best
record there is (which is what past versions were rendered with until now).

`article.embargo_lift_recorded` is the `embargo_until` whose end is in the change log
(api/catalogue/embargoes.py), which finds lifts due through the partial index `ix_article_embargo_due`. Embargoes already over are marked as recorded, so the first run of
the job does not announce lifts that happened long ago.

Revision ID: 0021_revision_fields
Revises: 0020_scale
"""
from collections import defaultdict

import sqlalchemy as sa
import sqlmodel
from alembic import op

from api.core.db import UTCDateTime, utcnow

revision = "0021_revision_fields"
down_revision = "0020_scale"
branch_labels = None
depends_on = None

_SCALARS = ("standfirst", "byline", "authors", "tags")
# api/catalogue/models.py EMBARGO_LIFT_PENDING, as it was when this ran.
PENDING = "embargo_until IS NOT NULL AND (embargo_lift_recorded IS NULL OR embargo_lift_recorded <> embargo_until)"


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild): SQLite keeps the article table's search triggers.
    op.add_column("article_revision", sa.Column("standfirst", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True))
    op.add_column("article_revision", sa.Column("byline", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
    for name in ("authors", "tags", "assets"):
        op.add_column("article_revision", sa.Column(name, sa.JSON(), nullable=True))
    op.add_column("article", sa.Column("embargo_lift_recorded", UTCDateTime(), nullable=True))
    op.create_index("ix_article_embargo_due", "article", ["embargo_until"], unique=False,
                    sqlite_where=sa.text(PENDING), postgresql_where=sa.text(PENDING))

    # Correlated subqueries: the same statement on SQLite and PostgreSQL.
    op.execute("UPDATE article_revision SET " + ", ".join(
        f"{name} = (SELECT article.{name} FROM article WHERE article.id = article_revision.article_id)"
        for name in _SCALARS))
    bind = op.get_bind()
    assets_by_article: dict[str, list[dict]] = defaultdict(list)
    for row in bind.execute(sa.text("SELECT article_id, position, kind, url, caption, credit, relicensable "
                                    "FROM asset ORDER BY article_id, position")).mappings():
        assets_by_article[row["article_id"]].append(
            {"position": row["position"], "kind": row["kind"], "url": row["url"], "caption": row["caption"],
             "credit": row["credit"], "relicensable": bool(row["relicensable"])})
    revisions = sa.table("article_revision", sa.column("article_id", sa.String), sa.column("assets", sa.JSON))
    if assets_by_article:
        bind.execute(revisions.update().where(revisions.c.article_id == sa.bindparam("b_article"))
                     .values(assets=sa.bindparam("b_assets", type_=sa.JSON())),
                     [{"b_article": article_id, "b_assets": assets} for article_id, assets in assets_by_article.items()])
    bind.execute(revisions.update().where(revisions.c.assets.is_(None)).values(assets=sa.bindparam("b_none", [], type_=sa.JSON())))

    articles = sa.table("article", sa.column("embargo_until", UTCDateTime()), sa.column("embargo_lift_recorded", UTCDateTime()))
    bind.execute(articles.update().where(articles.c.embargo_until <= utcnow())
                 .values(embargo_lift_recorded=articles.c.embargo_until))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN on both (SQLite 3.35+): a batch rebuild of `article` would drop its search triggers.
    op.drop_index("ix_article_embargo_due", table_name="article")
    op.execute("ALTER TABLE article DROP COLUMN embargo_lift_recorded")
    for name in ("assets", "tags", "authors", "byline", "standfirst"):
        op.execute(f"ALTER TABLE article_revision DROP COLUMN {name}")
