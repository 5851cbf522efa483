"""Finding our side of what a Stripe event is about (shared by the webhook handlers)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from api.core.config import Settings
from api.invoicing.models import BillingSubscription, Invoice, InvoiceKind, InvoiceStatus
from api.invoicing.store import claim_invoice
from api.licensing.models import Licence
from billing import BillingBackend, ProviderInvoice

log = logging.getLogger("syndicate.invoicing.webhooks")


@dataclass(frozen=True)
class Context:
    session: Session
    backend: BillingBackend
    settings: Settings | None


class NotRecordedYet(RuntimeError):
    """The event is about a charge of ours whose own transaction has not committed yet."""


def retry_if_ours(metadata: dict[str, Any], what: str) -> None:
    # Stripe can announce an object before the job that created it has committed its row:
    # raising leaves the event unhandled, and the outbox delivers it again after a backoff.
    if metadata.get("syndicate_licence_id") or metadata.get("syndicate_partner_id"):
        raise NotRecordedYet(f"{what} belongs to Syndicate but is not recorded yet; retrying later")


class StrayInvoice(Exception):
    """A provider invoice names a charge of ours that another provider invoice already settles."""


def charge_key(metadata: dict[str, str]) -> str | None:
    """Our invoice's charge key from the metadata we put on the provider's invoice."""
    if metadata.get("syndicate_charge_key"):  # invoice-now invoices name theirs outright
        return metadata["syndicate_charge_key"]
    if metadata.get("syndicate_period") and metadata.get("syndicate_partner_id"):
        return f"period:{metadata['syndicate_partner_id']}:{metadata['syndicate_period']}"
    if metadata.get("syndicate_licence_id"):
        return f"licence:{metadata['syndicate_licence_id']}"
    return None


def local_invoice(ctx: Context, remote: ProviderInvoice) -> Invoice | None:
    """Our invoice for the provider's: by its id, by the subscription that raised it, or by the
    metadata we gave it (Checkout's invoices, and ours before their id was recorded)."""
    session = ctx.session
    invoice = session.exec(select(Invoice).where(Invoice.provider_invoice_id == remote.id)).first()
    if invoice is not None:
        return invoice
    if remote.subscription_id is not None:
        sub = session.exec(select(BillingSubscription)
                           .where(BillingSubscription.provider_subscription_id == remote.subscription_id)).first()
        licence = session.get(Licence, sub.licence_id) if sub is not None else None
        if sub is None or licence is None:
            return None
        # A renewal (or the first invoice) Stripe raised for the subscription: record it like our own.
        return claim_invoice(session, charge_key=f"stripe:{remote.id}", kind=InvoiceKind.subscription,
                             partner_id=sub.partner_id, licence_id=sub.licence_id, provider=ctx.backend.name,
                             currency=licence.currency, status=InvoiceStatus.open, provider_invoice_id=remote.id)
    key = charge_key(remote.metadata)
    invoice = session.exec(select(Invoice).where(Invoice.charge_key == key)).first() if key else None
    if invoice is not None and invoice.provider_invoice_id not in (None, remote.id):
        # Two provider invoices for one charge of ours: never merge them; reconcile lists the stray.
        log.error("Stripe invoice %s names %s, already invoiced as %s", remote.id, key, invoice.provider_invoice_id)
        raise StrayInvoice(f"invoice {remote.id} names {key}, which is invoice {invoice.provider_invoice_id}")
    return invoice
