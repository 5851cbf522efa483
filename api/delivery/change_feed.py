"""The feed by change cursor: the changes a licence covers, in commit order (api/catalogue/changes.py).

A page lists the changes after the client's cursor, oldest first, each once: an article changed
three times appears three times, with each change's version and kind. The page's `change_cursor`
is where to resume; a client that stores it and asks again sees every later change exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from api.catalogue import changes
from api.catalogue.models import Article, ArticleChange
from api.core.db import utcnow
from api.core.pagination import MAX_LIMIT
from api.delivery.service import visible
from api.delivery.snapshots import LicenceView


@dataclass(frozen=True, slots=True)
class ChangePage:
    rows: list[tuple[ArticleChange, Article]]
    change_cursor: int  # resume here: the last change listed, else where the client was (or the head)
    more: bool  # more changes are waiting now


def changes_statement(licence: LicenceView, *, after: int, limit: int):
    stmt = visible(select(ArticleChange, Article).join(Article, Article.id == ArticleChange.article_id), utcnow())  # type: ignore[arg-type]
    if licence.scope in ("article", "bundle"):
        stmt = stmt.where(ArticleChange.article_id.in_(sorted(licence.article_ids) or [""]))  # type: ignore[attr-defined]
    elif licence.scope == "section_feed":
        stmt = stmt.where(Article.section == (licence.section or ""))
    return stmt.where(col(ArticleChange.seq) > after).order_by(col(ArticleChange.seq)).limit(limit + 1)


def change_page(session: Session, licence: LicenceView, *, after: int, limit: int) -> ChangePage:
    limit = max(1, min(limit, MAX_LIMIT))
    rows = [(change, article) for change, article in session.exec(changes_statement(licence, after=after, limit=limit)).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    return ChangePage(rows, rows[-1][0].seq if rows else after, more)


def covers_change(licence: LicenceView, committed: changes.Committed) -> bool:
    """Might this commit concern the licence? True when the commit did not say which articles."""
    if committed.articles is None or licence.scope == "catalogue":
        return True
    if licence.scope in ("article", "bundle"):
        return any(article_id in licence.article_ids for article_id, _ in committed.articles)
    return any(section is not None and section == licence.section for _, section in committed.articles)
