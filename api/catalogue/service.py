"""Catalogue rules: create, update (new version), withdraw, list and read articles."""

from __future__ import annotations

from datetime import UTC, datetime
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, exists, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import SQLColumnExpression
from sqlmodel import Session, col, select

from api.audit import service as audit
from api.catalogue import changes, search
from api.catalogue.errors import ArticleNotFound, ArticleWithdrawn, CanonicalUrlTaken, EmptyArticleBody, locate
from api.catalogue.inline_images import extract_images
from api.catalogue.models import Article, ArticleRevision, ArticleStatus, ArticleTag, Asset
from api.catalogue.schemas import ArticleCreate, ArticleUpdate, AssetCreate
from api.catalogue.licensed import LicensableAsset, licensed_body
from api.catalogue.text import content_hash, html_to_text, is_agency_credit, sanitise_html, slugify, word_count
from api.catalogue.visibility import available_clause, is_available
from api.core.db import utcnow
from api.core.errors import SyndicateError
from api.core.pagination import keyset_page
from api.outbox import service as outbox


def get_article(session: Session, article_id: str) -> Article:
    article = session.get(Article, article_id)
    if article is None:
        raise ArticleNotFound(f"No article {article_id} in the catalogue.")
    return article


def find_article(session: Session, slug_or_id: str) -> Article:
    """By id or by slug (what a publisher's footer link knows), or ArticleNotFound."""
    article = session.get(Article, slug_or_id) or session.exec(select(Article).where(Article.slug == slug_or_id)).first()
    if article is None:
        raise ArticleNotFound(f"No article {slug_or_id} in the catalogue.")
    return article


def get_public_article(session: Session, article_id: str) -> Article:
    """An article the public catalogue shows: licensable, not withdrawn, not under embargo."""
    article = session.get(Article, article_id)
    if article is None or not article.licensable or not is_available(article):
        raise ArticleNotFound(f"No licensable article {article_id} in the catalogue.")
    return article


def get_assets(session: Session, article_id: str) -> list[Asset]:
    return list(session.exec(select(Asset).where(col(Asset.article_id) == article_id).order_by(col(Asset.position))).all())


def revision_asset(asset: Asset) -> dict[str, Any]:
    """A picture as a revision keeps it (ArticleRevision.assets); migration 0021 writes the same keys."""
    return {"position": asset.position, "kind": asset.kind, "url": asset.url, "caption": asset.caption,
            "credit": asset.credit, "relicensable": asset.relicensable}


def get_articles_with_assets(session: Session, article_ids: list[str]) -> list[tuple[Article, list[Asset]]]:
    """The articles of `article_ids` that exist, in that order, each with its assets: two queries
    whatever the number (a feed page must not cost a query per entry)."""
    if not article_ids:
        return []
    found = {a.id: a for a in session.exec(select(Article).where(col(Article.id).in_(article_ids))).all()}
    assets: dict[str, list[Asset]] = {article_id: [] for article_id in found}
    stmt = select(Asset).where(col(Asset.article_id).in_(list(found))).order_by(col(Asset.article_id), col(Asset.position))
    for asset in session.exec(stmt).all():
        assets[asset.article_id].append(asset)
    return [(found[i], assets[i]) for i in article_ids if i in found]


def article_rows(session: Session, article_ids: list[str]) -> list[tuple[Any, list[Any]]]:
    """`get_articles_with_assets` as plain rows (attribute access, no ORM identity or instance
    state): for readers that only copy the columns out, such as delivery's cached views, where the
    ORM's bookkeeping was ~40 % of a cold article's load."""
    if not article_ids:
        return []
    articles, assets = Article.__table__, Asset.__table__  # type: ignore[attr-defined]
    found = {row.id: row for row in session.execute(sa_select(articles).where(articles.c.id.in_(article_ids)))}
    pictures: dict[str, list[Any]] = {article_id: [] for article_id in found}
    stmt = (sa_select(assets).where(assets.c.article_id.in_(list(found)))
            .order_by(assets.c.article_id, assets.c.position))
    for row in session.execute(stmt):
        pictures[row.article_id].append(row)
    return [(found[i], pictures[i]) for i in article_ids if i in found]


def _fingerprint(article: dict[str, Any], assets: list[AssetCreate]) -> str:
    """A hash of what a licensee sees; an import that hashes the same changes nothing."""
    keys = ("headline", "standfirst", "body_html", "byline", "authors", "section", "tags", "language",
            "licensable", "embargo_until", "status", "canonical_url")
    fields = {k: article.get(k) for k in keys}
    fields["canonical_url"] = str(fields["canonical_url"])
    fields["status"] = str(fields["status"])
    if fields["embargo_until"] is not None:
        fields["embargo_until"] = fields["embargo_until"].astimezone(UTC).isoformat()
    fields["assets"] = [
        {"kind": a.kind, "url": a.url, "caption": a.caption, "credit": a.credit, "relicensable": _relicensable(a)}
        for a in assets
    ]
    return content_hash(fields)


def _relicensable(asset: AssetCreate) -> bool:
    return asset.relicensable if asset.relicensable is not None else not is_agency_credit(asset.credit)


def _unique_slug(session: Session, base: str, article_id: str | None) -> str:
    slug, n = base, 1
    while True:
        existing = session.exec(select(Article.id).where(Article.slug == slug)).first()
        if existing is None or existing == article_id:
            return slug
        n += 1
        slug = f"{base}-{n}"


def _find_existing(session: Session, data: ArticleCreate) -> Article | None:
    """The article this import is a new version of: same external id, else same canonical URL."""
    url = str(data.canonical_url)
    by_url = session.exec(select(Article).where(Article.canonical_url == url)).first()
    by_id = None
    if data.external_id:
        by_id = session.exec(select(Article).where(Article.external_id == data.external_id)).first()
    if by_id is not None:
        if by_url is not None and by_url.id != by_id.id:
            raise CanonicalUrlTaken(f"{url} is the canonical URL of article {by_url.id}, not of the article with "
                                    f"external id {data.external_id!r} ({by_id.id}); send that article's own URL.")
        return by_id
    if by_url is not None and data.external_id and by_url.external_id and by_url.external_id != data.external_id:
        raise CanonicalUrlTaken(f"{url} already belongs to article {by_url.id} (external id {by_url.external_id!r}); "
                                f"an article with external id {data.external_id!r} needs its own canonical URL.")
    return by_url


def _asset_rows(article_id: str, assets: list[AssetCreate]) -> list[Asset]:
    return [Asset(article_id=article_id, position=position, kind=asset.kind, url=asset.url, caption=asset.caption,
                  credit=asset.credit, relicensable=_relicensable(asset)) for position, asset in enumerate(assets)]


def _replace_assets(session: Session, article_id: str, assets: list[AssetCreate]) -> None:
    session.execute(delete(Asset).where(col(Asset.article_id) == article_id))
    session.flush()  # the old rows go before new ones reuse their (article, position)
    session.add_all(_asset_rows(article_id, assets))


def _set_licensed_copy(article: Article, assets: Sequence[LicensableAsset]) -> None:
    """The article's licensed copy, from its body and the assets it is stored with."""
    copy = licensed_body(body_html=article.body_html, body_text=article.body_text, words=article.word_count,
                         canonical_url=article.canonical_url, assets=assets)
    kept_whole = not copy.removed  # nothing to remove: the body is its own copy
    article.licensed_html = None if kept_whole else copy.html
    article.licensed_text = None if kept_whole else copy.text
    article.licensed_words = None if kept_whole else copy.word_count
    article.licensed_from = article.content_hash


def fill_licensed_copies(session: Session, *, limit: int) -> int:
    """Make the licensed copy of up to `limit` articles that have none for their current content."""
    stale = session.exec(select(Article).where(
        col(Article.status) != ArticleStatus.withdrawn,
        or_(col(Article.licensed_from).is_(None), col(Article.licensed_from) != col(Article.content_hash)),
    ).limit(limit)).all()
    for article in stale:
        _set_licensed_copy(article, get_assets(session, article.id))
        session.add(article)
    session.flush()
    return len(stale)


def _replace_tags(session: Session, article: Article) -> None:
    session.execute(delete(ArticleTag).where(col(ArticleTag.article_id) == article.id))
    session.flush()
    for tag in dict.fromkeys(t.lower() for t in article.tags):
        session.add(ArticleTag(article_id=article.id, tag=tag, updated_at=article.updated_at,
                               published_at=article.published_at))


def _touch(session: Session, article: Article) -> None:
    """A new `updated_at` for the article and for its tag rows, which the tag listings page by."""
    article.updated_at = utcnow()
    session.execute(update(ArticleTag).where(col(ArticleTag.article_id) == article.id)
                    .values(updated_at=article.updated_at))


def _clean_body(body_html: str) -> tuple[str, str, list[AssetCreate]]:
    """Sanitised HTML, plain text, and the pictures the body carried (now assets, not body)."""
    text_only, images = extract_images(body_html)
    clean = sanitise_html(text_only)
    text = html_to_text(clean)
    if not text.strip():
        raise EmptyArticleBody("After sanitising, the article body has no text; send the article's paragraphs in body_html.")
    return clean, text, [AssetCreate.model_validate(image) for image in images]


def _with_inline(assets: list[AssetCreate], inline: list[AssetCreate]) -> list[AssetCreate]:
    """The assets sent, then the body's own pictures that are not among them already."""
    def key(asset: AssetCreate) -> tuple[str | None, ...]:
        return (asset.url,) if asset.url else (None, asset.caption, asset.credit)

    seen = {key(a) for a in assets}
    extra = []
    for image in inline:
        if key(image) not in seen:
            seen.add(key(image))
            extra.append(image)
    return [*assets, *extra]


def _stored_assets(session: Session, article_id: str) -> list[AssetCreate]:
    return [AssetCreate(kind=a.kind, url=a.url, caption=a.caption, credit=a.credit, relicensable=a.relicensable)
            for a in get_assets(session, article_id)]


def upsert_article(session: Session, data: ArticleCreate, *, actor: audit.Actor) -> tuple[Article, bool, bool]:
    """Create the article, or update the one with the same external id (else canonical URL).

    Returns (article, created, changed). An import that matches the stored content exactly
    changes nothing and keeps the version; anything else is a new version.
    """
    fields = data.model_dump(exclude={"assets", "external_id", "slug", "published_at", "correction_note"})
    fields["body_html"], body_text, inline = _clean_body(data.body_html)
    assets = _with_inline(data.assets, inline)
    digest = _fingerprint(fields, assets)
    existing = _find_existing(session, data)
    for _attempt in range(3):
        if existing is not None:
            break
        try:
            # A savepoint, so losing a race to a concurrent import of the same article (or a
            # same-headline one taking the slug) costs only this insert: then we look again.
            with session.begin_nested():
                return _create(session, data, fields=fields, assets=assets, digest=digest, body_text=body_text,
                               actor=actor), True, True
        except IntegrityError:
            existing = _find_existing(session, data)
    if existing is None:
        raise CanonicalUrlTaken(f"{data.canonical_url} could not be claimed: concurrent imports keep colliding; retry.")
    _lock(session, existing)
    if existing.status == ArticleStatus.withdrawn:
        raise ArticleWithdrawn(f"Article {existing.id} was withdrawn; it cannot be re-imported.")
    if existing.content_hash == digest:
        return existing, False, False
    if data.external_id and not existing.external_id:
        existing.external_id = data.external_id
    existing.canonical_url = str(data.canonical_url)
    session.flush()
    update = ArticleUpdate.model_validate({
        **{k: v for k, v in fields.items() if k in ArticleUpdate.model_fields},
        "assets": assets, "correction_note": data.correction_note,
    })
    article = update_article(session, existing.id, update, actor=actor, force=True)
    return article, False, True


def _create(session: Session, data: ArticleCreate, *, fields: dict[str, Any], assets: list[AssetCreate], digest: str,
            body_text: str, actor: audit.Actor) -> Article:
    article = Article(
        external_id=data.external_id, slug=_unique_slug(session, data.slug or slugify(data.headline), None),
        published_at=data.published_at or utcnow(), content_hash=digest, body_text=body_text,
        word_count=word_count(body_text), **{**fields, "canonical_url": str(data.canonical_url)},
    )
    rows = _asset_rows(article.id, assets)
    _set_licensed_copy(article, rows)  # before the insert: a new article is in nobody's cache (no update after it)
    session.add(article)
    session.flush()
    session.add_all(rows)
    _replace_tags(session, article)
    _add_revision(session, article, change="created")
    audit.record(session, actor=actor, action="article.created", object_type="article", object_id=article.id,
                 after={"headline": article.headline, "version": 1})
    session.flush()
    return article


def _lock(session: Session, article: Article) -> None:
    """Re-read the row under a lock (PostgreSQL FOR UPDATE; SQLite's BEGIN IMMEDIATE already serialises),
    so two editors of one article make versions N+1 and N+2 instead of colliding on N+1."""
    session.refresh(article, with_for_update=True)


def update_article(
    session: Session, article_id: str, data: ArticleUpdate, *, actor: audit.Actor, force: bool = False,
) -> Article:
    """Apply the fields sent; a change (or a correction note) makes a new version and tells licensees.

    An update that leaves the article as it was keeps its version (nothing to announce) unless
    `force` (an import whose canonical URL or external id moved).
    """
    article = get_article(session, article_id)
    _lock(session, article)
    if article.status == ArticleStatus.withdrawn:
        raise ArticleWithdrawn(f"Article {article_id} was withdrawn; it can no longer be changed.")
    changes = data.model_dump(exclude_unset=True, exclude={"assets", "body_html", "tags"})
    before = {"version": article.version, "headline": article.headline}
    for key, value in changes.items():
        setattr(article, key, value)
    if "embargo_until" in changes:
        article.status = ArticleStatus.embargoed if data.embargo_until else ArticleStatus.published
    assets = data.assets
    if data.body_html is not None:
        article.body_html, article.body_text, inline = _clean_body(data.body_html)
        article.word_count = word_count(article.body_text)
        if inline:  # pictures in the new body join the assets sent, or the stored ones
            assets = _with_inline(assets if assets is not None else _stored_assets(session, article.id), inline)
    if data.tags is not None:
        article.tags = list(data.tags)
        _replace_tags(session, article)
    if assets is not None:
        _replace_assets(session, article.id, assets)
    session.flush()
    digest = _fingerprint(article.model_dump(), _stored_assets(session, article.id))
    if digest == article.content_hash and not data.correction_note and not force:
        return article
    article.content_hash = digest
    _set_licensed_copy(article, get_assets(session, article.id))
    article.version += 1
    _touch(session, article)
    session.add(article)
    change = "corrected" if data.correction_note else "updated"
    _add_revision(session, article, change=change, note=data.correction_note)
    audit.record(session, actor=actor, action=f"article.{change}", object_type="article", object_id=article.id,
                 before=before, after={"version": article.version, "headline": article.headline})
    outbox.enqueue(session, "article.changed", {"article_id": article.id, "version": article.version, "change": change,
                                              "occurred_at": article.updated_at.isoformat()},
                   dedupe_key=f"article-changed:{article.id}:{article.version}")
    session.flush()
    return article


def import_articles(
    session: Session, articles: list[ArticleCreate], *, actor: audit.Actor,
) -> list[tuple[Article, bool, bool]]:
    """Upsert a batch in the caller's transaction: one bad article and the caller rolls back all."""
    results = []
    for index, data in enumerate(articles):
        try:
            results.append(upsert_article(session, data, actor=actor))
        except SyndicateError as exc:
            if len(articles) > 1:
                locate(exc, f"article {index + 1} ({data.headline!r})")
            raise
    return results


def withdraw_article(session: Session, article_id: str, *, reason: str, actor: audit.Actor) -> Article:
    article = get_article(session, article_id)
    _lock(session, article)
    if article.status == ArticleStatus.withdrawn:
        return article
    article.status = ArticleStatus.withdrawn
    _touch(session, article)
    article.withdrawn_at = article.updated_at
    article.withdrawal_reason = reason
    article.version += 1
    session.add(article)
    _add_revision(session, article, change="withdrawn", note=reason)
    audit.record(session, actor=actor, action="article.withdrawn", object_type="article", object_id=article.id,
                 after={"reason": reason, "version": article.version})
    outbox.enqueue(session, "article.changed", {"article_id": article.id, "version": article.version, "change": "withdrawn",
                                              "occurred_at": article.updated_at.isoformat()},
                   dedupe_key=f"article-changed:{article.id}:{article.version}")
    session.flush()
    return article


def _add_revision(session: Session, article: Article, *, change: str, note: str | None = None) -> None:
    """The new version as a licensee sees it: a past version is rendered from this row alone."""
    revision = ArticleRevision(article_id=article.id, version=article.version, headline=article.headline,
                               body_html=article.body_html, standfirst=article.standfirst, byline=article.byline,
                               authors=list(article.authors or ()), tags=list(article.tags or ()),
                               assets=[revision_asset(a) for a in get_assets(session, article.id)],
                               change=change, note=note)
    session.add(revision)
    changes.note(session, revision)  # into the change log, numbered when the transaction commits


def list_articles(
    session: Session, *, section: str | None = None, tag: str | None = None, language: str | None = None,
    published_from: datetime | None = None, published_to: datetime | None = None, q: str | None = None,
    updated_since: datetime | None = None, licensable_only: bool = True, include_unavailable: bool = False,
    cursor: str | None = None, limit: int = 50,
) -> tuple[list[Article], str | None]:
    """One page of the catalogue, in the order that lets an index serve the filters (listing_order):
    by (updated_at, id), oldest change first, so `updated_since` sync and paging share an index; by
    (published_at, id) when filtered by publication date alone; best match first with `q`."""
    order = listing_order(q=q, published_from=published_from, published_to=published_to, updated_since=updated_since)
    if q and not search.has_words(q):
        return [], None
    # A tag's listing walks article_tag's (tag, key, article_id) index, which carries the article's keys.
    by_tag = bool(tag) and order != "rank"
    keys = (ArticleTag.updated_at, ArticleTag.published_at, ArticleTag.article_id) if by_tag else (
        Article.updated_at, Article.published_at, Article.id)
    columns: list[SQLColumnExpression[Any]] = [col(key) for key in keys]
    updated, published, ids = columns
    dialect = session.get_bind().dialect.name
    rank = search.headline_rank(dialect, q) if order == "rank" and q else None
    section_key: SQLColumnExpression[Any] = col(Article.section)
    language_key: SQLColumnExpression[Any] = col(Article.language)
    if rank is not None:  # a search starts from its matches, whatever other index a filter could walk
        section_key, language_key, updated, published = (
            search.not_from_index(dialect, c) for c in (section_key, language_key, updated, published))
    stmt = select(Article, rank.label("rank")) if rank is not None else select(Article)
    if by_tag and tag:
        stmt = stmt.join(ArticleTag, col(ArticleTag.article_id) == col(Article.id)).where(col(ArticleTag.tag) == tag.lower())
    elif tag:
        stmt = stmt.where(exists().where(col(ArticleTag.article_id) == col(Article.id), col(ArticleTag.tag) == tag.lower()))
    if not include_unavailable:
        stmt = stmt.where(available_clause(utcnow()))
    if licensable_only:
        stmt = stmt.where(col(Article.licensable).is_(True))
    if section:
        stmt = stmt.where(section_key == section)
    if language:
        stmt = stmt.where(language_key == language)
    if published_from:
        stmt = stmt.where(published >= published_from)
    if published_to:
        stmt = stmt.where(published < published_to)
    if updated_since:
        stmt = stmt.where(updated > updated_since)
    if q:
        stmt = stmt.where(search.matches(dialect, q))
    if rank is not None:
        rows, next_cursor = keyset_page(
            session, stmt, columns=[rank, col(Article.updated_at), col(Article.id)], kinds=[int, datetime, str],
            cursor=cursor, limit=limit, descending=True, key=lambda row: [row.rank, row[0].updated_at, row[0].id])
        return [row[0] for row in rows], next_cursor
    first = published if order == "published" else updated
    return keyset_page(session, stmt, columns=[first, ids], kinds=[datetime, str], cursor=cursor, limit=limit,
                       key=lambda a: [a.published_at if order == "published" else a.updated_at, a.id])


def listing_order(*, q: str | None, published_from: datetime | None, published_to: datetime | None,
                  updated_since: datetime | None) -> str:
    """`rank` with a search; `published` for a publication-date range (an index on the range, in its
    order, instead of a walk of every change); otherwise `sync`, by (updated_at, id)."""
    if q:
        return "rank"
    if (published_from or published_to) and not updated_since:
        return "published"
    return "sync"
