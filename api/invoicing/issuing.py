"""Sending a prepared draft invoice to the provider in three steps, never inside a transaction.

`take` (short transaction): lease the draft to this caller and read what the provider needs as
plain data. `send` (no transaction open): one `issue_invoice` call, in which the backend brings
its draft to our lines, compares totals and finalizes (the partner's customer was made when its
licence was charged, api/invoicing/charging.py, so a period invoice costs one provider call a
partner). `record` (short transaction): store the provider's state on our row, count a failed
attempt, and release the lease. On SQLite every write transaction holds the
database's only write lock, so waiting on Stripe inside one stops content delivery from recording
usage; here a slow provider only delays its own invoice.

The lease (`issue_lease_token`, `issue_lease_until`) makes one caller at a time send a given
invoice (two billing runs at once, a run beside the outbox); the provider calls carry idempotency
keys built from our stable ids, so a caller that died mid-send is simply repeated once the lease
has run out.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from api.audit import service as audit
from api.audit.service import Actor
from api.core.config import Settings, worker_settings
from api.core.db import session_scope, utcnow
from api.invoicing import provider
from api.invoicing.models import BillingCustomer, Invoice, InvoiceKind, InvoiceStatus
from api.invoicing.policy import ISSUE_TOPIC
from api.licensing.service import BILLING_MAX_ATTEMPTS
from api.invoicing.service import apply_provider_state, settle
from api.invoicing.store import as_specs, insert_ignore, lines_of
from api.outbox import service as outbox
from api.partners import service as partners
from billing import BillingBackend, CollectionMethod, LineSpec, ProviderInvoice

log = logging.getLogger("syndicate.invoicing.issuing")
ACTOR = Actor.system("invoicing")
# Longer than the SDK's worst case (80 s timeout x 3 tries) for the handful of calls of one invoice.
LEASE = timedelta(minutes=15)


@dataclass(frozen=True)
class IssueRequest:
    """Everything `send` needs, read in `take`: no ORM rows cross the transaction boundary."""

    invoice_id: str
    lease_token: str
    idempotency_key: str
    partner_id: str
    partner_name: str
    partner_email: str
    currency: str
    customer_id: str | None  # None: ensured at the provider during `send` (a partner charged before there was one)
    lines: list[LineSpec]
    collection_method: CollectionMethod
    days_until_due: int | None
    description: str
    metadata: dict[str, str] = field(default_factory=dict)
    attempt: int = 0  # the invoice's failed attempts so far: part of the provider's idempotency keys


@dataclass(frozen=True)
class Sent:
    customer_id: str
    remote: ProviderInvoice
    held: str | None  # why the invoice was not finalized (totals disagree); None once issued


@dataclass(frozen=True)
class Issued:
    """What became of one attempt: `issued`, `held`, `already` (issued before) or `busy` (another caller sends it)."""

    outcome: str
    invoice_id: str
    total: int = 0
    currency: str = ""
    reason: str | None = None
    lines: int = 0


def provider_terms(invoice: Invoice, description: str | None = None) -> tuple[str, str, dict[str, str]]:
    """Idempotency key, description and metadata for the provider: stable values only, so a retry
    after a rollback sends the very same parameters under the same key."""
    partner = invoice.partner_id
    if invoice.kind == InvoiceKind.period:
        return (f"invoice:{partner}:{invoice.period}", f"Syndicate usage and fees, {invoice.period}",
                {"syndicate_partner_id": partner, "syndicate_period": invoice.period or ""})
    if invoice.kind == InvoiceKind.on_demand:
        to = f"{invoice.usage_to:%Y-%m-%d %H:%M:%S} UTC" if invoice.usage_to else "now"
        return (invoice.charge_key, f"Syndicate usage up to {to}",
                {"syndicate_partner_id": partner, "syndicate_charge_key": invoice.charge_key})
    if invoice.kind == InvoiceKind.amendment:
        return (f"amendment-invoice:{invoice.charge_key}",
                description or f"Syndicate licence {invoice.licence_id}: amended terms",
                {"syndicate_licence_id": invoice.licence_id or "", "syndicate_partner_id": partner,
                 "syndicate_charge_key": invoice.charge_key})
    return (f"licence-invoice:{invoice.licence_id}", description or f"Syndicate licence {invoice.licence_id}",
            {"syndicate_licence_id": invoice.licence_id or "", "syndicate_partner_id": partner})


def take(session: Session, invoice_id: str, *, backend: BillingBackend, settings: Settings,
         description: str | None = None) -> IssueRequest | Issued:
    """Lease a draft to this caller and read what sending it needs; or say why there is nothing to send."""
    now, token = utcnow(), secrets.token_hex(16)
    taken = session.exec(
        update(Invoice).where(col(Invoice.id) == invoice_id, col(Invoice.status) == InvoiceStatus.draft,
                              or_(col(Invoice.issue_lease_until).is_(None), col(Invoice.issue_lease_until) < now))
        .values(issue_lease_token=token, issue_lease_until=now + LEASE)
    ).rowcount
    invoice = session.exec(select(Invoice).where(Invoice.id == invoice_id)
                           .execution_options(populate_existing=True)).one()
    if not taken:
        return Issued("already" if invoice.status != InvoiceStatus.draft else "busy", invoice.id,
                      invoice.total, invoice.currency)
    partner = partners.get_partner(session, invoice.partner_id)
    customer = session.exec(select(BillingCustomer).where(BillingCustomer.partner_id == partner.id)).first()
    key, text, metadata = provider_terms(invoice, description)
    collection: CollectionMethod = "charge_automatically" if invoice.collection_method == "charge_automatically" \
        else "send_invoice"
    return IssueRequest(
        invoice_id=invoice.id, lease_token=token, idempotency_key=key, partner_id=partner.id,
        partner_name=partner.name, partner_email=partner.billing_email, currency=invoice.currency,
        customer_id=customer.provider_customer_id if customer and customer.provider == backend.name else None,
        lines=as_specs(lines_of(session, invoice.id)), collection_method=collection,
        days_until_due=settings.invoice_days_until_due, description=text, metadata=metadata,
        attempt=invoice.issue_attempts)


def send(request: IssueRequest, backend: BillingBackend) -> Sent:
    """The provider call, with no transaction open: `issue_invoice` finalizes (sends or charges)
    the invoice only when the provider's total agrees with ours to the unit, and we check the
    same again on what it returns. `total` is compared, not `amount_due`: a credit balance lowers
    what is due, never what was invoiced."""
    customer_id = request.customer_id or backend.ensure_customer(
        partner_id=request.partner_id, name=request.partner_name, email=request.partner_email,
        currency=request.currency)
    ours = sum(line.amount for line in request.lines)
    remote = backend.issue_invoice(
        idempotency_key=request.idempotency_key, attempt=request.attempt, customer_id=customer_id,
        currency=request.currency, lines=request.lines, collection_method=request.collection_method,
        days_until_due=request.days_until_due, description=request.description, metadata=request.metadata)
    if remote.total != ours or remote.currency != request.currency.upper() or remote.status == InvoiceStatus.draft:
        return Sent(customer_id, remote, f"{backend.name} invoice {remote.id} totals {remote.total} {remote.currency}, "
                                         f"ours {ours} {request.currency}: left {remote.status}, not sent")
    return Sent(customer_id, remote, None)


def record(session: Session, request: IssueRequest, sent: Sent | None, *, backend: BillingBackend) -> Issued:
    """Store what the provider did (or, with `sent` None after a failure, only free the lease)."""
    invoice = session.exec(select(Invoice).where(Invoice.id == request.invoice_id).with_for_update()
                           .execution_options(populate_existing=True)).one()
    if invoice.issue_lease_token != request.lease_token:
        log.error("invoice %s: lease lost while sending; the outcome is left to its new holder", invoice.id)
        return Issued("busy", invoice.id, invoice.total, invoice.currency)
    invoice.issue_lease_token, invoice.issue_lease_until = None, None
    if sent is None or sent.held:
        # The next attempt sends under fresh idempotency keys: Stripe replays a saved failure (a 500,
        # a refusal) to the same key. A crash records nothing, so its retry repeats the keys.
        invoice.issue_attempts += 1
    if sent is None:
        session.add(invoice)
        return Issued("failed", invoice.id, invoice.total, invoice.currency)
    remember_customer(session, request.partner_id, sent.customer_id, backend)
    invoice.total = sum(line.amount for line in request.lines)
    apply_provider_state(invoice, sent.remote)
    session.add(invoice)
    what = {"kind": str(invoice.kind), "period": invoice.period, "licence_id": invoice.licence_id,
            "total": invoice.total, "currency": invoice.currency}
    if sent.held:
        # Committed as an unsent draft: reconcile shows it, and the next attempt tries it again.
        log.error("invoice %s held back: %s", invoice.id, sent.held)
        audit.record(session, actor=ACTOR, action="invoice.held", object_type="invoice", object_id=invoice.id,
                     partner_id=invoice.partner_id, after={**what, "reason": sent.held})
        return Issued("held", invoice.id, invoice.total, invoice.currency, sent.held)
    audit.record(session, actor=ACTOR, action="invoice.issued", object_type="invoice", object_id=invoice.id,
                 partner_id=invoice.partner_id, after={**what, "amount_due": invoice.amount_due,
                                                       "lines": len(request.lines), "provider": backend.name,
                                                       "collection": invoice.collection_method})
    if invoice.status == InvoiceStatus.paid:  # charged automatically at finalization
        settle(session, invoice, actor=ACTOR, reason=f"invoice {invoice.provider_invoice_id} paid when issued")
    session.flush()
    return Issued("issued", invoice.id, invoice.total, invoice.currency, lines=len(request.lines))


def remember_customer(session: Session, partner_id: str, customer_id: str, backend: BillingBackend) -> None:
    """One provider customer per partner: the unique partner_id decides which row stays."""
    found = session.exec(select(BillingCustomer).where(BillingCustomer.partner_id == partner_id)).first()
    if found is None:
        insert_ignore(session, BillingCustomer, {"partner_id": partner_id, "provider": backend.name,
                                                 "provider_customer_id": customer_id}, conflict=["partner_id"])
    elif found.provider != backend.name:  # the backend was switched (ledger -> stripe)
        found.provider, found.provider_customer_id = backend.name, customer_id
        session.add(found)


def issue_now(engine: Engine, invoice_id: str, *, backend: BillingBackend, settings: Settings) -> Issued:
    """Take, send and record one draft, each step in its own transaction (the billing run's way).
    A provider error frees the lease and is raised for the caller to report."""
    with session_scope(engine) as session:
        request = take(session, invoice_id, backend=backend, settings=settings)
    if isinstance(request, Issued):
        return request
    try:
        sent = send(request, backend)
    except Exception:
        with session_scope(engine) as session:
            record(session, request, None, backend=backend)
        raise
    with session_scope(engine) as session:
        return record(session, request, sent, backend=backend)


def queue(session: Session, invoice: Invoice) -> None:
    """Have the worker send a draft (invoices made inside a request, e.g. invoice-now)."""
    outbox.enqueue(session, ISSUE_TOPIC, {"invoice_id": invoice.id}, dedupe_key=f"issue-invoice:{invoice.id}",
                   max_attempts=BILLING_MAX_ATTEMPTS)


@outbox.sender(ISSUE_TOPIC)
class IssueInvoice:
    """The worker's side of `invoicing.issue_invoice`: the same three steps under the outbox's lease."""

    # Read by nothing in dispatch: the lease is Capacity.lease, renewed by a heartbeat while send runs, so a slow
    # send keeps its message. This states the longest a send takes: issue_invoice's four Stripe requests at the
    # default SYNDICATE_STRIPE_TIMEOUT_SECONDS (20 s); every Stripe sender states the same bound.
    timeout = 80.0

    def prepare(self, session: Session, payload: dict[str, Any]) -> tuple[IssueRequest, BillingBackend] | None:
        backend = provider.backend()
        request = take(session, payload["invoice_id"], backend=backend, settings=worker_settings())
        if isinstance(request, Issued):
            if request.outcome == "busy":
                raise RuntimeError(f"invoice {request.invoice_id} is being sent by another worker; trying later")
            return None
        return request, backend

    def send(self, request: tuple[IssueRequest, BillingBackend]) -> Sent:
        return send(*request)

    def record(self, session: Session, payload: dict[str, Any], outcome: outbox.Outcome) -> None:
        request, backend = outcome.request
        issued = record(session, request, outcome.result if outcome.ok else None, backend=backend)
        if issued.outcome == "held":
            # Reconcile shows the unsent draft meanwhile; an hour later it is tried again.
            outbox.enqueue(session, ISSUE_TOPIC, {"invoice_id": issued.invoice_id},
                           dedupe_key=f"issue-invoice:{issued.invoice_id}:held:{utcnow():%Y%m%dT%H}",
                           delay=timedelta(hours=1), max_attempts=BILLING_MAX_ATTEMPTS)
