"""The per-process state behind content delivery: verified tokens, licences and renditions in
memory, the usage writer, the limiter, and the poller that keeps caches fresh across processes.

Both the fast ASGI path and the documented FastAPI routes call `serve_article`, so they share
one implementation of the rules: token -> revocation -> licence -> article -> limits -> usage.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session, col

from api.core import wal
from api.core.config import Settings
from api.core.db import utcnow
from api.core.singleflight import SingleFlight
from api.delivery import caps, invalidation, keys as signing_keys, render, templates
from api.delivery.errors import ContentWithdrawn, InvalidToken, FormatNotAcceptable, NotCovered, TokenRevoked
from api.delivery.metering import UsageWriter
from api.delivery.usage_rows import Usage
from api.delivery.negotiation import Negotiator
from api.delivery.models import LicenceToken
from api.delivery import quotas
from api.delivery.quotas import Limiter
from api.delivery.snapshots import (ArticleView, LicenceView, LRUCache, ViewCache, load_active_licences, load_article,
                                    load_articles, load_licence, recent_article_ids)
from api.delivery.tokens import Claims, TokenVerifier

log = logging.getLogger("syndicate.delivery")

POLL_SECONDS = 0.5
_MISSING = object()


@dataclass(slots=True)
class Outcome:
    status: int
    headers: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...]
    body: bytes


ARTICLE_OFFERS = Negotiator([
    ("application/json", "json"), ("application/vnd.iptc.ninjs+json", "ninjs"),
    ("application/ninjs+json", "ninjs"), ("text/html", "html"),
])
_NOT_ACCEPTABLE = ("This article is available as application/json, application/vnd.iptc.ninjs+json or "
                   "text/html (or ?format=json|ninjs|html).")

# Bases (the licensed body and the rest of an article's own fields) are kept only until its
# templates are built: a few per article, soon after it is first served.
BASE_CACHE_SIZE = 2_000


def negotiate(fmt: str | None, accept: str | None) -> str:
    """`format` wins; otherwise Accept, weighed by its q-values; JSON by default."""
    if fmt:
        if fmt in render.FORMATS:
            return fmt
        raise FormatNotAcceptable(f"Unknown format {fmt!r}; use one of {', '.join(render.FORMATS)}.",
                                  available=list(render.FORMATS))
    chosen = ARTICLE_OFFERS.choose(accept)
    if chosen is None:
        raise FormatNotAcceptable(_NOT_ACCEPTABLE, available=list(render.FORMATS))
    return chosen


class DeliveryRuntime:
    def __init__(self, settings: Settings, engine: Engine, reader: Engine | None = None) -> None:
        """`engine` serves the usage writer and the poller; `reader` (by default `engine`), every
        load on a cache miss. Give it an engine of its own, made `read_only`: on SQLite a load then
        starts with a deferred BEGIN and never queues for the write lock behind the usage writer's
        commits (the writer's raw connections must not come from a pool whose connections were
        made query-only)."""
        self.settings = settings
        self.engine = engine
        self.reader = reader or engine
        self.publisher = render.Publisher(
            name=settings.publisher_name, copyright_holder=settings.copyright_holder,
            base_url=settings.public_base_url, secret=("beacon:" + settings.secret_key.get_secret_value()).encode())
        self.verifier = TokenVerifier(issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                                      cache_size=settings.delivery_token_cache_size)
        self.writer = UsageWriter(engine)
        self.limiter = Limiter(settings)
        self.licences: ViewCache = ViewCache(settings.delivery_licence_cache_size)
        self.articles: ViewCache = ViewCache(settings.delivery_article_cache_size)
        # (article id, version) -> base; (article id, version, format) -> template (None: render
        # each licence's from scratch); licence id -> its parts; (licence id, article id, version,
        # format) -> (licence view, rendition). Licence entries hold the view they were made from:
        # a reloaded licence (new terms) never gets the old one's bytes.
        self.bases = LRUCache(BASE_CACHE_SIZE)
        self.templates = LRUCache(settings.delivery_template_cache_size)
        self.licence_parts = LRUCache(settings.delivery_licence_cache_size)
        self.rendered = LRUCache(settings.delivery_rendition_cache_size)
        self.revoked: frozenset[str] = frozenset()
        self._revoked_here: set[str] = set()  # survives a concurrent reload by the poller
        self._marks: tuple[Any, ...] | None = None
        # One read per key however many requests miss it at once (a hot article after a restart or a
        # change is asked for by every connection); each waits for it, none can cancel it.
        self.licence_loads: SingleFlight[LicenceView | None] = SingleFlight()
        self.article_loads: SingleFlight[ArticleView] = SingleFlight()
        self.feed_pages: SingleFlight[Any] = SingleFlight()  # api.delivery.feeds
        self._keys_loaded_at = 0.0
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._preloader: threading.Thread | None = None
        invalidation.register(self)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Call on the serving event loop (a startup hook): the usage writer runs there."""
        self.clear()
        self._revoked_here.clear()
        self.refresh_keys()
        self.refresh_revocations()
        self._marks = self._read_marks()
        self.writer.start()
        self._stop.clear()
        self._poller = threading.Thread(target=self._poll_forever, name="syndicate-delivery-poller", daemon=True)
        self._poller.start()

    def start_preload(self) -> None:
        """Fill the caches in the background, when the settings ask for it (the app calls this once
        the server listens: the preload's CPU would otherwise delay that moment)."""
        if self.settings.delivery_preload and self._preloader is None:
            self._preloader = threading.Thread(target=self._preload_quietly, name="syndicate-delivery-preload",
                                               daemon=True)
            self._preloader.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._poller:
            self._poller.join(timeout=5)
        if self._preloader:
            self._preloader.join(timeout=5)
            self._preloader = None
        await self.writer.aclose()
        await self.limiter.disconnect()

    def clear(self) -> None:
        self.licences.invalidate()
        self.articles.invalidate()
        self.bases.clear()
        self.templates.clear()
        self.licence_parts.clear()
        self.rendered.clear()
        self.limiter.reset()

    # --- invalidation ----------------------------------------------------------------------------

    def invalidate(self, changes: set[tuple[str, str]]) -> None:
        """Called after a commit in this process (see invalidation.py)."""
        revoked = set()
        for kind, key in changes:
            if kind == "licence":
                self.licences.invalidate(key)
            elif kind == "article":
                self.articles.invalidate(key)
            elif kind == "token":
                revoked.add(key)
            elif kind == "key":
                self._keys_loaded_at = 0.0
        if revoked:
            self._revoked_here |= revoked
            self.revoked = self.revoked | revoked
        if any(kind == "key" for kind, _ in changes):
            self.refresh_keys()

    def refresh_keys(self) -> None:
        with Session(self.reader) as session:
            self.verifier.load_keys(signing_keys.verification_keys(session))
        self._keys_loaded_at = time.monotonic()

    def refresh_revocations(self) -> None:
        with Session(self.reader) as session:
            stmt = select(col(LicenceToken.jti)).where(col(LicenceToken.revoked_at).is_not(None), col(LicenceToken.expires_at) > utcnow())
            self.revoked = frozenset(session.execute(stmt).scalars().all()) | self._revoked_here

    def _read_marks(self) -> tuple[Any, ...]:
        """The generation of each kind of cached row, as every process's commits left them."""
        # A raw DBAPI connection outside any transaction: on SQLite, the engine's own connections
        # start every transaction with BEGIN IMMEDIATE, which would take the write lock twice a second.
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT name, value FROM delivery_generation")
            generations = dict(cursor.fetchall())
            cursor.close()
            if not self.writer.sqlite:
                connection.rollback()
        finally:
            connection.close()
        return tuple(generations.get(name) for name in invalidation.GENERATIONS)

    def poll_once(self) -> None:
        """Drop whatever another process changed since the last poll; on SQLite, also checkpoint
        the WAL here, off the event loop (the usage writer has automatic checkpoints turned off)."""
        marks = self._read_marks()
        if self.writer.sqlite:
            wal.checkpoint(self.engine)
        if self._marks is not None and marks != self._marks:
            old = self._marks
            changed = {name for name, now, before in zip(invalidation.GENERATIONS, marks, old) if now != before}
            if "licence" in changed:
                self.licences.invalidate()
            if "token" in changed:
                self.refresh_revocations()
            if "key" in changed:
                self.refresh_keys()
            if "article" in changed:
                self.articles.invalidate()
        self._marks = marks

    def preload(self) -> None:
        """Fill the licence and article caches in bulk (a restart would otherwise pay one miss, and
        one round trip to a thread, per licence and per article)."""
        epoch = self.licences.epoch
        with Session(self.reader) as session:
            licences = load_active_licences(session, self.licences.limit)
        for licence in licences:
            self.licences.store(licence.id, licence, epoch)
        wanted = min(self.settings.delivery_preload_articles, self.articles.limit)
        with Session(self.reader) as session:
            ids = recent_article_ids(session, wanted) if wanted else []
        loaded: list[ArticleView] = []
        for first in range(0, len(ids), 500):
            epoch = self.articles.epoch
            with Session(self.reader) as session:
                views = load_articles(session, ids[first:first + 500])
            for article in views:
                self.articles.store(article.id, article, epoch)
            loaded += views
        # The newest first, where most requests go: their templates too (the licensed body's HTML
        # parse is most of a first request's cost), while the first requests come in.
        for article in loaded:
            if self._stop.is_set():
                return
            for fmt in render.FORMATS:
                self._template(article, fmt)

    def _preload_quietly(self) -> None:
        try:
            self.preload()
        except Exception:  # noqa: BLE001 - the caches fill on demand instead
            log.exception("delivery cache preload failed")

    def _poll_forever(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 - a database blip must not kill the poller
                log.exception("delivery cache poll failed")

    # --- lookups (memory first, database on a miss, in a worker thread) ----------------------------

    async def in_thread(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    def _verify(self, raw: str) -> Claims:
        kid = self.verifier.kid_of(raw)
        # A key rotated by another process: reload, at most once a second.
        if not self.verifier.knows(kid) and time.monotonic() - self._keys_loaded_at > 1.0:
            self.refresh_keys()
        return self.verifier.verify(raw)

    def _load_licence(self, licence_id: str) -> LicenceView | None:
        with Session(self.reader) as session:
            return load_licence(session, licence_id)

    def _load_article(self, article_id: str) -> ArticleView:
        with Session(self.reader) as session:
            return load_article(session, article_id)

    def _cached_authorization(self, raw: str | None) -> tuple[Claims, LicenceView] | None:
        """The hot path: a verified token and its licence, both already in memory (no await)."""
        claims = self.verifier.cached(raw) if raw else None
        licence = self.licences.get(claims.licence_id) if claims else None
        if claims is None or licence is None:
            return None
        return self._check_authorization(claims, licence)

    def _check_authorization(self, claims: Claims, licence: LicenceView) -> tuple[Claims, LicenceView]:
        if claims.jti in self.revoked:
            raise TokenRevoked(f"Token {claims.jti} was revoked; mint a new one if the licence is still active.")
        if licence.partner_id != claims.partner_id:
            raise InvalidToken("The token's subject does not hold this licence; mint a new token.")
        licence.check_usable(time.time())
        return claims, licence

    async def authorize(self, raw: str | None) -> tuple[Claims, LicenceView]:
        found = self._cached_authorization(raw)
        if found is not None:
            return found
        if not raw:
            raise InvalidToken("Send a licence token as `Authorization: Bearer <token>` or `?token=`; "
                               "mint one with POST /v1/licences/{id}/tokens.")
        claims = self.verifier.cached(raw)
        if claims is None:
            # A signature check is CPU work of ~0.1 ms: on the loop, unless the key must be read first.
            known = self.verifier.knows(self.verifier.kid_of(raw))
            claims = self.verifier.verify(raw) if known else await self.in_thread(self._verify, raw)
        if claims.jti in self.revoked:  # before touching the database for its licence
            raise TokenRevoked(f"Token {claims.jti} was revoked; mint a new one if the licence is still active.")
        licence = self.licences.get(claims.licence_id)
        if licence is None:
            licence = await self.licence_loads.run(claims.licence_id, self._load_and_store, self.licences,
                                                   claims.licence_id, self._load_licence)
            if licence is None:
                raise InvalidToken("The token names a licence that does not exist; mint a new token.")
        return self._check_authorization(claims, licence)

    async def article(self, article_id: str) -> ArticleView:
        article = self.articles.get(article_id)
        if article is None:
            article = await self.article_loads.run(article_id, self._load_and_store, self.articles, article_id,
                                                   self._load_article)
        return article

    async def _load_and_store(self, cache: ViewCache, key: str, load) -> Any:
        epoch = cache.epoch  # before the read: a change committed during it must win
        view = await self.in_thread(load, key)
        if view is not None:
            cache.store(key, view, epoch)
        return view

    def rendition(self, licence: LicenceView, article: ArticleView, fmt: str) -> render.Rendered:
        key = (licence.id, article.id, article.version, fmt)
        found = self.rendered.get(key)
        if found is not None and found[0] is licence:
            return found[1]
        template = self._template(article, fmt)
        parts = self.licence_parts.get(licence.id)
        if parts is None or parts.licence is not licence:
            parts = templates.licence_parts(licence)
            if parts is not None:
                self.licence_parts.put(licence.id, parts)
        if template is None or parts is None:
            rendered = render.render(self.publisher, licence, article, fmt, self._base(article))
        else:
            rendered = templates.splice(self.publisher, template, parts)
        self.rendered.put(key, (licence, rendered))
        return rendered

    def _template(self, article: ArticleView, fmt: str) -> templates.Template | None:
        key = (article.id, article.version, fmt)
        template = self.templates.get(key, _MISSING)
        if template is _MISSING:
            template = templates.build(self.publisher, article, fmt, self._base(article))
            self.templates.put(key, template)
        return template

    def _base(self, article: ArticleView) -> dict[str, Any]:
        key = (article.id, article.version)
        base = self.bases.get(key)
        if base is None:
            base = render.base_json(article)
            self.bases.put(key, base)
        return base

    def _count_usage(self, licence_id: str, since: datetime) -> int:
        with Session(self.reader) as session:
            return quotas.used_since(session, licence_id, since)

    async def used_since(self, licence_id: str, since: datetime) -> int:
        return await self.in_thread(self._count_usage, licence_id, since)

    async def account(self, licence: LicenceView, usages: list[Usage]) -> quotas.QuotaStanding | None:
        """Count a delivery before its body goes out, in the order that leaves nothing taken by a
        refusal: the monthly quota (given back if a later step refuses), then any article that is
        new to the licence against its live-copy cap, then the usage record the body waits for.
        Returns the quota standing (for the RateLimit fields), None without a quota."""
        standing = None
        if licence.monthly_quota is not None:
            standing = await self.limiter.take_quota(licence, lambda since: self.used_since(licence.id, since),
                                                     len(usages))
        if licence.max_live_articles is not None:
            new = [article_id for article_id in dict.fromkeys(u.article_id for u in usages)
                   if article_id not in licence.admitted]
            if new:  # new live copies: together, or none (a feed page's)
                try:
                    await self.in_thread(caps.admit_in_own_session, self.engine, licence, new)
                except BaseException:
                    if standing is not None:
                        await self.limiter.give_back(standing, licence, len(usages))
                    raise
        # A failure here (503) leaves any new slot held: the partner's retry is served under it.
        await self.writer.record(*usages)
        return standing

    def check_article(self, licence: LicenceView, article: ArticleView, territory: str | None) -> None:
        licence.check_covers(article, territory)  # first: others' articles reveal nothing, not even a takedown
        if article.withdrawn:
            raise ContentWithdrawn(
                f"Article {article.id} was withdrawn on {article.withdrawn_at.isoformat() if article.withdrawn_at else 'request'}"
                f"{': ' + article.withdrawal_reason if article.withdrawal_reason else ''}. Remove any copy you published.",
                article_id=article.id, version=article.version)
        if time.time() < article.available_from:
            until = f" until {article.embargo_until.isoformat()}" if article.embargo_until else ""
            raise NotCovered(f"Article {article.id} is under embargo{until}; fetch it again then.")

    async def serve_article(
        self, *, raw_token: str | None, article_id: str, fmt: str | None, accept: str | None, territory: str | None,
        if_none_match: str | None, if_modified_since: str | None,
    ) -> Outcome:
        # Every step is a dictionary lookup when warm; awaits happen only on a miss (or with Redis).
        claims, licence = self._cached_authorization(raw_token) or await self.authorize(raw_token)
        chosen = negotiate(fmt, accept)
        article = self.articles.get(article_id) or await self.article(article_id)
        self.check_article(licence, article, territory)
        if self.limiter.shared:
            await self.limiter.check_token(claims.jti)
        else:
            self.limiter.check_token_here(claims.jti)
        rendered = self.rendition(licence, article, chosen)
        if (if_none_match or if_modified_since) and not_modified(rendered, if_none_match, if_modified_since):
            return Outcome(304, rendered.headers(with_body=False), b"")
        standing = await self.account(licence, [Usage(licence.id, licence.partner_id, article.id, article.version,
                                                      chosen, claims.jti)])
        if standing is not None:  # the quota's RateLimit fields, as `quotas.quota_standings` reports them
            return Outcome(200, [*rendered.ok_headers, *standing.raw_headers(time.time())], rendered.body)
        return Outcome(200, rendered.ok_headers, rendered.body)


def not_modified(rendered: render.Rendered, if_none_match: str | None, if_modified_since: str | None) -> bool:
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or rendered.etag in tags
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
            return parsedate_to_datetime(rendered.last_modified) <= since
        except (TypeError, ValueError):
            return False
    return False
