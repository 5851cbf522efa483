"""`GET /v1/content/feed`: what a licence covers, as a JSON sync listing or an Atom/RSS feed.

The JSON listing carries no bodies (fetch each article; that fetch is metered); Atom and RSS
carry the licensed body and attribution of each entry, so every entry is metered as a delivery.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from feedgen.feed import FeedGenerator
from sqlmodel import Session

from api.catalogue.models import ArticleStatus
from api.delivery import render, service
from api.delivery.errors import NotAcceptable
from api.delivery.metering import Usage
from api.delivery.runtime import DeliveryRuntime, Outcome, not_modified
from api.delivery.snapshots import LicenceView, load_article

FEED_TYPES = {"json": "application/json", "atom": "application/atom+xml", "rss": "application/rss+xml"}


def negotiate_feed(fmt: str | None, accept: str | None) -> str:
    if fmt:
        if fmt not in FEED_TYPES:
            raise NotAcceptable(f"Unknown feed format {fmt!r}; use json, atom or rss.")
        return fmt
    accept = (accept or "").lower()
    return "atom" if "atom" in accept else "rss" if "rss" in accept else "json"


def _page(runtime: DeliveryRuntime, licence: LicenceView, updated_since: datetime | None, cursor: str | None,
          limit: int, with_bodies: bool):
    with Session(runtime.engine) as session:
        rows, next_cursor = service.feed_page(session, licence, updated_since=updated_since, cursor=cursor, limit=limit)
        views = [load_article(session, row.id) for row in rows] if with_bodies else []
        return rows, views, next_cursor


def _json_listing(runtime: DeliveryRuntime, rows, next_cursor: str | None) -> bytes:
    base = runtime.settings.public_base_url
    items = [{"id": a.id, "version": a.version, "status": str(a.status), "headline": a.headline,
              "canonical_url": a.canonical_url, "content_url": f"{base}/v1/content/articles/{a.id}",
              "published_at": a.published_at.isoformat(), "updated_at": a.updated_at.isoformat()} for a in rows]
    return json.dumps({"items": items, "next_cursor": next_cursor}, ensure_ascii=False).encode()


def _xml_feed(runtime: DeliveryRuntime, licence: LicenceView, views, fmt: str, newest: datetime) -> bytes:
    publisher = runtime.publisher
    fg = FeedGenerator()
    fg.id(f"{publisher.base_url}/v1/content/feed?licence={licence.id}")
    fg.title(f"{publisher.name} — licensed feed ({licence.id})")
    fg.link(href=f"{publisher.base_url}/v1/content/feed?format={fmt}", rel="self")
    fg.link(href=publisher.base_url, rel="alternate")
    fg.description(licence.terms_text())
    fg.rights(f"© {publisher.copyright_holder}. {licence.terms_text()}")
    fg.language(licence.language)
    fg.updated(newest)
    fg.lastBuildDate(newest)
    for article in views:
        if article.status == ArticleStatus.withdrawn:
            continue
        rendered = runtime.rendition(licence, article, "html")
        entry = fg.add_entry(order="append")
        entry.id(article.canonical_url)
        entry.guid(article.canonical_url, permalink=True)
        entry.title(article.headline)
        entry.link(href=article.canonical_url, rel="alternate")
        entry.published(article.published_at)
        entry.updated(article.updated_at)
        if article.byline:
            entry.author({"name": article.byline})
        if article.standfirst:
            entry.summary(article.standfirst)
        entry.content(rendered.body.decode(), type="CDATA" if fmt == "rss" else "html")
    return fg.atom_str(pretty=False) if fmt == "atom" else fg.rss_str(pretty=False)


async def serve_feed(runtime: DeliveryRuntime, *, raw_token: str | None, fmt: str | None, accept: str | None,
                     updated_since: datetime | None, cursor: str | None, limit: int, if_none_match: str | None,
                     if_modified_since: str | None) -> Outcome:
    claims, licence = await runtime.authorize(raw_token)
    chosen = negotiate_feed(fmt, accept)
    await runtime.limiter.check_token(claims.jti)
    rows, views, next_cursor = await runtime.in_thread(_page, runtime, licence, updated_since, cursor, limit,
                                                         chosen != "json")
    newest = max((a.updated_at for a in rows), default=licence.starts_at)
    body = _json_listing(runtime, rows, next_cursor) if chosen == "json" else _xml_feed(runtime, licence, views, chosen, newest)
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    conditional = render.Rendered(body, FEED_TYPES[chosen], etag, render.http_date(newest), "")
    headers: list[tuple[bytes, bytes]] = [(b"etag", etag.encode()), (b"last-modified", conditional.last_modified.encode()),
                                          (b"cache-control", b"private, no-cache"), (b"vary", b"Accept, Authorization")]
    if next_cursor:
        headers.append((b"link", f'<{runtime.settings.public_base_url}/v1/content/feed?cursor={next_cursor}>; rel="next"'.encode()))
    if not_modified(conditional, if_none_match, if_modified_since):
        return Outcome(304, headers, b"")
    usages: list[Any] = [Usage(licence.id, licence.partner_id, a.id, a.version, "feed", claims.jti)
                         for a in views if a.status != ArticleStatus.withdrawn]
    for _ in usages:
        await runtime.limiter.take_quota(licence, lambda since: runtime.used_since(licence.id, since))
    if usages:
        await runtime.writer.record(*usages)
    headers += [(b"content-type", FEED_TYPES[chosen].encode()), (b"content-length", str(len(body)).encode())]
    return Outcome(200, headers, body)
