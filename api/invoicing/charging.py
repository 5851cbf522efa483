"""Charging an approved licence: the `invoicing.charge_licence` outbox sender's work.

Runs after the approval has committed, for every licence with a fee (a metered licence only gets
its partner's provider customer here, so that each period invoice later is one provider call), in
the outbox's three steps so that no provider call happens inside a database transaction: `prepare_charge` (short transaction) locks the licence,
writes the draft invoice and its line, and reads what the provider needs; `send_charge` (no
transaction) ensures the customer and makes the subscription, the Checkout session or the
invoice; `record_charge` (short transaction) stores what came back. If the provider is
unreachable the send raises, the outbox retries with backoff, and every provider write repeats
with the same idempotency key, so a retry finds what the failed attempt may already have created
instead of charging twice.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from api.audit import service as audit
from api.audit.service import Actor
from api.catalogue import service as catalogue
from api.core.config import Settings, worker_settings
from api.core.db import is_postgres, utcnow
from api.invoicing import issuing, provider
from api.invoicing.issuing import IssueRequest, Issued, Sent
from api.invoicing.models import BillingCustomer, BillingSubscription, Invoice, InvoiceKind, InvoiceStatus
from api.invoicing.store import add_lines, claim_invoice, insert_ignore, pending_messages
from api.licensing.models import BillingMode, Licence
from api.licensing.service import BILLING_MAX_ATTEMPTS, CHARGE_TOPIC, USE_LABELS
from api.licensing.states import LicenceState
from api.outbox import service as outbox
from api.partners import service as partners
from billing import BillingBackend, CollectionMethod, LineSpec, ProviderCheckout, ProviderSubscription

log = logging.getLogger("syndicate.invoicing")
ACTOR = Actor.system("invoicing")


def describe(session: Session, licence: Licence) -> str:
    """The invoice line a partner reads: the use and what it covers by name (headlines, not ids),
    the period, and the licence's reference to quote when paying."""
    what = {"article": "", "bundle": f"bundle of {len(licence.article_ids)} articles",
            "section_feed": f"the {licence.section} section feed", "catalogue": "the catalogue feed"}.get(
        str(licence.scope), str(licence.scope))
    if licence.scope in ("article", "bundle"):
        shown = catalogue.get_articles_with_assets(session, licence.article_ids[:3])
        titles = ", ".join(f"“{article.headline}”" for article, _assets in shown)
        more = f" and {len(licence.article_ids) - 3} more" if len(licence.article_ids) > 3 else ""
        what = f"{what}: {titles}{more}" if what else f"{titles}{more}"
    use = USE_LABELS.get(licence.use, str(licence.use))
    period = f"{licence.starts_at:%d %b %Y} to {licence.ends_at:%d %b %Y}"
    return f"{use} use of {what}, {period} (licence {licence.id})"


@dataclass(frozen=True)
class Price:
    lookup_key: str
    product_name: str
    unit_amount: int
    currency: str
    interval: str | None = None


@dataclass(frozen=True)
class SubscriptionPlan:
    price: Price
    collection_method: CollectionMethod
    days_until_due: int | None
    cancel_at: datetime | None
    metadata: dict[str, str]


@dataclass(frozen=True)
class CheckoutPlan:
    invoice_id: str
    price: Price
    description: str
    success_url: str
    cancel_url: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class ChargeRequest:
    """What the provider is to do for one licence, read in `prepare_charge` as plain data."""

    licence_id: str
    partner_id: str
    partner_name: str
    partner_email: str
    currency: str
    customer_id: str | None
    backend: BillingBackend
    subscription: SubscriptionPlan | None = None
    checkout: CheckoutPlan | None = None
    invoice: IssueRequest | None = None


@dataclass(frozen=True)
class ChargeResult:
    customer_id: str
    subscription: ProviderSubscription | None = None
    price_id: str | None = None
    checkout: ProviderCheckout | None = None
    invoice: Sent | None = None


def prepare_charge(session: Session, *, licence_id: str, backend: BillingBackend,
                   settings: Settings) -> ChargeRequest | None:
    """Step 1: what charging the licence still needs; None when nothing (paid, cancelled, metered,
    or charged already). The draft invoice and its line are written here."""
    stmt = select(Licence).where(Licence.id == licence_id)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    licence = session.exec(stmt).first()
    metered = licence is not None and licence.billing_mode == BillingMode.usage
    if licence is None or licence.state != (LicenceState.active if metered else LicenceState.awaiting_payment):
        return None  # gone, paid already, or cancelled before we got to it
    partner = partners.get_partner(session, licence.partner_id)
    customer = session.exec(select(BillingCustomer).where(BillingCustomer.partner_id == partner.id)).first()
    base = ChargeRequest(licence.id, partner.id, partner.name, partner.billing_email, licence.currency,
                         customer.provider_customer_id if customer and customer.provider == backend.name else None,
                         backend)
    if metered:
        # Billed from metered usage at the end of each period. Its customer is made now, once, so
        # that each period invoice is a single provider call.
        return base if base.customer_id is None else None
    subscription = None
    if licence.billing_mode == BillingMode.subscription:
        subscribed = session.exec(select(BillingSubscription).where(BillingSubscription.licence_id == licence.id)).first()
        subscription = None if subscribed is not None else _subscription_plan(licence, settings)
        if backend.capabilities.bills_subscriptions:
            # The provider raises the subscription's invoices; invoice.paid activates the licence.
            return replace(base, subscription=subscription) if subscription else None
    checkout = settings.one_off_payment == "checkout" and backend.capabilities.hosted_payment_pages \
        and licence.billing_mode == BillingMode.one_off
    collection: CollectionMethod = "charge_automatically" if settings.one_off_payment == "charge_automatically" \
        else "send_invoice"
    invoice = claim_invoice(
        session, charge_key=f"licence:{licence.id}", kind=InvoiceKind.licence, partner_id=licence.partner_id,
        licence_id=licence.id, provider=backend.name, currency=licence.currency, status=InvoiceStatus.draft,
        collection_method="checkout" if checkout else collection,
    )
    if invoice.status != InvoiceStatus.draft:
        return replace(base, subscription=subscription) if subscription else None
    description = describe(session, licence) + (" — first month" if licence.billing_mode == BillingMode.subscription else "")
    line = LineSpec(key=licence.id, description=description, unit_amount=licence.amount, quantity=1,
                    currency=licence.currency)
    add_lines(session, invoice, [line], licence_ids={licence.id: licence.id})
    if checkout:
        return replace(base, checkout=_checkout_plan(invoice, licence, settings, description))
    taken = issuing.take(session, invoice.id, backend=backend, settings=settings, description=description)
    if isinstance(taken, Issued):  # another worker is sending it right now
        raise RuntimeError(f"invoice {invoice.id} is being sent by another worker; trying later")
    return replace(base, subscription=subscription, invoice=taken)


def send_charge(request: ChargeRequest) -> ChargeResult:
    """Step 2, with no transaction open: every provider call of the charge."""
    backend = request.backend
    customer_id = request.customer_id or backend.ensure_customer(
        partner_id=request.partner_id, name=request.partner_name, email=request.partner_email,
        currency=request.currency)
    result = ChargeResult(customer_id)
    if request.subscription is not None:
        plan = request.subscription
        price_id = _ensure_price(backend, plan.price)
        remote = backend.create_subscription(
            idempotency_key=f"subscription:{request.licence_id}", customer_id=customer_id, price_id=price_id,
            collection_method=plan.collection_method, days_until_due=plan.days_until_due, cancel_at=plan.cancel_at,
            metadata=plan.metadata)
        result = replace(result, subscription=remote, price_id=price_id)
    if request.checkout is not None:
        opened = _create_checkout(backend, request.checkout, licence_id=request.licence_id, customer_id=customer_id,
                                  idempotency_key=f"checkout:{request.licence_id}")
        result = replace(result, checkout=opened)
    if request.invoice is not None:
        result = replace(result, invoice=issuing.send(replace(request.invoice, customer_id=customer_id), backend))
    return result


def record_charge(session: Session, request: ChargeRequest, result: ChargeResult | None) -> None:
    """Step 3: store what the provider made (after a failure, only free the invoice's lease)."""
    if result is None:
        if request.invoice is not None:
            issuing.record(session, request.invoice, None, backend=request.backend)
        return
    if request.subscription is not None and result.subscription is not None:
        _record_subscription(session, request, result)
    if request.checkout is not None and result.checkout is not None:
        issuing.remember_customer(session, request.partner_id, result.customer_id, request.backend)
        invoice = session.get(Invoice, request.checkout.invoice_id)
        if invoice is not None and invoice.status == InvoiceStatus.draft:
            invoice.checkout_session_id, invoice.hosted_url = result.checkout.id, result.checkout.url
            invoice.total = invoice.amount_due = request.checkout.price.unit_amount
            invoice.status, invoice.updated_at = InvoiceStatus.open, utcnow()
            session.add(invoice)
            audit.record(session, actor=ACTOR, action="invoice.issued", object_type="invoice", object_id=invoice.id,
                         partner_id=invoice.partner_id, after={"licence_id": request.licence_id,
                                                               "amount_due": invoice.amount_due,
                                                               "currency": invoice.currency,
                                                               "provider": invoice.provider, "collection": "checkout"})
    if request.invoice is not None:
        issuing.record(session, request.invoice, result.invoice, backend=request.backend)
    else:
        issuing.remember_customer(session, request.partner_id, result.customer_id, request.backend)
    session.flush()


def charge_now(engine: Engine, *, licence_id: str, backend: BillingBackend, settings: Settings) -> None:
    """The three steps in a row, each of its own (the outbox sender's work, for callers without it)."""
    outbox.run_in_row(engine, lambda session: prepare_charge(session, licence_id=licence_id, backend=backend,
                                                             settings=settings),
                      send_charge, record_charge)


@outbox.sender(CHARGE_TOPIC)
class ChargeLicence:
    # Read by nothing in dispatch: the lease is Capacity.lease, renewed by a heartbeat while send runs, so a slow
    # send keeps its message. This states the longest a send takes: issue_invoice's four Stripe requests at the
    # default SYNDICATE_STRIPE_TIMEOUT_SECONDS (20 s); every Stripe sender states the same bound.
    timeout = 80.0

    def prepare(self, session: Session, payload: dict[str, Any]) -> ChargeRequest | None:
        return prepare_charge(session, licence_id=payload["licence_id"], backend=provider.backend(),
                              settings=worker_settings())

    def send(self, request: ChargeRequest) -> ChargeResult:
        return send_charge(request)

    def record(self, session: Session, payload: dict[str, Any], outcome: outbox.Outcome) -> None:
        record_charge(session, outcome.request, outcome.result if outcome.ok else None)


def _ensure_price(backend: BillingBackend, price: Price) -> str:
    return backend.ensure_price(lookup_key=price.lookup_key, product_name=price.product_name,
                                unit_amount=price.unit_amount, currency=price.currency,
                                interval="month" if price.interval == "month" else None)


def _create_checkout(backend: BillingBackend, plan: CheckoutPlan, *, licence_id: str, customer_id: str,
                     idempotency_key: str) -> ProviderCheckout:
    return backend.create_checkout_session(
        idempotency_key=idempotency_key, customer_id=customer_id, price_id=_ensure_price(backend, plan.price),
        quantity=1, description=plan.description, success_url=plan.success_url, cancel_url=plan.cancel_url,
        client_reference_id=licence_id, metadata=plan.metadata)


def _subscription_plan(licence: Licence, settings: Settings) -> SubscriptionPlan:
    price = Price(f"syndicate-feed-monthly-{licence.currency.lower()}-{licence.amount}",
                  "Syndicate feed licence (monthly)", licence.amount, licence.currency, "month")
    collection: CollectionMethod = "charge_automatically" if settings.one_off_payment == "charge_automatically" \
        else "send_invoice"
    return SubscriptionPlan(price, collection, settings.invoice_days_until_due, licence.ends_at,
                            {"syndicate_licence_id": licence.id, "syndicate_partner_id": licence.partner_id})


def _checkout_plan(invoice: Invoice, licence: Licence, settings: Settings, description: str) -> CheckoutPlan:
    # One Price per currency and amount, found by its lookup key: sessions never mint Products.
    price = Price(f"syndicate-licence-fee-{licence.currency.lower()}-{licence.amount}", "Syndicate licence fee",
                  licence.amount, licence.currency)
    return CheckoutPlan(invoice.id, price, description,
                        f"{settings.public_base_url}/v1/licences/{licence.id}?checkout=success",
                        f"{settings.public_base_url}/v1/licences/{licence.id}?checkout=cancelled", _metadata(licence))


def _record_subscription(session: Session, request: ChargeRequest, result: ChargeResult) -> None:
    assert result.subscription is not None and request.subscription is not None
    issuing.remember_customer(session, request.partner_id, result.customer_id, request.backend)
    licence = session.get(Licence, request.licence_id)
    starts = licence.starts_at if licence is not None else utcnow()
    inserted = insert_ignore(session, BillingSubscription, {
        "licence_id": request.licence_id, "partner_id": request.partner_id, "provider": request.backend.name,
        "provider_subscription_id": result.subscription.id, "price_id": result.price_id,
        "status": result.subscription.status, "first_period": f"{max(starts, utcnow()):%Y-%m}",
    }, conflict=["licence_id"])
    if inserted:
        audit.record(session, actor=ACTOR, action="subscription.created", object_type="licence",
                     object_id=request.licence_id, partner_id=request.partner_id,
                     after={"provider": request.backend.name, "subscription": result.subscription.id,
                            "price": result.price_id, "amount": request.subscription.price.unit_amount})


def _metadata(licence: Licence) -> dict[str, str]:
    # Only stable values go to the provider: a retry after a rollback has a new local invoice id,
    # and different parameters under the same idempotency key would be refused.
    return {"syndicate_licence_id": licence.id, "syndicate_partner_id": licence.partner_id}


@dataclass(frozen=True)
class CheckoutRenewal:
    """A fresh Checkout session to offer on `invoice_id` once the one it replaces no longer pays,
    read in a short transaction; the invoice is leased to this renewal until it is recorded."""

    invoice_id: str
    licence_id: str
    partner_id: str
    partner_name: str
    partner_email: str
    customer_id: str | None
    plan: CheckoutPlan
    lease_token: str


RENEWAL_LEASE = timedelta(minutes=5)


def plan_new_checkout(session: Session, invoice: Invoice, *, backend: BillingBackend,
                      settings: Settings) -> CheckoutRenewal | None:
    """Step 1 of offering a fresh session (the card payment of `invoice` expired or failed): None if
    its licence no longer awaits payment. Raises if another event is renewing it right now, so one
    expired session is replaced by one new one, not one per event about it."""
    licence = session.get(Licence, invoice.licence_id) if invoice.licence_id else None
    if licence is None or licence.state != LicenceState.awaiting_payment or invoice.status == InvoiceStatus.paid:
        return None
    now, token = utcnow(), secrets.token_hex(16)
    taken = session.exec(
        update(Invoice).where(col(Invoice.id) == invoice.id,
                              or_(col(Invoice.issue_lease_until).is_(None), col(Invoice.issue_lease_until) < now))
        .values(issue_lease_token=token, issue_lease_until=now + RENEWAL_LEASE)).rowcount
    if not taken:
        raise RuntimeError(f"invoice {invoice.id} is being renewed or sent by another worker; trying later")
    partner = partners.get_partner(session, licence.partner_id)
    customer = session.exec(select(BillingCustomer).where(BillingCustomer.partner_id == partner.id)).first()
    return CheckoutRenewal(invoice.id, licence.id, partner.id, partner.name, partner.billing_email,
                           customer.provider_customer_id if customer and customer.provider == backend.name else None,
                           _checkout_plan(invoice, licence, settings, describe(session, licence)), token)


def open_new_checkout(backend: BillingBackend, renewal: CheckoutRenewal, *, after_session_id: str) -> tuple[str, ProviderCheckout]:
    """Step 2, no transaction open: the new session, keyed by the one it replaces so that a
    repeated event opens no second one. Returns the customer id and the session."""
    customer_id = renewal.customer_id or backend.ensure_customer(
        partner_id=renewal.partner_id, name=renewal.partner_name, email=renewal.partner_email,
        currency=renewal.plan.price.currency)
    opened = _create_checkout(backend, renewal.plan, licence_id=renewal.licence_id, customer_id=customer_id,
                              idempotency_key=f"checkout:{renewal.licence_id}:after:{after_session_id}")
    return customer_id, opened


def record_new_checkout(session: Session, invoice: Invoice, renewal: CheckoutRenewal,
                        opened: tuple[str, ProviderCheckout] | None, *, backend: BillingBackend) -> bool:
    """Step 3: free the invoice's lease and, if the session was opened, offer it on the invoice.
    False if the lease was lost meanwhile (its new holder records instead)."""
    if invoice.issue_lease_token != renewal.lease_token:
        return False
    invoice.issue_lease_token, invoice.issue_lease_until = None, None
    if opened is not None:
        customer_id, checkout = opened
        issuing.remember_customer(session, renewal.partner_id, customer_id, backend)
        invoice.checkout_session_id, invoice.hosted_url = checkout.id, checkout.url
        invoice.status, invoice.updated_at = InvoiceStatus.open, utcnow()
    session.add(invoice)
    session.flush()
    return True


def sweep_uncharged(session: Session, *, now: datetime | None = None) -> list[str]:
    """Queue the charge again for every licence that awaits payment with nothing to pay yet: no
    issued invoice, no subscription, and no charge message still pending (it died in an outage
    longer than its retries, or a held-back draft waits). Returns the licence ids queued."""
    issued = select(Invoice.id).where(Invoice.licence_id == Licence.id, Invoice.status != InvoiceStatus.draft)
    subscribed = select(BillingSubscription.id).where(BillingSubscription.licence_id == Licence.id)
    stmt = (select(Licence.id)
            .where(Licence.state == LicenceState.awaiting_payment,
                   col(Licence.billing_mode).in_([BillingMode.one_off, BillingMode.subscription]),
                   ~issued.exists(), ~subscribed.exists(),
                   ~pending_messages(CHARGE_TOPIC, "licence_id", Licence.id).exists())
            .order_by(Licence.id))
    queued = list(session.exec(stmt).all())
    stamp = f"{now or utcnow():%Y%m%dT%H}"  # sweeps of one hour (several workers) queue one message
    for licence_id in queued:
        outbox.enqueue(session, CHARGE_TOPIC, {"licence_id": licence_id},
                       dedupe_key=f"charge-licence:{licence_id}:sweep:{stamp}", max_attempts=BILLING_MAX_ATTEMPTS)
    return queued
