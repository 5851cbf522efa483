"""An embargo that lifts by the clock is a change.

An article under embargo becomes available when its `embargo_until` passes (visibility.py), with no
write: a client following the change cursor, long-polling the feed or waiting for webhooks would not
hear of it until the article's next change (its earlier changes were hidden while it was embargoed,
and the cursor has moved past them). So a periodic job (api/catalogue/jobs.py) makes each lift a
change like the others: a new version whose revision is `embargo_lifted` (same content), its row in
the change log, the long-poll wake-up and NOTIFY that any commit of a change gives, and the
`article.changed` outbox message that sends `article.embargo_lifted` to covering licensees.

Once per embargo: `article.embargo_lift_recorded` takes the value of the `embargo_until` whose lift
is recorded. The row is re-read under the same lock an edit takes (service._lock: FOR UPDATE on
PostgreSQL, SQLite serialises writers) and the marker checked again, so two workers running the job
at once record a lift once; a new embargo (another `embargo_until`) is recorded when it lifts in turn.
An article changed after its embargo ended (an edit committed since, or one created with an embargo
already past) has been announced by that change: it is only marked.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, text
from sqlmodel import Session, col, select

from api.audit import service as audit
from api.catalogue import service
from api.catalogue.models import EMBARGO_LIFT_PENDING, Article, ArticleChange, ArticleStatus
from api.core.db import utcnow
from api.outbox import service as outbox

CHANGE = "embargo_lifted"
BATCH = 200  # articles per transaction; the job runs again until none is left


def _unrecorded(now: datetime):
    """SQL: the embargo ended by `now` and its end is not recorded yet. It states EMBARGO_LIFT_PENDING
    term for term, so both databases prove the partial index `ix_article_embargo_due` applies."""
    return and_(text(EMBARGO_LIFT_PENDING), col(Article.embargo_until) <= now,
                col(Article.status) != ArticleStatus.withdrawn)


def due(session: Session, now: datetime, limit: int = BATCH) -> list[str]:
    """Articles whose embargo has ended since the last run, earliest lift first."""
    stmt = select(Article.id).where(_unrecorded(now)).order_by(col(Article.embargo_until), col(Article.id)).limit(limit)
    return list(session.exec(stmt).all())


def record_lift(session: Session, article_id: str, now: datetime) -> bool:
    """Record the lift of the article's embargo; False when there is none to record (any more)."""
    article = session.get(Article, article_id)
    if article is None:
        return False
    service._lock(session, article)  # another worker may have recorded it meanwhile: check again under the lock
    ended = article.embargo_until
    if (ended is None or ended > now or article.status == ArticleStatus.withdrawn
            or article.embargo_lift_recorded == ended):
        return False
    article.embargo_lift_recorded = ended
    article.status = ArticleStatus.published  # what staff and the public listing read; serving went by the time
    session.add(article)
    told = session.exec(select(exists().where(col(ArticleChange.article_id) == article.id,
                                              col(ArticleChange.committed_at) >= ended))).one()
    if told:
        session.flush()
        return False
    article.version += 1
    service._touch(session, article)
    service._add_revision(session, article, change=CHANGE)
    audit.record(session, actor=audit.Actor.system(), action=f"article.{CHANGE}", object_type="article",
                 object_id=article.id, after={"version": article.version, "embargo_until": ended.isoformat()})
    outbox.enqueue(session, "article.changed", {"article_id": article.id, "version": article.version, "change": CHANGE,
                                              "occurred_at": ended.isoformat()},
                   dedupe_key=f"article-changed:{article.id}:{article.version}")
    session.flush()
    return True


def record_lifts(session: Session, now: datetime | None = None, limit: int = BATCH) -> int:
    """Record every lift due at `now` (up to `limit`), in the caller's transaction; the number recorded."""
    now = now or utcnow()
    return sum(record_lift(session, article_id, now) for article_id in due(session, now, limit))
