"""A partner's own delivery log: every metered delivery, newest first, filtered and in keyset pages.

`invoice_line` narrows it to exactly the deliveries a usage line of an invoice bills (the rule is
`invoicing.usage.billed_by`, the one the invoice was counted with), so a partner can check each line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import and_
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from api.catalogue.models import Article
from api.core.months import month_bounds, parse_month
from api.core.pagination import keyset_page
from api.delivery.models import Republication as Rep
from api.delivery.models import UsageEvent
from api.invoicing import service as invoicing
from api.invoicing.models import InvoiceLine
from api.invoicing.usage import billed_by


class UsageKind(StrEnum):
    republication = "republication"  # the first delivery of an article under a licence: what usage billing counts
    refetch = "refetch"              # any later delivery of it: never billed


@dataclass(frozen=True, slots=True)
class Delivery:
    """One metered delivery as the listing shows it. A billed delivery whose raw event retention has
    removed is still listed, from its republication row: its format and version are then unknown."""

    id: str
    at: datetime
    licence_id: str
    article_id: str
    article_version: int | None
    format: str | None
    billable: bool
    token_id: str | None

    @classmethod
    def of(cls, event: UsageEvent) -> Delivery:
        return cls(event.id, event.at, event.licence_id, event.article_id, event.article_version, event.format,
                   event.billable, event.token_id)


def list_usage(
    session: Session, *, partner_id: str, licence_id: str | None = None, article_id: str | None = None,
    month: str | None = None, kind: UsageKind | None = None, invoice_line_id: str | None = None,
    cursor: str | None = None, limit: int = 50,
) -> tuple[list[tuple[Delivery, str | None]], str | None]:
    """(delivery, article headline) pairs of the partner's own usage, newest first."""
    if invoice_line_id is not None:
        line = invoicing.get_line(session, invoice_line_id, partner_id=partner_id)
        return _billed(session, line, partner_id=partner_id, licence_id=licence_id, article_id=article_id,
                       month=month, kind=kind, cursor=cursor, limit=limit)
    stmt = (select(UsageEvent, Article.headline)
            .outerjoin(Article, Article.id == UsageEvent.article_id)  # type: ignore[arg-type]
            .where(UsageEvent.partner_id == partner_id))
    if licence_id is not None:
        stmt = stmt.where(UsageEvent.licence_id == licence_id)
    if article_id is not None:
        stmt = stmt.where(UsageEvent.article_id == article_id)
    if month is not None:
        start, end = month_bounds(parse_month(month))
        stmt = stmt.where(UsageEvent.at >= start, UsageEvent.at < end)
    if kind is not None:
        stmt = stmt.where(UsageEvent.billable == (kind == UsageKind.republication))
    rows, next_cursor = keyset_page(session, stmt, columns=[col(UsageEvent.at), col(UsageEvent.id)],
                                    kinds=[datetime, str], cursor=cursor, limit=limit, descending=True,
                                    key=lambda row: [row[0].at, row[0].id])
    return [(Delivery.of(event), headline) for event, headline in rows], next_cursor


def _billed(
    session: Session, line: InvoiceLine, *, partner_id: str, licence_id: str | None, article_id: str | None,
    month: str | None, kind: UsageKind | None, cursor: str | None, limit: int,
) -> tuple[list[tuple[Delivery, str | None]], str | None]:
    """The deliveries a usage line bills, read from the republications (never pruned, what the line
    was counted from), so they add up to its quantity however long ago it was; the raw event, while
    retention keeps it, adds the format, version and token."""
    conditions = billed_by(line)
    if conditions is None or kind == UsageKind.refetch:
        return [], None
    stmt = (sql_select(Rep, UsageEvent, col(Article.headline))
            .outerjoin(UsageEvent, and_(col(UsageEvent.id) == col(Rep.usage_id), col(UsageEvent.at) == col(Rep.at)))
            .outerjoin(Article, col(Article.id) == col(Rep.article_id))
            .where(col(Rep.partner_id) == partner_id, *conditions))
    if licence_id is not None:
        stmt = stmt.where(col(Rep.licence_id) == licence_id)
    if article_id is not None:
        stmt = stmt.where(col(Rep.article_id) == article_id)
    if month is not None:
        start, end = month_bounds(parse_month(month))
        stmt = stmt.where(col(Rep.at) >= start, col(Rep.at) < end)
    rows, next_cursor = keyset_page(session, stmt, columns=[col(Rep.at), col(Rep.usage_id)], kinds=[datetime, str],
                                    cursor=cursor, limit=limit, descending=True,
                                    key=lambda row: [row[0].at, row[0].usage_id])
    found = []
    for rep, event, headline in rows:
        delivery = Delivery.of(event) if event is not None else Delivery(
            rep.usage_id, rep.at, rep.licence_id, rep.article_id, None, None, True, None)
        found.append((delivery, headline))
    return found, next_cursor
