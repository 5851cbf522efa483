"""A partner's own delivery log: every metered delivery, newest first, filtered and in keyset pages.

`invoice_line` narrows it to exactly the deliveries a usage line of an invoice bills (the rule is
`invoicing.usage.billed_by`, the one the invoice was counted with), so a partner can check each line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import false
from sqlmodel import Session, col, select

from api.catalogue.models import Article
from api.core.pagination import keyset_page
from api.delivery.models import UsageEvent
from api.delivery.quotas import month_bounds
from api.invoicing import service as invoicing
from api.invoicing.usage import billed_by


class UsageKind(StrEnum):
    republication = "republication"  # the first delivery of an article under a licence: what usage billing counts
    refetch = "refetch"              # any later delivery of it: never billed


def month_start(month: str) -> datetime:
    """"2026-12" -> 2026-12-01T00:00Z (the route's pattern has checked the shape)."""
    year, number = month.split("-")
    return datetime(int(year), int(number), 1, tzinfo=UTC)


def list_usage(
    session: Session, *, partner_id: str, licence_id: str | None = None, article_id: str | None = None,
    month: str | None = None, kind: UsageKind | None = None, invoice_line_id: str | None = None,
    cursor: str | None = None, limit: int = 50,
) -> tuple[list[tuple[UsageEvent, str | None]], str | None]:
    """(delivery, article headline) pairs of the partner's own usage, newest first."""
    stmt = (select(UsageEvent, Article.headline)
            .outerjoin(Article, Article.id == UsageEvent.article_id)  # type: ignore[arg-type]
            .where(UsageEvent.partner_id == partner_id))
    if invoice_line_id is not None:
        line = invoicing.get_line(session, invoice_line_id, partner_id=partner_id)
        conditions = billed_by(line)
        stmt = stmt.where(*conditions) if conditions is not None else stmt.where(false())
    if licence_id is not None:
        stmt = stmt.where(UsageEvent.licence_id == licence_id)
    if article_id is not None:
        stmt = stmt.where(UsageEvent.article_id == article_id)
    if month is not None:
        start, end = month_bounds(month_start(month))
        stmt = stmt.where(UsageEvent.at >= start, UsageEvent.at < end)
    if kind is not None:
        stmt = stmt.where(UsageEvent.billable == (kind == UsageKind.republication))
    return keyset_page(session, stmt, columns=[col(UsageEvent.at), col(UsageEvent.id)], kinds=[datetime, str],
                       cursor=cursor, limit=limit, descending=True, key=lambda row: [row[0].at, row[0].id])
