"""Charging an approved licence: the `billing.charge_licence` outbox handler's work.

Runs after the approval has committed. If the provider is unreachable it raises, the outbox
retries with backoff, and every provider write repeats with the same idempotency key, so a retry
finds what the failed attempt may already have created instead of charging twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session, select

from api.audit import service as audit
from api.audit.service import Actor
from api.core.config import Settings
from api.core.db import is_postgres, utcnow
from api.invoicing.models import BillingSubscription, Invoice, InvoiceKind, InvoiceStatus
from api.invoicing.policy import BILLING_MAX_ATTEMPTS, CHARGE_TOPIC
from api.invoicing.service import issue, settle
from api.invoicing.store import add_lines, as_specs, claim_invoice, ensure_customer, insert_ignore, pending_messages
from api.licensing.models import BillingMode, Licence
from api.licensing.states import LicenceState
from api.outbox import service as outbox
from api.partners import service as partners
from billing import BillingBackend, CollectionMethod, LineSpec

log = logging.getLogger("syndicate.billing")
ACTOR = Actor.system("billing")


def describe(licence: Licence) -> str:
    what = {"article": "article", "bundle": f"bundle of {len(licence.article_ids)} articles",
            "section_feed": f"'{licence.section}' section feed", "catalogue": "catalogue feed"}.get(
        str(licence.scope), str(licence.scope))
    period = f"{licence.starts_at:%d %b %Y} to {licence.ends_at:%d %b %Y}"
    articles = f" ({', '.join(licence.article_ids[:5])})" if licence.scope in ("article", "bundle") else ""
    return f"Syndicate licence {licence.id}: {licence.use} use of {what}{articles}, {period}"


def charge_licence(session: Session, *, licence_id: str, backend: BillingBackend, settings: Settings) -> Invoice | None:
    """Create the charge for a licence awaiting payment; repeatable. Returns the invoice, if any."""
    stmt = select(Licence).where(Licence.id == licence_id)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    licence = session.exec(stmt).first()
    if licence is None or licence.state != LicenceState.awaiting_payment:
        return None  # gone, paid already, or revoked before we got to it
    if licence.billing_mode == BillingMode.usage:
        return None  # billed from metered usage at the end of each period
    partner = partners.get_partner(session, licence.partner_id)
    customer_id = ensure_customer(session, partner, backend)
    if licence.billing_mode == BillingMode.subscription:
        _subscribe(session, licence, customer_id=customer_id, backend=backend, settings=settings)
        if backend.name != "ledger":
            return None  # Stripe raises the subscription's invoices; invoice.paid activates the licence
    return _invoice_licence(session, licence, customer_id=customer_id, backend=backend, settings=settings)


def _invoice_licence(session: Session, licence: Licence, *, customer_id: str, backend: BillingBackend,
                     settings: Settings) -> Invoice:
    checkout = settings.one_off_payment == "checkout" and backend.name != "ledger" \
        and licence.billing_mode == BillingMode.one_off
    collection: CollectionMethod = "charge_automatically" if settings.one_off_payment == "charge_automatically" \
        else "send_invoice"
    invoice = claim_invoice(
        session, charge_key=f"licence:{licence.id}", kind=InvoiceKind.licence, partner_id=licence.partner_id,
        licence_id=licence.id, provider=backend.name, currency=licence.currency, status=InvoiceStatus.draft,
        collection_method="checkout" if checkout else collection,
    )
    if invoice.status != InvoiceStatus.draft:
        return invoice
    description = describe(licence) + (" — first month" if licence.billing_mode == BillingMode.subscription else "")
    line = LineSpec(key=licence.id, description=description, unit_amount=licence.amount, quantity=1,
                    currency=licence.currency)
    lines = as_specs(add_lines(session, invoice, [line], licence_ids={licence.id: licence.id}))
    if checkout:
        _open_checkout(session, invoice, licence, customer_id=customer_id, backend=backend, settings=settings,
                       idempotency_key=f"checkout:{licence.id}", description=description)
        invoice.total = invoice.amount_due = lines[0].amount
    else:
        held = issue(invoice, backend, idempotency_key=f"licence-invoice:{licence.id}", customer_id=customer_id,
                     lines=lines, collection_method=collection, days_until_due=settings.invoice_days_until_due,
                     description=description, metadata=_metadata(licence))
        if held:
            # Not sent: the draft stays visible to reconcile, and the charge sweep tries again.
            log.error("licence %s: %s", licence.id, held)
            audit.record(session, actor=ACTOR, action="invoice.held", object_type="invoice", object_id=invoice.id,
                         partner_id=invoice.partner_id, after={"licence_id": licence.id, "reason": held})
            session.add(invoice)
            session.flush()
            return invoice
        if invoice.status == InvoiceStatus.paid:  # charged automatically at finalization
            settle(session, invoice, actor=ACTOR, reason=f"invoice {invoice.provider_invoice_id} paid when issued")
    session.add(invoice)
    audit.record(session, actor=ACTOR, action="invoice.issued", object_type="invoice", object_id=invoice.id,
                 partner_id=invoice.partner_id, after={"licence_id": licence.id, "amount_due": invoice.amount_due,
                                                       "currency": invoice.currency, "provider": invoice.provider,
                                                       "collection": invoice.collection_method})
    session.flush()
    return invoice


def _metadata(licence: Licence) -> dict[str, str]:
    # Only stable values go to the provider: a retry after a rollback has a new local invoice id,
    # and different parameters under the same idempotency key would be refused.
    return {"syndicate_licence_id": licence.id, "syndicate_partner_id": licence.partner_id}


def _open_checkout(session: Session, invoice: Invoice, licence: Licence, *, customer_id: str, backend: BillingBackend,
                   settings: Settings, idempotency_key: str, description: str) -> None:
    # One Price per currency and amount, found by its lookup key: sessions never mint Products.
    price_id = backend.ensure_price(
        lookup_key=f"syndicate-licence-fee-{licence.currency.lower()}-{licence.amount}",
        product_name="Syndicate licence fee", unit_amount=licence.amount, currency=licence.currency,
    )
    opened = backend.create_checkout_session(
        idempotency_key=idempotency_key, customer_id=customer_id, price_id=price_id, quantity=1,
        description=description,
        success_url=f"{settings.public_base_url}/v1/licences/{licence.id}?checkout=success",
        cancel_url=f"{settings.public_base_url}/v1/licences/{licence.id}?checkout=cancelled",
        client_reference_id=licence.id, metadata=_metadata(licence),
    )
    invoice.checkout_session_id, invoice.hosted_url = opened.id, opened.url
    invoice.status, invoice.updated_at = InvoiceStatus.open, utcnow()


def offer_new_checkout(session: Session, invoice: Invoice, *, backend: BillingBackend, settings: Settings,
                       after_session_id: str) -> str | None:
    """The card payment of `invoice` expired or failed: open a fresh Checkout session for its
    licence if it still awaits payment. Keyed by the session it replaces, so a repeated event
    opens no second one. Returns the new session's id."""
    licence = session.get(Licence, invoice.licence_id) if invoice.licence_id else None
    if licence is None or licence.state != LicenceState.awaiting_payment or invoice.status == InvoiceStatus.paid:
        return None
    customer_id = ensure_customer(session, partners.get_partner(session, licence.partner_id), backend)
    _open_checkout(session, invoice, licence, customer_id=customer_id, backend=backend, settings=settings,
                   idempotency_key=f"checkout:{licence.id}:after:{after_session_id}", description=describe(licence))
    session.add(invoice)
    session.flush()
    return invoice.checkout_session_id


def sweep_uncharged(session: Session, *, now: datetime | None = None) -> list[str]:
    """Queue the charge again for every licence that awaits payment with nothing to pay yet: no
    issued invoice, no subscription, and no charge message still pending (it died in an outage
    longer than its retries, or a held-back draft waits). Returns the licence ids queued."""
    issued = select(Invoice.id).where(Invoice.licence_id == Licence.id, Invoice.status != InvoiceStatus.draft)
    subscribed = select(BillingSubscription.id).where(BillingSubscription.licence_id == Licence.id)
    stmt = (select(Licence.id)
            .where(Licence.state == LicenceState.awaiting_payment,
                   Licence.billing_mode.in_([BillingMode.one_off, BillingMode.subscription]),  # type: ignore[attr-defined]
                   ~issued.exists(), ~subscribed.exists(),
                   ~pending_messages(CHARGE_TOPIC, "licence_id", Licence.id).exists())
            .order_by(Licence.id))
    queued = list(session.exec(stmt).all())
    stamp = f"{now or utcnow():%Y%m%dT%H}"  # sweeps of one hour (several workers) queue one message
    for licence_id in queued:
        outbox.enqueue(session, CHARGE_TOPIC, {"licence_id": licence_id},
                       dedupe_key=f"charge-licence:{licence_id}:sweep:{stamp}", max_attempts=BILLING_MAX_ATTEMPTS)
    return queued


def _subscribe(session: Session, licence: Licence, *, customer_id: str, backend: BillingBackend,
               settings: Settings) -> BillingSubscription:
    found = session.exec(select(BillingSubscription).where(BillingSubscription.licence_id == licence.id)).first()
    if found is not None:
        return found
    currency = licence.currency.lower()
    price_id = backend.ensure_price(
        lookup_key=f"syndicate-feed-monthly-{currency}-{licence.amount}", product_name="Syndicate feed licence (monthly)",
        unit_amount=licence.amount, currency=licence.currency, interval="month",
    )
    collection = "charge_automatically" if settings.one_off_payment == "charge_automatically" else "send_invoice"
    remote = backend.create_subscription(
        idempotency_key=f"subscription:{licence.id}", customer_id=customer_id, price_id=price_id,
        collection_method=collection, days_until_due=settings.invoice_days_until_due, cancel_at=licence.ends_at,
        metadata={"syndicate_licence_id": licence.id, "syndicate_partner_id": licence.partner_id},
    )
    insert_ignore(session, BillingSubscription, {
        "licence_id": licence.id, "partner_id": licence.partner_id, "provider": backend.name,
        "provider_subscription_id": remote.id, "price_id": price_id, "status": remote.status,
        "first_period": f"{max(licence.starts_at, utcnow()):%Y-%m}",
    }, conflict=["licence_id"])
    audit.record(session, actor=ACTOR, action="subscription.created", object_type="licence", object_id=licence.id,
                 partner_id=licence.partner_id, after={"provider": backend.name, "subscription": remote.id,
                                                       "price": price_id, "amount": licence.amount})
    return session.exec(select(BillingSubscription).where(BillingSubscription.licence_id == licence.id)).one()
