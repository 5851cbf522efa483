"""Live copies, and caps on how many distinct articles a licence may have live at a time (CLA-style
"5 articles at a time").

An article is live under a licence from its first delivery under it until the partner retires the
copy or the publisher withdraws the article. Under a capped licence each live article holds a slot
(a `live_copy` row, claimed by its first delivery): the partial unique indexes on (licence, slot)
and (licence, article) among live rows make two deliveries racing for the last slot, or for the
same article, find each other, so the cap holds across API processes. A withdrawn article's slot
is freed when the next new article asks for one. Without a cap, live copies are the republications
less copies retired since their last delivery, read from tables retention never prunes.

The content path calls `admit_in_own_session` only for a capped licence and only for an article
this process has not yet seen admitted (`LicenceView.admitted`): a re-fetch costs a set lookup.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from itertools import count

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from api.audit import service as audit
from api.audit.service import Actor
from api.catalogue.models import Article, ArticleStatus
from api.core.db import utcnow
from api.delivery.errors import CopyNotLive, LiveCapReached
from api.delivery.models import LiveCopy, Republication, UsageDaily, UsageEvent
from api.delivery.snapshots import LicenceView
from api.licensing import service as licensing
from api.licensing.models import Licence

LIVE_LISTED = 200  # live articles listed per licence in the entitlements (the count is always whole)
CLAIM_ATTEMPTS = 5  # a slot lost to a concurrent delivery is looked for again this many times


@dataclass(frozen=True, slots=True)
class LiveArticle:
    article_id: str
    headline: str
    live_since: datetime


def retire_path(licence_id: str, article_id: str = "{article_id}") -> str:
    return f"/v1/licences/{licence_id}/copies/{article_id}/retire"


# --- what is live ------------------------------------------------------------------------------


def _slotted(session: Session, licence_ids: list[str]) -> dict[str, list[LiveArticle]]:
    found: dict[str, list[LiveArticle]] = {}
    if not licence_ids:
        return found
    stmt = (select(col(LiveCopy.licence_id), col(LiveCopy.article_id), col(Article.headline), col(LiveCopy.live_since))
            .join(Article, col(Article.id) == col(LiveCopy.article_id))
            .where(col(LiveCopy.licence_id).in_(licence_ids), col(LiveCopy.retired_at).is_(None),
                   col(Article.status) != ArticleStatus.withdrawn)
            .order_by(col(LiveCopy.live_since).desc(), col(LiveCopy.article_id)))
    for licence_id, *row in session.execute(stmt).all():
        found.setdefault(licence_id, []).append(LiveArticle(*row))
    return found


Pair = tuple[str, str]  # (licence id, article id)


def _last_deliveries(session: Session, pairs: list[Pair]) -> dict[Pair, datetime]:
    """When each article was last delivered under each licence. Retention prunes the oldest raw
    events first, so an article's newest raw event, when it still has one, is its last delivery;
    else its last day in the rollup (never pruned) stands for it, taken at that day's midnight: a
    copy retired that same day stays retired."""
    if not pairs:
        return {}
    licence_ids, article_ids = list({p[0] for p in pairs}), list({p[1] for p in pairs})
    raw = (select(col(UsageEvent.licence_id), col(UsageEvent.article_id), func.max(UsageEvent.at))
           .where(col(UsageEvent.licence_id).in_(licence_ids), col(UsageEvent.article_id).in_(article_ids))
           .group_by(col(UsageEvent.licence_id), col(UsageEvent.article_id)))
    daily = (select(col(UsageDaily.licence_id), col(UsageDaily.article_id), func.max(UsageDaily.day))
             .where(col(UsageDaily.licence_id).in_(licence_ids), col(UsageDaily.article_id).in_(article_ids))
             .group_by(col(UsageDaily.licence_id), col(UsageDaily.article_id)))
    last = {(licence_id, article_id): datetime.combine(day, time.min, tzinfo=UTC)
            for licence_id, article_id, day in session.execute(daily).all()}
    for licence_id, article_id, at in session.execute(raw).all():
        last[licence_id, article_id] = max(at, last.get((licence_id, article_id), at))
    return last


def _retired(session: Session, licence_ids: list[str], article_id: str | None = None) -> dict[Pair, datetime]:
    """When each article's copy under each licence was last retired."""
    stmt = (select(col(LiveCopy.licence_id), col(LiveCopy.article_id), func.max(LiveCopy.retired_at))
            .where(col(LiveCopy.licence_id).in_(licence_ids), col(LiveCopy.retired_at).is_not(None))
            .group_by(col(LiveCopy.licence_id), col(LiveCopy.article_id)))
    if article_id is not None:
        stmt = stmt.where(col(LiveCopy.article_id) == article_id)
    return {(licence_id, found): at for licence_id, found, at in session.execute(stmt).all()}


def _delivered(session: Session, licence_ids: list[str]) -> dict[str, list[LiveArticle]]:
    """Republications (the first delivery of each article) of articles not withdrawn, less the
    copies retired since their last delivery. Read from the tables retention never prunes
    (republication, usage_daily), so a copy stays live however old its deliveries are."""
    found: dict[str, list[LiveArticle]] = {}
    if not licence_ids:
        return found
    stmt = (select(col(Republication.licence_id), col(Republication.article_id), col(Article.headline),
                   col(Republication.at))
            .join(Article, col(Article.id) == col(Republication.article_id))
            .where(col(Republication.licence_id).in_(licence_ids), col(Article.status) != ArticleStatus.withdrawn)
            .order_by(col(Republication.at).desc(), col(Republication.article_id)))
    rows = session.execute(stmt).all()
    retired = _retired(session, licence_ids)
    last = _last_deliveries(session, [(row[0], row[1]) for row in rows if (row[0], row[1]) in retired])
    for licence_id, *row in rows:
        copy = LiveArticle(*row)
        ended = retired.get((licence_id, copy.article_id))
        if ended is None or last.get((licence_id, copy.article_id), copy.live_since) > ended:
            found.setdefault(licence_id, []).append(copy)
    return found


def live_by_licence(session: Session, licences: Iterable[Licence]) -> dict[str, list[LiveArticle]]:
    """Each licence's live copies, newest first, in a few queries whatever the number of licences."""
    licences = list(licences)
    found: dict[str, list[LiveArticle]] = {licence.id: [] for licence in licences}
    found.update(_slotted(session, [lic.id for lic in licences if lic.max_live_articles is not None]))
    found.update(_delivered(session, [lic.id for lic in licences if lic.max_live_articles is None]))
    return found


def live_articles(session: Session, licence: Licence) -> list[LiveArticle]:
    """The licence's live copies, newest first."""
    return live_by_licence(session, [licence])[licence.id]


def live_count(session: Session, licence_id: str) -> tuple[int, int | None]:
    """(articles live now, the licence's cap)."""
    licence = licensing.get_licence(session, licence_id)
    return len(live_articles(session, licence)), licence.max_live_articles


# --- admission at the delivery boundary ----------------------------------------------------------


def _live_rows(session: Session, licence_id: str) -> dict[str, LiveCopy]:
    stmt = select(LiveCopy).where(col(LiveCopy.licence_id) == licence_id, col(LiveCopy.retired_at).is_(None))
    return {row.article_id: row for row in session.execute(stmt).scalars().all()}


def _free_withdrawn(session: Session, rows: dict[str, LiveCopy], now: datetime) -> None:
    """A withdrawn article is not live: its copy gives its slot back."""
    if not rows:
        return
    stmt = select(col(Article.id)).where(col(Article.id).in_(list(rows)), col(Article.status) == ArticleStatus.withdrawn)
    for article_id in session.execute(stmt).scalars().all():
        row = rows.pop(article_id)
        row.retired_at, row.retired_by = now, "withdrawn"
        session.add(row)
    session.flush()


def _claim(session: Session, licence_id: str, rows: dict[str, LiveCopy], article_ids: list[str],
           now: datetime) -> None:
    taken = {row.slot for row in rows.values()}
    free = (slot for slot in count(1) if slot not in taken)
    for article_id in article_ids:
        session.add(LiveCopy(licence_id=licence_id, article_id=article_id, slot=next(free), live_since=now))
    session.flush()


def admit(session: Session, licence_id: str, article_ids: list[str], *, cap: int, now: datetime | None = None) -> None:
    """Make `article_ids` live under a capped licence, all or none: each not yet live takes a slot,
    and LiveCapReached is raised when they would not all fit. Flushes; the caller commits."""
    now = now or utcnow()
    rows = _live_rows(session, licence_id)
    wanted = [a for a in dict.fromkeys(article_ids) if a not in rows]
    if not wanted:
        return
    _free_withdrawn(session, rows, now)
    if len(rows) + len(wanted) > cap:
        live = sorted(rows)
        shown = ", ".join(live[:10]) + (f" and {len(live) - 10} more" if len(live) > 10 else "")
        fetching = f"article {wanted[0]}" if len(wanted) == 1 else f"these {len(wanted)} new articles"
        raise LiveCapReached(
            f"Licence {licence_id} allows {cap} article{'s' if cap != 1 else ''} live at a time and {len(rows)} "
            f"{'is' if len(rows) == 1 else 'are'} live ({shown or 'none'}), so {fetching} cannot go live. Retire a copy "
            f"you no longer show with POST {retire_path(licence_id)} (or on the portal's licences page) to free a "
            "slot, then fetch again.",
            max_live_articles=cap, live_articles=live, retire=retire_path(licence_id))
    _claim(session, licence_id, rows, wanted, now)


def admit_in_own_session(engine: Engine, licence: LicenceView, article_ids: list[str]) -> None:
    """`admit`, committed in its own transaction (called in a worker thread by the content path);
    a slot taken meanwhile by another process is looked for again."""
    for attempt in range(CLAIM_ATTEMPTS):
        with Session(engine) as session:
            try:
                admit(session, licence.id, article_ids, cap=licence.max_live_articles)  # type: ignore[arg-type]
                session.commit()
            except IntegrityError:
                session.rollback()
                if attempt == CLAIM_ATTEMPTS - 1:
                    raise
                continue
        licence.admitted.update(article_ids)
        return


@licensing.on_licence_change
def _seed_slots(session: Session, licence: Licence) -> None:
    """A licence that gains a cap (by amendment) gives a slot to every copy already live under it,
    so the cap counts them; with slots kept up by every admission, this finds nothing to add."""
    if licence.max_live_articles is None:
        return
    rows = _live_rows(session, licence.id)
    missing = [found for found in _delivered(session, [licence.id]).get(licence.id, []) if found.article_id not in rows]
    taken = {row.slot for row in rows.values()}
    free = (slot for slot in count(1) if slot not in taken)
    for found in missing:
        session.add(LiveCopy(licence_id=licence.id, article_id=found.article_id, slot=next(free),
                             live_since=found.live_since))
    if missing:
        session.flush()


# --- retiring a copy -----------------------------------------------------------------------------


def retire(session: Session, *, licence_id: str, article_id: str, partner_id: str, actor: Actor,
           now: datetime | None = None) -> LiveCopy:
    """The partner no longer shows its copy of an article: it stops being live (under a cap, its
    slot is free at once, in every process). Retiring a retired copy changes nothing; an article
    never delivered under the licence is CopyNotLive. Audited."""
    now = now or utcnow()
    licence = licensing.get_licence(session, licence_id, partner_id=partner_id)
    row = _live_rows(session, licence.id).get(article_id)
    if row is None:
        first = session.get(Republication, (licence.id, article_id))
        if first is None:
            raise CopyNotLive(f"Article {article_id} has not been delivered under licence {licence.id}, so there is "
                              "no copy to retire.", article_id=article_id)
        pair = (licence.id, article_id)
        retired = _retired(session, [licence.id], article_id).get(pair)
        if retired is not None and retired >= _last_deliveries(session, [pair]).get(pair, first.at):
            return session.execute(  # retired since its last delivery: nothing changes
                select(LiveCopy).where(col(LiveCopy.licence_id) == licence.id, col(LiveCopy.article_id) == article_id,
                                       col(LiveCopy.retired_at) == retired).limit(1)).scalars().one()
        row = LiveCopy(licence_id=licence.id, article_id=article_id, slot=None, live_since=first.at)
    row.retired_at, row.retired_by = now, "partner"
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="licence.copy_retired", object_type="licence", object_id=licence.id,
                 partner_id=licence.partner_id, before={"article_id": article_id, "live": True, "slot": row.slot},
                 after={"article_id": article_id, "live": False, "retired_at": now.isoformat()})
    licensing.notify_changed(session, licence)  # delivery's caches drop the licence, and its admitted set, everywhere
    return row
