"""Inbound Stripe events: stored by id before anything acts, then handled exactly once.

Stripe may deliver an event twice, late, or before an older one; handlers therefore re-read the
object's current state from Stripe and act on that, not on the order events arrive in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlmodel import Session, select

from api.audit import service as audit
from api.audit.service import Actor
from api.core.config import Settings
from api.core.db import is_postgres, utcnow
from api.core.errors import ServiceUnavailable, SyndicateError
from api.invoicing.models import (
    BillingCustomer, BillingSubscription, Invoice, InvoiceKind, InvoiceStatus, StripeEvent,
)
from api.invoicing.service import apply_provider_state, settle
from api.invoicing.store import add_lines, claim_invoice, insert_ignore
from api.licensing import service as licensing
from api.licensing.models import Licence
from api.licensing.states import LicenceState
from api.outbox import service as outbox
from billing import BadWebhookSignature, BillingBackend, BillingNotConfigured, LineSpec, WebhookEvent, build_backend

log = logging.getLogger("syndicate.billing.webhooks")
STRIPE = Actor.system("stripe")
TOPIC = "billing.stripe_event"


def store_event(session: Session, event: WebhookEvent) -> bool:
    """Record the event; True if it is new (and its handling was queued), False for a redelivery."""
    new = insert_ignore(session, StripeEvent, {"id": event.id, "type": event.type, "payload": event.payload},
                        conflict=["id"])
    if new:
        outbox.enqueue(session, TOPIC, {"event_id": event.id}, dedupe_key=f"stripe-event:{event.id}")
    return new


def handle_event(session: Session, *, event_id: str, backend: BillingBackend) -> str | None:
    """Act on a stored event once; returns the outcome recorded on it."""
    stmt = select(StripeEvent).where(StripeEvent.id == event_id)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    event = session.exec(stmt).first()
    if event is None or event.handled_at is not None:
        return None
    obj: dict[str, Any] = dict((event.payload.get("data") or {}).get("object") or {})
    handler = HANDLERS.get(event.type, _ignore)
    event.outcome = handler(session, event.type, obj, backend)[:500]
    event.handled_at = utcnow()
    session.add(event)
    session.flush()
    return event.outcome


def _ignore(session: Session, type_: str, obj: dict[str, Any], backend: BillingBackend) -> str:
    return f"ignored: no action for {type_}"


def _local_invoice(session: Session, remote_id: str, subscription_id: str | None, backend: BillingBackend) -> Invoice | None:
    invoice = session.exec(select(Invoice).where(Invoice.provider_invoice_id == remote_id)).first()
    if invoice is not None or subscription_id is None:
        return invoice
    sub = session.exec(select(BillingSubscription)
                       .where(BillingSubscription.provider_subscription_id == subscription_id)).first()
    if sub is None:
        return None
    licence = session.get(Licence, sub.licence_id)
    if licence is None:
        return None
    # A renewal (or the first invoice) Stripe raised for the subscription: record it like our own.
    invoice = claim_invoice(session, charge_key=f"stripe:{remote_id}", kind=InvoiceKind.subscription,
                            partner_id=sub.partner_id, licence_id=sub.licence_id, provider=backend.name,
                            currency=licence.currency, status=InvoiceStatus.open, provider_invoice_id=remote_id)
    return invoice


class NotRecordedYet(RuntimeError):
    """The event is about a charge of ours whose own transaction has not committed yet."""


def _retry_if_ours(metadata: dict[str, Any], what: str) -> None:
    # Stripe can announce an invoice before the job that created it has committed its row:
    # raising leaves the event unhandled, and the outbox delivers it again after a backoff.
    if metadata.get("syndicate_licence_id") or metadata.get("syndicate_partner_id"):
        raise NotRecordedYet(f"{what} belongs to Syndicate but is not recorded yet; retrying later")


def _invoice_event(session: Session, type_: str, obj: dict[str, Any], backend: BillingBackend) -> str:
    remote = backend.retrieve_invoice(obj["id"])  # the current state, whatever order events came in
    invoice = _local_invoice(session, remote.id, remote.subscription_id, backend)
    if invoice is None:
        _retry_if_ours(remote.metadata, f"invoice {remote.id}")
        return f"ignored: invoice {remote.id} is not one of ours"
    apply_provider_state(invoice, remote)
    if invoice.kind == InvoiceKind.subscription and invoice.licence_id:
        add_lines(session, invoice, [LineSpec(key=invoice.licence_id, description="Feed licence subscription",
                                              unit_amount=remote.amount_due, quantity=1, currency=invoice.currency)],
                  licence_ids={invoice.licence_id: invoice.licence_id})
    outcome = f"invoice {invoice.id} is {invoice.status}"
    if invoice.status == InvoiceStatus.paid:
        activated = settle(session, invoice, actor=STRIPE, reason=f"Stripe invoice {remote.id} paid")
        outcome += f"; activated {len(activated)} licence(s)"
    elif type_ in ("invoice.payment_failed", "invoice.marked_uncollectible") and invoice.payment_failed_at is None:
        invoice.payment_failed_at = utcnow()  # the grace period starts; the overdue job suspends after it
        outcome += "; payment failed, grace period started"
    session.add(invoice)
    audit.record(session, actor=STRIPE, action=f"stripe.{type_}", object_type="invoice", object_id=invoice.id,
                 partner_id=invoice.partner_id, after={"status": str(invoice.status), "amount_paid": invoice.amount_paid})
    return outcome


def _checkout_completed(session: Session, type_: str, obj: dict[str, Any], backend: BillingBackend) -> str:
    current = backend.retrieve_checkout_session(obj["id"])
    invoice = session.exec(select(Invoice).where(Invoice.checkout_session_id == current.id)).first()
    if invoice is None:
        _retry_if_ours(dict(obj.get("metadata") or {}), f"checkout session {current.id}")
        return f"ignored: checkout session {current.id} is not one of ours"
    if current.payment_status != "paid":
        return f"checkout {current.id} completed but payment is {current.payment_status}; waiting"
    invoice.status, invoice.amount_paid = InvoiceStatus.paid, invoice.amount_due
    invoice.paid_at = invoice.paid_at or utcnow()
    session.add(invoice)
    activated = settle(session, invoice, actor=STRIPE, reason=f"card payment {current.id}")
    return f"invoice {invoice.id} paid by card; activated {len(activated)} licence(s)"


def _subscription_deleted(session: Session, type_: str, obj: dict[str, Any], backend: BillingBackend) -> str:
    sub = session.exec(select(BillingSubscription)
                       .where(BillingSubscription.provider_subscription_id == obj["id"])).first()
    if sub is None:
        return f"ignored: subscription {obj['id']} is not one of ours"
    sub.status, sub.ended_at = "canceled", sub.ended_at or utcnow()
    session.add(sub)
    licence = session.get(Licence, sub.licence_id)
    if licence is None or licence.state in (LicenceState.expired, LicenceState.revoked):
        return f"subscription {sub.id} ended; licence already ended"
    # The feed's term ran out (Stripe cancels at the licence's end): it expires. Cancelled early,
    # nobody pays for it any more: it is revoked. Both are final states in the machine.
    if licence.state == LicenceState.active and licence.ends_at <= utcnow():
        licensing.expire(session, licence, actor=STRIPE)
    else:
        licensing.revoke(session, licence, actor=STRIPE, reason=f"feed subscription {obj['id']} cancelled")
    return f"subscription {sub.id} ended; licence {licence.id} {licence.state}"


def _charge_record(session: Session, type_: str, obj: dict[str, Any], backend: BillingBackend) -> str:
    charge_id = obj.get("charge") if type_.startswith("charge.dispute") else obj.get("id")
    customer = obj.get("customer")
    partner_id = None
    if isinstance(customer, str):
        row = session.exec(select(BillingCustomer).where(BillingCustomer.provider_customer_id == customer)).first()
        partner_id = row.partner_id if row else None
    action = "billing.dispute_opened" if type_.startswith("charge.dispute") else "billing.charge_refunded"
    audit.record(session, actor=STRIPE, action=action, object_type="stripe_charge", object_id=str(charge_id)[:40],
                 partner_id=partner_id, after={k: obj.get(k) for k in (
                     "id", "amount", "amount_refunded", "currency", "reason", "status") if k in obj})
    return f"recorded {type_} for charge {charge_id}; staff decide what follows"


HANDLERS: dict[str, Callable[[Session, str, dict[str, Any], BillingBackend], str]] = {
    "invoice.paid": _invoice_event,
    "invoice.payment_succeeded": _invoice_event,
    "invoice.payment_failed": _invoice_event,
    "invoice.marked_uncollectible": _invoice_event,
    "invoice.voided": _invoice_event,
    "invoice.finalized": _invoice_event,
    "checkout.session.completed": _checkout_completed,
    "customer.subscription.deleted": _subscription_deleted,
    "charge.refunded": _charge_record,
    "charge.dispute.created": _charge_record,
}


class WebhookSignatureInvalid(SyndicateError):
    slug = "bad-webhook-signature"
    title = "The webhook signature did not verify"
    status = 400


class WebhooksNotConfigured(ServiceUnavailable):
    slug = "billing-not-configured"
    title = "Stripe webhooks are not configured"


def verify(settings: Settings, body: bytes, signature_header: str | None) -> WebhookEvent:
    """Check the `Stripe-Signature` header against the raw body and parse the event."""
    try:
        backend = build_backend(settings)
    except BillingNotConfigured as exc:
        raise WebhooksNotConfigured(str(exc)) from exc
    if backend.name != "stripe":
        raise WebhooksNotConfigured("This deployment bills through the local ledger; it takes no Stripe webhooks.")
    try:
        return backend.verify_webhook(body, signature_header)
    except BadWebhookSignature as exc:
        raise WebhookSignatureInvalid(
            f"{exc} Check that the endpoint's signing secret matches SYNDICATE_STRIPE_WEBHOOK_SECRET "
            "and that the body is passed on unmodified.") from exc
