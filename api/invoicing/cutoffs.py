"""Invoice now: one partner's (or one licence's) usage billed up to a cut-off instant, and a
preview of what the next period run will bill.

The invoice-now draft is written in the caller's transaction under the partner's lock, its lines
recording the span each licence is billed for; the provider is called afterwards by the outbox
(`invoicing.issue_invoice`), never inside the request. The period run that follows starts each
licence exactly at the cut-off (see usage.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, select

from api.audit import service as audit
from api.audit.service import Actor
from api.core.db import utcnow
from api.invoicing import issuing, periods
from api.invoicing.models import Invoice, InvoiceKind, InvoiceStatus
from api.invoicing.store import claim_invoice, lock_partner, set_lines
from api.invoicing.usage import unbilled
from api.licensing import service as licensing
from api.partners import service as partners
from billing import LineSpec
from api.invoicing.errors import BadCutoff, NothingToInvoice


def invoice_now(session: Session, *, partner_id: str | None = None, licence_id: str | None = None,
                cutoff: datetime | None = None, provider: str, actor: Actor) -> Invoice:
    """Bill the partner's (or, with `licence_id`, that licence's) usage not billed yet, up to
    `cutoff` (default now), as one invoice sent by the worker. Raises NothingToInvoice when there is
    none. The next invoice of each licence billed here starts exactly at `cutoff`."""
    now = utcnow()
    cutoff = cutoff or now
    if cutoff.tzinfo is None:
        raise BadCutoff("Give the cut-off with its time zone (UTC), e.g. 2026-12-15T00:00:00Z.")
    if cutoff > now:
        raise BadCutoff(f"The cut-off {cutoff.isoformat()} is in the future; usage can be billed only up to now.",
                        cutoff=cutoff.isoformat())
    if licence_id is not None:
        licence = licensing.get_licence(session, licence_id, partner_id=partner_id)
        partner_id = licence.partner_id
    if partner_id is None:
        raise BadCutoff("Name the partner or the licence to invoice.")
    partner = partners.get_partner(session, partner_id)
    lock_partner(session, partner.id)
    spans = [s for s in unbilled(session, end=cutoff, partner_id=partner.id, licence_id=licence_id)
             if s.currency == partner.currency]
    if not spans:
        raise NothingToInvoice(f"No unbilled usage of {licence_id or partner.id} before {cutoff.isoformat()}.",
                               partner_id=partner.id, licence_id=licence_id, cutoff=cutoff.isoformat())
    lines = [LineSpec(key=f"usage:{s.licence_id}", unit_amount=s.unit_amount, quantity=s.count, currency=s.currency,
                      description=f"{s.count} article republication(s) under licence {s.licence_id}, "
                                  f"{s.usage_from:%d %b %Y %H:%M} to {cutoff:%d %b %Y %H:%M} UTC")
             for s in spans]
    invoice = claim_invoice(
        session, charge_key=f"cutoff:{partner.id}:{licence_id or '*'}:{cutoff:%Y%m%dT%H%M%S%fZ}",
        kind=InvoiceKind.on_demand, partner_id=partner.id, licence_id=licence_id, provider=provider,
        currency=partner.currency, status=InvoiceStatus.draft, usage_from=min(s.usage_from for s in spans),
        usage_to=cutoff)
    rows = set_lines(session, invoice, lines, licence_ids={f"usage:{s.licence_id}": s.licence_id for s in spans},
                     spans={f"usage:{s.licence_id}": (s.usage_from, s.usage_to) for s in spans})
    invoice.total = sum(row.amount for row in rows)
    session.add(invoice)
    audit.record(session, actor=actor, action="invoice.invoice_now", object_type="invoice", object_id=invoice.id,
                 partner_id=partner.id, after={"licence_id": licence_id, "usage_from": invoice.usage_from.isoformat() if invoice.usage_from else None,
                                               "usage_to": cutoff.isoformat(), "total": invoice.total,
                                               "currency": invoice.currency, "lines": len(rows)})
    issuing.queue(session, invoice)
    session.flush()
    return invoice


@dataclass(frozen=True)
class PreviewLine:
    licence_id: str
    description: str
    quantity: int
    unit_amount: int
    amount: int
    usage_from: datetime | None
    usage_to: datetime | None


@dataclass
class PartnerPreview:
    partner_id: str
    partner_name: str
    currency: str
    total: int = 0
    lines: list[PreviewLine] = field(default_factory=list)


def preview_next_run(session: Session, *, period: str | None = None, now: datetime | None = None) -> tuple[str, list[PartnerPreview]]:
    """What the period run of `period` (default: the month running now) would bill per partner if
    it ran with the usage recorded so far: usage from each licence's last cut-off, and the ledger's
    feed fees. Read-only; partners already invoiced for the period are left out."""
    period = period or periods.current_period(now or utcnow())
    billables = periods.collect(session, period)
    issued = set(session.exec(select(Invoice.partner_id).where(
        Invoice.period == period, Invoice.kind == InvoiceKind.period, Invoice.status != InvoiceStatus.draft)).all())
    out = []
    for partner_id in sorted(set(billables) - issued):
        partner = partners.get_partner(session, partner_id)
        preview = PartnerPreview(partner.id, partner.name, partner.currency)
        for b in billables[partner_id]:
            if b.line.currency != partner.currency:
                continue  # the run skips it too (and says so)
            preview.lines.append(PreviewLine(b.licence_id, b.line.description, b.line.quantity, b.line.unit_amount,
                                             b.line.amount, *(b.span or (None, None))))
            preview.total += b.line.amount
        if preview.lines:
            out.append(preview)
    return period, out
