from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from api.core.db import UTCDateTime, new_id, utcnow


class UsageEvent(SQLModel, table=True):
    """One row per 200 content response, written before its body is sent.

    `billable` marks a republication: the first fetch of an article under a licence (enforced by
    the partial unique index); later fetches are recorded with billable=False.
    """

    __tablename__ = "usage_event"
    __table_args__ = (
        Index("ix_usage_event_partner_at", "partner_id", "at"),
        Index("ix_usage_event_licence_at", "licence_id", "at"),
        Index(
            "uq_usage_event_republication", "licence_id", "article_id", unique=True,
            sqlite_where=text("billable"), postgresql_where=text("billable"),
        ),
    )

    id: str = Field(default_factory=lambda: new_id("use"), primary_key=True, max_length=40)
    licence_id: str = Field(foreign_key="licence.id", max_length=40)
    partner_id: str = Field(foreign_key="partner.id", max_length=40)
    article_id: str = Field(foreign_key="article.id", max_length=40)
    article_version: int
    format: str = Field(max_length=20)  # json | ninjs | html | feed
    token_id: str | None = Field(default=None, max_length=64)
    billable: bool = False
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
