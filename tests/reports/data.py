"""Report data built through the services: paid and open invoices via charging and mark-paid;
usage rows through usage_log.add_event (the rules of delivery's async writer, which the tests cannot drive here)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from api.audit.service import Actor
from api.core.config import Settings
from api.delivery import usage_log
from api.delivery.models import UsageEvent
from api.invoicing import charging
from api.invoicing import service as invoicing
from api.invoicing.models import Invoice
from billing import build_backend
from tests.builders import make_article, make_licence

FINANCE = Actor("staff", "stf_reports_test")


def invoice_for(session: Session, settings: Settings, *, partner, amount: int) -> Invoice:
    """A licence at `amount` and its open ledger invoice."""
    licence = make_licence(session, partner=partner, articles=[make_article(session)], amount=amount)
    backend = build_backend(settings)
    request = charging.prepare_charge(session, licence_id=licence.id, backend=backend, settings=settings)
    assert request is not None
    # The ledger makes no network call, so the three steps may share the caller's transaction here.
    charging.record_charge(session, request, charging.send_charge(request))
    return session.exec(select(Invoice).where(Invoice.licence_id == licence.id)).one()


def paid_invoice(session: Session, settings: Settings, *, partner, amount: int, paid_at: datetime) -> Invoice:
    invoice = invoice_for(session, settings, partner=partner, amount=amount)
    return invoicing.mark_paid(session, invoice.id, reference=f"BACS {invoice.id}", paid_at=paid_at, actor=FINANCE)


def add_usage(session: Session, licence, article, *, at: datetime, billable: bool = False) -> UsageEvent:
    return usage_log.add_event(session, licence_id=licence.id, partner_id=licence.partner_id, article_id=article.id,
                               at=at, billable=billable)
