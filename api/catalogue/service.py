"""Catalogue rules: create, update (new version), withdraw, list and read articles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_
from sqlmodel import Session, select

from api.audit import service as audit
from api.catalogue.models import Article, ArticleRevision, ArticleStatus, ArticleTag, Asset
from api.catalogue.schemas import ArticleCreate, ArticleUpdate, AssetCreate
from api.catalogue.text import content_hash, html_to_text, is_agency_credit, sanitise_html, slugify, word_count
from api.core.db import utcnow
from api.core.errors import Conflict, Gone, Invalid, NotFound
from api.core.pagination import keyset_page
from api.outbox import service as outbox


class ArticleNotFound(NotFound):
    slug = "article-not-found"
    title = "No such article"


class ArticleWithdrawn(Gone):
    slug = "article-withdrawn"
    title = "The article has been withdrawn"


class EmptyArticleBody(Invalid):
    slug = "empty-article-body"
    title = "The article body has no text"


class CanonicalUrlTaken(Conflict):
    slug = "canonical-url-taken"
    title = "Another article already has that canonical URL"


def get_article(session: Session, article_id: str) -> Article:
    article = session.get(Article, article_id)
    if article is None:
        raise ArticleNotFound(f"No article {article_id} in the catalogue.")
    return article


def get_assets(session: Session, article_id: str) -> list[Asset]:
    return list(session.exec(select(Asset).where(Asset.article_id == article_id).order_by(Asset.position)).all())


def _versioned_fields(data: dict[str, Any], assets: list[AssetCreate]) -> dict[str, Any]:
    keys = ("headline", "standfirst", "body_html", "byline", "authors", "section", "tags", "language",
            "licensable", "embargo_until", "status")
    fields = {k: data.get(k) for k in keys}
    fields["assets"] = [a.model_dump() for a in assets]
    return fields


def _unique_slug(session: Session, base: str, article_id: str | None) -> str:
    slug, n = base, 1
    while True:
        existing = session.exec(select(Article.id).where(Article.slug == slug)).first()
        if existing is None or existing == article_id:
            return slug
        n += 1
        slug = f"{base}-{n}"


def _find_existing(session: Session, data: ArticleCreate) -> Article | None:
    conditions = [Article.canonical_url == str(data.canonical_url)]
    if data.external_id:
        conditions.append(Article.external_id == data.external_id)
    return session.exec(select(Article).where(or_(*conditions))).first()


def _replace_assets(session: Session, article_id: str, assets: list[AssetCreate]) -> None:
    session.execute(delete(Asset).where(Asset.article_id == article_id))  # type: ignore[arg-type]
    for position, asset in enumerate(assets):
        relicensable = asset.relicensable if asset.relicensable is not None else not is_agency_credit(asset.credit)
        session.add(Asset(article_id=article_id, position=position, kind=asset.kind, url=asset.url,
                          caption=asset.caption, credit=asset.credit, relicensable=relicensable))


def _replace_tags(session: Session, article_id: str, tags: list[str]) -> None:
    session.execute(delete(ArticleTag).where(ArticleTag.article_id == article_id))  # type: ignore[arg-type]
    for tag in dict.fromkeys(t.lower() for t in tags):
        session.add(ArticleTag(article_id=article_id, tag=tag))


def _apply_body(article: Article, body_html: str) -> None:
    clean = sanitise_html(body_html)
    text = html_to_text(clean)
    if not text.strip():
        raise EmptyArticleBody("After sanitising, the article body has no text; send the article's paragraphs in body_html.")
    article.body_html = clean
    article.body_text = text
    article.word_count = word_count(text)


def upsert_article(session: Session, data: ArticleCreate, *, actor: audit.Actor) -> tuple[Article, bool, bool]:
    """Create the article, or update the one with the same external id or canonical URL.

    Returns (article, created, changed). An import that matches the stored content exactly
    changes nothing and keeps the version.
    """
    existing = _find_existing(session, data)
    fields = data.model_dump(exclude={"assets", "canonical_url", "external_id", "slug", "published_at", "correction_note"})
    fields["body_html"] = sanitise_html(data.body_html)
    digest = content_hash(_versioned_fields(fields, data.assets))
    now = utcnow()
    if existing is None:
        article = Article(
            external_id=data.external_id, canonical_url=str(data.canonical_url),
            slug=_unique_slug(session, data.slug or slugify(data.headline), None),
            published_at=data.published_at or now, content_hash=digest, body_html="", body_text="",
            **{k: v for k, v in fields.items() if k != "body_html"},
        )
        _apply_body(article, data.body_html)
        session.add(article)
        session.flush()
        _replace_assets(session, article.id, data.assets)
        _replace_tags(session, article.id, data.tags)
        _add_revision(session, article, change="created")
        audit.record(session, actor=actor, action="article.created", object_type="article", object_id=article.id,
                     after={"headline": article.headline, "version": 1})
        session.flush()
        return article, True, False
    if existing.status == ArticleStatus.withdrawn:
        raise ArticleWithdrawn(f"Article {existing.id} was withdrawn; it cannot be re-imported.")
    if existing.content_hash == digest:
        return existing, False, False
    update = ArticleUpdate(**{k: v for k, v in fields.items() if k in ArticleUpdate.model_fields},
                           assets=data.assets, correction_note=data.correction_note)
    article = update_article(session, existing.id, update, actor=actor)
    if data.external_id and not article.external_id:
        article.external_id = data.external_id
    return article, False, True


def update_article(session: Session, article_id: str, data: ArticleUpdate, *, actor: audit.Actor) -> Article:
    article = get_article(session, article_id)
    if article.status == ArticleStatus.withdrawn:
        raise ArticleWithdrawn(f"Article {article_id} was withdrawn; it can no longer be changed.")
    changes = data.model_dump(exclude_unset=True, exclude={"assets", "body_html", "tags"})
    before = {"version": article.version, "headline": article.headline}
    for key, value in changes.items():
        setattr(article, key, value)
    if data.body_html is not None:
        _apply_body(article, data.body_html)
    if data.tags is not None:
        article.tags = list(dict.fromkeys(t.strip() for t in data.tags if t.strip()))
        _replace_tags(session, article.id, article.tags)
    if data.assets is not None:
        _replace_assets(session, article.id, data.assets)
    session.flush()
    assets = [AssetCreate(kind=a.kind, url=a.url, caption=a.caption, credit=a.credit, relicensable=a.relicensable)
              for a in get_assets(session, article.id)]
    article.content_hash = content_hash(_versioned_fields(article.model_dump(), assets))
    article.version += 1
    article.updated_at = utcnow()
    session.add(article)
    change = "corrected" if data.correction_note else "updated"
    _add_revision(session, article, change=change, note=data.correction_note)
    audit.record(session, actor=actor, action=f"article.{change}", object_type="article", object_id=article.id,
                 before=before, after={"version": article.version, "headline": article.headline})
    outbox.enqueue(session, "article.changed", {"article_id": article.id, "version": article.version, "change": change},
                   dedupe_key=f"article-changed:{article.id}:{article.version}")
    session.flush()
    return article


def withdraw_article(session: Session, article_id: str, *, reason: str, actor: audit.Actor) -> Article:
    article = get_article(session, article_id)
    if article.status == ArticleStatus.withdrawn:
        return article
    article.status = ArticleStatus.withdrawn
    article.withdrawn_at = article.updated_at = utcnow()
    article.withdrawal_reason = reason
    article.version += 1
    session.add(article)
    _add_revision(session, article, change="withdrawn", note=reason)
    audit.record(session, actor=actor, action="article.withdrawn", object_type="article", object_id=article.id,
                 after={"reason": reason, "version": article.version})
    outbox.enqueue(session, "article.changed", {"article_id": article.id, "version": article.version, "change": "withdrawn"},
                   dedupe_key=f"article-changed:{article.id}:{article.version}")
    session.flush()
    return article


def _add_revision(session: Session, article: Article, *, change: str, note: str | None = None) -> None:
    session.add(ArticleRevision(article_id=article.id, version=article.version, headline=article.headline,
                                body_html=article.body_html, change=change, note=note))


def is_available(article: Article, at: datetime | None = None) -> bool:
    """Published (or past its embargo) and not withdrawn."""
    at = at or utcnow()
    if article.status == ArticleStatus.withdrawn:
        return False
    if article.embargo_until and article.embargo_until > at:
        return False
    return article.status == ArticleStatus.published or (article.status == ArticleStatus.embargoed and article.embargo_until is not None)


def list_articles(
    session: Session, *, section: str | None = None, tag: str | None = None, language: str | None = None,
    published_from: datetime | None = None, published_to: datetime | None = None, q: str | None = None,
    updated_since: datetime | None = None, licensable_only: bool = True, include_unavailable: bool = False,
    cursor: str | None = None, limit: int = 50,
) -> tuple[list[Article], str | None]:
    """Newest-updated last, keyed on (updated_at, id) so `updated_since` sync and paging share an index."""
    stmt = select(Article)
    if not include_unavailable:
        now = utcnow()
        stmt = stmt.where(Article.status != ArticleStatus.withdrawn).where(
            or_(Article.embargo_until.is_(None), Article.embargo_until <= now)  # type: ignore[union-attr]
        )
    if licensable_only:
        stmt = stmt.where(Article.licensable.is_(True))  # type: ignore[attr-defined]
    if section:
        stmt = stmt.where(Article.section == section)
    if language:
        stmt = stmt.where(Article.language == language)
    if tag:
        stmt = stmt.where(Article.id.in_(select(ArticleTag.article_id).where(ArticleTag.tag == tag.lower())))  # type: ignore[attr-defined]
    if published_from:
        stmt = stmt.where(Article.published_at >= published_from)
    if published_to:
        stmt = stmt.where(Article.published_at < published_to)
    if updated_since:
        stmt = stmt.where(Article.updated_at > updated_since)
    if q:
        pattern = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(Article.headline.ilike(pattern), Article.standfirst.ilike(pattern)))  # type: ignore[union-attr,attr-defined]
    return keyset_page(session, stmt, columns=[Article.updated_at, Article.id], kinds=[datetime, str],  # type: ignore[list-item]
                       cursor=cursor, limit=limit)
