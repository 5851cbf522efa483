"""Refunds and disputes: money that leaves after an invoice was paid.

The event names a charge (or a dispute on one); the handler re-reads it from the provider, follows
it to the invoice it paid, and records the amounts and the dispute's status on our invoice, where
staff see them (invoice API, reconcile). It changes no licence: staff decide what follows.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from api.audit import service as audit
from api.audit.service import Actor
from api.core.db import utcnow
from api.invoicing.matching import Context, StrayInvoice, local_invoice, retry_if_ours
from api.invoicing.models import BillingCustomer, Invoice
from billing import ProviderCharge, ProviderDispute, ProviderInvoice

STRIPE = Actor.system("stripe")
TYPES = ("charge.refunded", "charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed")


def fetch_charge(request: Any) -> dict[str, Any]:
    """The provider's current charge (and dispute), and the invoice the charge paid: read with no
    transaction open, whatever order the events came in."""
    backend, obj, dispute = request.backend, request.object, None
    if request.type.startswith("charge.dispute"):
        dispute = backend.retrieve_dispute(obj["id"])
        charge = backend.retrieve_charge(dispute.charge_id)
    else:
        charge = backend.retrieve_charge(obj["id"])
    return {"dispute": dispute, "charge": charge,
            "invoice": backend.retrieve_invoice(charge.invoice_id) if charge.invoice_id else None}


def charge_event(ctx: Context, request: Any, fetched: dict[str, Any]) -> str:
    type_ = request.type
    dispute: ProviderDispute | None = fetched["dispute"]
    charge: ProviderCharge = fetched["charge"]
    invoice = _invoice_of(ctx, charge, fetched["invoice"])
    action = f"invoicing.dispute_{type_.rsplit('.', 1)[1]}" if dispute else "invoicing.charge_refunded"
    details: dict[str, Any] = {"charge": charge.id, "amount": charge.amount, "amount_refunded": charge.amount_refunded,
                               "currency": charge.currency}
    if dispute:
        details.update(dispute=dispute.id, amount_disputed=dispute.amount, dispute_status=dispute.status,
                       reason=dispute.reason)
    if invoice is None:
        # Not one of our invoices (a payment made outside Syndicate): kept on record for staff.
        partner = ctx.session.exec(select(BillingCustomer).where(
            BillingCustomer.provider_customer_id == charge.customer_id)).first() if charge.customer_id else None
        audit.record(ctx.session, actor=STRIPE, action=action, object_type="stripe_charge", object_id=charge.id[:40],
                     partner_id=partner.partner_id if partner else None, after=details)
        return f"recorded {type_} for charge {charge.id}; it paid no invoice of ours"
    before = {"amount_refunded": invoice.amount_refunded, "amount_disputed": invoice.amount_disputed,
              "dispute_status": invoice.dispute_status}
    invoice.amount_refunded = charge.amount_refunded  # the charge's running total, so repeats do not add up
    if dispute:
        invoice.amount_disputed, invoice.dispute_status = dispute.amount, dispute.status
    invoice.updated_at = utcnow()
    ctx.session.add(invoice)
    audit.record(ctx.session, actor=STRIPE, action=action, object_type="invoice", object_id=invoice.id,
                 partner_id=invoice.partner_id, before=before,
                 after={**details, "licence_id": invoice.licence_id, "period": invoice.period})
    if dispute:
        return f"dispute {dispute.id} ({dispute.status}, {dispute.amount}) on invoice {invoice.id}; staff decide what follows"
    return f"charge {charge.id} refunded {charge.amount_refunded} of invoice {invoice.id}; staff decide what follows"


def _invoice_of(ctx: Context, charge: ProviderCharge, remote: ProviderInvoice | None) -> Invoice | None:
    if remote is None:
        return None
    try:
        invoice = local_invoice(ctx, remote)
    except StrayInvoice:
        return None
    if invoice is None:
        retry_if_ours(remote.metadata, f"invoice {remote.id} of charge {charge.id}")
    return invoice
