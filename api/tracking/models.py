"""Where licensed copies are displayed (sightings, per page and per day), the daily viewer keys
that make one viewer's reloads count once, and "still live" cases: copies seen after their kill."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from api.core.db import UTCDateTime, new_id, utcnow


class BeaconSighting(SQLModel, table=True):
    """Where a licensed copy was displayed, reported by its usage beacon: one row per licence,
    article and (normalised) page, with its totals; `beacon_sighting_day` splits them by day."""

    __tablename__ = "beacon_sighting"
    __table_args__ = (UniqueConstraint("licence_id", "article_id", "page_url"),
                      Index("ix_beacon_sighting_article", "article_id", "id"))

    id: str = Field(default_factory=lambda: new_id("bcn"), primary_key=True, max_length=40)
    licence_id: str = Field(foreign_key="licence.id", max_length=40)
    article_id: str = Field(foreign_key="article.id", max_length=40)
    page_url: str = Field(max_length=1000)
    hits: int = 1  # raw: every request, bots and prefetches included, so the filter can be audited
    views: int = 0  # filtered: people, each viewer's reloads within 30 minutes counted once
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class BeaconSightingDay(SQLModel, table=True):
    """One sighting's hits and views on one UTC day, and when that day it was first and last seen."""

    __tablename__ = "beacon_sighting_day"

    sighting_id: str = Field(foreign_key="beacon_sighting.id", primary_key=True, max_length=40)
    day: date = Field(primary_key=True)
    hits: int = 1
    views: int = 0
    first_seen_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_seen_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class BeaconViewer(SQLModel, table=True):
    """When a viewer's display of one page was last counted; rows older than the window are spent.

    `key` hashes licence, article, page and the viewer's keyed hash: no address or agent is kept."""

    __tablename__ = "beacon_viewer"

    key: str = Field(primary_key=True, max_length=64)
    counted_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)


class BeaconDayKey(SQLModel, table=True):
    """The random key viewers are hashed under on one UTC day. Made on the day's first hit and
    deleted once the day is over (see `prune`), so nobody, the server included, can recompute a
    past day's viewer hashes from an address and agent."""

    __tablename__ = "beacon_day_key"

    day: date = Field(primary_key=True)
    key: str = Field(max_length=64)  # hex of 32 random bytes


class StillLiveCase(SQLModel, table=True):
    """A copy seen on a page after its article was withdrawn or its licence revoked or expired.

    At most one open case per licence and page (a partial unique index): later sightings add to it.
    The partner is told when it opens and once a day while it lasts; it closes itself when the page
    has not been seen for `still_live_quiet_days`, or when staff close it with a note."""

    __tablename__ = "still_live_case"
    __table_args__ = (
        Index("ix_still_live_case_open", "licence_id", "page_url", unique=True,
              sqlite_where=text("closed_at IS NULL"), postgresql_where=text("closed_at IS NULL")),
        Index("ix_still_live_case_partner", "partner_id", "id"),
        Index("ix_still_live_case_closed", "closed_at", "id"),
    )

    id: str = Field(default_factory=lambda: new_id("slc"), primary_key=True, max_length=40)
    licence_id: str = Field(foreign_key="licence.id", max_length=40)
    article_id: str = Field(foreign_key="article.id", max_length=40)
    partner_id: str = Field(foreign_key="partner.id", max_length=40)
    page_url: str = Field(max_length=1000)
    reason: str = Field(max_length=30)  # article_withdrawn | licence_revoked | licence_expired
    killed_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    opened_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_seen_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    hits: int = 0  # since the kill, raw
    views: int = 0  # since the kill, filtered
    notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    notifications: int = 0
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=40)  # a staff user id, or `system`
    close_note: str | None = Field(default=None, max_length=1000)
