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
from api.invoicing import charging, money_back, provider
from api.invoicing.matching import Context, StrayInvoice, local_invoice, retry_if_ours
from api.invoicing.models import BillingSubscription, Invoice, InvoiceKind, InvoiceStatus, StripeEvent
from api.invoicing.policy import BILLING_MAX_ATTEMPTS
from api.invoicing.service import apply_provider_state, settle
from api.invoicing.store import add_lines, insert_ignore, pending_messages
from api.licensing import service as licensing
from api.licensing.models import Licence
from api.licensing.states import LicenceState
from api.outbox import service as outbox
from billing import (
    BadWebhookSignature, BillingBackend, BillingNotConfigured, LineSpec, ProviderCheckout,
    WebhookEvent, build_backend,
)
from api.invoicing.errors import WebhookSignatureInvalid, WebhooksNotConfigured

log = logging.getLogger("syndicate.billing.webhooks")
STRIPE = Actor.system("stripe")
TOPIC = "billing.stripe_event"


def store_event(session: Session, event: WebhookEvent) -> bool:
    """Record the event; True if it is new, False for a redelivery. Its handling is queued once;
    a redelivery of an event whose handling never completed (its message gave up during a long
    outage) queues it again, so Stripe's days of retries can still rescue it."""
    new = insert_ignore(session, StripeEvent, {"id": event.id, "type": event.type, "payload": event.payload},
                        conflict=["id"])
    if new:
        outbox.enqueue(session, TOPIC, {"event_id": event.id}, dedupe_key=f"stripe-event:{event.id}",
                       max_attempts=BILLING_MAX_ATTEMPTS)
        return True
    stored = session.get(StripeEvent, event.id)
    waiting = session.exec(pending_messages(TOPIC, "event_id", event.id)).first()
    if stored is not None and stored.handled_at is None and waiting is None:
        log.warning("stripe event %s redelivered while still unhandled: handling it again", event.id)
        outbox.enqueue(session, TOPIC, {"event_id": event.id},
                       dedupe_key=f"stripe-event:{event.id}:redelivered:{utcnow():%Y%m%dT%H%M%S%f}",
                       max_attempts=BILLING_MAX_ATTEMPTS)
    return False


def handle_event(session: Session, *, event_id: str, backend: BillingBackend,
                 settings: Settings | None = None) -> str | None:
    """Act on a stored event once; returns the outcome recorded on it."""
    stmt = select(StripeEvent).where(StripeEvent.id == event_id)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    event = session.exec(stmt).first()
    if event is None or event.handled_at is not None:
        return None
    obj: dict[str, Any] = dict((event.payload.get("data") or {}).get("object") or {})
    handler = HANDLERS.get(event.type, _ignore)
    event.outcome = handler(Context(session, backend, settings), event.type, obj)[:500]
    event.handled_at = utcnow()
    session.add(event)
    session.flush()
    return event.outcome


def _ignore(ctx: Context, type_: str, obj: dict[str, Any]) -> str:
    return f"ignored: no action for {type_}"


def _invoice_event(ctx: Context, type_: str, obj: dict[str, Any]) -> str:
    session = ctx.session
    remote = ctx.backend.retrieve_invoice(obj["id"])  # the current state, whatever order events came in
    try:
        invoice = local_invoice(ctx, remote)
    except StrayInvoice as exc:
        return f"not applied: {exc}"
    if invoice is None:
        retry_if_ours(remote.metadata, f"invoice {remote.id}")
        return f"ignored: invoice {remote.id} is not one of ours"
    apply_provider_state(invoice, remote)
    if invoice.kind == InvoiceKind.subscription and invoice.licence_id:
        invoice.total = remote.total
        add_lines(session, invoice, [LineSpec(key=invoice.licence_id, description="Feed licence subscription",
                                              unit_amount=remote.total, quantity=1, currency=invoice.currency)],
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


def _checkout_invoice(ctx: Context, current: ProviderCheckout) -> Invoice | None:
    invoice = ctx.session.exec(select(Invoice).where(Invoice.checkout_session_id == current.id)).first()
    if invoice is None and current.metadata.get("syndicate_licence_id"):
        # an earlier session of ours, since replaced by a fresh one after it expired
        invoice = ctx.session.exec(select(Invoice).where(
            Invoice.charge_key == f"licence:{current.metadata['syndicate_licence_id']}")).first()
    if invoice is None:
        retry_if_ours(current.metadata, f"checkout session {current.id}")
    return invoice


def _checkout_paid(ctx: Context, type_: str, obj: dict[str, Any]) -> str:
    """checkout.session.completed, and async_payment_succeeded for payment methods that settle later."""
    session = ctx.session
    current = ctx.backend.retrieve_checkout_session(obj["id"])
    invoice = _checkout_invoice(ctx, current)
    if invoice is None:
        return f"ignored: checkout session {current.id} is not one of ours"
    if current.invoice_id:
        # The invoice Checkout raised for the payment: ours from now on, so its own events match.
        apply_provider_state(invoice, ctx.backend.retrieve_invoice(current.invoice_id))
    if current.payment_status != "paid":
        session.add(invoice)
        return f"checkout {current.id} completed but payment is {current.payment_status}; waiting for its outcome"
    invoice.status = InvoiceStatus.paid
    invoice.amount_paid = invoice.amount_paid or invoice.amount_due
    invoice.paid_at = invoice.paid_at or utcnow()
    session.add(invoice)
    activated = settle(session, invoice, actor=STRIPE, reason=f"card payment {current.id}")
    return f"invoice {invoice.id} paid by card; activated {len(activated)} licence(s)"


def _checkout_unpaid(ctx: Context, type_: str, obj: dict[str, Any]) -> str:
    """checkout.session.expired / async_payment_failed: the link no longer pays. The licence
    stays awaiting payment; a fresh session is offered on the same invoice."""
    session = ctx.session
    current = ctx.backend.retrieve_checkout_session(obj["id"])
    invoice = _checkout_invoice(ctx, current)
    if invoice is None:
        return f"ignored: checkout session {current.id} is not one of ours"
    what = "expired" if type_.endswith("expired") else "payment failed"
    if invoice.status == InvoiceStatus.paid or invoice.checkout_session_id != current.id:
        return f"checkout {current.id} {what}; superseded, nothing to do"
    previous_url = invoice.hosted_url
    settings = ctx.settings or provider.current_settings()
    fresh = charging.offer_new_checkout(session, invoice, backend=ctx.backend, settings=settings,
                                        after_session_id=current.id)
    audit.record(session, actor=STRIPE, action="billing.checkout_" + ("expired" if what == "expired" else "failed"),
                 object_type="invoice", object_id=invoice.id, partner_id=invoice.partner_id,
                 before={"checkout_session": current.id, "url": previous_url},
                 after={"checkout_session": fresh, "url": invoice.hosted_url, "licence_id": invoice.licence_id})
    if fresh is None:
        return f"checkout {current.id} {what}; licence no longer awaits payment"
    return f"checkout {current.id} {what}; new session {fresh} offered, licence still awaiting payment"


def _subscription_deleted(ctx: Context, type_: str, obj: dict[str, Any]) -> str:
    session = ctx.session
    sub = session.exec(select(BillingSubscription)
                       .where(BillingSubscription.provider_subscription_id == obj["id"])).first()
    if sub is None:
        retry_if_ours(dict(obj.get("metadata") or {}), f"subscription {obj['id']}")
        return f"ignored: subscription {obj['id']} is not one of ours"
    sub.status, sub.ended_at = "canceled", sub.ended_at or utcnow()
    session.add(sub)
    licence = session.get(Licence, sub.licence_id)
    if licence is None or licence.state in (LicenceState.expired, LicenceState.revoked):
        return f"subscription {sub.id} ended; licence already ended"
    if licence.state == LicenceState.awaiting_payment:
        # Never paid, nothing to end: it stays awaiting payment for staff to decide.
        return f"subscription {sub.id} ended before its first payment; licence {licence.id} still awaits payment"
    # The feed's term ran out (Stripe cancels at the licence's end): it expires. Cancelled early,
    # nobody pays for it any more: it is revoked. Both are final states in the machine.
    if licence.state == LicenceState.active and licence.ends_at <= utcnow():
        licensing.expire(session, licence, actor=STRIPE)
    else:
        licensing.revoke(session, licence, actor=STRIPE, reason=f"feed subscription {obj['id']} cancelled")
    return f"subscription {sub.id} ended; licence {licence.id} {licence.state}"


HANDLERS: dict[str, Callable[[Context, str, dict[str, Any]], str]] = {
    "invoice.paid": _invoice_event,
    "invoice.payment_succeeded": _invoice_event,
    "invoice.payment_failed": _invoice_event,
    "invoice.marked_uncollectible": _invoice_event,
    "invoice.voided": _invoice_event,
    "invoice.finalized": _invoice_event,
    "checkout.session.completed": _checkout_paid,
    "checkout.session.async_payment_succeeded": _checkout_paid,
    "checkout.session.async_payment_failed": _checkout_unpaid,
    "checkout.session.expired": _checkout_unpaid,
    "customer.subscription.deleted": _subscription_deleted,
    **{type_: money_back.charge_event for type_ in money_back.TYPES},
}


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
