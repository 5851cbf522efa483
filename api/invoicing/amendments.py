"""Settling the price difference of a licence amendment: the `invoicing.settle_amendment` sender.

A positive difference is a one-off invoice with one line, drafted here and sent by the worker's
`invoicing.issue_invoice` sender in three steps with no transaction open (api/invoicing/issuing.py),
the same path as a licence's fee; a negative one is a credit to the partner's customer on the
provider (Stripe takes it off the next invoices; the ledger records the reference for finance),
sent in the outbox's three steps so that the provider is never waited on inside a transaction:
`prepare_settlement`, `send_credit` (no transaction open), `record_credit`. Repeatable: the invoice is
claimed by its charge key and the credit carries an idempotency key derived from the amendment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from api.audit import service as audit
from api.audit.service import Actor
from api.core.config import Settings, worker_settings
from api.core.money import format_money
from api.invoicing import issuing, provider
from api.invoicing.models import BillingCustomer, Invoice, InvoiceKind, InvoiceStatus
from api.invoicing.store import add_lines, claim_invoice
from api.licensing import service as licensing
from api.licensing.models import LicenceAmendment
from api.outbox import service as outbox
from api.partners import service as partners
from billing import BillingBackend, CollectionMethod, LineSpec

log = logging.getLogger("syndicate.invoicing")
ACTOR = Actor.system("invoicing")


@dataclass(frozen=True)
class CreditRequest:
    """A negative difference to credit at the provider, read as plain data in a short transaction."""

    amendment_id: str
    licence_id: str
    partner_id: str
    partner_name: str
    partner_email: str
    partner_currency: str
    customer_id: str | None  # None: ensured at the provider during the send
    amount: int  # positive: what the partner gets back
    currency: str
    description: str


def prepare_settlement(session: Session, *, amendment_id: str, backend: BillingBackend,
                       settings: Settings) -> CreditRequest | None:
    """Step 1 (short transaction): a positive difference is drafted and queued here, whole; a
    negative one returns the credit to send. None: nothing (left) to do."""
    amendment = licensing.get_amendment(session, amendment_id)
    if amendment is None or not amendment.price_difference or amendment.settled_ref:
        return None
    description = (f"Syndicate licence {amendment.licence_id}: "
                   f"{'quota grant' if amendment.kind == 'quota_grant' else 'amended terms'} ({amendment.reason[:200]})")
    if amendment.price_difference > 0:
        invoice = _invoice(session, amendment, backend=backend, settings=settings, description=description)
        _settled(session, amendment, invoice.id, backend)
        return None
    partner = partners.get_partner(session, amendment.partner_id)
    customer = session.exec(select(BillingCustomer).where(BillingCustomer.partner_id == partner.id)).first()
    return CreditRequest(amendment.id, amendment.licence_id, partner.id, partner.name, partner.billing_email,
                         partner.currency,
                         customer.provider_customer_id if customer and customer.provider == backend.name else None,
                         -amendment.price_difference, amendment.currency, description)


def send_credit(request: CreditRequest, backend: BillingBackend) -> tuple[str, str]:
    """Step 2 (no transaction open): the credit, keyed by the amendment so a retry credits once.
    Returns the customer id and the credit's reference."""
    customer_id = request.customer_id or backend.ensure_customer(
        partner_id=request.partner_id, name=request.partner_name, email=request.partner_email,
        currency=request.partner_currency)
    ref = backend.credit_customer(
        idempotency_key=f"amendment-credit:{request.amendment_id}", customer_id=customer_id, amount=request.amount,
        currency=request.currency, description=request.description,
        metadata={"syndicate_licence_id": request.licence_id, "syndicate_amendment_id": request.amendment_id})
    return customer_id, ref


def record_credit(session: Session, request: CreditRequest, sent: tuple[str, str], *, backend: BillingBackend) -> str:
    """Step 3 (short transaction): remember the customer and the reference on the amendment."""
    customer_id, ref = sent
    issuing.remember_customer(session, request.partner_id, customer_id, backend)
    amendment = licensing.get_amendment(session, request.amendment_id)
    if amendment is not None and not amendment.settled_ref:
        _settled(session, amendment, ref, backend)
    return amendment.settled_ref if amendment is not None and amendment.settled_ref else ref


def _settled(session: Session, amendment: LicenceAmendment, ref: str, backend: BillingBackend) -> None:
    amendment.settled_ref = ref
    session.add(amendment)
    audit.record(session, actor=ACTOR, action="licence.amendment_settled", object_type="licence",
                 object_id=amendment.licence_id, partner_id=amendment.partner_id,
                 after={"amendment_id": amendment.id, "price_difference": amendment.price_difference,
                        "currency": amendment.currency, "reference": ref, "provider": backend.name,
                        "as": "invoice" if amendment.price_difference > 0 else "credit"})
    session.flush()
    log.info("amendment %s: %s %s as %s", amendment.id, backend.name,
             format_money(amendment.price_difference, amendment.currency), ref)


@outbox.sender(licensing.AMENDMENT_SETTLE_TOPIC)
class SettleAmendment:
    """The worker's side of `invoicing.settle_amendment`: a credit is sent with no transaction open."""

    # Read by nothing in dispatch: the lease is Capacity.lease, renewed by a heartbeat while send runs, so a slow
    # send keeps its message. This states the longest a send takes: issue_invoice's four Stripe requests at the
    # default SYNDICATE_STRIPE_TIMEOUT_SECONDS (20 s); every Stripe sender states the same bound.
    timeout = 80.0

    def prepare(self, session: Session, payload: dict[str, Any]) -> tuple[CreditRequest, BillingBackend] | None:
        backend = provider.backend()
        request = prepare_settlement(session, amendment_id=payload["amendment_id"], backend=backend,
                                     settings=worker_settings())
        return (request, backend) if request is not None else None

    def send(self, request: tuple[CreditRequest, BillingBackend]) -> tuple[str, str]:
        return send_credit(*request)

    def record(self, session: Session, payload: dict[str, Any], outcome: outbox.Outcome) -> None:
        if outcome.ok:  # a failure is retried by the outbox under the same idempotency key
            request, backend = outcome.request
            record_credit(session, request, outcome.result, backend=backend)


def _invoice(session: Session, amendment: LicenceAmendment, *, backend: BillingBackend, settings: Settings,
             description: str) -> Invoice:
    """The amendment's draft invoice with its one line, queued for the worker to send."""
    collection: CollectionMethod = "charge_automatically" if settings.one_off_payment == "charge_automatically" \
        else "send_invoice"
    invoice = claim_invoice(
        session, charge_key=f"amendment:{amendment.id}", kind=InvoiceKind.amendment, partner_id=amendment.partner_id,
        licence_id=amendment.licence_id, provider=backend.name, currency=amendment.currency,
        status=InvoiceStatus.draft, collection_method=collection)
    if invoice.status != InvoiceStatus.draft:
        return invoice
    line = LineSpec(key=amendment.id, description=description, unit_amount=amendment.price_difference, quantity=1,
                    currency=amendment.currency)
    add_lines(session, invoice, [line], licence_ids={amendment.id: amendment.licence_id})
    issuing.queue(session, invoice)
    session.flush()
    return invoice
