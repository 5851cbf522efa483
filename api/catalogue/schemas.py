from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from api.catalogue.models import ArticleStatus
from api.core.fields import BODY_HTML_MAX_LENGTH, HttpUrl
from api.core.times import UTCTime


def _clean_tags(value: list[str]) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in value if t.strip()))


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("headline is blank")
    return value.strip()


# Field types shared by create and update, so both validate alike.
Headline = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_not_blank)]
Tags = Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=50), AfterValidator(_clean_tags)]
Authors = Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=50)]


class AssetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(default="image", max_length=20)
    url: str | None = Field(default=None, max_length=1000)
    caption: str | None = Field(default=None, max_length=2000)
    credit: str | None = Field(default=None, max_length=300)
    relicensable: StrictBool | None = Field(
        default=None, description="Omit to decide from the credit: agency and wire credits are not relicensable."
    )


class AssetRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str
    url: str | None
    caption: str | None
    credit: str | None
    relicensable: bool


class ArticleCreate(BaseModel):
    """An article as the publisher's CMS sends it (our own JSON shape)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "external_id": "mee-1234", "headline": "Putin makes surprise visit to Syria",
            "standfirst": "Rare visit comes as regional tensions intensify",
            "body_html": "<p>Russia's president met his Syrian counterpart...</p>",
            "byline": "MEE staff", "authors": ["MEE staff"],
            "canonical_url": "https://www.middleeasteye.net/news/putin-syria-visit",
            "section": "news", "tags": ["Russia", "Syria"], "language": "en",
            "published_at": "2020-01-07T12:00:00Z",
            "assets": [{"url": "https://example.com/p.jpg", "caption": "Putin and Assad", "credit": "Reuters"}],
        }]},
    )
    external_id: str | None = Field(default=None, max_length=500)
    headline: Headline
    standfirst: str | None = Field(default=None, max_length=2000)
    body_html: str = Field(min_length=1, max_length=BODY_HTML_MAX_LENGTH, description="HTML; sanitised on the way in.")
    byline: str | None = Field(default=None, max_length=500)
    authors: Authors = Field(default_factory=list)
    canonical_url: HttpUrl
    slug: str | None = Field(default=None, max_length=300, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    section: str | None = Field(default=None, max_length=100)
    tags: Tags = Field(default_factory=list)
    language: str = Field(default="en", max_length=35)
    published_at: UTCTime | None = None
    status: ArticleStatus = ArticleStatus.published
    embargo_until: UTCTime | None = None
    licensable: StrictBool = True
    assets: list[AssetCreate] = Field(default_factory=list)
    correction_note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _status_matches_embargo(self) -> ArticleCreate:
        if self.status == ArticleStatus.withdrawn:
            raise ValueError("an article cannot be created withdrawn; create it, then withdraw it with a reason")
        if self.status == ArticleStatus.embargoed and self.embargo_until is None:
            raise ValueError("status 'embargoed' needs embargo_until, the time the embargo lifts")
        if self.embargo_until is not None:
            self.status = ArticleStatus.embargoed
        return self


class ArticleUpdate(BaseModel):
    """A partial update; only the fields sent change."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"headline": "Putin makes surprise visit to Damascus", "correction_note": "An earlier version misnamed the city."},
        {"embargo_until": "2030-01-01T06:00:00Z"},
        {"licensable": False},
    ]})
    headline: Headline | None = None
    standfirst: str | None = Field(default=None, max_length=2000)
    body_html: str | None = Field(default=None, min_length=1, max_length=BODY_HTML_MAX_LENGTH)
    byline: str | None = Field(default=None, max_length=500)
    authors: Authors | None = None
    section: str | None = Field(default=None, max_length=100)
    tags: Tags | None = None
    language: str | None = Field(default=None, max_length=35)
    embargo_until: UTCTime | None = None
    licensable: StrictBool | None = None
    assets: list[AssetCreate] | None = None
    correction_note: str | None = Field(default=None, max_length=2000, description="Shown to licensees as a correction.")

    @field_validator("headline", "body_html", "authors", "tags", "language", "licensable")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Only runs for fields that were sent: `null` cannot clear a required field.
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep its value")
        return value



class ArticleWithdraw(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "Legal complaint: withdrawn pending review."}]})
    reason: str = Field(min_length=1, max_length=1000)


SUMMARY_EXAMPLE: dict[str, Any] = {
    "id": "art_01jd4x8k2m3n4p5q6r7s8t9v0w", "slug": "putin-makes-surprise-visit-to-syria",
    "headline": "Putin makes surprise visit to Syria amid US-Iran tensions",
    "standfirst": "Rare visit comes as regional tensions intensify", "byline": "MEE staff",
    "canonical_url": "https://www.middleeasteye.net/news/putin-syria-visit", "section": "news",
    "tags": ["Russia", "Syria"], "language": "en", "word_count": 512, "licensable": True, "status": "published",
    "version": 2, "published_at": "2020-01-07T12:00:00Z", "updated_at": "2020-01-07T15:30:00Z",
}


ARTICLE_READ_EXAMPLE: dict[str, Any] = {
    **SUMMARY_EXAMPLE,
    "external_id": "mee-1234", "authors": ["MEE staff"],
    "body_html": "<p>Russia's president met his Syrian counterpart...</p>",
    "body_text": "Russia's president met his Syrian counterpart...", "embargo_until": None, "withdrawn_at": None,
    "withdrawal_reason": None, "correction_note": None,
    "assets": [{"id": "ast_01jd4x8k2m3n4p5q6r7s8t9v0w", "kind": "image", "url": "https://example.com/p.jpg",
                "caption": "Putin and Assad", "credit": "Reuters", "relicensable": False}],
}


class ArticleSummary(BaseModel):
    """What the public catalogue shows: never the body."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [SUMMARY_EXAMPLE]})
    id: str
    slug: str
    headline: str
    standfirst: str | None
    byline: str | None
    canonical_url: str
    section: str | None
    tags: list[str]
    language: str
    word_count: int
    licensable: bool
    status: ArticleStatus
    version: int
    published_at: datetime
    updated_at: datetime


class PublicPicture(BaseModel):
    caption: str | None
    credit: str | None


class PublicArticle(ArticleSummary):
    """One article as the public catalogue shows it, with what a licensed copy of it carries: the
    pictures a licence includes, and those it leaves out (not the publisher's to relicense)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        **SUMMARY_EXAMPLE, "pictures_included": [{"caption": "The minister in Damascus", "credit": "MEE/Staff"}],
        "pictures_left_out": [{"caption": "Putin and Assad", "credit": "Reuters"}]}]})
    pictures_included: list[PublicPicture] = Field(description="Pictures a licensed copy carries.")
    pictures_left_out: list[PublicPicture] = Field(
        description="Pictures a licensed copy leaves out: agency and wire pictures are not the publisher's to relicense.")


class ArticleRead(ArticleSummary):
    """The full record, for staff."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [ARTICLE_READ_EXAMPLE]})

    external_id: str | None
    authors: list[str]
    body_html: str
    body_text: str
    embargo_until: datetime | None
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    correction_note: str | None
    assets: list[AssetRead] = Field(default_factory=list)


class ImportResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"article": ARTICLE_READ_EXAMPLE, "created": True, "changed": True}]})
    article: ArticleRead
    created: bool = Field(description="False when an existing article was updated (or unchanged).")
    changed: bool = Field(description="False when the import matched the stored version exactly.")


class ImportReport(BaseModel):
    """What a (batch) import did: it is all-or-nothing, so this lists every article in the document."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "created": 1, "updated": 0, "unchanged": 0,
        "results": [{"article": ARTICLE_READ_EXAMPLE, "created": True, "changed": True}],
    }]})
    created: int
    updated: int
    unchanged: int
    results: list[ImportResult]
