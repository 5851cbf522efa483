"""Every version of a licensed article: the list, and each one rendered under the licence.

The catalogue keeps what each version showed (`article_revision`: headline, standfirst, body,
byline and authors, tags, and its pictures with their credits). A past version is rendered like the
current one (the same formats, the licensed body with pictures that are not the publisher's to
relicense removed, the licence's attribution and beacon), entirely from its revision, with its own
time. What is not part of a version stays the article's: its id, canonical URL, section and language,
and whether the licence covers it (a withdrawn or re-embargoed article's past versions are refused
like the article). Revisions older than migration 0021 were filled by it from the article as it
then stood (nothing better was kept); a list column still NULL falls back to the current one. A version is a delivery like any other: metered, and counted
against the quota.
"""

from __future__ import annotations

import json
from dataclasses import replace

from sqlmodel import Session, select

from api.catalogue import changes
from api.catalogue.models import ArticleChange, ArticleRevision
from api.catalogue.text import html_to_text, word_count
from api.delivery import render
from api.delivery.errors import ContentVersionNotFound
from api.delivery.usage_rows import Usage
from api.delivery.runtime import DeliveryRuntime, Outcome, negotiate, not_modified
from api.delivery.snapshots import ArticleView, AssetView

# What each kind of revision tells a licensee about the version it made.
CHANGE_KINDS = {"created": "original", "updated": "update", "corrected": "correction", "withdrawn": "withdrawal",
                "embargo_lifted": "release"}


def _revisions(runtime: DeliveryRuntime, article_id: str) -> list[tuple[ArticleRevision, int | None]]:
    with Session(runtime.reader) as session:  # the read-only engine: never queued behind the usage writer
        rows = session.exec(
            select(ArticleRevision, ArticleChange.seq)
            .join(ArticleChange, (ArticleChange.article_id == ArticleRevision.article_id)  # type: ignore[arg-type]
                  & (ArticleChange.version == ArticleRevision.version), isouter=True)
            .where(ArticleRevision.article_id == article_id).order_by(ArticleRevision.version)).all()  # type: ignore[arg-type]
        return [(revision, seq) for revision, seq in rows]


def _revision(runtime: DeliveryRuntime, article_id: str, number: int) -> ArticleRevision | None:
    with Session(runtime.reader) as session:
        return session.exec(select(ArticleRevision).where(ArticleRevision.article_id == article_id,
                                                          ArticleRevision.version == number)).first()


def as_of(article: ArticleView, revision: ArticleRevision) -> ArticleView:
    """The article as its version `revision.version` was."""
    text = html_to_text(revision.body_html)
    assets = article.assets if revision.assets is None else tuple(
        AssetView(position=a["position"], kind=a["kind"], url=a.get("url"), caption=a.get("caption"),
                  credit=a.get("credit"), relicensable=bool(a.get("relicensable", True))) for a in revision.assets)
    return replace(article, version=revision.version, headline=revision.headline, body_html=revision.body_html,
                   body_text=text, word_count=word_count(text), updated_at=revision.created_at,
                   correction_note=revision.note if revision.change == "corrected" else None,
                   standfirst=revision.standfirst, byline=revision.byline,
                   authors=article.authors if revision.authors is None else tuple(revision.authors),
                   tags=article.tags if revision.tags is None else tuple(revision.tags), assets=assets,
                   licensed_hash=None)  # its own body and pictures: the current licensed copy says nothing of them


async def list_versions(runtime: DeliveryRuntime, *, raw_token: str | None, article_id: str) -> Outcome:
    claims, licence = await runtime.authorize(raw_token)
    article = await runtime.article(article_id)
    runtime.check_article(licence, article, None)
    await runtime.limiter.check_token(claims.jti)
    base = f"{runtime.settings.public_base_url}/v1/content/articles/{article.id}/versions"
    items = [{"version": revision.version, "created_at": revision.created_at.isoformat(), "change": revision.change,
              "kind": CHANGE_KINDS.get(revision.change, revision.change), "note": revision.note,
              "headline": revision.headline, "current": revision.version == article.version,
              "content_url": f"{base}/{revision.version}",
              "change_cursor": changes.encode(seq) if seq is not None else None}
             for revision, seq in await runtime.in_thread(_revisions, runtime, article.id)]
    body = json.dumps({"article_id": article.id, "current_version": article.version, "items": items},
                      ensure_ascii=False).encode()
    return Outcome(200, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                         (b"cache-control", b"private, no-cache"), (b"vary", b"Authorization")], body)


async def serve_version(runtime: DeliveryRuntime, *, raw_token: str | None, article_id: str, number: int,
                        fmt: str | None, accept: str | None, territory: str | None, if_none_match: str | None,
                        if_modified_since: str | None) -> Outcome:
    claims, licence = await runtime.authorize(raw_token)
    chosen = negotiate(fmt, accept)
    article = await runtime.article(article_id)
    runtime.check_article(licence, article, territory)  # covered, not withdrawn, not under embargo
    await runtime.limiter.check_token(claims.jti)
    revision = await runtime.in_thread(_revision, runtime, article.id, number)
    if revision is None:
        raise ContentVersionNotFound(f"Article {article.id} has versions 1 to {article.version}, not {number}.",
                                     current_version=article.version)
    version = as_of(article, revision)
    # Not the runtime's rendition cache: past versions are rarely asked for and must not crowd out current ones.
    rendered = render.render(runtime.publisher, licence, version, chosen, render.base_json(version))
    if (if_none_match or if_modified_since) and not_modified(rendered, if_none_match, if_modified_since):
        return Outcome(304, rendered.headers(with_body=False), b"")
    # Counted as any delivery is: quota, the live-copy cap (a past version of a new article is a new copy), usage.
    await runtime.account(licence, [Usage(licence.id, licence.partner_id, article.id, number, chosen, claims.jti)])
    return Outcome(200, list(rendered.ok_headers), rendered.body)
