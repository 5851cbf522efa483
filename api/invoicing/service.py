"""Invoice rules shared by charging, webhooks, period runs and the API: reading invoices,
applying the provider's state to ours, and what payment (or its failure) does to licences."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from api.audit import service as audit
from api.audit.service import Actor
from api.core.db import utcnow
from api.core.pagination import SortOrder, sorted_page
from api.invoicing.models import Invoice, InvoiceLine, InvoiceStatus
from api.invoicing.store import lines_of
from api.licensing import service as licensing
from api.licensing.models import Licence
from api.licensing.states import LicenceState
from billing import ProviderInvoice, capabilities_of
from api.invoicing.errors import InvoiceLineNotFound, InvoiceNotFound, InvoiceNotPayable


def get_invoice(session: Session, invoice_id: str, *, partner_id: str | None = None) -> Invoice:
    """The invoice, or InvoiceNotFound; with `partner_id`, another partner's invoice is not found either."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or (partner_id is not None and invoice.partner_id != partner_id):
        raise InvoiceNotFound(f"No invoice {invoice_id}.")
    return invoice


def get_lines(session: Session, invoice: Invoice) -> list[InvoiceLine]:
    return lines_of(session, invoice.id)


INVOICE_ORDERS = {
    "newest": SortOrder("Newest first", [Invoice.id], [str], descending=True),  # type: ignore[list-item]
    "amount": SortOrder("Largest first", [Invoice.total, Invoice.id], [int, str], descending=True),  # type: ignore[list-item]
}


def get_line(session: Session, line_id: str, *, partner_id: str) -> InvoiceLine:
    """A line of one of the partner's invoices, or InvoiceLineNotFound (another partner's line too)."""
    stmt = (select(InvoiceLine).join(Invoice, Invoice.id == InvoiceLine.invoice_id)  # type: ignore[arg-type]
            .where(InvoiceLine.id == line_id, Invoice.partner_id == partner_id))
    line = session.exec(stmt).first()
    if line is None:
        raise InvoiceLineNotFound(f"No line {line_id} on your invoices.")
    return line


def list_invoices(
    session: Session, *, partner_id: str | None = None, status: InvoiceStatus | None = None,
    period: str | None = None, licence_id: str | None = None, created_from: datetime | None = None,
    created_until: datetime | None = None, sort: str = "newest", cursor: str | None = None, limit: int = 50,
) -> tuple[list[Invoice], str | None]:
    stmt = list_statement(partner_id=partner_id, status=status, period=period, licence_id=licence_id)
    if created_from:
        stmt = stmt.where(Invoice.created_at >= created_from)
    if created_until:
        stmt = stmt.where(Invoice.created_at < created_until)
    return sorted_page(session, stmt, INVOICE_ORDERS, sort, cursor=cursor, limit=limit)


def list_statement(*, partner_id: str | None = None, status: InvoiceStatus | None = None, period: str | None = None,
                   licence_id: str | None = None) -> SelectOfScalar[Invoice]:
    """The invoice listing's filters, paged newest id first; each filter alone has an (x, id) index."""
    stmt = select(Invoice)
    if partner_id is not None:
        stmt = stmt.where(Invoice.partner_id == partner_id)
    if status is not None:
        stmt = stmt.where(Invoice.status == status)
    if period is not None:
        stmt = stmt.where(Invoice.period == period)
    if licence_id is not None:
        stmt = stmt.where(Invoice.licence_id == licence_id)
    return stmt


def licences_of(session: Session, invoice: Invoice) -> list[Licence]:
    """The licences an invoice pays for: its own licence and those of its lines."""
    ids = {invoice.licence_id} | {line.licence_id for line in lines_of(session, invoice.id)}
    ids.discard(None)
    if not ids:
        return []
    return list(session.exec(select(Licence).where(col(Licence.id).in_(sorted(ids)))
                             .order_by(Licence.id)).all())


def apply_provider_state(invoice: Invoice, remote: ProviderInvoice) -> None:
    """Copy the provider's current view onto our row (called with a fresh read, never an event's copy)."""
    invoice.provider_invoice_id = remote.id
    invoice.status = InvoiceStatus(remote.status) if remote.status in InvoiceStatus.__members__ else invoice.status
    invoice.amount_due, invoice.amount_paid = remote.amount_due, remote.amount_paid
    invoice.number = remote.number or invoice.number
    invoice.hosted_url = remote.hosted_url or invoice.hosted_url
    invoice.due_at = remote.due_at or invoice.due_at
    if invoice.status == InvoiceStatus.paid and invoice.paid_at is None:
        invoice.paid_at = utcnow()
    invoice.updated_at = utcnow()


def settle(session: Session, invoice: Invoice, *, actor: Actor, reason: str) -> list[Licence]:
    """The invoice is paid: every licence it covers that waits for payment, or was suspended, becomes active."""
    activated = []
    for licence in licences_of(session, invoice):
        if licence.state in (LicenceState.awaiting_payment, LicenceState.suspended):
            licensing.activate(session, licence, actor=actor, reason=reason)
            activated.append(licence)
    return activated


def mark_paid(session: Session, invoice_id: str, *, reference: str, paid_at: datetime | None, actor: Actor) -> Invoice:
    """Finance records a bank transfer against a ledger invoice; its licences activate."""
    invoice = get_invoice(session, invoice_id)
    # A provider this deployment does not know reports nothing: a payment can only be recorded by hand.
    capabilities = capabilities_of(invoice.provider)
    if capabilities is not None and capabilities.reports_payments:
        raise InvoiceNotPayable(
            f"Invoice {invoice.id} is collected by {invoice.provider}; its payment arrives from there, "
            "not by hand.", provider=invoice.provider)
    if invoice.status == InvoiceStatus.paid:
        return invoice  # a repeated click changes nothing
    if invoice.status not in (InvoiceStatus.open, InvoiceStatus.uncollectible):
        raise InvoiceNotPayable(f"Invoice {invoice.id} is {invoice.status}; only open invoices can be paid.",
                                status=str(invoice.status))
    before = {"status": str(invoice.status), "amount_paid": invoice.amount_paid}
    invoice.status, invoice.amount_paid = InvoiceStatus.paid, invoice.amount_due
    invoice.paid_at, invoice.payment_reference, invoice.updated_at = paid_at or utcnow(), reference, utcnow()
    session.add(invoice)
    audit.record(session, actor=actor, action="invoice.marked_paid", object_type="invoice", object_id=invoice.id,
                 partner_id=invoice.partner_id, before=before,
                 after={"status": "paid", "amount_paid": invoice.amount_paid, "reference": reference})
    settle(session, invoice, actor=actor, reason=f"invoice {invoice.id} paid by bank transfer")
    session.flush()
    return invoice


def suspend_overdue(session: Session, *, grace_days: int, now: datetime | None = None) -> list[Licence]:
    """Suspend active licences whose invoice failed (or fell due) more than `grace_days` ago and is still unpaid."""
    cutoff = (now or utcnow()) - timedelta(days=grace_days)
    overdue = session.exec(
        select(Invoice).where(col(Invoice.status).in_([InvoiceStatus.open, InvoiceStatus.uncollectible]))
        .where(or_(col(Invoice.payment_failed_at) <= cutoff, col(Invoice.due_at) <= cutoff))
        .order_by(Invoice.id)
    ).all()
    suspended = []
    for invoice in overdue:
        for licence in licences_of(session, invoice):
            if licence.state == LicenceState.active:
                licensing.suspend(session, licence, actor=Actor.system("invoicing"),
                               reason=f"invoice {invoice.id} unpaid {grace_days} days after it failed or fell due")
                suspended.append(licence)
    return suspended
