"""Which metered usage is still to be billed, and from where: the billed-up-to boundary.

Every usage line of an invoice records the span it bills for its licence, [usage_from, usage_to).
A licence's usage is billed up to the latest `usage_to` among its lines that start before the end
of the window being billed; the next invoice of that licence starts exactly there. So an
invoice-now at a cut-off instant and the period run after it never bill a delivery twice, and
none falls between them. Counting happens in SQL, over the `republication` table: one row per
billable delivery with its exact instant, so a cut-off at any instant counts exactly, and the raw
usage log (bounded by retention) is never read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from api.delivery.models import Republication as Rep
from api.invoicing.models import Invoice, InvoiceLine
from api.licensing.models import BillingMode, Licence


def billed_by(line: InvoiceLine) -> list[Any] | None:
    """The conditions on `republication` that select exactly the deliveries a usage line bills (its
    licence's republications in [usage_from, usage_to), as `unbilled` counted them), or None for a
    line that bills no usage (a fee)."""
    if line.licence_id is None or line.usage_from is None or line.usage_to is None:
        return None
    return [col(Rep.licence_id) == line.licence_id, col(Rep.at) >= line.usage_from, col(Rep.at) < line.usage_to]


@dataclass(frozen=True)
class UsageSpan:
    """One licence's billable deliveries not billed yet, within a window."""

    partner_id: str
    licence_id: str
    unit_amount: int
    currency: str
    count: int
    usage_from: datetime
    usage_to: datetime


def _billed_lines(end: datetime, *, redo_period: str | None):
    """Usage lines that start before `end`, leaving out the draft of the period being (re)done."""
    stmt = (select(InvoiceLine.licence_id, func.max(InvoiceLine.usage_to).label("billed_to"))
            .join(Invoice, col(Invoice.id) == col(InvoiceLine.invoice_id))
            .where(col(InvoiceLine.usage_from).is_not(None), col(InvoiceLine.usage_from) < end))
    if redo_period is not None:
        stmt = stmt.where(or_(col(Invoice.period).is_(None), col(Invoice.period) != redo_period))
    return stmt.group_by(InvoiceLine.licence_id)


def unbilled(session: Session, *, end: datetime, start: datetime | None = None, partner_id: str | None = None,
             licence_id: str | None = None, redo_period: str | None = None) -> list[UsageSpan]:
    """Billable deliveries of usage licences in [max(start, billed-up-to), end), one span per licence.

    `redo_period`: the period whose own (draft) invoice is being redone, so its lines do not count
    as billed already."""
    billed = _billed_lines(end, redo_period=redo_period).subquery()
    stmt = (
        sql_select(col(Rep.partner_id), col(Rep.licence_id), col(Licence.amount), col(Licence.currency),
                   func.count(col(Rep.usage_id)), func.min(col(Rep.at)), billed.c.billed_to)  # seven columns
        .join(Licence, col(Licence.id) == col(Rep.licence_id))
        .outerjoin(billed, billed.c.licence_id == Rep.licence_id)
        .where(col(Rep.at) < end, col(Licence.billing_mode) == BillingMode.usage,
               or_(billed.c.billed_to.is_(None), col(Rep.at) >= billed.c.billed_to))
        .group_by(col(Rep.partner_id), col(Rep.licence_id), col(Licence.amount), col(Licence.currency),
                  billed.c.billed_to)
        .order_by(col(Rep.partner_id), col(Rep.licence_id))
    )
    if start is not None:
        stmt = stmt.where(col(Rep.at) >= start)
    if partner_id is not None:
        stmt = stmt.where(col(Rep.partner_id) == partner_id)
    if licence_id is not None:
        stmt = stmt.where(col(Rep.licence_id) == licence_id)
    spans = []
    for partner, licence, unit_amount, currency, count, first_at, billed_to in session.execute(stmt).all():
        # From the boundary when there is one (or the window's start), else from the first delivery.
        bounds = [b for b in (start, billed_to) if b is not None]
        begins = max(bounds) if bounds else first_at
        spans.append(UsageSpan(partner, licence, unit_amount, currency, int(count), begins, end))
    return spans

