"""What a partner reads about its own delivery: entitlements, usage and live copies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.core.pagination import Page
from api.licensing.models import ScopeKind, Use
from api.licensing.states import LicenceState

_COVERAGE_EXAMPLE: dict[str, Any] = {
    "scope": "bundle", "article_ids": ["art_01jdx3k2m4n5p6q7r8s9t0v1w2", "art_01jdx3k2m4n5p6q7r8s9t0v1w3"],
    "section": None, "uses": ["web"], "territories": ["GB", "FR"], "language": "en", "translation": False,
    "formats": ["json", "ninjs", "html"], "feed_formats": ["json", "atom", "rss"],
    "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2027-03-01T00:00:00Z", "conditions": []}
_ENTITLEMENT_EXAMPLE: dict[str, Any] = {
    "licence_id": "lic_01jdx3k2m4n5p6q7r8s9t0v1w2", "status": "active", "usable": True, "unusable_reason": None,
    "covers": _COVERAGE_EXAMPLE,
    "quota": {"monthly_limit": 500, "used": 120, "left": 380, "resets_at": "2027-01-01T00:00:00Z"},
    "cap": {"max_live_articles": 5, "live": 2, "left": 3},
    "live_articles": [{"article_id": "art_01jdx3k2m4n5p6q7r8s9t0v1w2", "headline": "Putin's Syria gamble",
                       "live_since": "2026-12-02T09:15:00Z"}]}
_RATE_LIMITS_EXAMPLE: list[Any] = [
    {"name": "content", "per": "licence token", "limit": 600, "window_seconds": 60},
    {"name": "api", "per": "API key", "limit": 600, "window_seconds": 60}]


class CoverageRead(BaseModel):
    """What a licence lets the partner republish, where, how and when."""

    scope: ScopeKind
    article_ids: list[str] = Field(description="Scopes `article` and `bundle`: the articles covered.")
    section: str | None = Field(description="Scope `section_feed`: the section covered.")
    uses: list[Use] = Field(description="The uses licensed (web, print, ...).")
    territories: list[str] = Field(description="ISO 3166-1 alpha-2 codes; `WW` is worldwide.")
    language: str
    translation: bool
    formats: list[str] = Field(description="`format` values of `GET /v1/content/articles/{id}`.")
    feed_formats: list[str] = Field(description="`format` values of `GET /v1/content/feed`.")
    starts_at: datetime
    ends_at: datetime
    conditions: list[str]


class QuotaRead(BaseModel):
    monthly_limit: int | None = Field(description="Deliveries allowed this calendar month (UTC), grants included; "
                                                  "null: unlimited. A content response's `RateLimit-Limit`.")
    used: int = Field(description="Deliveries recorded this month.")
    left: int | None = Field(description="`RateLimit-Remaining` of a content response; null: unlimited.")
    resets_at: datetime = Field(description="When the count starts again: now plus `RateLimit-Reset` seconds.")


class CapRead(BaseModel):
    max_live_articles: int | None = Field(description="Distinct articles live at a time; null: no cap.")
    live: int = Field(description="Articles live now: delivered under the licence, not retired, not withdrawn.")
    left: int | None = Field(description="New articles that may still be fetched before a copy must be retired.")


class LiveArticleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    article_id: str
    headline: str
    live_since: datetime = Field(description="Its first delivery under the licence (since it was last retired).")


class EntitlementRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ENTITLEMENT_EXAMPLE]})
    licence_id: str
    status: LicenceState
    usable: bool = Field(description="Whether the licence's tokens give access now.")
    unusable_reason: str | None = Field(description="Why not, when `usable` is false.")
    covers: CoverageRead
    quota: QuotaRead
    cap: CapRead
    live_articles: list[LiveArticleRead] = Field(description="The live articles, newest first (at most 200; "
                                                             "`cap.live` counts them all).")


class RateLimitRead(BaseModel):
    name: str = Field(description="`content`: /v1/content requests; `api`: the rest of the JSON API.")
    per: str = Field(description="What each window is counted for.")
    limit: int
    window_seconds: int


class EntitlementsPage(Page[EntitlementRead]):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "items": [_ENTITLEMENT_EXAMPLE], "next_cursor": None, "rate_limits": _RATE_LIMITS_EXAMPLE}]})
    rate_limits: list[RateLimitRead] = Field(description="Request limits, the same for every licence.")


_USAGE_EXAMPLE: dict[str, Any] = {
    "id": "use_01jdx9m2q8r5t9v0w1y2z3a4b5", "at": "2026-12-02T09:15:00Z", "licence_id": "lic_01jdx3k2m4n5p6q7r8s9t0v1w2",
    "article_id": "art_01jdx3k2m4n5p6q7r8s9t0v1w2", "headline": "Putin's Syria gamble", "article_version": 2,
    "format": "json", "kind": "republication", "token_id": "Wm9fX2V4YW1wbGVfanRp"}


class UsageRead(BaseModel):
    """One metered delivery (a 200 content response, or one entry of a feed page)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_USAGE_EXAMPLE]})
    id: str
    at: datetime
    licence_id: str
    article_id: str
    headline: str | None
    article_version: int | None = Field(description="Null only for a billed delivery whose raw record is past "
                                                    "retention (listed by `invoice_line`).")
    format: str | None = Field(description="json, ninjs, html or feed; null as `article_version` is.")
    kind: str = Field(description="`republication`: the first delivery of the article under the licence (what "
                                  "usage billing counts); `refetch`: a later one (never billed).")
    token_id: str | None = Field(description="The `jti` of the licence token that fetched it.")


class UsagePage(Page[UsageRead]):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "items": [_USAGE_EXAMPLE], "next_cursor": "WyIyMDI2LTEyLTAyVDA5OjE1OjAwKzAwOjAwIiwidXNlXzAxamR4OW0yIl0"}]})


class RetiredCopyRead(BaseModel):
    """A copy the partner no longer shows: not live any more, and under a cap its slot is free."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "licence_id": "lic_01jdx3k2m4n5p6q7r8s9t0v1w2", "article_id": "art_01jdx3k2m4n5p6q7r8s9t0v1w2",
        "live_since": "2026-12-02T09:15:00Z", "retired_at": "2026-12-09T16:40:00Z",
        "cap": {"max_live_articles": 5, "live": 4, "left": 1}}]})
    licence_id: str
    article_id: str
    live_since: datetime = Field(description="Its first delivery under the licence (since it was last retired).")
    retired_at: datetime
    cap: CapRead = Field(description="The licence's cap and live count after the retirement.")
