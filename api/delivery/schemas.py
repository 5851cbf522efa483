"""Request and response shapes for tokens, content, feeds and webhook endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, computed_field
from pydantic.json_schema import JsonDict

from api.core.fields import HttpUrl
from api.core.pagination import Page

TOKEN_EXAMPLE = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImtpZF8wMWpkLi4uIiwidHlwIjoiSldUIn0.eyJpc3MiOiJzeW5kaWNhdGUiLCJ..."
TOKEN_CREATE_EXAMPLES = {
    "default": {"summary": "The default lifetime (never past the licence's end)", "value": {}},
    "short": {"summary": "A token for one hour", "value": {"expires_in_minutes": 60}},
}
_TOKEN_INFO_EXAMPLE: dict[str, Any] = {
    "jti": "Wm9fX2V4YW1wbGVfanRp", "licence_id": "lic_01jd7w3m5q...", "kid": "kid_01jd7w3m5q...",
    "issued_at": "2026-11-25T12:00:00Z", "expires_at": "2026-11-26T12:00:00Z", "revoked_at": None}
TOKEN_PAGE_EXAMPLE = {"items": [
    _TOKEN_INFO_EXAMPLE,
    {**_TOKEN_INFO_EXAMPLE, "jti": "cmV2b2tlZF9leGFtcGxl", "issued_at": "2026-11-24T09:00:00Z",
     "expires_at": "2026-11-25T09:00:00Z", "revoked_at": "2026-11-24T17:30:00Z"},
], "next_cursor": None}


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"expires_in_minutes": 60}]})
    expires_in_minutes: int | None = Field(
        default=None, ge=1, le=60 * 24 * 366,
        description="Shorter than the default lifetime if you like; never past the licence's end.")


class TokenRead(BaseModel):
    """A minted licence token. The token itself is shown only in this response."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "token": TOKEN_EXAMPLE, "token_type": "Bearer", "jti": "Wm9fX2V4YW1wbGVfanRp", "kid": "kid_01jd7w3m5q...",
        "licence_id": "lic_01jd7w3m5q...", "scope": "bundle", "expires_at": "2026-11-26T12:00:00Z"}]})
    token: str
    token_type: str = "Bearer"
    jti: str
    kid: str
    licence_id: str
    scope: str
    expires_at: datetime


class TokenInfo(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_TOKEN_INFO_EXAMPLE]})
    jti: str
    licence_id: str
    kid: str
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = Field(default=None, description="Set once the token is revoked (always present).")


class SigningKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "kid": "kid_01jd7w3m5q8k2r4t6v8x0z2b4d", "algorithm": "ES256", "created_at": "2026-11-01T09:00:00Z",
        "retired_at": "2026-12-02T06:30:00Z", "verify_until": "2026-12-02T06:30:00Z"}]})
    kid: str
    algorithm: str
    created_at: datetime
    retired_at: datetime | None = Field(description="When it stopped signing new tokens.")
    verify_until: datetime | None = Field(description="When its tokens stop verifying; null while it signs.")


class Jwks(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"keys": [{
        "kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "kid": "kid_01jd7w3m5q...", "alg": "ES256", "use": "sig"}]}]})
    keys: list[dict[str, Any]]


class LicenceTermsRead(BaseModel):
    id: str
    use: str
    scope: str
    territories: list[str]
    language: str
    starts_at: datetime
    ends_at: datetime
    conditions: list[str]
    terms: str


class Attribution(BaseModel):
    credit_line: str
    canonical_url: str
    copyright_notice: str
    byline: str | None
    publisher: str
    copyright_holder: str
    licence: LicenceTermsRead
    html: str = Field(description='Ready to paste: a rel="canonical" link, the credit paragraph with the usage '
                                  "beacon, and the JSON-LD script.")
    json_ld: dict[str, Any] = Field(description="schema.org NewsArticle with isBasedOn, copyrightHolder and license.")
    beacon_url: str = Field(description="A signed 1x1 GIF; append `?url=<page where the copy is shown>`.")


class ContentAsset(BaseModel):
    position: int
    kind: str
    url: str | None
    caption: str | None
    credit: str | None


class RemovedAsset(BaseModel):
    """An asset kept out of the licensed copy (its caption too: it describes a picture you may not show)."""

    position: int
    kind: str
    credit: str | None
    reason: str


class ContentArticle(BaseModel):
    """The licensed rendition (JSON format). Non-relicensable assets are removed and listed."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "art_01jd7w3m5q...", "version": 2, "headline": "Putin makes surprise visit to Syria",
        "standfirst": "Rare visit comes as regional tensions intensify", "byline": "MEE staff", "authors": ["MEE staff"],
        "section": "news", "tags": ["russia", "syria"], "language": "en", "published_at": "2020-01-07T12:00:00Z",
        "updated_at": "2020-01-07T15:00:00Z", "canonical_url": "https://www.middleeasteye.net/news/putin-syria-visit",
        "body_html": "<p>Russia's president met his Syrian counterpart...</p>",
        "body_text": "Russia's president met his Syrian counterpart...", "word_count": 7, "correction_note": None,
        "assets": [], "removed_assets": [{"position": 0, "kind": "image", "credit": "Reuters",
                                          "reason": "Credited to Reuters: not the publisher's to relicense."}],
        "attribution": {"credit_line": "By MEE staff, Middle East Eye. Republished under licence lic_01jd...",
                        "canonical_url": "https://www.middleeasteye.net/news/putin-syria-visit",
                        "copyright_notice": "© 2020 Middle East Eye. All rights reserved.", "byline": "MEE staff",
                        "publisher": "Middle East Eye", "copyright_holder": "Middle East Eye",
                        "licence": {"id": "lic_01jd...", "use": "web", "scope": "article", "territories": ["GB"],
                                    "language": "en", "starts_at": "2026-11-01T00:00:00Z", "ends_at": "2026-12-01T00:00:00Z",
                                    "conditions": [], "terms": "Licence lic_01jd...: web use, ..."},
                        "html": '<link rel="canonical" href="https://www.middleeasteye.net/news/putin-syria-visit">...',
                        "json_ld": {"@context": "https://schema.org", "@type": "NewsArticle"},
                        "beacon_url": "https://syndicate.example.com/v1/content/beacon/lic_01jd.art_01jd.sig.gif"},
    }]})
    id: str
    version: int
    headline: str
    standfirst: str | None
    byline: str | None
    authors: list[str]
    section: str | None
    tags: list[str]
    language: str
    published_at: datetime
    updated_at: datetime
    canonical_url: str
    body_html: str
    body_text: str
    word_count: int
    correction_note: str | None
    assets: list[ContentAsset]
    removed_assets: list[RemovedAsset]
    attribution: Attribution


class ArticleVersionRead(BaseModel):
    version: int
    created_at: datetime = Field(description="When this version was made.")
    change: Literal["created", "updated", "corrected", "withdrawn", "embargo_lifted"]
    kind: Literal["original", "update", "correction", "withdrawal", "release"] = Field(
        description="What the version was: the original, an update, a correction (see `note`), the withdrawal, or "
                    "the release when its embargo lifted (the same content as the version before, now available).")
    note: str | None = Field(description="The correction note, or the reason for a withdrawal.")
    headline: str
    current: bool = Field(description="The version the article is at now.")
    content_url: str = Field(description="This version, rendered under your licence (JSON, ninjs or HTML, as the "
                                         "article itself).")
    change_cursor: str | None = Field(description="Its position in the feed's change cursor.")


class ArticleVersionList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "article_id": "art_01jd7w3m5q...", "current_version": 2, "items": [
            {"version": 1, "created_at": "2020-01-07T12:00:00Z", "change": "created", "kind": "original", "note": None,
             "headline": "Putin makes surprise visit to Syria", "current": False,
             "content_url": "https://syndicate.example.com/v1/content/articles/art_01jd7w3m5q.../versions/1",
             "change_cursor": "1001"},
            {"version": 2, "created_at": "2020-01-07T15:00:00Z", "change": "corrected", "kind": "correction",
             "note": "An earlier version misspelt the minister's name.", "headline": "Putin makes surprise visit to Syria",
             "current": True,
             "content_url": "https://syndicate.example.com/v1/content/articles/art_01jd7w3m5q.../versions/2",
             "change_cursor": "1042"}]}]})
    article_id: str
    current_version: int
    items: list[ArticleVersionRead] = Field(description="Every version, oldest first.")


class FeedItem(BaseModel):
    id: str
    version: int
    status: str = Field(description="`published`, or `withdrawn`: remove your copy.")
    headline: str
    canonical_url: str
    content_url: str
    published_at: datetime
    updated_at: datetime
    change: Literal["created", "updated", "corrected", "withdrawn", "embargo_lifted"] | None = Field(
        default=None, description=(
            "By `change_cursor` only: what this change was (`version` is the version it made). `embargo_lifted`: the "
            "article's embargo ended, so it can be fetched now (changes made while it was under embargo are not "
            "listed; this one is, once, when the embargo ends)."))
    change_cursor: str | None = Field(default=None, description="By `change_cursor` only: this change's position.")
    changed_at: datetime | None = Field(default=None, description="By `change_cursor` only: when it committed.")


class FeedPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{
        "id": "art_01jd7w3m5q...", "version": 3, "status": "published", "headline": "Putin makes surprise visit to Syria",
        "canonical_url": "https://www.middleeasteye.net/news/putin-syria-visit",
        "content_url": "https://syndicate.example.com/v1/content/articles/art_01jd7w3m5q...",
        "published_at": "2020-01-07T12:00:00Z", "updated_at": "2020-01-08T09:00:00Z"}], "next_cursor": None,
        "change_cursor": "1042"}, {"items": [{
        "id": "art_01jd7w3m5q...", "version": 4, "status": "withdrawn", "headline": "Putin makes surprise visit to Syria",
        "canonical_url": "https://www.middleeasteye.net/news/putin-syria-visit",
        "content_url": "https://syndicate.example.com/v1/content/articles/art_01jd7w3m5q...",
        "published_at": "2020-01-07T12:00:00Z", "updated_at": "2020-01-09T10:00:00Z", "change": "withdrawn",
        "change_cursor": "1043", "changed_at": "2020-01-09T10:00:01Z"}], "next_cursor": None, "change_cursor": "1043"}]})
    items: list[FeedItem]
    next_cursor: str | None = Field(default=None, description=(
        "More items are waiting now: pass it back as `cursor` (or, when following changes, as `change_cursor`)."))
    change_cursor: str = Field(description=(
        "Where to resume following changes: send it back as `change_cursor` to list every change committed since."))


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "url": "https://cms.outlet.example/hooks/syndicate", "description": "Corrections and takedowns"}]})
    url: HttpUrl
    description: str | None = Field(default=None, max_length=500)


_ENDPOINT_EXAMPLE: JsonDict = {"id": "whe_01jd7w3m5q...", "url": "https://cms.outlet.example/hooks/syndicate",
                     "description": "Corrections and takedowns", "status": "enabled", "disabled_at": None,
                     "disabled_reason": None, "previous_secret_expires_at": None, "created_at": "2026-11-25T12:00:00Z"}


class WebhookEndpointRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_ENDPOINT_EXAMPLE]})
    id: str
    url: str
    description: str | None
    disabled_at: datetime | None = Field(description="When the endpoint answered `410 Gone`; nothing is sent until "
                                                     "you enable it again (`POST .../enable`).")
    disabled_reason: str | None
    previous_secret_expires_at: datetime | None = Field(
        description="After a secret rotation: until then deliveries carry a second signature made with the old secret.")
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects decorators over @property; pydantic's documented form
    @property
    def status(self) -> Literal["enabled", "disabled"]:
        return "disabled" if self.disabled_at else "enabled"


class WebhookEndpointCreated(WebhookEndpointRead):
    """The endpoint with its signing secret, shown only once: store it now."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        **_ENDPOINT_EXAMPLE, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]})
    secret: str = Field(description="Verify `webhook-signature` with it (Standard Webhooks).")


class WebhookEndpointRotated(WebhookEndpointCreated):
    """The endpoint with its new secret, shown only once; the old one keeps signing until `previous_secret_expires_at`."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        **_ENDPOINT_EXAMPLE, "previous_secret_expires_at": "2026-11-26T12:00:00Z",
        "secret": "whsec_Q2hhbmdlZCBzZWNyZXQgZm9yIHRoZSBleGFtcGxl"}]})


class WebhookAttempt(BaseModel):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float | None = None
    # Stored attempts (JSON on the delivery row) say `state`; the API's word is `status`.
    status: Literal["started", "succeeded", "failed", "interrupted"] | None = Field(
        default=None, validation_alias=AliasChoices("status", "state"), description="`started`: being sent now; `interrupted`: the sending worker stopped mid-attempt.")
    retry_after_seconds: int | None = Field(default=None, description="The wait your `Retry-After` asked for (capped).")


_DELIVERY_EXAMPLE: JsonDict = {
    "id": "msg_01jd7w3m5q...", "endpoint_id": "whe_01jd7w3m5q...", "event_type": "article.withdrawn",
    "status": "succeeded", "payload": {"type": "article.withdrawn", "data": {"article_id": "art_01jd..."}},
    "attempts": [{"at": "2026-11-25T12:00:01Z", "status_code": 500, "error": "HTTP 500", "duration_ms": 12.5,
                  "status": "failed"},
                 {"at": "2026-11-25T12:00:06Z", "status_code": 204, "error": None, "duration_ms": 9.1,
                  "status": "succeeded"}],
    "created_at": "2026-11-25T12:00:00Z", "delivered_at": "2026-11-25T12:00:03Z"}


class WebhookDeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_DELIVERY_EXAMPLE]})
    id: str
    endpoint_id: str
    event_type: str
    status: str = Field(description="`pending` (being tried), `succeeded`, `failed` (given up), or `held` "
                                    "(the endpoint is disabled; sent once you enable it).")
    payload: dict[str, Any]
    attempts: list[WebhookAttempt]
    created_at: datetime
    delivered_at: datetime | None = Field(default=None, description="When an attempt succeeded; none while pending.")


_CANONICAL = "https://www.middleeasteye.net/news/putin-syria-visit"
_LICENCE_URL = "https://syndicate.example.com/v1/licences/lic_01jd..."
_BEACON = "https://syndicate.example.com/v1/content/beacon/lic_01jd.art_01jd.sig.gif"
# The ninjs rendition (`format=ninjs`); a test validates it against the IPTC ninjs 3.1 schema.
NINJS_EXAMPLE: dict[str, Any] = {
    "uri": _CANONICAL, "type": "text", "representationType": "full", "profile": "syndicate-licensed", "version": "2",
    "firstCreated": "2020-01-07T12:00:00Z", "versionCreated": "2020-01-07T15:00:00Z", "pubStatus": "usable",
    "language": "en", "copyrightHolder": "Middle East Eye", "copyrightNotice": "© 2020 Middle East Eye. All rights reserved.",
    "usageTerms": "Licence lic_01jd...: web use, scope article, territories GB, language en, from 2026-11-01 to "
                  "2026-12-01. Keep the attribution and canonical link; do not edit the meaning; remove on takedown.",
    "rightsInfo": {"linkedRights": _LICENCE_URL},
    "headlines": [{"role": "main", "value": "Putin makes surprise visit to Syria"}],
    "bodies": [
        {"role": "main", "contentType": "text/html", "value": "<p>Russia's president met his Syrian counterpart...</p>",
         "wordCount": 6},
        {"role": "main", "contentType": "text/plain", "value": "Russia's president met his Syrian counterpart...",
         "wordCount": 6},
        {"role": "attribution", "contentType": "text/html", "value": f'<link rel="canonical" href="{_CANONICAL}">...'},
    ],
    "altIds": [{"role": "syndicate-id", "value": "art_01jd7w3m5q..."}, {"role": "licence", "value": "lic_01jd..."}],
    "infoSources": [{"name": "Middle East Eye", "role": "originator", "uri": _CANONICAL}],
    "subjects": [{"name": "russia", "rel": "about"}, {"name": "syria", "rel": "about"}],
    "renditions": [{"name": "usage-beacon", "href": _BEACON, "contentType": "image/gif", "width": 1, "height": 1}],
    "standard": {"name": "ninjs", "version": "3.1", "schema": "https://www.iptc.org/std/ninjs/ninjs-schema_3.1.json"},
    "descriptions": [{"role": "summary", "value": "Rare visit comes as regional tensions intensify"}],
    "by": "MEE staff",
    "edNote": "Removed from this licensed copy: Credited to Reuters: not the publisher's to relicense.",
}


class WebhookEndpointPage(Page[WebhookEndpointRead]):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_ENDPOINT_EXAMPLE], "next_cursor": None}]})


_STAFF_ENDPOINT_EXAMPLE: JsonDict = {**_ENDPOINT_EXAMPLE, "partner_id": "par_01jd7w3m5q...", "status": "disabled",
                           "disabled_at": "2026-11-26T09:00:00Z", "disabled_reason": "The endpoint answered 410 Gone."}


class StaffWebhookEndpointRead(WebhookEndpointRead):
    model_config = ConfigDict(json_schema_extra={"examples": [_STAFF_ENDPOINT_EXAMPLE]})
    partner_id: str


class StaffWebhookEndpointPage(Page[StaffWebhookEndpointRead]):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_STAFF_ENDPOINT_EXAMPLE], "next_cursor": None}]})


class WebhookDeliveryPage(Page[WebhookDeliveryRead]):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "items": [_DELIVERY_EXAMPLE], "next_cursor": "WyJtc2dfMDFqZDd3M201cS4uLiJd"}]})


# --- webhook events (what is POSTed to endpoints; documented in the OpenAPI `webhooks` section) ---

_EVENT_DATA = {"article_id": "art_01jd7w3m5q...", "headline": "Putin makes surprise visit to Syria",
               "canonical_url": _CANONICAL, "content_url": "https://syndicate.example.com/v1/content/articles/art_01jd7w3m5q...",
               "updated_at": "2026-11-25T12:00:00Z", "occurred_at": "2026-11-25T12:00:00Z", "change_cursor": "1043"}


class ArticleEventData(BaseModel):
    article_id: str
    version: int = Field(description="The article's version, higher with every change: ignore an event whose "
                                     "version is lower than one you have already handled (retries can arrive late).")
    change: Literal["updated", "corrected", "withdrawn", "embargo_lifted"]
    occurred_at: datetime = Field(description="When the change was made (the event's own time, unlike `timestamp`; "
                                              "for `article.embargo_lifted`, when the embargo ended).")
    headline: str
    canonical_url: str
    content_url: str = Field(description="Fetch the current licensed copy here (with your licence token).")
    updated_at: datetime
    change_cursor: str | None = Field(default=None, examples=["1043"], description=(
        "This change's position in commit order: `GET /v1/content/feed?change_cursor=` with it lists every change "
        "after it, so a receiver that missed events (or got them out of order) can catch up from the last it handled."))
    correction_note: str | None = Field(default=None, description="`article.corrected`: what was corrected.")
    reason: str | None = Field(default=None, description="`article.withdrawn`: why.")
    action_required: str | None = Field(default=None, description="`article.withdrawn`: what you must do.")


class _ArticleEvent(BaseModel):
    timestamp: datetime = Field(description="When this event was built for delivery.")
    data: ArticleEventData


class ArticleUpdatedEvent(_ArticleEvent):
    """An article you license changed (a new version); refresh your copy."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"type": "article.updated", "timestamp": "2026-11-25T12:00:01Z",
                                                               "data": {**_EVENT_DATA, "version": 3, "change": "updated"}}]})
    type: Literal["article.updated"]


class ArticleCorrectedEvent(_ArticleEvent):
    """An article you license was corrected; update your copy and show the correction."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "article.corrected", "timestamp": "2026-11-25T12:00:01Z",
        "data": {**_EVENT_DATA, "version": 4, "change": "corrected", "correction_note": "Corrected the date of the visit."}}]})
    type: Literal["article.corrected"]


class ArticleWithdrawnEvent(_ArticleEvent):
    """An article you license was withdrawn (a takedown): remove every copy you published."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "article.withdrawn", "timestamp": "2026-11-25T12:00:01Z",
        "data": {**_EVENT_DATA, "version": 5, "change": "withdrawn", "reason": "Legal complaint",
                 "action_required": "Remove every copy of this article you published."}}]})
    type: Literal["article.withdrawn"]


class ArticleEmbargoLiftedEvent(_ArticleEvent):
    """An article you license came out of embargo: it can be fetched and published now."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "article.embargo_lifted", "timestamp": "2026-11-25T12:00:04Z",
        "data": {**_EVENT_DATA, "version": 2, "change": "embargo_lifted"}}]})
    type: Literal["article.embargo_lifted"]


class LicenceAmendedData(BaseModel):
    licence_id: str
    amendment_id: str
    version: int = Field(description="The licence's amendment number (1 for its first change): apply the "
                                     "highest you have seen; a retried lower one is older.")
    occurred_at: datetime = Field(description="When the desk made the change.")
    kind: str = Field(description="`terms` (end date, quota, territories, use or conditions) or `quota_grant`.")
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str
    price_difference: int = Field(description="Minor units: positive is invoiced, negative credited, 0 neither.")
    currency: str
    licence_url: str
    monthly_quota: int | None


class LicenceAmendedEvent(BaseModel):
    """The licensing desk changed one of your licences (its terms, or extra quota for a time)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "licence.amended", "timestamp": "2026-12-02T10:00:01Z",
        "data": {"licence_id": "lic_01jd7w3m5q...", "amendment_id": "lam_01jd7w3m5q...", "version": 1,
                 "occurred_at": "2026-12-02T10:00:00Z", "kind": "terms", "before": {"territories": ["GB"]},
                 "after": {"territories": ["GB", "IE"]}, "reason": "Irish edition", "price_difference": 4500,
                 "currency": "GBP", "licence_url": "https://syndicate.example.com/v1/licences/lic_01jd7w3m5q...",
                 "monthly_quota": 1000}}]})
    type: Literal["licence.amended"]
    timestamp: datetime = Field(description="When this event was built for delivery.")
    data: LicenceAmendedData


class LicenceCancelledData(BaseModel):
    licence_id: str
    request_id: str
    version: int = Field(description="Always 1: a cancelled licence never changes again.")
    occurred_at: datetime = Field(description="When the licence was cancelled.")
    reason: str | None
    cancelled_at: datetime


class LicenceCancelledEvent(BaseModel):
    """A licence awaiting payment was cancelled (by you, by the desk, or unpaid past its due date); its invoice is void."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "licence.cancelled", "timestamp": "2026-12-02T10:00:01Z",
        "data": {"licence_id": "lic_01jd7w3m5q...", "request_id": "req_01jd7w3m5q...", "version": 1,
                 "occurred_at": "2026-12-02T10:00:00Z", "reason": "Unpaid 7 days after its due date",
                 "cancelled_at": "2026-12-02T10:00:00Z"}}]})
    type: Literal["licence.cancelled"]
    timestamp: datetime = Field(description="When this event was built for delivery.")
    data: LicenceCancelledData


class WebhookTestData(BaseModel):
    endpoint_id: str
    version: int = Field(description="Always 1.")
    occurred_at: datetime = Field(description="When the test was asked for.")
    message: str


class WebhookTestEvent(BaseModel):
    """A test event you asked for (`POST /v1/webhook-endpoints/{id}/test`); nothing to do but verify it."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "webhook.test", "timestamp": "2026-12-02T10:00:01Z",
        "data": {"endpoint_id": "whe_01jd7w3m5q...", "version": 1, "occurred_at": "2026-12-02T10:00:00Z",
                 "message": "A test event you asked for; nothing to do."}}]})
    type: Literal["webhook.test"]
    timestamp: datetime = Field(description="When this event was built for delivery.")
    data: WebhookTestData


from api.tracking.schemas import CopyStillLiveEvent  # noqa: E402 - tracking's event, documented with the others

WEBHOOK_EVENTS: tuple[type[BaseModel], ...] = (ArticleUpdatedEvent, ArticleCorrectedEvent, ArticleWithdrawnEvent,
                                               ArticleEmbargoLiftedEvent, LicenceAmendedEvent, LicenceCancelledEvent, CopyStillLiveEvent,
                                               WebhookTestEvent)
