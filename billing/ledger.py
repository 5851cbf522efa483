"""The embedded default: no payment provider. Invoices live only in our database (the invoicing
domain writes them); finance staff mark them paid when the bank transfer arrives.

The backend therefore only hands out stable ids: calling it twice with the same key gives the
same answer, exactly like a provider honouring idempotency keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from billing.base import (
    BadWebhookSignature, Capabilities, CollectionMethod, LineSpec, ProviderCharge, ProviderCheckout,
    ProviderDispute, ProviderInvoice, ProviderSubscription, WebhookEvent,
)


def _ref(prefix: str, key: str) -> str:
    return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:24]}"


class LedgerBackend:
    name = "ledger"
    capabilities = Capabilities(keeps_invoices=False, bills_subscriptions=False, hosted_payment_pages=False,
                                reports_payments=False)

    def ensure_customer(self, *, partner_id: str, name: str, email: str, currency: str) -> str:
        return f"ledger_{partner_id}"

    def ensure_price(
        self, *, lookup_key: str, product_name: str, unit_amount: int, currency: str,
        interval: Literal["month", "year"] | None = None,
    ) -> str:
        return _ref("ledgerprice", lookup_key)

    def issue_invoice(
        self, *, idempotency_key: str, attempt: int, customer_id: str, currency: str, lines: Sequence[LineSpec],
        collection_method: CollectionMethod, days_until_due: int | None, description: str,
        metadata: dict[str, str],
    ) -> ProviderInvoice:
        # The invoice is our row; issuing it here only hands out its stable reference and number.
        total = sum(line.amount for line in lines)
        ref = _ref("ledgerinv", idempotency_key)
        return ProviderInvoice(
            id=ref, status="open", amount_due=total, amount_paid=0, currency=currency.upper(), total=total,
            number="SYN-" + ref.rsplit("_", 1)[1][:10].upper(), hosted_url=None,
            due_at=datetime.now(UTC) + timedelta(days=days_until_due or 30), customer_id=customer_id,
            metadata=dict(metadata),
        )

    def void_invoice(self, invoice_id: str, *, idempotency_key: str) -> ProviderInvoice:
        # The ledger's invoices are our rows: the caller marks its own row void.
        return ProviderInvoice(id=invoice_id, status="void", amount_due=0, amount_paid=0, currency="")

    def expire_checkout_session(self, session_id: str, *, idempotency_key: str) -> ProviderCheckout:
        return ProviderCheckout(id=session_id, url=None, status="expired", payment_status="unpaid")

    def credit_customer(self, *, idempotency_key: str, customer_id: str, amount: int, currency: str,
                        description: str, metadata: dict[str, str]) -> str:
        # The ledger keeps no balances: the credit is this reference on our records, which finance
        # takes off the partner's next bank transfer.
        return _ref("ledgercredit", idempotency_key)

    def create_checkout_session(
        self, *, idempotency_key: str, customer_id: str, price_id: str, quantity: int, description: str,
        success_url: str, cancel_url: str, client_reference_id: str, metadata: dict[str, str],
    ) -> ProviderCheckout:
        # No card payments without a provider: the caller falls back to a bank-transfer invoice.
        return ProviderCheckout(id=_ref("ledgercs", idempotency_key), url=None, status="open", payment_status="unpaid")

    def create_subscription(
        self, *, idempotency_key: str, customer_id: str, price_id: str, collection_method: CollectionMethod,
        days_until_due: int | None, cancel_at: datetime | None, metadata: dict[str, str],
    ) -> ProviderSubscription:
        # Monthly fees of ledger subscriptions go on the period invoices (see invoicing.periods).
        return ProviderSubscription(id=_ref("ledgersub", idempotency_key), status="active")

    def retrieve_invoice(self, invoice_id: str) -> ProviderInvoice:
        raise LookupError("The ledger keeps no invoices of its own; read the invoice table.")

    def retrieve_checkout_session(self, session_id: str) -> ProviderCheckout:
        raise LookupError("The ledger has no checkout sessions.")

    def list_invoices(self, *, created_since: datetime | None = None) -> Iterator[ProviderInvoice]:
        return iter(())

    def retrieve_charge(self, charge_id: str) -> ProviderCharge:
        raise LookupError("The ledger takes no card payments.")

    def retrieve_dispute(self, dispute_id: str) -> ProviderDispute:
        raise LookupError("The ledger takes no card payments.")

    def verify_webhook(self, payload: bytes, signature_header: str | None) -> WebhookEvent:
        raise BadWebhookSignature("Stripe webhooks are not accepted: the billing backend is the local ledger.")
