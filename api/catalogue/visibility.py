"""When an article may be shown: the one statement of the embargo and withdrawal rule.

An article is *under embargo* while its `embargo_until` lies ahead, or when it is marked
`embargoed` with no date (held until someone sets one). It is *available* when it is neither
withdrawn nor under embargo. The public catalogue lists and shows available articles only;
delivery's feeds keep withdrawn ones (they announce the takedown) and so ask only about the
embargo; the content fast path compares `available_from` with the clock on every request.

Each rule has a Python form (for an article in hand) and an SQL form (for a listing); the
tests check they agree.
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement

from api.catalogue.models import Article, ArticleStatus
from api.core.db import utcnow


def available_from(article: Article) -> float:
    """The POSIX time from which the article is out of embargo: 0 when it has none, the embargo's
    end, or +inf while it is embargoed without a date (withdrawal is a separate question)."""
    if article.embargo_until is not None:
        return article.embargo_until.timestamp()
    return math.inf if article.status == ArticleStatus.embargoed else 0.0


def under_embargo(article: Article, at: datetime | None = None) -> bool:
    return (at or utcnow()).timestamp() < available_from(article)


def is_available(article: Article, at: datetime | None = None) -> bool:
    """Not withdrawn and not under embargo."""
    return article.status != ArticleStatus.withdrawn and not under_embargo(article, at)


def out_of_embargo_clause(now: datetime) -> ColumnElement[bool]:
    """SQL for `not under_embargo(article, now)`."""
    undated = and_(Article.embargo_until.is_(None), Article.status != ArticleStatus.embargoed)  # type: ignore[union-attr,arg-type]
    return or_(undated, Article.embargo_until <= now)  # type: ignore[operator,arg-type]


def available_clause(now: datetime) -> ColumnElement[bool]:
    """SQL for `is_available(article, now)`."""
    return and_(Article.status != ArticleStatus.withdrawn, out_of_embargo_clause(now))  # type: ignore[arg-type]
