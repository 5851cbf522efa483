"""More staff reports, each one GROUP BY over an indexed range of the per-licence daily usage rollup: deliveries per use, and what each
partner was billed beside what it was delivered (the same range, invoices by `created_at`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, func, select

from api.delivery.models import UsageLicenceDaily as Daily
from api.invoicing.models import Invoice, InvoiceStatus
from api.licensing.models import Licence
from api.partners.models import Partner
from api.reports.service import check_range, days_between, deliveries_sum, republications_sum


@dataclass(frozen=True)
class UseUsage:
    use: str
    deliveries: int
    republications: int


@dataclass(frozen=True)
class BilledDelivered:
    partner_id: str
    partner_name: str
    currency: str | None
    billed: int
    invoices: int
    deliveries: int


def usage_by_use(session: Session, *, start: date, end: date) -> list[UseUsage]:
    since, until = check_range(start, end)
    deliveries = deliveries_sum()
    rows = session.exec(
        select(Licence.use, deliveries, republications_sum()).join(Licence, col(Licence.id) == col(Daily.licence_id))
        .where(*days_between(since, until))
        .group_by(Licence.use).order_by(deliveries.desc(), Licence.use)).all()
    return [UseUsage(str(u), int(d), int(r)) for u, d, r in rows]


def billed_vs_delivered(session: Session, *, start: date, end: date, limit: int = 50) -> list[BilledDelivered]:
    """Per partner and currency: invoiced in the range (not void or draft) and copies delivered."""
    since, until = check_range(start, end)
    billed = session.exec(
        select(Invoice.partner_id, Invoice.currency, func.sum(Invoice.total), func.count())
        .where(Invoice.created_at >= since, Invoice.created_at < until,
               col(Invoice.status).in_([InvoiceStatus.open, InvoiceStatus.paid, InvoiceStatus.uncollectible]))
        .group_by(Invoice.partner_id, Invoice.currency)).all()
    delivered = dict(session.exec(
        select(Daily.partner_id, deliveries_sum()).where(*days_between(since, until))
        .group_by(Daily.partner_id)).all())
    ids = {p for p, *_ in billed} | set(delivered)
    names = dict(session.exec(select(col(Partner.id), col(Partner.name)).where(col(Partner.id).in_(ids))).all()) if ids else {}
    rows = [BilledDelivered(p, names.get(p, p), c, int(t or 0), int(n), int(delivered.get(p, 0))) for p, c, t, n in billed]
    rows += [BilledDelivered(p, names.get(p, p), None, 0, 0, int(d)) for p, d in delivered.items()
             if p not in {b[0] for b in billed}]
    return sorted(rows, key=lambda r: (-r.billed, -r.deliveries, r.partner_name))[:limit]
