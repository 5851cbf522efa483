"""Billing tables. Uniqueness is enforced by constraints so that retries and concurrent runs
can only ever find the row that is already there, never make a second one."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from api.core.db import UTCDateTime, new_id, utcnow


class InvoiceStatus(StrEnum):
    draft = "draft"
    open = "open"
    paid = "paid"
    void = "void"
    uncollectible = "uncollectible"


class InvoiceKind(StrEnum):
    licence = "licence"            # the one-off fee of one licence (or a ledger feed's first month)
    period = "period"              # usage and fees of one partner for one calendar month
    subscription = "subscription"  # a renewal invoice Stripe raised for a feed subscription
    on_demand = "on_demand"        # one partner's (or licence's) usage up to a cut-off, billed on request
    amendment = "amendment"        # the price difference of an amended licence (api/invoicing/amendments.py)


class BillingCustomer(SQLModel, table=True):
    __tablename__ = "billing_customer"

    id: str = Field(default_factory=lambda: new_id("bcu"), primary_key=True, max_length=40)
    partner_id: str = Field(foreign_key="partner.id", unique=True, max_length=40)
    provider: str = Field(max_length=20)
    provider_customer_id: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Invoice(SQLModel, table=True):
    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("partner_id", "period"),
        Index("ix_invoice_partner", "partner_id", "id"),
        # Staff lists: WHERE period = ? / status = ? ORDER BY id DESC, paged by id.
        Index("ix_invoice_period_id", "period", "id"),
        Index("ix_invoice_status_id", "status", "id"),
        Index("ix_invoice_status_due", "status", "due_at"),
        # Largest first (service.INVOICE_ORDERS), alone, by status or by partner.
        Index("ix_invoice_total", "total", "id"),
        Index("ix_invoice_status_total", "status", "total", "id"),
        Index("ix_invoice_partner_total", "partner_id", "total", "id"),
        # Revenue reports: WHERE status = 'paid' AND paid_at in a range.
        Index("ix_invoice_status_paid", "status", "paid_at"),
    )

    id: str = Field(default_factory=lambda: new_id("inv"), primary_key=True, max_length=40)
    # What this invoice charges for, as a stable key: "licence:<id>", "period:<partner>:<YYYY-MM>",
    # "cutoff:<partner>[:<licence>]:<instant>", "stripe:<in_...>". The unique constraint makes creating it idempotent.
    charge_key: str = Field(unique=True, max_length=200)
    kind: InvoiceKind = Field(max_length=20)
    partner_id: str = Field(foreign_key="partner.id", max_length=40)
    licence_id: str | None = Field(default=None, foreign_key="licence.id", index=True, max_length=40)
    period: str | None = Field(default=None, max_length=7)  # YYYY-MM
    provider: str = Field(max_length=20)
    provider_invoice_id: str | None = Field(default=None, unique=True, max_length=255)
    checkout_session_id: str | None = Field(default=None, unique=True, max_length=255)
    collection_method: str = Field(default="send_invoice", max_length=30)
    number: str | None = Field(default=None, max_length=100)
    status: InvoiceStatus = Field(default=InvoiceStatus.draft, max_length=20)
    total: int = 0  # the sum of our lines; the provider's invoice total must agree to the unit
    amount_due: int = 0  # total less any credit the provider applied
    amount_paid: int = 0
    amount_refunded: int = 0  # refunded on the charge that paid it
    amount_disputed: int = 0  # under (or lost in) a dispute on that charge
    dispute_status: str | None = Field(default=None, max_length=40)  # Stripe's dispute status
    currency: str = Field(max_length=3)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    payment_failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    payment_reference: str | None = Field(default=None, max_length=200)
    hosted_url: str | None = Field(default=None, max_length=2000)
    # The usage it bills, [usage_from, usage_to) (period and on-demand invoices; each usage line
    # carries its own licence's span, which is where the next invoice of that licence starts).
    usage_from: datetime | None = Field(default=None, sa_type=UTCDateTime)
    usage_to: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Who is sending this draft to the provider right now (see invoicing.issuing): one at a time.
    issue_lease_token: str | None = Field(default=None, max_length=32)
    issue_lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Attempts to issue it that ended in a known failure (the provider refused or was unreachable):
    # each attempt's provider writes carry it in their idempotency keys, so a retry after a failure
    # is not answered with the failure Stripe saved under the old key, while a retry after a crash
    # (nothing recorded) repeats the very same keys and gets what the dead attempt made.
    issue_attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_line"
    __table_args__ = (
        UniqueConstraint("invoice_id", "line_key"),
        # Where each licence's billed usage ends: WHERE licence_id = ? AND usage_from < ? -> max(usage_to).
        # Unique: two invoices can never start billing one licence's usage at the same instant.
        UniqueConstraint("licence_id", "usage_from"),
    )

    id: str = Field(default_factory=lambda: new_id("inl"), primary_key=True, max_length=40)
    invoice_id: str = Field(foreign_key="invoice.id", max_length=40)
    # "<licence>" or "<licence>:<article>" or "fee:<licence>": one line per thing billed, however
    # often the run repeats.
    line_key: str = Field(max_length=200)
    licence_id: str | None = Field(default=None, foreign_key="licence.id", max_length=40)
    article_id: str | None = Field(default=None, max_length=40)
    description: str = Field(max_length=500)
    quantity: int = 1
    unit_amount: int
    amount: int
    currency: str = Field(max_length=3)
    # A usage line's span: this licence's billable deliveries in [usage_from, usage_to).
    usage_from: datetime | None = Field(default=None, sa_type=UTCDateTime)
    usage_to: datetime | None = Field(default=None, sa_type=UTCDateTime)


class BillingSubscription(SQLModel, table=True):
    """The recurring charge behind a feed licence."""

    __tablename__ = "billing_subscription"

    id: str = Field(default_factory=lambda: new_id("bsu"), primary_key=True, max_length=40)
    licence_id: str = Field(foreign_key="licence.id", unique=True, max_length=40)
    partner_id: str = Field(foreign_key="partner.id", index=True, max_length=40)
    provider: str = Field(max_length=20)
    provider_subscription_id: str = Field(unique=True, max_length=255)
    price_id: str = Field(max_length=255)
    status: str = Field(default="active", max_length=30)
    first_period: str = Field(max_length=7)  # billed with the licence; later months on period invoices
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class StripeEvent(SQLModel, table=True):
    """Every webhook event, stored by Stripe's id before anything acts on it."""

    __tablename__ = "stripe_event"

    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=100)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    handled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str | None = Field(default=None, max_length=500)
