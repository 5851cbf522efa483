from __future__ import annotations

from datetime import datetime

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

from api.catalogue.models import ArticleStatus


class AssetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(default="image", max_length=20)
    url: str | None = Field(default=None, max_length=1000)
    caption: str | None = Field(default=None, max_length=2000)
    credit: str | None = Field(default=None, max_length=300)
    relicensable: bool | None = Field(
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
    headline: str = Field(min_length=1, max_length=500)
    standfirst: str | None = Field(default=None, max_length=2000)
    body_html: str = Field(min_length=1, description="HTML; sanitised on the way in.")
    byline: str | None = Field(default=None, max_length=500)
    authors: list[str] = Field(default_factory=list)
    canonical_url: AnyHttpUrl
    slug: str | None = Field(default=None, max_length=300, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    section: str | None = Field(default=None, max_length=100)
    tags: list[str] = Field(default_factory=list)
    language: str = Field(default="en", max_length=35)
    published_at: datetime | None = None
    status: ArticleStatus = ArticleStatus.published
    embargo_until: datetime | None = None
    licensable: bool = True
    assets: list[AssetCreate] = Field(default_factory=list)
    correction_note: str | None = Field(default=None, max_length=2000)

    @field_validator("headline")
    @classmethod
    def _headline_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("headline is blank")
        return value.strip()

    @field_validator("tags")
    @classmethod
    def _clean_tags(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(t.strip() for t in value if t.strip()))


class ArticleUpdate(BaseModel):
    """A partial update; only the fields sent change."""

    model_config = ConfigDict(extra="forbid")
    headline: str | None = Field(default=None, min_length=1, max_length=500)
    standfirst: str | None = Field(default=None, max_length=2000)
    body_html: str | None = Field(default=None, min_length=1)
    byline: str | None = Field(default=None, max_length=500)
    authors: list[str] | None = None
    section: str | None = Field(default=None, max_length=100)
    tags: list[str] | None = None
    language: str | None = Field(default=None, max_length=35)
    embargo_until: datetime | None = None
    licensable: bool | None = None
    assets: list[AssetCreate] | None = None
    correction_note: str | None = Field(default=None, max_length=2000, description="Shown to licensees as a correction.")


class ArticleWithdraw(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000)


class ArticleSummary(BaseModel):
    """What the public catalogue shows: never the body."""

    model_config = ConfigDict(from_attributes=True)
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


class ArticleRead(ArticleSummary):
    """The full record, for staff."""

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
    article: ArticleRead
    created: bool = Field(description="False when an existing article was updated (or unchanged).")
    changed: bool = Field(description="False when the import matched the stored version exactly.")
