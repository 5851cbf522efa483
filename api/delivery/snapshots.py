"""Immutable, in-memory views of licences and articles: what the hot path needs, read once, and
the bounded caches that hold them."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from typing import Any

from sqlmodel import Session, select

from api.catalogue import service as catalogue
from api.catalogue.models import Article, ArticleStatus
from api.catalogue.visibility import available_from
from api.delivery.errors import ContentArticleNotFound, LicenceNotActive, NotCovered
from api.core.db import utcnow
from api.licensing import service as licensing
from api.licensing.models import Licence, QuotaGrant
from api.licensing.states import LicenceState


@dataclass(frozen=True, slots=True)
class LicenceView:
    id: str
    partner_id: str
    state: str
    scope: str
    article_ids: frozenset[str]
    section: str | None
    use: str
    territories: tuple[str, ...]
    language: str
    translation: bool
    starts_at: datetime
    ends_at: datetime
    starts_ts: float
    ends_ts: float
    monthly_quota: int | None
    conditions: tuple[str, ...]
    # Time-limited quota grants as (extra deliveries a month, from, until) in POSIX seconds.
    quota_grants: tuple[tuple[int, float, float], ...] = ()
    max_live_articles: int | None = None
    # Capped licences: articles this process has seen admitted as live (api/delivery/caps.py). A
    # retirement changes the licence, which replaces this view (and so this set) in every process.
    admitted: set[str] = field(default_factory=set, compare=False, hash=False, repr=False)

    @classmethod
    def of(cls, licence: Licence, grants: Iterable[QuotaGrant] = ()) -> LicenceView:
        return cls(
            id=licence.id, partner_id=licence.partner_id, state=str(licence.state), scope=str(licence.scope),
            article_ids=frozenset(licence.article_ids or ()), section=licence.section, use=str(licence.use),
            territories=tuple(licence.territories or ()), language=licence.language, translation=licence.translation,
            starts_at=licence.starts_at, ends_at=licence.ends_at, starts_ts=licence.starts_at.timestamp(),
            ends_ts=licence.ends_at.timestamp(), monthly_quota=licence.monthly_quota,
            conditions=tuple(licence.conditions or ()), max_live_articles=licence.max_live_articles,
            quota_grants=tuple((g.extra, g.starts_at.timestamp(), g.expires_at.timestamp()) for g in grants),
        )

    def quota_at(self, now: float) -> int | None:
        """The monthly quota in force at `now`: the licence's own plus every grant running then."""
        if self.monthly_quota is None or not self.quota_grants:
            return self.monthly_quota
        return self.monthly_quota + sum(extra for extra, start, end in self.quota_grants if start <= now < end)

    def check_usable(self, now: float) -> None:
        if self.state == LicenceState.awaiting_payment:
            raise LicenceNotActive(f"Licence {self.id} is awaiting payment; its tokens give access once its invoice "
                                   "is paid.", licence_status=self.state)
        if self.state != LicenceState.active:
            raise LicenceNotActive(f"Licence {self.id} is {self.state}; its tokens no longer give access. "
                                   "Contact the licensing desk.", licence_status=self.state)
        if now < self.starts_ts:
            raise LicenceNotActive(f"Licence {self.id} starts at {self.starts_at.isoformat()}.")
        if now >= self.ends_ts:
            raise LicenceNotActive(f"Licence {self.id} ended at {self.ends_at.isoformat()}; request a new licence.")

    def covers(self, article: ArticleView) -> bool:
        if not article.licensable:
            return False
        if self.scope in ("article", "bundle"):
            return article.id in self.article_ids
        if self.scope == "section_feed":
            return article.section is not None and article.section == self.section
        return self.scope == "catalogue"

    def check_covers(self, article: ArticleView, territory: str | None) -> None:
        if not self.covers(article):
            raise NotCovered(f"Licence {self.id} ({self.scope}) does not cover article {article.id}; "
                             "request a licence that includes it.")
        if territory and self.territories and territory.upper() not in self.territories and "WW" not in self.territories:
            raise NotCovered(f"Licence {self.id} covers {', '.join(self.territories)}, not {territory.upper()}.")

    def terms_text(self) -> str:
        parts = [f"Licence {self.id}: {self.use} use", f"scope {self.scope.replace('_', ' ')}",
                 f"territories {', '.join(self.territories) or 'as agreed'}", f"language {self.language}",
                 f"from {self.starts_at.date().isoformat()} to {self.ends_at.date().isoformat()}"]
        if self.monthly_quota is not None:
            parts.append(f"up to {self.monthly_quota} deliveries a month")
        if self.max_live_articles is not None:
            parts.append(f"up to {self.max_live_articles} article{'s' if self.max_live_articles > 1 else ''} live at a time")
        text = ", ".join(parts) + "."
        if self.conditions:
            text += " Conditions: " + "; ".join(self.conditions) + "."
        return text + " Keep the attribution and canonical link; do not edit the meaning; remove on takedown."


@dataclass(frozen=True, slots=True)
class AssetView:
    position: int
    kind: str
    url: str | None
    caption: str | None
    credit: str | None
    relicensable: bool


@dataclass(frozen=True, slots=True)
class ArticleView:
    id: str
    version: int
    status: str
    # When the article may be served (a POSIX time): 0 when published, its embargo's end, or +inf
    # when it is embargoed without a date. Compared per request, so an embargo lifts on time.
    available_from: float
    licensable: bool
    section: str | None
    language: str
    headline: str
    standfirst: str | None
    byline: str | None
    authors: tuple[str, ...]
    tags: tuple[str, ...]
    canonical_url: str
    body_html: str
    body_text: str
    word_count: int
    published_at: datetime
    updated_at: datetime
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    correction_note: str | None
    assets: tuple[AssetView, ...]

    embargo_until: datetime | None
    # hash() of `body_html` when the body, text and word count above are the licensed copy the
    # catalogue stored at write (so rendering parses nothing); None when they are the body as
    # stored. A view whose body is replaced (a past version) no longer matches, so it is made again.
    licensed_hash: int | None = None

    @property
    def withdrawn(self) -> bool:
        return self.status == ArticleStatus.withdrawn

    @property
    def body_is_licensed(self) -> bool:
        return self.licensed_hash is not None and hash(self.body_html) == self.licensed_hash


def load_licence(session: Session, licence_id: str) -> LicenceView | None:
    licence = session.get(Licence, licence_id)
    if licence is None:
        return None
    grants = licensing.quota_grants(session, licence.id, live_at=utcnow()) if licence.monthly_quota is not None else ()
    return LicenceView.of(licence, grants)


def licence_views(session: Session, licences: Sequence[Licence], *, now: datetime) -> list[LicenceView]:
    """Views of these licences, each with its quota grants not yet ended at `now`, in one query
    whatever their number (none when no licence has a monthly quota)."""
    grants = licensing.quota_grants_by_licence(
        session, [licence.id for licence in licences if licence.monthly_quota is not None], live_at=now)
    return [LicenceView.of(licence, grants.get(licence.id, ())) for licence in licences]


def load_active_licences(session: Session, limit: int) -> list[LicenceView]:
    """Views of up to `limit` active licences that have not ended, in two queries at most."""
    now = utcnow()
    stmt = (select(Licence).where(Licence.state == LicenceState.active, Licence.ends_at > now)
            .order_by(Licence.ends_at.desc()).limit(limit))  # type: ignore[attr-defined]
    return licence_views(session, list(session.exec(stmt).all()), now=now)


def recent_article_ids(session: Session, limit: int) -> list[str]:
    """The `limit` most recently updated articles (where most traffic goes), newest first."""
    stmt = select(Article.id).order_by(Article.updated_at.desc(), Article.id.desc()).limit(limit)  # type: ignore[attr-defined]
    return list(session.exec(stmt).all())


def load_article(session: Session, article_id: str) -> ArticleView:
    found = load_articles(session, [article_id])
    if not found:
        raise ContentArticleNotFound(f"No article {article_id} in the catalogue.")
    return found[0]


def load_articles(session: Session, article_ids: list[str]) -> list[ArticleView]:
    """Views of the articles that exist among `article_ids`, in that order, in two queries."""
    return [_article_view(article, assets) for article, assets in catalogue.article_rows(session, article_ids)]


def _article_view(article, assets) -> ArticleView:
    body_html, body_text, words = article.body_html, article.body_text, article.word_count
    licensed_hash = None
    if article.licensed_from is not None and article.licensed_from == article.content_hash:
        if article.licensed_html is not None:  # else the body needs nothing removed: it is its own copy
            body_html, body_text, words = article.licensed_html, article.licensed_text or "", article.licensed_words or 0
        licensed_hash = hash(body_html)
    return ArticleView(
        id=article.id, version=article.version, status=str(article.status), available_from=available_from(article),
        licensable=article.licensable, section=article.section, language=article.language, headline=article.headline,
        standfirst=article.standfirst, byline=article.byline, authors=tuple(article.authors or ()),
        tags=tuple(article.tags or ()), canonical_url=article.canonical_url, body_html=body_html,
        body_text=body_text, word_count=words, published_at=article.published_at,
        updated_at=article.updated_at, withdrawn_at=article.withdrawn_at, withdrawal_reason=article.withdrawal_reason,
        correction_note=article.correction_note, embargo_until=article.embargo_until,
        assets=tuple(AssetView(a.position, a.kind, a.url, a.caption, a.credit, a.relicensable) for a in assets),
        licensed_hash=licensed_hash,
    )


_epochs = count(1)


class LRUCache(OrderedDict):
    """At most `limit` entries; past it the least recently used goes, one at a time, in O(1).
    Safe to read while another thread drops entries (a concurrent removal only loses the recency)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = max(1, limit)

    def get(self, key: Any, default: Any = None) -> Any:
        value = OrderedDict.get(self, key, default)
        if value is not default:
            try:
                self.move_to_end(key)
            except KeyError:  # dropped meanwhile by another thread
                pass
        return value

    def put(self, key: Any, value: Any) -> None:
        while len(self) >= self.limit and key not in self:
            try:
                self.popitem(last=False)
            except KeyError:  # emptied meanwhile by another thread
                break
        self[key] = value


class ViewCache(LRUCache):
    """Views by id: at most `limit` of them (the least recently used is evicted first), and an
    `epoch` that moves on every invalidation.

    A view read from the database while an invalidation runs may already be stale, and storing it
    would serve it until the next change. So a reader notes `epoch` before its read and stores with
    `store(key, view, epoch)`, which keeps the view only if no invalidation came in between.
    Invalidations run on other threads (the poller, threads committing a change), so `invalidate`
    moves the epoch before it drops entries, and `store` looks again after it writes.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.epoch = 0

    def invalidate(self, key: Any = None) -> None:
        """Drop `key` (or everything) and fail every store begun before now."""
        self.epoch = next(_epochs)
        if key is None:
            self.clear()
        else:
            self.pop(key, None)

    def store(self, key: Any, view: Any, epoch: int) -> None:
        if self.epoch != epoch:
            return
        self.put(key, view)
        if self.epoch != epoch:
            self.pop(key, None)
