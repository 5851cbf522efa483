from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from api.core.db import UTCDateTime, new_id, utcnow


class ArticleStatus(StrEnum):
    published = "published"
    embargoed = "embargoed"
    withdrawn = "withdrawn"


class Article(SQLModel, table=True):
    __tablename__ = "article"
    __table_args__ = (
        Index("ix_article_sync", "updated_at", "id"),
        Index("ix_article_published", "published_at", "id"),
        Index("ix_article_section_published", "section", "published_at"),
        Index("ix_article_section_sync", "section", "updated_at", "id"),  # section feeds, keyset by (updated_at, id)
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
    licensable: bool = True
    version: int = 1
    content_hash: str = Field(max_length=64)
    published_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawal_reason: str | None = Field(default=None, max_length=1000)
    correction_note: str | None = Field(default=None, max_length=2000)


class ArticleTag(SQLModel, table=True):
    """One row per (article, tag), so filtering by tag uses an index on every database."""

    __tablename__ = "article_tag"
    __table_args__ = (Index("ix_article_tag_tag", "tag", "article_id"),)

    article_id: str = Field(foreign_key="article.id", primary_key=True, max_length=40, ondelete="CASCADE")
    tag: str = Field(primary_key=True, max_length=100)


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
    """What each version of an article said, for corrections and audit."""

    __tablename__ = "article_revision"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: str = Field(default_factory=lambda: new_id("rev"), primary_key=True, max_length=40)
    article_id: str = Field(foreign_key="article.id", max_length=40, ondelete="CASCADE")
    version: int
    headline: str = Field(max_length=500)
    body_html: str = Field(sa_column=Column(Text, nullable=False))
    change: str = Field(max_length=20)  # created | updated | corrected | withdrawn
    note: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
