"""`GET /v1/content/feed`: what a licence covers, as a JSON sync listing or an Atom/RSS feed.

The JSON listing carries no bodies (fetch each article; that fetch is metered); Atom and RSS
carry the licensed body and attribution of each entry, so every entry is metered as a delivery,
and a page is served whole or not at all (its entries must all fit in the licence's quota).

Takedowns show in every format, so a licensee's system learns of them from the feed it reads:
- JSON: the article stays listed, with `status: withdrawn`;
- Atom: an RFC 6721 tombstone, `<at:deleted-entry ref="{entry id}" when="{withdrawn at}">`, with
  the reason as `at:comment`;
- RSS has no standard for this. A withdrawn article appears as an item with the same `guid` as
  its entry (so readers that update items by guid replace it), the title prefixed "Withdrawn: ",
  a `<category>withdrawn</category>` and, as its description, the reason and the request to remove
  the copy; it carries no body.
Tombstones are not deliveries: they are not metered and take no quota.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree
from sqlmodel import Session

from api.catalogue import changes
from api.core.errors import BadCursor, ValidationFailed
from api.delivery import change_feed, render, service
from api.delivery.errors import FormatNotAcceptable
from api.delivery.longpoll import ChangeNotifier
from api.delivery.usage_rows import Usage
from api.delivery.negotiation import Negotiator
from api.delivery.runtime import DeliveryRuntime, Outcome, not_modified
from api.delivery.snapshots import ArticleView, LicenceView, load_articles

FEED_TYPES = {"json": "application/json", "atom": "application/atom+xml", "rss": "application/rss+xml"}
FEED_OFFERS = Negotiator([
    ("application/json", "json"), ("application/atom+xml", "atom"), ("application/rss+xml", "rss"),
    ("application/xml", "atom"), ("text/xml", "atom"),
])
TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"


def negotiate_feed(fmt: str | None, accept: str | None) -> str:
    if fmt:
        if fmt not in FEED_TYPES:
            raise FormatNotAcceptable(f"Unknown feed format {fmt!r}; use json, atom or rss.",
                                      available=list(FEED_TYPES))
        return fmt
    chosen = FEED_OFFERS.choose(accept)
    if chosen is None:
        raise FormatNotAcceptable("The feed is available as application/json, application/atom+xml or "
                                  "application/rss+xml (or ?format=json|atom|rss).", available=list(FEED_TYPES))
    return chosen


class _Tombstones(BaseExtension):
    """RFC 6721 `at:deleted-entry` elements on an Atom feed (feedgen has no support of its own)."""

    def __init__(self) -> None:
        self.deleted: list[ArticleView] = []

    def extend_ns(self) -> dict[str, str]:
        return {"at": TOMBSTONES_NS}

    def extend_atom(self, feed):
        for article in self.deleted:
            when = article.withdrawn_at or article.updated_at
            element = etree.SubElement(feed, f"{{{TOMBSTONES_NS}}}deleted-entry", ref=article.canonical_url,
                                       when=when.isoformat())
            etree.SubElement(element, f"{{{ATOM_NS}}}link", rel="alternate", href=article.canonical_url)
            comment = etree.SubElement(element, f"{{{TOMBSTONES_NS}}}comment")
            comment.text = _withdrawal_note(article)
        return feed


class _NoEntryExtension(BaseEntryExtension):
    pass


def _withdrawal_note(article: ArticleView) -> str:
    reason = f": {article.withdrawal_reason}" if article.withdrawal_reason else ""
    return f"Withdrawn by the publisher{reason}. Remove any copy you published."


@dataclass
class _Listing:
    rows: list[Any]  # articles, in listing order
    changes: list[Any] | None  # by change cursor: the change behind each row
    next_cursor: str | None
    change_cursor: int  # where a client resumes following changes
    views: list[ArticleView]


# A snapshot page's `cursor` carries the change head read by its first page after this mark: following
# changes from there afterwards is safe, whereas a later page's head could skip a change that
# committed late with a timestamp before the pages already read.
_SYNC_MARK = "~"


def _page(runtime: DeliveryRuntime, licence: LicenceView, updated_since: datetime | None, cursor: str | None,
          after: int | None, limit: int, with_bodies: bool) -> _Listing:
    with Session(runtime.reader) as session:
        if after is not None:
            page = change_feed.change_page(session, licence, after=after, limit=limit)
            rows = [article for _, article in page.rows]
            if with_bodies:  # a feed entry per article: its latest state, where its last change was
                rows = list({a.id: a for a in reversed(rows)}.values())[::-1]
            views = load_articles(session, [row.id for row in rows]) if with_bodies else []
            return _Listing(rows, [change for change, _ in page.rows], changes.encode(page.change_cursor) if page.more
                            else None, page.change_cursor, views)
        keyset, _, mark = (cursor or "").partition(_SYNC_MARK)
        start = _decode_change_cursor(mark, "cursor") if mark else changes.head(session)  # before the listing: no gap
        rows, next_cursor = service.feed_page(session, licence, updated_since=updated_since, cursor=keyset or None,
                                              limit=limit)
        views = load_articles(session, [row.id for row in rows]) if with_bodies else []
        return _Listing(rows, None, f"{next_cursor}{_SYNC_MARK}{start}" if next_cursor else None, start, views)


async def _shared_page(runtime: DeliveryRuntime, licence: LicenceView, *args: Any) -> _Listing:
    """The page, read once for every request asking the same thing at the same moment (a crowd of
    long-pollers woken by one commit), keyed by everything that determines it."""
    return await runtime.feed_pages.run((licence, *args), runtime.in_thread, _page, runtime, licence, *args)


def _decode_change_cursor(value: str, name: str) -> int:
    try:
        return changes.decode(value)
    except ValueError:
        raise BadCursor(f"`{name}` is not a change cursor this feed gave out; use `change_cursor` from a feed page "
                        "or a webhook, or 0 to follow every change from the start.") from None


def _json_listing(runtime: DeliveryRuntime, listing: _Listing) -> bytes:
    base = runtime.settings.public_base_url
    items = []
    for index, a in enumerate(listing.rows):
        item = {"id": a.id, "version": a.version, "status": str(a.status), "headline": a.headline,
                "canonical_url": a.canonical_url, "content_url": f"{base}/v1/content/articles/{a.id}",
                "published_at": a.published_at.isoformat(), "updated_at": a.updated_at.isoformat()}
        if listing.changes is not None:
            change = listing.changes[index]
            item.update(version=change.version, change=change.change, change_cursor=changes.encode(change.seq),
                        changed_at=change.committed_at.isoformat())
        items.append(item)
    return json.dumps({"items": items, "next_cursor": listing.next_cursor,
                       "change_cursor": changes.encode(listing.change_cursor)}, ensure_ascii=False).encode()


def _xml_feed(runtime: DeliveryRuntime, licence: LicenceView, views: list[ArticleView], fmt: str,
              newest: datetime, self_url: str) -> bytes:
    publisher = runtime.publisher
    fg = FeedGenerator()
    tombstones = [a for a in views if a.withdrawn]
    if fmt == "atom" and tombstones:
        fg.register_extension("tombstones", _Tombstones, _NoEntryExtension, atom=True, rss=False)
        fg.tombstones.deleted = tombstones
    fg.id(f"{publisher.base_url}/v1/content/feed?licence={licence.id}")
    fg.title(f"{publisher.name} — licensed feed ({licence.id})")
    fg.link(href=self_url, rel="self")
    fg.link(href=publisher.base_url, rel="alternate")
    fg.description(licence.terms_text())
    fg.rights(f"© {publisher.copyright_holder}. {licence.terms_text()}")
    fg.language(licence.language)
    fg.updated(newest)
    fg.lastBuildDate(newest)
    for article in views:
        if article.withdrawn and fmt == "atom":
            continue  # a tombstone, above
        entry = fg.add_entry(order="append")
        entry.id(article.canonical_url)
        entry.guid(article.canonical_url, permalink=True)
        entry.link(href=article.canonical_url, rel="alternate")
        entry.published(article.published_at)
        entry.updated(article.updated_at)
        if article.withdrawn:  # RSS: see the module docstring
            entry.title(f"Withdrawn: {article.headline}")
            entry.category({"term": "withdrawn"})
            entry.description(_withdrawal_note(article))
            continue
        entry.title(article.headline)
        if article.byline:
            entry.author({"name": article.byline})
        if article.standfirst:
            entry.summary(article.standfirst)
        entry.content(runtime.rendition(licence, article, "html").body.decode(), type="CDATA" if fmt == "rss" else "html")
    return fg.atom_str(pretty=False) if fmt == "atom" else fg.rss_str(pretty=False)


def _feed_url(runtime: DeliveryRuntime, **params: Any) -> str:
    query = urlencode({k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items() if v is not None})
    return f"{runtime.settings.public_base_url}/v1/content/feed?{query}"


async def serve_feed(runtime: DeliveryRuntime, *, raw_token: str | None, fmt: str | None, accept: str | None,
                     updated_since: datetime | None, cursor: str | None, limit: int, if_none_match: str | None,
                     if_modified_since: str | None, change_cursor: str | None = None, wait: int | None = None,
                     notifier: ChangeNotifier | None = None) -> Outcome:
    claims, licence = await runtime.authorize(raw_token)
    chosen = negotiate_feed(fmt, accept)
    if change_cursor is not None and (cursor is not None or updated_since is not None):
        raise ValidationFailed("Send `change_cursor` alone: it replaces `cursor` and `updated_since`.",
                               errors=[{"field": "change_cursor", "message": "not with cursor or updated_since",
                                        "type": "conflict"}])
    after = None if change_cursor is None else _decode_change_cursor(change_cursor, "change_cursor")
    await runtime.limiter.check_token(claims.jti)
    listing = await _shared_page(runtime, licence, updated_since, cursor, after, limit, chosen != "json")
    timed_out = False
    if wait and not listing.rows and notifier is not None:
        # Hold the request until a commit that might concern the licence, then look once more.
        deadline, waited_from = time.monotonic() + wait, listing.change_cursor
        while not listing.rows:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await notifier.wait(licence, waited_from, remaining):
                timed_out = True
                break
            # The commits that woke us do not wake us again (one the listing hides, e.g. under embargo).
            waited_from = max(waited_from, notifier.head)
            listing = await _shared_page(runtime, licence, updated_since, cursor, after, limit, chosen != "json")
    rows, views, next_cursor = listing.rows, listing.views, listing.next_cursor
    newest = max((a.updated_at for a in rows), default=licence.starts_at)
    self_url = _feed_url(runtime, format=chosen, limit=limit, updated_since=updated_since, cursor=cursor,
                         change_cursor=change_cursor)
    body = (_json_listing(runtime, listing) if chosen == "json"
            else _xml_feed(runtime, licence, views, chosen, newest, self_url))
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    conditional = render.Rendered(body, FEED_TYPES[chosen], etag, render.http_date(newest), "")
    headers: list[tuple[bytes, bytes]] = [(b"etag", etag.encode()), (b"last-modified", conditional.last_modified.encode()),
                                          (b"cache-control", b"private, no-cache"), (b"vary", b"Accept, Authorization"),
                                          (b"syndicate-change-cursor", changes.encode(listing.change_cursor).encode())]
    if next_cursor:
        # The same listing, one page on: the same format, page size and sync point.
        following = (_feed_url(runtime, format=chosen, limit=limit, change_cursor=next_cursor) if after is not None
                     else _feed_url(runtime, format=chosen, limit=limit, updated_since=updated_since, cursor=next_cursor))
        headers.append((b"link", f'<{following}>; rel="next"'.encode()))
    if timed_out and (change_cursor is not None or if_none_match):
        return Outcome(304, headers, b"")  # nothing new in the time the client was willing to wait
    if not_modified(conditional, if_none_match, if_modified_since):
        return Outcome(304, headers, b"")
    usages: list[Any] = [Usage(licence.id, licence.partner_id, a.id, a.version, "feed", claims.jti)
                         for a in views if not a.withdrawn]
    if usages:
        standing = await runtime.account(licence, usages)
        if standing is not None:
            headers += standing.raw_headers(time.time())
    headers += [(b"content-type", FEED_TYPES[chosen].encode()), (b"content-length", str(len(body)).encode())]
    return Outcome(200, headers, body)
