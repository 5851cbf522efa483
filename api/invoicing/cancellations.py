"""Unpaid licences called off: their invoices are voided at the provider, then on our side.

A cancelled licence (licensing.licences.cancel) queues `invoicing.void_licence_invoices`; this
sender voids what the partner could still pay (a finalized invoice is voided, a draft deleted, an
open Checkout link expired) with no transaction open, then marks our rows void. The job that
cancels licences whose invoice is unpaid past its due date plus `payment_grace_days` lives here too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from api.audit import service as audit
from api.audit.service import Actor
from api.core.db import utcnow
from api.invoicing import provider
from api.invoicing.models import Invoice, InvoiceStatus
from api.licensing.service import VOID_TOPIC
from api.licensing import service as licensing
from api.licensing.models import Licence
from api.licensing.states import LicenceState
from api.outbox import service as outbox
from billing import BillingBackend

log = logging.getLogger("syndicate.invoicing.cancellations")
ACTOR = Actor.system("invoicing")
UNPAID = (InvoiceStatus.draft, InvoiceStatus.open, InvoiceStatus.uncollectible)


@dataclass(frozen=True)
class ToVoid:
    invoice_id: str
    provider: str
    provider_invoice_id: str | None
    checkout_session_id: str | None


@dataclass(frozen=True)
class VoidRequest:
    licence_id: str
    backend: BillingBackend
    invoices: list[ToVoid]


@outbox.sender(VOID_TOPIC)
class VoidLicenceInvoices:
    # Read by nothing in dispatch: the lease is Capacity.lease, renewed by a heartbeat while send runs, so a slow
    # send keeps its message. This states the longest a send takes: issue_invoice's four Stripe requests at the
    # default SYNDICATE_STRIPE_TIMEOUT_SECONDS (20 s); every Stripe sender states the same bound.
    timeout = 80.0

    def prepare(self, session: Session, payload: dict[str, Any]) -> VoidRequest | None:
        rows = session.exec(select(Invoice).where(Invoice.licence_id == payload["licence_id"],
                                                  col(Invoice.status).in_(UNPAID))
                            .order_by(Invoice.id)).all()
        if not rows:
            return None
        return VoidRequest(payload["licence_id"], provider.backend(), [
            ToVoid(r.id, r.provider, r.provider_invoice_id, r.checkout_session_id) for r in rows])

    def send(self, request: VoidRequest) -> dict[str, str]:
        """The provider's status of each invoice afterwards (`void`, or `paid` if the money came first)."""
        statuses = {}
        for item in request.invoices:
            status = InvoiceStatus.void.value
            if item.provider == request.backend.name and request.backend.capabilities.keeps_invoices:
                key = f"void:{item.invoice_id}"
                if item.checkout_session_id:
                    request.backend.expire_checkout_session(item.checkout_session_id, idempotency_key=key)
                if item.provider_invoice_id:
                    status = request.backend.void_invoice(item.provider_invoice_id, idempotency_key=key).status
            statuses[item.invoice_id] = status
        return statuses

    def record(self, session: Session, payload: dict[str, Any], outcome: outbox.Outcome) -> None:
        if not outcome.ok:
            return  # the outbox retries; the same idempotency keys make the retry safe
        for invoice_id, status in outcome.result.items():
            invoice = session.get(Invoice, invoice_id)
            if invoice is None or invoice.status not in UNPAID:
                continue
            before = {"status": str(invoice.status)}
            if status != InvoiceStatus.void:
                # Paid before the void reached the provider: the webhook records the payment and
                # staff decide (a refund); nothing is voided behind the partner's back.
                audit.record(session, actor=ACTOR, action="invoice.void_refused", object_type="invoice",
                             object_id=invoice.id, partner_id=invoice.partner_id, before=before,
                             after={"provider_status": status, "licence_id": payload["licence_id"]})
                continue
            invoice.status, invoice.updated_at = InvoiceStatus.void, utcnow()
            session.add(invoice)
            audit.record(session, actor=ACTOR, action="invoice.voided", object_type="invoice", object_id=invoice.id,
                         partner_id=invoice.partner_id, before=before,
                         after={"status": "void", "reason": f"licence {payload['licence_id']} cancelled"})
        session.flush()


def cancel_overdue(session: Session, *, grace_days: int, now: datetime | None = None) -> list[Licence]:
    """Cancel licences still awaiting payment whose own invoice fell due more than `grace_days` ago."""
    cutoff = (now or utcnow()) - timedelta(days=grace_days)
    overdue = session.exec(
        select(col(Licence.id), col(Invoice.id)).join(Invoice, col(Invoice.licence_id) == col(Licence.id))
        .where(Licence.state == LicenceState.awaiting_payment,
               col(Invoice.status).in_([InvoiceStatus.open, InvoiceStatus.uncollectible]),
               col(Invoice.due_at) <= cutoff)
        .order_by(Licence.id)
    ).all()
    cancelled = []
    for licence_id, invoice_id in dict(overdue).items():
        cancelled.append(licensing.cancel_licence(
            session, licence_id, actor=ACTOR,
            reason=f"invoice {invoice_id} still unpaid {grace_days} days after it fell due"))
    return cancelled
