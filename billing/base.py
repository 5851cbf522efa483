"""The billing interface the rest of Syndicate calls, and the plain data it speaks.

Backends never see our database session or models: callers pass ids, amounts and idempotency
keys, and get small frozen records back. Amounts are integers in minor units; currencies are
ISO 4217 codes in upper case on our side (Stripe wants lower case; the Stripe backend converts).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

CollectionMethod = Literal["send_invoice", "charge_automatically"]


class BillingError(Exception):
    """Base of every error a backend raises on purpose."""


class ProviderUnavailable(BillingError):
    """The payment provider could not be reached or answered 5xx: retry later (same idempotency key)."""


class PaymentDeclined(BillingError):
    """The customer's card was declined; the provider's message is in `str(exc)`."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class ProviderRejected(BillingError):
    """The provider refused the request (4xx other than a decline), e.g. an idempotency conflict."""


class BadWebhookSignature(BillingError):
    """A webhook's signature is missing, wrong, or its timestamp is outside the tolerance."""


@dataclass(frozen=True)
class LineSpec:
    """One invoice line: `amount` is the line total (unit_amount * quantity)."""

    key: str  # stable, ours: makes the provider's idempotency key for this line
    description: str
    unit_amount: int
    quantity: int
    currency: str
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def amount(self) -> int:
        return self.unit_amount * self.quantity


@dataclass(frozen=True)
class ProviderInvoice:
    id: str
    status: str  # draft | open | paid | void | uncollectible
    amount_due: int  # what the customer still owes at finalization: total less any credit balance applied
    amount_paid: int
    currency: str
    total: int = 0  # the sum of the invoice's lines: the figure that must agree with ours
    number: str | None = None
    hosted_url: str | None = None
    due_at: datetime | None = None
    customer_id: str | None = None
    subscription_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderCheckout:
    id: str
    url: str | None
    status: str | None = None
    payment_status: str | None = None
    invoice_id: str | None = None  # the invoice Checkout raised for the payment (invoice_creation)
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderCharge:
    id: str
    amount: int
    amount_refunded: int
    currency: str
    invoice_id: str | None = None  # the invoice this charge paid, if any
    customer_id: str | None = None


@dataclass(frozen=True)
class ProviderDispute:
    id: str
    charge_id: str
    amount: int
    currency: str
    status: str  # warning_needs_response | needs_response | under_review | won | lost | ...
    reason: str | None = None


@dataclass(frozen=True)
class ProviderSubscription:
    id: str
    status: str
    latest_invoice_id: str | None = None


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    created: int
    object: dict[str, Any]
    payload: dict[str, Any]


@dataclass(frozen=True)
class Capabilities:
    """What a payment system does by itself, declared by its backend (`BillingBackend.capabilities`).
    Callers ask these instead of comparing backend names, so a second provider is a new backend
    class, not a hunt for `== "ledger"`."""

    keeps_invoices: bool  # holds its own copy of our invoices: reconcile against it, void them there
    bills_subscriptions: bool  # raises a subscription's monthly invoices itself (else our period run does)
    hosted_payment_pages: bool  # hosts a page where a partner pays a one-off invoice (Checkout)
    reports_payments: bool  # tells us of payments by signed webhooks; else finance records each one by hand


@runtime_checkable
class BillingBackend(Protocol):
    """What Syndicate needs from a payment system. Every write takes our own idempotency key."""

    name: str
    capabilities: Capabilities

    def ensure_customer(self, *, partner_id: str, name: str, email: str, currency: str) -> str:
        """The provider's customer id for this partner, created on first use, never twice."""
        ...

    def ensure_price(
        self, *, lookup_key: str, product_name: str, unit_amount: int, currency: str,
        interval: Literal["month", "year"] | None = None,
    ) -> str:
        """The provider's price id for `lookup_key`, created on first use."""
        ...

    def issue_invoice(
        self, *, idempotency_key: str, attempt: int, customer_id: str, currency: str, lines: Sequence[LineSpec],
        collection_method: CollectionMethod, days_until_due: int | None, description: str,
        metadata: dict[str, str],
    ) -> ProviderInvoice:
        """Issue the invoice for `idempotency_key` holding exactly `lines`: ONE call of ours per
        invoice, however many requests the provider needs for it.

        Finalized (from then on the provider sends or charges it) only once the provider's total
        equals the sum of `lines` in `currency`; otherwise it is left an unsent draft and returned
        as one, for the caller to hold back. Finds the invoice an earlier attempt made (even after
        the provider forgot its idempotency keys) instead of making a second one, and brings a
        draft's lines in line with `lines`; an invoice already finalized is returned as it is.
        `attempt` (the caller's count of failed attempts) goes into the provider's idempotency
        keys: a retry after a crash repeats the same keys, a retry after a failure gets fresh ones
        rather than the failure saved under the old."""
        ...

    def void_invoice(self, invoice_id: str, *, idempotency_key: str) -> ProviderInvoice:
        """Call off an unpaid invoice: a finalized one is voided, a draft deleted (both read back as
        `void`). A paid invoice is returned as it is, unchanged: money already taken is for staff."""
        ...

    def expire_checkout_session(self, session_id: str, *, idempotency_key: str) -> ProviderCheckout:
        """Close an open Checkout session so its link no longer takes a payment."""
        ...

    def credit_customer(self, *, idempotency_key: str, customer_id: str, amount: int, currency: str,
                        description: str, metadata: dict[str, str]) -> str:
        """Credit `amount` (positive, minor units) to the customer, taken off what its next invoices
        ask for; returns the provider's reference for the credit. Repeating the key credits once."""
        ...

    def create_checkout_session(
        self, *, idempotency_key: str, customer_id: str, price_id: str, quantity: int, description: str,
        success_url: str, cancel_url: str, client_reference_id: str, metadata: dict[str, str],
    ) -> ProviderCheckout: ...

    def create_subscription(
        self, *, idempotency_key: str, customer_id: str, price_id: str, collection_method: CollectionMethod,
        days_until_due: int | None, cancel_at: datetime | None, metadata: dict[str, str],
    ) -> ProviderSubscription: ...

    def retrieve_invoice(self, invoice_id: str) -> ProviderInvoice: ...

    def retrieve_checkout_session(self, session_id: str) -> ProviderCheckout: ...

    def list_invoices(self, *, created_since: datetime | None = None) -> Iterator[ProviderInvoice]: ...

    def retrieve_charge(self, charge_id: str) -> ProviderCharge:
        """The charge's current state, with the invoice it paid (resolved through its payment)."""
        ...

    def retrieve_dispute(self, dispute_id: str) -> ProviderDispute: ...

    def verify_webhook(self, payload: bytes, signature_header: str | None) -> WebhookEvent:
        """Check `Stripe-Signature` (HMAC-SHA256, 300 s tolerance) and parse the event."""
        ...
