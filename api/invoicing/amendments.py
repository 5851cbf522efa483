"""Settling the price difference of a licence amendment: the `billing.settle_amendment` handler.

A positive difference is a one-off invoice with one line, drafted here and sent by the worker's
`billing.issue_invoice` sender in three steps with no transaction open (api/invoicing/issuing.py),
the same path as a licence's fee; a negative one is a credit to the partner's customer on the provider (Stripe takes
it off the next invoices; the ledger records the reference for finance). Repeatable: the invoice is
claimed by its charge key and the credit carries an idempotency key derived from the amendment.
"""

from __future__ import annotations

import logging

from sqlmodel import Session

from api.audit import service as audit
from api.audit.service import Actor
from api.core.config import Settings
from api.core.money import format_money
from api.invoicing.models import Invoice, InvoiceKind, InvoiceStatus
from api.invoicing import issuing
from api.invoicing.store import add_lines, claim_invoice, ensure_customer
from api.licensing import service as licensing
from api.licensing.models import LicenceAmendment
from api.partners import service as partners
from billing import BillingBackend, CollectionMethod, LineSpec

log = logging.getLogger("syndicate.billing")
ACTOR = Actor.system("billing")


def settle_amendment(session: Session, *, amendment_id: str, backend: BillingBackend, settings: Settings) -> str | None:
    """Invoice or credit the amendment's price difference once; returns the invoice id or credit reference."""
    amendment = licensing.get_amendment(session, amendment_id)
    if amendment is None or not amendment.price_difference or amendment.settled_ref:
        return amendment.settled_ref if amendment else None
    description = (f"Syndicate licence {amendment.licence_id}: "
                   f"{'quota grant' if amendment.kind == 'quota_grant' else 'amended terms'} ({amendment.reason[:200]})")
    if amendment.price_difference > 0:
        invoice = _invoice(session, amendment, backend=backend, settings=settings, description=description)
        ref = invoice.id
    else:
        partner = partners.get_partner(session, amendment.partner_id)
        customer_id = ensure_customer(session, partner, backend)
        ref = backend.credit_customer(
            idempotency_key=f"amendment-credit:{amendment.id}", customer_id=customer_id,
            amount=-amendment.price_difference, currency=amendment.currency, description=description,
            metadata={"syndicate_licence_id": amendment.licence_id, "syndicate_amendment_id": amendment.id})
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
    return ref


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
