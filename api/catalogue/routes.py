"""Catalogue HTTP API: the public listing (no body, ever) and the staff desk (create, import, edit, withdraw)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlmodel import Session

from api.audit.service import Actor
from api.catalogue import service
from api.catalogue.errors import (
    ArticleNotFound, ArticleWithdrawn, CanonicalUrlRequired, CanonicalUrlTaken, EmptyArticleBody,
    EmptyDocument, InvalidArticle, MalformedJson, MissingHeadline, UndecodableDocument, UnknownImportFormat,
    UnsupportedImportMediaType,
)
from api.catalogue.importers import ImportFormat, format_for_media_type, parse_document
from api.catalogue.models import Article
from api.catalogue.schemas import (PublicArticle, PublicPicture,
    SUMMARY_EXAMPLE, ArticleCreate, ArticleRead, ArticleSummary, ArticleUpdate, ArticleWithdraw, AssetRead, ImportReport,
    ImportResult,
)
from api.core.errors import BadCursor, PayloadTooLarge, Unauthenticated, ValidationFailed
from api.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, page_example
from api.core.problems import error_responses
from api.core.times import UTCTime
from api.deps import ReadSessionDep, SessionDep, SettingsDep, StaffMayArticles
from api.staff.errors import RoleRequired

router = APIRouter(tags=["catalogue"])
Editor = StaffMayArticles
STAFF_ERRORS = (Unauthenticated, RoleRequired)
def _read(session: Session, article: Article) -> ArticleRead:
    assets = [AssetRead.model_validate(a) for a in service.get_assets(session, article.id)]
    return ArticleRead.model_validate(article).model_copy(update={"assets": assets})


# --- public ----------------------------------------------------------------------------------


@router.get(
    "/v1/articles", response_model=Page[ArticleSummary], summary="Browse the licensable catalogue",
    description="Licensable articles that are published and not under embargo, oldest change first, keyed on "
                "(updated_at, id): pass `next_cursor` back as `cursor` for the next page. For sync, remember the "
                "last `updated_at` you saw and ask with `updated_since`. Filtered by publication date "
                "(`published_from`/`published_to`, without `updated_since`), oldest publication first. With `q`, "
                "best match first: articles with every word in the headline, then the rest, newest change first "
                "within each. Bodies are never listed.",
    responses={**page_example(SUMMARY_EXAMPLE), **error_responses(BadCursor, ValidationFailed)},
)
def list_articles(
    session: ReadSessionDep,
    cursor: Annotated[str | None, Query(description="`next_cursor` from the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")] = DEFAULT_LIMIT,
    section: Annotated[str | None, Query(examples=["news"])] = None,
    tag: Annotated[str | None, Query(description="One tag, case-insensitive.", examples=["syria"])] = None,
    language: Annotated[str | None, Query(description="BCP 47 language tag.", examples=["en"])] = None,
    published_from: Annotated[UTCTime | None, Query(description="Published at or after (UTC).")] = None,
    published_to: Annotated[UTCTime | None, Query(description="Published before (UTC).")] = None,
    q: Annotated[str | None, Query(
        min_length=2, max_length=200, examples=["drought talks"],
        description="Words that must all appear, in any order, in the headline or standfirst: whole words, any "
                    "case, no stemming (`talks` does not find `talk`); operators and wildcards are plain text.")] = None,
    updated_since: Annotated[UTCTime | None, Query(description="Changed after this time (UTC).")] = None,
) -> Page[ArticleSummary]:
    rows, next_cursor = service.list_articles(
        session, section=section, tag=tag, language=language, published_from=published_from,
        published_to=published_to, q=q, updated_since=updated_since, cursor=cursor, limit=limit,
    )
    return Page[ArticleSummary](items=[ArticleSummary.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/v1/articles/{article_id}", response_model=PublicArticle, summary="One licensable article (no body)",
    description="With the pictures a licence includes and those it leaves out, so you know before you pay.",
    responses=error_responses(ArticleNotFound),
)
def get_article(article_id: str, session: ReadSessionDep) -> PublicArticle:
    article = service.get_public_article(session, article_id)
    pictures = [a for a in service.get_assets(session, article.id) if a.kind == "image"]
    return PublicArticle(
        **ArticleSummary.model_validate(article).model_dump(),
        pictures_included=[PublicPicture(caption=a.caption, credit=a.credit) for a in pictures if a.relicensable],
        pictures_left_out=[PublicPicture(caption=a.caption, credit=a.credit) for a in pictures if not a.relicensable])


# --- staff -----------------------------------------------------------------------------------


@router.post(
    "/v1/staff/articles", response_model=ImportResult, status_code=status.HTTP_201_CREATED,
    summary="Create an article, or update the one with the same external id or canonical URL",
    description="201 when a new article was created; 200 when an existing one was updated (a new version) or "
                "was already identical (`changed: false`, version kept).",
    responses={200: {"model": ImportResult, "description": "An existing article was updated or unchanged."},
               **error_responses(CanonicalUrlTaken, ArticleWithdrawn, EmptyArticleBody, ValidationFailed, *STAFF_ERRORS)},
)
def create_article(body: ArticleCreate, session: SessionDep, staff: Editor, response: Response) -> ImportResult:
    article, created, changed = service.upsert_article(session, body, actor=Actor("staff", staff.id))
    if not created:
        response.status_code = status.HTTP_200_OK
    return ImportResult(article=_read(session, article), created=created, changed=changed)


async def _raw_document(request: Request) -> bytes:
    # Larger than SYNDICATE_MAX_IMPORT_BODY_BYTES is refused with a 413 by api.core.body_limit before this runs.
    return await request.body()


_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The document itself, as its own media type: our JSON (one article or a list), IPTC ninjs "
                       "(one item or a list), an HTML article page, or a page's plain text.",
        "content": {
            "application/json": {
                "schema": {"oneOf": [{"$ref": "#/components/schemas/ArticleCreate"},
                                     {"type": "array", "items": {"$ref": "#/components/schemas/ArticleCreate"}},
                                     {"type": "object", "description": "An IPTC ninjs 1.x-3.x item", "required": ["uri"]}]},
                "examples": {
                    "own": {"summary": "Our shape", "value": ArticleCreate.model_config["json_schema_extra"]["examples"][0]},  # type: ignore[index]
                    "ninjs": {"summary": "IPTC ninjs 3", "value": {
                        "uri": "https://www.middleeasteye.net/news/putin-syria-visit", "type": "text",
                        "versionCreated": "2020-01-07T12:00:00Z", "language": "en", "by": "MEE staff",
                        "headlines": [{"role": "main", "value": "Putin makes surprise visit to Syria"}],
                        "bodies": [{"role": "main", "contentType": "text/html", "value": "<p>Russia's president...</p>"}],
                        "subjects": [{"name": "Syria"}]}},
                },
            },
            "text/html": {"schema": {"type": "string"}, "example": "<html><head><link rel=\"canonical\" href=\"https://"
                          "www.middleeasteye.net/news/putin-syria-visit\"></head><body><article><h1>Putin makes surprise "
                          "visit to Syria</h1><p>Russia's president met...</p></article></body></html>"},
            "text/plain": {"schema": {"type": "string"}, "example": "Putin makes surprise visit to Syria\n\nRare visit "
                           "comes as regional tensions intensify\n\nRussia's president met his Syrian counterpart..."},
        },
    }
}


@router.post(
    "/v1/staff/articles/import", response_model=ImportReport, summary="Import a document (JSON, ninjs, HTML or text page)",
    description="Send the document as the request body with its Content-Type. The whole document is imported in one "
                "transaction: if any article in it is refused, nothing is written. Re-importing an article updates it "
                "(a new version) or, when identical, leaves it unchanged. An HTML page may state its canonical URL "
                "(<link rel=canonical>, og:url, JSON-LD); a text page cannot, so pass `canonical_url` (unless the "
                "publisher's URL pattern is configured, SYNDICATE_CANONICAL_URL_TEMPLATE).",
    openapi_extra=_IMPORT_BODY,
    operation_id="staff.articles.import",
    responses=error_responses(MalformedJson, EmptyDocument, MissingHeadline, EmptyArticleBody, InvalidArticle,
                              CanonicalUrlRequired, UnknownImportFormat, UndecodableDocument, UnsupportedImportMediaType,
                              PayloadTooLarge, CanonicalUrlTaken, ArticleWithdrawn, ValidationFailed, *STAFF_ERRORS),
)
def import_document(
    request: Request, session: SessionDep, settings: SettingsDep, staff: Editor,
    document: Annotated[bytes, Depends(_raw_document)],
    format: Annotated[str, Query(description="auto (from Content-Type and content), json, ninjs, html or text.",
                                 examples=["auto"])] = ImportFormat.auto.value,
    canonical_url: Annotated[str | None, Query(
        pattern=r"^https?://", max_length=1000,
        description="The article's public URL on the publisher's site; needed for a text page (unless "
                    "SYNDICATE_CANONICAL_URL_TEMPLATE is set), overrides what an HTML page states.",
        examples=["https://www.middleeasteye.net/news/putin-syria-visit"])] = None,
) -> ImportReport:
    chosen = format if format != ImportFormat.auto.value else format_for_media_type(request.headers.get("content-type"))
    articles = parse_document(document, format=chosen, canonical_url=canonical_url,
                              canonical_template=settings.canonical_url_template)
    outcomes = service.import_articles(session, articles, actor=Actor("staff", staff.id))
    results = [ImportResult(article=_read(session, a), created=c, changed=ch) for a, c, ch in outcomes]
    return ImportReport(
        created=sum(r.created for r in results), updated=sum(r.changed and not r.created for r in results),
        unchanged=sum(not r.changed for r in results), results=results,
    )


@router.get(
    "/v1/staff/articles/{article_id}", response_model=ArticleRead, summary="The full article, with body and assets",
    responses=error_responses(ArticleNotFound, *STAFF_ERRORS),
)
def staff_get_article(article_id: str, session: SessionDep, staff: Editor) -> ArticleRead:
    return _read(session, service.get_article(session, article_id))


@router.patch(
    "/v1/staff/articles/{article_id}", response_model=ArticleRead, summary="Edit an article (a new version)",
    description="Only the fields sent change. A real change, or a `correction_note`, makes a new version and tells "
                "licensees; sending the current values changes nothing.",
    responses=error_responses(ArticleNotFound, ArticleWithdrawn, EmptyArticleBody, ValidationFailed, *STAFF_ERRORS),
)
def update_article(article_id: str, body: ArticleUpdate, session: SessionDep, staff: Editor) -> ArticleRead:
    article = service.update_article(session, article_id, body, actor=Actor("staff", staff.id))
    return _read(session, article)


@router.post(
    "/v1/staff/articles/{article_id}/withdraw", response_model=ArticleRead, summary="Withdraw an article",
    description="Takes the article out of the catalogue and out of licensed delivery; licensees are told. "
                "Withdrawing twice is harmless.",
    responses=error_responses(ArticleNotFound, ValidationFailed, *STAFF_ERRORS),
)
def withdraw_article(article_id: str, body: ArticleWithdraw, session: SessionDep, staff: Editor) -> ArticleRead:
    article = service.withdraw_article(session, article_id, reason=body.reason, actor=Actor("staff", staff.id))
    return _read(session, article)
