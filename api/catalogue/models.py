from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DDL, JSON, BigInteger, Column, Index, Integer, Text, UniqueConstraint, event, func, text
from sqlalchemy.dialects.postgresql import to_tsvector
from sqlmodel import Field, SQLModel

from api.core.db import UTCDateTime, metadata, new_id, utcnow


class ArticleStatus(StrEnum):
    published = "published"
    embargoed = "embargoed"
    withdrawn = "withdrawn"


EMBARGO_LIFT_PENDING = ("embargo_until IS NOT NULL AND "
                        "(embargo_lift_recorded IS NULL OR embargo_lift_recorded <> embargo_until)")


class Article(SQLModel, table=True):
    __tablename__ = "article"
    __table_args__ = (
        Index("ix_article_sync", "updated_at", "id"),
        Index("ix_article_published", "published_at", "id"),
        Index("ix_article_section_published", "section", "published_at", "id"),  # section by publication date
        Index("ix_article_section_sync", "section", "updated_at", "id"),  # section feeds, keyset by (updated_at, id)
        # Only embargoes whose lift is not recorded yet (a handful): the embargo-lift job's range scan
        # (api/catalogue/embargoes.py, whose query repeats the predicate). Partial, so that no listing's
        # embargo test (visibility.py) is ever planned on it.
        Index("ix_article_embargo_due", "embargo_until", sqlite_where=text(EMBARGO_LIFT_PENDING),
              postgresql_where=text(EMBARGO_LIFT_PENDING)),
    )

    id: str = Field(default_factory=lambda: new_id("art"), primary_key=True, max_length=40)
    # The publisher's own identifier (CMS id or ninjs `uri`); re-imports match on it.
    external_id: str | None = Field(default=None, max_length=500, unique=True)
    slug: str = Field(max_length=300, unique=True)
    canonical_url: str = Field(max_length=1000, unique=True)
    headline: str = Field(max_length=500)
    standfirst: str | None = Field(default=None, max_length=2000)
    body_html: str = Field(sa_column=Column(Text, nullable=False))
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    byline: str | None = Field(default=None, max_length=500)
    authors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    section: str | None = Field(default=None, max_length=100)  # indexed with published_at and with (updated_at, id)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    language: str = Field(default="en", max_length=35, index=True)
    word_count: int = 0
    status: ArticleStatus = Field(default=ArticleStatus.published, max_length=12)
    embargo_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The `embargo_until` whose lifting is in the change log (api/catalogue/embargoes.py): equal to
    # `embargo_until` once that embargo's end has been told, so the job records each lift once.
    embargo_lift_recorded: datetime | None = Field(default=None, sa_type=UTCDateTime)
    licensable: bool = True
    version: int = 1
    content_hash: str = Field(max_length=64)
    published_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawal_reason: str | None = Field(default=None, max_length=1000)
    correction_note: str | None = Field(default=None, max_length=2000)
    # The licensed copy of the body (catalogue/licensed.py: nothing that is not the publisher's to
    # relicense), made when the article is written, from the content whose hash `licensed_from`
    # holds: a first delivery then parses no HTML. Both copies are NULL when the body needs nothing
    # removed (it is its own licensed copy); a stale or missing copy is made again on delivery.
    licensed_html: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    licensed_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    licensed_words: int | None = None
    licensed_from: str | None = Field(default=None, max_length=64)


class ArticleTag(SQLModel, table=True):
    """One row per (article, tag), carrying the article's two listing keys, so a tag's listing walks
    (tag, key, id) in order on every database instead of probing every article. The catalogue
    service writes these rows and moves `updated_at` with the article's (service._touch);
    `published_at` never changes after creation."""

    __tablename__ = "article_tag"
    __table_args__ = (
        Index("ix_article_tag_sync", "tag", "updated_at", "article_id"),
        Index("ix_article_tag_published", "tag", "published_at", "article_id"),
    )

    article_id: str = Field(foreign_key="article.id", primary_key=True, max_length=40, ondelete="CASCADE")
    tag: str = Field(primary_key=True, max_length=100)
    updated_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    published_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class Asset(SQLModel, table=True):
    __tablename__ = "asset"
    __table_args__ = (UniqueConstraint("article_id", "position"),)

    id: str = Field(default_factory=lambda: new_id("ast"), primary_key=True, max_length=40)
    article_id: str = Field(foreign_key="article.id", index=True, max_length=40, ondelete="CASCADE")
    position: int = 0
    kind: str = Field(default="image", max_length=20)
    url: str | None = Field(default=None, max_length=1000)
    caption: str | None = Field(default=None, max_length=2000)
    credit: str | None = Field(default=None, max_length=300)
    # Wire and agency pictures are not the publisher's to relicense.
    relicensable: bool = True


class ArticleRevision(SQLModel, table=True):
    """What each version of an article said, for corrections, audit and rendering a past version
    (api/delivery/versions.py): everything of it a licensed copy shows. `assets` holds the pictures as
    they were (position, kind, url, caption, credit, relicensable). The columns after `body_html` are
    NULL only on rows older than migration 0021 that its backfill could not fill."""

    __tablename__ = "article_revision"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: str = Field(default_factory=lambda: new_id("rev"), primary_key=True, max_length=40)
    article_id: str = Field(foreign_key="article.id", max_length=40, ondelete="CASCADE")
    version: int
    headline: str = Field(max_length=500)
    body_html: str = Field(sa_column=Column(Text, nullable=False))
    standfirst: str | None = Field(default=None, max_length=2000)
    byline: str | None = Field(default=None, max_length=500)
    authors: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    tags: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    assets: list[dict] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    change: str = Field(max_length=20)  # created | updated | corrected | withdrawn | embargo_lifted
    note: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ArticleChange(SQLModel, table=True):
    """The change log behind the change cursor: one row per committed article change, numbered in
    commit order (see api/catalogue/changes.py for why the numbers are commit-ordered)."""

    __tablename__ = "article_change"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    # INTEGER on SQLite, so it is the rowid (an alias SQLite numbers itself); BIGINT elsewhere.
    seq: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer, "sqlite"),
                                                           primary_key=True, autoincrement=True))
    article_id: str = Field(foreign_key="article.id", max_length=40, ondelete="CASCADE")
    version: int
    change: str = Field(max_length=20)  # created | updated | corrected | withdrawn | embargo_lifted
    committed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


# --- full-text search of the headline and standfirst ------------------------------------------------
# `simple` (PostgreSQL) and `unicode61 remove_diacritics 0` (SQLite): lower-cased whole words, no
# stemming, no stop words, accents kept, so both databases find the same articles in any of the
# catalogue's languages (an English stemmer would mangle French and Arabic articles). See
# api/catalogue/search.py for the queries; migration 0009_catalogue_search creates the same objects.
SEARCH_CONFIG = "simple"


def search_document(headline, standfirst):
    """PostgreSQL's text-search document of an article; queries repeat this very expression so the
    planner matches it to the GIN index."""
    # Constants as SQL text, not bound parameters, which an index expression cannot match.
    return to_tsvector(text(f"'{SEARCH_CONFIG}'"), headline.concat(text("' '")).concat(func.coalesce(standfirst, text("''"))))


_article = Article.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__ for type checkers
# The index holds search_document(headline, standfirst), written as PostgreSQL prints it back, so that
# drift detection (which compares the printed text) sees the migration's index as the models' own.
POSTGRES_SEARCH_INDEX = Index(
    "ix_article_search",
    text(f"to_tsvector('{SEARCH_CONFIG}'::regconfig, (headline::text || ' '::text) || "
         "COALESCE(standfirst, ''::character varying)::text)"),
    _table=_article, postgresql_using="gin")
POSTGRES_SEARCH_INDEX.ddl_if(dialect="postgresql")
POSTGRES_SEARCH_INDEX.info["only_on"] = "postgresql"  # api/core/schema_diff.py compares it on PostgreSQL only

# SQLite: an external-content FTS5 table over article (keyed by its rowid, which VACUUM keeps; a
# migration that rebuilds the article table must end with SQLITE_SEARCH_REBUILD), kept in step by triggers.
SQLITE_SEARCH_TABLE = "article_search"
SQLITE_SEARCH_DDL = (
    f"CREATE VIRTUAL TABLE {SQLITE_SEARCH_TABLE} USING fts5(headline, standfirst, content='article', "
    "content_rowid='rowid', tokenize='unicode61 remove_diacritics 0')",
    f"CREATE TRIGGER article_search_insert AFTER INSERT ON article BEGIN "
    f"INSERT INTO {SQLITE_SEARCH_TABLE}(rowid, headline, standfirst) VALUES (new.rowid, new.headline, new.standfirst); END",
    f"CREATE TRIGGER article_search_delete AFTER DELETE ON article BEGIN "
    f"INSERT INTO {SQLITE_SEARCH_TABLE}({SQLITE_SEARCH_TABLE}, rowid, headline, standfirst) "
    "VALUES ('delete', old.rowid, old.headline, old.standfirst); END",
    f"CREATE TRIGGER article_search_update AFTER UPDATE OF headline, standfirst ON article BEGIN "
    f"INSERT INTO {SQLITE_SEARCH_TABLE}({SQLITE_SEARCH_TABLE}, rowid, headline, standfirst) "
    "VALUES ('delete', old.rowid, old.headline, old.standfirst); "
    f"INSERT INTO {SQLITE_SEARCH_TABLE}(rowid, headline, standfirst) VALUES (new.rowid, new.headline, new.standfirst); END",
)
SQLITE_SEARCH_REBUILD = f"INSERT INTO {SQLITE_SEARCH_TABLE}({SQLITE_SEARCH_TABLE}) VALUES ('rebuild')"
SQLITE_SEARCH_DROP = f"DROP TABLE IF EXISTS {SQLITE_SEARCH_TABLE}"  # the triggers go with the article table
# The FTS5 table and its shadow tables are not in the metadata: drift detection leaves them alone.
metadata.info.setdefault("unmanaged_tables", set()).update(
    [SQLITE_SEARCH_TABLE] + [f"{SQLITE_SEARCH_TABLE}_{shadow}" for shadow in ("data", "idx", "docsize", "config")])
for _statement in SQLITE_SEARCH_DDL:
    event.listen(_article, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
event.listen(_article, "before_drop", DDL(SQLITE_SEARCH_DROP).execute_if(dialect="sqlite"))
