"""Sightings and still-live cases as the API shows them, and the `copy.still_live` webhook event."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.core.pagination import Page

Reason = Literal["article_withdrawn", "licence_revoked", "licence_expired"]


class SightingDayRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: date = Field(description="A UTC day.")
    views: int = Field(description="Filtered views that day (no bots, prefetches or reloads within 30 minutes).")
    hits: int = Field(description="Every request that day, bots and prefetches included.")
    first_seen_at: datetime
    last_seen_at: datetime


class SightingRead(BaseModel):
    """Where a licensed copy is displayed: one page, with its totals and its last 30 days."""

    id: str
    licence_id: str
    article_id: str
    partner_id: str
    page_url: str = Field(description="The page showing the copy, normalised: no fragment or tracking parameters "
                                      "(utm_*, fbclid, gclid, ...), host in lower case, no default port, no "
                                      "trailing slash, query sorted. `unknown` when the beacon named no web page.")
    first_seen_at: datetime
    last_seen_at: datetime
    views: int = Field(description="Filtered views: people, each viewer's reloads within 30 minutes counted once.")
    hits: int = Field(description="Raw requests, bots and prefetches included, so the filter can be audited.")
    days: list[SightingDayRead] = Field(description="Views and hits per UTC day, newest first, the last 30 days.")


_SIGHTING_EXAMPLE: dict[str, Any] = {
    "id": "bcn_01jd7w3m5q...", "licence_id": "lic_01jd7w3m5q...", "article_id": "art_01jd7w3m5q...",
    "partner_id": "ptn_01jd7w3m5q...", "page_url": "https://outlet.example/news/budget",
    "first_seen_at": "2026-12-01T08:02:11Z", "last_seen_at": "2026-12-02T17:40:03Z", "views": 1840, "hits": 2675,
    "days": [{"day": "2026-12-02", "views": 610, "hits": 902, "first_seen_at": "2026-12-02T00:03:40Z",
              "last_seen_at": "2026-12-02T17:40:03Z"},
             {"day": "2026-12-01", "views": 1230, "hits": 1773, "first_seen_at": "2026-12-01T08:02:11Z",
              "last_seen_at": "2026-12-01T23:58:19Z"}],
}


class SightingPage(Page[SightingRead]):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_SIGHTING_EXAMPLE], "next_cursor": None}]})


class StillLiveCaseRead(BaseModel):
    """A copy seen after its kill: where, whose, why it should be gone, since when, and how often seen since."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "slc_01jd7w3m5q...", "licence_id": "lic_01jd7w3m5q...", "article_id": "art_01jd7w3m5q...",
        "partner_id": "ptn_01jd7w3m5q...", "page_url": "https://outlet.example/news/budget",
        "reason": "article_withdrawn", "killed_at": "2026-12-02T10:00:00Z", "still_live_since": "2026-12-02T10:14:09Z",
        "last_seen_at": "2026-12-02T17:40:03Z", "views_since_kill": 212, "hits_since_kill": 340, "notifications": 1,
        "notified_at": "2026-12-02T10:14:09Z", "status": "closed", "closed_at": "2026-12-02T18:05:00Z",
        "closed_by": "stf_01jd7w3m5q...", "close_note": "Partner confirmed removal; their CDN serves the old page until tonight."}]})

    id: str
    licence_id: str
    article_id: str
    partner_id: str
    page_url: str
    reason: Reason = Field(description="Why the copy should no longer be shown.")
    killed_at: datetime = Field(description="When the article was withdrawn or the licence revoked or ended.")
    still_live_since: datetime = Field(description="The first sighting after the kill: when the case opened.")
    last_seen_at: datetime
    views_since_kill: int
    hits_since_kill: int
    notifications: int = Field(description="How many times the partner was told (e-mail and webhook).")
    notified_at: datetime | None
    status: Literal["open", "closed"]
    closed_at: datetime | None
    closed_by: str | None = Field(description="The staff user who closed it, or `system` when its page went quiet.")
    close_note: str | None


_CASE_EXAMPLE: dict[str, Any] = {
    "id": "slc_01jd7w3m5q...", "licence_id": "lic_01jd7w3m5q...", "article_id": "art_01jd7w3m5q...",
    "partner_id": "ptn_01jd7w3m5q...", "page_url": "https://outlet.example/news/budget",
    "reason": "article_withdrawn", "killed_at": "2026-12-02T10:00:00Z", "still_live_since": "2026-12-02T10:14:09Z",
    "last_seen_at": "2026-12-02T17:40:03Z", "views_since_kill": 212, "hits_since_kill": 340, "notifications": 1,
    "notified_at": "2026-12-02T10:14:09Z", "status": "open", "closed_at": None, "closed_by": None, "close_note": None,
}


class StillLiveCasePage(Page[StillLiveCaseRead]):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_CASE_EXAMPLE], "next_cursor": None}]})


class StillLiveClose(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"note": "Partner confirmed removal by phone; the page is cached by their CDN until tonight."}]})

    note: str = Field(min_length=1, max_length=1000, description="Why the case is closed (kept in the audit log).")


def case_read(case) -> StillLiveCaseRead:
    return StillLiveCaseRead(
        id=case.id, licence_id=case.licence_id, article_id=case.article_id, partner_id=case.partner_id,
        page_url=case.page_url, reason=case.reason, killed_at=case.killed_at, still_live_since=case.opened_at,
        last_seen_at=case.last_seen_at, views_since_kill=case.views, hits_since_kill=case.hits,
        notifications=case.notifications, notified_at=case.notified_at,
        status="open" if case.closed_at is None else "closed", closed_at=case.closed_at, closed_by=case.closed_by,
        close_note=case.close_note)


# --- the webhook event ------------------------------------------------------------------------------

class CopyStillLiveData(BaseModel):
    case_id: str
    version: int = Field(description="The notice number: 1 when the case opens, then one more each day it lasts.")
    occurred_at: datetime = Field(description="When this notice was made.")
    licence_id: str
    article_id: str
    headline: str | None
    page_url: str = Field(description="The page still showing the copy (normalised, as in sightings).")
    reason: Reason
    killed_at: datetime
    still_live_since: datetime = Field(description="The first sighting after the kill.")
    last_seen_at: datetime
    views_since_kill: int
    action_required: str


class CopyStillLiveEvent(BaseModel):
    """A copy you published is still displayed after its article was withdrawn or its licence revoked or ended;
    sent when first seen, then daily while it is still seen."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "copy.still_live", "timestamp": "2026-12-02T10:14:10Z",
        "data": {"case_id": "slc_01jd7w3m5q...", "version": 1, "occurred_at": "2026-12-02T10:14:09Z",
                 "licence_id": "lic_01jd7w3m5q...", "article_id": "art_01jd7w3m5q...",
                 "headline": "Budget passes after all-night sitting", "page_url": "https://outlet.example/news/budget",
                 "reason": "article_withdrawn", "killed_at": "2026-12-02T10:00:00Z",
                 "still_live_since": "2026-12-02T10:14:09Z", "last_seen_at": "2026-12-02T10:14:09Z",
                 "views_since_kill": 1,
                 "action_required": "Remove this copy from the page: the article was withdrawn."}}]})
    type: Literal["copy.still_live"]
    timestamp: datetime = Field(description="When this event was built for delivery.")
    data: CopyStillLiveData
