"""Inbound Stripe events: stored by id before anything acts, then handled exactly once.

Stripe may deliver an event twice, late, or before an older one; handlers therefore re-read the
object's current state from Stripe and act on that, not on the order events arrive in. Handling is
the outbox's three steps (`invoicing.stripe_event`), so Stripe is never waited on inside a
transaction: `prepare_event` reads the stored event (and leases an invoice whose Checkout session is
to be replaced), `fetch_event` does the provider reads and opens the replacement session with no
transaction open, `record_event` applies what was read once and stamps the event handled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from api.audit import service as audit
from api.audit.service import Actor
from api.core.config import Settings, worker_settings
from api.core.db import is_postgres, utcnow
from api.invoicing import charging, money_back, provider
from api.invoicing.matching import Context, StrayInvoice, local_invoice, retry_if_ours
from api.invoicing.models import BillingSubscription, Invoice, InvoiceKind, InvoiceStatus, StripeEvent
from api.licensing.service import BILLING_MAX_ATTEMPTS
from api.invoicing.service import apply_provider_state, settle
from api.invoicing.store import add_lines, insert_ignore, pending_messages
from api.licensing import service as licensing
from api.licensing.models import Licence
from api.licensing.states import LicenceState
from api.outbox import service as outbox
from billing import (
    BadWebhookSignature, BillingBackend, BillingNotConfigured, LineSpec, ProviderCheckout, ProviderInvoice,
    WebhookEvent, build_backend,
)
from api.invoicing.errors import WebhookSignatureInvalid, WebhooksNotConfigured

log = logging.getLogger("syndicate.invoicing.webhooks")
STRIPE = Actor.system("stripe")
TOPIC = "invoicing.stripe_event"


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


@dataclass(frozen=True)
class EventRequest:
    """What handling one stored event needs from the provider, read in a short transaction."""

    event_id: str
    type: str
    object: dict[str, Any]
    backend: BillingBackend
    renewal: charging.CheckoutRenewal | None = None  # a fresh Checkout session to open (expired/failed ones)


def prepare_event(session: Session, *, event_id: str, backend: BillingBackend,
                  settings: Settings | None = None) -> EventRequest | None:
    """Step 1 (short transaction): the stored event and what to ask the provider; None once handled."""
    event = session.get(StripeEvent, event_id)
    if event is None or event.handled_at is not None:
        return None
    obj: dict[str, Any] = dict((event.payload.get("data") or {}).get("object") or {})
    request = EventRequest(event.id, event.type, obj, backend)
    if event.type in UNPAID_CHECKOUT:
        invoice = _checkout_invoice(Context(session, backend, settings), obj["id"], dict(obj.get("metadata") or {}))
        if invoice is not None and invoice.checkout_session_id == obj["id"]:
            renewal = charging.plan_new_checkout(session, invoice, backend=backend,
                                                 settings=settings or worker_settings())
            request = replace(request, renewal=renewal)
    return request


def fetch_event(request: EventRequest) -> dict[str, Any]:
    """Step 2 (no transaction open): re-read the event's objects from the provider, whatever order
    events came in, and open a fresh Checkout session where one no longer pays."""
    fetch = HANDLERS.get(request.type, Step(_fetch_nothing, _ignore)).fetch
    return fetch(request)


def record_event(session: Session, request: EventRequest, fetched: dict[str, Any] | None) -> str | None:
    """Step 3 (short transaction): act on what was read, once, and stamp the event handled. With
    `fetched` None (the provider failed) only the renewal's lease is freed, for the retry."""
    stmt = select(StripeEvent).where(StripeEvent.id == request.event_id)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    event = session.exec(stmt.execution_options(populate_existing=True)).first()
    if fetched is None:
        if request.renewal is not None:
            invoice = _locked_invoice(session, request.renewal.invoice_id)
            if invoice is not None:
                charging.record_new_checkout(session, invoice, request.renewal, None, backend=request.backend)
        return None
    if event is None or event.handled_at is not None:
        return None  # handled meanwhile by a redelivery: its effects are not applied twice
    apply = HANDLERS.get(event.type, Step(_fetch_nothing, _ignore)).apply
    ctx = Context(session, request.backend, None)
    event.outcome = apply(ctx, request, fetched)[:500]
    event.handled_at = utcnow()
    session.add(event)
    session.flush()
    return event.outcome


def handle_event(engine: Engine, *, event_id: str, backend: BillingBackend,
                 settings: Settings | None = None) -> str | None:
    """The three steps in a row, each in its own transaction (for callers without the outbox)."""
    return outbox.run_in_row(engine, lambda session: prepare_event(session, event_id=event_id, backend=backend,
                                                                   settings=settings),
                             fetch_event, record_event)


@outbox.sender(TOPIC)
class HandleStripeEvent:
    """The worker's side of `invoicing.stripe_event`: the provider is read with no transaction open."""

    # Read by nothing in dispatch: the lease is Capacity.lease, renewed by a heartbeat while send runs, so a slow
    # send keeps its message. This states the longest a send takes: issue_invoice's four Stripe requests at the
    # default SYNDICATE_STRIPE_TIMEOUT_SECONDS (20 s); every Stripe sender states the same bound.
    timeout = 80.0

    def prepare(self, session: Session, payload: dict[str, Any]) -> EventRequest | None:
        return prepare_event(session, event_id=payload["event_id"], backend=provider.backend(),
                             settings=worker_settings())

    def send(self, request: EventRequest) -> dict[str, Any]:
        return fetch_event(request)

    def record(self, session: Session, payload: dict[str, Any], outcome: outbox.Outcome) -> None:
        record_event(session, outcome.request, outcome.result if outcome.ok else None)


def _locked_invoice(session: Session, invoice_id: str) -> Invoice | None:
    stmt = select(Invoice).where(Invoice.id == invoice_id).execution_options(populate_existing=True)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    return session.exec(stmt).first()


def _fetch_nothing(request: EventRequest) -> dict[str, Any]:
    return {}


def _ignore(ctx: Context, request: EventRequest, fetched: dict[str, Any]) -> str:
    return f"ignored: no action for {request.type}"


def _fetch_invoice(request: EventRequest) -> dict[str, Any]:
    return {"invoice": request.backend.retrieve_invoice(request.object["id"])}


def _invoice_event(ctx: Context, request: EventRequest, fetched: dict[str, Any]) -> str:
    session, type_ = ctx.session, request.type
    remote: ProviderInvoice = fetched["invoice"]
    try:
        invoice = local_invoice(ctx, remote)
    except StrayInvoice as exc:
        return f"not applied: {exc}"
    if invoice is None:
        retry_if_ours(remote.metadata, f"invoice {remote.id}")
        return f"ignored: invoice {remote.id} is not one of ours"
    if invoice.status in FINAL and remote.status != invoice.status:
        # Read before another event's fresher read was recorded: paid and void never go back.
        return f"invoice {invoice.id} is already {invoice.status}; an earlier read ({remote.status}) is not applied"
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


def _checkout_invoice(ctx: Context, session_id: str, metadata: dict[str, Any]) -> Invoice | None:
    invoice = ctx.session.exec(select(Invoice).where(Invoice.checkout_session_id == session_id)).first()
    if invoice is None and metadata.get("syndicate_licence_id"):
        # an earlier session of ours, since replaced by a fresh one after it expired
        invoice = ctx.session.exec(select(Invoice).where(
            Invoice.charge_key == f"licence:{metadata['syndicate_licence_id']}")).first()
    return invoice


def _ours(ctx: Context, current: ProviderCheckout) -> Invoice | None:
    invoice = _checkout_invoice(ctx, current.id, current.metadata)
    if invoice is None:
        retry_if_ours(current.metadata, f"checkout session {current.id}")
    return invoice


def _fetch_checkout_paid(request: EventRequest) -> dict[str, Any]:
    current = request.backend.retrieve_checkout_session(request.object["id"])
    # The invoice Checkout raised for the payment: ours from now on, so its own events match.
    return {"checkout": current,
            "invoice": request.backend.retrieve_invoice(current.invoice_id) if current.invoice_id else None}


def _checkout_paid(ctx: Context, request: EventRequest, fetched: dict[str, Any]) -> str:
    """checkout.session.completed, and async_payment_succeeded for payment methods that settle later."""
    session, current = ctx.session, fetched["checkout"]
    invoice = _ours(ctx, current)
    if invoice is None:
        return f"ignored: checkout session {current.id} is not one of ours"
    if fetched["invoice"] is not None and invoice.status not in FINAL:
        apply_provider_state(invoice, fetched["invoice"])
    if current.payment_status != "paid":
        session.add(invoice)
        return f"checkout {current.id} completed but payment is {current.payment_status}; waiting for its outcome"
    invoice.status = InvoiceStatus.paid
    invoice.amount_paid = invoice.amount_paid or invoice.amount_due
    invoice.paid_at = invoice.paid_at or utcnow()
    session.add(invoice)
    activated = settle(session, invoice, actor=STRIPE, reason=f"card payment {current.id}")
    return f"invoice {invoice.id} paid by card; activated {len(activated)} licence(s)"


def _fetch_checkout_unpaid(request: EventRequest) -> dict[str, Any]:
    current = request.backend.retrieve_checkout_session(request.object["id"])
    opened = None
    if request.renewal is not None and current.payment_status != "paid":
        opened = charging.open_new_checkout(request.backend, request.renewal, after_session_id=current.id)
    return {"checkout": current, "opened": opened}


def _checkout_unpaid(ctx: Context, request: EventRequest, fetched: dict[str, Any]) -> str:
    """checkout.session.expired / async_payment_failed: the link no longer pays. The licence
    stays awaiting payment; a fresh session (opened in the send step) is offered on the same invoice."""
    session, current, renewal = ctx.session, fetched["checkout"], request.renewal
    invoice = _ours(ctx, current)
    if invoice is None:
        return f"ignored: checkout session {current.id} is not one of ours"
    invoice = _locked_invoice(session, invoice.id) or invoice
    what = "expired" if request.type.endswith("expired") else "payment failed"
    superseded = invoice.status == InvoiceStatus.paid or invoice.checkout_session_id != current.id
    previous_url = invoice.hosted_url
    if renewal is not None:
        opened = None if superseded else fetched["opened"]
        if not charging.record_new_checkout(session, invoice, renewal, opened, backend=ctx.backend):
            raise RuntimeError(f"invoice {invoice.id}: lease lost while renewing its checkout; trying again")
    if superseded:
        return f"checkout {current.id} {what}; superseded, nothing to do"
    fresh = invoice.checkout_session_id if renewal is not None and fetched["opened"] is not None else None
    audit.record(session, actor=STRIPE, action="invoicing.checkout_" + ("expired" if what == "expired" else "failed"),
                 object_type="invoice", object_id=invoice.id, partner_id=invoice.partner_id,
                 before={"checkout_session": current.id, "url": previous_url},
                 after={"checkout_session": fresh, "url": invoice.hosted_url, "licence_id": invoice.licence_id})
    if fresh is None:
        return f"checkout {current.id} {what}; licence no longer awaits payment"
    return f"checkout {current.id} {what}; new session {fresh} offered, licence still awaiting payment"


def _subscription_deleted(ctx: Context, request: EventRequest, fetched: dict[str, Any]) -> str:
    session, obj = ctx.session, request.object
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
        licensing.revoke(session, licence.id, actor=STRIPE, reason=f"feed subscription {obj['id']} cancelled")
    return f"subscription {sub.id} ended; licence {licence.id} {licence.state}"


@dataclass(frozen=True)
class Step:
    fetch: Callable[[EventRequest], dict[str, Any]]  # provider reads (and writes), no transaction open
    apply: Callable[[Context, EventRequest, dict[str, Any]], str]  # our side, in the record transaction


FINAL = (InvoiceStatus.paid, InvoiceStatus.void)
UNPAID_CHECKOUT = ("checkout.session.async_payment_failed", "checkout.session.expired")
HANDLERS: dict[str, Step] = {
    **{type_: Step(_fetch_invoice, _invoice_event) for type_ in (
        "invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed", "invoice.marked_uncollectible",
        "invoice.voided", "invoice.finalized")},
    "checkout.session.completed": Step(_fetch_checkout_paid, _checkout_paid),
    "checkout.session.async_payment_succeeded": Step(_fetch_checkout_paid, _checkout_paid),
    **{type_: Step(_fetch_checkout_unpaid, _checkout_unpaid) for type_ in UNPAID_CHECKOUT},
    "customer.subscription.deleted": Step(_fetch_nothing, _subscription_deleted),
    **{type_: Step(money_back.fetch_charge, money_back.charge_event) for type_ in money_back.TYPES},
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
