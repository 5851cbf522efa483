"""Live copies: the articles a partner has republished under a licence and still shows.

An article is live under a licence once it has been delivered under it, until the partner retires
the copy or the publisher withdraws the article.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from api.catalogue.models import Article, ArticleStatus
from api.delivery.models import UsageEvent

LIVE_LISTED = 200  # live articles listed per licence in the entitlements (the count is always whole)


@dataclass(frozen=True, slots=True)
class LiveCopy:
    article_id: str
    headline: str
    live_since: datetime


def live_articles(session: Session, licence_id: str) -> list[LiveCopy]:
    """Live copies under a licence, newest first: its republications (the first delivery of each
    article, `billable`) of articles not withdrawn."""
    stmt = (select(UsageEvent.article_id, Article.headline, UsageEvent.at)
            .join(Article, Article.id == UsageEvent.article_id)  # type: ignore[arg-type]
            .where(UsageEvent.licence_id == licence_id, UsageEvent.billable,  # type: ignore[arg-type]
                   Article.status != ArticleStatus.withdrawn)  # type: ignore[arg-type]
            .order_by(UsageEvent.at.desc(), UsageEvent.article_id))  # type: ignore[attr-defined]
    return [LiveCopy(article_id, headline, at) for article_id, headline, at in session.execute(stmt).all()]
